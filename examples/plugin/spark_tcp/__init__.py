"""``tcp``: a spark-ops check kind that opens one TCP connection to host:port within the check's deadline.

PASS with the connect time (reading ``connect_ms``); FAIL, with the reason, when the connection is refused,
the name does not resolve, or no connection opens within the deadline. It imports only ``spark_ops.api``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, ClassVar
from urllib.parse import urlsplit

from spark_ops.api import (
    Breakage,
    CheckBase,
    ConfigError,
    Judgement,
    Options,
    Profile,
    Status,
    TargetError,
)

if TYPE_CHECKING:  # Probe loads spark-ops' HTTP transport; annotations need not load it
    from spark_ops.api import Probe

__all__ = ["TcpCheck", "TcpOptions"]

DEFAULT_PORTS = {"http": 80, "https": 443}  # a service URL without a port
GIVE_UP_EARLY_S = 0.25  # before the check's deadline (at most a tenth of it): room for a busy event loop


class TcpOptions(Options, frozen=True, kw_only=True):
    """``host`` and ``port``, or ``service`` (the host and port of the profile's URL for it)."""

    host: str | None = None
    port: int | None = None
    service: str | None = None


class TcpCheck(CheckBase):
    kind: ClassVar[str] = "tcp"
    summary: ClassVar[str] = "a TCP connection to host:port (or a service's) opens within the deadline"
    Options: ClassVar[type[TcpOptions]] = TcpOptions

    def __init__(self, options: TcpOptions, profile: Profile) -> None:
        self.host, self.port = _address(options, profile)

    @property
    def address(self) -> str:
        """``host:port`` as it is written, with an IPv6 literal in brackets."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def planned_load(self) -> str:
        return f"1 TCP connection to {self.address}"

    def breakages(self, profile: Profile) -> list[Breakage]:
        """What ``spark suite prove`` breaks: the port refuses connections (nothing listens on it)."""
        return [
            Breakage(
                "nothing listens on the port (connection refused)",
                "a check that passes while its port is closed would wave a deploy through an outage",
                stand_in=lambda: _pointed_at_closed_port(profile),
            )
        ]

    async def judge(self, probe: Probe) -> Judgement:
        label = f"tcp {self.address}"
        # The runner's deadline bounds the whole check and started first: giving up a moment before it
        # lets the reason name the address instead of the runner's "no complete answer".
        deadline = asyncio.timeout(probe.timeout_s - min(GIVE_UP_EARLY_S, probe.timeout_s / 10))
        started = time.perf_counter()
        try:
            async with deadline:
                _, writer = await asyncio.open_connection(self.host, self.port)
        except OSError as exc:  # TimeoutError, socket.gaierror and ConnectionRefusedError are OSErrors
            raise TargetError(
                f"{label}: {_reason(exc, self.host, probe.timeout_s, deadline.expired())}"
            ) from None
        connect_ms = (time.perf_counter() - started) * 1000  # the name lookup included
        writer.close()
        with contextlib.suppress(OSError):  # a reset while closing does not undo the connection made
            await writer.wait_closed()
        return Judgement(
            Status.PASS,
            f"{label}: connected in {connect_ms:.1f} ms",
            observed=round(connect_ms, 1),
            readings={"connect_ms": connect_ms},
        )


@contextlib.asynccontextmanager
async def _pointed_at_closed_port(profile: Profile) -> AsyncIterator[TcpCheck]:
    """A tcp check pointed at a loopback port that was just freed: connecting is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
    yield TcpCheck(TcpOptions(host="127.0.0.1", port=port), profile)


def _address(options: TcpOptions, profile: Profile) -> tuple[str, int]:
    """The host and port to connect to; a missing, mixed or invalid option is a ConfigError naming it."""
    if options.service is not None:
        if options.host is not None or options.port is not None:
            raise ConfigError("give either host and port, or service, not both", key="service")
        parts = urlsplit(profile.target(service=options.service, path=None, url=None).url)
        try:
            port = parts.port or DEFAULT_PORTS.get(parts.scheme)
        except ValueError:  # a port outside 0..65535 in the URL
            port = None
        if not parts.hostname or port is None:
            raise ConfigError(f"service {options.service!r} has no host and port in its URL", key="service")
        return parts.hostname, port
    if options.host is None:
        raise ConfigError("needs host and port, or service", key="host")
    if not options.host.strip():
        raise ConfigError("must not be empty", key="host")
    if options.port is None:
        raise ConfigError("needs port with host", key="port")
    if not 1 <= options.port <= 65535:
        raise ConfigError(f"must be 1..65535, got {options.port}", key="port")
    return options.host, options.port


def _reason(exc: OSError, host: str, timeout_s: float, expired: bool) -> str:
    """Why no connection opened, in one line."""
    if expired:
        return f"cannot connect: no connection within the {timeout_s:g} s deadline"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve {host}: {(exc.strerror or str(exc)).lower()}"
    if isinstance(exc, ConnectionRefusedError):
        return "cannot connect: connection refused"
    # asyncio's strerror is "Connect call failed (address)": the reason is the errno. Several addresses
    # that all failed come as one OSError without an errno, naming each.
    detail = os.strerror(exc.errno).lower() if exc.errno else " ".join(str(exc).split()) or type(exc).__name__
    return f"cannot connect: {detail}"

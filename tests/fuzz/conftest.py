"""Fixtures of the fuzz tests: one check at a time through the real runner, against a real loopback server."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from spark_ops import registry
from spark_ops.config import CheckSpec, Profile, Suite, load_profile
from spark_ops.errors import ConfigError
from spark_ops.model import CheckResult, Severity, Status
from spark_ops.runner import run_checks
from spark_ops.transport import make_client


@dataclass
class Served:
    """A server that answers every request with ``status``/``body``/``content_type``, set per example."""

    server: HTTPServer = field(repr=False)
    profile: Profile = field(repr=False)
    # One loop and one client for every example (a new client costs about 60 ms).
    loop: asyncio.AbstractEventLoop = field(repr=False, default_factory=asyncio.new_event_loop)
    client: httpx.AsyncClient = field(repr=False, default_factory=lambda: make_client(2))
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # hypothesis prints fixtures with failures
        printer.text(f"Served({self.server.url_for('/')})")

    def answer(self, body: bytes, *, status: int = 200, content_type: str = "application/json") -> None:
        self.body, self.status, self.content_type = body, status, content_type

    def _handle(self, request: Request) -> Response:
        return Response(self.body, status=self.status, content_type=self.content_type)

    @property
    def url(self) -> str:
        return self.server.url_for("").rstrip("/")

    def run(
        self, kind: str, options: Mapping[str, Any], *, service: bool = True
    ) -> CheckResult | ConfigError:
        """Bind one ``kind`` check with ``options`` (service web: this server) and run it as a gate does.

        A ConfigError from binding is returned, not raised (a fuzzed option may be invalid).
        """
        spec = CheckSpec(
            name="fuzzed",
            kind=kind,
            severity=Severity.MAJOR,
            timeout_s=10.0,
            retries=0,
            description="",
            options={"service": "web", **options} if service else dict(options),
            index=0,
        )
        try:
            prepared = registry.prepare(Suite("fuzz", "fuzz.toml", "", (spec,)), self.profile)
        except ConfigError as exc:
            return exc

        (result,) = self.loop.run_until_complete(
            run_checks(prepared, client=self.client, concurrency=1, max_body_bytes=1 << 20, backoff=False)
        )
        return result


@pytest.fixture
def served(httpserver: HTTPServer) -> Iterator[Served]:
    """A loopback server every fuzz example re-arms with its own answer; service ``web`` points at it."""
    url = httpserver.url_for("").rstrip("/")
    fake = Served(httpserver, load_profile("dev", [f"services.web.url={url}"]))
    httpserver.expect_request(re.compile(".*")).respond_with_handler(fake._handle)
    try:
        yield fake
    finally:
        fake.loop.run_until_complete(fake.client.aclose())
        fake.loop.close()


def assert_not_crashed(result: CheckResult) -> None:
    """The check judged (any status) without a bare exception escaping it into the runner."""
    assert not result.message.startswith("check crashed"), result.message
    assert result.status in set(Status), result.status

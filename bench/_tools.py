"""What the benchmarks share: loopback servers in a subprocess, free ports, peers from Debian, timing."""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence

# An aiohttp server in its own process (so its CPU is not the client's): it answers GET /<anything>
# after DELAY_MS (plus up to JITTER_MS, uniform); POST /stall?s=N makes every answer wait until N
# seconds from now have passed (a server that stops answering, then catches up).
SERVER = """
import asyncio, random, sys, time
from aiohttp import web
port, delay_s, jitter_s = int(sys.argv[1]), float(sys.argv[2]) / 1000, float(sys.argv[3]) / 1000
stalled_until = 0.0
async def handle(request):
    await asyncio.sleep(delay_s + (random.random() * jitter_s if jitter_s else 0.0))
    wait = stalled_until - time.monotonic()
    if wait > 0:
        await asyncio.sleep(wait)
    return web.Response(text="ok")
async def stall(request):
    global stalled_until
    stalled_until = time.monotonic() + float(request.query["s"])
    return web.Response(text="stalled")
app = web.Application()
app.router.add_post("/stall", stall)
app.router.add_get("/{tail:.*}", handle)
web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None, backlog=4096)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(port: int, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


@contextlib.contextmanager
def server_process(command: Sequence[str], port: int, **kwargs: object) -> Iterator[str]:
    """Run ``command`` (a server that will listen on ``port``) until the block ends; yields its base URL."""
    server = subprocess.Popen(list(command), **kwargs)  # type: ignore[call-overload]
    try:
        wait_for(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait()


@contextlib.contextmanager
def loopback_server(delay_ms: float, jitter_ms: float = 0.0) -> Iterator[str]:
    """A base URL (no trailing slash) of a server answering every GET in ``delay_ms`` (+ jitter)."""
    port = free_port()
    with server_process(
        [sys.executable, "-c", SERVER, str(port), str(delay_ms), str(jitter_ms)], port
    ) as url:
        yield url


def ensure_tool(command: str, package: str) -> str:
    """The path of ``command``; apt-get installs Debian's ``package`` first when missing and root."""
    found = shutil.which(command)
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "update", "-qq"], check=False)
        quiet = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", package], check=False, env=quiet
        )
        found = shutil.which(command)
    if found is None:
        raise SystemExit(f"{command} is not installed (apt-get install {package})")
    return found


def spark_command() -> list[str]:
    """The installed ``spark`` entry point (how users run it), else ``python -m spark_ops``."""
    found = shutil.which("spark")
    return [found] if found else [sys.executable, "-m", "spark_ops"]


def wall_s(command: Sequence[str], **kwargs: object) -> float:
    """Wall seconds of one subprocess run to completion; its output is discarded; it must exit 0."""
    started = time.perf_counter()
    subprocess.run(list(command), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, **kwargs)  # type: ignore[call-overload]
    return time.perf_counter() - started


def child_usage(
    command: Sequence[str], ok: Sequence[int] = (0,), **kwargs: object
) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + sys) and peak RSS (MB) of one child, reaped with ``os.wait4``.

    Its stdout is discarded; it must exit with a code in ``ok`` (else its stderr tail is shown).
    """
    # stderr goes to a file, not a pipe: a child writing more than a pipe holds would block before wait4.
    with tempfile.TemporaryFile() as stderr:
        started = time.perf_counter()
        child = subprocess.Popen(list(command), stdout=subprocess.DEVNULL, stderr=stderr, **kwargs)  # type: ignore[call-overload]
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)  # reaped here, so Popen must not wait again
        stderr.seek(0)
        error = stderr.read()
    code = child.returncode
    if code not in ok:
        raise SystemExit(f"{' '.join(command[:4])} exited {code}: {error.decode(errors='replace')[-500:]}")
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def percentile(samples: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of ``samples`` (unsorted)."""
    ordered = sorted(samples)
    rank = max(1, min(len(ordered), math.ceil(fraction * len(ordered))))
    return ordered[rank - 1]


def median(samples: Sequence[float]) -> float:
    return statistics.median(samples)

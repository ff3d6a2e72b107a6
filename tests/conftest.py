"""Shared fixtures: a fake Spark platform on a real loopback socket, and a way to run the CLI."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner
from werkzeug import Request, Response

from spark_ops.cli import app

PAGES = ("/", "/dashboard", "/portfolio", "/strategies", "/settings")
EXPOSITION = (
    "# HELP http_requests_total Requests served.\n"
    "# TYPE http_requests_total counter\n"
    'http_requests_total{code="200"} 1027\n'
    'http_requests_total{code="500"} 3\n'
    "# HELP process_resident_memory_bytes Resident memory.\n"
    "# TYPE process_resident_memory_bytes gauge\n"
    "process_resident_memory_bytes 5.4e+07\n"
)


@pytest.fixture(scope="session")
def httpserver_listen_address() -> tuple[str, int]:
    """pytest-httpserver binds to loopback only, on a free port."""
    return ("127.0.0.1", 0)


def free_port() -> int:
    """A loopback port nothing listens on (for 'service down')."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class FakePlatform:
    """SPEC's endpoints served from one loopback server; tests change ``health``, ``page_status`` etc."""

    server: HTTPServer
    health: dict[str, Any] = field(
        default_factory=lambda: {
            "status": "UP",
            "slo": {"latencyP95": 14, "errorRate": 0.0, "staleness": 0},
            "timestamp": "2025-10-16T12:00:00Z",
        }
    )
    health_body: bytes | None = None  # raw override, e.g. b"NaN" or HTML
    page_status: dict[str, int] = field(default_factory=dict)
    metrics_body: str = EXPOSITION

    @property
    def url(self) -> str:
        return self.server.url_for("").rstrip("/")

    def sets(self, **overrides: str) -> list[str]:
        """``--set`` options pointing every service of the profile at this server."""
        urls = {"web": self.url, "executor-1": self.url, "executor-2": self.url, "marketdata": self.url}
        urls.update({k.replace("_", "-"): v for k, v in overrides.items()})
        args: list[str] = []
        for service, url in urls.items():
            args += ["--set", f"services.{service}.url={url}"]
        return args

    def _handle(self, request: Request) -> Response:
        path = request.path
        if path == "/api/healthz":
            body = self.health_body if self.health_body is not None else json.dumps(self.health).encode()
            return Response(body, status=self.page_status.get(path, 200), content_type="application/json")
        if path == "/metrics":
            return Response(
                self.metrics_body,
                status=self.page_status.get(path, 200),
                content_type="text/plain; version=0.0.4",
            )
        if path == "/healthz":
            return Response(
                '{"ok":true}', status=self.page_status.get(path, 200), content_type="application/json"
            )
        if path in PAGES:
            return Response(
                "<html><body>Spark</body></html>",
                status=self.page_status.get(path, 200),
                content_type="text/html",
            )
        return Response("not found", status=404)


@pytest.fixture
def platform(httpserver: HTTPServer) -> Iterator[FakePlatform]:
    """A healthy fake Spark platform; mutate it to make it sick."""
    fake = FakePlatform(httpserver)
    # Every path goes through one handler so state changes apply at once.
    httpserver.expect_request(re.compile(".*")).respond_with_handler(fake._handle)
    yield fake


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def spark(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run ``spark ARGS`` in-process from an empty working directory; returns exit code, stdout, stderr."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.delenv("SPARK_EXIT_ON_FAIL", raising=False)
    runner = CliRunner()

    def invoke(*args: str, env: dict[str, str] | None = None) -> CliResult:
        result = runner.invoke(app, list(args), env=env, catch_exceptions=False)
        return CliResult(result.exit_code, result.stdout, result.stderr)

    return invoke

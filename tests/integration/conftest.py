"""A real Prometheus server (Debian's ``/usr/bin/prometheus``) scraping loopback targets, for tests.

    def test_up(prometheus_server):
        prometheus = prometheus_server([("executor-1", "127.0.0.1:4001", "/metrics")])
        prometheus.wait_for('up{job="executor-1"} == 1')  # the first scrape has landed
        prometheus.url                                    # http://127.0.0.1:<free port>

Prometheus 2.x applies new scrape targets only every 5 s, so the first scrape lands 5-10 s after start:
start one server per module (``running_prometheus`` in a module-scoped fixture) when tests can share it.
Without the binary these tests skip, except under ``CI=true``, where they fail: CI must never skip them.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import pytest
from conftest import free_port, require_tool

INTERVAL = "1s"  # scrape and rule evaluation: tests wait seconds, not minutes
READY_TIMEOUT_S = 20.0


class ScrapeTarget(NamedTuple):
    """One target to scrape; a plain ``(job, address)`` or ``(job, address, metrics_path)`` tuple will do."""

    job: str
    address: str  # host:port, e.g. "127.0.0.1:4001"
    metrics_path: str = "/metrics"


@dataclass
class PrometheusServer:
    """A running Prometheus: ``url``, instant ``query`` and ``wait_for``; its log is at ``log_path``."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def query(self, expr: str) -> dict[str, Any]:
        """The whole JSON answer of an instant query (errors included, as Prometheus gave them)."""
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=5.0)
        answer: dict[str, Any] = response.json()
        return answer

    def wait_for(self, expr: str, timeout: float = 20.0) -> list[dict[str, Any]]:
        """Poll until ``expr`` returns a non-empty result and return it; fail the test after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        answer: dict[str, Any] = {}
        while time.monotonic() < deadline:
            answer = self.query(expr)
            result = answer.get("data", {}).get("result")
            if answer.get("status") == "success" and result:
                return list(result)
            time.sleep(0.1)
        pytest.fail(f"Prometheus: {expr!r} still empty after {timeout:g} s: {answer}\n{self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        """The last lines Prometheus logged, for failure messages."""
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])


def prometheus_binary() -> str:
    """The ``prometheus`` on PATH; skips the test without one, or fails it when ``CI=true``."""
    return require_tool("prometheus", "Debian: apt-get install prometheus")


def write_config(
    path: Path, targets: Sequence[ScrapeTarget | tuple[str, ...]], rule_files: Sequence[Path]
) -> None:
    """A prometheus.yml (written as JSON, which is YAML) with one scrape job per job name."""
    jobs: dict[str, dict[str, Any]] = {}
    for target in (ScrapeTarget(*item) for item in targets):
        job = jobs.setdefault(
            target.job,
            {
                "job_name": target.job,
                "metrics_path": target.metrics_path,
                "static_configs": [{"targets": []}],
            },
        )
        if job["metrics_path"] != target.metrics_path:
            raise ValueError(f"job {target.job!r} is given two metrics paths")
        job["static_configs"][0]["targets"].append(target.address)
    config = {
        "global": {"scrape_interval": INTERVAL, "scrape_timeout": INTERVAL, "evaluation_interval": INTERVAL},
        "rule_files": [str(Path(rule).resolve()) for rule in rule_files],
        "scrape_configs": list(jobs.values()),
    }
    path.write_text(json.dumps(config, indent=2), encoding="utf-8")


@contextmanager
def running_prometheus(
    workdir: Path, targets: Sequence[ScrapeTarget | tuple[str, ...]], *, rule_files: Sequence[Path] = ()
) -> Iterator[PrometheusServer]:
    """Start Prometheus on a free loopback port with its config and TSDB in ``workdir``; wait until it
    is ready; stop it (and wait for it) on exit. For module- or session-scoped fixtures of your own."""
    binary = prometheus_binary()
    workdir.mkdir(parents=True, exist_ok=True)
    config_path = workdir / "prometheus.yml"
    write_config(config_path, targets, rule_files)
    port = free_port()
    log_path = workdir / "prometheus.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={config_path}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = PrometheusServer(url=f"http://127.0.0.1:{port}", process=process, log_path=log_path)
    try:
        _wait_ready(server)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(server: PrometheusServer) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"prometheus exited with {server.process.returncode}:\n{server.log_tail()}")
        try:
            if httpx.get(f"{server.url}/-/ready", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass  # not listening yet
        time.sleep(0.1)
    pytest.fail(f"prometheus not ready within {READY_TIMEOUT_S:g} s:\n{server.log_tail()}")


@pytest.fixture
def prometheus_server(tmp_path: Path) -> Iterator[Callable[..., PrometheusServer]]:
    """A factory: ``prometheus_server(targets, rule_files=())`` starts a real Prometheus and returns it.

    ``targets`` are ``(job, "127.0.0.1:port", metrics_path)`` tuples (the path defaults to ``/metrics``);
    ``rule_files`` are alerting or recording rule files to load. Scrape and evaluation run every second.
    The returned server has ``.url``, ``.query(expr)``, ``.wait_for(expr, timeout)`` (poll until the
    expression returns data, so a test does not race the first scrape) and ``.log_tail()``. Every server
    started is terminated, and waited for, when the test ends.
    """
    with ExitStack() as stack:
        started = 0

        def start(
            targets: Sequence[ScrapeTarget | tuple[str, ...]], rule_files: Sequence[Path] = ()
        ) -> PrometheusServer:
            nonlocal started
            started += 1
            workdir = tmp_path / f"prometheus-{started}"
            return stack.enter_context(running_prometheus(workdir, targets, rule_files=rule_files))

        yield start

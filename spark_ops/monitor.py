"""``spark monitor``: run a suite every interval and serve what it found as Prometheus metrics.

Metric names (a contract, kept in ``spark_ops.metric_names``: the rules of ``spark alerts`` and the panels
of ``spark dashboard`` use exactly these; each check's series exist from the first cycle and keep their
labels, so memory stays flat):

    spark_check_up{suite,check,kind,severity}   1 when the check's last status was PASS or WARN, else 0
    spark_check_status{suite,check,status}      1 for the last status, 0 for the others (PASS, WARN, FAIL,
                                                ERROR, INCONCLUSIVE, SKIP)
    spark_check_duration_seconds{suite,check}   how long the check took in the last cycle
    spark_slo_latency_p95_ms{check}             the p95 latency an ``slo`` check read (field slo.latencyP95)
    spark_slo_error_rate{check}                 the error rate it read, a fraction 0..1 (slo.errorRate)
    spark_slo_staleness_seconds{check}          the market-data staleness it read (slo.staleness)
    spark_metrics_scrape_bytes{check,service}   bytes of the /metrics body a ``metrics`` check read
    spark_risk_level                            the verdict: 0 LOW, 1 MEDIUM, 2 HIGH, 3 CRITICAL
    spark_risk_score                            the weighted score, 0..100
    spark_monitor_runs_total{result}            cycles by result: pass, fail, inconclusive, error
    spark_monitor_last_run_timestamp_seconds    when the last cycle ended (Unix time)
    spark_monitor_cycle_duration_seconds        how long the last cycle took
    spark_monitor_interval_seconds              the --interval it runs at (SparkMonitorStale scales by it)

A reading that could not be taken this cycle (target down, field missing, a cycle that crashed) is
removed from the exposition, never left at its old value looking fresh: Prometheus marks the series
stale, the windowed averages of the burn-rate rules skip the gap (a NaN would poison every
``avg_over_time`` over it for the whole window), and the check-down alert fires from ``spark_check_up``.
A cycle that crashed is recorded as every check ERROR (with the crash as its message, duration 0), and
the risk is assessed from that as for any run: CRITICAL when a critical check is in the suite.

A cycle runs the suite as ``spark gate --exit-on-fail`` would; its exit code gives the result (0 pass,
1 fail, 3 inconclusive; an exception or exit 4 is ``error``, logged as one redacted line, and the loop
goes on). The monitor keeps no evidence per cycle: thousands of runs would fill the disk.
"""

from __future__ import annotations

import math
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from spark_ops import clock, pipeline, risk
from spark_ops import metric_names as names
from spark_ops.config.target import require_http_url, target_with_credentials
from spark_ops.errors import ConfigError, ExitCode, one_line
from spark_ops.loop_thread import ClientLoop
from spark_ops.model import CheckResult, Judgement, Risk, RunResult, Status
from spark_ops.monitor_metrics import RESULTS, MonitorMetrics
from spark_ops.redact import Redactor, shown_url, url_secrets

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from spark_ops.pipeline import PreparedRun

_RESULT_OF_EXIT_CODE: dict[int, str] = {
    ExitCode.OK: "pass",
    ExitCode.VERDICT_FAILED: "fail",
    ExitCode.INCONCLUSIVE: "inconclusive",
}
JOB = "spark-monitor"
PUSH_TIMEOUT_S = 10.0
_POLL_S = 0.2  # how often a waiting loop looks at the stop event while a cycle runs


@dataclass(frozen=True, slots=True)
class CycleOutcome:
    """What one cycle came to: its result, the run (None when the cycle crashed) and any push failure."""

    number: int
    result: str
    duration_s: float
    run: RunResult | None = None
    error: str | None = None
    push_error: str | None = None

    def describe(self) -> str:
        """One line for the log: result, risk, passed/total and how long it took."""
        took = f"{self.duration_s * 1000:.0f} ms"
        if self.run is None:
            return f"cycle {self.number}: error: {self.error} ({took})"
        summary = self.run.summary
        return (
            f"cycle {self.number}: {self.result}, risk {self.run.risk.level.value} "
            f"({self.run.risk.score:g}), {summary.passed}/{summary.total} passed ({took})"
        )


class Pushgateway:
    """Pushes the registry to a Pushgateway under job ``spark-monitor`` and label ``instance``.

    Credentials in the URL (``https://user:pass@host``) are sent as basic auth and never printed.
    """

    def __init__(self, url: str, instance: str) -> None:
        if "://" not in url:
            url = f"http://{url}"
        require_http_url(url, key="--pushgateway")
        if not urlsplit(url).hostname:  # "http://:9091" passes the check above, and urllib would push locally
            raise ConfigError(f"must name a host, got {shown_url(url)!r}", key="--pushgateway")
        self.target = target_with_credentials(url, {})  # user:password@ becomes a Basic header
        self.instance = instance
        self.redactor = Redactor(url_secrets(url))  # a secret query parameter stays in the URL

    def push(self, registry: CollectorRegistry) -> str | None:
        """Push once; a failure comes back as one redacted line instead of an exception."""
        from prometheus_client import push_to_gateway
        from prometheus_client.exposition import default_handler

        auth = list(self.target.headers.items())

        def handler(
            url: str, method: str, timeout: float | None, headers: list[tuple[str, str]], data: bytes
        ) -> Callable[[], None]:
            return default_handler(url, method, timeout, [*headers, *auth], data)

        try:
            push_to_gateway(
                self.target.url,
                job=JOB,
                registry=registry,
                grouping_key={"instance": self.instance},
                timeout=PUSH_TIMEOUT_S,
                handler=handler,
            )
        except Exception as exc:  # urllib, socket and HTTP errors alike: the loop must go on
            return self.redactor.text(f"push to {self.target.display} failed: {one_line(exc)}")
        return None


class Monitor:
    """Runs a prepared suite once per cycle and records each cycle in its own registry."""

    def __init__(
        self, prepared: PreparedRun, *, interval_s: float, pushgateway: Pushgateway | None = None
    ) -> None:
        self.prepared = prepared
        self.interval_s = interval_s
        self.metrics = MonitorMetrics(prepared, interval_s=interval_s)
        self.pushgateway = pushgateway
        self.redactor = prepared.redactor
        self._session: ClientLoop | None = None  # while ``loop`` runs: one loop and client for all

    @property
    def registry(self) -> CollectorRegistry:
        return self.metrics.registry

    def cycle(self, number: int, stop: threading.Event) -> CycleOutcome | None:
        """Run the suite once, record it (a crash counts as ``error``), then push when asked to.

        None when ``stop`` was set by the time the suite run ended: the loop has moved on, so nothing is
        recorded or pushed.
        """
        started = time.perf_counter()
        run: RunResult | None = None
        error: str | None = None
        try:
            run = pipeline.execute(self.prepared, enforce=True, session=self._session)
            result = _RESULT_OF_EXIT_CODE.get(run.exit_code, "error")
            results, assessed = run.results, run.risk
        except Exception as exc:  # a bug in a cycle is counted and logged; the monitor goes on
            run, result = None, "error"
            error, results, assessed = self._crashed(exc)
        if stop.is_set():
            return None
        try:
            self.metrics.record(results, assessed)
        except Exception as exc:  # so is a bug in recording: every check shows ERROR
            result = "error"
            error, results, assessed = self._crashed(exc)
            self.metrics.record(results, assessed)
        duration_s = time.perf_counter() - started
        self.metrics.finish_cycle(result, duration_s, clock.unix())
        push_error = self.pushgateway.push(self.registry) if self.pushgateway is not None else None
        return CycleOutcome(number, result, duration_s, run, error, push_error)

    def _crashed(self, exc: Exception) -> tuple[str, list[CheckResult], Risk]:
        """The error line and what a crashed cycle records: every check ERROR, judged by the risk rules."""
        error = self.redactor.text(" ".join(f"{type(exc).__name__}: {exc}".split()))
        results = [CheckResult(c.spec, Judgement(Status.ERROR, error)) for c in self.prepared.checks]
        return error, results, risk.assess(results)

    def loop(
        self, *, iterations: int | None, stop: threading.Event, on_cycle: Callable[[CycleOutcome], None]
    ) -> int:
        """Cycle every ``interval_s`` (start to start) until ``stop`` is set or ``iterations`` ran.

        Each cycle runs on a worker thread so a stop request is seen within ``_POLL_S`` even while a
        slow target holds a cycle up; a cycle whose suite run ends after the stop request records and
        pushes nothing. Returns the cycles run.
        """
        done = 0
        next_start = time.monotonic()
        # Every cycle runs on one event loop and HTTP client (connections kept alive between cycles).
        self._session = ClientLoop(self.prepared.profile.config.defaults.concurrency)
        try:
            while (iterations is None or done < iterations) and not stop.wait(next_start - time.monotonic()):
                outcome = self._cycle_unless_stopped(done + 1, stop)
                if outcome is None:
                    break
                done += 1
                on_cycle(outcome)
                # Fixed rate; a cycle that overran its slot is followed at once, without catching up.
                next_start = max(next_start + self.interval_s, time.monotonic())
        finally:
            session, self._session = self._session, None
            session.close()  # an abandoned cycle still running is cancelled: it records nothing anyway
        return done

    def _cycle_unless_stopped(self, number: int, stop: threading.Event) -> CycleOutcome | None:
        outcomes: list[CycleOutcome | None] = []
        crashes: list[BaseException] = []
        finished = threading.Event()

        def work() -> None:
            try:
                outcomes.append(self.cycle(number, stop))
            except BaseException as exc:  # a bug outside the guarded run: re-raised where the loop runs
                crashes.append(exc)
            finally:
                finished.set()

        threading.Thread(target=work, name=f"spark-monitor-cycle-{number}", daemon=True).start()
        while not finished.wait(_POLL_S):
            if stop.is_set():
                return None
        if crashes:
            raise crashes[0]
        return outcomes[0]


@dataclass
class MetricsServer:
    """The HTTP endpoint serving a registry at ``/metrics`` (prometheus_client's WSGI server)."""

    host: str
    port: int
    _server: Any = field(repr=False)
    _thread: threading.Thread = field(repr=False)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def parse_listen(listen: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:9108`` for IPv6) -> (host, port); anything else is a ConfigError."""
    host, sep, port_text = listen.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port_text.isdigit() or int(port_text) > 65535:
        raise ConfigError(f"--listen wants HOST:PORT (e.g. {names.DEFAULT_LISTEN}), got {listen!r}")
    return host, int(port_text)


def serve_metrics(listen: str, registry: CollectorRegistry) -> MetricsServer:
    """Serve ``registry`` on ``listen``; a port in use or an unknown host is a ConfigError (exit 2)."""
    from prometheus_client import start_http_server

    host, port = parse_listen(listen)
    try:
        server, thread = start_http_server(port, host, registry)
    except OSError as exc:
        raise ConfigError(f"--listen {listen}: cannot serve metrics: {exc.strerror or exc}") from None
    return MetricsServer(host, int(server.server_port), server, thread)


@dataclass(frozen=True, slots=True)
class MonitorStats:
    """What a monitor session did: cycles run and how many ended in each result."""

    cycles: int
    results: dict[str, int]


def run_monitor(
    prepared: PreparedRun,
    *,
    interval_s: float,
    iterations: int | None = None,
    listen: str = names.DEFAULT_LISTEN,
    pushgateway: str | None = None,
    instance: str | None = None,
    stop: threading.Event | None = None,
    log: Callable[[str], None] = lambda line: None,
    on_cycle: Callable[[CycleOutcome], None] | None = None,
) -> MonitorStats:
    """Serve metrics on ``listen`` and run the suite every ``interval_s`` until stopped or done.

    Bad options and a port that cannot be bound raise ConfigError before the first cycle. ``log`` gets
    one line per cycle (and per push failure); ``on_cycle`` sees each outcome after it was recorded.
    """
    if not math.isfinite(interval_s) or interval_s <= 0:
        raise ConfigError(f"--interval must be a positive number of seconds, got {interval_s:g}")
    if iterations is not None and iterations < 1:
        raise ConfigError(f"--iterations must be at least 1, got {iterations}")
    gateway = Pushgateway(pushgateway, instance or socket.gethostname()) if pushgateway else None
    monitor = Monitor(prepared, interval_s=interval_s, pushgateway=gateway)
    stop = stop or threading.Event()
    results = dict.fromkeys(RESULTS, 0)

    def each_cycle(outcome: CycleOutcome) -> None:
        results[outcome.result] += 1
        log(outcome.describe())
        if outcome.push_error is not None:
            log(outcome.push_error)
        if on_cycle is not None:
            on_cycle(outcome)

    server = serve_metrics(listen, monitor.registry)
    try:
        pushing = f", pushing to {gateway.target.display} as instance {gateway.instance}" if gateway else ""
        log(f"serving metrics on {server.url}; suite {prepared.suite.name} every {interval_s:g} s{pushing}")
        cycles = monitor.loop(iterations=iterations, stop=stop, on_cycle=each_cycle)
    finally:
        server.close()
    return MonitorStats(cycles, results)


__all__ = [
    "RESULTS",
    "CycleOutcome",
    "MetricsServer",
    "Monitor",
    "MonitorMetrics",
    "MonitorStats",
    "Pushgateway",
    "parse_listen",
    "run_monitor",
    "serve_metrics",
]

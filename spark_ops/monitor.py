"""``spark monitor``: run a suite every interval and serve what it found as Prometheus metrics.

Metric names (a contract: the rules of ``spark alerts`` and the panels of ``spark dashboard`` use exactly
these; each check's series exist from the first cycle and keep their labels, so memory stays flat):

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

A reading that could not be taken this cycle (target down, field missing, a cycle that crashed) is
removed from the exposition, never left at its old value looking fresh: Prometheus marks the series
stale, the windowed averages of the burn-rate rules skip the gap (a NaN would poison every
``avg_over_time`` over it for the whole window), and the check-down alert fires from ``spark_check_up``.
The risk gauges have no labels to remove: after a crashed cycle they read NaN.

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
from urllib.parse import unquote, urlsplit, urlunsplit

from spark_ops import pipeline
from spark_ops.errors import ConfigError
from spark_ops.model import CheckResult, RunResult, Status
from spark_ops.redact import Redactor, environment_secrets, url_secrets

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from spark_ops.pipeline import PreparedRun

CHECK_UP = "spark_check_up"
CHECK_STATUS = "spark_check_status"
CHECK_DURATION = "spark_check_duration_seconds"
SLO_LATENCY_P95 = "spark_slo_latency_p95_ms"
SLO_ERROR_RATE = "spark_slo_error_rate"
SLO_STALENESS = "spark_slo_staleness_seconds"
SCRAPE_BYTES = "spark_metrics_scrape_bytes"
RISK_LEVEL = "spark_risk_level"
RISK_SCORE = "spark_risk_score"
RUNS = "spark_monitor_runs"  # a counter: exposed as spark_monitor_runs_total
LAST_RUN = "spark_monitor_last_run_timestamp_seconds"
CYCLE_DURATION = "spark_monitor_cycle_duration_seconds"

# The health-JSON field an ``slo`` check reads -> the gauge its reading goes to.
SLO_GAUGE_OF_FIELD = {
    "slo.latencyP95": SLO_LATENCY_P95,
    "slo.errorRate": SLO_ERROR_RATE,
    "slo.staleness": SLO_STALENESS,
}
RESULTS = ("pass", "fail", "inconclusive", "error")
_RESULT_OF_EXIT_CODE = {0: "pass", 1: "fail", 3: "inconclusive"}
_READ_STATUSES = (Status.PASS, Status.WARN, Status.FAIL)  # a check that read a value judged it
JOB = "spark-monitor"
DEFAULT_LISTEN = "127.0.0.1:9108"
PUSH_TIMEOUT_S = 10.0
_POLL_S = 0.2  # how often a waiting loop looks at the stop event while a cycle runs


class MonitorMetrics:
    """The monitor's own registry (never the global one) and how one run's results land in it."""

    def __init__(self, prepared: PreparedRun) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge

        self.registry = CollectorRegistry()
        self.suite = prepared.suite.name
        registry = self.registry
        self.up = Gauge(
            CHECK_UP,
            "1 when the check's last status was PASS or WARN, else 0.",
            ["suite", "check", "kind", "severity"],
            registry=registry,
        )
        self.status = Gauge(
            CHECK_STATUS,
            "1 for the check's last status, 0 for the others.",
            ["suite", "check", "status"],
            registry=registry,
        )
        self.duration = Gauge(
            CHECK_DURATION,
            "How long the check took in the last cycle.",
            ["suite", "check"],
            registry=registry,
        )
        self.slo = {
            SLO_LATENCY_P95: Gauge(
                SLO_LATENCY_P95, "p95 latency (ms) an slo check read.", ["check"], registry=registry
            ),
            SLO_ERROR_RATE: Gauge(
                SLO_ERROR_RATE, "Error rate (fraction 0..1) an slo check read.", ["check"], registry=registry
            ),
            SLO_STALENESS: Gauge(
                SLO_STALENESS, "Market-data staleness (s) an slo check read.", ["check"], registry=registry
            ),
        }
        self.scrape_bytes = Gauge(
            SCRAPE_BYTES,
            "Bytes of the /metrics body a metrics check read.",
            ["check", "service"],
            registry=registry,
        )
        self.risk_level = Gauge(
            RISK_LEVEL,
            "Risk level of the last cycle: 0 LOW, 1 MEDIUM, 2 HIGH, 3 CRITICAL.",
            registry=registry,
        )
        self.risk_score = Gauge(RISK_SCORE, "Weighted score of the last cycle, 0..100.", registry=registry)
        self.runs = Counter(RUNS, "Monitor cycles by result.", ["result"], registry=registry)
        self.last_run = Gauge(LAST_RUN, "When the last cycle ended (Unix time).", registry=registry)
        self.cycle_duration = Gauge(CYCLE_DURATION, "How long the last cycle took.", registry=registry)
        for result in RESULTS:  # every result exists at 0, so increase() sees the first one
            self.runs.labels(result)
        self.checks = [(c.name, c.kind, c.severity.value) for c in prepared.checks]
        self.slo_gauge_of_check = {
            c.name: SLO_GAUGE_OF_FIELD[field_name]
            for c in prepared.checks
            if c.kind == "slo" and (field_name := getattr(c.check, "field", None)) in SLO_GAUGE_OF_FIELD
        }
        self._scraped: dict[str, set[str]] = {}  # services each metrics check has a bytes series for

    def record(self, run: RunResult) -> None:
        """Set every check's series from one run's results, and the risk."""
        for result in run.results:
            self._set_status(result.name, result.kind, result.severity.value, result.status)
            self.duration.labels(self.suite, result.name).set(result.duration_ms / 1000)
            gauge = self.slo_gauge_of_check.get(result.name)
            if gauge is not None:
                self._set_slo(gauge, result.name, _reading(result))
            if result.kind == "metrics":
                self._set_scrape_bytes(result.name, _scrape_sizes(result))
        self.risk_level.set(run.risk.level.rank)
        self.risk_score.set(run.risk.score)

    def record_crash(self) -> None:
        """A cycle that crashed judged nothing: every check is down, no reading stands, the risk is NaN."""
        for name, kind, severity in self.checks:
            self._set_status(name, kind, severity, Status.ERROR)
            self.duration.remove(self.suite, name)
            gauge = self.slo_gauge_of_check.get(name)
            if gauge is not None:
                self._set_slo(gauge, name, None)
            if kind == "metrics":
                self._set_scrape_bytes(name, {})
        self.risk_level.set(math.nan)
        self.risk_score.set(math.nan)

    def finish_cycle(self, result: str, duration_s: float, ended_at: float) -> None:
        self.runs.labels(result).inc()
        self.cycle_duration.set(duration_s)
        self.last_run.set(ended_at)

    def _set_status(self, check: str, kind: str, severity: str, status: Status) -> None:
        self.up.labels(self.suite, check, kind, severity).set(
            1 if status in (Status.PASS, Status.WARN) else 0
        )
        for each in Status:
            self.status.labels(self.suite, check, each.value).set(1 if each is status else 0)

    def _set_slo(self, gauge: str, check: str, value: float | None) -> None:
        if value is None:
            self.slo[gauge].remove(check)
        else:
            self.slo[gauge].labels(check).set(value)

    def _set_scrape_bytes(self, check: str, sizes: dict[str, int]) -> None:
        seen = self._scraped.setdefault(check, set())
        for service in seen - sizes.keys():
            self.scrape_bytes.remove(check, service)
        for service, size in sizes.items():
            self.scrape_bytes.labels(check, service).set(size)
        seen.clear()
        seen.update(sizes)


def _reading(result: CheckResult) -> float | None:
    """The number an ``slo`` check read, or None when it read none it could judge."""
    value = result.observed
    if result.status not in _READ_STATUSES or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _scrape_sizes(result: CheckResult) -> dict[str, int]:
    """Bytes of each ``metrics/<service>.prom`` body a metrics check kept, by service."""
    return {
        name.removeprefix("metrics/").removesuffix(".prom"): len(body)
        for name, body in result.artifacts.items()
        if name.startswith("metrics/") and name.endswith(".prom")
    }


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
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                f"--pushgateway wants an http(s) URL, got {Redactor(url_secrets(url)).text(url)!r}"
            )
        self.username = unquote(parts.username) if parts.username is not None else None
        self.password = unquote(parts.password) if parts.password is not None else None
        netloc = parts.netloc.rpartition("@")[2]
        self.url = urlunsplit(parts._replace(netloc=netloc))
        self.instance = instance
        self.redactor = Redactor([*url_secrets(url), *([parts.password] if parts.password else [])])

    def push(self, registry: CollectorRegistry) -> str | None:
        """Push once; a failure comes back as one redacted line instead of an exception."""
        from prometheus_client import push_to_gateway
        from prometheus_client.exposition import basic_auth_handler, default_handler

        username, password = self.username, self.password

        def handler(
            url: str, method: str, timeout: float | None, headers: list[tuple[str, str]], data: bytes
        ) -> Callable[[], None]:
            if username is None and password is None:
                return default_handler(url, method, timeout, headers, data)
            return basic_auth_handler(url, method, timeout, headers, data, username, password)

        try:
            push_to_gateway(
                self.url,
                job=JOB,
                registry=registry,
                grouping_key={"instance": self.instance},
                timeout=PUSH_TIMEOUT_S,
                handler=handler,
            )
        except Exception as exc:  # urllib, socket and HTTP errors alike: the loop must go on
            return self.redactor.text(
                f"push to {self.url} failed: {' '.join(str(exc).split()) or type(exc).__name__}"
            )
        return None


class Monitor:
    """Runs a prepared suite once per cycle and records each cycle in its own registry."""

    def __init__(self, prepared: PreparedRun, *, pushgateway: Pushgateway | None = None) -> None:
        self.prepared = prepared
        self.metrics = MonitorMetrics(prepared)
        self.pushgateway = pushgateway
        self.redactor = Redactor([*environment_secrets(), *prepared.profile.secrets])

    @property
    def registry(self) -> CollectorRegistry:
        return self.metrics.registry

    def cycle(self, number: int) -> CycleOutcome:
        """Run the suite once, record it (a crash counts as ``error``), then push when asked to."""
        started = time.perf_counter()
        run: RunResult | None = None
        error: str | None = None
        try:
            run = pipeline.execute(self.prepared, enforce=True)
            result = _RESULT_OF_EXIT_CODE.get(run.exit_code, "error")
            self.metrics.record(run)
        except Exception as exc:  # a bug in a cycle is counted and logged; the monitor goes on
            run, result = None, "error"
            error = self.redactor.text(" ".join(f"{type(exc).__name__}: {exc}".split()))
            self.metrics.record_crash()
        duration_s = time.perf_counter() - started
        self.metrics.finish_cycle(result, duration_s, time.time())
        push_error = self.pushgateway.push(self.registry) if self.pushgateway is not None else None
        return CycleOutcome(number, result, duration_s, run, error, push_error)

    def loop(
        self,
        *,
        interval_s: float,
        iterations: int | None,
        stop: threading.Event,
        on_cycle: Callable[[CycleOutcome], None],
    ) -> int:
        """Cycle every ``interval_s`` (start to start) until ``stop`` is set or ``iterations`` ran.

        Each cycle runs on a worker thread so a stop request is seen within ``_POLL_S`` even while a
        slow target holds a cycle up; a cycle abandoned that way is not recorded. Returns the cycles run.
        """
        done = 0
        next_start = time.monotonic()
        while not stop.is_set() and (iterations is None or done < iterations):
            outcome = self._cycle_unless_stopped(done + 1, stop)
            if outcome is None:
                break
            done += 1
            on_cycle(outcome)
            if iterations is not None and done >= iterations:
                break
            # Fixed rate; a cycle that overran its slot is followed at once, without catching up.
            next_start = max(next_start + interval_s, time.monotonic())
            if stop.wait(next_start - time.monotonic()):
                break
        return done

    def _cycle_unless_stopped(self, number: int, stop: threading.Event) -> CycleOutcome | None:
        outcomes: list[CycleOutcome] = []
        crashes: list[BaseException] = []
        finished = threading.Event()

        def work() -> None:
            try:
                outcomes.append(self.cycle(number))
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
        raise ConfigError(f"--listen wants HOST:PORT (e.g. {DEFAULT_LISTEN}), got {listen!r}")
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
    listen: str = DEFAULT_LISTEN,
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
    monitor = Monitor(prepared, pushgateway=gateway)
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
        pushing = f", pushing to {gateway.url} as instance {gateway.instance}" if gateway else ""
        log(f"serving metrics on {server.url}; suite {prepared.suite.name} every {interval_s:g} s{pushing}")
        cycles = monitor.loop(interval_s=interval_s, iterations=iterations, stop=stop, on_cycle=each_cycle)
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

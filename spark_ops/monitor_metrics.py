"""The monitor's own registry and how one run's results land in it (names in ``metric_names``).

Every check's series exist from the first cycle and keep their labels, so memory stays flat; a reading
that could not be taken this cycle is removed from the exposition, never left at its old value.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from spark_ops import metric_names as names
from spark_ops.model import CheckResult, Risk, Status

if TYPE_CHECKING:
    from spark_ops.pipeline import PreparedRun

# A reading -> the gauge it goes to: an ``slo`` check names its reading after the field it read.
SLO_GAUGE_OF_READING = {
    "slo.latencyP95": names.SLO_LATENCY_P95,
    "slo.errorRate": names.SLO_ERROR_RATE,
    "slo.staleness": names.SLO_STALENESS,
}
SCRAPE_BYTES_READING = "exposition_bytes"  # the size of an exposition a check read
RESULTS = ("pass", "fail", "inconclusive", "error")


class MonitorMetrics:
    """The monitor's own registry (never the global one) and how one run's results land in it."""

    def __init__(self, prepared: PreparedRun, *, interval_s: float) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge

        self.registry = CollectorRegistry()
        self.suite = prepared.suite.name
        registry = self.registry
        self.up = Gauge(
            names.CHECK_UP,
            "1 when the check's last status was PASS or WARN, else 0.",
            ["suite", "check", "kind", "severity"],
            registry=registry,
        )
        self.status = Gauge(
            names.CHECK_STATUS,
            "1 for the check's last status, 0 for the others.",
            ["suite", "check", "status"],
            registry=registry,
        )
        self.duration = Gauge(
            names.CHECK_DURATION,
            "How long the check took in the last cycle.",
            ["suite", "check"],
            registry=registry,
        )
        self.slo = {
            names.SLO_LATENCY_P95: Gauge(
                names.SLO_LATENCY_P95, "p95 latency (ms) an slo check read.", ["check"], registry=registry
            ),
            names.SLO_ERROR_RATE: Gauge(
                names.SLO_ERROR_RATE,
                "Error rate (fraction 0..1) an slo check read.",
                ["check"],
                registry=registry,
            ),
            names.SLO_STALENESS: Gauge(
                names.SLO_STALENESS,
                "Market-data staleness (s) an slo check read.",
                ["check"],
                registry=registry,
            ),
        }
        self.scrape_bytes = Gauge(
            names.SCRAPE_BYTES,
            "Bytes of the /metrics body a metrics check read.",
            ["check", "service"],
            registry=registry,
        )
        self.risk_level = Gauge(
            names.RISK_LEVEL,
            "Risk level of the last cycle: 0 LOW, 1 MEDIUM, 2 HIGH, 3 CRITICAL.",
            registry=registry,
        )
        self.risk_score = Gauge(
            names.RISK_SCORE, "Weighted score of the last cycle, 0..100.", registry=registry
        )
        self.runs = Counter(names.RUNS, "Monitor cycles by result.", ["result"], registry=registry)
        self.last_run = Gauge(names.LAST_RUN, "When the last cycle ended (Unix time).", registry=registry)
        self.cycle_duration = Gauge(names.CYCLE_DURATION, "How long the last cycle took.", registry=registry)
        interval = Gauge(names.INTERVAL, "Seconds from one cycle's start to the next.", registry=registry)
        interval.set(interval_s)
        for result in RESULTS:  # every result exists at 0, so increase() sees the first one
            self.runs.labels(result)
        self._slo_read: dict[str, set[str]] = {}  # the SLO gauges each check has a series in
        self._scraped: dict[str, str] = {}  # the service each check has a scrape-bytes series for

    def record(self, results: Sequence[CheckResult], assessed: Risk) -> None:
        """Set every check's series from one run's results, and the risk."""
        for result in results:
            self.up.labels(self.suite, result.name, result.kind, result.severity.value).set(
                1 if result.status.is_up else 0
            )
            for each in Status:
                self.status.labels(self.suite, result.name, each.value).set(1 if each is result.status else 0)
            self.duration.labels(self.suite, result.name).set(result.duration_ms / 1000)
            self._set_slo(result)
            self._set_scrape_bytes(result)
        self.risk_level.set(assessed.level.rank)
        self.risk_score.set(assessed.score)

    def finish_cycle(self, result: str, duration_s: float, ended_at: float) -> None:
        self.runs.labels(result).inc()
        self.cycle_duration.set(duration_s)
        self.last_run.set(ended_at)

    def _set_slo(self, result: CheckResult) -> None:
        """Set the SLO gauges of the readings taken; remove those a check read before but not now."""
        read = {
            SLO_GAUGE_OF_READING[name]: value
            for name, value in result.readings.items()
            if name in SLO_GAUGE_OF_READING
        }
        before = self._slo_read.setdefault(result.name, set())
        for gauge in before - read.keys():
            self.slo[gauge].remove(result.name)
        for gauge, value in read.items():
            self.slo[gauge].labels(result.name).set(value)
        before.clear()
        before.update(read)

    def _set_scrape_bytes(self, result: CheckResult) -> None:
        size = result.readings.get(SCRAPE_BYTES_READING)
        service = self._scraped.pop(result.name, None)
        if service is not None and (size is None or service != _service_of(result)):
            self.scrape_bytes.remove(result.name, service)
        if size is not None:
            self._scraped[result.name] = _service_of(result)
            self.scrape_bytes.labels(result.name, _service_of(result)).set(size)


def _service_of(result: CheckResult) -> str:
    """The service a check reads (its ``service`` key), or "target" for one given by URL."""
    return str(result.spec.options.get("service") or "target")

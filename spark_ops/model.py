"""The data every part of spark-ops passes around: frozen, slotted dataclasses and enums."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from spark_ops.units import finite_number

if TYPE_CHECKING:
    from spark_ops.config.suite import CheckSpec


class Status(StrEnum):
    """What one check concluded."""

    PASS = "PASS"
    WARN = "WARN"
    FAIL = "FAIL"
    ERROR = "ERROR"  # could not judge: counts as failing
    INCONCLUSIVE = "INCONCLUSIVE"  # no data to judge
    SKIP = "SKIP"

    @property
    def is_failure(self) -> bool:
        """FAIL and ERROR both block a deploy."""
        return self in (Status.FAIL, Status.ERROR)

    @property
    def is_up(self) -> bool:
        """PASS and WARN: the check reached its target and found it serving (a warning is still up)."""
        return self in (Status.PASS, Status.WARN)

    @property
    def needs_attention(self) -> bool:
        """Everything but PASS and SKIP: a warning, a failure, or a check that could not judge."""
        return self not in (Status.PASS, Status.SKIP)


class Severity(StrEnum):
    """How much a failing check weighs in the risk level."""

    CRITICAL = "critical"
    MAJOR = "major"
    MINOR = "minor"


class RiskLevel(StrEnum):
    """The verdict's level, ordered from safe to worst."""

    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"

    @property
    def rank(self) -> int:
        return list(RiskLevel).index(self)


Readings = Mapping[str, float]  # named numbers a judgement read: {"p95_ms": 14.2, "error_rate": 0.0}
# A distribution a judgement measured, as contiguous bins (low, high, count): a latency probe's histogram.
Bins = tuple[tuple[float, float, int], ...]


def finite_readings(values: Any) -> dict[str, float]:
    """The finite numbers of ``values`` as readings: a NaN, a string or a boolean read is the judgement's
    business (its status and message), never a gauge's or a JSON document's."""
    if not isinstance(values, Mapping):
        return {}
    return {
        str(name): number for name, value in values.items() if (number := finite_number(value)) is not None
    }


def finite_histograms(values: Any) -> dict[str, Bins]:
    """The well-formed bins of each named histogram in ``values``: (low, high, count) with finite bounds
    and a whole, non-negative count; anything else (a plug-in's NaN, a torn document) is left out."""
    if not isinstance(values, Mapping):
        return {}
    histograms: dict[str, Bins] = {}
    for name, bins in values.items():
        kept = []
        for entry in bins if isinstance(bins, Sequence) and not isinstance(bins, str) else ():
            if not isinstance(entry, Sequence) or isinstance(entry, str) or len(entry) != 3:
                continue
            low, high, count = finite_number(entry[0]), finite_number(entry[1]), entry[2]
            if low is not None and high is not None and type(count) is int and count >= 0:
                kept.append((low, high, count))
        if kept:
            histograms[str(name)] = tuple(kept)
    return histograms


@dataclass(frozen=True, slots=True)
class Judgement:
    """What a check kind returns: the status and why, with what it saw against what it wanted.

    ``readings`` are the named, finite numbers the check read (an SLO value, p50/p95/p99, bytes, series,
    restarts, query values): the monitor's gauges, the reports and an analysis window use them without
    asking which kind ran.
    """

    status: Status
    message: str
    observed: Any = None
    threshold: Any = None
    readings: Readings = field(default_factory=dict)
    # Named distributions (``latency_ms``), for the charts of the HTML report.
    histograms: Mapping[str, Bins] = field(default_factory=dict)
    # Raw bodies the judgement was made on (e.g. "metrics/executor-1.prom"), kept for the evidence.
    artifacts: Mapping[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Measurement:
    """One measurement of a check in an analysis window: when, what it concluded, what it read."""

    at: str  # ISO 8601 UTC, to the millisecond
    status: Status
    readings: Readings = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check's outcome: the spec it ran from, the judgement, the timing the runner measured, and in an
    analysis window every measurement the judgement was reduced from (one for a single shot)."""

    spec: CheckSpec
    judgement: Judgement
    duration_ms: int = 0
    retries: int = 0
    measurements: tuple[Measurement, ...] = ()

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def kind(self) -> str:
        return self.spec.kind

    @property
    def severity(self) -> Severity:
        return self.spec.severity

    @property
    def status(self) -> Status:
        return self.judgement.status

    @property
    def message(self) -> str:
        return self.judgement.message

    @property
    def observed(self) -> Any:
        return self.judgement.observed

    @property
    def threshold(self) -> Any:
        return self.judgement.threshold

    @property
    def readings(self) -> Readings:
        return self.judgement.readings

    @property
    def histograms(self) -> Mapping[str, Bins]:
        return self.judgement.histograms

    @property
    def artifacts(self) -> Mapping[str, bytes]:
        return self.judgement.artifacts


@dataclass(frozen=True, slots=True)
class Risk:
    """The risk verdict over a run's results."""

    level: RiskLevel
    score: float
    recommendation: str


@dataclass(frozen=True, slots=True)
class Summary:
    """Counts of results by status."""

    total: int
    passed: int
    warned: int
    failed: int
    errors: int
    inconclusive: int
    skipped: int

    @classmethod
    def of(cls, results: Sequence[CheckResult]) -> Summary:
        def count(status: Status) -> int:
            return sum(1 for r in results if r.status is status)

        return cls(
            total=len(results),
            passed=count(Status.PASS),
            warned=count(Status.WARN),
            failed=count(Status.FAIL),
            errors=count(Status.ERROR),
            inconclusive=count(Status.INCONCLUSIVE),
            skipped=count(Status.SKIP),
        )


@dataclass(frozen=True, slots=True)
class Window:
    """How an analysis window went: measurements planned and taken, and how it ended."""

    planned: int
    taken: int
    interval_s: float
    ended: str  # "complete", "aborted: <why>" (a failure already decided the run) or "interrupted"

    def describe(self) -> str:
        """``analysis window: 10 of 10 measurements, every 15 s, complete``."""
        return (
            f"analysis window: {self.taken} of {self.planned} measurements, every {self.interval_s:g} s, "
            f"{self.ended}"
        )

    @property
    def finished(self) -> bool:
        """Whether the analysis ended on its own (complete, or aborted by a verdict), not by a signal."""
        return self.ended != "interrupted"


@dataclass(frozen=True, slots=True)
class RunResult:
    """A whole run: what ran, what each check said, the risk, and the options its exit code is reduced from.

    The exit code is not stored: it is reduced from the verdict and ``fail_on``/``enforce`` when asked
    (nox's final reduce), so a report, the evidence and the process exit can never disagree.
    """

    command: str
    profile: str
    suite: str
    started_at: str
    duration_ms: int
    results: list[CheckResult]
    risk: Risk
    fail_on: RiskLevel = RiskLevel.HIGH
    enforce: bool = True
    window: Window | None = None  # None: a single shot

    @property
    def summary(self) -> Summary:
        return Summary.of(self.results)

    @property
    def exit_code(self) -> int:
        from spark_ops.risk import final_reduce

        finished = self.window is None or self.window.finished
        return int(
            final_reduce(
                self.results, self.risk, fail_on=self.fail_on, enforce=self.enforce, finished=finished
            )
        )

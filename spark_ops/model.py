"""The data every part of spark-ops passes around: frozen, slotted dataclasses and enums."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


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


@dataclass(frozen=True, slots=True)
class Judgement:
    """What a check kind returns: the status and why, with what it saw against what it wanted."""

    status: Status
    message: str
    observed: Any = None
    threshold: Any = None
    # Raw bodies the judgement was made on (e.g. "metrics/executor-1.prom"), kept for the evidence.
    artifacts: Mapping[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check's outcome as the runner recorded it."""

    name: str
    kind: str
    severity: Severity
    status: Status
    message: str
    observed: Any = None
    threshold: Any = None
    duration_ms: int = 0
    retries: int = 0
    artifacts: Mapping[str, bytes] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The SPEC's result-JSON form of one check."""
        return {
            "name": self.name,
            "kind": self.kind,
            "status": self.status.value,
            "severity": self.severity.value,
            "observed": self.observed,
            "threshold": self.threshold,
            "message": self.message,
            "duration_ms": self.duration_ms,
            "retries": self.retries,
        }


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
    def of(cls, results: list[CheckResult]) -> Summary:
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


RESULT_SCHEMA = "spark-ops/result/v1"


@dataclass(frozen=True, slots=True)
class RunResult:
    """A whole run: what ran, what each check said, the risk and the exit code it leads to."""

    command: str
    profile: str
    suite: str
    started_at: str
    duration_ms: int
    results: list[CheckResult]
    risk: Risk
    exit_code: int

    @property
    def summary(self) -> Summary:
        return Summary.of(self.results)

    def to_dict(self) -> dict[str, Any]:
        """The SPEC's ``spark-ops/result/v1`` document."""
        summary = self.summary
        return {
            "schema": RESULT_SCHEMA,
            "command": self.command,
            "profile": self.profile,
            "suite": self.suite,
            "started_at": self.started_at,
            "duration_ms": self.duration_ms,
            "risk": {
                "level": self.risk.level.value,
                "score": self.risk.score,
                "recommendation": self.risk.recommendation,
            },
            "summary": {
                "total": summary.total,
                "passed": summary.passed,
                "warned": summary.warned,
                "failed": summary.failed,
                "errors": summary.errors,
                "inconclusive": summary.inconclusive,
                "skipped": summary.skipped,
            },
            "checks": [r.to_dict() for r in self.results],
            "exit_code": self.exit_code,
        }

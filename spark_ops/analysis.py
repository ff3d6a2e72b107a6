"""The analysis window: every check measured every interval, and a verdict per check from its measurements.

A check's verdict (the limits as Argo Rollouts' analysis names them; every count is over the window):

    ERROR         ``consecutive_error_limit`` measurements in a row could not judge, or none could
    FAIL          more than ``failure_limit`` measurements failed
    INCONCLUSIVE  more than ``inconclusive_limit`` measurements had no data, or fewer than half of the
                  planned measurements judged anything (an analysis cut short)
    WARN          a measurement warned, or errored without reaching the limit
    SKIP          every measurement skipped
    PASS          otherwise

Fail closed: a window where every measurement errored is ERROR, never PASS (Argo #4479), and a check
with no measurement at all is INCONCLUSIVE, never PASS (Kayenta PR #326).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated

import msgspec

from spark_ops.model import CheckResult, Judgement, Measurement, Status

NonNegativeInt = Annotated[int, msgspec.Meta(ge=0)]


class CheckLimits(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """Limits one check overrides (``[analysis.checks."NAME"]``)."""

    failure_limit: NonNegativeInt | None = None
    consecutive_error_limit: Annotated[int, msgspec.Meta(ge=1)] | None = None
    inconclusive_limit: NonNegativeInt | None = None


class AnalysisConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """The ``[analysis]`` table; without ``duration_s`` or ``count`` a run is a single shot."""

    duration_s: Annotated[float, msgspec.Meta(gt=0)] | None = None
    count: Annotated[int, msgspec.Meta(ge=1)] | None = None
    interval_s: Annotated[float, msgspec.Meta(gt=0)] = 10.0
    failure_limit: NonNegativeInt = 0
    consecutive_error_limit: Annotated[int, msgspec.Meta(ge=1)] = 4
    inconclusive_limit: NonNegativeInt = 0
    checks: dict[str, CheckLimits] = {}


@dataclass(frozen=True, slots=True)
class Limits:
    failure_limit: int
    consecutive_error_limit: int
    inconclusive_limit: int


@dataclass(frozen=True, slots=True)
class AnalysisPlan:
    """How many measurements, how far apart, and the limits each check is judged by."""

    count: int
    interval_s: float
    defaults: Limits
    overrides: Mapping[str, Limits] = field(default_factory=dict)

    @classmethod
    def of(cls, config: AnalysisConfig) -> AnalysisPlan | None:
        """The plan ``config`` asks for, or None for a single shot."""
        if config.count is None and config.duration_s is None:
            return None
        count = config.count or max(1, math.ceil(config.duration_s / config.interval_s))  # type: ignore[operator]
        defaults = Limits(config.failure_limit, config.consecutive_error_limit, config.inconclusive_limit)
        overrides = {name: _override(defaults, limits) for name, limits in config.checks.items()}
        return cls(count=count, interval_s=config.interval_s, defaults=defaults, overrides=overrides)

    @property
    def duration_s(self) -> float:
        """How long the window lasts: ``count`` intervals."""
        return self.count * self.interval_s

    def limits(self, check: str) -> Limits:
        return self.overrides.get(check, self.defaults)


def verdict(measurements: Sequence[Measurement], limits: Limits, *, planned: int) -> tuple[Status, str]:
    """A check's status over its measurements and why, as the module docstring says."""
    if not measurements:
        return Status.INCONCLUSIVE, "no measurement was taken"
    counts = {status: sum(1 for m in measurements if m.status is status) for status in Status}
    taken = len(measurements)
    failed, errored, no_data = counts[Status.FAIL], counts[Status.ERROR], counts[Status.INCONCLUSIVE]
    judged = counts[Status.PASS] + counts[Status.WARN] + failed
    in_a_row = _longest_run(measurements, Status.ERROR)
    of = f"of {taken} measurements"
    if counts[Status.SKIP] == taken:
        return Status.SKIP, f"skipped in all {taken} measurements"
    if failed > limits.failure_limit:
        return Status.FAIL, f"{failed} {of} failed (failure_limit {limits.failure_limit})"
    if errored == taken or in_a_row >= limits.consecutive_error_limit:
        return (
            Status.ERROR,
            f"{errored} {of} could not judge, {in_a_row} in a row "
            f"(consecutive_error_limit {limits.consecutive_error_limit})",
        )
    if no_data > limits.inconclusive_limit:
        return (
            Status.INCONCLUSIVE,
            f"{no_data} {of} had no data (inconclusive_limit {limits.inconclusive_limit})",
        )
    if judged * 2 < planned:
        return Status.INCONCLUSIVE, f"only {judged} of {planned} planned measurements judged"
    if counts[Status.WARN] or errored:
        problems = [
            f"{counts[Status.WARN]} warned" if counts[Status.WARN] else "",
            f"{errored} errored" if errored else "",
        ]
        return Status.WARN, f"{', '.join(p for p in problems if p)} {of}"
    return Status.PASS, f"all {taken} measurements passed"


def _override(defaults: Limits, limits: CheckLimits) -> Limits:
    """``defaults`` with what one check sets itself."""

    def pick(own: int | None, default: int) -> int:
        return default if own is None else own

    return Limits(
        pick(limits.failure_limit, defaults.failure_limit),
        pick(limits.consecutive_error_limit, defaults.consecutive_error_limit),
        pick(limits.inconclusive_limit, defaults.inconclusive_limit),
    )


def _longest_run(measurements: Sequence[Measurement], status: Status) -> int:
    longest = current = 0
    for measurement in measurements:
        current = current + 1 if measurement.status is status else 0
        longest = max(longest, current)
    return longest


def judge_window(
    results: Sequence[CheckResult], measurements: Sequence[Measurement], limits: Limits, *, planned: int
) -> CheckResult:
    """One check's result over the window: its verdict, the last measurement's facts, every measurement.

    ``results`` are the check's results of each interval, oldest first; the last one's observed value,
    threshold, readings and artifacts stand for the window (the probe's last one covers all of it).
    """
    status, why = verdict(measurements, limits, planned=planned)
    last = results[-1]
    decisive = next((r for r in reversed(results) if r.status is status), last)
    judgement = Judgement(
        status,
        f"{why}; {'last' if decisive is last else 'latest ' + status.value}: {decisive.message}",
        observed=decisive.observed,
        threshold=decisive.threshold,
        readings=decisive.readings,
        artifacts=last.artifacts,
    )
    return CheckResult(
        spec=last.spec,
        judgement=judgement,
        duration_ms=sum(r.duration_ms for r in results),
        retries=sum(r.retries for r in results),
        measurements=tuple(measurements),
    )

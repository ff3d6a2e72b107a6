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

import asyncio
import contextlib
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from spark_ops.config.schema import AnalysisConfig, CheckLimits
from spark_ops.model import CheckResult, Judgement, Measurement, RiskLevel, Status, Window
from spark_ops.risk import decides_the_run

if TYPE_CHECKING:
    from spark_ops.registry import PreparedCheck


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

    ``results`` are the check's results of each interval, oldest first; the decisive one's observed value,
    threshold, readings and histograms, and the last one's artifacts, stand for the window.
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
        histograms=decisive.histograms,
        artifacts=last.artifacts,
    )
    return CheckResult(
        spec=last.spec,
        judgement=judgement,
        duration_ms=sum(r.duration_ms for r in results),
        retries=sum(r.retries for r in results),
        measurements=tuple(measurements),
    )


IntervalCallback = Callable[[int, Sequence[CheckResult]], None]


async def analyse(
    checks: Sequence[PreparedCheck],
    plan: AnalysisPlan,
    *,
    fail_on: RiskLevel,
    stop: asyncio.Event,
    measure: Callable[[Sequence[PreparedCheck], float], Awaitable[list[CheckResult]]],
    on_interval: IntervalCallback | None = None,
) -> tuple[list[CheckResult], Window]:
    """Measure ``checks`` every ``plan.interval_s`` for ``plan.count`` intervals, then judge each check.

    ``measure(checks, interval_s)`` runs every check once (the runner). The analysis ends early when a
    check's verdict already fails the run at ``fail_on`` (after the interval that decided it), or when
    ``stop`` is set (Ctrl-C, SIGTERM): then the interval under way is dropped and what was measured so
    far is judged, and the window says it was interrupted.
    """
    loop = asyncio.get_running_loop()
    start = loop.time()
    by_check: dict[str, list[CheckResult]] = {check.name: [] for check in checks}
    ended, taken = "complete", 0
    for index in range(plan.count):
        if await _wait_for(stop, start + index * plan.interval_s - loop.time()):
            ended = "interrupted"
            break
        interval = asyncio.ensure_future(measure(checks, plan.interval_s))
        if await _first_of(interval, stop):
            ended = "interrupted"
            break
        taken += 1
        results = interval.result()
        for result in results:
            by_check[result.name].append(result)
        if on_interval is not None:
            on_interval(index, results)
        decided = _deciding_failure(checks, by_check, plan, fail_on)
        if decided is not None and index + 1 < plan.count:
            ended = f"aborted: {decided}"
            break
    judged = [
        judge_window(results, _measurements(results), plan.limits(check.name), planned=plan.count)
        if (results := by_check[check.name])
        else _unmeasured(check)
        for check in checks
    ]
    return judged, Window(planned=plan.count, taken=taken, interval_s=plan.interval_s, ended=ended)


def _measurements(results: Sequence[CheckResult]) -> list[Measurement]:
    return [measurement for result in results for measurement in result.measurements]


def _unmeasured(check: PreparedCheck) -> CheckResult:
    """A check the window ended before measuring: no data, never a pass."""
    return CheckResult(check.spec, Judgement(Status.INCONCLUSIVE, "no measurement was taken"))


def _deciding_failure(
    checks: Sequence[PreparedCheck],
    by_check: Mapping[str, Sequence[CheckResult]],
    plan: AnalysisPlan,
    fail_on: RiskLevel,
) -> str | None:
    """Why the run has already failed (a check past its limits that fails it at ``fail_on``), or None."""
    for check in checks:
        results = by_check[check.name]
        status, why = verdict(_measurements(results), plan.limits(check.name), planned=plan.count)
        if decides_the_run(check.spec.severity, status, fail_on):
            return f"{check.name} {status.value}: {why}"
    return None


async def _wait_for(stop: asyncio.Event, delay_s: float) -> bool:
    """Wait ``delay_s`` (nothing when it is not positive); True when ``stop`` was set first."""
    if stop.is_set():
        return True
    if delay_s <= 0:
        return False
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(delay_s):
            await stop.wait()
    return stop.is_set()


async def _first_of(work: asyncio.Future[Any], stop: asyncio.Event) -> bool:
    """Wait for ``work``; True (and ``work`` cancelled) when ``stop`` was set first."""
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({work, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    if work.done():
        return False
    work.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await work
    return True

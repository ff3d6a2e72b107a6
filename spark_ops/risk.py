"""Pure functions from results to the risk verdict and the exit code (SPEC: Risk, Exit codes)."""

from __future__ import annotations

from collections.abc import Sequence

from spark_ops.errors import ExitCode
from spark_ops.model import CheckResult, Risk, RiskLevel, Severity, Status

RECOMMENDATIONS = {
    RiskLevel.LOW: "System healthy, safe to deploy",
    RiskLevel.MEDIUM: "Deploy with caution: review the warnings and inconclusive checks first",
    RiskLevel.HIGH: "Do not deploy: major checks are failing",
    RiskLevel.CRITICAL: "Do not deploy: critical checks are failing, investigate now",
}
_WEIGHTS = {Status.PASS: 1.0, Status.WARN: 0.5}
_LEVEL_OF_FAILURE = {
    Severity.CRITICAL: RiskLevel.CRITICAL,
    Severity.MAJOR: RiskLevel.HIGH,
    Severity.MINOR: RiskLevel.MEDIUM,
}


def assess(results: Sequence[CheckResult]) -> Risk:
    """The risk level (worst rule that applies), the weighted score and the recommendation."""
    level = RiskLevel.LOW
    for result in results:
        if result.status.is_failure:
            candidate = _LEVEL_OF_FAILURE[result.severity]
        elif result.status in (Status.WARN, Status.INCONCLUSIVE):
            candidate = RiskLevel.MEDIUM
        else:
            continue
        if candidate.rank > level.rank:
            level = candidate
    judged = [r for r in results if r.status is not Status.SKIP]
    # Nothing judged is no evidence of health: score 0, and at least MEDIUM.
    score = round(100 * sum(_WEIGHTS.get(r.status, 0.0) for r in judged) / len(judged), 1) if judged else 0.0
    if not judged and level is RiskLevel.LOW:
        level = RiskLevel.MEDIUM
    return Risk(level=level, score=score, recommendation=RECOMMENDATIONS[level])


def final_reduce(
    results: Sequence[CheckResult], risk: Risk, *, fail_on: RiskLevel, enforce: bool, finished: bool = True
) -> ExitCode:
    """The run's exit code, reduced at the end from the verdict and the options.

    0 pass or report-only; 1 risk at or above ``fail_on``; 3 no data to judge and nothing failed. An
    analysis that was interrupted never exits 0, report-only or not: what it measured is no verdict.
    """
    if not finished:
        failed = enforce and risk.level.rank >= fail_on.rank
        return ExitCode.VERDICT_FAILED if failed else ExitCode.INCONCLUSIVE
    if not enforce:
        return ExitCode.OK
    failed_outright = any(r.status.is_failure for r in results)
    no_data = any(r.status is Status.INCONCLUSIVE for r in results) or all(
        r.status is Status.SKIP for r in results
    )
    if no_data and not failed_outright:
        return ExitCode.INCONCLUSIVE
    if risk.level.rank >= fail_on.rank:
        return ExitCode.VERDICT_FAILED
    return ExitCode.OK


def decides_the_run(severity: Severity, status: Status, fail_on: RiskLevel) -> bool:
    """Whether one check at ``status`` already makes the run fail at ``fail_on`` (an analysis can stop)."""
    return status.is_failure and _LEVEL_OF_FAILURE[severity].rank >= fail_on.rank

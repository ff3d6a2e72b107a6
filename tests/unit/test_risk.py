"""The risk rules and the exit code, as pure functions over tables of results (SPEC: Risk, Exit codes)."""

from __future__ import annotations

import pytest
from conftest import check_result

from spark_ops.errors import ExitCode
from spark_ops.model import CheckResult, RiskLevel, Severity, Status
from spark_ops.risk import RECOMMENDATIONS, assess, final_reduce

P, W, F, E, I, S = Status.PASS, Status.WARN, Status.FAIL, Status.ERROR, Status.INCONCLUSIVE, Status.SKIP  # noqa: E741
CRIT, MAJ, MIN = Severity.CRITICAL, Severity.MAJOR, Severity.MINOR


def results(*cases: tuple[Status, Severity]) -> list[CheckResult]:
    """One CheckResult per (status, severity) pair."""
    return [
        check_result(name=f"check.{index}", kind="http", severity=severity, status=status, message="why")
        for index, (status, severity) in enumerate(cases)
    ]


LEVELS = {
    "all-pass": ([(P, CRIT), (P, MAJ), (P, MIN)], RiskLevel.LOW),
    "pass-and-skip": ([(P, CRIT), (S, MAJ)], RiskLevel.LOW),
    "critical-fail": ([(F, CRIT), (P, MAJ)], RiskLevel.CRITICAL),
    "critical-error": ([(E, CRIT), (P, MAJ)], RiskLevel.CRITICAL),
    "critical-beats-major": ([(F, MAJ), (F, CRIT), (W, MIN)], RiskLevel.CRITICAL),
    "major-fail": ([(F, MAJ), (P, CRIT)], RiskLevel.HIGH),
    "major-error": ([(E, MAJ), (P, CRIT)], RiskLevel.HIGH),
    "major-beats-warn": ([(W, CRIT), (F, MAJ), (I, MIN)], RiskLevel.HIGH),
    "minor-fail": ([(F, MIN), (P, CRIT)], RiskLevel.MEDIUM),
    "minor-error": ([(E, MIN), (P, CRIT)], RiskLevel.MEDIUM),
    "warn-on-critical": ([(W, CRIT), (P, MAJ)], RiskLevel.MEDIUM),
    "warn-on-minor": ([(W, MIN)], RiskLevel.MEDIUM),
    "inconclusive-on-critical": ([(I, CRIT), (P, MAJ)], RiskLevel.MEDIUM),
    "inconclusive-on-minor": ([(I, MIN)], RiskLevel.MEDIUM),
    "all-skip": ([(S, CRIT), (S, MAJ)], RiskLevel.MEDIUM),
    "no-checks": ([], RiskLevel.MEDIUM),
}


@pytest.mark.parametrize(("cases", "level"), list(LEVELS.values()), ids=list(LEVELS))
def test_level_is_the_worst_rule_that_applies(cases, level):
    """The level follows SPEC: critical fail, major fail, minor fail/WARN/INCONCLUSIVE, else LOW."""
    risk = assess(results(*cases))
    assert risk.level is level
    assert risk.recommendation == RECOMMENDATIONS[level]


def test_low_recommends_safe_to_deploy():
    """An all-PASS run says exactly "System healthy, safe to deploy"."""
    risk = assess(results((P, CRIT), (P, MAJ)))
    assert (risk.level, risk.score, risk.recommendation) == (
        RiskLevel.LOW,
        100.0,
        "System healthy, safe to deploy",
    )


@pytest.mark.parametrize("level", [RiskLevel.MEDIUM, RiskLevel.HIGH, RiskLevel.CRITICAL], ids=str)
def test_only_low_says_safe_to_deploy(level):
    """No level above LOW tells a user it is safe to deploy."""
    assert "safe to deploy" not in RECOMMENDATIONS[level]


SCORES = {
    "all-pass": ([(P, MAJ), (P, MAJ)], 100.0),
    "one-warn-of-two": ([(P, MAJ), (W, MAJ)], 75.0),
    "all-warn": ([(W, MAJ), (W, MIN)], 50.0),
    "fail-is-zero": ([(P, MAJ), (F, MIN)], 50.0),
    "error-is-zero": ([(P, MAJ), (E, MIN)], 50.0),
    "inconclusive-is-zero": ([(P, MAJ), (I, MIN)], 50.0),
    "skip-excluded": ([(P, MAJ), (S, MAJ), (S, MIN)], 100.0),
    "skip-excluded-with-warn": ([(W, MAJ), (S, MAJ)], 50.0),
    "thirds-rounded": ([(P, MAJ), (F, MAJ), (F, MAJ)], 33.3),
    "mixed": ([(P, MAJ), (W, MAJ), (F, MAJ), (I, MAJ)], 37.5),
    "all-skip": ([(S, MAJ)], 0.0),
    "no-checks": ([], 0.0),
}


@pytest.mark.parametrize(("cases", "score"), list(SCORES.values()), ids=list(SCORES))
def test_score_weighs_pass_1_warn_half_else_0_without_skips(cases, score):
    """The score is 100 x mean weight (PASS 1, WARN 0.5, anything else 0) over the checks not skipped."""
    assert assess(results(*cases)).score == pytest.approx(score)


@pytest.mark.parametrize(
    "cases", [[(S, CRIT)], [(S, CRIT), (S, MAJ), (S, MIN)], []], ids=["one-skip", "all-skip", "no-checks"]
)
def test_nothing_judged_is_never_low(cases):
    """A run that judged nothing is no evidence of health: never LOW, and it does not exit 0 when enforced."""
    checks = results(*cases)
    risk = assess(checks)
    assert risk.level is not RiskLevel.LOW
    assert final_reduce(checks, risk, fail_on=RiskLevel.HIGH, enforce=True) is not ExitCode.OK


EXIT_CODES = {
    "pass": ([(P, CRIT)], RiskLevel.HIGH, ExitCode.OK),
    "critical-fail": ([(F, CRIT)], RiskLevel.HIGH, ExitCode.VERDICT_FAILED),
    "major-fail": ([(F, MAJ)], RiskLevel.HIGH, ExitCode.VERDICT_FAILED),
    "major-error": ([(E, MAJ)], RiskLevel.HIGH, ExitCode.VERDICT_FAILED),
    "minor-fail-below-high": ([(F, MIN)], RiskLevel.HIGH, ExitCode.OK),
    "warn-below-high": ([(W, MAJ)], RiskLevel.HIGH, ExitCode.OK),
    "major-fail-below-critical": ([(F, MAJ)], RiskLevel.CRITICAL, ExitCode.OK),
    "critical-fail-at-critical": ([(F, CRIT)], RiskLevel.CRITICAL, ExitCode.VERDICT_FAILED),
    "warn-at-medium": ([(W, MIN), (P, CRIT)], RiskLevel.MEDIUM, ExitCode.VERDICT_FAILED),
    "minor-fail-at-medium": ([(F, MIN)], RiskLevel.MEDIUM, ExitCode.VERDICT_FAILED),
    "pass-at-medium": ([(P, MIN)], RiskLevel.MEDIUM, ExitCode.OK),
    "inconclusive-only": ([(I, MAJ)], RiskLevel.HIGH, ExitCode.INCONCLUSIVE),
    "inconclusive-with-pass": ([(I, MAJ), (P, CRIT)], RiskLevel.HIGH, ExitCode.INCONCLUSIVE),
    "inconclusive-at-medium": ([(I, MAJ)], RiskLevel.MEDIUM, ExitCode.INCONCLUSIVE),
    "inconclusive-and-fail": ([(I, MAJ), (F, MAJ)], RiskLevel.HIGH, ExitCode.VERDICT_FAILED),
    "inconclusive-and-error": ([(I, MAJ), (E, CRIT)], RiskLevel.HIGH, ExitCode.VERDICT_FAILED),
    "all-skip": ([(S, MAJ)], RiskLevel.HIGH, ExitCode.INCONCLUSIVE),
}


@pytest.mark.parametrize(("cases", "fail_on", "code"), list(EXIT_CODES.values()), ids=list(EXIT_CODES))
def test_exit_code_when_enforced(cases, fail_on, code):
    """With --exit-on-fail: 1 at or above --fail-on, 3 when only data is missing, otherwise 0."""
    checks = results(*cases)
    assert final_reduce(checks, assess(checks), fail_on=fail_on, enforce=True) is code


@pytest.mark.parametrize(("cases", "fail_on", "_code"), list(EXIT_CODES.values()), ids=list(EXIT_CODES))
def test_report_only_always_exits_0(cases, fail_on, _code):
    """Without --exit-on-fail every verdict exits 0."""
    checks = results(*cases)
    assert final_reduce(checks, assess(checks), fail_on=fail_on, enforce=False) is ExitCode.OK

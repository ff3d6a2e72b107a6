"""The analysis window's verdict rules: one check's status from its measurements (analysis.py)."""

from __future__ import annotations

import pytest

from spark_ops.analysis import AnalysisConfig, AnalysisPlan, CheckLimits, Limits, verdict
from spark_ops.model import Measurement, Status

P, W, F, E, I, S = Status.PASS, Status.WARN, Status.FAIL, Status.ERROR, Status.INCONCLUSIVE, Status.SKIP  # noqa: E741
ARGO = Limits(failure_limit=0, consecutive_error_limit=4, inconclusive_limit=0)


def taken(*statuses: Status) -> list[Measurement]:
    return [Measurement(f"2026-12-02T05:00:{i:02d}.000Z", status) for i, status in enumerate(statuses)]


VERDICTS = {
    "all-pass": ([P] * 10, ARGO, P, "all 10 measurements passed"),
    "one-fail-over-limit-0": ([P] * 9 + [F], ARGO, F, "1 of 10 measurements failed (failure_limit 0)"),
    "fail-within-limit": ([P, F, P, F, P], Limits(2, 4, 0), P, "all 5"),
    "fail-past-limit": ([F, F, F, P, P], Limits(2, 4, 0), F, "3 of 5 measurements failed (failure_limit 2)"),
    "every-measurement-errored": ([E, E], ARGO, E, "2 of 2 measurements could not judge"),
    "errors-in-a-row": ([P, E, E, E, E, P], ARGO, E, "4 in a row (consecutive_error_limit 4)"),
    "scattered-errors-warn": ([P, E, P, E, P, E, P, P], ARGO, W, "3 errored of 8 measurements"),
    "fail-beats-error": ([E, E, E, E, F], ARGO, F, "1 of 5 measurements failed"),
    "no-data": ([P, I, P], ARGO, I, "1 of 3 measurements had no data (inconclusive_limit 0)"),
    "no-data-within-limit": ([P, I, P], Limits(0, 4, 1), P, "all 3"),
    "warned": ([P, W, P], ARGO, W, "1 warned of 3 measurements"),
    "all-skip": ([S, S], ARGO, S, "skipped in all 2 measurements"),
    "nothing-measured": ([], ARGO, I, "no measurement was taken"),
}


@pytest.mark.parametrize(
    ("statuses", "limits", "status", "words"), list(VERDICTS.values()), ids=list(VERDICTS)
)
def test_a_checks_verdict_follows_from_its_measurements(statuses, limits, status, words):
    """FAIL past failure_limit, ERROR on errors in a row or all errors, INCONCLUSIVE on no data, else PASS."""
    got, why = verdict(taken(*statuses), limits, planned=len(statuses))
    assert got is status, why
    assert words in why


def test_a_window_cut_short_is_inconclusive_not_a_pass():
    """Two passing measurements of ten planned (the analysis was stopped) are too few to pass."""
    status, why = verdict(taken(P, P), ARGO, planned=10)
    assert status is Status.INCONCLUSIVE
    assert "only 2 of 10 planned measurements judged" in why


def test_a_window_where_every_measurement_errored_is_never_a_pass_even_below_the_limit():
    """Argo #4479: every measurement errored and the run reported success. Here it is ERROR."""
    status, _ = verdict(taken(E), Limits(0, 10, 0), planned=1)
    assert status is Status.ERROR


@pytest.mark.parametrize(
    ("config", "count"),
    [
        (AnalysisConfig(duration_s=60, interval_s=10), 6),
        (AnalysisConfig(duration_s=61, interval_s=10), 7),
        (AnalysisConfig(count=3, interval_s=5), 3),
        (AnalysisConfig(duration_s=1, interval_s=10), 1),
    ],
    ids=["duration", "duration-rounds-up", "count", "shorter-than-an-interval"],
)
def test_the_plan_measures_count_or_duration_over_interval_times(config, count):
    """``count`` measurements, or enough intervals to cover ``duration_s``."""
    plan = AnalysisPlan.of(config)
    assert plan is not None
    assert plan.count == count


def test_no_duration_and_no_count_is_a_single_shot():
    """Without duration_s or count there is no window: the run is one shot, as before."""
    assert AnalysisPlan.of(AnalysisConfig()) is None


def test_a_check_overrides_only_the_limits_it_sets():
    """``[analysis.checks."x"] failure_limit = 2`` keeps the other limits of the table."""
    config = AnalysisConfig(count=5, consecutive_error_limit=3, checks={"x": CheckLimits(failure_limit=2)})
    plan = AnalysisPlan.of(config)
    assert plan is not None
    assert plan.limits("x") == Limits(2, 3, 0)
    assert plan.limits("other") == Limits(0, 3, 0)

"""Baseline comparison: Mann-Whitney U on histograms, the effect-size bound, and `canary --baseline`."""

from __future__ import annotations

import json
import math
import random
from fractions import Fraction

import pytest

from spark_ops.histogram import LatencyHistogram
from spark_ops.sim import Simulator, parse_fault
from spark_ops.stats import (
    compare,
    compare_error_rates,
    fisher_exact_greater,
    mann_whitney,
    mann_whitney_greater,
    median,
)


def histogram(values: list[float]) -> LatencyHistogram:
    recorded = LatencyHistogram()
    for value in values:
        recorded.record(value)
    return recorded


def brute_force_u(canary: list[float], baseline: list[float]) -> float:
    return sum((x > y) + 0.5 * (x == y) for x in canary for y in baseline)


@pytest.mark.parametrize(
    ("canary", "baseline"),
    [
        ([30.0, 31.0, 35.0, 40.0], [10.0, 12.0, 15.0]),
        ([10.0, 20.0, 30.0], [15.0, 25.0, 35.0, 45.0]),
        ([5.0] * 10, [5.0] * 10),
    ],
    ids=["canary-all-slower", "interleaved", "all-tied"],
)
def test_u_matches_counting_every_pair(canary: list[float], baseline: list[float]) -> None:
    """U is the number of (canary, baseline) pairs where the canary is slower, ties counting half."""
    u, _ = mann_whitney_greater(histogram(canary), histogram(baseline))
    assert u == brute_force_u(canary, baseline)


def test_p_value_separates_slower_from_equal() -> None:
    """A clearly slower canary gets a tiny p; samples from the same distribution do not."""
    rng = random.Random(5)
    baseline = histogram([rng.gauss(20, 2) for _ in range(60)])
    slower = histogram([rng.gauss(30, 3) for _ in range(60)])
    same = histogram([rng.gauss(20, 2) for _ in range(60)])
    assert mann_whitney_greater(slower, baseline)[1] < 1e-6
    assert mann_whitney_greater(same, baseline)[1] > 0.01


def test_all_tied_samples_give_no_evidence() -> None:
    """With every sample in one bucket there is no spread: p is 1, not a division by zero."""
    assert mann_whitney_greater(histogram([7.0] * 30), histogram([7.0] * 30))[1] == 1.0


@pytest.mark.parametrize(
    ("canary_mean", "expected"),
    [(20.0, "pass"), (23.0, "marginal"), (30.0, "fail"), (12.0, "pass")],
    ids=["equal", "15-percent-slower", "50-percent-slower", "faster"],
)
def test_compare_verdicts(canary_mean: float, expected: str) -> None:
    """Significantly slower by over 20 % fails, by 10-20 % is marginal; equal or faster passes."""
    rng = random.Random(11)
    baseline = histogram([rng.gauss(20, 0.5) for _ in range(80)])
    canary = histogram([rng.gauss(canary_mean, 0.5) for _ in range(80)])
    result = compare(canary, baseline, min_samples=20, alpha=0.05, max_slowdown=0.2, marginal_slowdown=0.1)
    assert result.verdict == expected, result.describe()


def test_few_samples_are_inconclusive() -> None:
    """Too few samples on either side can never pass or fail: inconclusive."""
    result = compare(
        histogram([50.0] * 5),
        histogram([10.0] * 50),
        min_samples=20,
        alpha=0.05,
        max_slowdown=0.2,
        marginal_slowdown=0.1,
    )
    assert result.verdict == "inconclusive"
    assert (
        result.describe()
        == "latency vs baseline: too few samples to compare (5 canary, 50 baseline): inconclusive"
    )


@pytest.mark.parametrize(
    ("canary_fault", "baseline_delay_ms", "expected_status", "expected_verdict", "exit_code"),
    [("web=slow:20", 20, "PASS", "pass", 0), ("web=slow:32", 20, "FAIL", "fail", 1)],
    ids=["equal-targets-pass", "canary-50-percent-slower-fails"],
)
def test_canary_baseline_end_to_end(
    spark, canary_fault, baseline_delay_ms, expected_status, expected_verdict, exit_code
) -> None:
    """`spark canary --baseline URL` probes both; equal targets pass, a 50 % slower canary fails.

    Both answer 20 ms late (the canary 32 ms when slower): two bare simulators answer in about 2 ms, one
    in a child process, the baseline on a thread of this one, and a CI run read them 12 % apart
    (Mann-Whitney p = 0.04: marginal) although neither was slowed."""
    with Simulator(ports="auto") as baseline:
        baseline.apply(parse_fault(f"web=slow:{baseline_delay_ms}"))
        slowed = ["--fault", canary_fault]
        result = spark(
            "canary",
            "--mode",
            "mock",
            "--auto-ok",
            "--no-evidence",
            "-f",
            "json",
            "--baseline",
            baseline.urls["web"],
            *slowed,
        )
    probe = next(check for check in json.loads(result.stdout)["checks"] if check["kind"] == "latency")
    assert probe["observed"]["comparison"]["verdict"] == expected_verdict, probe["message"]
    assert probe["status"] == expected_status
    assert result.exit_code == exit_code


# --- Mann-Whitney on plain samples ------------------------------------------------------------------

# scipy's documented example (scipy.stats.mannwhitneyu, "Examples": the male and female ages of
# Conover's 1980 table): U = 17, and with method="asymptotic" the two-sided p is 0.11134688653314041.
MALES = [19.0, 22.0, 16.0, 29.0, 24.0]
FEMALES = [20.0, 11.0, 17.0, 12.0]


def test_mann_whitney_on_samples_matches_scipy() -> None:
    """U and the asymptotic p (tie and continuity corrections) as scipy documents them, each way."""
    assert mann_whitney(MALES, FEMALES, "two-sided") == (17.0, pytest.approx(0.11134688653314041, rel=1e-9))
    assert mann_whitney(MALES, FEMALES, "greater") == (17.0, pytest.approx(0.11134688653314041 / 2, rel=1e-9))
    assert mann_whitney(MALES, FEMALES, "less")[1] > 0.9  # the males are older: no evidence they are younger


@pytest.mark.parametrize(
    ("canary", "baseline"),
    [
        ([30.0, 31.0, 35.0, 40.0], [10.0, 12.0, 15.0]),
        ([10.0, 20.0, 30.0], [15.0, 25.0, 35.0, 45.0]),
        ([5.0] * 10, [5.0] * 10),
        ([1.0, 2.0, 2.0, 3.0], [2.0, 2.0, 4.0]),
    ],
    ids=["canary-all-greater", "interleaved", "all-tied", "some-ties"],
)
def test_samples_and_histograms_share_one_u(canary: list[float], baseline: list[float]) -> None:
    """U from plain samples counts every pair, ties half, exactly as the histogram version does."""
    u, _ = mann_whitney(canary, baseline, "greater")
    assert u == brute_force_u(canary, baseline)


def test_two_sided_p_is_twice_the_smaller_one_sided_p() -> None:
    """Either direction of a difference is evidence for ``two-sided``: twice the smaller tail."""
    rng = random.Random(3)
    canary, baseline = [rng.gauss(10, 2) for _ in range(30)], [rng.gauss(11, 2) for _ in range(30)]
    _, less = mann_whitney(canary, baseline, "less")
    _, greater = mann_whitney(canary, baseline, "greater")
    _, both = mann_whitney(canary, baseline, "two-sided")
    assert both == pytest.approx(min(1.0, 2 * min(less, greater)), abs=0.02)  # continuity terms differ
    assert less < 0.5 < greater


@pytest.mark.parametrize(
    "samples",
    [
        pytest.param([1.0, math.nan], id="nan"),
        pytest.param([1.0, math.inf], id="inf"),
        pytest.param([], id="empty"),
    ],
)
def test_samples_must_be_finite_and_present(samples: list[float]) -> None:
    """NaN, infinities or no samples never give a p-value: the caller must fail closed first."""
    with pytest.raises(ValueError):
        mann_whitney(samples, [1.0, 2.0], "greater")


@pytest.mark.parametrize(
    ("samples", "expected"),
    [([3.0, 1.0, 2.0], 2.0), ([4.0, 1.0, 3.0, 2.0], 2.5), ([7.0], 7.0)],
    ids=["odd", "even-mean-of-middle-two", "one"],
)
def test_median(samples: list[float], expected: float) -> None:
    """The middle value, or the mean of the middle two."""
    assert median(samples) == expected


# --- Fisher's exact test on error counts ------------------------------------------------------------


def exact_greater_p(a: int, n1: int, c: int, n2: int) -> Fraction:
    """P(X >= a) of the hypergeometric distribution, in exact rational arithmetic (the oracle)."""
    total, errors = n1 + n2, a + c
    tail = sum(
        math.comb(errors, x) * math.comb(total - errors, n1 - x) for x in range(a, min(n1, errors) + 1)
    )
    return Fraction(tail, math.comb(total, n1))


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        # Fisher's lady tasting tea (The Design of Experiments, 1935): 3 of 4 right, p = 17/70.
        pytest.param((3, 4, 1, 4), 17 / 70, id="tea-3-of-4"),
        pytest.param((4, 4, 0, 4), 1 / 70, id="tea-all-right"),
        pytest.param((0, 10, 0, 10), 1.0, id="no-errors-anywhere"),
        pytest.param((0, 10, 5, 10), 1.0, id="canary-has-none"),
        pytest.param((74, 105, 43, 75), float(exact_greater_p(74, 105, 43, 75)), id="scipy-doc-table"),
        pytest.param((20, 100, 2, 100), float(exact_greater_p(20, 100, 2, 100)), id="20-vs-2-percent"),
    ],
)
def test_fisher_exact_greater_matches_exact_arithmetic(counts, expected) -> None:
    """The one-sided p equals the hypergeometric tail computed exactly (and Fisher's published 17/70)."""
    assert fisher_exact_greater(*counts) == pytest.approx(expected, rel=1e-9)


def test_fisher_exact_handles_large_counts() -> None:
    """Millions of requests: log-factorials keep p finite and tiny instead of overflowing."""
    p = fisher_exact_greater(30_000, 1_000_000, 10_000, 1_000_000)
    assert 0.0 <= p < 1e-100
    assert fisher_exact_greater(10_000, 1_000_000, 10_000, 1_000_000) == pytest.approx(0.5, abs=0.01)


@pytest.mark.parametrize(
    ("counts", "verdict"),
    [
        pytest.param((200, 1000, 10, 1000), "fail", id="20-vs-1-percent"),
        pytest.param((30, 1000, 10, 1000), "marginal", id="3-vs-1-percent"),
        pytest.param((12, 1000, 10, 1000), "pass", id="1.2-vs-1-percent-not-significant"),
        pytest.param((0, 1000, 50, 1000), "pass", id="canary-better"),
        pytest.param((5, 5, 0, 1000), "inconclusive", id="too-few-canary-requests"),
        pytest.param((0, 0, 0, 1000), "inconclusive", id="no-canary-requests"),
    ],
)
def test_error_rate_verdicts(counts, verdict) -> None:
    """Significantly higher by over max_increase fails, over the marginal band warns; few requests: none."""
    result = compare_error_rates(
        *counts, min_samples=20, alpha=0.05, max_increase=0.05, marginal_increase=0.01
    )
    assert result.verdict == verdict, result.describe()
    assert "\n" not in result.describe()
    assert "nan" not in result.describe()


@pytest.mark.parametrize(
    "counts",
    [
        pytest.param((5, 4, 0, 10), id="more-errors-than-requests"),
        pytest.param((-1, 4, 0, 10), id="negative"),
    ],
)
def test_fisher_refuses_impossible_counts(counts) -> None:
    """Counts that cannot be are a bug in the caller, not a p-value."""
    with pytest.raises(ValueError):
        fisher_exact_greater(*counts)


def test_canary_with_more_errors_than_its_baseline_fails_on_fishers_test(spark) -> None:
    """A canary erring on 30 % of its requests fails against a clean baseline even when the absolute
    error-rate bound (set to 90 % here) would let it pass: Fisher's exact test on the probe's counts."""
    with Simulator(ports="auto") as baseline:
        result = spark(
            "canary", "--mode", "mock", "--auto-ok", "--no-evidence", "-f", "json",
            "--baseline", baseline.urls["web"], "--fault", "web=errors:0.3", "--set", "slo.error_rate=0.9",
        )  # fmt: skip
    probe = next(check for check in json.loads(result.stdout)["checks"] if check["kind"] == "latency")
    assert probe["observed"]["error_comparison"]["verdict"] == "fail", probe["message"]
    assert probe["observed"]["error_comparison"]["increase"] > 0.1
    assert probe["status"] == "FAIL"
    assert "Fisher p=" in probe["message"]
    assert result.exit_code == 1

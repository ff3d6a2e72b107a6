"""Baseline comparison: Mann-Whitney U on histograms, the effect-size bound, and `canary --baseline`."""

from __future__ import annotations

import json
import random

import pytest

from spark_ops.histogram import LatencyHistogram
from spark_ops.sim import Simulator, parse_fault
from spark_ops.stats import compare, mann_whitney_greater


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


@pytest.mark.parametrize(
    ("canary_fault", "baseline_delay_ms", "expected_status", "expected_verdict", "exit_code"),
    [(None, 0, "PASS", "pass", 0), ("web=slow:32", 20, "FAIL", "fail", 1)],
    ids=["equal-targets-pass", "canary-50-percent-slower-fails"],
)
def test_canary_baseline_end_to_end(
    spark, canary_fault, baseline_delay_ms, expected_status, expected_verdict, exit_code
) -> None:
    """`spark canary --baseline URL` probes both; equal targets pass, a 50 % slower canary fails."""
    with Simulator(ports="auto") as baseline:
        if baseline_delay_ms:
            baseline.apply(parse_fault(f"web=slow:{baseline_delay_ms}"))
            slowed = ["--fault", canary_fault]
        else:
            slowed = []
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

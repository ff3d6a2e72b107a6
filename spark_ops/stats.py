"""Comparing a canary's latencies with a baseline's, as Kayenta does: a Mann-Whitney U test says
whether the canary is slower at all, an effect-size bound (the ratio of medians) says whether it is
slower by enough to matter. Works on the probe's histograms, so it never needs the raw samples.

(scipy.stats.mannwhitneyu computes the same U; it would add a 40 MB dependency for 30 lines.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from spark_ops.histogram import LatencyHistogram

Verdict = Literal["pass", "marginal", "fail", "inconclusive"]


def mann_whitney_greater(canary: LatencyHistogram, baseline: LatencyHistogram) -> tuple[float, float]:
    """(U, one-sided p) for "canary latencies tend to be greater than baseline's".

    Samples in one histogram bucket are ties; the normal approximation has the tie and continuity
    corrections. With no spread at all (every sample tied), p is 1: no evidence of a difference.
    """
    n1, n2 = canary.count, baseline.count
    if n1 == 0 or n2 == 0:
        raise ValueError("both sides need samples")
    canary_counts = dict(canary.buckets())
    baseline_counts = dict(baseline.buckets())
    u = 0.0
    baseline_below = 0
    tie_term = 0.0
    for index in sorted(canary_counts.keys() | baseline_counts.keys()):
        in_canary = canary_counts.get(index, 0)
        in_baseline = baseline_counts.get(index, 0)
        u += in_canary * (baseline_below + 0.5 * in_baseline)
        baseline_below += in_baseline
        tied = in_canary + in_baseline
        tie_term += tied**3 - tied
    n = n1 + n2
    variance = n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1)))
    if variance <= 0:
        return u, 1.0
    z = (u - n1 * n2 / 2 - 0.5) / math.sqrt(variance)
    return u, 0.5 * math.erfc(z / math.sqrt(2))


@dataclass(frozen=True, slots=True)
class Comparison:
    verdict: Verdict
    p_value: float
    median_ratio: float
    canary_p50_ms: float
    baseline_p50_ms: float

    def describe(self) -> str:
        change = (self.median_ratio - 1) * 100
        return (
            f"vs baseline: p50 {self.canary_p50_ms:.1f} ms vs {self.baseline_p50_ms:.1f} ms "
            f"({change:+.0f} %), Mann-Whitney p={self.p_value:.2g}: {self.verdict}"
        )


def compare(
    canary: LatencyHistogram,
    baseline: LatencyHistogram,
    *,
    min_samples: int,
    alpha: float,
    max_slowdown: float,
    marginal_slowdown: float,
) -> Comparison:
    """fail: significantly slower by more than ``max_slowdown`` (0.2 = 20 %); marginal: significantly
    slower by more than ``marginal_slowdown``; pass otherwise; inconclusive with too few samples."""
    if canary.count < min_samples or baseline.count < min_samples:
        canary_p50 = canary.percentile(0.5) if canary.count else math.nan
        baseline_p50 = baseline.percentile(0.5) if baseline.count else math.nan
        return Comparison("inconclusive", math.nan, math.nan, canary_p50, baseline_p50)
    _, p_value = mann_whitney_greater(canary, baseline)
    canary_p50, baseline_p50 = canary.percentile(0.5), baseline.percentile(0.5)
    ratio = canary_p50 / baseline_p50 if baseline_p50 > 0 else math.inf
    significant = p_value < alpha
    if significant and ratio > 1 + max_slowdown:
        verdict: Verdict = "fail"
    elif significant and ratio > 1 + marginal_slowdown:
        verdict = "marginal"
    else:
        verdict = "pass"
    return Comparison(verdict, p_value, ratio, canary_p50, baseline_p50)

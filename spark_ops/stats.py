"""Comparing a canary with a baseline, as Kayenta does: a Mann-Whitney U test says whether the canary's
values differ at all, an effect-size bound (the change of medians) says whether they differ by enough to
matter; Fisher's exact test does the same for error counts. The Mann-Whitney test runs on the probe's
latency histograms (it never needs the raw samples) and on plain sample lists (a ``compare`` check's
range query) through one implementation: both are sorted groups of tied values.

(scipy.stats.mannwhitneyu and fisher_exact compute the same; scipy would add a 40 MB dependency for
60 lines.)
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from spark_ops.histogram import LatencyHistogram

Verdict = Literal["pass", "marginal", "fail", "inconclusive"]
Alternative = Literal["greater", "less", "two-sided"]


def _mann_whitney(groups: Iterable[tuple[int, int]], alternative: Alternative) -> tuple[float, float]:
    """(U, p) from ``(in_canary, in_baseline)`` counts per distinct value, in ascending value order.

    U counts the (canary, baseline) pairs where the canary's value is greater, ties counting half. The
    normal approximation has the tie and continuity corrections (as scipy's ``method="asymptotic"``).
    With no spread at all (every sample tied), p is 1: no evidence of a difference.
    """
    n1 = n2 = 0
    u = tie_term = 0.0
    for in_canary, in_baseline in groups:
        u += in_canary * (n2 + 0.5 * in_baseline)
        n1 += in_canary
        n2 += in_baseline
        tied = in_canary + in_baseline
        tie_term += tied**3 - tied
    if n1 == 0 or n2 == 0:
        raise ValueError("both sides need samples")
    n = n1 + n2
    variance = n1 * n2 / 12 * ((n + 1) - tie_term / (n * (n - 1)))
    if variance <= 0:
        return u, 1.0
    mean, sigma = n1 * n2 / 2, math.sqrt(variance)
    if alternative == "greater":
        z = (u - mean - 0.5) / sigma
    elif alternative == "less":
        z = (mean - u - 0.5) / sigma
    else:
        z = (abs(u - mean) - 0.5) / sigma
    p = 0.5 * math.erfc(z / math.sqrt(2))
    return u, min(1.0, 2 * p if alternative == "two-sided" else p)


def mann_whitney_greater(canary: LatencyHistogram, baseline: LatencyHistogram) -> tuple[float, float]:
    """(U, one-sided p) for "canary latencies tend to be greater than baseline's"; samples in one
    histogram bucket are ties."""
    canary_counts = dict(canary.buckets())
    baseline_counts = dict(baseline.buckets())
    indices = sorted(canary_counts.keys() | baseline_counts.keys())
    return _mann_whitney(((canary_counts.get(i, 0), baseline_counts.get(i, 0)) for i in indices), "greater")


def mann_whitney(
    canary: Sequence[float], baseline: Sequence[float], alternative: Alternative
) -> tuple[float, float]:
    """(U, p) for plain samples: ``greater`` asks "canary values tend to be greater than baseline's",
    ``less`` the opposite, ``two-sided`` either. Equal values are ties. Samples must be finite."""
    if not all(math.isfinite(value) for value in (*canary, *baseline)):
        raise ValueError("samples must be finite numbers")
    canary_counts, baseline_counts = Counter(canary), Counter(baseline)
    values = sorted(canary_counts.keys() | baseline_counts.keys())
    return _mann_whitney(((canary_counts[v], baseline_counts[v]) for v in values), alternative)


def median(samples: Sequence[float]) -> float:
    """The median (the mean of the middle two for an even count); NaN for no samples."""
    ordered = sorted(samples)
    count = len(ordered)
    if not count:
        return math.nan
    middle = count // 2
    return ordered[middle] if count % 2 else (ordered[middle - 1] + ordered[middle]) / 2


@dataclass(frozen=True, slots=True)
class Comparison:
    verdict: Verdict
    p_value: float
    median_ratio: float
    canary_p50_ms: float
    baseline_p50_ms: float
    canary_samples: int
    baseline_samples: int

    def describe(self) -> str:
        if self.verdict == "inconclusive":  # no median, ratio or p value to show: say why there is none
            return (
                f"latency vs baseline: too few samples to compare ({self.canary_samples} canary, "
                f"{self.baseline_samples} baseline): inconclusive"
            )
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
        return Comparison(
            "inconclusive", math.nan, math.nan, canary_p50, baseline_p50, canary.count, baseline.count
        )
    _, p_value = mann_whitney_greater(canary, baseline)
    canary_p50, baseline_p50 = canary.percentile(0.5), baseline.percentile(0.5)
    ratio = canary_p50 / baseline_p50 if baseline_p50 > 0 else math.inf
    return Comparison(
        verdict_of(p_value, alpha, ratio - 1, max_slowdown, marginal_slowdown),
        p_value,
        ratio,
        canary_p50,
        baseline_p50,
        canary.count,
        baseline.count,
    )


def verdict_of(
    p_value: float, alpha: float, effect: float, max_effect: float, marginal_effect: float
) -> Verdict:
    """fail: significant and beyond ``max_effect``; marginal: significant and beyond ``marginal_effect``."""
    significant = p_value < alpha
    if significant and effect > max_effect:
        return "fail"
    if significant and effect > marginal_effect:
        return "marginal"
    return "pass"


def relative_change(canary: float, baseline: float) -> float:
    """(canary - baseline) / baseline: +0.2 is 20 % more. From a zero baseline: 0 when equal, else ±inf."""
    if baseline == 0:
        return 0.0 if canary == 0 else math.copysign(math.inf, canary)
    return (canary - baseline) / abs(baseline)


def fisher_exact_greater(
    canary_errors: int, canary_total: int, baseline_errors: int, baseline_total: int
) -> float:
    """One-sided p of Fisher's exact test: "the canary's error proportion is greater than the baseline's".

    The 2x2 table ``[[canary_errors, canary_ok], [baseline_errors, baseline_ok]]`` with its margins fixed:
    p is the hypergeometric probability of the canary holding ``canary_errors`` or more of all the errors
    (scipy's ``fisher_exact(table, alternative="greater")``). Log-factorials keep large counts exact enough.
    """
    if not 0 <= canary_errors <= canary_total or not 0 <= baseline_errors <= baseline_total:
        raise ValueError("errors must be between 0 and the total")
    total = canary_total + baseline_total
    errors = canary_errors + baseline_errors
    if canary_total == 0 or baseline_total == 0:
        raise ValueError("both sides need samples")

    def log_choose(n: int, k: int) -> float:
        return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)

    # P(X = x) = C(errors, x) C(total - errors, canary_total - x) / C(total, canary_total)
    log_all = log_choose(total, canary_total)
    highest = min(canary_total, errors)
    logs = [
        log_choose(errors, x) + log_choose(total - errors, canary_total - x) - log_all
        for x in range(canary_errors, highest + 1)
    ]
    peak = max(logs)
    return min(1.0, math.exp(peak) * math.fsum(math.exp(value - peak) for value in logs))


@dataclass(frozen=True, slots=True)
class RateComparison:
    """The canary's error rate against the baseline's: Fisher's one-sided p and the change of the rates."""

    verdict: Verdict
    p_value: float
    canary_rate: float
    baseline_rate: float
    increase: float  # canary_rate - baseline_rate, in absolute terms: 0.05 is five points more
    canary_total: int
    baseline_total: int

    def describe(self) -> str:
        if self.verdict == "inconclusive":
            return (
                f"error rate vs baseline: too few requests to compare ({self.canary_total} canary, "
                f"{self.baseline_total} baseline): inconclusive"
            )
        return (
            f"error rate {self.canary_rate:.2%} of {self.canary_total} vs baseline {self.baseline_rate:.2%} "
            f"of {self.baseline_total} ({self.increase * 100:+.2f} points), Fisher p={self.p_value:.2g}: "
            f"{self.verdict}"
        )


def compare_error_rates(
    canary_errors: int,
    canary_total: int,
    baseline_errors: int,
    baseline_total: int,
    *,
    min_samples: int,
    alpha: float,
    max_increase: float,
    marginal_increase: float,
) -> RateComparison:
    """fail: the canary's error rate is significantly higher (Fisher, one-sided) by more than
    ``max_increase`` (an absolute difference of rates: 0.02 = two points); marginal: by more than
    ``marginal_increase``; pass otherwise; inconclusive with fewer than ``min_samples`` requests a side."""
    canary_rate = canary_errors / canary_total if canary_total else math.nan
    baseline_rate = baseline_errors / baseline_total if baseline_total else math.nan
    if canary_total < max(1, min_samples) or baseline_total < max(1, min_samples):
        return RateComparison(
            "inconclusive",
            math.nan,
            canary_rate,
            baseline_rate,
            canary_rate - baseline_rate,
            canary_total,
            baseline_total,
        )
    p_value = fisher_exact_greater(canary_errors, canary_total, baseline_errors, baseline_total)
    increase = canary_rate - baseline_rate
    verdict = verdict_of(p_value, alpha, increase, max_increase, marginal_increase)
    return RateComparison(
        verdict, p_value, canary_rate, baseline_rate, increase, canary_total, baseline_total
    )

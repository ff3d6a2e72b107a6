"""The latency histogram: percentiles within 1 % of exact, exact count/min/max, bounded memory."""

from __future__ import annotations

import itertools
import math
import random

import pytest

from spark_ops.histogram import LatencyHistogram

FRACTIONS = [0.0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0]


def uniform_1_to_1000() -> list[float]:
    """Every whole millisecond from 1 to 1000, three times over, in shuffled order."""
    values = [float(ms) for ms in range(1, 1001)] * 3
    random.Random(1).shuffle(values)
    return values


def constant_25() -> list[float]:
    return [25.0] * 500


def bimodal() -> list[float]:
    """90 % fast answers around 5 ms, 10 % slow ones around 500 ms (a cache and its misses)."""
    rng = random.Random(2)
    return [rng.uniform(4, 6) for _ in range(9000)] + [rng.uniform(450, 550) for _ in range(1000)]


def long_tail() -> list[float]:
    """Log-normal latencies: a median near 20 ms and a tail into seconds."""
    rng = random.Random(3)
    return [rng.lognormvariate(math.log(20), 1.0) for _ in range(20_000)]


def sub_resolution() -> list[float]:
    """Latencies at and below the smallest bucket (0.01 ms), zero included."""
    return [0.0, 0.001, 0.005, 0.01, 0.02, 0.5]


DISTRIBUTIONS = {
    "uniform-1-1000ms": uniform_1_to_1000,
    "constant-25ms": constant_25,
    "bimodal-5-500ms": bimodal,
    "lognormal-tail": long_tail,
}


def filled(values: list[float]) -> LatencyHistogram:
    histogram = LatencyHistogram()
    for value in values:
        histogram.record(value)
    return histogram


def exact_percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile: the ceil(fraction * n)-th smallest value (at least the first)."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1]


@pytest.mark.parametrize("make", list(DISTRIBUTIONS.values()), ids=list(DISTRIBUTIONS))
@pytest.mark.parametrize("fraction", FRACTIONS, ids=[f"p{f * 100:g}" for f in FRACTIONS])
def test_percentiles_within_one_percent(make, fraction):
    """p50/p95/p99 (and the extremes) read from the histogram lie within 1 % of the exact value."""
    values = make()
    exact = exact_percentile(values, fraction)
    assert filled(values).percentile(fraction) == pytest.approx(exact, rel=0.01)


@pytest.mark.parametrize(
    "make",
    [*DISTRIBUTIONS.values(), sub_resolution],
    ids=[*DISTRIBUTIONS, "sub-resolution"],
)
def test_count_min_max_are_exact(make):
    """count, min and max are the exact figures, not bucket approximations."""
    values = make()
    histogram = filled(values)
    assert histogram.count == len(values)
    assert histogram.min_ms == min(values)
    assert histogram.max_ms == max(values)
    assert sum(count for _, count in histogram.buckets()) == len(values)


def test_constant_latency_reads_back_exactly():
    """A server that always answers in 25 ms shows p50 = p95 = p99 = 25 ms, not a bucket edge."""
    histogram = filled(constant_25())
    assert [histogram.percentile(f) for f in (0.5, 0.95, 0.99)] == [25.0, 25.0, 25.0]


@pytest.mark.parametrize(
    "values",
    [[0.001, 3600_000.0], [0.001, 0.002], [7.0, 7.001], sub_resolution()],
    ids=["sub-resolution-to-1h", "all-below-resolution", "one-bucket", "sub-resolution-mix"],
)
def test_percentiles_never_leave_the_observed_range(values):
    """A percentile never reads below the fastest nor above the slowest sample recorded."""
    histogram = filled(values)
    for fraction in FRACTIONS:
        assert min(values) <= histogram.percentile(fraction) <= max(values)


def test_memory_stays_bounded_over_a_million_samples():
    """A million samples spread from 0.01 ms to 1 h are held in under 2000 buckets, with exact count."""
    samples = 1_000_000
    span = 3_600_000.0 / 0.01
    histogram = LatencyHistogram()
    for i in range(samples):
        histogram.record(0.01 * span ** (i / (samples - 1)))
    assert histogram.bucket_count < 2000
    assert histogram.count == samples
    assert histogram.min_ms == pytest.approx(0.01)
    assert histogram.max_ms == pytest.approx(3_600_000.0)
    median = 0.01 * span ** ((samples // 2 - 1) / (samples - 1))
    assert histogram.percentile(0.5) == pytest.approx(median, rel=0.01)


@pytest.mark.parametrize(
    "value",
    [math.nan, -1.0, -0.001, math.inf, -math.inf],
    ids=["nan", "negative", "slightly-negative", "infinity", "minus-infinity"],
)
def test_invalid_latencies_are_refused(value):
    """NaN, negative and infinite latencies raise ValueError and leave the histogram untouched."""
    histogram = filled([10.0, 20.0])
    with pytest.raises(ValueError, match="finite, non-negative"):
        histogram.record(value)
    assert histogram.count == 2
    assert (histogram.min_ms, histogram.max_ms) == (10.0, 20.0)
    assert histogram.percentile(1.0) == pytest.approx(20.0, rel=0.01)


@pytest.mark.parametrize("fraction", [0.5, 0.95, 0.99], ids=["p50", "p95", "p99"])
def test_empty_histogram_has_no_percentile(fraction):
    """Asking an empty histogram for a percentile raises instead of inventing a number."""
    histogram = LatencyHistogram()
    assert histogram.count == 0
    assert histogram.bucket_count == 0
    with pytest.raises(ValueError, match="no samples"):
        histogram.percentile(fraction)


# --- bins for the result JSON and the HTML report's chart (issue 16) -----------------------------------


@pytest.mark.parametrize("samples", [1, 50, 10_000], ids=["one", "fifty", "ten-thousand"])
def test_bins_are_bounded_contiguous_and_count_every_sample(samples):
    """At most 40 contiguous bins from the fastest sample to the slowest, summing to the count."""
    histogram = filled([0.5 + 3000.0 * (i / samples) ** 3 for i in range(samples)])
    bins = histogram.bins()
    assert 1 <= len(bins) <= 40
    assert sum(count for _, _, count in bins) == samples
    assert all(a[1] == b[0] for a, b in itertools.pairwise(bins))
    assert bins[0][0] <= histogram.min_ms and histogram.max_ms <= bins[-1][1]


def test_empty_histogram_has_no_bins():
    """No samples, no bins (and no chart), never a bin of zero width."""
    assert LatencyHistogram().bins() == ()

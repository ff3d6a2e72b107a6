"""A latency histogram with bounded memory: log-spaced buckets, 1 % relative precision.

However long a probe runs, it holds at most a few thousand bucket counts, never a list of samples.
(HdrHistogram does the same with a C extension; this needs 40 lines and no build step.)
"""

from __future__ import annotations

import math
from collections.abc import Iterator

SMALLEST_MS = 0.01  # everything faster lands in the first bucket
GROWTH = 1.01  # each bucket is 1 % wider than the one before: values are known to within 0.5 %
_LOG_GROWTH = math.log(GROWTH)


class LatencyHistogram:
    """Counts of latencies (ms) per log-spaced bucket, with exact count, min and max."""

    def __init__(self) -> None:
        self._counts: dict[int, int] = {}
        self.count = 0
        self.min_ms = math.inf
        self.max_ms = -math.inf

    @staticmethod
    def _index(value_ms: float) -> int:
        return 0 if value_ms <= SMALLEST_MS else 1 + int(math.log(value_ms / SMALLEST_MS) / _LOG_GROWTH)

    @staticmethod
    def _lower(index: int) -> float:
        """The lower bound of bucket ``index`` (bucket 0 holds everything up to SMALLEST_MS)."""
        return 0.0 if index == 0 else SMALLEST_MS * GROWTH ** (index - 1)

    @staticmethod
    def _value(index: int) -> float:
        """The geometric middle of bucket ``index``."""
        if index == 0:
            return SMALLEST_MS
        return SMALLEST_MS * GROWTH ** (index - 1) * math.sqrt(GROWTH)

    def record(self, value_ms: float) -> None:
        if not math.isfinite(value_ms) or value_ms < 0:
            raise ValueError(f"latency must be a finite, non-negative number, got {value_ms}")
        index = self._index(value_ms)
        self._counts[index] = self._counts.get(index, 0) + 1
        self.count += 1
        self.min_ms = min(self.min_ms, value_ms)
        self.max_ms = max(self.max_ms, value_ms)

    def merge(self, other: LatencyHistogram) -> None:
        """Add ``other``'s samples to this histogram (an analysis window pools its intervals)."""
        for index, count in other._counts.items():
            self._counts[index] = self._counts.get(index, 0) + count
        self.count += other.count
        self.min_ms = min(self.min_ms, other.min_ms)
        self.max_ms = max(self.max_ms, other.max_ms)

    def percentile(self, fraction: float) -> float:
        """The latency at ``fraction`` (0.95 for p95) of the samples, to within 0.5 %."""
        if self.count == 0:
            raise ValueError("no samples")
        rank = max(1, math.ceil(fraction * self.count))
        seen = 0
        for index, count in self.buckets():
            seen += count
            if seen >= rank:
                return min(max(self._value(index), self.min_ms), self.max_ms)
        return self.max_ms  # pragma: no cover - rank never exceeds count

    def buckets(self) -> Iterator[tuple[int, int]]:
        """(bucket index, count) in increasing order of latency."""
        return iter(sorted(self._counts.items()))

    def bins(self, max_bins: int = 40) -> tuple[tuple[float, float, int], ...]:
        """The counts in at most ``max_bins`` contiguous bins from the fastest sample's bucket to the
        slowest's, as (low_ms, high_ms, count): neighbouring buckets are summed, empty bins kept so gaps
        show. Bounded whatever the probe's length, for the result JSON and its chart."""
        if not self._counts:
            return ()
        first, last = min(self._counts), max(self._counts)
        width = max(1, math.ceil((last - first + 1) / max_bins))
        return tuple(
            (
                round(self._lower(start), 3),
                round(self._lower(start + width), 3),
                sum(self._counts.get(index, 0) for index in range(start, start + width)),
            )
            for start in range(first, last + 1, width)
        )

    @property
    def bucket_count(self) -> int:
        return len(self._counts)

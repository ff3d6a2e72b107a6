"""The one clock of spark-ops: library code asks it for the time, tests set the time through it.

Wall-clock time only (stamps, ages, windows); durations are measured with ``time.perf_counter``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta


class Clock:
    """The system's clock."""

    def now(self) -> datetime:
        """Now, in UTC."""
        return datetime.now(UTC)


class FixedClock(Clock):
    """A clock that stands still at ``at`` until moved (for tests and reproducible stamps)."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


_current: Clock = Clock()


def now() -> datetime:
    """Now, in UTC, from the clock in use."""
    return _current.now()


def unix() -> float:
    """Now as Unix time, from the clock in use (the system's without a fixed clock)."""
    return time.time() if type(_current) is Clock else _current.now().timestamp()


def iso_now() -> str:
    """Now as ISO 8601 UTC to the millisecond: ``2026-12-02T05:20:00.123Z``."""
    return now().isoformat(timespec="milliseconds").replace("+00:00", "Z")


@contextmanager
def using(clock: Clock) -> Iterator[Clock]:
    """Use ``clock`` for as long as the block runs."""
    global _current
    previous, _current = _current, clock
    try:
        yield clock
    finally:
        _current = previous

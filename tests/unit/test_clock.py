"""spark_ops/clock.py: the one wall clock; a fixed clock set through ``using`` is what the library reads."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from spark_ops import clock
from spark_ops.clock import FixedClock

AT = datetime(2026, 12, 2, 5, 20, 0, 123456, tzinfo=UTC)


def test_a_fixed_clock_sets_now_unix_and_iso_now():
    """Inside ``using(FixedClock(at))`` every reading is ``at``: datetime, Unix time, ISO 8601 to the ms."""
    with clock.using(FixedClock(AT)):
        assert clock.now() == AT
        assert clock.unix() == AT.timestamp()
        assert clock.iso_now() == "2026-12-02T05:20:00.123Z"


def test_advance_moves_a_fixed_clock_by_seconds():
    """``advance`` moves the fixed clock forward; the readings follow."""
    with clock.using(FixedClock(AT)) as fixed:
        assert isinstance(fixed, FixedClock)
        fixed.advance(90.5)
        assert clock.unix() == pytest.approx(AT.timestamp() + 90.5)
        assert clock.iso_now() == "2026-12-02T05:21:30.623Z"


def test_using_restores_the_previous_clock_even_after_an_error():
    """Leaving the block, by its end or by an exception, puts the previous clock back (nesting works)."""
    outer, inner = FixedClock(AT), FixedClock(datetime(2000, 1, 1, tzinfo=UTC))
    with clock.using(outer):
        with pytest.raises(RuntimeError), clock.using(inner):
            raise RuntimeError("inside")
        assert clock.now() == AT
    assert abs(clock.unix() - time.time()) < 60  # the system's clock again


def test_the_system_clock_is_utc_and_current():
    """Without a fixed clock, ``now`` is the system's time in UTC."""
    before = datetime.now(UTC)
    now = clock.now()
    assert now.tzinfo is UTC
    assert before <= now <= datetime.now(UTC)

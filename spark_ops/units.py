"""Durations and sizes as people type them on a command line: ``24h``, ``7d``, ``1h30m``; ``100M``, ``1G``;
numbers as JSON brings them; and the units a reading is declared in, with their domains."""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import Any, Literal, get_args

from spark_ops.errors import ConfigError

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_LONGEST_SECONDS = 100 * 365 * 86400
_SIZE = re.compile(r"(\d+)\s*([kmgt]?)(?:i?b)?")
_UNIT_BYTES = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def parse_duration(text: str, *, option: str) -> timedelta:
    """``text`` (``90s``, ``15m``, ``24h``, ``7d``, ``2w``, ``1h30m``) as a timedelta > 0, else exit 2."""
    cleaned = text.strip().lower()
    position, seconds = 0, 0.0
    for match in _DURATION_PART.finditer(cleaned):
        if match.start() != position:
            break
        seconds += float(match[1]) * _UNIT_SECONDS[match[2]]
        position = match.end()
    if not cleaned or position != len(cleaned) or seconds <= 0:
        raise ConfigError(f"{option}: {text!r} is not a duration (e.g. 90s, 15m, 24h, 7d, 2w, 1h30m)")
    if seconds > _LONGEST_SECONDS:  # beyond it, "now minus the duration" leaves the calendar
        raise ConfigError(f"{option}: {text!r} is longer than 100 years")
    return timedelta(seconds=seconds)


def parse_size(text: str, *, option: str) -> int:
    """``text`` (``4096``, ``64K``, ``100M``, ``1G``; powers of 1024) as a byte count > 0, else exit 2."""
    match = _SIZE.fullmatch(text.strip().lower())
    if not match or int(match[1]) <= 0:
        raise ConfigError(f"{option}: {text!r} is not a size in bytes (e.g. 4096, 64K, 100M, 1G)")
    return int(match[1]) * _UNIT_BYTES[match[2]]


def finite_number(value: Any) -> float | None:
    """``value`` as a float when it is a finite JSON number, else None: booleans, strings, NaN, the
    infinities and integers beyond any float (hundreds of digits) are no number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


# What a reading measures (the `unit` key of the slo and promql kinds).
Unit = Literal["ms", "s", "ratio", "percent", "count", "number"]
# The physical domain of a figure by its unit, judged before any threshold: a latency of -3 ms or an
# error rate of 1.7 is no measurement, whatever a max would say of it.
DOMAINS: dict[str, tuple[float, float]] = {
    "ms": (0.0, math.inf),
    "s": (0.0, math.inf),
    "ratio": (0.0, 1.0),
    "percent": (0.0, 100.0),
    "count": (0.0, math.inf),
    "number": (-math.inf, math.inf),
}
assert set(DOMAINS) == set(get_args(Unit)), "every unit has a domain"


def outside_domain(value: float, unit: str) -> str | None:
    """Why ``value`` cannot be a figure in ``unit`` (e.g. ``outside its domain [0, 1] (ratio)``), or None."""
    low, high = DOMAINS[unit]
    if low <= value <= high:
        return None
    shown = f"[{low:g}, {high:g}]" if math.isfinite(high) else f">= {low:g}"
    return f"outside its domain {shown} ({unit})"

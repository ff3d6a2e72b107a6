"""Values as a person writes them: ``p95 4.6 ms · error rate 0%`` rather than a dump of a dict.

Units come from the names the checks already use (``p95_ms``, ``exposition_bytes``, ``error_rate``,
``max_restarts``), never from asking which kind ran, so a plug-in kind that names its readings the same
way reads the same. A report that needs every figure exactly has the result JSON.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

SEPARATOR = " · "
BOUND_NAMES = ("min", "max", "warn_min", "warn_max")
# A name's suffix and the unit it means; the suffix is dropped from the label ("p95_ms" -> "p95").
UNIT_SUFFIXES = (("_ms", "ms"), ("_s", "s"), ("_bytes", "bytes"), ("_mb", "MB"), ("_rps", "/s"))


def number(value: float) -> str:
    """``4.6``, ``32.4``, ``106``, ``0.0172``: three significant digits, whole numbers from 100 up."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        return str(value)
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.3g}"


def size(value: float) -> str:
    """Bytes in the largest binary unit that keeps the number at least 1: ``8.4 KiB``, ``512 bytes``."""
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if abs(value) >= scale:
            return f"{number(value / scale)} {unit}"
    return f"{number(value)} bytes"


def split_name(name: str) -> tuple[str, str]:
    """(label, unit) of a reading's name: ``p95_ms`` -> (``p95``, ``ms``); ``error_rate`` -> (``error
    rate``, ``%``); a name without a known suffix has no unit."""
    if name == "rate" or name.endswith("_rate"):
        return name.replace("_", " "), "%"
    for suffix, unit in UNIT_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)].replace("_", " "), unit
    return name.replace("_", " "), ""


def amount(value: Any, unit: str) -> str:
    """``value`` with ``unit``: ``4.6 ms``, ``5%``, ``8.4 KiB``; anything not a number as text."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return text(value)
    if unit == "%":
        return f"{number(value * 100)}%"
    if unit == "bytes":
        return size(value)
    if unit == "/s":
        return f"{number(value)}/s"
    return f"{number(value)} {unit}" if unit else number(value)


def text(value: Any) -> str:
    """Any JSON value on one line: numbers as :func:`number`, lists joined, other values as JSON."""
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return number(value)
    if isinstance(value, list | tuple):
        return ", ".join(text(item) for item in value) if value else "none"
    if isinstance(value, Mapping):
        return SEPARATOR.join(_item(str(key), item) for key, item in value.items())
    return json.dumps(value)


def _item(name: str, value: Any) -> str:
    """One named figure: ``p95 4.6 ms``, ``error rate 0%``, ``50 samples``, ``bad: web errored``."""
    label, unit = split_name(name)
    if isinstance(value, int) and not isinstance(value, bool) and not unit:
        # A count reads number first; a plural name loses its s for one ("1 late slot").
        return f"{value} {label[:-1] if value == 1 and label.endswith('s') else label}"
    if isinstance(value, list | tuple):
        return f"{label}: {text(value)}"
    if isinstance(value, Mapping):  # a group of its own (a baseline's figures): labelled as a whole
        return f"{label} ({_figures(value, ', ')})"
    return f"{label} {amount(value, unit)}"


def observed(value: Any, readings: Mapping[str, float] | None = None) -> str:
    """What a check saw: a number in the unit of the reading it equals (a ``metrics`` check's 8635 is its
    ``exposition_bytes``: ``8.4 KiB``); a dict of figures as its notable items (counts of zero left out,
    except errors and samples, which are news either way), a dict inside it as a labelled group."""
    if isinstance(value, Mapping):
        return _figures(value, SEPARATOR)
    return amount(value, unit_of(value, readings))


def _figures(value: Mapping[str, Any], separator: str) -> str:
    """A dict of figures, notable ones first; counts of zero left out, except errors and samples (news
    either way: no sample at all is why a comparison could not be made)."""
    items = [
        (str(key), item)
        for key, item in value.items()
        if not (_is_count(str(key), item) and item == 0 and "error" not in str(key) and str(key) != "samples")
    ]
    items.sort(key=lambda pair: _ORDER[_category(*pair)])
    return separator.join(_item(key, item) for key, item in items) or "-"


def unit_of(value: Any, readings: Mapping[str, float] | None) -> str:
    """The unit of the one reading that ``value`` equals (none when none or several do)."""
    if readings is None or isinstance(value, bool) or not isinstance(value, int | float):
        return ""
    units = {split_name(name)[1] for name, reading in readings.items() if reading == value}
    return units.pop() if len(units) == 1 else ""


def threshold(value: Any, unit: str = "") -> str:
    """What a check wanted: ``max 150``, ``1 KiB..256 KiB``, ``p95 max 150 ms · error rate max 5%``,
    ``status == 'UP'``, ``200, 3xx``."""
    if isinstance(value, Mapping):
        if set(value) == {"field", "op", "value"}:  # a JSON assertion
            return f"{value['field']} {value['op']} {value['value']!r}"
        parts = []
        bounds = {name: value[name] for name in BOUND_NAMES if name in value}
        if bounds:
            parts.append(_bounds(bounds, unit))
        for key, item in value.items():
            if key in BOUND_NAMES:
                continue
            limit, _, rest = key.partition("_")
            if limit in ("max", "min") and rest:
                label, rest_unit = split_name(rest)
                parts.append(f"{label} {limit} {amount(item, rest_unit)}")
            else:
                parts.append(_item(key, item))
        return SEPARATOR.join(parts) or "-"
    return text(value)


def _bounds(bounds: Mapping[str, Any], unit: str) -> str:
    low, high = bounds.get("min"), bounds.get("max")
    if low is not None and high is not None:
        shown = f"{amount(low, unit)}..{amount(high, unit)}"
    elif high is not None:
        shown = f"max {amount(high, unit)}"
    else:
        shown = f"min {amount(low, unit)}"
    warn = [
        f"warn {'below' if name == 'warn_min' else 'above'} {amount(bounds[name], unit)}"
        for name in ("warn_min", "warn_max")
        if bounds.get(name) is not None
    ]
    return ", ".join([shown, *warn])


def versus(seen: Any, wanted: Any, readings: Mapping[str, float] | None = None) -> str:
    """Observed against threshold in one short text: ``15.3 (max 150)``, ``8.4 KiB (1 KiB..256 KiB)``,
    ``503 (want 200)``; for a dict of figures only those the threshold names, each with its limit:
    ``p95 32.4 ms (max 150 ms) · error rate 0% (max 5%)``."""
    if isinstance(seen, Mapping) and isinstance(wanted, Mapping):
        named = []
        for key, limit in wanted.items():
            kind, _, name = key.partition("_")
            if kind in ("max", "min") and name in seen:
                label, unit = split_name(name)
                named.append(f"{label} {amount(seen[name], unit)} ({kind} {amount(limit, unit)})")
        if named:
            return SEPARATOR.join(named)
    shown = observed(seen, readings)
    if wanted is None:
        return shown
    if isinstance(wanted, Mapping):
        return f"{shown} ({threshold(wanted, unit_of(seen, readings))})"
    return f"{shown} (want {threshold(wanted)})"


def _is_count(name: str, value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and not split_name(name)[1]


def _category(name: str, value: Any) -> str:
    if isinstance(value, Mapping):
        return "group"
    if isinstance(value, list | tuple):
        return "list"
    if _is_count(name, value):
        return "count"
    return "rate" if split_name(name)[1] == "%" else "figure"


# Measured figures first (what a person looks for), then rates, counts, lists of names, and groups of
# their own (a baseline's figures, a comparison) after the check's own.
_ORDER = {"figure": 0, "rate": 1, "count": 2, "list": 3, "group": 4}

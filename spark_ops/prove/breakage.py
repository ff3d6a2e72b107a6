"""What a breakage is, and the breakages every HTTP-reading kind shares.

A ``Breakage`` breaks the platform from its side, never through the check's own thresholds: either it
rewrites the HTTP answers the check reads (``answer``: the recorded healthy answer in, the broken one out,
None for a service that is down), or it brings up a broken stand-in and hands back the check pointed at
it (``stand_in``, for a kind that reaches its target other than over HTTP, such as a TCP plug-in). Kinds
declare theirs with ``breakages(profile)``; plug-ins import ``Answer`` and ``Breakage`` from
``spark_ops.api``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from spark_ops.units import DOMAINS, outside_domain

if TYPE_CHECKING:
    from spark_ops.config import Profile
    from spark_ops.registry import Check


@dataclass(frozen=True, slots=True)
class Answer:
    """One HTTP answer as recorded from the platform (the body decoded), or as a breakage rewrote it."""

    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # how long the service takes before it answers
    error_fraction: float = 0.0  # this share of requests answers 500 instead (spread evenly)

    def with_body(self, body: bytes, content_type: str | None = None) -> Answer:
        headers = {k: v for k, v in self.headers.items() if k.lower() != "content-type"}
        kept = content_type or self.headers.get("content-type")
        if kept:
            headers["content-type"] = kept
        return replace(self, body=body, headers=headers)


AnswerRewrite = Callable[[Answer], "Answer | None"]


@dataclass(frozen=True, slots=True)
class Breakage:
    """One way the platform breaks, and what a check that lets it pass would let through.

    Exactly one of ``answer`` (rewrite every answer the check reads; None from it: the service is down)
    and ``stand_in`` (an async context manager yielding the check pointed at a broken stand-in).
    ``needs_recording``: the rewrite starts from the recorded healthy answer (a body cut in half); it is
    skipped when nothing was recorded for the check.
    """

    name: str
    matters: str
    answer: AnswerRewrite | None = None
    stand_in: Callable[[], AbstractAsyncContextManager[Check]] | None = None
    needs_recording: bool = False

    def __post_init__(self) -> None:
        if (self.answer is None) == (self.stand_in is None):
            raise ValueError(f"breakage {self.name!r}: give exactly one of answer and stand_in")


# --- breakages every kind reading HTTP shares --------------------------------------------------------

HTML_ERROR_PAGE = (
    b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head>"
    b"<body><h1>Bad Gateway</h1><p>The upstream service is not responding.</p></body></html>"
)
GARBAGE = b"\x00\x9f\x13garbage \xff\xfe{{{ not what anything parses ]]\n"


def down() -> Breakage:
    return Breakage(
        "service down (connection refused)",
        "a check that passes while its service is down would wave a deploy through an outage",
        answer=lambda _: None,
    )


def server_error(status: int = 500) -> Breakage:
    return Breakage(
        f"answers {status}",
        "the service answers a server error: it is not serving",
        answer=lambda recorded: replace(
            recorded.with_body(b"Internal Server Error", "text/plain"), status=status
        ),
    )


def empty_body() -> Breakage:
    return Breakage(
        "answers 200 with an empty body",
        "nothing to judge is never a pass",
        answer=lambda recorded: replace(recorded.with_body(b""), status=200),
    )


def cut_body() -> Breakage:
    def cut(recorded: Answer) -> Answer:
        body = recorded.body
        half = len(body) // 2
        line_start = body.rfind(b"\n", 0, half) + 1
        # Cut inside a line (a few bytes past its start): a half line is never a whole record.
        at = min(len(body) - 1, line_start + max(1, min(5, (len(body) - line_start) // 2)))
        return replace(recorded, body=body[: max(0, at)], status=200)

    return Breakage(
        "answers 200 with its body cut in half",
        "an answer broken off mid-way must not be judged as if whole",
        answer=cut,
        needs_recording=True,
    )


def html_in_place() -> Breakage:
    return Breakage(
        "answers 200 with an HTML error page instead",
        "a proxy's error page at 200 is not the answer the check parses",
        answer=lambda recorded: replace(recorded.with_body(HTML_ERROR_PAGE, "text/html"), status=200),
    )


def garbage_body() -> Breakage:
    return Breakage(
        "answers 200 with garbage",
        "bytes that are not the format the check parses",
        answer=lambda recorded: replace(recorded.with_body(GARBAGE, "text/plain"), status=200),
    )


def slowed(delay_s: float, why: str) -> Breakage:
    return Breakage(
        f"answers after {delay_s * 1000:g} ms ({why})",
        "a platform this slow breaks its latency objective",
        answer=lambda recorded: replace(recorded, delay_s=delay_s),
    )


def failing_requests(fraction: float, why: str) -> Breakage:
    return Breakage(
        f"{fraction:.0%} of requests answer 500 ({why})",
        "an error rate this high breaks the error-rate objective",
        answer=lambda recorded: replace(recorded, error_fraction=fraction),
    )


# --- a JSON field set to a bad value ------------------------------------------------------------------

REMOVED = object()  # the field removed from the document


def json_field(path: str, value: Any, shown: str, matters: str) -> Breakage:
    """The field at dotted ``path`` of the recorded JSON set to ``value`` (``REMOVED``: taken out)."""

    def rewrite(recorded: Answer) -> Answer:
        try:
            document = json.loads(recorded.body)
        except (ValueError, RecursionError):
            return recorded  # not JSON: the healthy answer never had the field; the baseline says so
        if set_field(document, path, value):
            return recorded.with_body(json.dumps(document).encode(), "application/json")
        return recorded

    return Breakage(f"{path} {shown}", matters, answer=rewrite, needs_recording=True)


def set_field(document: Any, path: str, value: Any) -> bool:
    """Set (or with ``REMOVED`` delete) the value at ``path`` in place; False when the path is not there."""
    parts = path.split(".")
    found = document
    for part in parts[:-1]:
        if isinstance(found, dict) and part in found:
            found = found[part]
        elif isinstance(found, list) and part.isascii() and part.isdigit() and int(part) < len(found):
            found = found[int(part)]
        else:
            return False
    last = parts[-1]
    if isinstance(found, dict) and last in found:
        if value is REMOVED:
            del found[last]
        else:
            found[last] = value
        return True
    if isinstance(found, list) and last.isascii() and last.isdigit() and int(last) < len(found):
        if value is REMOVED:
            del found[int(last)]
        else:
            found[int(last)] = value
        return True
    return False


def unreadable_values(path: str, *, numeric: bool) -> list[Breakage]:
    """The field removed and null, and for a number NaN and a string: none of them may read as a pass."""
    matters = "a value that is not there or not a number must never read as healthy"
    found = [
        json_field(path, REMOVED, "removed", matters),
        json_field(path, None, "= null", matters),
    ]
    if numeric:
        found += [
            json_field(path, math.nan, "= NaN", matters),
            json_field(path, "12 ms", '= "12 ms" (a string)', matters),
        ]
    return found


# --- quantities: what "far past the target" means for a reading --------------------------------------


@dataclass(frozen=True, slots=True)
class Quantity:
    """A quantity the platform reports, the profile key of its target, and values far past any target."""

    name: str
    profile_key: str  # e.g. slo.latency_p95_ms
    unit: str

    def bad_values(self, profile: Profile) -> list[tuple[float, str]]:
        """(value, why) pairs a healthy platform never shows, from the profile's target where it has one."""
        target = number_at(profile.values, self.profile_key)
        if self.name == "latency":
            values = [(10_000.0, "10 s")]
            if target is not None and target > 0 and target * 10 != 10_000:
                values.insert(0, (target * 10, f"10x the profile's {target:g} ms target"))
            return values
        if self.name == "error rate":
            return [(0.5, "half of all requests failing")]
        return [(3600.0, "an hour old")]  # staleness


QUANTITIES = {
    "latency": Quantity("latency", "slo.latency_p95_ms", "ms"),
    "error rate": Quantity("error rate", "slo.error_rate", "fraction"),
    "staleness": Quantity("staleness", "slo.staleness_s", "s"),
}
# The health JSON fields the platform documents, and the profile keys naming each quantity's target.
KNOWN_FIELDS = {
    "slo.latencyP95": QUANTITIES["latency"],
    "slo.errorRate": QUANTITIES["error rate"],
    "slo.staleness": QUANTITIES["staleness"],
}
BY_PROFILE_KEY = {quantity.profile_key: quantity for quantity in QUANTITIES.values()}
# A declared unit that names its quantity: a field in ms is a latency, a ratio an error rate. Seconds are
# left out: uptime is in seconds too, and for it an hour is healthy, not far past a target.
BY_UNIT = {"ms": QUANTITIES["latency"], "ratio": QUANTITIES["error rate"]}


def quantity_of(field_path: str | None, *thresholds: Any, unit: str | None = None) -> Quantity | None:
    """The quantity a reading measures: a field the platform documents, a threshold naming a target, or
    the reading's declared unit."""
    if field_path is not None and field_path in KNOWN_FIELDS:
        return KNOWN_FIELDS[field_path]
    for threshold in thresholds:
        if isinstance(threshold, str) and threshold in BY_PROFILE_KEY:
            return BY_PROFILE_KEY[threshold]
    return BY_UNIT.get(unit) if unit is not None else None


def impossible_values(unit: str) -> list[tuple[float, str]]:
    """(value, why) pairs no figure in ``unit`` can take: one past each finite end of its domain (-1 and
    2 for a ratio, -1 for a latency; none for a plain number). A check reading its unit's domain FAILs
    them whatever its bounds: a ``min`` alone would pass a ratio of 2, a ``max`` alone a latency of -1."""
    low, high = DOMAINS[unit]
    values = [value for value in (low - 1, high + 1) if math.isfinite(value)]
    return [(value, why) for value in values if (why := outside_domain(value, unit)) is not None]


def number_at(values: Mapping[str, Any], key: str) -> float | None:
    """The number at dotted ``key`` of a profile's values, or None."""
    found: Any = values
    for part in key.split("."):
        if not isinstance(found, Mapping) or part not in found:
            return None
        found = found[part]
    if isinstance(found, bool) or not isinstance(found, int | float):
        return None
    return float(found)


# --- another plausible value of the same type ---------------------------------------------------------

# A healthy word and the word the same field holds when the thing is broken.
_BROKEN_WORD = {
    "up": "down",
    "ok": "error",
    "healthy": "unhealthy",
    "online": "errored",
    "pass": "fail",
    "passing": "failing",
    "ready": "not_ready",
    "running": "stopped",
    "green": "red",
    "success": "failure",
    "available": "unavailable",
    "serving": "not_serving",
}


def broken_word(word: str) -> str:
    """The broken counterpart of a health word in the same case (``"UP"`` -> ``"DOWN"``); a word with no
    known counterpart gets the platform's own broken status, ``DOWN``."""
    lowered = word.lower()
    broken = _BROKEN_WORD.get(lowered, "down")
    if word.isupper() or lowered not in _BROKEN_WORD:
        return broken.upper() if (word.isupper() or not word) else broken
    if word[:1].isupper():
        return broken.capitalize()
    return broken

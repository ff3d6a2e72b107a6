"""``http``: one request, judged on status, latency, body text and JSON fields."""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

import msgspec

from spark_ops.checks._common import Options, TargetOptions, Threshold, _short, parse_json
from spark_ops.checks._freshness import Freshness
from spark_ops.config import Profile
from spark_ops.errors import ConfigError
from spark_ops.jsonpath import MISSING, lookup
from spark_ops.model import Judgement, Status
from spark_ops.registry import CheckBase

if TYPE_CHECKING:  # the runner (httpx, aiohttp) loads only when checks run
    from spark_ops.prove.breakage import Breakage
    from spark_ops.transport import Fetched, Probe

Comparison = Literal["==", "!=", "<", "<=", ">", ">=", "in"]
_ORDERING: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


class JsonAssertion(Options, frozen=True, kw_only=True):
    field: str
    op: Comparison = "=="
    value: Any

    def __post_init__(self) -> None:
        # TOML has dates and times, JSON has none: such a value could never equal what a body says.
        if not _json_typed(self.value):
            raise ValueError(
                f"value must be a JSON value (string, number, boolean, array, table), got {self.value!r}"
            )


def _json_typed(value: Any) -> bool:
    """Whether ``value`` is something a JSON document can hold."""
    if value is None or isinstance(value, str | int | float | bool):
        return True
    if isinstance(value, list):
        return all(_json_typed(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(key, str) and _json_typed(item) for key, item in value.items())
    return False


class HttpOptions(TargetOptions, frozen=True, kw_only=True):
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] = "GET"
    headers: dict[str, str] = {}
    body: str | None = None
    expect_status: list[int | str] = msgspec.field(default_factory=lambda: [200])
    max_latency_ms: Threshold | None = None
    body_contains: list[str] = []
    expect_json: list[JsonAssertion] = []
    max_body_bytes: Annotated[int, msgspec.Meta(ge=1)] | None = None
    follow_redirects: bool = True
    # Judged for freshness against the profile's [slo] bounds before the expect_json assertions.
    timestamp_field: str | None = None  # the JSON field saying when the answer was made; needs expect_json


_STATUS_CLASS = re.compile(r"^([1-5])xx$", re.I)
_STATUS_RANGE = re.compile(r"^(\d{3})\s*-\s*(\d{3})$")


def parse_status_ranges(written: list[int | str]) -> list[tuple[int, int]]:
    """``[200, "3xx", "400-404"]`` -> inclusive (low, high) pairs."""
    ranges: list[tuple[int, int]] = []
    for item in written:
        text = str(item).strip()
        if text.isdigit():
            low = high = int(text)
        elif match := _STATUS_CLASS.match(text):
            low, high = int(match[1]) * 100, int(match[1]) * 100 + 99
        elif match := _STATUS_RANGE.match(text):
            low, high = int(match[1]), int(match[2])
        else:
            raise ConfigError(
                f"{item!r} is not a status code, a class like '2xx' or a range like '200-299'",
                key="expect_status",
            )
        if not (100 <= low <= high <= 599):
            raise ConfigError(f"{item!r} is outside the HTTP status range 100-599", key="expect_status")
        ranges.append((low, high))
    if not ranges:
        raise ConfigError("must list at least one status", key="expect_status")
    return ranges


class HttpCheck(CheckBase):
    kind: ClassVar[str] = "http"
    summary: ClassVar[str] = "one HTTP request: status, latency, body text and JSON field assertions"
    Options: ClassVar[type[HttpOptions]] = HttpOptions

    def __init__(self, options: HttpOptions, profile: Profile) -> None:
        self.options = options
        self.target = profile.target(service=options.service, path=options.path, url=options.url)
        self.status_ranges = parse_status_ranges(options.expect_status)
        self.max_latency_ms = (
            None
            if options.max_latency_ms is None
            else profile.number(options.max_latency_ms, key="max_latency_ms")
        )
        if options.timestamp_field is not None and not options.expect_json:
            raise ConfigError("judges a JSON body: needs expect_json", key="timestamp_field")
        self.freshness = Freshness.of(profile)
        for index, assertion in enumerate(options.expect_json):
            if assertion.op == "in" and not isinstance(assertion.value, list):
                raise ConfigError("'in' needs a list as value", key=f"expect_json[{index}].value")

    @property
    def threshold(self) -> list[int | str]:
        return list(self.options.expect_status)

    @property
    def planned_load(self) -> str:
        return f"1 request to {self.target.display}"

    def breakages(self, profile: Profile) -> list[Breakage]:
        from spark_ops.prove import kinds  # loaded by `spark suite prove` only

        return kinds.http(self, profile)

    async def judge(self, probe: Probe) -> Judgement:
        options = self.options
        fetched = await probe.fetch(
            self.target,
            method=options.method,
            headers=options.headers,
            content=options.body.encode() if options.body is not None else None,
            follow_redirects=options.follow_redirects,
            max_body_bytes=options.max_body_bytes,
        )
        judged = self._judge_answer(fetched)
        readings = {"status_code": fetched.status, "elapsed_ms": round(fetched.elapsed_ms, 3)}
        return replace(judged, readings={**readings, **judged.readings})

    def _judge_answer(self, fetched: Fetched) -> Judgement:
        options = self.options
        expected = self.threshold
        if not any(low <= fetched.status <= high for low, high in self.status_ranges):
            return Judgement(
                Status.FAIL,
                f"{fetched.describe()}, expected {_statuses(expected)}",
                observed=fetched.status,
                threshold=expected,
            )
        if self.max_latency_ms is not None and fetched.elapsed_ms > self.max_latency_ms:
            return Judgement(
                Status.FAIL,
                f"{fetched.describe()}, slower than max_latency_ms {self.max_latency_ms:g}",
                observed=round(fetched.elapsed_ms, 1),
                threshold={"max": self.max_latency_ms},
            )
        if options.body_contains:
            text = fetched.body.decode("utf-8", errors="replace")
            missing = [needle for needle in options.body_contains if needle not in text]
            if missing:
                return Judgement(
                    Status.FAIL,
                    f"{fetched.describe()}, body lacks {_short(missing[0])}",
                    observed=None,
                    threshold={"body_contains": options.body_contains},
                )
        # The evidence keeps every JSON body a verdict was made on.
        artifacts = {"body.json": fetched.body} if options.expect_json else {}
        undated = ""
        if options.expect_json:
            document = parse_json(fetched)
            if options.timestamp_field:
                stamp = lookup(document, options.timestamp_field)
                stale = self.freshness.judge(stamp, f"the document ({options.timestamp_field})")
                if stale is not None and stale[0] is Status.FAIL:
                    return self.freshness.refused(stale, f"{fetched.describe()}, ", artifacts)
                undated = f"; {stale[1]}" if stale is not None else ""
            for assertion in options.expect_json:
                failure = json_failure(document, assertion)
                if failure is not None:
                    reason, observed = failure
                    return Judgement(
                        Status.FAIL,
                        f"{fetched.describe()}, {reason}",
                        observed=observed,
                        threshold={"field": assertion.field, "op": assertion.op, "value": assertion.value},
                        artifacts=artifacts,
                    )
        held = "".join(f", {a.field} {a.op} {_short(a.value)}" for a in options.expect_json)
        return Judgement(
            Status.WARN if undated else Status.PASS,  # undated = "warn": the answer holds, its age not
            fetched.describe() + held + undated,
            observed=fetched.status,
            threshold=expected,
            artifacts=artifacts,
        )


def _statuses(expected: list[int | str]) -> str:
    return " or ".join(str(item) for item in expected)


def _same(actual: Any, wanted: Any) -> bool:
    """JSON equality where true is not 1, also inside arrays and objects (``[True] == [1]`` in Python)."""
    if isinstance(actual, bool) or isinstance(wanted, bool):
        return actual is wanted
    if isinstance(actual, list) and isinstance(wanted, list):
        return len(actual) == len(wanted) and all(map(_same, actual, wanted))
    if isinstance(actual, dict) and isinstance(wanted, dict):
        return actual.keys() == wanted.keys() and all(_same(actual[k], wanted[k]) for k in actual)
    return bool(actual == wanted)


def json_failure(document: Any, assertion: JsonAssertion) -> tuple[str, Any] | None:
    """Why ``assertion`` fails on ``document`` (with the value seen), or None when it holds.

    Fail closed: a missing field, null, NaN or an infinity never satisfies any comparison, ``!=`` included.
    """
    field, op, wanted = assertion.field, assertion.op, assertion.value
    actual = lookup(document, field)
    if actual is MISSING:
        return f"JSON field {field!r} is missing", None
    if actual is None:
        return f"JSON field {field!r} is null", None
    if isinstance(actual, float) and not math.isfinite(actual):
        return f"JSON field {field!r} is {actual}, not a finite number", str(actual)
    if op == "in":
        # The suite loader refuses a non-list; an assertion built another way still fails closed.
        holds = isinstance(wanted, list) and any(_same(actual, item) for item in wanted)  # true is not 1
    elif op in ("==", "!="):
        holds = _same(actual, wanted) == (op == "==")
    else:
        numeric = (int, float)
        both_numbers = isinstance(actual, numeric) and isinstance(wanted, numeric)
        both_strings = isinstance(actual, str) and isinstance(wanted, str)
        if isinstance(actual, bool) or isinstance(wanted, bool) or not (both_numbers or both_strings):
            return (
                f"JSON field {field!r} = {_short(actual)} cannot be compared with {op} {_short(wanted)}",
                actual,
            )
        holds = _ORDERING[op](actual, wanted)
    if holds:
        return None
    return f"JSON field {field!r} = {_short(actual)}, expected {op} {_short(wanted)}", actual

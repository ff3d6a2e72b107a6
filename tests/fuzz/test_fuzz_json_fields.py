"""Fuzzing the JSON field lookups and assertions (http ``expect_json``, ``slo`` fields).

Any JSON document, any dotted path and any assertion value either hold or give a reason: no bare
exception, and a PASS only when an independent reading of the document says the assertion holds
(fail closed: a missing field, null, NaN, an infinity or a type mismatch never passes). The same
documents go over a real socket through the runner for the ``http`` and ``slo`` kinds.
"""

from __future__ import annotations

import json
import math
import operator
import sys
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from spark_ops.checks.http import JsonAssertion, json_failure
from spark_ops.errors import ConfigError
from spark_ops.jsonpath import MISSING, lookup
from spark_ops.model import Status

from . import FUZZ, FUZZ_IO, HUGE_INTS, ODD_FLOATS, TEXT, VALUES
from .conftest import Served, assert_not_crashed

KEYS_SEEN = ["status", "slo", "latencyP95", "items", "0", "1", "²", "٢", "", " ", "a.b"]
KEY_TEXT = TEXT | st.sampled_from(KEYS_SEEN)
NUMBERS = st.one_of(st.integers(), HUGE_INTS, st.floats(), ODD_FLOATS, st.integers(-(10**400), 10**400))
JSON_SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, TEXT)
JSON = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEY_TEXT, inner, max_size=4),
    max_leaves=15,
)
PATHS = st.one_of(
    st.lists(KEY_TEXT, min_size=1, max_size=4).map(".".join),
    st.sampled_from(["status", "slo.latencyP95", "items.0", "items.²", "items.٢", "a..b", "", ".", "0.0"]),
)
OPS = st.sampled_from(["==", "!=", "<", "<=", ">", ">=", "in"])
WANTED = st.one_of(JSON, VALUES)


def json_value(value: Any) -> bool:
    """Whether ``value`` could appear in a JSON document (a TOML date or time could not)."""
    if value is None or isinstance(value, str | int | float | bool):
        return True
    if isinstance(value, list):
        return all(json_value(item) for item in value)
    return isinstance(value, dict) and all(isinstance(k, str) and json_value(v) for k, v in value.items())


def independent_lookup(document: Any, path: str) -> Any:
    """The documented reading of a dotted path: object keys, and list positions written in ASCII digits."""
    node = document
    for part in path.split("."):
        if isinstance(node, dict):
            if part not in node:
                return MISSING
            node = node[part]
        elif isinstance(node, list) and part and all("0" <= c <= "9" for c in part):
            position = int(part)
            if position >= len(node):
                return MISSING
            node = node[position]
        else:
            return MISSING
    return node


def json_equal(left: Any, right: Any) -> bool:
    """JSON equality: numbers by value, true/false only equal themselves (also inside arrays and objects)."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if isinstance(left, int | float) and isinstance(right, int | float):
        return left == right
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(json_equal, left, right))
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(json_equal(left[k], right[k]) for k in left)
    return type(left) is type(right) and bool(left == right)


def holds(document: Any, path: str, op: str, wanted: Any) -> bool:
    """Whether ``path op wanted`` holds on ``document``, read independently of spark_ops."""
    actual = independent_lookup(document, path)
    if actual is MISSING or actual is None or (isinstance(actual, float) and not math.isfinite(actual)):
        return False
    if op == "in":
        return isinstance(wanted, list) and any(json_equal(actual, item) for item in wanted)
    if op == "==":
        return json_equal(actual, wanted)
    if op == "!=":
        return not json_equal(actual, wanted)
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (actual, wanted))
    strings = isinstance(actual, str) and isinstance(wanted, str)
    if not (numbers or strings):
        return False
    ordering = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
    return bool(ordering[op](actual, wanted))


def is_float(value: Any) -> bool:
    """A JSON number a float can hold: finite, and no integer beyond the float range (10**400)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return abs(value) <= sys.float_info.max and not math.isnan(value)


def paths_in(document: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Every (dotted path, value) reachable in ``document`` through keys that hold no dot."""
    found: list[tuple[str, Any]] = []
    children = (
        document.items()
        if isinstance(document, dict)
        else enumerate(document)
        if isinstance(document, list)
        else []
    )
    for key, value in children:
        if isinstance(key, str) and ("." in key or key == ""):
            continue
        path = f"{prefix}{key}"
        found.append((path, value))
        found += paths_in(value, path + ".")
    return found


@FUZZ
@given(document=JSON, path=PATHS)
@example(document=["a", "b", "c"], path="²")
@example(document={"items": [1, 2, 3]}, path="items.٢")
def test_lookup_reads_only_what_the_path_names(document: Any, path: str) -> None:
    """Any dotted path on any document gives the value it names or MISSING, never an exception."""
    found = lookup(document, path)
    wanted = independent_lookup(document, path)
    assert found is wanted or (found is MISSING and wanted is MISSING)


@FUZZ
@given(document=JSON)
def test_lookup_finds_every_field_of_the_document(document: Any) -> None:
    """Every field reachable in a document is found under its dotted path (the lookup is not vacuous)."""
    for path, value in paths_in(document):
        if independent_lookup(document, path) is value:  # a key like "0" in an object may shadow
            assert lookup(document, path) is value, path


@FUZZ
@given(document=JSON, path=PATHS, op=OPS, wanted=WANTED)
@example(document={"flags": [True]}, path="flags", op="==", wanted=[1])
@example(document={"flags": {"on": 1}}, path="flags", op="==", wanted={"on": True})
@example(document={"n": 10**400}, path="n", op=">", wanted=math.inf)
@example(document={"n": math.nan}, path="n", op="!=", wanted=1)
@example(document={"": False}, path="", op="in", wanted=None)  # found in CI: 'in' without a list crashed
def test_json_assertion_holds_only_when_it_holds(document: Any, path: str, op: str, wanted: Any) -> None:
    """An assertion on any document passes exactly when it holds; otherwise a reason, never an exception.
    A value no JSON document can hold (a TOML date) is refused when the assertion is made."""
    if not json_value(wanted):
        with pytest.raises(ValueError, match="must be a JSON value"):
            JsonAssertion(field=path, op=op, value=wanted)  # type: ignore[arg-type]
        return
    assertion = JsonAssertion(field=path, op=op, value=wanted)  # type: ignore[arg-type]
    failure = json_failure(document, assertion)
    assert (failure is None) == holds(document, path, op, wanted), failure
    if failure is not None:
        reason, _observed = failure
        assert isinstance(reason, str) and reason and "\n" not in reason


# --- over a real socket, through the runner ---------------------------------------------------------


BODIES = st.one_of(
    JSON.map(lambda doc: json.dumps(doc).encode()),
    st.binary(max_size=60),
    st.sampled_from(
        [b"", b" ", b"NaN", b"null", b"<html>up</html>", b"\xff\xfe{}", b"[" * 5000, b'{"status": "UP"']
    ),
)


def _refuse_repeated_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("a key written twice")
    return dict(pairs)


def parsed(body: bytes) -> Any:
    """The body as the documented reader sees it, or MISSING when it is not a JSON document (a key
    written twice in one object makes it ambiguous: no document either)."""
    try:
        return json.loads(body, object_pairs_hook=_refuse_repeated_keys) if body.strip() else MISSING
    except (ValueError, RecursionError):
        return MISSING


@FUZZ_IO
@given(body=BODIES, path=PATHS, op=OPS, wanted=WANTED)
@example(body=b'{"status": "UP"}', path="status", op="==", wanted="UP")
@example(body=b"[" * 5000, path="status", op="==", wanted="UP")
def test_http_expect_json_passes_only_when_the_field_holds(
    served: Served, body: bytes, path: str, op: str, wanted: Any
) -> None:
    """An http check's expect_json on any body PASSes only when it holds, else FAILs; never crashes."""
    served.answer(body)
    expect = [{"field": path, "op": op, "value": wanted}]
    result = served.run("http", {"path": "/api/healthz", "expect_json": expect})
    if not json_value(wanted):  # a TOML date or time: refused before anything is sent
        assert isinstance(result, ConfigError) and "must be a JSON value" in str(result), result
        return
    if isinstance(result, ConfigError):  # "in" without a list: refused before anything is sent
        assert op == "in" and not isinstance(wanted, list), result
        return
    assert_not_crashed(result)
    document = parsed(body)
    expected = document is not MISSING and holds(document, path, op, wanted)
    assert result.status is (Status.PASS if expected else Status.FAIL), result.message


@FUZZ_IO
@given(body=BODIES, path=PATHS, low=st.floats(-10, 10) | st.none(), high=st.floats(-10, 10) | st.none())
@example(body=b'{"slo": {"latencyP95": 1' + b"0" * 400 + b"}}", path="slo.latencyP95", low=None, high=5.0)
@example(body=b'{"slo": {"latencyP95": NaN}}', path="slo.latencyP95", low=None, high=5.0)
@example(body=b"[1, 2, 3]", path="²", low=0.0, high=5.0)
def test_slo_passes_only_a_finite_number_within_bounds(
    served: Served, body: bytes, path: str, low: float | None, high: float | None
) -> None:
    """An slo check on any body PASSes only for a finite number within [min, max]; never crashes."""
    served.answer(body)
    bounds = {key: value for key, value in (("min", low), ("max", high)) if value is not None}
    # The documents carry no time: freshness has its own tests (tests/unit/checks/test_freshness.py).
    result = served.run("slo", {"path": "/api/healthz", "field": path, "timestamp_field": "", **bounds})
    if isinstance(result, ConfigError):  # no bound at all, or min above max
        assert not bounds or (low is not None and high is not None and low > high), result
        return
    assert_not_crashed(result)
    document = parsed(body)
    value = MISSING if document is MISSING else independent_lookup(document, path)
    within = is_float(value) and (low is None or value >= low) and (high is None or value <= high)
    assert result.status is (Status.PASS if within else Status.FAIL), result.message


ENTRY_STATUS = st.sampled_from(["online", "errored", "stopped", "", "ONLINE"]) | JSON
PM2_ENTRIES = st.lists(
    st.one_of(
        st.fixed_dictionaries(
            {},
            optional={
                "name": st.sampled_from(["web", "executor-1"]) | JSON,
                "pm_id": JSON,
                "pm2_env": st.fixed_dictionaries(
                    {},
                    optional={"status": ENTRY_STATUS, "restart_time": NUMBERS | JSON, "pm_uptime": NUMBERS},
                )
                | JSON,
                "monit": st.fixed_dictionaries({}, optional={"memory": NUMBERS | JSON, "cpu": NUMBERS})
                | JSON,
            },
        ),
        JSON,
    ),
    max_size=4,
)


def healthy(entry: Any, max_restarts: int) -> bool:
    """A jlist entry the documented pm2 check passes: named, online, few restarts, a memory figure."""
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"]:
        return False
    env, monit = entry.get("pm2_env"), entry.get("monit")
    if not isinstance(env, dict) or not isinstance(monit, dict) or env.get("status") != "online":
        return False
    restarts, memory = env.get("restart_time"), monit.get("memory")
    counted = isinstance(restarts, int) and not isinstance(restarts, bool) and 0 <= restarts <= max_restarts
    return counted and is_float(memory) and math.isfinite(memory) and memory >= 0


@FUZZ_IO
@given(entries=PM2_ENTRIES, banner=st.sampled_from(["", "[PM2] Spawning PM2 daemon\n", "garbage ["]))
@example(
    entries=[
        {"name": "web", "pm2_env": {"status": "online", "restart_time": 10**400}, "monit": {"memory": 1}}
    ],
    banner="",
)
@example(
    entries=[
        {"name": "web", "pm2_env": {"status": "online", "restart_time": 0}, "monit": {"memory": 10**400}}
    ],
    banner="",
)
def test_pm2_passes_only_a_list_of_healthy_processes(served: Served, entries: list[Any], banner: str) -> None:
    """A pm2 check over any jlist PASSes only when every process is named, online and within limits."""
    served.answer((banner + json.dumps(entries)).encode())
    result = served.run("pm2", {"path": "/pm2"})
    assert not isinstance(result, ConfigError), result
    assert_not_crashed(result)
    max_restarts = served.profile.config.pm2.max_restarts
    expected = bool(entries) and all(healthy(entry, max_restarts) for entry in entries)
    assert (result.status is Status.PASS) == expected, result.message


PROM_VALUES = st.one_of(
    st.floats().map(repr), st.sampled_from(["NaN", "+Inf", "-Inf", "1e400", "", "x", "0x10"]), JSON
)
PROM_SAMPLES = st.fixed_dictionaries(
    {},
    optional={
        "metric": st.dictionaries(KEY_TEXT, TEXT, max_size=2) | JSON,
        "value": st.tuples(NUMBERS, PROM_VALUES).map(list) | JSON,
    },
)
PROM_ANSWERS = st.one_of(
    st.fixed_dictionaries(
        {"status": st.sampled_from(["success", "error"]) | JSON},
        optional={
            "data": st.fixed_dictionaries(
                {},
                optional={
                    "resultType": st.sampled_from(["vector", "scalar", "matrix", "string"]) | JSON,
                    "result": st.lists(PROM_SAMPLES, max_size=3)
                    | st.tuples(NUMBERS, PROM_VALUES).map(list)
                    | JSON,
                },
            )
            | JSON,
            "warnings": st.lists(TEXT, max_size=1) | JSON,
            "error": TEXT,
            "errorType": TEXT,
        },
    ),
    JSON,
)


def prom_number(pair: Any) -> float | None:
    """The finite number of a ``[timestamp, "1.5"]`` pair, else None."""
    if not isinstance(pair, list) or len(pair) != 2 or not isinstance(pair[1], str):
        return None
    try:
        number = float(pair[1])
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def prom_passes(document: Any, low: float, high: float) -> bool:
    """Whether a PromQL answer shows every series (at least one) as a finite number within [low, high]."""
    if not isinstance(document, dict) or document.get("status") != "success" or document.get("warnings"):
        return False
    data = document.get("data")
    if not isinstance(data, dict) or "result" not in data:
        return False
    if data.get("resultType") == "scalar":
        values = [prom_number(data["result"])]
    elif data.get("resultType") == "vector" and isinstance(data["result"], list) and data["result"]:
        samples = data["result"]
        if not all(isinstance(s, dict) and isinstance(s.get("metric"), dict) for s in samples):
            return False
        values = [prom_number(s.get("value")) for s in samples]
    else:
        return False
    return all(value is not None and low <= value <= high for value in values)


@FUZZ_IO
@given(answer=PROM_ANSWERS, low=st.floats(-10, 0), high=st.floats(0, 10))
@example(answer={"status": "success", "data": {"resultType": "vector", "result": [1, 2]}}, low=0.0, high=1.0)
@example(
    answer={"status": "success", "data": {"resultType": "scalar", "result": [0, "NaN"]}}, low=0.0, high=1.0
)
def test_promql_passes_only_series_within_bounds(
    served: Served, answer: Any, low: float, high: float
) -> None:
    """A promql check on any answer PASSes only when every series it returns is a finite number in bounds."""
    served.answer(json.dumps(answer).encode())
    options = {"query": "up", "min": low, "max": high, "prometheus_url": served.url}
    result = served.run("promql", options, service=False)
    assert not isinstance(result, ConfigError), result
    assert_not_crashed(result)
    assert (result.status is Status.PASS) == prom_passes(answer, low, high), result.message

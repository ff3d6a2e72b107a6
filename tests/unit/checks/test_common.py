"""spark_ops/checks/_common.py: the bounds, JSON field lookup and number parsing every kind shares.

Through a kind (HTTP against a served body) the same helpers are tested in test_slo.py (inclusive
bounds, warn bands, min above max, no bounds, bad answers never PASS) and test_http.py; here each helper
is judged alone, on the cases a kind's table does not reach.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from spark_ops.checks._common import Bounds, number_from, parse_json, series_name
from spark_ops.config import load_profile
from spark_ops.errors import ConfigError, TargetError
from spark_ops.jsonpath import MISSING, lookup
from spark_ops.model import Status
from spark_ops.transport import Fetched

# --- Bounds.resolve: thresholds a check may not be judged against ----------------------------------


@pytest.mark.parametrize(
    ("thresholds", "key", "words"),
    [
        ({"min": math.nan, "max": 1}, "min_bytes", "must not be NaN"),
        ({"min": 1, "max": 1, "warn_max": math.nan}, "warn_max_bytes", "must not be NaN"),
        ({"min": 5, "max": 1}, "min_bytes", "min 5 is above max 1"),
        ({"min": None, "max": None}, "max_bytes", "needs min or max"),
        ({"min": None, "max": "slo.no_such_key"}, "max_bytes", "slo.no_such_key"),
    ],
    ids=["nan-min", "nan-warn-max", "min-above-max", "no-bounds", "missing-profile-key"],
)
def test_resolve_refuses_bounds_naming_the_key_with_prefix_and_suffix(thresholds, key, words):
    """An unusable threshold is a ConfigError naming ``{key_prefix}min{key_suffix}``-style keys."""
    with pytest.raises(ConfigError) as caught:
        Bounds.resolve(load_profile("dev"), key_suffix="_bytes", **thresholds)
    assert caught.value.key == key
    assert words in str(caught.value)


@pytest.mark.parametrize(
    ("thresholds", "expected"),
    [
        ({"min": None, "max": "slo.latency_p95_ms"}, Bounds(max=150.0)),
        ({"min": 0, "max": math.inf}, Bounds(min=0.0, max=math.inf)),
        ({"min": 3, "max": 3}, Bounds(min=3.0, max=3.0)),
        ({"min": None, "max": None}, Bounds()),
    ],
    ids=["profile-key", "infinite-max", "min-equals-max", "optional-and-absent"],
)
def test_resolve_accepts_numbers_and_profile_keys(thresholds, expected):
    """Numbers are taken as written, dotted names from the profile; ``required=False`` allows no bounds."""
    assert Bounds.resolve(load_profile("dev"), required=False, **thresholds) == expected


# --- Bounds.judge: inclusive bounds, a warning band inside them, non-finite values fail -----------------

BOTH_BANDS = Bounds(min=0, max=100, warn_min=10, warn_max=90)


@pytest.mark.parametrize(
    ("value", "status", "words"),
    [
        (50, Status.PASS, "x = 50 (min 0, max 100, warn_min 10, warn_max 90)"),
        (0, Status.WARN, "below warn_min 10"),
        (-0.5, Status.FAIL, "below min 0"),
        (10, Status.PASS, "x = 10"),
        (90, Status.PASS, "x = 90"),
        (95, Status.WARN, "above warn_max 90"),
        (100.5, Status.FAIL, "above max 100"),
        (math.nan, Status.FAIL, "x = nan, not a finite number"),
        (math.inf, Status.FAIL, "x = inf, not a finite number"),
        (-math.inf, Status.FAIL, "x = -inf, not a finite number"),
    ],
    ids=[
        "inside",
        "warn-below",
        "below-min",
        "equal-warn-min",
        "equal-warn-max",
        "warn-above",
        "above-max",
        "nan",
        "inf",
        "minus-inf",
    ],
)
def test_judge_names_the_bound_a_value_crossed(value, status, words):
    """PASS inside, WARN in a warning band, FAIL beyond a bound or non-finite; the message says which."""
    judged_status, message = BOTH_BANDS.judge(value, "x")
    assert judged_status is status
    assert words in message


def test_nan_fails_even_without_any_bound():
    """NaN is never PASS, even against bounds that every finite number satisfies."""
    assert Bounds(max=math.inf).judge(math.nan, "x")[0] is Status.FAIL


# --- lookup: dotted paths through objects and lists ---------------------------------------------------

DOCUMENT: dict[str, Any] = {"slo": {"latencyP95": 14, "zero": 0}, "items": [{"name": "a"}, {"name": "b"}]}


@pytest.mark.parametrize(
    ("dotted", "expected"),
    [
        ("slo.latencyP95", 14),
        ("slo.zero", 0),
        ("items.1.name", "b"),
        ("items.2.name", MISSING),
        ("items.²", MISSING),
        ("items.٢", MISSING),
        ("items.-1", MISSING),
        ("items.name", MISSING),
        ("slo.latencyP95.more", MISSING),
        ("nothing", MISSING),
    ],
    ids=[
        "nested-key",
        "falsy-value",
        "list-index",
        "index-out-of-range",
        "superscript-digit",
        "arabic-indic-digit",
        "negative-index",
        "key-on-a-list",
        "past-a-leaf",
        "missing-key",
    ],
)
def test_lookup_follows_keys_and_ascii_indexes_only(dotted, expected):
    """Keys and ASCII list indexes are followed; anything else is MISSING (never an exception)."""
    assert lookup(DOCUMENT, dotted) == expected  # MISSING compares by identity


# --- number_from: JSON values that are numbers, and those that are the target's fault ---------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [(14, 14.0), (0.25, 0.25), (-3, -3.0), (10**308, 1e308)],
    ids=["int", "float", "negative", "largest-float-int"],
)
def test_number_from_accepts_ints_and_floats(value, expected):
    """JSON integers and floats are numbers."""
    assert number_from(value, "x") == expected


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (None, "x is null, not a number"),
        (True, "x is bool True, not a number"),
        ("14", "x is str '14', not a number"),
        ([14], "x is list [14], not a number"),
        (10**400, "x is an integer of 401 digits, beyond any float"),
        (-(10**400), "x is an integer of 401 digits, beyond any float"),
    ],
    ids=["null", "bool", "string", "list", "huge-int", "huge-negative-int"],
)
def test_number_from_refuses_anything_else_as_the_targets_fault(value, words):
    """null, booleans, strings, containers and integers no float holds are TargetErrors (FAIL), not bugs."""
    with pytest.raises(TargetError) as caught:
        number_from(value, "x")
    assert words in str(caught.value)


# --- parse_json -------------------------------------------------------------------------------------


def fetched(body: bytes, content_type: str = "application/json") -> Fetched:
    return Fetched("http://t/h", "GET", 200, {"content-type": content_type}, body, 1.0)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"", "empty body where JSON was expected"),
        (b" \n\t", "empty body where JSON was expected"),
        (b"[" * 100_000 + b"]" * 100_000, "body is not JSON (application/json): nested too deeply"),
        (b"<html>", "body is not JSON (application/json): Expecting value"),
    ],
    ids=["empty", "whitespace", "nested-too-deep", "html"],
)
def test_parse_json_refuses_bodies_that_are_not_json(body, words):
    """An empty, non-JSON or absurdly nested body is a TargetError naming the request (no RecursionError)."""
    with pytest.raises(TargetError) as caught:
        parse_json(fetched(body))
    assert words in str(caught.value)
    assert "GET http://t/h -> 200" in str(caught.value)


def test_parse_json_returns_the_document():
    """A JSON body is returned parsed."""
    assert parse_json(fetched(b'{"status": "UP"}')) == {"status": "UP"}


# --- series_name ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "labels", "expected"),
    [
        ("up", {"job": "x", "instance": "a:1"}, 'up{instance="a:1", job="x"}'),
        ("up", {}, "up"),
        ("", {"job": "x"}, '{job="x"}'),
        ("", {}, "{}"),
        ("up", {"__name__": "up", "job": "x"}, 'up{job="x"}'),
        ("up", {"path": 'a"b\\c\nd'}, 'up{path="a\\"b\\\\c\\nd"}'),
    ],
    ids=["sorted-labels", "no-labels", "no-name", "nothing", "name-label-dropped", "escaped-values"],
)
def test_series_name_prints_a_selector_as_promql_would(name, labels, expected):
    """Labels sorted and escaped as in the exposition format; ``__name__`` is not repeated."""
    assert series_name(name, labels) == expected

"""The one JSON decoder: a key written twice in one object, at any level, is ambiguous (AmbiguousJson)."""

from __future__ import annotations

import json

import pytest

from spark_ops import strict_json
from spark_ops.strict_json import AmbiguousJson


@pytest.mark.parametrize(
    ("text", "key"),
    [
        pytest.param('{"status": "DOWN", "status": "UP"}', "status", id="top-level"),
        pytest.param('{"slo": {"errorRate": 0.9, "errorRate": 0.0}}', "errorRate", id="nested"),
        pytest.param('[{"name": "a"}, {"name": "b", "name": "c"}]', "name", id="in-an-array"),
        pytest.param('{"a": {"b": [{"c": {"d": 1, "d": 1}}]}}', "d", id="deep-and-equal-values"),
        pytest.param('{"": 1, "": 2}', "", id="empty-key"),
        pytest.param('{"\\u0061": 1, "a": 2}', "a", id="escaped-spelling-of-the-same-key"),
    ],
)
def test_a_repeated_key_is_refused_and_named(text, key):
    """Wherever it is, and even with equal values, the repeated key is named."""
    with pytest.raises(AmbiguousJson) as caught:
        strict_json.loads(text)
    assert caught.value.key == key
    assert repr(key) in str(caught.value)


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1, "A": 2}',
        '[{"a": 1}, {"a": 2}]',
        '{"a": {"a": {"a": 1}}}',
        '{"status": "UP", "slo": {"latencyP95": 14}, "timestamp": "2026-12-02T07:00:00Z"}',
        "[]",
        "NaN",
    ],
)
def test_distinct_keys_read_as_json_loads_reads_them(text):
    """Keys differing in case, or repeated in different objects, are no ambiguity: same as json.loads."""
    assert json.dumps(strict_json.loads(text)) == json.dumps(json.loads(text))


def test_bytes_are_read_as_json_loads_reads_them():
    """UTF-8, -16 and -32 bodies decode alike; bytes that are no UTF are a ValueError (fails closed)."""
    for encoding in ("utf-8", "utf-16", "utf-32"):
        assert strict_json.loads('{"a": "\u00e9"}'.encode(encoding)) == {"a": "\u00e9"}
    with pytest.raises(ValueError):
        strict_json.loads(b'{"a": "\xff"}')


def test_ambiguity_is_a_value_error():
    """Code that handles bad JSON generically still fails closed on an ambiguous document."""
    assert issubclass(AmbiguousJson, ValueError)

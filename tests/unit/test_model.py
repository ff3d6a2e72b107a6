"""The records every part passes around (model.py): what counts as a reading."""

from __future__ import annotations

import pytest

from spark_ops.model import finite_readings


@pytest.mark.parametrize(
    ("values", "kept"),
    [
        ({"p95_ms": 14, "error_rate": 0.0}, {"p95_ms": 14.0, "error_rate": 0.0}),
        ({"nan": float("nan"), "inf": float("inf"), "ok": 1.5}, {"ok": 1.5}),
        ({"flag": True, "text": "14", "none": None, "list": [1]}, {}),
        ({"huge": 10**400, "ok": 2}, {"ok": 2.0}),
        ({1: 3}, {"1": 3.0}),
        ("not a mapping", {}),
        (None, {}),
    ],
    ids=[
        "numbers",
        "nan-and-infinities",
        "not-numbers",
        "beyond-any-float",
        "key-as-text",
        "a-string",
        "none",
    ],
)
def test_only_finite_numbers_are_readings(values, kept):
    """NaN, infinities, booleans, strings and integers beyond a float never become readings."""
    assert finite_readings(values) == kept

"""Fuzzing ``--set KEY=VALUE``: parsing, applying it to a profile, and the commands that take it.

A value is read as one TOML value when it is one, else kept as the text given; any assignment is a
(key, value) pair or a ConfigError. Applied to the shipped profile, any set of overrides gives a Profile
or a ConfigError; through ``spark alerts``, ``spark dashboard`` and ``spark gate`` it exits 0 or 2 with
one stderr line and no traceback.
"""

from __future__ import annotations

import datetime as dt
import math
import tomllib
from typing import Any

import msgspec
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from spark_ops.config import load_profile
from spark_ops.config.overrides import parse_set
from spark_ops.errors import ConfigError

from . import FUZZ, FUZZ_CLI, ODD_STRINGS, SCALARS, TEXT, VALUES, toml_value

PROFILE_KEYS = st.sampled_from(
    [
        "services.web.url",
        "services.web.headers.Authorization",
        "services.new.url",
        "slo.latency_p95_ms",
        "slo.error_rate",
        "slo.staleness_s",
        "defaults.timeout_s",
        "defaults.retries",
        "defaults.concurrency",
        "defaults.max_body_bytes",
        "prometheus.url",
        "risk.fail_on",
        "canary.alpha",
        "canary.baseline",
        "pm2.max_restarts",
        "extends",
        "description",
        "services",
        "slo",
        "nope.deeper.still",
        "services.web.url.deeper",
    ]
)
KEY_PARTS = st.text(
    st.characters(exclude_categories=("Cs",), exclude_characters="=."), min_size=1, max_size=8
)
DOTTED = st.lists(KEY_PARTS, min_size=1, max_size=4).map(".".join).filter(lambda key: key.strip() == key)
RAW_VALUES = st.one_of(
    VALUES.map(toml_value),
    TEXT,
    ODD_STRINGS,
    st.sampled_from(
        [
            "",
            "1\nw = 2",
            "[1, 2",
            '"unclosed',
            "1979-05-27T07:32:00Z",
            "nan",
            "-inf",
            "0x1F",
            "1_000",
            "[" * 3000,
        ]
    ),
)
ASSIGNMENTS = st.one_of(
    st.builds(lambda key, value: f"{key}={value}", PROFILE_KEYS | DOTTED, RAW_VALUES),
    TEXT,
    st.sampled_from(["", "=", "=1", "a", "a.=1", ".a=1", "a..b=1", " = 1", "a =1", "a= 1"]),
)


def same(left: Any, right: Any) -> bool:
    """Equal as TOML values, NaN equal to NaN."""
    if isinstance(left, float) and isinstance(right, float) and math.isnan(left) and math.isnan(right):
        return True
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(same, left, right))
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(same(left[k], right[k]) for k in left)
    return type(left) is type(right) and left == right


def as_one_toml_value(text: str) -> tuple[bool, Any]:
    """Whether ``text`` is exactly one TOML value, and that value (read independently of parse_set)."""
    try:
        document = tomllib.loads(f"v = {text}")
    except (tomllib.TOMLDecodeError, RecursionError):
        return False, None
    return set(document) == {"v"}, document.get("v")


@FUZZ
@given(assignment=ASSIGNMENTS)
@example(assignment="slo.latency_p95_ms=1\nw = 2")
@example(assignment="slo.latency_p95_ms=120\n[slo]\nerror_rate = 1")
@example(assignment="a=" + "[" * 3000 + "]" * 3000)
def test_parse_set_reads_one_toml_value_or_keeps_the_text(assignment: str) -> None:
    """KEY=VALUE gives the key and one TOML value (else the text as given), or a ConfigError."""
    try:
        key, value = parse_set(assignment)
    except ConfigError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    written_key, _, text = assignment.partition("=")
    assert key == written_key.strip() and all(part for part in key.split("."))
    is_value, parsed = as_one_toml_value(text)
    if is_value:
        assert same(value, parsed), (value, parsed)
    else:  # "1\nw = 2" is no TOML value: it stays text, and its second line never becomes a key
        assert value == text


@FUZZ
@given(key=PROFILE_KEYS | DOTTED, value=SCALARS | VALUES)
@example(key="slo.latency_p95_ms", value=dt.datetime(1979, 5, 27, 7, 32, tzinfo=dt.UTC))
def test_a_toml_value_round_trips(key: str, value: Any) -> None:
    """Any value written as TOML comes back as that value under that key."""
    parsed_key, parsed = parse_set(f"{key}={toml_value(value)}")
    assert parsed_key == key
    assert same(parsed, value), (parsed, value)


@pytest.fixture
def folder(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """An empty working directory (no profiles/ that could shadow the shipped ones)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@FUZZ
@given(sets=st.lists(ASSIGNMENTS, min_size=1, max_size=4))
@example(sets=["services=1", "services.web.url=http://127.0.0.1:1"])
@example(sets=["slo.latency_p95_ms=1" + "0" * 400])
@example(sets=["services.web.url=http://[::1"])
@example(sets=[".".join(["x"] * 3000) + "=1"])
@example(sets=["0\n.0="])  # an unknown key with a newline: the error still reads on one line
def test_any_overrides_give_a_profile_or_a_config_error(folder: Any, sets: list[str]) -> None:
    """The shipped profile with any overrides loads, or is a ConfigError blaming --set, never a file."""
    try:
        profile = load_profile("dev", sets)
    except ConfigError as exc:
        assert "Traceback" not in str(exc) and "\n" not in str(exc)
        if exc.file is None:  # not KEY=VALUE at all: the error quotes the assignment
            assert "KEY=VALUE" in exc.reason and any(repr(a) in exc.reason for a in sets), exc
        else:
            assert exc.file == "--set", exc
        return
    key, value = parse_set(sets[-1])  # the last override wins: a scalar it set is what the profile holds
    resolved: Any = msgspec.to_builtins(profile.config)
    for part in key.split("."):
        resolved = resolved.get(part) if isinstance(resolved, dict) else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        assert resolved == value or (math.isnan(value) and math.isnan(resolved)), (key, value, resolved)
    elif isinstance(value, str) and "$" not in value and key in ("description", "risk.fail_on"):
        assert resolved == value, (key, value, resolved)


def assert_one_line_or_ok(result: Any) -> None:
    assert "Traceback" not in result.stdout + result.stderr
    assert result.exit_code in (0, 2), result.stdout + result.stderr
    if result.exit_code == 2:
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("spark: error:"), result.stderr


@FUZZ_CLI
@given(sets=st.lists(ASSIGNMENTS, min_size=1, max_size=3), command=st.sampled_from(["alerts", "dashboard"]))
@example(sets=["slo.latency_p95_ms=1e308"], command="alerts")
@example(sets=["slo.error_rate=5e-324"], command="dashboard")
@example(sets=["services.web\nx.url=http://127.0.0.1:1"], command="alerts")
def test_rendering_commands_exit_0_or_2(spark: Any, sets: list[str], command: str) -> None:
    """`spark alerts|dashboard --set ...` renders, or exits 2 with one line; never a traceback or exit 4."""
    args = [part for assignment in sets for part in ("--set", assignment)]
    result = spark(command, *args, "--out", "rendered.out")
    assert_one_line_or_ok(result)


@FUZZ_CLI
@given(sets=st.lists(ASSIGNMENTS, min_size=1, max_size=2))
def test_gate_with_any_overrides_exits_0_or_2(spark: Any, platform: Any, sets: list[str]) -> None:
    """`spark gate` (report-only) against a live platform with any overrides: exit 0, or 2 with one line."""
    args = [part for assignment in [*platform.sets(), *sets] for part in ("--set", assignment)]
    result = spark("gate", *args, "--no-evidence", "--format", "json")
    assert_one_line_or_ok(result)


LATENCY_SUITE = '[[checks]]\nname = "p95"\nkind = "latency"\nservice = "web"\n'


@FUZZ
@given(baseline=ODD_STRINGS | TEXT | st.sampled_from(["http://[::1", "https://", "http://a:99999/x", "dev"]))
@example(baseline="http://[::1")
def test_a_canary_baseline_binds_or_is_a_config_error(folder: Any, baseline: str) -> None:
    """`--set canary.baseline=...` with any value: a latency check binds to it or it is a ConfigError."""
    from spark_ops import registry
    from spark_ops.config import load_suite

    suite_file = folder / "latency.toml"
    suite_file.write_text(LATENCY_SUITE, encoding="utf-8")
    try:
        profile = load_profile("dev", [f"canary.baseline={toml_value(baseline)}"])
        prepared = registry.prepare(load_suite(str(suite_file)), profile)
    except ConfigError as exc:
        assert str(exc)
        return
    assert len(prepared) == 1

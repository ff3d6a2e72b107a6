"""Property-based fuzzing (hypothesis): hostile input meets only the project's documented errors.

Shared here: hypothesis settings that keep the default run bounded, and a small TOML writer with
strategies for hostile TOML values (huge ints, NaN and infinities, unicode, datetimes, deep nesting).
"""

from __future__ import annotations

import datetime as dt
import math
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

# Hypothesis also caches what it learns (constants of the code under test) in ./.hypothesis: keep that
# out of the repository too, in the machine's temporary folder.
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "spark-ops-hypothesis")

# Bounded for a shared 2-CPU machine (the whole tests/fuzz run stays under a minute); no example
# database, so a run writes nothing into the repository. `--hypothesis-seed=N` (and the blob printed
# with a failure, for @reproduce_failure) replays a failing case. function_scoped_fixture: the tests'
# fixtures (a working folder, the CLI runner) hold no state that one example could leave for the next.
settings.register_profile(
    "spark-fuzz",
    deadline=None,
    max_examples=150,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
FUZZ = settings.get_profile("spark-fuzz")
# For tests that send a request through the runner or write a folder of files per example.
FUZZ_IO = settings(FUZZ, max_examples=80)
# For tests that run the whole CLI per example (tens of ms each): fewer examples, and hypothesis'
# too_slow check (which fires when generation plus a run is slow) is expected there, not a bug.
FUZZ_CLI = settings(
    FUZZ,
    max_examples=40,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Text that can be written as UTF-8 (no lone surrogates), including control characters and NUL.
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)

HUGE_INTS = st.sampled_from([2**63, -(2**63) - 1, 10**30, -(10**40), 10**400, 2**64 + 1])
ODD_FLOATS = st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 5e-324, 1.7976931348623157e308])
ODD_STRINGS = st.sampled_from(
    [
        "",
        " ",
        "5s",
        "1e400",
        "-1",
        "NaN",
        "inf",
        "10 MB",
        "1h30m",
        "http://",
        "http://[::1",
        "http://a:99999",
        "http://a:-1/",
        "http://user:pa ss@host:1/",
        "https://[fe80::1%eth0]:8080/x",
        "ftp://127.0.0.1/",
        "//127.0.0.1:1/",
        "http://127.0.0.1:0",
        "javascript:alert(1)",
        "http://\u0000/",
        "http://例え.テスト/",
        "${SPARK_FUZZ_UNSET}",
        "${SPARK_FUZZ_UNSET:-http://127.0.0.1:1}",
        "${",
        "slo.latency_p95_ms",
        "slo",
        "services.web.url",
        "²",
        "2xx",
        "200-199",
        "٢٠٠",
        "a" * 300 + ".toml",
        "../../../../etc/passwd",
        "\u202e\u0301",
    ]
)
DATETIMES = st.one_of(
    st.datetimes(min_value=dt.datetime(1, 1, 1), timezones=st.none() | st.just(dt.UTC)),
    st.dates(),
    st.times(),
)
SCALARS = st.one_of(
    st.integers(),
    HUGE_INTS,
    st.floats(),
    ODD_FLOATS,
    st.booleans(),
    TEXT,
    ODD_STRINGS,
    DATETIMES,
)
KEYS = st.one_of(
    st.sampled_from(["url", "headers", "min", "max", "field", "op", "value", "name", "kind", "timeout_s"]),
    TEXT,
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=12,
)


def toml_string(text: str) -> str:
    """A TOML basic string (control characters escaped as \\uXXXX, as TOML requires)."""
    out = []
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def toml_value(value: Any) -> str:
    """``value`` as a TOML value (inline tables and arrays included)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return repr(value)  # inf, -inf and 1e+300 are TOML as repr writes them
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{toml_string(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    raise TypeError(type(value))


def toml_document(document: dict[str, Any], *, tables: bool = True) -> str:
    """A TOML document: top-level tables as ``[table]`` sections (or inline), lists of tables as ``[[x]]``."""
    lines = []
    later: list[str] = []
    for key, value in document.items():
        if tables and isinstance(value, dict) and value:
            later.append(f"[{toml_string(key)}]")
            later += [f"{toml_string(k)} = {toml_value(v)}" for k, v in value.items()]
        elif tables and isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for table in value:
                later.append(f"[[{toml_string(key)}]]")
                later += [f"{toml_string(k)} = {toml_value(v)}" for k, v in table.items()]
        else:
            lines.append(f"{toml_string(key)} = {toml_value(value)}")
    return "\n".join(lines + later) + "\n"

"""Fuzzing profile and suite loading: every TOML document loads or is a ConfigError, never a bare exception.

A ConfigError must name the file and the key that is wrong; what loads must hold only known keys, and a
suite that binds keeps its checks in order with the severity they were given.

Profiles and suites are generated from the documented shape with any value swapped for a hostile one
(huge ints, NaN and infinities, unicode, datetimes, nested tables, unknown kinds, bad URLs and
thresholds); raw bytes and mutated shipped files cover what no TOML writer would produce. A subset goes
through the CLI: exit 2 with one `spark: error:` line, never 4 and never a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from spark_ops import registry
from spark_ops.config import Suite, load_profile, load_suite
from spark_ops.config.files import shipped_dir
from spark_ops.config.schema import ProfileConfig
from spark_ops.errors import ConfigError
from spark_ops.model import Severity

from . import FUZZ, FUZZ_CLI, HUGE_INTS, KEYS, ODD_FLOATS, ODD_STRINGS, TEXT, VALUES, toml_document

KINDS = sorted(registry.discover())
NUMBERS = st.one_of(st.integers(-5, 10**6), st.floats(), HUGE_INTS, ODD_FLOATS)
THRESHOLDS = NUMBERS | st.sampled_from(
    ["slo.latency_p95_ms", "slo.error_rate", "slo", "services.web.url", "defaults.retries", "no.such", "."]
)
URLS = st.one_of(
    st.sampled_from(
        ["http://127.0.0.1:3003", "https://user:s3cret@host.example:8443/base?token=abc", "http://[::1]:1/"]
    ),
    ODD_STRINGS,
    TEXT,
)
SERVICE_NAMES = st.sampled_from(["web", "executor-1", "marketdata"]) | TEXT


def maybe(plausible: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly a plausible value, sometimes any hostile TOML value."""
    return st.one_of(plausible, plausible, VALUES)


def table(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """Some of ``fields`` (each maybe hostile), sometimes with an unknown key besides."""
    known = st.fixed_dictionaries({}, optional={key: maybe(value) for key, value in fields.items()})
    extra = st.dictionaries(KEYS, VALUES, max_size=1)
    return st.builds(lambda a, b: {**b, **a}, known, st.just({}) | extra)


SERVICE = table({"url": URLS, "headers": st.dictionaries(TEXT, TEXT | ODD_STRINGS, max_size=3)})
PROFILE = table(
    {
        "description": TEXT,
        "extends": st.sampled_from(["base", "dev", "production", "nope", "p.toml", "/dev/null", "./"])
        | ODD_STRINGS,
        "services": st.dictionaries(SERVICE_NAMES, maybe(SERVICE), max_size=3),
        "slo": table({"latency_p95_ms": NUMBERS, "error_rate": NUMBERS, "staleness_s": NUMBERS}),
        "defaults": table(
            {"timeout_s": NUMBERS, "retries": NUMBERS, "concurrency": NUMBERS, "max_body_bytes": NUMBERS}
        ),
        "prometheus": table({"url": URLS, "headers": st.dictionaries(TEXT, TEXT, max_size=2)}),
        "pm2": table({"max_restarts": NUMBERS, "max_memory_mb": NUMBERS, "min_uptime_s": NUMBERS}),
        "risk": table({"fail_on": st.sampled_from(["medium", "high", "critical", "HIGH", "low"])}),
        "canary": table(
            {"baseline": URLS, "alpha": NUMBERS, "max_slowdown": NUMBERS, "marginal_slowdown": NUMBERS}
        ),
    }
)

# Plausible values for the keys of every kind's options; keys not listed get any hostile value.
STATUSES = st.lists(
    st.integers(0, 1000) | HUGE_INTS | st.sampled_from(["2xx", "200-299", "6xx", "²", "٢٠٠", "200 - 204"]),
    max_size=3,
)
FIELD_PATHS = st.sampled_from(["status", "slo.latencyP95", "items.0", "items.²", "a..b", ""]) | TEXT
FIELD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "service": st.sampled_from(["web", "executor-1", "nope", ""]),
    "path": st.sampled_from(["/", "/api/healthz", "no-slash", "", "//x", "/%00"]) | TEXT,
    "url": URLS,
    "prometheus_url": URLS,
    "method": st.sampled_from(["GET", "POST", "get", "TRACE"]),
    "headers": st.dictionaries(TEXT, TEXT, max_size=2),
    "body": TEXT,
    "expect_status": STATUSES,
    "body_contains": st.lists(TEXT, max_size=2),
    "expect_json": st.lists(
        table(
            {
                "field": FIELD_PATHS,
                "op": st.sampled_from(["==", "!=", "<", "<=", ">", ">=", "in", "~="]),
                "value": VALUES,
            }
        ),
        max_size=2,
    ),
    "follow_redirects": st.booleans(),
    "field": FIELD_PATHS,
    "require": st.lists(TEXT, max_size=2),
    "values": st.lists(
        table({"metric": TEXT, "labels": st.dictionaries(TEXT, TEXT), "min": THRESHOLDS, "max": THRESHOLDS}),
        max_size=2,
    ),
    "file": st.sampled_from(["/nonexistent/pm2.json", "pm2.json", ""]),
    "command": st.sampled_from(["pm2 jlist", "", "   "]),
    "processes": st.lists(TEXT, max_size=2),
    "query": st.sampled_from(["up", "   ", "sum(rate(x[5m]))"]) | TEXT,
    "aggregate": st.sampled_from(["each", "any", "all"]),
    "on_no_data": st.sampled_from(["inconclusive", "fail", "pass"]),
    "severity": st.sampled_from(["critical", "major", "minor", "blocker"]),
    "description": TEXT,
}


def field_values(name: str) -> st.SearchStrategy[Any]:
    if name in FIELD_VALUES:
        return FIELD_VALUES[name]
    if name.startswith(("min", "max", "warn")):
        return THRESHOLDS
    return NUMBERS


@st.composite
def checks(draw: st.DrawFn) -> dict[str, Any]:
    """One ``[[checks]]`` table: a known kind with some of its keys, or an unknown kind."""
    kind = draw(st.sampled_from([*KINDS, "nope", ""]) | TEXT)
    keys: list[str] = ["severity", "timeout_s", "retries", "description"]
    if kind in KINDS:
        keys += sorted(registry.load_kind(kind).Options.__struct_fields__)
    chosen = draw(st.lists(st.sampled_from(keys), unique=True, max_size=6))
    check: dict[str, Any] = {"name": draw(maybe(st.sampled_from(["a", "b"]) | TEXT)), "kind": kind}
    check.update({key: draw(maybe(field_values(key))) for key in chosen})
    return check


SUITE = table({"description": TEXT, "checks": st.lists(checks(), min_size=1, max_size=3)})


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory, with no SPARK_ variable that could leak into ${ENV} interpolation."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SPARK_FUZZ_UNSET", raising=False)
    return tmp_path


def load_or_config_error(load: Any, *args: Any, **kwargs: Any) -> Any:
    """``load(*args, **kwargs)``, or the ConfigError it raised: anything else fails the test."""
    try:
        return load(*args, **kwargs)
    except ConfigError as exc:
        assert exc.reason and exc.file, f"a ConfigError names a file and says why: {exc}"
        return exc


def written_key(key: str | None, document: dict[str, Any]) -> bool:
    """Whether dotted ``key`` lies under a top-level key of ``document`` (keys may hold dots themselves)."""
    tops = [top or '""' for top in document]  # an empty key is named as TOML writes it
    return key is not None and any(key == top or key.startswith((f"{top}.", f"{top}[")) for top in tops)


def prepare_or_config_error(profile_file: Path, suite_file: Path, sets: tuple[str, ...] = ()) -> Any:
    """Load profile and suite and bind the checks, as `spark gate` does before it sends anything."""
    profile = load_or_config_error(load_profile, str(profile_file), sets)
    if isinstance(profile, ConfigError):
        return profile
    suite = load_or_config_error(load_suite, str(suite_file))
    if isinstance(suite, ConfigError):
        return suite
    return load_or_config_error(registry.prepare, suite, profile)


@FUZZ
@given(document=PROFILE, tables=st.booleans())
@example(document={"services": {"web": {"url": "http://[::1"}}}, tables=True)
@example(document={"services": {"web": {"url": "http://a:99999"}}}, tables=True)
@example(document={"extends": "a" * 300 + ".toml"}, tables=True)
@example(document={"extends": "nul\u0000.toml"}, tables=True)
@example(document={"defaults": {"timeout_s": 10**400}}, tables=False)
def test_profile_loads_or_is_a_config_error(folder: Path, document: dict[str, Any], tables: bool) -> None:
    """Any profile document gives a Profile or a ConfigError."""
    path = folder / "p.toml"
    path.write_text(toml_document(document, tables=tables), encoding="utf-8")
    loaded = load_or_config_error(load_profile, str(path))
    if isinstance(loaded, ConfigError):
        if loaded.file == str(path):  # the error is about a key this document wrote
            assert written_key(loaded.key, document), (loaded.key, document)
        else:  # only the file it extends can be named instead, and then as a whole (unreadable, no TOML)
            assert isinstance(document.get("extends"), str) and loaded.key is None, loaded
        return
    assert set(document) <= set(ProfileConfig.__struct_fields__), "an unknown key was accepted"
    for name in loaded.config.services:  # every service URL was validated: a check can always target it
        target = loaded.target(service=name, path="/", url=None)
        assert target.url.startswith(("http://", "https://")), target.url


@FUZZ
@given(document=SUITE, tables=st.booleans())
@example(document={"checks": [{"name": "a", "kind": "http", "expect_status": ["²"]}]}, tables=True)
@example(document={"checks": [{"name": "a", "kind": "http", "url": "http://[::1"}]}, tables=True)
@example(document={"checks": [{"name": "a", "kind": "slo", "field": "x", "max": 10**400}]}, tables=True)
@example(
    document={"checks": [{"name": "a", "kind": "latency", "service": "web", "count": 10**30}]}, tables=True
)
def test_suite_loads_and_binds_or_is_a_config_error(
    folder: Path, document: dict[str, Any], tables: bool
) -> None:
    """Any suite document, bound to the shipped dev profile, gives checks or a ConfigError."""
    path = folder / "s.toml"
    path.write_text(toml_document(document, tables=tables), encoding="utf-8")
    outcome = prepare_or_config_error(shipped_dir("profiles") / "dev.toml", path)
    if isinstance(outcome, ConfigError):  # the shipped profile is valid: the suite file and its key are named
        assert outcome.file == str(path), outcome
        assert outcome.key == "checks" or written_key(outcome.key, document), (outcome.key, document)
        return
    entries = document["checks"]
    assert [check.name for check in outcome] == [entry["name"] for entry in entries]
    assert [check.spec.severity for check in outcome] == [
        Severity(entry.get("severity", "major")) for entry in entries
    ]


def mutate(text: bytes, edits: list[tuple[int, int, bytes]]) -> bytes:
    """``text`` with each (position, length to delete, bytes to insert) edit applied in turn."""
    for position, length, inserted in edits:
        at = position % (len(text) + 1)
        text = text[:at] + inserted + text[at + length :]
    return text


SHIPPED = sorted([*shipped_dir("profiles").glob("*.toml"), *shipped_dir("checks").glob("*.toml")])
EDITS = st.lists(
    st.tuples(
        st.integers(0, 10_000),
        st.integers(0, 40),
        st.binary(max_size=8)
        | st.sampled_from([b"\n[x]\n", b"=", b'"', b"\xff\xfe", b"nan", b"1e999", b"[[checks]]\n", b"\x00"]),
    ),
    min_size=1,
    max_size=5,
)


@FUZZ
@given(shipped=st.sampled_from(SHIPPED), edits=EDITS)
def test_mutated_shipped_files_load_or_are_config_errors(
    folder: Path, shipped: Path, edits: list[tuple[int, int, bytes]]
) -> None:
    """A shipped profile or suite with bytes deleted, inserted or broken: loaded, or a ConfigError."""
    path = folder / "m.toml"
    path.write_bytes(mutate(shipped.read_bytes(), edits))
    load = load_profile if shipped.parent.name == "profiles" else load_suite
    load_or_config_error(load, str(path))


@FUZZ
@given(data=st.binary(max_size=200))
@example(data=b"\xff\xfe[a]")
@example(data=b"a = " + b"[" * 5000 + b"]" * 5000)
def test_raw_bytes_load_or_are_config_errors(folder: Path, data: bytes) -> None:
    """Bytes that are no TOML, or no UTF-8, are a ConfigError as profile and as suite."""
    path = folder / "raw.toml"
    path.write_bytes(data)
    load_or_config_error(load_profile, str(path))
    load_or_config_error(load_suite, str(path))


DEEP = 3000


@pytest.mark.parametrize(
    "text",
    [
        "description = " + "[" * DEEP + "]" * DEEP,
        "description = " + "{a = " * DEEP + "1" + "}" * DEEP,
        ".".join(["slo"] * DEEP) + " = 1",
        "[" + ".".join(["x"] * DEEP) + "]",
        "extends = " + repr("a" * 300 + ".toml"),
    ],
    ids=["deep-array", "deep-inline-table", "deep-dotted-key", "deep-table-header", "long-extends"],
)
@pytest.mark.parametrize("kind", ["profile", "suite"])
def test_deep_or_long_documents_are_config_errors(folder: Path, text: str, kind: str) -> None:
    """Nesting deeper than any real file, or names longer than the OS takes, are configuration errors."""
    path = folder / "deep.toml"
    path.write_text(text + "\n", encoding="utf-8")
    with pytest.raises(ConfigError):
        (load_profile if kind == "profile" else load_suite)(str(path))


def test_a_profile_name_longer_than_the_os_takes_is_a_config_error(folder: Path) -> None:
    """`--profile` naming a file whose name the OS refuses is a ConfigError, not an OSError."""
    with pytest.raises(ConfigError):
        load_profile("a" * 300 + ".toml")
    with pytest.raises(ConfigError):
        load_suite("a" * 300 + ".toml")
    with pytest.raises(ConfigError):  # a run's result.json names the profile an export reloads
        load_profile("nul\u0000.toml")


# --- through the CLI --------------------------------------------------------------------------------


@FUZZ_CLI
@given(profile=PROFILE, suite=SUITE)
def test_cli_exits_2_with_one_line_or_validates(
    spark: Any, folder: Path, profile: dict[str, Any], suite: dict[str, Any]
) -> None:
    """`spark gate` on a bad pair exits 2 with one error line; a good pair validates with exit 0."""
    profile_file, suite_file = folder / "p.toml", folder / "s.toml"
    profile_file.write_text(toml_document(profile), encoding="utf-8")
    suite_file.write_text(toml_document(suite), encoding="utf-8")
    outcome = prepare_or_config_error(profile_file, suite_file)
    if isinstance(outcome, ConfigError):
        result = spark("gate", "--profile", str(profile_file), "--suite", str(suite_file), "--no-evidence")
        assert "Traceback" not in result.stdout + result.stderr
        assert result.exit_code == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("spark: error:"), result.stderr
    else:  # nothing is sent for a valid pair: validation alone
        result = spark("profiles", "validate", str(profile_file), "--suite", str(suite_file))
        assert result.exit_code == 0, result.stdout + result.stderr


def test_loaded_objects_have_the_documented_types(folder: Path) -> None:
    """The helpers above see a Suite for a minimal valid suite (the fuzz tests are not vacuous)."""
    path = folder / "s.toml"
    path.write_text(toml_document({"checks": [{"name": "a", "kind": "http", "service": "web"}]}))
    assert isinstance(load_or_config_error(load_suite, str(path)), Suite)

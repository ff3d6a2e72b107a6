"""Suites (spark_ops/config/suite.py): errors naming file and key, typed specs, shipped suites, ./checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import GATE_CHECKS, assert_config_error

from spark_ops.config import CheckSpec, load_suite
from spark_ops.model import Severity

SLO_CHECK = 'name = "p95"\nkind = "slo"\nservice = "web"\npath = "/api/healthz"\nfield = "slo.latencyP95"\n'

# (suite text, fragments the one error line must contain besides the file name)
SUITE_ERRORS = [
    pytest.param("[[checks]\nname = 1\n", ["invalid TOML"], id="broken-toml"),
    pytest.param(
        "[[checks]]\n" + SLO_CHECK + "maxx = 150\n", ["checks[0].maxx", "unknown key"], id="unknown-key-maxx"
    ),
    pytest.param('[[checks]]\nkind = "http"\nservice = "web"\n', ["checks[0]", "name"], id="missing-name"),
    pytest.param('[[checks]]\nname = "up"\nservice = "web"\n', ["checks[0]", "kind"], id="missing-kind"),
    pytest.param(
        '[[checks]]\nname = "up"\nkind = "http"\nservice = "web"\n'
        '[[checks]]\nname = "up"\nkind = "http"\nservice = "web"\npath = "/x"\n',
        ["checks[1].name", "duplicate", "up"],
        id="duplicate-names",
    ),
    pytest.param(
        '[[checks]]\nname = "up"\nkind = "http"\nservice = "web"\nseverity = "blocker"\n',
        ["checks[0].severity", "blocker"],
        id="unknown-severity",
    ),
    pytest.param(
        '[[checks]]\nname = "up"\nkind = "htttp"\nservice = "web"\n',
        ["checks[0].kind", "htttp", "http", "metrics", "slo"],
        id="unknown-kind-lists-known",
    ),
    pytest.param(
        '[[checks]]\nname = "up"\nkind = "http"\nservice = "web-2"\n',
        ["checks[0].service", "web-2", "executor-1"],
        id="service-not-in-profile",
    ),
    pytest.param(
        "[[checks]]\n" + SLO_CHECK + 'max = "slo.latency_p99_ms"\n',
        ["checks[0].max", "slo.latency_p99_ms"],
        id="threshold-names-missing-profile-key",
    ),
    pytest.param(
        "[[checks]]\n" + SLO_CHECK + 'max = "services.web"\n',
        ["checks[0].max", "services.web", "not a number"],
        id="threshold-names-a-table",
    ),
    pytest.param("[[checks]]\n" + SLO_CHECK + "max = true\n", ["checks[0].max"], id="threshold-boolean"),
    pytest.param("[[checks]]\n" + SLO_CHECK, ["checks[0]", "min or max"], id="slo-without-bounds"),
    pytest.param(
        '[[checks]]\nname = "up"\nkind = "http"\nservice = "web"\ntimeout_s = 0\n',
        ["checks[0].timeout_s"],
        id="zero-timeout",
    ),
    pytest.param(
        '[[checks]]\nname = "up"\nkind = "http"\nservice = "web"\npath = "api"\n',
        ["checks[0].path"],
        id="path-without-slash",
    ),
    pytest.param(
        '[[checks]]\nname = "up"\nkind = "http"\nurl = "ftp://127.0.0.1/"\n',
        ["checks[0].url"],
        id="url-not-http",
    ),
    pytest.param(
        '[[checks]]\nname = "up"\nkind = "http"\n', ["checks[0]", "service"], id="neither-service-nor-url"
    ),
    pytest.param(
        '[[checks]]\nname = ""\nkind = "http"\nservice = "web"\n', ["checks[0].name"], id="empty-name"
    ),
    pytest.param('description = "nothing to do"\n', ["checks", "at least one"], id="empty-suite"),
    pytest.param("", ["checks", "at least one"], id="empty-file"),
    pytest.param("checks = []\n", ["checks", "at least one"], id="empty-checks-array"),
    pytest.param('[[check]]\nname = "up"\n', ["check", "unknown key"], id="unknown-top-level-key"),
    pytest.param(
        '[[checks]]\nname = "up"\nkind = "http"\nservice = "web"\nindex = 5\n',
        ["checks[0].index", "unknown key"],
        id="index-is-not-an-entry-key",
    ),
    pytest.param(
        '[[checks]]\nname = "up"\nkind = "http"\noptions = { service = "web" }\n',
        ["checks[0].options", "unknown key"],
        id="options-is-not-an-entry-key",
    ),
    pytest.param(
        '[[checks]]\nname = "up"\nkind = "http"\nservice = "web"\n"" = 1\n',
        ['checks[0]."": unknown key'],
        id="empty-key",
    ),
    pytest.param(
        '"" = 1\n[[checks]]\n' + SLO_CHECK + "max = 1\n", ['"": unknown key'], id="empty-top-level-key"
    ),
    pytest.param(
        "description = 3\n[[checks]]\n" + SLO_CHECK + "max = 1\n", ["description"], id="description-type"
    ),
]


@pytest.mark.parametrize("command", ["gate", "validate"])
@pytest.mark.parametrize(("text", "fragments"), SUITE_ERRORS)
def test_suite_error_exits_2_with_one_line_naming_file_and_key(
    spark: Any, tmp_path: Path, command: str, text: str, fragments: list[str]
) -> None:
    """A broken suite stops gate and validate with exit 2 and one line naming the suite file and key."""
    (tmp_path / "suite.toml").write_text(text)
    if command == "gate":
        result = spark("gate", "--suite", "suite.toml", "--no-evidence")
    else:
        result = spark("profiles", "validate", "dev", "--suite", "suite.toml")
    assert_config_error(result, "suite.toml", *fragments)


@pytest.mark.parametrize(
    ("ref", "fragments"),
    [
        pytest.param("nightly", ["nightly", "gate", "smoke"], id="unknown-suite-name"),
        pytest.param("missing.toml", ["missing.toml", "does not exist"], id="missing-suite-file"),
    ],
)
def test_unknown_suite_exits_2(spark: Any, ref: str, fragments: list[str]) -> None:
    """An unknown suite name or missing suite file is a configuration error naming it."""
    assert_config_error(spark("gate", "--suite", ref, "--no-evidence"), *fragments)


def test_threshold_key_exists_in_one_profile_only(spark: Any, tmp_path: Path) -> None:
    """A threshold naming a profile key is checked against the profile in use."""
    (tmp_path / "suite.toml").write_text("[[checks]]\n" + SLO_CHECK + 'max = "slo.custom_ms"\n')
    assert_config_error(spark("profiles", "validate", "dev", "--suite", "suite.toml"), "checks[0].max")
    (tmp_path / "p.toml").write_text('extends = "dev"\n[slo]\nlatency_p95_ms = 1\n')
    # An unknown key in [slo] is itself an error, so a custom threshold cannot hide a typo there.
    assert_config_error(
        spark("profiles", "validate", "p.toml", "--suite", "suite.toml", "--set", "slo.custom_ms=5"),
        "slo.custom_ms",
    )


@pytest.mark.parametrize(
    "threshold", ["services.web", "services.web.headers.Authorization", "services.web.url"]
)
def test_threshold_error_does_not_print_profile_secrets(
    spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, threshold: str
) -> None:
    """A threshold naming a non-number key is an error that shows the value with its secrets masked."""
    monkeypatch.setenv("SPARK_WEB_TOKEN", "topsecrettoken")
    (tmp_path / "p.toml").write_text(
        'extends = "dev"\n[services.web]\nurl = "http://ops:pw-12345@127.0.0.1:3003"\n'
        'headers = { Authorization = "Bearer ${SPARK_WEB_TOKEN}" }\n'
    )
    (tmp_path / "suite.toml").write_text("[[checks]]\n" + SLO_CHECK + f'max = "{threshold}"\n')
    line = assert_config_error(
        spark("gate", "--profile", "p.toml", "--suite", "suite.toml", "--no-evidence"),
        "suite.toml",
        "checks[0].max",
    )
    assert "topsecrettoken" not in line
    assert "pw-12345" not in line


def test_shipped_suites_validate_against_shipped_profiles(spark: Any) -> None:
    """gate and smoke validate against dev and production (every service and threshold key exists)."""
    for profile in ("dev", "production"):
        result = spark("profiles", "validate", profile, "--suite", "gate", "--suite", "smoke")
        assert result.exit_code == 0, result.stderr
        assert "ok: suite gate" in result.stdout and "ok: suite smoke" in result.stdout


def test_an_entry_is_parsed_once_into_a_typed_spec(tmp_path: Path) -> None:
    """Each entry is one CheckSpec: shared keys typed (severity a Severity), its index, the kind's keys."""
    (tmp_path / "suite.toml").write_text(
        '[[checks]]\nname = "a"\nkind = "http"\nservice = "web"\n'
        '[[checks]]\nname = "b"\nkind = "slo"\nseverity = "minor"\ntimeout_s = 2.5\nretries = 0\n'
        'description = "p95"\nurl = "http://127.0.0.1:1/h"\nfield = "p95"\nmax = 1\n',
        encoding="utf-8",
    )
    first, second = load_suite(str(tmp_path / "suite.toml")).checks
    assert first == CheckSpec(name="a", kind="http", index=0, options={"service": "web"})
    assert first.severity is Severity.MAJOR and first.timeout_s is None and first.retries is None
    assert second == CheckSpec(
        name="b",
        kind="slo",
        severity=Severity.MINOR,
        timeout_s=2.5,
        retries=0,
        description="p95",
        index=1,
        options={"url": "http://127.0.0.1:1/h", "field": "p95", "max": 1},
    )


# --- shipped suites ------------------------------------------------------------------------------------


def test_gate_suite_holds_the_six_spec_checks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The shipped gate suite has exactly SPEC's six checks, the SLOs judged against profile keys."""
    monkeypatch.chdir(tmp_path)
    suite = load_suite("gate")
    assert [check.name for check in suite.checks] == list(GATE_CHECKS)
    slo_max = {check.name: check.options.get("max") for check in suite.checks if check.kind == "slo"}
    assert slo_max == {
        "healthz.slo.latencyP95": "slo.latency_p95_ms",
        "healthz.slo.errorRate": "slo.error_rate",
        "healthz.slo.staleness": "slo.staleness_s",
    }


def test_smoke_suite_checks_five_pages_and_healthz(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The shipped smoke suite asks the five pages and /api/healthz (6 checks)."""
    monkeypatch.chdir(tmp_path)
    paths = sorted(check.options["path"] for check in load_suite("smoke").checks)
    assert paths == sorted(["/", "/dashboard", "/portfolio", "/strategies", "/settings", "/api/healthz"])


def test_gate_runs_the_six_checks_from_an_empty_directory(spark: Any, platform: Any, tmp_path: Path) -> None:
    """`spark gate` in an empty directory finds the shipped profile and suite and runs the six checks."""
    assert not any(tmp_path.iterdir())
    result = spark("gate", "--no-evidence", "-f", "json", *platform.sets())
    assert result.exit_code == 0, result.stdout + result.stderr
    document = json.loads(result.stdout)
    assert (document["profile"], document["suite"]) == ("dev", "gate")
    assert [check["name"] for check in document["checks"]] == list(GATE_CHECKS)


def test_checks_list_from_an_empty_directory(spark: Any) -> None:
    """`spark checks list` shows the built-in kinds and the shipped suites from any directory."""
    result = spark("checks", "list")
    assert result.exit_code == 0, result.stderr
    kinds, _, suites = result.stdout.partition("suites:")
    kind_names = {line.split()[0] for line in kinds.splitlines()[1:] if line.strip()}
    assert {"http", "slo", "metrics", "latency"} <= kind_names
    rows = {line.split()[0]: line for line in suites.splitlines() if line.strip()}
    assert set(rows) == {"canary", "gate", "smoke"}
    assert "6 checks" in rows["gate"] and "6 checks" in rows["smoke"]


def test_local_suites_override_and_add(spark: Any, platform: Any, tmp_path: Path) -> None:
    """./checks/NAME.toml replaces a shipped suite of that name and adds new names."""
    local = tmp_path / "checks"
    local.mkdir()
    (local / "gate.toml").write_text(
        'description = "my gate"\n[[checks]]\nname = "only.ui"\nkind = "http"\nservice = "web"\npath = "/"\n'
    )
    (local / "nightly.toml").write_text(
        'description = "nightly"\n[[checks]]\nname = "n.metrics"\nkind = "http"\nservice = "executor-1"\n'
        'path = "/metrics"\n'
    )
    listed = spark("checks", "list")
    assert listed.exit_code == 0, listed.stderr
    rows = {
        line.split()[0]: line for line in listed.stdout.partition("suites:")[2].splitlines() if line.strip()
    }
    assert set(rows) == {"canary", "gate", "smoke", "nightly"}
    assert "1 checks: my gate" in rows["gate"] and str(local / "gate.toml") in rows["gate"]

    for suite, names in (("gate", ["only.ui"]), ("nightly", ["n.metrics"]), ("smoke", None)):
        result = spark("gate", "--suite", suite, "--no-evidence", "-f", "json", *platform.sets())
        assert result.exit_code == 0, result.stdout + result.stderr
        document = json.loads(result.stdout)
        assert document["suite"] == suite
        if names is not None:
            assert [check["name"] for check in document["checks"]] == names
        else:
            assert document["summary"]["total"] == 6


def test_broken_local_suite_fails_checks_list_naming_it(spark: Any, tmp_path: Path) -> None:
    """A broken ./checks/*.toml is reported by `spark checks list` with its file, not skipped silently."""
    (tmp_path / "checks").mkdir()
    (tmp_path / "checks" / "bad.toml").write_text("[[checks]\n")
    assert_config_error(spark("checks", "list"), "bad.toml", "invalid TOML")

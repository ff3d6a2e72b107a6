"""Exit codes 0-4 as SPEC documents them, and what a user sees for usage errors and internal errors."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from conftest import ROOT, assert_config_error

import spark_ops.evidence
import spark_ops.pipeline
import spark_ops.report.json
import spark_ops.report.table
from spark_ops.errors import ConfigError, ExitCode, SparkOpsError


def readme_exit_codes() -> dict[int, str]:
    """The README's "Exit codes" table: code -> meaning."""
    section = (
        (ROOT / "README.md").read_text(encoding="utf-8").split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    )
    rows = re.findall(r"^\| (\d+) \| (.+?) \|$", section, flags=re.MULTILINE)
    return {int(code): meaning for code, meaning in rows}


def test_the_readme_documents_every_exit_code_and_no_other():
    """The README's exit-code table lists exactly the members of ExitCode, each by its number."""
    assert sorted(readme_exit_codes()) == sorted(int(code) for code in ExitCode)


def _make_internal_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(spark_ops.pipeline, "execute", _raise)


INCONCLUSIVE_SUITE = '[[checks]]\nname = "orders"\nkind = "metrics"\nservice = "executor-1"\n' + (
    'values = [{ metric = "spark_orders_filled_total", min = 1 }]\n'
)
# Each documented exit code, and a gate scenario (fake platform -> extra options) that must end in it.
EXIT_SCENARIOS = {
    ExitCode.OK: (lambda platform, *_: None, []),
    ExitCode.VERDICT_FAILED: (lambda platform, *_: platform.health["slo"].update(latencyP95=400), []),
    ExitCode.USAGE_ERROR: (lambda platform, *_: None, ["--fail-on", "low"]),
    ExitCode.INCONCLUSIVE: (
        lambda platform, *_: Path("inconclusive.toml").write_text(INCONCLUSIVE_SUITE, encoding="utf-8"),
        ["--suite", "inconclusive.toml"],
    ),
    ExitCode.INTERNAL_ERROR: (
        lambda _platform, monkeypatch, tmp_path: _make_internal_error(monkeypatch, tmp_path),
        [],
    ),
}


def test_every_exit_code_has_a_scenario():
    """The scenario table below covers every member of ExitCode (a new code needs a scenario)."""
    assert set(EXIT_SCENARIOS) == set(ExitCode)


@pytest.mark.parametrize(
    ("code", "scenario"), list(EXIT_SCENARIOS.items()), ids=[code.name for code in EXIT_SCENARIOS]
)
def test_each_exit_code_is_what_a_real_gate_returns(platform, spark, monkeypatch, tmp_path, code, scenario):
    """`spark gate --exit-on-fail` exits with each documented code (0-4) in the scenario that means it."""
    make, options = scenario
    make(platform, monkeypatch, tmp_path)
    result = spark("gate", "--exit-on-fail", "--no-evidence", *options, *platform.sets())
    assert result.exit_code == int(code), result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("error", "code"),
    [(ConfigError("bad"), ExitCode.USAGE_ERROR), (SparkOpsError("bug"), ExitCode.INTERNAL_ERROR)],
    ids=["config-error-is-2", "plain-error-is-4"],
)
def test_a_library_error_exits_with_its_class_code_and_one_line(platform, spark, monkeypatch, error, code):
    """A ConfigError raised mid-run exits 2, any other spark-ops error 4: one `spark: error:` line each."""

    def fail(*_args: object, **_kwargs: object) -> None:
        raise error

    monkeypatch.setattr(spark_ops.pipeline, "execute", fail)
    result = spark("gate", "--no-evidence", *platform.sets())
    assert result.exit_code == int(code)
    assert result.stderr == f"spark: error: {error}\n"


UNKNOWN_KIND_SUITE = '[[checks]]\nname = "x"\nkind = "nope"\nservice = "web"\n'

USAGE_ERRORS = {
    "bad-format": ["gate", "--format", "nope"],
    "bad-fail-on": ["gate", "--fail-on", "low"],
    "unknown-option": ["gate", "--no-such-option"],
    "unknown-profile": ["gate", "--profile", "no-such-profile"],
    "unknown-suite": ["gate", "--suite", "no-such-suite"],
    "unknown-kind": ["gate", "--suite", "unknown-kind.toml"],
    "bad-set": ["gate", "--set", "no-equals-sign"],
}


@pytest.mark.parametrize("args", list(USAGE_ERRORS.values()), ids=list(USAGE_ERRORS))
def test_usage_and_configuration_errors_exit_2_without_traceback(spark, args):
    """A bad option, profile, suite or kind exits 2 with a message and no traceback, before any check runs."""
    Path("unknown-kind.toml").write_text(UNKNOWN_KIND_SUITE, encoding="utf-8")
    result = spark(*args, "--no-evidence")
    assert result.exit_code == 2, result.stdout + result.stderr
    assert result.stderr.strip()
    assert "Traceback" not in result.stdout + result.stderr


def _raise(*_args, **_kwargs):
    raise RuntimeError("injected bug")


def test_internal_error_line_masks_a_url_password(platform, spark, monkeypatch, tmp_path):
    """The one line a user sees for an internal error never shows a password from a URL."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    def leak(*_args, **_kwargs):
        raise RuntimeError("GET http://ops:pa55word@127.0.0.1/ failed")

    monkeypatch.setattr(spark_ops.pipeline, "execute", leak)
    result = spark("gate", "--no-evidence", *platform.sets())
    assert result.exit_code == 4
    assert "pa55word" not in result.stderr


@pytest.mark.parametrize(
    "args", [["gate", "--report-json", "."], ["alerts", "--out", "."]], ids=["report", "alerts"]
)
def test_a_folder_where_a_file_belongs_is_a_usage_error(spark, platform, args):
    """A folder given for an output file is exit 2 naming the option, not a crash."""
    assert_config_error(spark(*args, *(platform.sets() if args[0] == "gate" else [])), args[1], "is a folder")


@pytest.mark.parametrize(
    ("expect_status", "extra", "code"),
    [([200], [], 0), ([404], ["--exit-on-fail"], 1)],
    ids=["pass", "fail-enforced"],
)
def test_a_reader_that_closes_the_pipe_changes_neither_the_exit_code_nor_the_evidence(
    httpserver, tmp_path, expect_status, extra, code
):
    """`spark gate | head`: the reader may leave before the table is written. The gate used to die with
    BrokenPipeError (exit 4, a crash report, no evidence); the rest of the output now goes nowhere and the
    run ends as it would have, kept."""
    httpserver.expect_request("/").respond_with_data("ok")
    suite = tmp_path / "one.toml"
    url = httpserver.url_for("/")
    suite.write_text(
        f'[[checks]]\nname = "one"\nkind = "http"\nurl = "{url}"\nexpect_status = {expect_status}\n'
    )
    reader, writer = os.pipe()
    os.close(reader)  # the reader has gone before anything is written
    try:
        completed = subprocess.run(
            [sys.executable, "-m", "spark_ops", "gate", "--suite", str(suite), *extra],
            stdout=writer,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
            timeout=60,
        )
    finally:
        os.close(writer)
    assert completed.returncode == code, completed.stderr
    assert "internal error" not in completed.stderr
    assert "run kept in evidence/runs/" in completed.stderr
    assert len(list((tmp_path / "evidence" / "runs").iterdir())) == 1

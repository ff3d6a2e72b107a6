"""Exit codes 0-4 as SPEC documents them, and what a user sees for usage errors and internal errors."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest
from conftest import assert_config_error

import spark_ops.evidence
import spark_ops.pipeline
import spark_ops.report.json
import spark_ops.report.table
from spark_ops.errors import ConfigError, ExitCode, SparkOpsError


@pytest.mark.parametrize(
    ("member", "value"),
    [
        (ExitCode.OK, 0),
        (ExitCode.VERDICT_FAILED, 1),
        (ExitCode.USAGE_ERROR, 2),
        (ExitCode.INCONCLUSIVE, 3),
        (ExitCode.INTERNAL_ERROR, 4),
    ],
    ids=lambda item: item.name if isinstance(item, ExitCode) else str(item),
)
def test_exit_code_values_match_spec(member, value):
    """Each documented exit code has the number SPEC gives it."""
    assert member == value
    assert int(member) == value


def test_exit_codes_are_exactly_0_to_4():
    """There are no undocumented exit codes."""
    assert sorted(int(code) for code in ExitCode) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(
    ("error", "code"),
    [(ConfigError("bad"), ExitCode.USAGE_ERROR), (SparkOpsError("bug"), ExitCode.INTERNAL_ERROR)],
    ids=["config-error-is-2", "plain-error-is-4"],
)
def test_error_classes_carry_their_exit_code(error, code):
    """A configuration error means exit 2; any other spark-ops error is internal (4)."""
    assert error.exit_code is code


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


INTERNAL_ERRORS = {
    "pipeline-execute": (spark_ops.pipeline, "execute", "table"),
    "json-reporter": (spark_ops.report.json, "render", "json"),
    "table-reporter": (spark_ops.report.table, "render", "table"),
    "evidence-store": (spark_ops.evidence, "store_run", "table"),
}


@pytest.mark.parametrize("enforce", [True, False], ids=["exit-on-fail", "report-only"])
@pytest.mark.parametrize(
    ("module", "attribute", "output"), list(INTERNAL_ERRORS.values()), ids=list(INTERNAL_ERRORS)
)
def test_internal_error_exits_4_with_one_line_and_a_details_file(
    platform, spark, monkeypatch, tmp_path, module, attribute, output, enforce
):
    """A bug exits 4 (never 0, even report-only): one stderr line naming a file holding the traceback."""
    crash_dir = tmp_path / "crash"
    crash_dir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(crash_dir))
    monkeypatch.setattr(module, attribute, _raise)
    options = ["--exit-on-fail"] if enforce else []
    evidence = [] if attribute == "store_run" else ["--no-evidence"]
    result = spark("gate", "--format", output, *options, *evidence, *platform.sets())
    assert result.exit_code == 4
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "injected bug" in lines[0]
    named = re.search(r"details in (\S+?)\)?$", lines[0])
    assert named, lines[0]
    details = Path(named[1])
    assert details.is_file()
    assert details.parent == crash_dir
    text = details.read_text(encoding="utf-8")
    assert "Traceback" in text
    assert "RuntimeError: injected bug" in text


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

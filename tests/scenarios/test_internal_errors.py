"""A bug in spark-ops itself, in any stage of a run, exits 4 with one line naming the details file.

Stages (SPEC: exit code 4 "internal error: a bug; never reported as 0"): load (profile, suite, binding the
checks, a third-party kind whose constructor crashes), run (the runner), judge (risk and exit code),
report (the renderers) and evidence (the store). Each is broken in turn for ``spark gate`` against a fake
platform and ``spark canary --mode mock`` against the embedded simulator, with and without the verdict
setting the exit code: a bug is never exit 0, not even report-only.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any, ClassVar

import msgspec
import pytest
from conftest import write_suite

import spark_ops.config.profile
import spark_ops.evidence
import spark_ops.pipeline
import spark_ops.registry
import spark_ops.report.json
import spark_ops.report.junit
import spark_ops.report.table
import spark_ops.risk
import spark_ops.runner
from spark_ops.model import Judgement, Status

INJECTED = "injected bug 7f3a"


def _raise(*_args: Any, **_kwargs: Any) -> Any:
    raise RuntimeError(INJECTED)


def _exit(*_args: Any, **_kwargs: Any) -> Any:
    sys.exit(0)  # what a stray sys.exit() in library code does: without care, a silent exit 0


class CrashingKindOptions(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    service: str = "web"


class CrashingKind:
    """A third-party check kind whose constructor has a bug (the load stage)."""

    kind: ClassVar[str] = "crashing"
    summary: ClassVar[str] = "a plug-in with a bug in __init__"
    Options: ClassVar[type[CrashingKindOptions]] = CrashingKindOptions

    def __init__(self, options: CrashingKindOptions, profile: Any) -> None:
        raise KeyError(INJECTED)

    async def judge(self, probe: Any) -> Judgement:  # pragma: no cover - never constructed
        return Judgement(Status.PASS, "unreachable")


class ExitingKind:
    """A third-party check kind that calls sys.exit(0) while judging: a bug that must not read as a pass."""

    kind: ClassVar[str] = "exiting"
    summary: ClassVar[str] = "a plug-in that exits the process from judge()"
    Options: ClassVar[type[CrashingKindOptions]] = CrashingKindOptions

    def __init__(self, options: CrashingKindOptions, profile: Any) -> None:
        self.options = options

    async def judge(self, probe: Any) -> Judgement:
        sys.exit(0)


def _with_plugin(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    """Register one more check kind, found through the same entry-point path as installed plug-ins."""
    discover = spark_ops.registry.discover
    entry = EntryPoint(name=name, value=value, group=spark_ops.registry.ENTRY_POINT_GROUP)
    monkeypatch.setattr(spark_ops.registry, "discover", lambda: {**discover(), name: entry})


# Mocking is justified here: an internal bug cannot be provoked through the public interface otherwise.
# stage id -> (module, attribute) replaced by a function that raises, or a plug-in kind, and the format.
STAGES: dict[str, tuple[Any, str, str]] = {
    "load-profile": (spark_ops.pipeline, "load_profile", "table"),
    "load-suite": (spark_ops.pipeline, "load_suite", "table"),
    "load-bind-checks": (spark_ops.pipeline, "prepare", "table"),
    "load-plugin-constructor": (None, "crashing", "table"),
    "run-pipeline": (spark_ops.pipeline, "execute", "table"),
    "run-runner": (spark_ops.runner, "run_checks", "table"),
    "judge-risk": (spark_ops.risk, "assess", "table"),
    "judge-exit-code": (spark_ops.risk, "final_reduce", "table"),
    "judge-calls-sys-exit": (spark_ops.risk, "assess", "json"),
    "report-table": (spark_ops.report.table, "render", "table"),
    "report-json": (spark_ops.report.json, "render", "json"),
    "report-junit-file": (spark_ops.report.junit, "render", "table"),
    "evidence-profile-view": (spark_ops.config.profile, "resolved_view", "table"),
    "evidence-store": (spark_ops.evidence, "store_run", "table"),
}
PLUGINS = {"crashing": f"{__name__}:CrashingKind", "exiting": f"{__name__}:ExitingKind"}
BREAKERS = {"judge-calls-sys-exit": _exit}
COMMANDS = {
    # command id -> (arguments before the target, the flag that lets the verdict set the exit code, the
    # flag that makes it report-only)
    "gate": (["gate"], ["--exit-on-fail"], []),
    "canary-mock": (["canary", "--mode", "mock"], ["--exit-on-fail"], ["--no-exit-on-fail"]),
}


@pytest.mark.parametrize("enforce", [True, False], ids=["exit-on-fail", "report-only"])
@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("stage", list(STAGES))
def test_a_bug_in_any_stage_exits_4_with_one_line_naming_the_details(
    platform, spark, monkeypatch, tmp_path, stage, command, enforce
):
    """A crash in load, run, judge, report or evidence exits 4 (never 0): one stderr line, a details file."""
    crash_dir = tmp_path / "crash"
    crash_dir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(crash_dir))
    module, attribute, output = STAGES[stage]
    args, verdict_flag, report_only_flag = COMMANDS[command]
    options = [*args, "--format", output, *(verdict_flag if enforce else report_only_flag)]
    if module is None:
        _with_plugin(monkeypatch, attribute, PLUGINS[attribute])
        options += ["--suite", str(write_suite(tmp_path, {"name": "plugin", "kind": attribute}))]
    else:
        monkeypatch.setattr(module, attribute, BREAKERS.get(stage, _raise))
    if stage == "report-junit-file":
        options += ["--report-junit", "out.xml"]
    if not stage.startswith("evidence"):
        options.append("--no-evidence")
    if command == "gate":
        options += platform.sets()

    result = spark(*options)

    assert result.exit_code == 4, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("spark: internal error: "), lines[0]
    assert len(lines[0]) < 400, lines[0]
    assert "Traceback" not in result.stdout + result.stderr
    named = re.search(r"details in (\S+?)\)?$", lines[0])
    assert named, lines[0]
    details = Path(named[1])
    assert details.parent == crash_dir
    text = details.read_text(encoding="utf-8")
    assert "Traceback" in text
    assert ("SystemExit" if stage in BREAKERS else INJECTED) in text, text  # the bug this stage planted
    if stage not in BREAKERS:  # the one line names the bug, its type in the details
        assert INJECTED in lines[0], lines[0]
        assert f"{'KeyError' if module is None else 'RuntimeError'}: " in text, text
    assert not (tmp_path / "out.xml").exists(), "a report file was written for a run that crashed"
    if stage.startswith("evidence"):
        runs = tmp_path / "evidence" / "runs"
        kept = [p.name for p in runs.iterdir()] if runs.is_dir() else []
        assert not kept, f"a run that crashed while being kept left {kept}"


@pytest.mark.parametrize(
    ("enforce", "code"), [(True, 1), (False, 0)], ids=["exit-on-fail-fails", "report-only-reports"]
)
def test_a_plugin_that_exits_while_judging_is_an_error_not_a_silent_pass(
    platform, spark, monkeypatch, tmp_path, enforce, code
):
    """A kind calling sys.exit(0) in judge() is that check's ERROR (the runner's rule), not a quiet exit 0."""
    _with_plugin(monkeypatch, "exiting", PLUGINS["exiting"])
    suite = write_suite(tmp_path, {"name": "plugin", "kind": "exiting", "severity": "critical"})
    flags = ["--exit-on-fail"] if enforce else []
    result = spark(
        "gate", "--suite", str(suite), "--format", "json", "--no-evidence", *flags, *platform.sets()
    )
    assert result.exit_code == code, (result.stdout, result.stderr)
    document = json.loads(result.stdout)
    (check,) = document["checks"]
    assert check["status"] == "ERROR"
    assert "SystemExit" in check["message"]
    assert document["risk"]["level"] == "CRITICAL"


@pytest.mark.parametrize("working_folder_gone", [False, True], ids=["falls-back-to-cwd", "nowhere-to-write"])
def test_a_crash_report_that_cannot_be_written_still_exits_4_with_one_line(
    platform, spark, monkeypatch, tmp_path, working_folder_gone
):
    """With no temp folder the details go to the working folder; with neither, the one line says so."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no-such-temp-folder"))
    doomed = tmp_path / "doomed"
    doomed.mkdir()

    def remove_the_working_folder_and_raise(*_args: Any, **_kwargs: Any) -> Any:
        if working_folder_gone:
            doomed.rmdir()
        raise RuntimeError(INJECTED)

    monkeypatch.setattr(spark_ops.risk, "assess", remove_the_working_folder_and_raise)
    monkeypatch.chdir(doomed)
    result = spark("gate", "--no-evidence", *platform.sets())
    assert result.exit_code == 4, result.stdout + result.stderr
    (line,) = result.stderr.splitlines()
    assert "Traceback" not in result.stdout + result.stderr
    assert f"RuntimeError: {INJECTED}" in line
    if working_folder_gone:
        assert line.endswith("(no details file could be written: No such file or directory)"), line
    else:
        named = re.search(r"details in (\S+?)\)$", line)
        assert named, line
        assert Path(named[1]).parent == doomed
        assert INJECTED in Path(named[1]).read_text(encoding="utf-8")

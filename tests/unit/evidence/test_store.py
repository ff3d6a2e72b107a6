"""The run store: every gate run is kept under evidence/runs/<UTC stamp>_<command>/ with what it judged."""

from __future__ import annotations

import json
import re
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import check_result

import spark_ops.evidence.store
import spark_ops.result_json
from spark_ops import evidence
from spark_ops.model import Risk, RiskLevel, RunResult, Severity, Status

RUN_FOLDER = re.compile(r"^(\d{8}_\d{6})_gate(-\d+)?$")
SLO_CHECKS = ("healthz.slo.latencyP95", "healthz.slo.errorRate", "healthz.slo.staleness")

METRICS_SUITE = """
[[checks]]
name = "executor.metrics"
kind = "metrics"
service = "executor-1"
require = ["http_requests_total"]
"""


def run_folders(base: Path) -> list[Path]:
    runs = base / "runs"
    return sorted(runs.iterdir()) if runs.is_dir() else []


def only_run(base: Path) -> Path:
    (folder,) = run_folders(base)
    return folder


def assert_no_temporary_folders(base: Path) -> None:
    leftovers = [p for p in base.rglob("*") if p.name.startswith(".tmp-")]
    assert leftovers == []


def test_gate_run_is_kept_with_result_log_and_health_bodies(platform, spark, tmp_path):
    """A gate run writes result.json, run.log and the raw health JSON it judged under ./evidence/runs/."""
    before = datetime.now(UTC).replace(microsecond=0)
    result = spark("gate", "--format", "json", *platform.sets())
    after = datetime.now(UTC)
    assert result.exit_code == 0
    folder = only_run(tmp_path / "evidence")
    match = RUN_FOLDER.match(folder.name)
    assert match, folder.name
    stamp = datetime.strptime(match[1], "%Y%m%d_%H%M%S").replace(tzinfo=UTC)
    assert before <= stamp <= after  # the folder's stamp is UTC
    assert str(folder.relative_to(tmp_path)) in result.stderr

    stored = json.loads((folder / "result.json").read_text(encoding="utf-8"))
    # The same document the user saw (its schema is asserted in unit/report/test_reporters.py).
    assert stored == json.loads(result.stdout)

    log = (folder / "run.log").read_text(encoding="utf-8")
    for check in stored["checks"]:
        assert check["name"] in log
    assert "LOW" in log

    profile = json.loads((folder / "profile.json").read_text(encoding="utf-8"))
    assert profile["slo"]["latency_p95_ms"] == 150  # the resolved profile the run was judged against
    kept = ("result.json", "run.log", "profile.json")
    bodies = [p for p in folder.rglob("*") if p.is_file() and p.name not in kept]
    health = [json.loads(p.read_bytes()) for p in bodies if p.suffix == ".json"]
    # The SLO checks (and healthz.status) judged one shared answer: it is kept once, the log points to it.
    assert health == [json.loads(platform.served_health)]
    assert health[0]["slo"] == platform.health["slo"] and health[0]["status"] == platform.health["status"]
    (shared,) = (p for p in bodies if p.suffix == ".json")
    pointer = f"the same body as {shared.relative_to(folder).as_posix()}"
    assert log.count(pointer) == len(SLO_CHECKS)
    assert_no_temporary_folders(tmp_path / "evidence")


def test_metrics_text_is_kept_with_the_run(platform, spark, tmp_path):
    """The raw metrics exposition a metrics check judged is kept byte for byte."""
    Path("metrics.toml").write_text(METRICS_SUITE, encoding="utf-8")
    result = spark("gate", "--suite", "metrics.toml", *platform.sets())
    assert result.exit_code == 0
    folder = only_run(tmp_path / "evidence")
    (exposition,) = folder.rglob("*.prom")
    assert exposition.read_text(encoding="utf-8") == platform.metrics_body


@pytest.mark.parametrize("how", ["option", "env", "option-beats-env"])
def test_evidence_dir_option_and_environment_move_the_store(platform, spark, tmp_path, how):
    """--evidence-dir and SPARK_EVIDENCE_DIR choose where runs go (the option wins), not ./evidence."""
    chosen, other = tmp_path / "chosen", tmp_path / "other"
    args = ["--evidence-dir", str(chosen)] if how != "env" else []
    env = {"SPARK_EVIDENCE_DIR": str(chosen if how == "env" else other)} if how != "option" else None
    result = spark("gate", *args, *platform.sets(), env=env)
    assert result.exit_code == 0, result.stderr
    assert (only_run(chosen) / "result.json").is_file()
    assert not (tmp_path / "evidence").exists()
    assert not other.exists()


def test_no_evidence_keeps_nothing(platform, spark, tmp_path):
    """--no-evidence writes no run folder."""
    result = spark("gate", "--no-evidence", *platform.sets())
    assert result.exit_code == 0
    assert not (tmp_path / "evidence").exists()


def test_two_runs_in_the_same_second_get_distinct_folders(platform, spark, tmp_path, frozen_clock):
    """Two runs stamped with the same second are both kept, in different folders."""
    frozen_clock.at = datetime(2026, 11, 21, 12, 0, 0, tzinfo=UTC)
    platform.health["slo"]["latencyP95"] = 400
    spark("gate", *platform.sets())
    platform.health["slo"]["latencyP95"] = 14
    spark("gate", *platform.sets())
    folders = run_folders(tmp_path / "evidence")
    assert [f.name for f in folders] == ["20261121_120000_gate", "20261121_120000_gate-2"]
    levels = [json.loads((f / "result.json").read_text())["risk"]["level"] for f in folders]
    assert levels == ["HIGH", "LOW"]
    assert_no_temporary_folders(tmp_path / "evidence")


def sample_run() -> RunResult:
    check = check_result(
        "ui.up", "http", Severity.CRITICAL, Status.PASS, "GET / -> 200", artifacts={"body": b"ok"}
    )
    return RunResult(
        "gate",
        "dev",
        "gate",
        "2026-11-21T12:00:00Z",
        5,
        [check],
        Risk(RiskLevel.LOW, 100.0, "System healthy, safe to deploy"),
    )


def test_concurrent_runs_in_the_same_second_never_share_a_folder(tmp_path, frozen_clock):
    """Runs stored at once (parallel CI jobs) each get their own complete folder."""
    folders: list[Path] = []
    lock = threading.Lock()

    def store() -> None:
        folder = evidence.store_run(sample_run(), tmp_path)
        with lock:
            folders.append(folder)

    threads = [threading.Thread(target=store) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(folders)) == 8
    assert sorted(folders) == run_folders(tmp_path)
    for folder in folders:
        assert (folder / "result.json").is_file()
        assert (folder / "run.log").is_file()
    assert_no_temporary_folders(tmp_path)


@pytest.mark.parametrize("enforce", [True, False], ids=["exit-on-fail", "report-only"])
def test_a_failing_run_is_recorded_too(platform, spark, tmp_path, enforce):
    """A failing verdict is kept like a passing one, with its failure in result.json and run.log."""
    platform.health["status"] = "DEGRADED"
    options = ["--exit-on-fail"] if enforce else []
    result = spark("gate", *options, *platform.sets())
    assert result.exit_code == (1 if enforce else 0)
    folder = only_run(tmp_path / "evidence")
    stored = json.loads((folder / "result.json").read_text(encoding="utf-8"))
    assert stored["risk"]["level"] == "CRITICAL"
    assert stored["exit_code"] == result.exit_code
    assert stored["summary"]["failed"] == 1
    log = (folder / "run.log").read_text(encoding="utf-8")
    assert re.search(r"^FAIL\s+healthz\.status\b", log, re.MULTILINE)
    assert_no_temporary_folders(tmp_path / "evidence")


def test_a_run_that_cannot_be_stored_leaves_no_temporary_folder(tmp_path, monkeypatch):
    """When writing a run fails half-way, neither a half run nor its temporary folder is left behind."""

    def broken(_run: RunResult) -> str:
        raise OSError("disk full")

    monkeypatch.setattr(spark_ops.result_json, "render", broken)
    with pytest.raises(OSError, match="disk full"):
        evidence.store_run(sample_run(), tmp_path)
    assert run_folders(tmp_path) == []
    assert_no_temporary_folders(tmp_path)

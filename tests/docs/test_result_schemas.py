"""The published JSON Schemas hold what spark-ops writes: result documents from representative runs (a
passing and a failing gate, a platform that is down, a canary on the simulator with faults, an analysis
window, PM2 checks that error and find nothing, one check of every status), the recorded results in
tests/data, and the manifest of real exports (with a truncated log and an incomplete run). The schemas
can fail: broken documents are refused."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from conftest import (
    DATA,
    FROZEN_AT,
    PM2_DATA,
    check_doc,
    check_result,
    exported_path,
    free_port,
    gate_run,
    result_doc,
    result_schema_errors,
    write_run,
    write_suite,
)

from spark_ops import result_json
from spark_ops.model import Severity, Status

from .conftest import errors_of, schema_validator


def test_the_schema_files_are_valid_json_schemas():
    """Every file in docs/schemas is a valid draft 2020-12 schema."""
    for name in (
        "result.schema.json",
        "evidence-manifest.schema.json",
        "profile.schema.json",
        "suite.schema.json",
        "diff.schema.json",
        "proof.schema.json",
    ):
        schema_validator(name)


def printed(result) -> dict:
    return json.loads(result.stdout)


def kept_results(folder: Path) -> list[dict]:
    return [json.loads(path.read_text(encoding="utf-8")) for path in sorted(folder.rglob("result.json"))]


def assert_valid(document: dict) -> None:
    assert result_schema_errors(document) == [], json.dumps(document)[:2000]


def test_gate_results_pass_fail_and_down_match_the_schema(platform, spark, tmp_path):
    """A passing gate, a failing one (--format json and the kept result.json) and a platform that is not
    there at all."""
    passing = spark("gate", "--format", "json", *platform.sets())
    platform.health["status"] = "DOWN"
    platform.health["slo"]["latencyP95"] = 400
    failing = spark("gate", "--format", "json", "--exit-on-fail", "--report-json", "r.json", *platform.sets())
    down = spark(
        "gate", "--format", "json", "--no-evidence", *platform.sets(web=f"http://127.0.0.1:{free_port()}")
    )
    assert (passing.exit_code, failing.exit_code, down.exit_code) == (0, 1, 0)
    documents = [printed(passing), printed(failing), printed(down), *kept_results(tmp_path / "evidence")]
    documents.append(json.loads((tmp_path / "r.json").read_text(encoding="utf-8")))
    assert {d["risk"]["level"] for d in documents} >= {"LOW", "CRITICAL"}
    for document in documents:
        assert_valid(document)


def test_a_canary_on_the_simulator_with_faults_matches_the_schema(spark):
    """The canary suite (http, metrics, slo and the latency probe's dict of figures) with two faults."""
    result = spark(
        "canary",
        "--mode",
        "mock",
        "--format",
        "json",
        "--no-evidence",
        "--fault",
        "marketdata=stale:60",
        "--fault",
        "web=errors:0.5",
    )
    document = printed(result)
    assert result.exit_code == 1
    assert {check["kind"] for check in document["checks"]} >= {"http", "metrics", "slo", "latency"}
    assert_valid(document)


def test_an_analysis_window_matches_the_schema(platform, spark):
    """A window of measurements: the run's `window`, each check's `measurements` with their readings."""
    result = spark(
        "gate", "--format", "json", "--no-evidence", "--duration", "2s", "--interval", "1s", *platform.sets()
    )
    document = printed(result)
    assert document["window"]["taken"] >= 2
    assert all(len(check["measurements"]) >= 2 for check in document["checks"])
    assert_valid(document)


def test_error_and_inconclusive_results_match_the_schema(spark, tmp_path):
    """PM2 checks that could not look (ERROR), found an empty list (INCONCLUSIVE) and a crash loop (FAIL)."""
    suite = write_suite(
        tmp_path,
        {"name": "pm2.missing", "kind": "pm2", "command": str(tmp_path / "no-such-pm2")},
        {"name": "pm2.empty", "kind": "pm2", "file": str(PM2_DATA / "empty.json")},
        {"name": "pm2.crashloop", "kind": "pm2", "file": str(PM2_DATA / "seed_crashloop_49_restarts.json")},
    )
    document = printed(spark("gate", "--suite", str(suite), "--format", "json", "--no-evidence"))
    assert [check["status"] for check in document["checks"]] == ["ERROR", "INCONCLUSIVE", "FAIL"]
    assert_valid(document)


def test_one_check_of_every_status_matches_the_schema():
    """PASS, WARN, FAIL, ERROR, INCONCLUSIVE and SKIP, as the reporters receive them."""
    run = gate_run(
        [
            check_result(
                f"check.{status.value.lower()}",
                "slo",
                Severity.MAJOR,
                status,
                f"{status.value} because",
                observed=1.5,
                threshold={"max": 1},
                duration_ms=7,
            )
            for status in Status
        ],
        score=25.0,
    )
    document = json.loads(result_json.render(run))
    assert {check["status"] for check in document["checks"]} == {status.value for status in Status}
    assert_valid(document)


@pytest.mark.parametrize("level", ["LOW", "MEDIUM", "HIGH", "CRITICAL"])
def test_the_documents_the_evidence_tests_write_match_the_schema(level):
    """The result.json the evidence and report tests plant in run folders (conftest's result_doc)."""
    checks = [check_doc("a.ok"), check_doc("b.bad", "FAIL", "critical", "refused"), check_doc("c", "SKIP")]
    assert_valid(result_doc("canary", level, checks))


@pytest.mark.parametrize("path", sorted((DATA / "results").glob("*.json")), ids=lambda path: path.name)
def test_the_recorded_results_match_the_schema(path):
    """The result documents recorded in tests/data."""
    assert_valid(json.loads(path.read_text(encoding="utf-8")))


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda d: d.pop("risk"), "'risk' is a required property"),
        (lambda d: d["checks"][0].update(status="OK"), "checks/0/status"),
        (lambda d: d.update(schema="spark-ops/result/v2"), "schema"),
        (lambda d: d["summary"].update(passed=-1), "summary/passed"),
        (lambda d: d["checks"][0].update(readings={"p95_ms": "fast"}), "checks/0/readings/p95_ms"),
        (lambda d: d.update(exit_code=9), "exit_code"),
        (lambda d: d.update(started_at="yesterday"), "started_at"),
        (lambda d: d.update(surprise=1), "surprise"),
    ],
    ids=[
        "no-risk",
        "unknown-status",
        "other-schema",
        "negative-count",
        "reading-not-a-number",
        "unknown-exit-code",
        "not-a-utc-time",
        "unknown-key",
    ],
)
def test_the_result_schema_refuses_broken_documents(change, fragment):
    """The schema can fail: each broken copy of a real result is refused, naming where."""
    document = json.loads((DATA / "results" / "canary_failing.json").read_text(encoding="utf-8"))
    change(document)
    errors = result_schema_errors(document)
    assert any(fragment in error for error in errors), errors


def manifest(path: Path) -> dict:
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("manifest.json"))


def test_export_manifests_match_the_schema(platform, spark, tmp_path):
    """A real export (runs, a log cut to its tail, a run without result.json) writes a manifest the
    schema accepts; a tampered copy is refused."""
    assert spark("gate", *platform.sets()).exit_code == 0
    write_run(tmp_path / "evidence", FROZEN_AT, "smoke", document=b"not json")  # INCOMPLETE
    log = tmp_path / "app.log"
    log.write_text("".join(f"line {n}\n" for n in range(5000)), encoding="utf-8")
    result = spark("evidence", "export", "--all", "--include", str(log), "--max-log-bytes", "1K")
    document = manifest(exported_path(result, tmp_path))
    assert {run["risk"] for run in document["runs"]} >= {"LOW", "INCOMPLETE"}
    assert any("truncated_from" in member for member in document["members"])
    validator = schema_validator("evidence-manifest.schema.json")
    assert errors_of(validator, document) == []
    document["members"][0]["path"] = "../escape"
    document["members"][1]["sha256"] = "not-a-digest"
    errors = errors_of(validator, document)
    assert any("members/0/path" in error for error in errors), errors
    assert any("members/1/sha256" in error for error in errors), errors

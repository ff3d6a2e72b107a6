"""The reporters: result JSON schema, JUnit, markdown, table, GitHub Actions, and report files in one run."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from conftest import GATE_CHECKS, RESULT_KEYS, check_result, gate_run

import spark_ops.checks.slo
from spark_ops.model import RunResult, Severity, Status
from spark_ops.report import github, junit, markdown, renderer
from spark_ops.report import table as table_report

RISK_KEYS = {"level", "score", "recommendation"}
SUMMARY_KEYS = {"total", "passed", "warned", "failed", "errors", "inconclusive", "skipped"}
CHECK_KEYS = {"name", "kind", "status", "severity", "observed", "threshold", "message", "duration_ms"}


def one_of_each_status() -> RunResult:
    """A run holding one check per status, as the reporters receive it."""
    checks = [
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
    ]
    return gate_run(checks, score=25.0)


def assert_result_schema(document: dict[str, Any]) -> None:
    """``document`` has exactly the keys of SPEC's spark-ops/result/v1."""
    assert set(document) == RESULT_KEYS
    assert document["schema"] == "spark-ops/result/v1"
    assert set(document["risk"]) == RISK_KEYS
    assert set(document["summary"]) == SUMMARY_KEYS
    for check in document["checks"]:
        assert set(check) >= CHECK_KEYS, check
    assert document["summary"]["total"] == len(document["checks"])
    assert isinstance(document["duration_ms"], int)
    assert isinstance(document["exit_code"], int)
    assert document["started_at"].endswith("Z")


def test_json_reporter_matches_result_schema(platform, spark):
    """--format json prints SPEC's result/v1 document, with the types and values a pipeline parses."""
    platform.health["slo"]["latencyP95"] = 400
    result = spark("gate", "--no-evidence", "--format", "json", *platform.sets())
    document = json.loads(result.stdout)
    assert_result_schema(document)
    assert (document["command"], document["profile"], document["suite"]) == ("gate", "dev", "gate")
    assert document["summary"] == {
        "total": 6,
        "passed": 5,
        "warned": 0,
        "failed": 1,
        "errors": 0,
        "inconclusive": 0,
        "skipped": 0,
    }
    assert document["risk"]["level"] == "HIGH"
    assert isinstance(document["risk"]["score"], float)
    latency = next(c for c in document["checks"] if c["name"] == "healthz.slo.latencyP95")
    assert latency["kind"] == "slo"
    assert (latency["status"], latency["severity"]) == ("FAIL", "major")
    assert (latency["observed"], latency["threshold"]) == (400, {"max": 150})


def test_json_reporter_counts_every_status():
    """The summary counts each status once and the document is valid JSON."""
    document = json.loads(renderer("json")(one_of_each_status()))
    assert_result_schema(document)
    assert document["summary"] == {
        "total": 6,
        "passed": 1,
        "warned": 1,
        "failed": 1,
        "errors": 1,
        "inconclusive": 1,
        "skipped": 1,
    }


def test_report_files_are_written_in_the_same_run_as_the_table(platform, spark):
    """--report-json and --report-junit write their files while stdout still shows the table."""
    platform.health["status"] = "DEGRADED"
    result = spark(
        "gate",
        "--no-evidence",
        "--format",
        "table",
        "--report-json",
        "out/result.json",
        "--report-junit",
        "out/junit.xml",
        *platform.sets(),
    )
    assert result.exit_code == 0
    assert "RISK CRITICAL" in result.stdout
    document = json.loads(Path("out/result.json").read_text(encoding="utf-8"))
    assert_result_schema(document)
    assert document["risk"]["level"] == "CRITICAL"
    cases = ET.parse("out/junit.xml").getroot().findall(".//testcase")
    assert [case.get("name") for case in cases] == [check["name"] for check in document["checks"]]
    assert not list(Path("out").glob(".*tmp*"))


def test_junit_has_one_testcase_per_check_with_failures_and_errors():
    """JUnit: one testcase per check; FAIL is <failure>, ERROR <error>, SKIP <skipped>; counts add up."""
    run = one_of_each_status()
    root = ET.fromstring(junit.render(run))
    suite = root.find("testsuite")
    assert suite is not None
    cases = {case.get("name"): case for case in suite.findall("testcase")}
    assert list(cases) == [r.name for r in run.results]
    expected_child = {
        Status.PASS: None,
        Status.WARN: "failure",
        Status.FAIL: "failure",
        Status.ERROR: "error",
        Status.INCONCLUSIVE: "failure",
        Status.SKIP: "skipped",
    }
    for result in run.results:
        case = cases[result.name]
        children = {child.tag for child in case} - {"system-out"}
        wanted = expected_child[result.status]
        assert children == (set() if wanted is None else {wanted}), result.status
        if wanted in ("failure", "error"):
            assert case.find(wanted).get("message") == result.message
    assert suite.get("tests") == "6"
    assert suite.get("errors") == str(len(suite.findall("testcase/error")))
    assert suite.get("failures") == str(len(suite.findall("testcase/failure")))
    assert suite.get("skipped") == str(len(suite.findall("testcase/skipped")))


def test_junit_from_the_cli_marks_failures_and_crashed_checks_as_errors(platform, spark, monkeypatch):
    """--format junit parses; a failing check is a failure and a crashed check an error, counted right."""

    async def crash(self, probe):
        raise ValueError("slo check bug")

    monkeypatch.setattr(spark_ops.checks.slo.SloCheck, "judge", crash)
    platform.health["status"] = "DOWN"
    result = spark("gate", "--no-evidence", "--format", "junit", *platform.sets())
    suite = ET.fromstring(result.stdout).find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("6", "1", "3")
    failures = [case.get("name") for case in suite.findall("testcase") if case.find("failure") is not None]
    errors = [case.get("name") for case in suite.findall("testcase") if case.find("error") is not None]
    assert failures == ["healthz.status"]
    assert sorted(errors) == ["healthz.slo.errorRate", "healthz.slo.latencyP95", "healthz.slo.staleness"]


def test_markdown_has_a_row_per_check_and_the_risk_level():
    """Markdown shows the risk level and one table row per check with its status."""
    run = one_of_each_status()
    text = markdown.render(run)
    assert "HIGH" in text
    assert run.risk.recommendation in text
    rows = [line for line in text.splitlines() if line.startswith("| ") and "`" in line]
    assert len(rows) == len(run.results)
    for row, result in zip(rows, run.results, strict=True):
        assert f"`{result.name}`" in row
        assert result.status.value in row


def test_markdown_escapes_pipes_in_messages():
    """A reason containing a pipe does not break the markdown table."""
    run = one_of_each_status()
    broken = [check_result("odd", "http", Severity.MINOR, Status.FAIL, "a | b\nc")]
    text = markdown.render(RunResult(**{**_fields(run), "results": broken}))
    row = next(line for line in text.splitlines() if "`odd`" in line)
    assert row.count(" | ") == 5  # six cells, the escaped pipe is not a separator


def test_markdown_writes_figures_as_a_person_would():
    """A probe's observed dict is written as the terminal table writes it, not dumped as JSON."""
    run = one_of_each_status()
    probe = check_result(
        "latency.web",
        "latency",
        Severity.MAJOR,
        Status.PASS,
        "ok",
        observed={"samples": 50, "missed_slots": 0, "p95_ms": 4.6, "error_rate": 0.0},
        threshold={"max_p95_ms": 150.0},
    )
    text = markdown.render(RunResult(**{**_fields(run), "results": [probe]}))
    row = next(line for line in text.splitlines() if "`latency.web`" in line)
    assert "| p95 4.6 ms · error rate 0% · 50 samples | p95 max 150 ms |" in row
    assert "missed_slots" not in row and "{" not in row


def _fields(run: RunResult) -> dict[str, Any]:
    return {name: getattr(run, name) for name in RunResult.__slots__}


@pytest.mark.parametrize("command", ["gate", "smoke"])
def test_markdown_format_from_the_cli(platform, spark, command):
    """--format markdown prints one row per check of the suite run."""
    result = spark(command, "--no-evidence", "--format", "markdown", *platform.sets())
    assert "LOW" in result.stdout
    rows = [line for line in result.stdout.splitlines() if line.startswith("| ✅ PASS")]
    assert len(rows) == 6


def test_table_shows_every_check_and_the_risk_banner(platform, spark):
    """The default table names every check, its status, and a RISK banner with score and recommendation."""
    platform.health["slo"]["latencyP95"] = 400
    result = spark("gate", "--no-evidence", *platform.sets())
    for name in GATE_CHECKS:
        assert name in result.stdout
    assert "RISK HIGH" in result.stdout
    assert "score 83.3" in result.stdout
    assert "Do not deploy" in result.stdout
    assert "FAIL" in result.stdout


def test_table_renders_every_status():
    """The table reporter renders a row for every status, including ERROR, INCONCLUSIVE and SKIP."""
    text = table_report.render(one_of_each_status())
    for status in Status:
        assert status.value in text
    assert "RISK HIGH" in text


def test_github_actions_annotations_and_step_summary(platform, spark, tmp_path):
    """On GitHub Actions failing checks print ::error lines and the markdown is appended to the summary."""
    summary = tmp_path / "step_summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    platform.health["slo"]["latencyP95"] = 400
    platform.health["status"] = "DEGRADED"
    result = spark(
        "gate",
        "--no-evidence",
        *platform.sets(),
        env={"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)},
    )
    errors = [line for line in result.stdout.splitlines() if line.startswith("::error")]
    assert len(errors) == 2
    assert any("healthz.slo.latencyP95" in line for line in errors)
    assert any("healthz.status" in line for line in errors)
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("earlier step\n")
    assert "CRITICAL" in text
    assert text.count("`healthz.") == 4


def test_no_github_output_outside_github_actions(platform, spark, tmp_path):
    """Outside GitHub Actions nothing is annotated and no step summary is written."""
    summary = tmp_path / "step_summary.md"
    platform.health["status"] = "DOWN"
    result = spark("gate", "--no-evidence", *platform.sets(), env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert "::error" not in result.stdout
    assert not summary.exists()


def test_github_annotations_escape_newlines_and_warn_on_warnings(monkeypatch):
    """An annotation stays on one line; WARN and INCONCLUSIVE are ::warning, FAIL and ERROR ::error."""
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    lines = github.publish(one_of_each_status()).splitlines()
    assert sum(line.startswith("::error ") for line in lines) == 2
    assert sum(line.startswith("::warning ") for line in lines) == 2
    assert len(lines) == 4
    odd = RunResult(
        **{
            **_fields(one_of_each_status()),
            "results": [check_result("a", "http", Severity.MAJOR, Status.FAIL, "line1\nline2 100%")],
        }
    )
    (line,) = github.publish(odd).splitlines()
    assert line.endswith("::line1%0Aline2 100%25")


def test_json_on_stdout_stays_parseable_on_github_actions(platform, spark, tmp_path):
    """`spark gate -f json > result.json` in a GitHub workflow still yields a valid JSON file."""
    platform.health["status"] = "DOWN"
    result = spark(
        "gate",
        "--no-evidence",
        "--format",
        "json",
        *platform.sets(),
        env={"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md")},
    )
    json.loads(result.stdout)
    assert "::error title=" in result.stderr  # the annotations still reach the runner, on stderr


def test_a_window_run_says_how_its_window_went_in_table_and_markdown():
    """A run over an analysis window names it (measurements taken of planned, interval, how it ended)."""
    from dataclasses import replace

    from spark_ops.model import Window

    run = replace(
        one_of_each_status(), window=Window(planned=10, taken=3, interval_s=15, ended="interrupted")
    )
    expected = "analysis window: 3 of 10 measurements, every 15 s, interrupted"
    assert expected in renderer("markdown")(run)
    assert expected in renderer("table")(run)
    assert "analysis window" not in renderer("markdown")(one_of_each_status())

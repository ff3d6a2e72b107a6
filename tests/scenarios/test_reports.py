"""End to end: the HTML report written by gate/smoke/canary and kept with every run, carried by the export,
`spark report --format html`, and `spark evidence diff` with its exit codes on runs, folders and archives."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import archive_members, exported_path

ESCAPED_SCRIPT = "&lt;script&gt;"


def kept_runs(cwd: Path) -> list[Path]:
    return sorted((cwd / "evidence" / "runs").iterdir())


def gate(spark, platform, *extra: str) -> None:
    result = spark("gate", *platform.sets(), *extra)
    assert result.exit_code == 0, result.stderr


@pytest.fixture
def two_gates(spark, platform, tmp_path) -> tuple[str, str]:
    """A healthy gate run, then one where the p95 SLO fails (400 ms): their run IDs, oldest first."""
    gate(spark, platform)
    platform.health["slo"]["latencyP95"] = 400
    gate(spark, platform)
    before, after = kept_runs(tmp_path)
    return before.name, after.name


def test_report_html_written_kept_and_exported(spark, platform, tmp_path):
    """--report-html writes the page; the run folder keeps report.html, and the export carries it."""
    platform.health["slo"]["latencyP95"] = 400
    result = spark("gate", *platform.sets(), "--report-html", "out/gate.html", "--exit-on-fail")
    assert result.exit_code == 1
    page = (tmp_path / "out" / "gate.html").read_text(encoding="utf-8")
    assert 'id="risk-level">HIGH<' in page
    assert page.index("healthz.slo.latencyP95") < page.index("ui.up")  # failing first
    (run,) = kept_runs(tmp_path)
    kept = (run / "report.html").read_text(encoding="utf-8")
    assert kept.split('name="generator"')[0] == page.split('name="generator"')[0]
    exported = exported_path(spark("evidence", "export", "--run", run.name), tmp_path)
    members = archive_members(exported)
    assert f"runs/{run.name}/report.html" in members
    assert spark("evidence", "verify", str(exported)).exit_code == 0


def test_report_html_to_a_folder_is_a_usage_error(spark, platform, tmp_path):
    """--report-html naming a folder exits 2 with one line."""
    (tmp_path / "here").mkdir()
    result = spark("gate", *platform.sets(), "--no-evidence", "--report-html", "here")
    assert result.exit_code == 2
    assert "--report-html" in result.stderr and "Traceback" not in result.stderr


def test_hostile_reason_is_escaped_in_the_kept_report(spark, platform, tmp_path):
    """A status the platform reports as `<script>` reaches the reason escaped, never as markup."""
    platform.health["status"] = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    gate(spark, platform)
    (run,) = kept_runs(tmp_path)
    page = (run / "report.html").read_text(encoding="utf-8")
    assert "<script>alert(1)" not in page and "<img src=x" not in page
    assert ESCAPED_SCRIPT + "alert(1)" in page


def test_daily_report_html(spark, platform, tmp_path):
    """`spark report --format html` prints one page with the window's runs; an empty window exits 3."""
    assert spark("report", "--format", "html", "--no-store").exit_code == 3
    gate(spark, platform)
    result = spark("report", "--format", "html", "--no-store")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("<!doctype html>")
    assert len(re.findall(r'<tr class="run">', result.stdout)) == 1
    assert '"id": "chart-trend"' in result.stdout  # the trend chart's data


# --- spark evidence diff ----------------------------------------------------------------------------


def test_diff_two_run_ids(spark, two_gates):
    """Two run IDs: the p95 SLO is a new failure, its reading moved; exit 0 unless --fail-on-regression."""
    before, after = two_gates
    result = spark("evidence", "diff", before, after)
    assert result.exit_code == 0, result.stderr
    assert "new failure  healthz.slo.latencyP95" in result.stdout
    assert "healthz.slo.latencyP95 slo.latencyP95 14 → 400 (+2757 %)  worse" in result.stdout
    assert "risk: LOW (score 100, exit 0) → HIGH (score 83.3, exit 0)" in result.stdout
    assert spark("evidence", "diff", before, after, "--fail-on-regression").exit_code == 1
    # The other way round everything got better: no regression, exit 0.
    better = spark("evidence", "diff", after, before, "--fail-on-regression")
    assert better.exit_code == 0 and better.stdout.endswith("no regression\n")
    # Past a bound of 3000 % the reading is no regression, but the new failure still is.
    bounded = spark("evidence", "diff", before, after, "--format", "json", "--max-rise", "3000")
    document = json.loads(bounded.stdout)
    assert document["regressions"] == [
        "new failure: healthz.slo.latencyP95 PASS → FAIL",
        "risk LOW → HIGH",
    ]


def test_diff_two_folders_as_markdown(spark, two_gates, tmp_path):
    """Run folders work as well as IDs; markdown is a table a pull request shows."""
    before, after = (str(tmp_path / "evidence" / "runs" / name) for name in two_gates)
    result = spark("evidence", "diff", before, after, "--format", "markdown", "--fail-on-regression")
    assert result.exit_code == 1
    assert "| new failure | `healthz.slo.latencyP95` | PASS | FAIL |" in result.stdout


def test_diff_two_archives(spark, two_gates, tmp_path):
    """Two exported archives compare like the runs they hold."""
    before, after = two_gates
    first = exported_path(spark("evidence", "export", "--run", before, "--name", "before"), tmp_path)
    second = exported_path(spark("evidence", "export", "--run", after, "--name", "after"), tmp_path)
    result = spark("evidence", "diff", str(first), str(second), "--fail-on-regression")
    assert result.exit_code == 1
    assert f"{first.name}#{before} → {second.name}#{after}" in result.stdout


def test_diff_against_last_pass(spark, platform, two_gates, tmp_path):
    """--against last-pass compares the latest run with the last one that passed: exit 1 when worse;
    a healthy run after it compares clean (exit 0)."""
    before, after = two_gates
    result = spark("evidence", "diff", "--against", "last-pass", "--fail-on-regression")
    assert result.exit_code == 1
    assert f"{before} → {after}" in result.stdout
    explicit = spark("evidence", "diff", after, "--against", "last-pass", "--format", "json")
    assert json.loads(explicit.stdout)["before"]["run"] == before
    platform.health["slo"]["latencyP95"] = 14
    gate(spark, platform)
    clean = spark("evidence", "diff", "--against", "last-pass", "--fail-on-regression")
    assert clean.exit_code == 0, clean.stdout
    assert f"{before} →" in clean.stdout  # the failing run in between is never the comparison


def test_diff_against_last_pass_without_one_exits_3(spark, platform, tmp_path):
    """No passing run of the command before: nothing to compare, exit 3 (no evidence is no pass)."""
    platform.health["slo"]["latencyP95"] = 400
    gate(spark, platform)
    result = spark("evidence", "diff", "--against", "last-pass", "--fail-on-regression")
    assert result.exit_code == 3
    assert "no passing gate run before" in result.stderr


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["20260101_000000_gate"], "give two runs"),
        (["a", "b", "c"], "give two runs"),
        (["a", "b", "--against", "last-pass"], "at most one"),
        (["20990101_000000_gate", "20990101_000001_gate"], "no run '20990101_000000_gate'"),
        (["--against", "last-pass"], "no runs in"),
        (["--against", "first-pass"], "first-pass"),
    ],
    ids=["one-run", "three-runs", "two-with-against", "unknown-id", "empty-store", "bad-against"],
)
def test_diff_usage_errors_exit_2(spark, args, fragment):
    """Wrong arguments exit 2 with one line naming the problem, never a traceback."""
    result = spark("evidence", "diff", *args)
    assert result.exit_code == 2, result.stdout
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr


def test_diff_negative_max_rise_exits_2(spark, two_gates):
    """A negative --max-rise is a usage error naming the option and the percentage given."""
    result = spark("evidence", "diff", *two_gates, "--max-rise", "-5")
    assert result.exit_code == 2
    assert "--max-rise -5: give a percentage of 0 or more" in result.stderr

"""spark report: the daily risk report from the kept runs of a window, compared with the window before."""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    archive_members,
    assert_config_error,
    check_doc,
    exported_path,
    manifest_of,
    result_doc,
    stamp_of,
    write_run,
)

from spark_ops.model import RiskLevel
from spark_ops.risk import RECOMMENDATIONS

HOUR = timedelta(hours=1)
NO_RUNS = "No runs in the window: there is no evidence that deploying is safe"
P95 = "healthz.slo.latencyP95"


def passing(n: int, prefix: str) -> list[dict[str, Any]]:
    return [check_doc(f"{prefix}.{i}") for i in range(n)]


# key, age, command, risk level, checks (none: one passing check)
MIXED_RUNS: list[tuple[str, timedelta, str, str, list[dict[str, Any]]]] = [
    ("gate-3d", 72 * HOUR, "gate", "CRITICAL", [check_doc("healthz.status", "FAIL", "critical")]),
    ("smoke-40h", 40 * HOUR, "smoke", "LOW", []),
    ("gate-30h", 30 * HOUR, "gate", "LOW", []),
    (
        "gate-20h",
        20 * HOUR,
        "gate",
        "CRITICAL",
        [
            check_doc("healthz.status", "FAIL", "critical", "status == 'DEGRADED'"),
            check_doc(P95, "FAIL", "major", "slo.latencyP95 = 400 (max 150)"),
        ],
    ),
    (
        "gate-10h",
        10 * HOUR,
        "gate",
        "HIGH",
        [check_doc(P95, "FAIL", "major", "slo.latencyP95 = 300 (max 150)")],
    ),
    ("canary-6h", 6 * HOUR, "canary", "LOW", passing(6, "canary")),
    ("smoke-3h", 3 * HOUR, "smoke", "MEDIUM", [check_doc("ui.dashboard", "WARN", "minor", "slow | 900 ms")]),
    (
        "canary-1h",
        1 * HOUR,
        "canary",
        "HIGH",
        [*passing(5, "canary"), check_doc("canary.latency", "FAIL", "major", "p95 480 ms > 150 ms")],
    ),
    ("gate-30m", HOUR / 2, "gate", "LOW", passing(6, "gate")),
]


@pytest.fixture
def mixed_window(tmp_path) -> dict[str, str]:
    """Runs of every risk level in the last 24 h, two LOW runs the 24 h before, one older; IDs by key."""
    base, now = tmp_path / "evidence", datetime.now(UTC)
    return {
        key: write_run(base, now - age, command, result_doc(command, level, checks)).name
        for key, age, command, level, checks in MIXED_RUNS
    }


def stored(tmp_path: Path) -> dict[str, Path]:
    """The stored report files by suffix (exactly one report expected)."""
    folder = tmp_path / "evidence" / "reports"
    files = {path.suffix: path for path in folder.iterdir()} if folder.is_dir() else {}
    assert set(files) <= {".md", ".json"}
    return files


def test_markdown_report_of_a_mixed_window(mixed_window, spark, tmp_path):
    """Markdown: the worst latest risk, the latest canary's N/M PASS, issues with counts, the trend."""
    result = spark("report", "--since", "24h")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("# Spark daily risk report")
    # Latest per command: gate LOW, smoke MEDIUM, canary HIGH; the earlier CRITICAL gate no longer counts.
    assert f"**Risk: HIGH** — {RECOMMENDATIONS[RiskLevel.HIGH]}" in lines
    assert f"- Canary: 5/6 PASS (run {mixed_window['canary-1h']})" in lines
    assert "- Runs: 6 (canary 2, gate 3, smoke 1); LOW risk in 2" in lines
    assert "- Trend: worse (mean score 78.3 vs 100 over 2 runs the window before)" in lines
    assert lines[lines.index("## Issues found") + 2 :] == [
        "| command | check | status | times | latest reason |",
        "|---|---|---|---|---|",
        "| gate | healthz.slo.latencyP95 | FAIL | 2 | slo.latencyP95 = 300 (max 150) |",
        "| canary | canary.latency | FAIL | 1 | p95 480 ms > 150 ms |",
        "| gate | healthz.status | FAIL | 1 | status == 'DEGRADED' |",
        "| smoke | ui.dashboard | WARN | 1 | slow \\| 900 ms |",
    ]
    files = stored(tmp_path)
    assert files[".md"].read_text(encoding="utf-8") == result.stdout
    assert files[".md"].stem == files[".json"].stem and files[".md"].stem.endswith("_report")
    assert f"{files['.md'].with_suffix('').relative_to(tmp_path)}.{{md,json}}" in result.stderr


def test_json_report_of_a_mixed_window(mixed_window, spark, tmp_path):
    """--format json prints the report document (also stored) with the same verdict, canary and issues."""
    result = spark("report", "--since", "24h", "--format", "json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document == json.loads(stored(tmp_path)[".json"].read_text(encoding="utf-8"))
    assert document["schema"] == "spark-ops/daily-report/v1"
    assert document["risk"] == {"level": "HIGH", "recommendation": RECOMMENDATIONS[RiskLevel.HIGH]}
    assert document["canary"] == {"run": mixed_window["canary-1h"], "passed": 5, "total": 6}
    runs = document["runs"]
    assert (runs["runs"], runs["low_risk_runs"], runs["low_risk_share"], runs["mean_score"]) == (
        6,
        2,
        0.333,
        78.3,
    )
    assert runs["by_command"] == {"gate": 3, "canary": 2, "smoke": 1}
    assert runs["by_risk"] == {"CRITICAL": 1, "HIGH": 2, "LOW": 2, "MEDIUM": 1}
    issues = [(i["command"], i["check"], i["status"], i["count"], i["last_run"]) for i in document["issues"]]
    assert issues == [
        ("gate", P95, "FAIL", 2, mixed_window["gate-10h"]),
        ("canary", "canary.latency", "FAIL", 1, mixed_window["canary-1h"]),
        ("gate", "healthz.status", "FAIL", 1, mixed_window["gate-20h"]),
        ("smoke", "ui.dashboard", "WARN", 1, mixed_window["smoke-3h"]),
    ]
    assert document["trend"]["direction"] == "worse"
    assert document["trend"]["previous"]["runs"] == 2
    assert document["trend"]["previous"]["mean_score"] == 100.0
    window = document["window"]
    start, end = (datetime.strptime(window[k], "%Y-%m-%dT%H:%M:%SZ") for k in ("from", "to"))
    assert end - start == timedelta(hours=24)


@pytest.mark.parametrize(
    ("previous", "current", "direction"),
    [
        pytest.param([60.0, 70.0], [90.0], "better", id="better"),
        pytest.param([95.0], [80.0, 90.0], "worse", id="worse"),
        pytest.param([90.0], [90.5], "steady", id="steady-within-one-point"),
        pytest.param([], [90.0], "no data to compare", id="nothing-the-window-before"),
    ],
)
def test_trend_compares_the_mean_score_with_the_window_before(spark, tmp_path, previous, current, direction):
    """The trend is better, worse or steady by the mean score of the window before (or says it has none)."""
    base, now = tmp_path / "evidence", datetime.now(UTC)
    for n, score in enumerate(previous):
        write_run(base, now - 30 * HOUR - n * HOUR, "gate", result_doc("gate", "MEDIUM", score=score))
    for n, score in enumerate(current):
        write_run(base, now - 2 * HOUR - n * HOUR, "gate", result_doc("gate", "MEDIUM", score=score))
    document = json.loads(spark("report", "--since", "24h", "-f", "json").stdout)
    assert document["trend"]["direction"] == direction
    assert document["trend"]["previous"]["runs"] == len(previous)


def test_canary_line_says_when_there_is_no_canary_run(spark, tmp_path):
    """Without a canary run in the window the report says so, and lists no issue when all passed."""
    write_run(tmp_path / "evidence", datetime.now(UTC) - HOUR, "gate")
    result = spark("report")
    assert result.exit_code == 0, result.stderr
    assert "- Canary: no canary run in the window" in result.stdout
    assert "None: every check passed in every run of the window." in result.stdout
    assert f"**Risk: LOW** — {RECOMMENDATIONS[RiskLevel.LOW]}" in result.stdout


@pytest.mark.parametrize("only_old", [False, True], ids=["nothing-kept", "only-older-runs"])
@pytest.mark.parametrize("fmt", ["markdown", "json"])
def test_no_runs_in_the_window_exits_3_and_says_so(spark, tmp_path, only_old, fmt):
    """A window without runs is inconclusive: exit 3, the report says there is no evidence, and is kept."""
    if only_old:
        write_run(tmp_path / "evidence", datetime.now(UTC) - 30 * HOUR, "gate")
    result = spark("report", "--since", "24h", "--format", fmt)
    assert result.exit_code == 3, result.stdout + result.stderr
    if fmt == "json":
        document = json.loads(result.stdout)
        assert document["risk"] == {"level": None, "recommendation": NO_RUNS}
        assert document["runs"]["runs"] == 0 and document["issues"] == [] and document["canary"] is None
        assert document["trend"]["previous"]["runs"] == int(only_old)
    else:
        assert f"**Risk: UNKNOWN** — {NO_RUNS}" in result.stdout
        assert "No runs." in result.stdout
    assert set(stored(tmp_path)) == {".md", ".json"}
    assert "Traceback" not in result.stderr


UNREADABLE = [
    pytest.param(b"{not json", id="not-json"),
    pytest.param(b"", id="empty"),
    pytest.param(b"[1, 2]", id="json-array"),
    pytest.param(b"\xff\xfe\x00garbage", id="binary"),
    pytest.param(None, id="missing"),
]


@pytest.mark.parametrize("body", UNREADABLE)
@pytest.mark.parametrize(
    ("others", "level"), [("LOW", "HIGH"), ("CRITICAL", "CRITICAL")], ids=["low", "critical"]
)
def test_an_unreadable_result_is_an_issue_and_at_least_high(spark, tmp_path, body, others, level):
    """A run whose result.json cannot be read is listed as an issue and makes the risk at least HIGH."""
    base, now = tmp_path / "evidence", datetime.now(UTC)
    write_run(base, now - 3 * HOUR, "smoke", result_doc("smoke", others))
    broken = write_run(base, now - HOUR, "gate")
    if body is None:
        (broken / "result.json").unlink()
    else:
        (broken / "result.json").write_bytes(body)
    result = spark("report", "-f", "json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["risk"]["level"] == level
    (issue,) = [i for i in document["issues"] if i["command"] == "gate"]
    assert (issue["check"], issue["status"], issue["count"], issue["last_run"]) == (
        "(result.json)",
        "UNREADABLE",
        1,
        broken.name,
    )
    markdown = spark("report").stdout
    assert "| gate | (result.json) | UNREADABLE | 1 |" in markdown


@pytest.mark.parametrize(
    ("document", "levels"),
    [
        pytest.param({"command": "gate", "risk": "LOW"}, {"HIGH", "CRITICAL"}, id="risk-is-a-string"),
        pytest.param(
            {"command": "gate", "risk": {"level": "LOW"}, "checks": 7},
            {"LOW", "HIGH"},
            id="checks-is-a-number",
        ),
        pytest.param(
            {"command": "canary", "risk": {"level": "LOW"}, "summary": [6, 6]},
            {"LOW", "HIGH"},
            id="summary-is-a-list",
        ),
    ],
)
def test_a_result_of_the_wrong_shape_is_no_internal_error(spark, tmp_path, monkeypatch, document, levels):
    """A result.json of the wrong shape is reported, HIGH if its risk is unreadable, never exit 4."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where a crash report would go
    write_run(tmp_path / "evidence", datetime.now(UTC) - HOUR, document["command"], document)
    result = spark("report", "-f", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["risk"]["level"] in levels


def test_the_report_goes_into_the_next_export(mixed_window, spark, tmp_path):
    """A stored report is packed by the next export; a later report by the export after, not twice."""
    first = spark("report", "--since", "24h")
    files = stored(tmp_path)
    archive = exported_path(spark("evidence", "export"), tmp_path)
    members = archive_members(archive)
    for path in files.values():
        assert members[f"reports/{path.name}"] == path.read_bytes()
    assert members[f"reports/{files['.md'].name}"].decode() == first.stdout
    listed = {entry["path"] for entry in manifest_of(archive)["members"]}
    assert {f"reports/{p.name}" for p in files.values()} <= listed

    second = spark("report", "--since", "24h", "--format", "json")
    assert second.exit_code == 0
    newer = {p.name for p in (tmp_path / "evidence" / "reports").iterdir()} - {p.name for p in files.values()}
    assert len(newer) == 2
    following = exported_path(spark("evidence", "export"), tmp_path)
    assert manifest_of(following)["runs"] == []  # no new runs, only the new report
    assert {n for n in archive_members(following) if n.startswith("reports/")} == {
        f"reports/{n}" for n in newer
    }


def test_no_store_keeps_nothing(mixed_window, spark, tmp_path):
    """--no-store prints the report and writes no file."""
    result = spark("report", "--no-store")
    assert result.exit_code == 0
    assert "**Risk: HIGH**" in result.stdout
    assert not (tmp_path / "evidence" / "reports").exists()


def test_window_is_inclusive_of_its_start_and_ignores_future_runs(spark, tmp_path, frozen_clock):
    """A run stamped at the window's start is in it, one a second earlier is in the window before."""
    base, now = tmp_path / "evidence", frozen_clock.now()
    write_run(base, now - 24 * HOUR, "gate", result_doc("gate", "LOW"))
    write_run(base, now - 24 * HOUR - timedelta(seconds=1), "smoke", result_doc("smoke", "CRITICAL"))
    write_run(base, now, "canary", result_doc("canary", "MEDIUM"))
    write_run(base, now + timedelta(seconds=1), "gate", result_doc("gate", "CRITICAL"))
    document = json.loads(spark("report", "--since", "24h", "-f", "json").stdout)
    assert document["runs"]["by_command"] == {"gate": 1, "canary": 1}
    assert document["risk"]["level"] == "MEDIUM"
    assert document["trend"]["previous"]["runs"] == 1
    assert document["window"] == {"from": "2026-03-03T05:06:07Z", "to": "2026-03-04T05:06:07Z"}


def test_two_reports_in_the_same_second_are_both_kept(mixed_window, spark, tmp_path, frozen_clock):
    """A second report stamped with the same second gets its own files, the first is not replaced."""
    spark("report", "--since", "24h")
    spark("report", "--since", "24h", "-f", "json")
    names = sorted(p.name for p in (tmp_path / "evidence" / "reports").iterdir())
    stamp = stamp_of(frozen_clock.now())
    assert names == [
        f"{stamp}_report-2.json",
        f"{stamp}_report-2.md",
        f"{stamp}_report.json",
        f"{stamp}_report.md",
    ]


@pytest.mark.parametrize(
    "since", ["0h", "day", "24", "-24h", "24h ago"], ids=["zero", "word", "no-unit", "negative", "words"]
)
def test_a_bad_since_exits_2(spark, tmp_path, since):
    """A --since that is not a positive duration is a usage error naming the option; nothing is stored."""
    assert_config_error(spark("report", "--since", since), "--since")
    assert not (tmp_path / "evidence" / "reports").exists()


def test_a_window_beyond_the_calendar_is_no_internal_error(spark, tmp_path, monkeypatch):
    """--since 1000000d is a usage error or a report of everything kept, never exit 4."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    write_run(tmp_path / "evidence", datetime.now(UTC) - HOUR, "gate")
    assert spark("report", "--since", "1000000d").exit_code in (0, 2)


def test_a_result_with_a_repeated_key_is_unreadable_and_named(spark, tmp_path):
    """A kept result.json with a key written twice (CRITICAL then LOW) is an UNREADABLE issue naming the
    key, and the report's risk is at least HIGH: never read as the LOW that comes last."""
    base, now = tmp_path / "evidence", datetime.now(UTC)
    text = json.dumps(result_doc("gate", "CRITICAL"), indent=2)
    doctored = text.replace('"level": "CRITICAL"', '"level": "CRITICAL", "level": "LOW"', 1)
    assert doctored != text
    broken = write_run(base, now - HOUR, "gate", doctored.encode())
    document = json.loads(spark("report", "-f", "json").stdout)
    (issue,) = document["issues"]
    assert (issue["status"], issue["last_run"]) == ("UNREADABLE", broken.name)
    assert "ambiguous JSON: key 'level' appears twice" in issue["message"]
    assert document["risk"]["level"] in ("HIGH", "CRITICAL")

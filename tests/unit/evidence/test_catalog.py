"""spark evidence list and prune: what the evidence folder holds, and removing what is older than an age."""

from __future__ import annotations

import json
import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import assert_config_error, exported_path, result_doc, stamp_of, write_run

# The entries of the evidence folder the tests list and prune, by key, with their age.
AGES = {
    "archive-15d": timedelta(days=15),
    "report-12d": timedelta(days=12),
    "gate-10d": timedelta(days=10),
    "smoke-8d": timedelta(days=8),
    "canary-2h": timedelta(hours=2),
    "gate-30m": timedelta(minutes=30),
    "report-now": timedelta(0),
    "archive-now": timedelta(0),
}
RUNS = {  # key -> command, risk level, profile
    "gate-10d": ("gate", "CRITICAL", "production"),
    "smoke-8d": ("smoke", "MEDIUM", "dev"),
    "canary-2h": ("canary", "HIGH", "dev"),
    "gate-30m": ("gate", "LOW", "staging"),
}
STRAYS = ("notes.txt", "handmade.zip", "runs/not-a-run", "reports/README.md")
ISO = "%Y-%m-%dT%H:%M:%SZ"


def tree(folder: Path) -> dict[str, bytes | None]:
    """Every path under ``folder`` with its content (None for a folder)."""
    return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() else None for p in folder.rglob("*")}


@pytest.fixture
def kept(spark, tmp_path) -> dict[str, str]:
    """An evidence folder of runs, reports and archives of known ages, plus strays; entry names by key."""
    base, now = tmp_path / "evidence", datetime.now(UTC)
    names: dict[str, str] = {}
    for key, (command, level, profile) in RUNS.items():
        names[key] = write_run(
            base, now - AGES[key], command, result_doc(command, level, profile=profile)
        ).name
    old_report = f"{stamp_of(now - AGES['report-12d'])}_report"
    (base / "reports").mkdir()
    (base / "reports" / f"{old_report}.json").write_text('{"schema": "spark-ops/daily-report/v1"}\n')
    (base / "reports" / f"{old_report}.md").write_text("# an old report\n")
    names["report-12d"] = f"{old_report}.json"
    assert spark("report", "--since", "7d").exit_code == 0
    (names["report-now"],) = [p.name for p in (base / "reports").glob("*.json") if p.stem != old_report]
    recent = exported_path(spark("evidence", "export", "--all"), tmp_path)
    names["archive-now"] = recent.name
    names["archive-15d"] = f"canary_{stamp_of(now - AGES['archive-15d'])}.zip"
    shutil.copyfile(recent, base / names["archive-15d"])
    for stray in STRAYS:
        path = base / stray
        if path.suffix:
            path.write_text("not evidence\n")
        else:
            path.mkdir()
    return names


def listed_rows(spark: Any) -> list[dict[str, Any]]:
    result = spark("evidence", "list", "--format", "json")
    assert result.exit_code == 0, result.stderr
    document: list[dict[str, Any]] = json.loads(result.stdout)
    return document


def size_of(path: Path) -> int:
    return (
        path.stat().st_size
        if path.is_file()
        else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    )


def test_list_json_gives_every_run_report_and_archive_oldest_first(kept, spark, tmp_path):
    """`evidence list -f json` gives each run, report and archive, oldest first, with its details and size."""
    base = tmp_path / "evidence"
    rows = listed_rows(spark)
    assert [row["name"] for row in rows] == [kept[key] for key in AGES]
    for row in rows:
        assert set(row) == {"created", "kind", "name", "command", "profile", "risk", "size_bytes"}
        assert datetime.strptime(row["created"], ISO).strftime("%Y%m%d_%H%M%S") in row["name"]
    by_name = {row["name"]: row for row in rows}
    for key, (command, level, profile) in RUNS.items():
        row = by_name[kept[key]]
        assert (row["kind"], row["command"], row["profile"], row["risk"]) == ("run", command, profile, level)
        assert row["size_bytes"] == size_of(base / "runs" / kept[key])
    for key in ("report-12d", "report-now"):
        assert by_name[kept[key]]["kind"] == "report"
        assert by_name[kept[key]]["size_bytes"] == size_of(base / "reports" / kept[key])
    for key in ("archive-15d", "archive-now"):
        row = by_name[kept[key]]
        assert (row["kind"], row["command"]) == ("archive", "4 runs")
        assert row["size_bytes"] == size_of(base / kept[key])


def test_list_table_shows_one_line_per_entry(kept, spark, tmp_path):
    """`evidence list` prints a header and one line per entry with kind, command, profile, risk and size."""
    result = spark("evidence", "list")
    assert result.exit_code == 0, result.stderr
    header, *lines = result.stdout.splitlines()
    assert header.split() == ["created", "(UTC)", "kind", "name", "command", "profile", "risk", "size"]
    assert len(lines) == len(AGES)
    by_name = {line.split()[3]: line.split() for line in lines}
    for key, (command, level, profile) in RUNS.items():
        day, time, kind, _name, *details = by_name[kept[key]]
        size = size_of(tmp_path / "evidence" / "runs" / kept[key])
        assert [kind, *details] == ["run", command, profile, level, str(size), "B"]
        assert kept[key].startswith(day.replace("-", "") + "_" + time.replace(":", ""))
    archive = by_name[kept["archive-now"]]
    assert archive[2] == "archive" and archive[4:6] == ["4", "runs"] and archive[-1] in ("B", "KB", "MB")
    assert by_name[kept["report-now"]][2] == "report"
    assert not any(stray.rsplit("/", 1)[-1] in result.stdout for stray in STRAYS)


@pytest.mark.parametrize("fmt", ["table", "json"])
@pytest.mark.parametrize("exists", [True, False], ids=["empty-folder", "no-folder"])
def test_list_of_nothing_says_so(spark, tmp_path, fmt, exists):
    """With nothing kept, list exits 0 and says so (an empty JSON array with --format json)."""
    if exists:
        (tmp_path / "evidence").mkdir()
    result = spark("evidence", "list", "--format", fmt)
    assert result.exit_code == 0, result.stderr
    if fmt == "json":
        assert json.loads(result.stdout) == []
    else:
        assert result.stdout.strip() == "nothing kept in evidence"


def test_list_reads_the_evidence_dir_option(spark, tmp_path):
    """--evidence-dir lists another folder."""
    write_run(tmp_path / "elsewhere", datetime.now(UTC), "smoke")
    (row,) = json.loads(spark("evidence", "list", "-f", "json", "--evidence-dir", "elsewhere").stdout)
    assert row["command"] == "smoke"


@pytest.mark.parametrize(
    ("older_than", "removed"),
    [
        pytest.param("30d", [], id="30d-nothing"),
        pytest.param("2w", ["archive-15d"], id="2w"),
        pytest.param("9d", ["archive-15d", "report-12d", "gate-10d"], id="9d"),
        pytest.param("7d", ["archive-15d", "report-12d", "gate-10d", "smoke-8d"], id="7d"),
        pytest.param("168h", ["archive-15d", "report-12d", "gate-10d", "smoke-8d"], id="168h"),
        pytest.param("1h", ["archive-15d", "report-12d", "gate-10d", "smoke-8d", "canary-2h"], id="1h"),
    ],
)
def test_prune_removes_only_what_is_older(kept, spark, tmp_path, older_than, removed):
    """prune --older-than removes exactly the runs, reports and archives older than the age, nothing else."""
    base = tmp_path / "evidence"
    result = spark("evidence", "prune", "--older-than", older_than)
    assert result.exit_code == 0, result.stderr
    kinds = {"archive": "archive", "report": "report"}
    expected = [f"removed {kinds.get(key.split('-')[0], 'run')} {kept[key]}" for key in removed]
    assert result.stdout.splitlines() == expected
    assert f"removed {len(removed)} entries older than" in result.stderr
    assert [row["name"] for row in listed_rows(spark)] == [kept[key] for key in AGES if key not in removed]
    if "report-12d" in removed:
        assert not list((base / "reports").glob(f"{kept['report-12d'][:15]}*"))  # its markdown went too
    for stray in STRAYS:
        assert (base / stray).exists(), stray
    assert not [p for p in base.rglob("*") if p.name.startswith(".tmp-")]


def test_prune_dry_run_removes_nothing(kept, spark, tmp_path):
    """--dry-run says what would go and removes nothing."""
    before = tree(tmp_path / "evidence")
    result = spark("evidence", "prune", "--older-than", "7d", "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"would remove archive {kept['archive-15d']}",
        f"would remove report {kept['report-12d']}",
        f"would remove run {kept['gate-10d']}",
        f"would remove run {kept['smoke-8d']}",
    ]
    assert "would remove 4 entries" in result.stderr
    assert tree(tmp_path / "evidence") == before


@pytest.mark.parametrize(
    "older_than",
    ["7", "seven days", "0d", "-7d", "", "7d ago", "1.5.5d"],
    ids=["no-unit", "words", "zero", "negative", "empty", "trailing-words", "two-dots"],
)
def test_prune_with_a_bad_duration_exits_2_and_removes_nothing(kept, spark, tmp_path, older_than):
    """A duration that is not one is a usage error naming --older-than; nothing is removed."""
    before = tree(tmp_path / "evidence")
    assert_config_error(spark("evidence", "prune", "--older-than", older_than), "--older-than")
    assert tree(tmp_path / "evidence") == before


def test_prune_with_an_age_beyond_the_calendar_is_no_internal_error(kept, spark, tmp_path, monkeypatch):
    """An age older than the calendar (1000000d) removes nothing or is a usage error, never exit 4."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where a crash report would go
    before = tree(tmp_path / "evidence")
    result = spark("evidence", "prune", "--older-than", "1000000d")
    assert result.exit_code in (0, 2), result.stderr
    assert tree(tmp_path / "evidence") == before


def test_prune_of_an_empty_folder_removes_nothing(spark, tmp_path):
    """Pruning where nothing is kept exits 0 and removes nothing."""
    result = spark("evidence", "prune", "--older-than", "1d")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert "removed 0 entries" in result.stderr

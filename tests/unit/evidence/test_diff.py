"""evidence/diff.py: what changed between two runs, what counts as worse, and where runs are read from."""

from __future__ import annotations

import json
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import check_doc, result_doc, write_run

from spark_ops.errors import ConfigError, EvidenceRefused
from spark_ops.evidence import diff
from spark_ops.result_json import decode

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def check(name: str, status: str = "PASS", severity: str = "major", **readings: float) -> dict[str, Any]:
    return {**check_doc(name, status, severity), "readings": readings}


def loaded(label: str, level: str, *checks: dict[str, Any], started: str = "2026-11-20T12:00:00Z") -> Any:
    document = {**result_doc("canary", level, checks), "started_at": started}
    return diff.LoadedRun(label, decode(json.dumps(document)))


def test_status_changes_new_failures_first():
    """Status changes list new failures first, then worse, better and lateral changes."""
    before = loaded(
        "a",
        "MEDIUM",
        check("a.better", "FAIL"),
        check("b.worse", "PASS"),
        check("c.new", "WARN"),
        check("d.lateral", "FAIL"),
        check("e.same"),
    )
    after = loaded(
        "b",
        "HIGH",
        check("a.better", "PASS"),
        check("b.worse", "INCONCLUSIVE"),
        check("c.new", "FAIL"),
        check("d.lateral", "ERROR"),
        check("e.same"),
    )
    result = diff.diff_runs(before, after)
    assert [(c.check, c.change) for c in result.changes] == [
        ("c.new", "new failure"),
        ("b.worse", "worse"),
        ("a.better", "better"),
        ("d.lateral", "changed"),
    ]
    assert result.regressions == [
        "new failure: c.new WARN → FAIL",
        "worse: b.worse PASS → INCONCLUSIVE",
        "risk MEDIUM → HIGH",
    ]


def test_added_and_removed_checks():
    """A check only in B is added (a failing one is a new failure), one only in A removed."""
    before = loaded("a", "LOW", check("kept"), check("gone"))
    after = loaded("b", "HIGH", check("kept"), check("fresh", "FAIL"))
    result = diff.diff_runs(before, after)
    assert [r.name for r in result.added] == ["fresh"]
    assert [r.name for r in result.removed] == ["gone"]
    assert "new failure: fresh (FAIL, new check)" in result.regressions


@pytest.mark.parametrize(
    ("reading", "before", "after", "worse", "shown"),
    [
        ("p95_ms", 4.6, 48.2, True, True),  # +948 %, past the bound and the noise floor
        ("p95_ms", 1.0, 2.0, False, True),  # +100 % but 1 ms: loopback jitter
        ("p95_ms", 100.0, 140.0, False, True),  # +40 %: within the 50 % bound
        ("p95_ms", 100.0, 90.0, False, True),  # faster is never worse
        ("p95_ms", 100.0, 105.0, False, False),  # +5 %: not shown
        ("error_rate", 0.0, 0.02, True, True),  # from 0: any rise counts
        ("restarts", 2.0, 9.0, True, True),
        ("slo.staleness", 0.1, 0.16, False, True),  # +60 % of a tick: noise
        ("slo.staleness", 2.0, 60.0, True, True),
        ("bytes", 8000.0, 16000.0, False, True),  # bigger is not worse for a size
        ("elapsed_ms", 17.0, 158.0, False, True),  # one request's timing is one sample
        ("baseline_p99_ms", 10.0, 40.0, True, True),
    ],
    ids=lambda v: str(v),
)
def test_readings_worse_only_past_the_bound(reading, before, after, worse, shown):
    """A reading where bigger is worse counts when it rose past --max-rise (50 %) and its noise floor."""
    result = diff.diff_runs(
        loaded("a", "LOW", check("c", **{reading: before})),
        loaded("b", "LOW", check("c", **{reading: after})),
    )
    moves = [(m.reading, m.worse) for m in result.moves]
    assert moves == ([(reading, worse)] if shown else [])
    assert bool(result.regressions) is worse


def test_max_rise_moves_the_bound():
    """--max-rise 1000 % lets a tenfold p95 pass; a negative bound is a usage error."""
    before, after = loaded("a", "LOW", check("c", p95_ms=4.6)), loaded("b", "LOW", check("c", p95_ms=48.2))
    assert diff.diff_runs(before, after, max_rise=10.0).regressions == []
    with pytest.raises(ConfigError, match="max-rise"):
        diff.diff_runs(before, after, max_rise=-0.1)


def test_reading_described_as_a_person_writes_it():
    """``latency.web p95 4.6 ms → 48.2 ms (+948 %)``."""
    move = diff.ReadingMove("latency.web", "p95_ms", 4.6, 48.2, worse=True)
    assert move.describe() == "latency.web p95 4.6 ms → 48.2 ms (+948 %)"
    assert diff.ReadingMove("c", "errors", 0, 3, True).describe() == "c errors 0 → 3 (from 0)"


def test_the_verdict_counts_in_words():
    """One regression is one, two of a kind are plural: ``2 regressions: 2 worse readings``."""
    before = loaded("a", "LOW", check("c", p95_ms=4.6, p99_ms=5.0))
    after = loaded("b", "LOW", check("c", p95_ms=48.2, p99_ms=50.0))
    assert (
        diff.render_table(diff.diff_runs(before, after)).rstrip().endswith("2 regressions: 2 worse readings")
    )
    one = loaded("b", "LOW", check("c", p95_ms=48.2, p99_ms=5.0))
    assert diff.render_table(diff.diff_runs(before, one)).rstrip().endswith("1 regression: 1 worse reading")


def test_views_agree(tmp_path):
    """The table, markdown and JSON views say the same things; no regression is said so."""
    before = loaded("a", "LOW", check("c", p95_ms=4.6))
    after = loaded("b", "HIGH", check("c", "FAIL", p95_ms=48.2))
    result = diff.diff_runs(before, after)
    table, markdown = diff.render_table(result), diff.render_markdown(result)
    document = diff.as_json(result)
    for text in (table, markdown):
        assert "c p95 4.6 ms → 48.2 ms (+948 %)" in text
        assert "LOW (score 100, exit 0) → HIGH (score 70, exit 0)" in text
        assert "3 regressions: 1 new failure, 1 worse reading, risk LOW → HIGH" in text
    assert document["schema"] == "spark-ops/diff/v1"
    assert (document["before"]["risk"], document["after"]["risk"]) == ("LOW", "HIGH")
    assert document["status_changes"][0]["change"] == "new failure"
    assert document["readings"][0] == {
        "check": "c",
        "reading": "p95_ms",
        "before": 4.6,
        "after": 48.2,
        "change": pytest.approx(9.478, abs=1e-3),
        "worse": True,
    }
    same = diff.diff_runs(before, before)
    assert same.regressions == [] and diff.render_table(same).endswith("no regression\n")


# --- loading runs ----------------------------------------------------------------------------------


def test_load_by_id_folder_and_result_file(tmp_path):
    """A run ID in the store, its folder and its result.json all load the same run."""
    folder = write_run(tmp_path, T0, "gate", result_doc("gate", "LOW"))
    by_id = diff.load_run(folder.name, tmp_path)
    by_folder = diff.load_run(str(folder), tmp_path / "elsewhere")
    by_file = diff.load_run(str(folder / "result.json"), tmp_path / "elsewhere")
    assert by_id.label == folder.name
    assert by_id.run == by_folder.run == by_file.run


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("20990101_000000_gate", "no run '20990101_000000_gate'"),
        ("not-a-run", "no run 'not-a-run'"),
        ("missing.zip", "not a readable evidence archive"),
    ],
)
def test_unknown_reference_is_a_usage_error(tmp_path, monkeypatch, reference, message):
    """A name that is no run, folder or archive is ConfigError (exit 2), naming it."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=message):
        diff.load_run(reference, tmp_path / "evidence")


def test_torn_result_is_refused(tmp_path):
    """A run folder whose result.json is not ours is a usage error, not a diff against nothing."""
    folder = write_run(tmp_path, T0, "gate", b'{"schema": "spark-ops/result/v1", "command"')
    with pytest.raises(ConfigError, match=r"result\.json"):
        diff.load_run(folder.name, tmp_path)


def make_archive(path: Path, runs: dict[str, dict[str, Any]], *, tamper: str | None = None) -> Path:
    """An archive shaped as `evidence export` writes it: runs/<id>/result.json and a manifest."""
    import hashlib

    members = {f"runs/{run_id}/result.json": json.dumps(doc).encode() for run_id, doc in runs.items()}
    manifest = {
        "schema": "spark-ops/evidence/v1",
        "runs": [{"id": run_id} for run_id in runs],
        "members": [
            {"path": name, "size": len(body), "sha256": hashlib.sha256(body).hexdigest()}
            for name, body in members.items()
        ],
    }
    with zipfile.ZipFile(path, "w") as archive:
        for name, body in members.items():
            archive.writestr(name, body.replace(b"LOW", b"HIGH") if name == tamper else body)
        archive.writestr("manifest.json", json.dumps(manifest))
    return path


def test_archive_with_one_run_and_with_several(tmp_path):
    """An archive of one run needs no ID; of several, ``ARCHIVE#RUN_ID`` names one (else exit 2)."""
    single = make_archive(tmp_path / "one.zip", {"20261120_120000_gate": result_doc("gate")})
    assert diff.load_run(str(single), tmp_path).label == "one.zip#20261120_120000_gate"
    several = make_archive(
        tmp_path / "two.zip",
        {"20261120_120000_gate": result_doc("gate"), "20261120_120500_canary": result_doc("canary", "HIGH")},
    )
    with pytest.raises(ConfigError, match=r"holds 2 runs .*#RUN_ID"):
        diff.load_run(str(several), tmp_path)
    chosen = diff.load_run(f"{several}#20261120_120500_canary", tmp_path)
    assert chosen.run.risk.level.value == "HIGH"
    with pytest.raises(ConfigError, match="no run '20261120_999999_gate'"):
        diff.load_run(f"{several}#20261120_999999_gate", tmp_path)


def test_altered_archive_is_refused(tmp_path):
    """A result.json that no longer matches the manifest's sha256 is refused (exit 1, as verify does)."""
    run_id = "20261120_120000_gate"
    archive = make_archive(
        tmp_path / "a.zip", {run_id: result_doc("gate")}, tamper=f"runs/{run_id}/result.json"
    )
    with pytest.raises(EvidenceRefused, match="altered"):
        diff.load_run(str(archive), tmp_path)


def test_last_pass_is_the_latest_passing_run_of_the_command_before(tmp_path):
    """--against last-pass: the newest earlier run of the same command whose verdict passed."""

    def run_at(minutes: int, command: str, level: str, checks: list[dict[str, Any]]) -> Path:
        doc = {
            **result_doc(command, level, checks),
            "started_at": (T0 + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "fail_on": "HIGH",
            "enforce": False,
        }
        return write_run(tmp_path, T0 + timedelta(minutes=minutes), command, doc)

    run_at(0, "canary", "LOW", [check("c")])
    good = run_at(10, "canary", "MEDIUM", [check("c", "WARN")])  # WARN passes below fail_on HIGH
    run_at(20, "canary", "HIGH", [check("c", "FAIL")])  # report-only, but its verdict failed
    run_at(25, "gate", "LOW", [check("g")])  # another command
    run_at(28, "canary", "MEDIUM", [check("c", "INCONCLUSIVE")])  # no data is no pass
    latest = run_at(30, "canary", "HIGH", [check("c", "FAIL")])
    after = diff.load_run(latest.name, tmp_path)
    found = diff.last_pass(tmp_path, after)
    assert found is not None and found.label == good.name
    first = diff.load_run(f"{T0:%Y%m%d_%H%M%S}_canary", tmp_path)
    assert diff.last_pass(tmp_path, first) is None

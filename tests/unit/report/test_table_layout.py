"""The terminal table's own layout: lines fit the terminal, long cells fold without losing a character,
check names are never broken, colour only on a terminal."""

from __future__ import annotations

import dataclasses
import re

import pytest
from conftest import DATA, check_result, gate_run
from table_reading import is_word_prefix, read_table, widest, words

from spark_ops import result_json
from spark_ops.model import CheckResult, Risk, RiskLevel, RunResult, Severity, Status
from spark_ops.report import table

LONG_REASON = (
    "GET http://127.0.0.1:4001/healthz: cannot connect: connection refused (after 2 attempts) and "
    + "x" * 90
    + " then 中文字符 wide characters"
)
SGR = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture(autouse=True)
def _plain_environment(monkeypatch):
    """The layout depends on COLUMNS and colour on NO_COLOR: neither leaks in from the shell running tests."""
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)


def run_of(*results: CheckResult) -> RunResult:
    return gate_run(results, score=50.0)


def result(name: str, message: str, observed: object = 200, status: Status = Status.FAIL) -> CheckResult:
    return check_result(name, "http", Severity.MAJOR, status, message, observed=observed, threshold=[200])


@pytest.mark.parametrize(
    ("text", "width", "lines"),
    [
        ("short", 10, ["short"]),
        ("two words here", 9, ["two words", "here"]),
        ("abcdefghij", 4, ["abcd", "efgh", "ij"]),
        ("a abcdefghij b", 4, ["a", "abcd", "efgh", "ij b"]),
        ("中文字符", 4, ["中文", "字符"]),
        ("one\ntwo", 10, ["one", "two"]),
        ("", 5, [""]),
    ],
    ids=["fits", "at-spaces", "long-word-folds", "fold-mid-line", "wide-characters", "newlines", "empty"],
)
def test_wrap(text, width, lines):
    """Cells wrap at spaces within the column's cells; words longer than the column are cut (folded)."""
    assert table.wrap(text, width) == lines


@pytest.mark.parametrize("width", [200, 140, 100, 80, 60], ids=["200", "140", "100", "80", "60"])
def test_every_line_fits_and_no_character_is_lost(monkeypatch, width):
    """At any terminal width every line fits, and the long reason reads back whole: from its column in the
    full table, or from the reasons below the compact one (a word longer than the line is folded)."""
    monkeypatch.setenv("COLUMNS", str(width))
    monkeypatch.setattr(table.sys.stdout, "isatty", lambda: True)
    monkeypatch.delenv("NO_COLOR", raising=False)
    run = run_of(
        result("executor.up", LONG_REASON, observed={"samples": 50, "p95_ms": 3.07, "p99_ms": 13.11}),
        result("ui.up", "GET / -> 200 in 4 ms", status=Status.PASS),
    )
    text = table.render(run)
    assert widest(text) <= width
    read = read_table(text)
    if read.layout == "full":
        shown = "".join(row[5] for row in read.rows)
    else:
        shown = read.reasons["executor.up"]
        assert [row[1] for row in read.rows] == ["executor.up", "ui.up"]  # a check name is never broken
    expected = "".join(LONG_REASON.split()) + ("GET/->200in4ms" if read.layout == "full" else "")
    assert shown.replace(" ", "") == expected


@pytest.mark.parametrize(
    ("tty", "no_color", "colour", "coloured"),
    [
        (True, None, None, True),
        (False, None, None, False),
        (True, "1", None, False),
        (True, "", None, True),
        (True, None, False, False),
    ],
    ids=["terminal", "pipe", "NO_COLOR", "NO_COLOR-empty", "--no-color"],
)
def test_colour_only_on_a_terminal_unless_turned_off(monkeypatch, tty, no_color, colour, coloured):
    """Statuses and the risk badge are coloured on a terminal; piped output, NO_COLOR (any non-empty value,
    as no-color.org says) and --no-color (colour=False) have no escape codes."""
    monkeypatch.setattr(table.sys.stdout, "isatty", lambda: tty)
    if no_color is None:
        monkeypatch.delenv("NO_COLOR", raising=False)
    else:
        monkeypatch.setenv("NO_COLOR", no_color)
    text = table.render(run_of(result("executor.up", "refused")), colour=colour)
    assert (SGR.search(text) is not None) is coloured
    plain = SGR.sub("", text)
    assert "│ FAIL " in plain and "RISK HIGH" in plain


def test_the_table_renderer_passes_no_color_on(monkeypatch):
    """``renderer("table", colour=False)`` (what --no-color asks for) prints no escape code on a terminal."""
    from spark_ops.report import renderer

    monkeypatch.setattr(table.sys.stdout, "isatty", lambda: True)
    monkeypatch.delenv("NO_COLOR", raising=False)
    run = run_of(result("executor.up", "refused"))
    assert SGR.search(renderer("table")(run))
    assert not SGR.search(renderer("table", colour=False)(run))


def test_controls_in_a_message_cannot_break_the_box():
    """A tab, carriage return or escape byte inside a reason never reaches the terminal raw."""
    text = table.render(run_of(result("c", "tab\there\rcr \x1b[2Jclear", observed=None)))
    assert "\x1b" not in text and "\r" not in text and "\t" not in text
    widths = {table.cell_len(line) for line in text.splitlines()[1:-4]}
    assert len(widths) == 1, widths


def test_a_run_without_checks_still_has_the_banner():
    """An empty result list renders the header and the banner, not an error."""
    run = dataclasses.replace(run_of(), risk=Risk(RiskLevel.CRITICAL, 0.0, "Nothing could be judged"))
    assert "RISK CRITICAL" in table.render(run)


CANARY = DATA / "results" / "canary_failing.json"  # a real `spark canary --mode mock` with two faults


@pytest.mark.parametrize(
    ("width", "layout", "reason_column"),
    [(60, "compact", False), (80, "compact", True), (120, "compact", True), (200, "full", True)],
    ids=["60", "80", "120", "200"],
)
def test_the_canary_reads_at_every_width(width, layout, reason_column):
    """A failing canary at 60, 80, 120 and 200 columns: every line fits; no word is broken across lines
    (each cell reads back exactly); narrow terminals get the compact layout (observed vs threshold, a
    reason cut at a word, every failing check's whole reason below), wide ones the full table."""
    run = result_json.decode(CANARY.read_bytes())
    text = table.render(run, colour=False, width=width)
    assert widest(text) <= width
    read = read_table(text)
    assert read.layout == layout
    assert [row[1] for row in read.rows] == [r.name for r in run.results]
    if layout == "full":
        assert read.rows == [[words(cell) for cell in table.full_row(r)] for r in run.results]
        return
    for row, check in zip(read.rows, run.results, strict=True):
        status, name, versus, reason = table.compact_row(check)
        assert row[:3] == [status, name, words(versus)]
        assert (len(row) == 4 and bool(row[3])) is reason_column
        if reason_column:
            assert is_word_prefix(row[3], reason), (row[3], reason)
    failing = {r.name: words(r.message) for r in run.results if r.status.needs_attention}
    assert read.reasons == failing


def test_a_short_gate_gets_the_full_table_at_120_columns():
    """When every reason fits its column whole, a 120-column terminal shows the full table."""
    run = run_of(
        result("ui.up", "GET / -> 200 in 4 ms", status=Status.PASS),
        result("executor.up", "cannot connect: connection refused"),
    )
    read = read_table(table.render(run, colour=False, width=120))
    assert read.layout == "full"
    assert [row[5] for row in read.rows] == ["GET / -> 200 in 4 ms", "cannot connect: connection refused"]


def test_readings_read_as_a_person_writes_them():
    """The latency probe's observed figures are percentiles in ms, not a dump of every key of a dict."""
    run = result_json.decode(CANARY.read_bytes())
    probe = next(r for r in run.results if r.kind == "latency")
    full = table.full_row(probe)
    assert full[3].startswith("p50 209 ms · p95 213 ms · p99 217 ms")
    assert "missed_slots" not in full[3] and "{" not in full[3]
    assert full[4] == "p95 max 150 ms · error rate max 5%"
    assert table.compact_row(probe)[2] == "p95 213 ms (max 150 ms) · error rate 0% (max 5%)"
    metrics = next(r for r in run.results if r.kind == "metrics")
    assert table.compact_row(metrics)[2] == "8.43 KiB (1 KiB..256 KiB)"


@pytest.mark.parametrize(
    ("natural", "minimum", "room", "widths"),
    [
        ([10, 30, 30], [10, 8, 8], 70, [10, 30, 30]),
        ([10, 30, 20], [10, 8, 8], 50, [10, 20, 20]),
        ([10, 30, 20], [10, 8, 8], 40, [10, 15, 15]),
        ([10, 30, 20], [10, 25, 8], 45, [10, 25, 10]),
        ([10, 30, 20], [10, 8, 8], 20, None),
    ],
    ids=["fits", "widest-first", "tied-share", "minimum-kept", "cannot-fit"],
)
def test_fit_widths(natural, minimum, room, widths):
    """Columns give way widest first, never below their minimum (a word); None when they cannot fit."""
    assert table.fit_widths(natural, minimum, room) == widths


@pytest.mark.parametrize("width", [60, 120, 200])
def test_a_long_title_wraps_at_words(width):
    """A profile given as a long path makes a long title: it wraps at spaces within the line too."""
    run = dataclasses.replace(
        run_of(result("ui.up", "GET / -> 200 in 4 ms", status=Status.PASS)),
        profile="/srv/deploy/environments/production-eu-west-1/spark-ops/profiles/canary-gate.toml",
    )
    text = table.render(run, colour=False, width=width)
    assert widest(text) <= width
    # A word longer than the whole line is the one that has to be cut; otherwise it stays whole.
    assert (run.profile in text.split()) is (len(run.profile) <= width)

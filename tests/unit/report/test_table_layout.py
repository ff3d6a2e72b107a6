"""The terminal table's own layout: lines fit the terminal, long cells fold without losing a character,
check names are never broken, colour only on a terminal."""

from __future__ import annotations

import dataclasses
import os
import re

import pytest
from conftest import check_result, gate_run

from spark_ops.model import CheckResult, Risk, RiskLevel, RunResult, Severity, Status
from spark_ops.report import table

LONG_REASON = (
    "GET http://127.0.0.1:4001/healthz: cannot connect: connection refused (after 2 attempts) and "
    + "x" * 90
    + " then 中文字符 wide characters"
)
SGR = re.compile(r"\x1b\[[0-9;]*m")


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


@pytest.mark.parametrize("width", [140, 100, 80], ids=["140", "100", "80"])
def test_every_line_fits_and_no_character_is_lost(monkeypatch, width):
    """At any terminal width every line fits, and the folded reason reads back whole from its column."""
    monkeypatch.setattr(table.shutil, "get_terminal_size", lambda fallback: os.terminal_size((width, 24)))
    monkeypatch.setattr(table.sys.stdout, "isatty", lambda: True)
    run = run_of(
        result("executor.up", LONG_REASON, observed={"samples": 50, "p95_ms": 3.07, "p99_ms": 13.11}),
        result("ui.up", "GET / -> 200 in 4 ms", status=Status.PASS),
    )
    lines = SGR.sub("", table.render(run)).splitlines()
    assert all(table.cell_len(line) <= width for line in lines), max(map(table.cell_len, lines))
    rows = [line for line in lines if line.count("│") == 7]  # table rows, not the banner
    reasons = "".join(line.split("│")[6].strip() for line in rows)
    assert reasons.replace(" ", "") == ("".join(LONG_REASON.split()) + "GET/->200in4ms")
    assert any(" executor.up " in line for line in rows)  # a check name is never broken


@pytest.mark.parametrize(("tty", "coloured"), [(True, True), (False, False)], ids=["terminal", "pipe"])
def test_colour_only_on_a_terminal(monkeypatch, tty, coloured):
    """Statuses and the risk badge are coloured on a terminal; piped output has no escape codes."""
    monkeypatch.setattr(table.sys.stdout, "isatty", lambda: tty)
    text = table.render(run_of(result("executor.up", "refused")))
    assert (SGR.search(text) is not None) is coloured
    plain = SGR.sub("", text)
    assert "│ FAIL " in plain and "RISK HIGH" in plain


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

"""The terminal table as a user sees it from a real `spark` process: `COLUMNS=80 spark canary --mode mock
--auto-ok` prints no line over 80 characters and no word broken across lines; on a real terminal (a
pseudo-terminal) colour is on, and NO_COLOR or --no-color turn it off."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from table_reading import SGR, is_word_prefix, read_table, widest, words

from spark_ops import result_json
from spark_ops.report import table


def spark_process(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``spark ARGS`` in a process of its own, stdout a pipe, with ``env`` added and no inherited layout."""
    environment = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "NO_COLOR", "GITHUB_ACTIONS")}
    return subprocess.run(
        [sys.executable, "-m", "spark_ops", *args],
        cwd=cwd,
        env={**environment, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    "faults", [[], ["--fault", "web=slow:200", "--fault", "marketdata=stale:60"]], ids=["healthy", "failing"]
)
def test_canary_at_80_columns_fits_and_breaks_no_word(tmp_path, faults):
    """The issue's done-when: COLUMNS=80 spark canary --mode mock --auto-ok, every line at most 80
    characters, every cell reads back exactly (a word cut across two lines would not), the reasons cut
    at a word, and each failing check's whole reason printed below the table."""
    report = tmp_path / "result.json"
    done = spark_process(
        "canary",
        "--mode",
        "mock",
        "--auto-ok",
        *faults,
        "--report-json",
        str(report),
        cwd=tmp_path,
        COLUMNS="80",
    )
    assert done.returncode == (1 if faults else 0), done.stdout + done.stderr
    assert widest(done.stdout) <= 80, done.stdout
    run = result_json.decode(report.read_bytes())
    read = read_table(done.stdout)
    assert read.layout == "compact"
    assert len(read.rows) == len(run.results) == 13
    for row, check in zip(read.rows, run.results, strict=True):
        status, name, versus, reason = table.compact_row(check)
        assert row[:3] == [status, name, words(versus)], row
        assert is_word_prefix(row[3], reason), (row[3], reason)
    assert read.reasons == {r.name: words(r.message) for r in run.results if r.status.needs_attention}
    assert bool(read.reasons) is bool(faults)
    assert "{" not in done.stdout  # readings as a person writes them, not dicts
    assert "RISK HIGH" in done.stdout if faults else "RISK LOW" in done.stdout


def in_a_terminal(*args: str, cwd: Path, **env: str) -> str:
    """What ``spark ARGS`` prints on a pseudo-terminal 100 columns wide (stdout and stderr)."""
    import pty  # POSIX only
    import select

    primary, secondary = pty.openpty()
    environment = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "NO_COLOR", "GITHUB_ACTIONS")}
    process = subprocess.Popen(
        [sys.executable, "-m", "spark_ops", *args],
        cwd=cwd,
        env={**environment, "COLUMNS": "100", "TERM": "xterm", **env},
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
    )
    os.close(secondary)
    output = b""
    try:
        while True:
            ready, _, _ = select.select([primary], [], [], 60)
            if not ready:
                break
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # the terminal closed: the process ended
                break
            if not chunk:
                break
            output += chunk
    finally:
        process.wait(timeout=60)
        os.close(primary)
    return output.decode("utf-8", "replace")


@pytest.mark.skipif(sys.platform == "win32", reason="a pseudo-terminal is POSIX only")
@pytest.mark.parametrize(
    ("extra", "env", "coloured"),
    [([], {}, True), ([], {"NO_COLOR": "1"}, False), (["--no-color"], {}, False)],
    ids=["terminal", "NO_COLOR", "--no-color"],
)
def test_colour_on_a_terminal_and_off_when_asked(platform, tmp_path, extra, env, coloured):
    """On a real terminal the statuses and the risk badge are coloured; NO_COLOR=1 or --no-color print
    the same table without a single escape code in stdout's table."""
    output = in_a_terminal("gate", "--no-evidence", *platform.sets(), *extra, cwd=tmp_path, **env)
    table_part = output[output.index("spark-ops gate") :]  # after any progress drawn on stderr
    assert "RISK LOW" in SGR.sub("", table_part), output
    assert ("\x1b[1;32mPASS" in table_part) is coloured, output
    assert (SGR.search(table_part) is not None) is coloured

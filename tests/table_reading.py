"""Reading the terminal table back as a person does: which layout it chose, each check's cells put back
together from their wrapped lines, and the reasons printed below a compact table.

A cell put back together joins its lines with one space, so a word broken across two lines reads back as
two words and no longer equals the cell's text: the tests compare with the text the table was given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from spark_ops.report.table import COMPACT_COLUMNS, cell_len

SGR = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class ReadTable:
    layout: str  # "full" or "compact"
    lines: list[str]
    rows: list[list[str]] = field(default_factory=list)  # one per check: its cells, lines joined
    reasons: dict[str, str] = field(default_factory=dict)  # compact: check name -> the reason below


def _joined(pieces: list[str]) -> str:
    return " ".join(piece for piece in pieces if piece)


def read_table(output: str) -> ReadTable:
    """The layout and cells of a rendered report (escape codes removed)."""
    lines = SGR.sub("", output).splitlines()
    if any(line.startswith("┏") for line in lines):
        return _read_full(lines)
    return _read_compact(lines)


def _read_full(lines: list[str]) -> ReadTable:
    read = ReadTable("full", lines)
    pieces: list[list[list[str]]] = []
    for line in lines:
        if not line.startswith("│") or line.count("│") != 7:
            continue
        cells = [cell.strip() for cell in line.split("│")[1:-1]]
        if cells[0]:
            pieces.append([[cell] for cell in cells])
        else:
            for column, cell in enumerate(cells):
                pieces[-1][column].append(cell)
    read.rows = [[_joined(column) for column in row] for row in pieces]
    return read


def _read_compact(lines: list[str]) -> ReadTable:
    read = ReadTable("compact", lines)
    header = next(i for i, line in enumerate(lines) if line.startswith(COMPACT_COLUMNS[0]))
    starts = [lines[header].index(name) for name in COMPACT_COLUMNS if name in lines[header]]
    end = next(i for i in range(header + 2, len(lines)) if set(lines[i]) == {"─"})
    pieces: list[list[list[str]]] = []
    for line in lines[header + 2 : end]:
        # Columns by where the header put them; a cell's text may not be cut through by another column.
        cells = [
            _slice_cells(line, start, starts[n + 1] if n + 1 < len(starts) else None)
            for n, start in enumerate(starts)
        ]
        if cells[0]:
            pieces.append([[cell] for cell in cells])
        else:
            for column, cell in enumerate(cells):
                pieces[-1][column].append(cell)
    read.rows = [[_joined(column) for column in row] for row in pieces]
    below = lines[end + 1 :]
    if below and below[0].startswith("Needs attention"):
        name = None
        for line in below[1:]:
            if line.startswith("╭"):
                break
            if line.startswith("    "):
                read.reasons[name] = _joined([read.reasons.get(name, ""), line.strip()])  # type: ignore[index]
            else:
                name = line.split(" ", 1)[1]
    return read


def _slice_cells(line: str, start: int, stop: int | None) -> str:
    """The text of ``line`` between two column starts, counted in cells (wide characters take two)."""
    out, used = "", 0
    for ch in line:
        if used >= start and (stop is None or used < stop):
            out += ch
        used += cell_len(ch)
    return out.strip()


def widest(output: str) -> int:
    """Cells of the widest line of ``output`` (escape codes removed)."""
    return max(cell_len(line) for line in SGR.sub("", output).splitlines())


def words(text: str) -> str:
    """``text`` with its whitespace runs as single spaces."""
    return " ".join(text.split())


def is_word_prefix(shown: str, whole: str) -> bool:
    """Whether ``shown`` is ``whole``, or its first words and ``…`` (cut at a space, never in a word)."""
    shown, whole = words(shown), words(whole)
    if shown == whole:
        return True
    if not shown.endswith("…"):
        return False
    kept = shown.removesuffix("…").split()
    return whole.split()[: len(kept)] == kept

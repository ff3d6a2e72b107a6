"""The terminal report: a box-drawn table of checks and a risk banner, in colour on a terminal.

Drawn here rather than by rich: rich measured and wrapped every cell through its renderables, 1.5 ms a
row, so the table of a 1000-check suite took longer than running the checks (bench/gate_scale.py). This
lays the same table out in one pass over the cells: rich's look (a heavy head, light body, the title
centred above, a rounded banner), its layout (columns as wide as their widest cell; when the table is
wider than the terminal, the widest wrapping columns give way first) and its folding (wrap at spaces,
cut words longer than the column).
"""

from __future__ import annotations

import json
import shutil
import sys
import unicodedata
from collections.abc import Sequence
from typing import Any

from spark_ops.model import RiskLevel, RunResult, Status

# SGR codes on a terminal; nothing at all otherwise.
STATUS_STYLES = {
    Status.PASS: "1;32",  # bold green
    Status.WARN: "1;33",  # bold yellow
    Status.FAIL: "1;31",  # bold red
    Status.ERROR: "1;35",  # bold magenta
    Status.INCONCLUSIVE: "1;36",  # bold cyan
    Status.SKIP: "2",  # dim
}
RISK_STYLES = {
    RiskLevel.LOW: "1;37;42",  # bold white on green
    RiskLevel.MEDIUM: "1;30;43",  # bold black on yellow
    RiskLevel.HIGH: "1;37;41",  # bold white on red
    RiskLevel.CRITICAL: "1;37;48;5;88",  # bold white on dark red
}
HEADER_STYLE, TITLE_STYLE = "1", "3"
COLUMNS = ("status", "check", "severity", "observed", "threshold", "reason")
WRAPS = (False, False, True, True, True, True)  # status and check names are never broken
NARROWEST = 8  # a wrapping column is never squeezed below this many cells


def _show(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict):  # compact: the terminal is narrow, the JSON report has the full form
        return ", ".join(f"{key} {_show(item)}" for key, item in value.items())
    return json.dumps(value)


def cell_len(text: str) -> int:
    """Terminal cells ``text`` takes: wide (East Asian) characters 2, combining marks and controls 0."""
    if text.isascii():
        return len(text) if text.isprintable() else sum(1 for ch in text if ch.isprintable())
    width = 0
    for ch in text:
        if unicodedata.combining(ch) or not ch.isprintable():
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


def _clean(text: str) -> str:
    """One line per line, tabs as spaces, no other control characters (they would break the box)."""
    text = text.replace("\t", " ").replace("\r\n", "\n").replace("\r", "\n")
    return "".join(ch for ch in text if ch == "\n" or ch.isprintable())


def _fold_word(word: str, width: int) -> list[str]:
    """``word`` cut into pieces at most ``width`` cells wide."""
    pieces, piece, used = [], "", 0
    for ch in word:
        size = cell_len(ch)
        if used + size > width and piece:
            pieces.append(piece)
            piece, used = "", 0
        piece += ch
        used += size
    pieces.append(piece)
    return pieces


def wrap(text: str, width: int) -> list[str]:
    """``text`` in lines at most ``width`` cells wide: broken at spaces, long words cut ("fold")."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        if cell_len(paragraph) <= width:
            lines.append(paragraph.rstrip() if paragraph.strip() else "")
            continue
        line, used = "", 0
        for word in paragraph.split():
            size = cell_len(word)
            if line and used + 1 + size <= width:
                line, used = f"{line} {word}", used + 1 + size
                continue
            if line:
                lines.append(line)
            if size <= width:
                line, used = word, size
            else:
                *full, line = _fold_word(word, width)
                lines.extend(full)
                used = cell_len(line)
        lines.append(line)
    return lines


def fit_widths(natural: Sequence[int], wraps: Sequence[bool], room: int) -> list[int]:
    """Column widths (text cells) that fit ``room``: while too wide, the widest wrapping columns shrink
    towards the next widest (rich's rule), never below ``NARROWEST`` (or their natural width)."""
    widths = list(natural)
    while sum(widths) > room:
        candidates = [w for w, ok in zip(widths, wraps, strict=True) if ok and w > NARROWEST]
        if not candidates:
            break  # cannot fit: the terminal wraps the lines itself
        widest = max(candidates)
        below = max([w for w in candidates if w < widest] + [NARROWEST])
        tied = [i for i, w in enumerate(widths) if wraps[i] and w == widest]
        cut = min((widest - below) * len(tied), sum(widths) - room)
        share, extra = divmod(cut, len(tied))
        for n, i in enumerate(tied):
            widths[i] -= share + (1 if n < extra else 0)
    return widths


class _Painter:
    def __init__(self, colour: bool) -> None:
        self.colour = colour

    def __call__(self, text: str, style: str | None) -> str:
        return f"\x1b[{style}m{text}\x1b[0m" if self.colour and style and text else text


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - cell_len(text))


def render_table(
    title: str, rows: Sequence[Sequence[str]], styles: Sequence[str | None], width: int, colour: bool
) -> list[str]:
    """The lines of the checks table: ``rows`` of cells, ``styles`` the style of each row's first cell."""
    paint = _Painter(colour)
    cells = [[_clean(c) for c in row] for row in rows]
    natural = [cell_len(name) for name in COLUMNS]
    for row in cells:
        for i, text in enumerate(row):
            longest = max(cell_len(line) for line in text.split("\n")) if "\n" in text else cell_len(text)
            natural[i] = max(natural[i], longest)
    # Each column has one space of padding either side and the box has len + 1 rules.
    room = width - 3 * len(COLUMNS) - 1
    widths = fit_widths(natural, WRAPS, room)
    rules = ["━" * (w + 2) for w in widths]
    thin = ["─" * (w + 2) for w in widths]
    out: list[str] = []
    table_width = sum(widths) + 3 * len(COLUMNS) + 1
    out.append(
        paint(title.center(table_width).rstrip() if cell_len(title) < table_width else title, TITLE_STYLE)
    )
    out.append("┏" + "┳".join(rules) + "┓")
    head = [" " + paint(_pad(name, w), HEADER_STYLE) + " " for name, w in zip(COLUMNS, widths, strict=True)]
    out.append("┃" + "┃".join(head) + "┃")
    out.append("┡" + "╇".join(rules) + "┩")
    for row, style in zip(cells, styles, strict=True):
        wrapped = [
            wrap(text, w) if ok else text.split("\n") for text, w, ok in zip(row, widths, WRAPS, strict=True)
        ]
        for n in range(max(len(lines) for lines in wrapped)):
            parts = []
            for i, (lines, w) in enumerate(zip(wrapped, widths, strict=True)):
                text = lines[n] if n < len(lines) else ""
                parts.append(" " + paint(_pad(text, w), style if i == 0 else None) + " ")
            out.append("│" + "│".join(parts) + "│")
    out.append("└" + "┴".join(thin) + "┘")
    return out


def render_banner(pieces: Sequence[tuple[str, str | None]], width: int, colour: bool) -> list[str]:
    """A rounded box around ``pieces`` (text, style); a newline inside a piece starts a line."""
    paint = _Painter(colour)
    lines: list[list[tuple[str, str | None]]] = [[]]
    for text, style in pieces:
        first, *rest = text.split("\n")
        lines[-1].append((first, style))
        lines.extend([[(more, style)] for more in rest])
    inner = max(NARROWEST, width - 4)
    shown: list[tuple[str, int]] = []  # (the line as printed, its width in cells)
    for line in lines:
        plain = "".join(text for text, _ in line)
        if not plain:
            continue
        if cell_len(plain) <= inner:
            shown.append(("".join(paint(text, style) for text, style in line), cell_len(plain)))
        else:  # too wide for the terminal: wrapped, unstyled
            shown.extend((part, cell_len(part)) for part in wrap(plain, inner))
    box = max(w for _, w in shown)
    body = ["│ " + text + " " * (box - w) + " │" for text, w in shown]
    return ["╭" + "─" * (box + 2) + "╮", *body, "╰" + "─" * (box + 2) + "╯"]


def render(run: RunResult) -> str:
    colour = sys.stdout.isatty()
    width = shutil.get_terminal_size((140, 24)).columns if colour else 140
    rows = [
        (r.status.value, r.name, r.severity.value, _show(r.observed), _show(r.threshold), r.message)
        for r in run.results
    ]
    styles = [STATUS_STYLES[r.status] for r in run.results]
    title = f"spark-ops {run.command} · profile {run.profile} · suite {run.suite}"
    s = run.summary
    banner = render_banner(
        [
            (f" RISK {run.risk.level.value} ", RISK_STYLES[run.risk.level]),
            (f"  score {run.risk.score:g}  ·  {run.risk.recommendation}\n", None),
            (
                f"{s.passed}/{s.total} passed, {s.warned} warned, {s.failed} failed, {s.errors} errors, "
                f"{s.inconclusive} inconclusive, {s.skipped} skipped  ·  "
                f"{run.duration_ms} ms  ·  exit code {run.exit_code}",
                None,
            ),
            *([] if run.window is None else [(f"\n{run.window.describe()}", None)]),
        ],
        width,
        colour,
    )
    return "\n".join([*render_table(title, rows, styles, width, colour), *banner]) + "\n"

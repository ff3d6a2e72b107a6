"""The terminal report: the checks and a risk banner, laid out for the terminal's width, in colour on a
terminal (never with ``NO_COLOR`` or ``--no-color``).

Two layouts, and no word is ever broken across lines (a word longer than the whole line is the one
exception: it cannot be helped):

- **full** (wide terminals): a box-drawn table of status, check, severity, observed, threshold and the
  whole reason, used when every column fits at least its longest word;
- **compact** (narrow terminals, e.g. 80 columns): status, check, observed against threshold and a reason
  cut to one line at a word, then the full reasons of every check that needs attention below the table.

Observed values and thresholds are written as a person writes them (``p95 32.4 ms (max 150 ms)``; see
``readable``). Drawn here rather than by rich: rich measured and wrapped every cell through its
renderables, 1.5 ms a row, so the table of a 1000-check suite took longer than running the checks
(bench/gate_scale.py). This lays the table out in one pass over the cells, with rich's look (a heavy
head, light body, the title centred above, a rounded banner).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import unicodedata
from collections.abc import Sequence

from spark_ops.model import CheckResult, RiskLevel, RunResult, Status
from spark_ops.report import readable

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
FULL_COLUMNS = ("status", "check", "severity", "observed", "threshold", "reason")
FULL_WRAPS = (False, False, False, True, True, True)  # statuses, names and severities are never broken
COMPACT_COLUMNS = ("status", "check", "observed vs threshold", "reason")
NOT_A_TERMINAL_WIDTH = 140  # piped output without COLUMNS: a CI log viewer is about this wide
LONGEST_UNBROKEN = 48  # a word longer than this may be cut in a full table's column
REASON_FULL_MIN = 60  # the full table only when its reasons get this much room (or all they need)
REASON_MIN = 16  # a compact reason narrower than this says too little: the column is left out
GAP = "  "  # between the compact layout's columns
BANNER_GAP = "  ·  "
URL = re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s]+(/\S*)?", re.I)


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
    if text.isprintable():  # the common case, checked at C speed
        return text
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


def terminal_width() -> int:
    """``COLUMNS`` when set (CI runners and users set it), else the terminal's width, else 140."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    if sys.stdout.isatty():
        return shutil.get_terminal_size((NOT_A_TERMINAL_WIDTH, 24)).columns
    return NOT_A_TERMINAL_WIDTH


def colour_wanted(colour: bool | None = None) -> bool:
    """Colour only on a terminal, and never when ``NO_COLOR`` is set to anything (no-color.org) or the
    caller says no (``--no-color``)."""
    if colour is False or os.environ.get("NO_COLOR"):
        return False
    return sys.stdout.isatty()


def longest_word(text: str) -> int:
    """Cells of the widest word of ``text`` (0 when empty)."""
    if text.isascii():  # cleaned text: one cell a character
        return max(map(len, text.split()), default=0)
    return max((cell_len(word) for word in text.split()), default=0)


def fit_widths(natural: Sequence[int], minimum: Sequence[int], room: int) -> list[int] | None:
    """Column widths (text cells) that fit ``room``: while too wide, the widest shrinkable columns give way
    towards the next widest (rich's rule), never below their ``minimum``; None when even the minimums do
    not fit."""
    floors = [min(n, m) for n, m in zip(natural, minimum, strict=True)]
    if sum(floors) > room:
        return None
    widths = list(natural)
    while (excess := sum(widths) - room) > 0:
        shrinkable = [i for i, w in enumerate(widths) if w > floors[i]]
        widest = max(widths[i] for i in shrinkable)
        tied = [i for i in shrinkable if widths[i] == widest]
        next_widest = max((widths[i] for i in shrinkable if widths[i] < widest), default=0)
        share = -(-excess // len(tied))  # ceiling division: the tied columns share the excess
        for i in tied:
            target = max(next_widest, floors[i], widest - share)
            cut = min(widths[i] - target, excess)
            widths[i] -= cut
            excess -= cut
    return widths


class _Painter:
    def __init__(self, colour: bool) -> None:
        self.colour = colour

    def __call__(self, text: str, style: str | None) -> str:
        return f"\x1b[{style}m{text}\x1b[0m" if self.colour and style and text else text


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - cell_len(text))


def _natural(cells: Sequence[Sequence[str]], headers: Sequence[str]) -> tuple[list[int], list[int]]:
    """The widest line and the widest word of each column, headers included."""
    natural = [cell_len(name) for name in headers]
    words = list(natural)
    for row in cells:
        for i, text in enumerate(row):
            lines = text.split("\n") if "\n" in text else (text,)
            natural[i] = max(natural[i], *(cell_len(line) for line in lines))
            words[i] = max(words[i], longest_word(text))
    return natural, words


def render_table(
    title: str,
    rows: Sequence[Sequence[str]],
    styles: Sequence[str | None],
    widths: Sequence[int],
    colour: bool,
    width: int,
) -> list[str]:
    """The lines of the full, box-drawn table: ``rows`` of cells (already clean), ``widths`` the text cells
    of each column, ``styles`` the style of each row's first cell; the title is centred above it, wrapped
    at the terminal's ``width`` when longer."""
    paint = _Painter(colour)
    rules = ["━" * (w + 2) for w in widths]
    thin = ["─" * (w + 2) for w in widths]
    table_width = sum(widths) + 3 * len(widths) + 1
    out = [
        paint(line.center(table_width).rstrip(), TITLE_STYLE) for line in wrap(title, max(width, table_width))
    ]
    out.append("┏" + "┳".join(rules) + "┓")
    head = [
        " " + paint(_pad(name, w), HEADER_STYLE) + " " for name, w in zip(FULL_COLUMNS, widths, strict=True)
    ]
    out.append("┃" + "┃".join(head) + "┃")
    out.append("┡" + "╇".join(rules) + "┩")
    for row, style in zip(rows, styles, strict=True):
        wrapped = [
            wrap(text, w) if shrinks else text.split("\n")
            for text, w, shrinks in zip(row, widths, FULL_WRAPS, strict=True)
        ]
        for n in range(max(len(lines) for lines in wrapped)):
            parts = []
            for i, (lines, w) in enumerate(zip(wrapped, widths, strict=True)):
                text = lines[n] if n < len(lines) else ""
                parts.append(" " + paint(_pad(text, w), style if i == 0 else None) + " ")
            out.append("│" + "│".join(parts) + "│")
    out.append("└" + "┴".join(thin) + "┘")
    return out


def clip_words(text: str, width: int) -> str:
    """``text`` on one line, cut to ``width`` cells at a space, with ``…`` when cut."""
    line = " ".join(text.split())
    if cell_len(line) <= width:
        return line
    kept: list[str] = []
    used = 0
    for word in line.split(" "):
        size = cell_len(word) + (1 if kept else 0)
        if used + size + 2 > width:  # room for " …"
            break
        kept.append(word)
        used += size
    return " ".join([*kept, "…"])


def render_compact(
    title: str,
    rows: Sequence[Sequence[str]],
    styles: Sequence[str | None],
    width: int,
    colour: bool,
) -> list[str]:
    """The compact layout: status, check, observed vs threshold (wrapped at spaces), a one-line reason
    (left out when the terminal leaves it too little room)."""
    paint = _Painter(colour)
    cells = [row[:3] for row in rows]
    natural, words = _natural(cells, COMPACT_COLUMNS[:3])
    fixed = natural[0] + natural[1] + 2 * len(GAP)
    # Observed vs threshold takes at most about half of what is left, the reason the rest.
    versus = max(words[2], min(natural[2], (width - fixed) * 11 // 20, width - fixed - len(GAP) - REASON_MIN))
    reason_width = width - fixed - versus - len(GAP)
    with_reason = reason_width >= REASON_MIN
    if not with_reason:
        versus = max(words[2], min(natural[2], width - fixed))
    widths = [natural[0], natural[1], versus]
    headers = COMPACT_COLUMNS if with_reason else COMPACT_COLUMNS[:3]
    out = [paint(line, TITLE_STYLE) for line in wrap(title, width)]
    head = GAP.join(_pad(name, w) for name, w in zip(headers, [*widths, reason_width], strict=False))
    out.append(paint(head.rstrip(), HEADER_STYLE))
    rule = "─" * min(
        width, sum(widths) + len(GAP) * (len(headers) - 1) + (reason_width if with_reason else 0)
    )
    out.append(rule)
    for row, style in zip(rows, styles, strict=True):
        status, name, versus_text, reason = row
        versus_lines = wrap(versus_text, versus)
        first = [paint(_pad(status, widths[0]), style), _pad(name, widths[1]), _pad(versus_lines[0], versus)]
        if with_reason:
            first.append(clip_words(reason, reason_width))
        out.append(GAP.join(first).rstrip())
        indent = " " * (widths[0] + widths[1] + 2 * len(GAP))
        out.extend((indent + line).rstrip() for line in versus_lines[1:])
    out.append(rule)
    return out


def render_reasons(results: Sequence[CheckResult], width: int, colour: bool) -> list[str]:
    """The whole reason of every check that needs attention, wrapped at spaces under its name."""
    paint = _Painter(colour)
    attention = [r for r in results if r.status.needs_attention]
    if not attention:
        return []
    out = [paint(f"Needs attention ({len(attention)}):", HEADER_STYLE)]
    for result in attention:
        out.append(f"{paint(result.status.value, STATUS_STYLES[result.status])} {result.name}")
        out.extend(f"    {line}" for line in wrap(_clean(result.message), max(8, width - 4)))
    return out


def render_banner(lines: Sequence[Sequence[tuple[str, str | None]]], width: int, colour: bool) -> list[str]:
    """A rounded box around ``lines``, each a list of segments (text, style) joined by `` · ``; a line too
    wide for the terminal breaks between segments, and a segment too wide wraps at spaces (unstyled)."""
    paint = _Painter(colour)
    inner = max(8, width - 4)
    shown: list[tuple[str, int]] = []  # (the line as printed, its width in cells)
    for segments in lines:
        printed, used = "", 0
        for text, style in segments:
            size = cell_len(text)
            if used and used + len(BANNER_GAP) + size <= inner:
                printed, used = printed + BANNER_GAP + paint(text, style), used + len(BANNER_GAP) + size
                continue
            if used:
                shown.append((printed, used))
            if size <= inner:
                printed, used = paint(text, style), size
            else:
                *whole, last = wrap(text, inner)
                shown.extend((part, cell_len(part)) for part in whole)
                printed, used = last, cell_len(last)
        if used:
            shown.append((printed, used))
    box = max(w for _, w in shown)
    body = ["│ " + text + " " * (box - w) + " │" for text, w in shown]
    return ["╭" + "─" * (box + 2) + "╮", *body, "╰" + "─" * (box + 2) + "╯"]


def full_row(result: CheckResult) -> tuple[str, ...]:
    """A check's cells in the full table."""
    unit = readable.unit_of(result.observed, result.readings)
    return (
        result.status.value,
        _clean(result.name),
        result.severity.value,
        _clean(readable.observed(result.observed, result.readings)),
        _clean(readable.threshold(result.threshold, unit)),
        _clean(result.message),
    )


def compact_row(result: CheckResult) -> tuple[str, ...]:
    """A check's cells in the compact layout."""
    return (
        result.status.value,
        _clean(result.name),
        _clean(readable.versus(result.observed, result.threshold, result.readings)),
        # A URL shortened to its path: the host takes a narrow line's room, the reasons below keep it.
        URL.sub(lambda url: url[1] or "/", _clean(result.message)),
    )


def render(run: RunResult, *, colour: bool | None = None, width: int | None = None) -> str:
    """The report for a terminal ``width`` cells wide (default: :func:`terminal_width`); ``colour=False``
    turns colour off (``--no-color``), ``None`` lets the terminal and ``NO_COLOR`` decide."""
    colour = colour_wanted(colour)
    width = terminal_width() if width is None else width
    title = f"spark-ops {run.command} · profile {run.profile} · suite {run.suite}"
    styles = [STATUS_STYLES[r.status] for r in run.results]
    rows = [full_row(r) for r in run.results]
    natural, words = _natural(rows, FULL_COLUMNS)
    # Unbroken: a shrinking column keeps its longest word (up to a limit); the others keep their width.
    minimum = [
        min(word, LONGEST_UNBROKEN) if shrinks else whole
        for whole, word, shrinks in zip(natural, words, FULL_WRAPS, strict=True)
    ]
    # A reason squeezed into a narrow column reads worse than the compact layout's one line.
    minimum[-1] = max(minimum[-1], min(natural[-1], REASON_FULL_MIN))
    # Each column has one space of padding either side and the box has len + 1 rules.
    widths = fit_widths(natural, minimum, width - 3 * len(FULL_COLUMNS) - 1)
    if widths is not None:
        body = render_table(title, rows, styles, widths, colour, width)
    else:
        compact = [compact_row(r) for r in run.results]
        body = [
            *render_compact(title, compact, styles, width, colour),
            *render_reasons(run.results, width, colour),
        ]
    return "\n".join([*body, *banner(run, width, colour)]) + "\n"


def banner(run: RunResult, width: int, colour: bool) -> list[str]:
    """The verdict in a rounded box: risk, score, recommendation, counts, time, exit code, window."""
    s = run.summary
    counts = (
        f"{s.passed}/{s.total} passed, {s.warned} warned, {s.failed} failed, {s.errors} errors, "
        f"{s.inconclusive} inconclusive, {s.skipped} skipped"
    )
    lines: list[list[tuple[str, str | None]]] = [
        [
            (f" RISK {run.risk.level.value} ", RISK_STYLES[run.risk.level]),
            (f"score {run.risk.score:g}", None),
            (run.risk.recommendation, None),
        ],
        [(counts, None), (f"{run.duration_ms} ms", None), (f"exit code {run.exit_code}", None)],
    ]
    if run.window is not None:
        lines.append([(run.window.describe(), None)])
    return render_banner(lines, width, colour)

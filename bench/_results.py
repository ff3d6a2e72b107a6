"""Rewrites one section of bench/RESULTS.md, so each benchmark keeps its own table and its history note."""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")


def machine() -> str:
    """One line naming the machine, for every table (numbers mean nothing without it)."""
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def write_section(key: str, body: str) -> None:
    """Replace (or append) the section between ``<!-- bench:key -->`` markers in RESULTS.md."""
    start, end = f"<!-- bench:{key} -->", f"<!-- /bench:{key} -->"
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmarks\n"
    block = f"{start}\n{body.rstrip()}\n{end}"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    text = (
        pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    )
    RESULTS.write_text(text, encoding="utf-8")


SUMMARY_JSON = Path(__file__).with_name("summary.json")


def record_rows(key: str, rows: list[dict[str, str]]) -> None:
    """Replace benchmark ``key``'s rows in the summary table at the top of RESULTS.md.

    Each row: ``what``, ``spark`` (spark-ops' number), ``peer`` (the peer's number and name), ``ratio``,
    ``goal`` and ``met`` ("yes" / "no" / "n/a"). Rows of other benchmarks are kept, so one benchmark can be
    re-run alone; the machine line is the one of the run that wrote the row.
    """
    import json

    summary = json.loads(SUMMARY_JSON.read_text(encoding="utf-8")) if SUMMARY_JSON.exists() else {}
    summary[key] = [{**row, "machine": machine()} for row in rows]
    SUMMARY_JSON.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    lines = [
        "## Summary",
        "",
        "Ratios are measured side by side in one run (medians of interleaved runs); see each section below.",
        "",
        "| what | spark-ops | peer | ratio | goal | met | machine |",
        "|---|---|---|---|---|---|---|",
    ]
    for bench_key in sorted(summary):
        for row in summary[bench_key]:
            cells = [row.get(c, "") for c in ("what", "spark", "peer", "ratio", "goal", "met", "machine")]
            lines.append("| " + " | ".join(cells) + " |")
    write_section("summary", "\n".join(lines))
    _summary_first()


def _summary_first() -> None:
    """Keep the summary section right under the title."""
    text = RESULTS.read_text(encoding="utf-8")
    start, end = "<!-- bench:summary -->", "<!-- /bench:summary -->"
    i, j = text.find(start), text.find(end) + len(end)
    block, rest = text[i:j], (text[:i] + text[j:])
    title, _, body = rest.partition("\n")
    RESULTS.write_text(f"{title}\n\n{block}\n\n{body.strip()}\n", encoding="utf-8")

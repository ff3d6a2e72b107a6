"""The terminal report: a rich table of checks and a risk banner."""

from __future__ import annotations

import io
import json
import shutil
import sys
from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from spark_ops.model import RiskLevel, RunResult, Status

STATUS_STYLES = {
    Status.PASS: "bold green",
    Status.WARN: "bold yellow",
    Status.FAIL: "bold red",
    Status.ERROR: "bold magenta",
    Status.INCONCLUSIVE: "bold cyan",
    Status.SKIP: "dim",
}
RISK_STYLES = {
    RiskLevel.LOW: "bold white on green",
    RiskLevel.MEDIUM: "bold black on yellow",
    RiskLevel.HIGH: "bold white on red",
    RiskLevel.CRITICAL: "bold white on dark_red",
}


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


def render(run: RunResult) -> str:
    colour = sys.stdout.isatty()
    width = shutil.get_terminal_size((140, 24)).columns if colour else 140
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=colour, no_color=not colour, width=width, highlight=False)
    table = Table(title=f"spark-ops {run.command} · profile {run.profile} · suite {run.suite}", expand=False)
    table.add_column("status", no_wrap=True)
    table.add_column("check", no_wrap=True)
    table.add_column("severity")
    table.add_column("observed", overflow="fold")
    table.add_column("threshold", overflow="fold")
    table.add_column("reason", overflow="fold")
    for r in run.results:
        table.add_row(
            Text(r.status.value, style=STATUS_STYLES[r.status]),
            r.name,
            r.severity.value,
            _show(r.observed),
            _show(r.threshold),
            r.message,
        )
    console.print(table)
    s = run.summary
    banner = Text.assemble(
        (f" RISK {run.risk.level.value} ", RISK_STYLES[run.risk.level]),
        f"  score {run.risk.score:g}  ·  {run.risk.recommendation}\n",
        f"{s.passed}/{s.total} passed, {s.warned} warned, {s.failed} failed, {s.errors} errors, "
        f"{s.inconclusive} inconclusive, {s.skipped} skipped  ·  ",
        f"{run.duration_ms} ms  ·  exit code {run.exit_code}",
    )
    console.print(Panel(banner, expand=False))
    return buffer.getvalue()

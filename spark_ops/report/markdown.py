"""A markdown report (also the GitHub step summary)."""

from __future__ import annotations

from spark_ops.model import RunResult, Status
from spark_ops.report import readable

ICONS = {
    Status.PASS: "✅",
    Status.WARN: "⚠️",
    Status.FAIL: "❌",
    Status.ERROR: "💥",
    Status.INCONCLUSIVE: "❔",
    Status.SKIP: "⏭️",
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(run: RunResult) -> str:
    s = run.summary
    lines = [
        f"## spark-ops {run.command}: {run.risk.level.value} (score {run.risk.score:g})",
        "",
        f"**{run.risk.recommendation}** — profile `{run.profile}`, suite `{run.suite}`, "
        f"{s.passed}/{s.total} passed, {s.warned} warned, {s.failed} failed, {s.errors} errors, "
        f"{s.inconclusive} inconclusive, {s.skipped} skipped; exit code {run.exit_code}; "
        f"started {run.started_at}, took {run.duration_ms} ms.",
        *([] if run.window is None else ["", f"_{run.window.describe()}._"]),
        "",
        "| status | check | severity | observed | threshold | reason |",
        "|---|---|---|---|---|---|",
    ]
    for r in run.results:
        # Figures as the terminal table and the HTML report write them (report/readable.py).
        observed = readable.observed(r.observed, r.readings)
        threshold = readable.threshold(r.threshold, readable.unit_of(r.observed, r.readings))
        lines.append(
            f"| {ICONS[r.status]} {r.status.value} | `{_cell(r.name)}` | {r.severity.value} | "
            f"{_cell(observed)} | {_cell(threshold)} | {_cell(r.message)} |"
        )
    return "\n".join(lines) + "\n"

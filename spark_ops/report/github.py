"""GitHub Actions: ``::error``/``::warning`` annotations and the job's step summary."""

from __future__ import annotations

import os
from pathlib import Path

from spark_ops.model import RunResult, Status
from spark_ops.report import markdown


def _escape(text: str) -> str:
    # Workflow-command escaping: %, CR and LF in the message; also : and , in properties.
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape(text).replace(":", "%3A").replace(",", "%2C")


def workflow_commands(run: RunResult) -> str:
    """One workflow command per check that is not a pass."""
    lines = []
    for r in run.results:
        if r.status.is_failure:
            level = "error"
        elif r.status in (Status.WARN, Status.INCONCLUSIVE):
            level = "warning"
        else:
            continue
        title = _escape_property(f"spark-ops {run.command}: {r.name} {r.status.value}")
        lines.append(f"::{level} title={title}::{_escape(r.message)}")
    return "".join(line + "\n" for line in lines)


def publish(run: RunResult) -> str:
    """Append the markdown summary to ``$GITHUB_STEP_SUMMARY``; returns the annotations to print."""
    summary_path = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary_path:
        with Path(summary_path).open("a", encoding="utf-8") as handle:
            handle.write(markdown.render(run) + "\n")
    return workflow_commands(run)

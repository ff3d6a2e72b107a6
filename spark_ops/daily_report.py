"""The daily risk report: what the kept runs of a window say about deploying, against the window before.

It reads only the run store (``result.json`` of each run), so it can be written on any machine that holds
the evidence, and it is stored beside the runs (``reports/<stamp>_report.{md,json}``) for the next export.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from spark_ops.evidence.store import STAMP_FORMAT, StoredRun, list_runs
from spark_ops.fsio import nameless_file, publish_unique, write_atomically
from spark_ops.model import RiskLevel
from spark_ops.risk import RECOMMENDATIONS
from spark_ops.units import finite_number

SCHEMA = "spark-ops/daily-report/v1"
NO_RUNS = "No runs in the window: there is no evidence that deploying is safe"
_RANK = {level.value: level.rank for level in RiskLevel}


def _window_stats(runs: Sequence[StoredRun]) -> dict[str, Any]:
    passed = sum(1 for run in runs if run.risk == RiskLevel.LOW.value)
    scores = [
        score
        for run in runs
        if run.result is not None and (score := finite_number(run.result.risk.score)) is not None
    ]
    return {
        "runs": len(runs),
        "low_risk_runs": passed,
        "low_risk_share": round(passed / len(runs), 3) if runs else None,
        "mean_score": round(sum(scores) / len(scores), 1) if scores else None,
    }


def _trend(current: Mapping[str, Any], previous: Mapping[str, Any]) -> str:
    if current["mean_score"] is None or previous["mean_score"] is None:
        return "no data to compare"
    change = current["mean_score"] - previous["mean_score"]
    if abs(change) < 1:
        return "steady"
    return "better" if change > 0 else "worse"


def _issues(runs: Sequence[StoredRun]) -> list[dict[str, Any]]:
    """Checks that did not pass in the window, most frequent first, with their latest reason."""
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for run in runs:  # oldest first: the last message kept is the latest
        if run.result is None:
            key = (run.command, "(result.json)")
            entry = seen.setdefault(key, {"command": run.command, "check": "(result.json)", "count": 0})
            # Why, e.g. "result.json: ambiguous JSON: key 'risk' appears twice": never counted as healthy.
            problem = run.problem or "result.json is missing or unreadable"
            entry.update(status="UNREADABLE", message=f"the run's {problem}")
            entry.update(count=entry["count"] + 1, last_run=run.id)
            continue
        for check in run.result.results:
            if not check.status.needs_attention:
                continue
            key = (run.command, check.name)
            entry = seen.setdefault(key, {"command": run.command, "check": key[1], "count": 0})
            entry.update(status=check.status.value, severity=check.severity.value)
            entry.update(message=check.message, count=entry["count"] + 1, last_run=run.id)
    return sorted(seen.values(), key=lambda e: (-e["count"], e["command"], e["check"]))


def _risk_now(runs: Sequence[StoredRun]) -> str | None:
    """The worst level among the latest run of each command (an unreadable latest run counts as HIGH)."""
    latest: dict[str, StoredRun] = {}
    for run in runs:
        latest[run.command] = run
    levels = [run.risk for run in latest.values()]
    known = [level for level in levels if level in _RANK]
    if len(known) != len(levels):
        known.append(RiskLevel.HIGH.value)  # a result we cannot read is no evidence of health
    return max(known, key=_RANK.__getitem__) if known else None


def _canary(runs: Sequence[StoredRun]) -> dict[str, Any] | None:
    canaries = [run for run in runs if run.command == "canary" and run.result is not None]
    if not canaries:
        return None
    latest = canaries[-1]
    assert latest.result is not None
    summary = latest.result.summary
    return {"run": latest.id, "passed": summary.passed, "total": summary.total}


def _timeline(runs: Sequence[StoredRun]) -> list[dict[str, Any]]:
    """Each run of the window, oldest first: when, which command, its risk and score (the HTML trend)."""
    return [
        {
            "run": run.id,
            "command": run.command,
            "at": run.created.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "risk": run.risk,
            "score": None if run.result is None else finite_number(run.result.risk.score),
        }
        for run in runs
    ]


def build(base_dir: Path, *, since: timedelta, now: datetime) -> dict[str, Any]:
    """The report document for the window ``[now - since, now]`` and its trend against the one before."""
    runs = list_runs(base_dir)
    start, previous_start = now - since, now - 2 * since
    current = [run for run in runs if start <= run.created <= now]
    previous = [run for run in runs if previous_start <= run.created < start]
    level = _risk_now(current)
    stats, previous_stats = _window_stats(current), _window_stats(previous)
    return {
        "schema": SCHEMA,
        "generated_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "window": {"from": start.strftime("%Y-%m-%dT%H:%M:%SZ"), "to": now.strftime("%Y-%m-%dT%H:%M:%SZ")},
        "risk": {
            "level": level,
            "recommendation": RECOMMENDATIONS[RiskLevel(level)] if level else NO_RUNS,
        },
        "runs": {
            **stats,
            "by_command": dict(Counter(run.command for run in current)),
            "by_risk": dict(Counter(run.risk for run in current)),
        },
        "canary": _canary(current),
        "issues": _issues(current),
        "timeline": _timeline(current),
        "trend": {"previous": previous_stats, "direction": _trend(stats, previous_stats)},
    }


def render_markdown(report: Mapping[str, Any]) -> str:
    """The report as markdown for a chat channel or a wiki page."""
    risk, runs, canary, trend = report["risk"], report["runs"], report["canary"], report["trend"]
    window = report["window"]
    lines = [
        f"# Spark daily risk report — {window['to']}",
        "",
        f"Window: {window['from']} to {window['to']}",
        "",
        f"**Risk: {risk['level'] or 'UNKNOWN'}** — {risk['recommendation']}",
        "",
    ]
    if canary:
        lines.append(f"- Canary: {canary['passed']}/{canary['total']} PASS (run {canary['run']})")
    else:
        lines.append("- Canary: no canary run in the window")
    by_command = ", ".join(f"{name} {count}" for name, count in sorted(runs["by_command"].items())) or "none"
    lines.append(f"- Runs: {runs['runs']} ({by_command}); LOW risk in {runs['low_risk_runs']}")
    previous = trend["previous"]
    lines.append(
        f"- Trend: {trend['direction']} (mean score {_shown(runs['mean_score'])} vs "
        f"{_shown(previous['mean_score'])} over {previous['runs']} runs the window before)"
    )
    lines += ["", "## Issues found", ""]
    if not report["issues"]:
        lines.append("None: every check passed in every run of the window." if runs["runs"] else "No runs.")
    else:
        lines += ["| command | check | status | times | latest reason |", "|---|---|---|---|---|"]
        for issue in report["issues"]:
            reason = str(issue.get("message") or "").replace("|", "\\|")
            lines.append(
                f"| {issue['command']} | {issue['check']} | {issue['status']} | {issue['count']} | {reason} |"
            )
    return "\n".join(lines) + "\n"


def _shown(value: float | None) -> str:
    return "n/a" if value is None else f"{value:g}"


def store(report: Mapping[str, Any], base_dir: Path, *, now: datetime) -> tuple[Path, Path]:
    """Keep the report as ``reports/<stamp>_report.json`` and ``.md`` (whole files, never half-written;
    a second report of the same second is ``<stamp>_report-2``)."""
    folder = base_dir / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    with nameless_file(folder, ".json") as (handle, publish):
        handle.write((json.dumps(report, indent=2) + "\n").encode())
        document = publish_unique(publish, folder, f"{now.strftime(STAMP_FORMAT)}_report", ".json")
    markdown = document.with_suffix(".md")
    write_atomically(markdown, render_markdown(report).encode())
    return markdown, document

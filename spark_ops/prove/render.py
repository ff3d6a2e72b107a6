"""The proof report: text a person reads, and JSON (``spark-ops/proof/v1``) for pipelines."""

from __future__ import annotations

import json
from typing import Any

from spark_ops.errors import plural
from spark_ops.prove.prover import CheckProof, ProofReport, Verdict

SCHEMA = "spark-ops/proof/v1"
_MARK = {Verdict.PROVEN: "PROVEN", Verdict.VACUOUS: "VACUOUS", Verdict.NOT_PROVABLE: "NOT PROVABLE"}


def text(report: ProofReport, *, verbose: bool = False) -> str:
    """The report; ``verbose`` adds every breakage of every check with what the check said."""
    lines = [
        f"spark suite prove: suite {report.suite!r}, profile {report.profile!r}, "
        f"answers recorded from the {'live platform' if report.source == 'live' else report.source}",
        "",
    ]
    width = max((len(proof.name) for proof in report.checks), default=10)
    # At least 8 (the shipped suites' kinds line up as before); "websocket" and plug-in kinds may be longer.
    kind_width = max([8, *(len(proof.kind) for proof in report.checks)])
    for proof in report.checks:
        lines.append(
            f"{_MARK[proof.verdict]:<12} {proof.name:<{width}}  {proof.kind:<{kind_width}} {proof.reason}"
        )
        lines += _details(proof)
        if verbose and proof.verdict is not Verdict.VACUOUS:
            lines += [
                f"    {trial.status or 'SKIPPED'!s:<12} {trial.breakage}: {trial.message}"
                for trial in proof.trials
            ]
    if report.lint:
        lines += ["", "lint:"]
        lines += [
            f"  {'defect ' if finding.blocking else 'note   '} {finding.describe()}"
            for finding in report.lint
        ]
    lines += [
        "",
        f"{report.count(Verdict.PROVEN)} proven, {report.count(Verdict.VACUOUS)} vacuous, "
        f"{report.count(Verdict.NOT_PROVABLE)} not provable, "
        f"{plural(sum(f.blocking for f in report.lint), 'lint defect')} "
        f"in {report.duration_ms / 1000:.1f} s "
        f"-> exit {report.exit_code}",
    ]
    return "\n".join(lines) + "\n"


def _details(proof: CheckProof) -> list[str]:
    if proof.verdict is Verdict.VACUOUS:
        shown = []
        for trial in proof.passed_breakages:
            shown.append(f"    let through: {trial.breakage}")
            shown.append(f"      it read:   {trial.status}: {trial.message}")
            shown.append(f"      matters:   {trial.matters}")
        return shown
    if proof.verdict is Verdict.NOT_PROVABLE and proof.baseline.status is not None:
        return [f"    on the platform as recorded: {proof.baseline.status}: {proof.baseline.message}"]
    return []


def to_json(report: ProofReport) -> str:
    return json.dumps(encode(report), indent=2, default=str, allow_nan=False) + "\n"  # never invalid JSON


def encode(report: ProofReport) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "suite": report.suite,
        "profile": report.profile,
        "recorded_from": report.source,
        "duration_ms": report.duration_ms,
        "summary": {verdict.value: report.count(verdict) for verdict in Verdict},
        "checks": [
            {
                "name": proof.name,
                "kind": proof.kind,
                "verdict": proof.verdict.value,
                "reason": proof.reason,
                "baseline": {k: v for k, v in _trial(proof.baseline).items() if k != "let_through"},
                "breakages": [_trial(trial) for trial in proof.trials],
            }
            for proof in report.checks
        ],
        "lint": [
            {"check": f.check, "rule": f.rule, "message": f.message, "blocking": f.blocking}
            for f in report.lint
        ],
        "exit_code": report.exit_code,
    }


def _trial(trial: Any) -> dict[str, Any]:
    return {
        "breakage": trial.breakage,
        "status": None if trial.status is None else str(trial.status),
        "let_through": trial.let_through,
        "message": trial.message,
        "observed": trial.observed,
    }

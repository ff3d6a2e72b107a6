"""``spark report``: the daily risk report from the kept runs."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from spark_ops import clock
from spark_ops.cli._errors import exit_codes, say
from spark_ops.cli._options import EvidenceDirOpt, ReportFormat
from spark_ops.errors import ExitCode


def report(
    since: Annotated[str, typer.Option("--since", help="The window to report on: 24h, 7d...")] = "24h",
    output: Annotated[
        ReportFormat, typer.Option("--format", "-f", help="What to print.")
    ] = ReportFormat.markdown,
    evidence_dir: EvidenceDirOpt = None,
    no_store: Annotated[bool, typer.Option("--no-store", help="Print only; do not keep the report.")] = False,
) -> None:
    """The daily risk report from the kept runs: risk, canary N/M PASS, issues, recommendation, trend.

    --format html prints one self-contained page charting the window's runs. Kept as markdown and JSON
    under <evidence>/reports/ (and so included in the next export). Exit 3 when the window holds no
    runs: no evidence is not a pass.
    """
    from spark_ops import daily_report
    from spark_ops.evidence import evidence_dir as resolve_dir
    from spark_ops.units import parse_duration

    with exit_codes():
        base = resolve_dir(evidence_dir)
        now = clock.now().replace(microsecond=0)
        document = daily_report.build(base, since=parse_duration(since, option="--since"), now=now)
        if output is ReportFormat.json:
            print(json.dumps(document, indent=2))
        elif output is ReportFormat.html:
            from spark_ops.report.html import render_daily

            sys.stdout.write(render_daily(document))
        else:
            sys.stdout.write(daily_report.render_markdown(document))
        if not no_store:
            markdown_path, _ = daily_report.store(document, base, now=now)
            say(f"report kept in {markdown_path.with_suffix('')}.{{md,json}}")
        if document["risk"]["level"] is None:
            raise typer.Exit(int(ExitCode.INCONCLUSIVE))

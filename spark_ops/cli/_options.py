"""The option types and choices the commands share, declared once."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    junit = "junit"
    markdown = "markdown"


class Mode(StrEnum):
    mock = "mock"
    real = "real"


class Ports(StrEnum):
    default = "default"
    auto = "auto"


class FailOn(StrEnum):
    medium = "medium"
    high = "high"
    critical = "critical"


class ReportFormat(StrEnum):
    markdown = "markdown"
    json = "json"
    html = "html"


class ListFormat(StrEnum):
    table = "table"
    json = "json"


class DiffFormat(StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"


class Against(StrEnum):
    last_pass = "last-pass"


ProfileOpt = Annotated[
    str, typer.Option("--profile", "-p", help="Profile name or TOML file.", envvar="SPARK_PROFILE")
]
SuiteOpt = Annotated[str, typer.Option("--suite", "-s", help="Suite name or TOML file.")]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override one profile key: KEY=VALUE (dotted key, TOML value). Repeatable."),
]
ExitOnFailOpt = Annotated[
    bool,
    typer.Option("--exit-on-fail", help="Let the exit code carry the verdict.", envvar="SPARK_EXIT_ON_FAIL"),
]
FailOnOpt = Annotated[
    FailOn | None,
    typer.Option(
        "--fail-on", help="Lowest risk level that fails the verdict (default: the profile's, high)."
    ),
]
FormatOpt = Annotated[OutputFormat, typer.Option("--format", "-f", help="What to print on stdout.")]
ReportJsonOpt = Annotated[Path | None, typer.Option("--report-json", help="Also write the result JSON here.")]
ReportJunitOpt = Annotated[Path | None, typer.Option("--report-junit", help="Also write JUnit XML here.")]
ReportHtmlOpt = Annotated[
    Path | None, typer.Option("--report-html", help="Also write the self-contained HTML report here.")
]
EvidenceDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--evidence-dir", help="Where runs are kept (default ./evidence).", envvar="SPARK_EVIDENCE_DIR"
    ),
]
NoEvidenceOpt = Annotated[bool, typer.Option("--no-evidence", help="Do not keep this run.")]
NoColorOpt = Annotated[
    bool, typer.Option("--no-color", help="No colour in the table (also: the NO_COLOR environment variable).")
]
FaultOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--fault",
        help="SERVICE=KIND[:ARG][@ON/PERIOD]: down, slow:MS, errors:FRACTION, stale:S, status:CODE, "
        "crashloop; marketdata's tick feed: ws-silent, ws-close:CODE, ws-noupgrade. @10s/30s: on for the "
        "first 10 s of every 30 s.",
    ),
]
DurationOpt = Annotated[
    str | None,
    typer.Option(
        "--duration",
        help="Analyse over a window this long (e.g. 60s, 5m): every check measured every --interval.",
    ),
]
IntervalOpt = Annotated[
    str | None,
    typer.Option("--interval", help="Time between two measurements of an analysis window (default 10s)."),
]
OutOpt = Annotated[Path | None, typer.Option("--out", "-o", help="Write here instead of stdout.")]
SignKeyOpt = Annotated[
    Path | None,
    typer.Option(
        "--sign-key",
        help="Sign with this Ed25519 private key (PEM; passphrase in $SPARK_SIGNING_KEY_PASSPHRASE).",
        envvar="SPARK_SIGNING_KEY_FILE",
    ),
]
SubjectOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--subject",
        help="What was tested, for the signed verdict: NAME=sha256:HEX (repeatable; default: the CI commit).",
    ),
]

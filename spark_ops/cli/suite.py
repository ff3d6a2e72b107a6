"""``spark suite prove``: show that every check of a suite can fail (library: ``spark_ops.prove``)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from spark_ops.cli._errors import exit_codes
from spark_ops.cli._options import ListFormat, ProfileOpt, SetOpt
from spark_ops.cli._params import PlainCommand, PlainGroup

app = typer.Typer(help="Prove and lint suites.", no_args_is_help=True, cls=PlainGroup)


@app.command("prove", cls=PlainCommand)
def prove(
    suite: Annotated[str, typer.Option("--suite", "-s", help="Suite name or TOML file.")] = "gate",
    profile: ProfileOpt = "dev",
    sets: SetOpt = None,
    from_live: Annotated[
        bool,
        typer.Option(
            "--from-live",
            help="Record the answers from the profile's services (one run of the suite, its load "
            "included) instead of the embedded simulator, then break them.",
        ),
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="List every breakage of every check and what it read.")
    ] = False,
    output: Annotated[ListFormat, typer.Option("--format", "-f", help="What to print on stdout.")] = (
        ListFormat.table
    ),
) -> None:
    """Break the platform in each way every check exists to catch and run the check against it.

    A check still passing under a breakage is vacuous. Exit 0: every check proven; 1: a check is vacuous
    or lint found a defect; 3: some checks are not provable and none vacuous; 2: configuration error.
    """
    from spark_ops.prove import prove_suite
    from spark_ops.prove.render import text, to_json

    with exit_codes():
        report = prove_suite(suite_ref=suite, profile_ref=profile, sets=sets or (), from_live=from_live)
        sys.stdout.write(to_json(report) if output is ListFormat.json else text(report, verbose=verbose))
    raise typer.Exit(report.exit_code)

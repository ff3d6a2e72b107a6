"""The ``spark`` command: parse options, call the library, pick the exit code. No logic lives here.

One module per command group; this one is the command table. Heavy modules (httpx, rich,
prometheus_client) are imported inside the commands that use them, so ``spark --help`` and
``spark --version`` stay fast in every pipeline step.
"""

from __future__ import annotations

from typing import Annotated

import typer

from spark_ops import version_line
from spark_ops.cli import checks, evidence, keys, monitor, profiles, report, run, sim, suite
from spark_ops.cli._params import PlainCommand, PlainGroup

app = typer.Typer(
    name="spark",
    help="spark-ops: decide whether the Spark platform is safe to deploy to.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    cls=PlainGroup,
)
app.add_typer(profiles.app, name="profiles")
app.add_typer(checks.app, name="checks")
app.add_typer(evidence.app, name="evidence")
app.add_typer(suite.app, name="suite")
app.add_typer(keys.app, name="keys")


def _version_callback(value: bool) -> None:
    if value:
        print(version_line())
        raise typer.Exit(0)


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version_callback, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """spark-ops: decide whether the Spark platform is safe to deploy to."""


app.command(name="gate", cls=PlainCommand)(
    run.suite_command(
        "gate", "Run the CI health gate. Report-only unless --exit-on-fail (or SPARK_EXIT_ON_FAIL=1)."
    )
)
app.command(name="smoke", cls=PlainCommand)(
    run.suite_command("smoke", "Smoke test: the five pages and /api/healthz answer 200 (6/6).")
)
app.command(cls=PlainCommand)(run.canary)
app.command(cls=PlainCommand)(sim.sim)
app.command(cls=PlainCommand)(report.report)
app.command(cls=PlainCommand)(monitor.monitor)
app.command(cls=PlainCommand)(monitor.alerts)
app.command(cls=PlainCommand)(monitor.dashboard)


def main() -> None:
    """The console-script entry point."""
    app()

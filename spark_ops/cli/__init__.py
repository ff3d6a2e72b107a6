"""The ``spark`` command: parse options, call the library, pick the exit code. No logic lives here.

One module per command group; this one is the command table. A command's module is imported, and its
click command built from its signature, only when that command runs: ``spark gate`` builds the gate
alone, not every command's options (building them all was a tenth of a one-check gate's CPU time,
bench/cold_start.py). ``spark --help``, no command and an unknown name build the whole tree, so help and
"no such command" read as before. Heavy modules (httpx, rich, prometheus_client) are imported inside the
commands that use them, so ``spark --help`` and ``spark --version`` stay fast in every pipeline step.
"""

from __future__ import annotations

import functools
import importlib
import sys
from collections.abc import Callable
from typing import Annotated

import typer

from spark_ops import version_line
from spark_ops.cli._params import PlainCommand, PlainGroup

Register = Callable[[typer.Typer], None]  # adds one command or command group to the app


def _command(module: str, function: str) -> Register:
    """The command ``function`` of ``spark_ops.cli.<module>``, under the function's name."""

    def register(app: typer.Typer) -> None:
        app.command(cls=PlainCommand)(getattr(importlib.import_module(f"spark_ops.cli.{module}"), function))

    return register


def _suite(command: str, summary: str) -> Register:
    """``spark COMMAND``: the gate's options, run against the suite of the same name by default."""

    def register(app: typer.Typer) -> None:
        from spark_ops.cli import run

        app.command(name=command, cls=PlainCommand)(run.suite_command(command, summary))

    return register


def _group(module: str) -> Register:
    """The command group ``app`` of ``spark_ops.cli.<module>``, under the module's name."""

    def register(app: typer.Typer) -> None:
        app.add_typer(importlib.import_module(f"spark_ops.cli.{module}").app, name=module)

    return register


# Every command and group by the name it is invoked by; --help lists the commands in this order, then
# the groups. A new group is one line: "keys": _group("keys") (spark_ops/cli/keys.py defines ``app``).
COMMANDS: dict[str, Register] = {
    "gate": _suite(
        "gate", "Run the CI health gate. Report-only unless --exit-on-fail (or SPARK_EXIT_ON_FAIL=1)."
    ),
    "smoke": _suite("smoke", "Smoke test: the five pages and /api/healthz answer 200 (6/6)."),
    "canary": _command("run", "canary"),
    "sim": _command("sim", "sim"),
    "report": _command("report", "report"),
    "monitor": _command("monitor", "monitor"),
    "alerts": _command("monitor", "alerts"),
    "dashboard": _command("monitor", "dashboard"),
    "profiles": _group("profiles"),
    "checks": _group("checks"),
    "evidence": _group("evidence"),
    "suite": _group("suite"),
    "keys": _group("keys"),
}


def _version_callback(value: bool) -> None:
    if value:
        print(version_line())
        raise typer.Exit(0)


def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version_callback, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """spark-ops: decide whether the Spark platform is safe to deploy to."""


def build_app(*names: str) -> typer.Typer:
    """The ``spark`` app with the commands and groups ``names`` (every one when none is named)."""
    app = typer.Typer(
        name="spark",
        help="spark-ops: decide whether the Spark platform is safe to deploy to.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
        cls=PlainGroup,
    )
    app.callback()(root)
    for name, register in COMMANDS.items():
        if not names or name in names:
            register(app)
    return app


@functools.cache
def _whole_app() -> typer.Typer:
    return build_app()


def __getattr__(name: str) -> typer.Typer:
    # ``app`` (every command) is built on first use: importing this module for ``main`` builds nothing.
    if name == "app":
        return _whole_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    """Run the CLI (the console script, ``spark_ops.__main__``, calls this): builds the invoked command
    alone when the first argument names one."""
    invoked = sys.argv[1] if len(sys.argv) > 1 and sys.argv[1] in COMMANDS else None
    app = build_app(invoked) if invoked else _whole_app()
    app()

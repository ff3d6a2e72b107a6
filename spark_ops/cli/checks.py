"""``spark checks list``: the installed check kinds and the suites that can be run."""

from __future__ import annotations

import typer

from spark_ops.cli._errors import exit_codes
from spark_ops.cli._params import PlainCommand, PlainGroup

app = typer.Typer(help="List check kinds and suites.", no_args_is_help=True, cls=PlainGroup)


@app.command("list", cls=PlainCommand)
def list_checks() -> None:
    """The check kinds installed (built-in and plug-in) and the suites that can be run."""
    from spark_ops.config import load_suite
    from spark_ops.config.files import available
    from spark_ops.registry import describe_kinds

    with exit_codes():
        print("kinds:")
        for kind, summary, source in describe_kinds():
            print(f"  {kind:<10} {summary}  [{source}]")
        print("suites:")
        for name, path in available("checks").items():
            loaded = load_suite(str(path))
            print(f"  {name:<10} {len(loaded.checks)} checks: {loaded.description}  [{path}]")

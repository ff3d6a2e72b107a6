"""``spark profiles list|show|validate``."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from spark_ops.cli._errors import exit_codes
from spark_ops.cli._options import SetOpt
from spark_ops.cli._params import PlainCommand, PlainGroup

app = typer.Typer(help="List, show and validate profiles.", no_args_is_help=True, cls=PlainGroup)


@app.command("list", cls=PlainCommand)
def list_profiles() -> None:
    """Every profile that can be used, and where it comes from (./profiles overrides the shipped ones)."""
    from spark_ops.config.files import available, read_toml

    with exit_codes():
        for name, path in available("profiles").items():
            description = read_toml(path).get("description", "")
            print(f"{name:<16} {description}  [{path}]")


@app.command("show", cls=PlainCommand)
def show(
    name: Annotated[str, typer.Argument(help="Profile name or TOML file.")] = "dev",
    sets: SetOpt = None,
) -> None:
    """Print the resolved profile (extends merged, ${ENV} and --set applied) with secrets redacted."""
    from spark_ops.config.profile import load_profile, resolved_view

    with exit_codes():
        profile = load_profile(name, sets or ())
        print(
            json.dumps({"name": profile.name, "source": profile.source, **resolved_view(profile)}, indent=2)
        )


@app.command("validate", cls=PlainCommand)
def validate(
    file: Annotated[str, typer.Argument(help="Profile name or TOML file.")],
    suite: Annotated[
        list[str] | None, typer.Option("--suite", "-s", help="Also validate these suites against it.")
    ] = None,
    sets: SetOpt = None,
) -> None:
    """Validate a profile (and optionally suites against it); exit 2 naming the file and key on error."""
    from spark_ops.config import load_profile, load_suite
    from spark_ops.registry import prepare

    with exit_codes():
        profile = load_profile(file, sets or ())
        print(f"ok: profile {profile.name} ({profile.source}): {len(profile.config.services)} services")
        for suite_ref in suite or []:
            loaded = load_suite(suite_ref)
            prepare(loaded, profile)
            print(f"ok: suite {loaded.name} ({loaded.source}): {len(loaded.checks)} checks")

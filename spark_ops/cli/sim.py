"""``spark sim``: the embedded platform simulator in the foreground."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from spark_ops.cli._errors import exit_codes, say, write_file
from spark_ops.cli._options import FaultOpt, Ports

if TYPE_CHECKING:
    from spark_ops.sim import Simulator


def sim(
    faults: FaultOpt = None,
    ports: Annotated[
        Ports, typer.Option("--ports", help="default: the platform's own ports; auto: free ports.")
    ] = Ports.default,
    write_profile: Annotated[
        Path | None, typer.Option("--write-profile", help="Write a profile pointing at the simulator here.")
    ] = None,
    role: Annotated[
        str | None,
        typer.Option(
            "--role", help='Label every series role="NAME" (two simulators as baseline and canary).'
        ),
    ] = None,
) -> None:
    """Run the embedded Spark platform simulator on loopback until Ctrl-C or SIGTERM."""
    from spark_ops.sim import Simulator, parse_fault, serve_until_stopped
    from spark_ops.sim.platform import ADMIN_PATH

    def announce(simulator: Simulator) -> None:
        if write_profile is not None:
            write_file(write_profile, simulator.profile_toml(), "--write-profile")
        for name, url in simulator.urls.items():
            print(f"{name:<11} {url}")
        print(simulator.profile_toml() if ports is Ports.auto and write_profile is None else "", end="")
        print(f"faults: POST SERVICE=KIND[:ARG] to {simulator.urls['web']}{ADMIN_PATH}; Ctrl-C stops")
        sys.stdout.flush()

    with exit_codes():
        simulator = Simulator(
            ports=ports.value, faults=[parse_fault(text) for text in faults or []], role=role
        )
        serve_until_stopped(simulator, announce)
        say("simulator stopped")

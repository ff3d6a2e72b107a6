"""Sessions: tests (the README's test command runs `nox -s tests`), lint, typecheck, bench."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True
PYTHON = "3.11"


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Install the package as users do (not editable) and run the test suite."""
    session.install(".[test]")
    # `pytest`, not `python -m pytest`: the tests must import the installed package, not ./spark_ops.
    session.run("pytest", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", "spark_ops", "tests", "bench", "examples", "tools", "noxfile.py")
    session.run("ruff", "format", "--check", "spark_ops", "tests", "bench", "examples", "tools", "noxfile.py")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    session.install("-e", ".[test]", "mypy")
    session.run("mypy", "spark_ops")


# Every benchmark, in the order `nox -s bench` runs them; each rewrites its section of bench/RESULTS.md
# and its rows of the summary table. `nox -s bench -- --quick` runs each one briefly (a smoke run).
BENCHMARKS = (
    "cold_start.py",
    "gate_scale.py",
    "latency_hey.py",
    "canary_probe.py",
    "metrics_at_size.py",
    "transport.py",
    "evidence_export.py",
    "monitor_soak.py",
    "prove.py",
    "html_report.py",
)
# The peers the benchmarks compare with, by command, and the Debian package that brings each one.
PEERS = {"hey": "hey", "promtool": "prometheus", "zip": "zip", "curl": "curl"}


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmarks (never timed asserts in the unit tests): ratios measured side by side in one run."""
    _install_peers(session)
    session.install(".", "aiohttp", "selenium")
    quick = ["--quick"] if "--quick" in session.posargs else []
    for script in BENCHMARKS:
        session.run("python", f"bench/{script}", *quick)


def _install_peers(session: nox.Session) -> None:
    """apt-get the peers a fresh machine lacks (needs root, as in CI); say which are missing otherwise."""
    import os
    import shutil

    missing = sorted({package for command, package in PEERS.items() if shutil.which(command) is None})
    if not missing:
        return
    if os.geteuid() != 0:
        session.error(f"benchmarks need these Debian packages: {' '.join(missing)} (apt-get install them)")
    session.run("apt-get", "update", "-qq", external=True)
    session.run("apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing, external=True)

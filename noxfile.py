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
    session.run("ruff", "check", "spark_ops", "tests", "bench", "noxfile.py")
    session.run("ruff", "format", "--check", "spark_ops", "tests", "bench", "noxfile.py")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    session.install("-e", ".[test]", "mypy")
    session.run("mypy", "spark_ops")


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmarks (never timed asserts in the unit tests): ratios measured side by side in one run."""
    session.install(".", "aiohttp")
    session.run("python", "bench/transport.py")
    session.run("python", "bench/evidence_export.py")

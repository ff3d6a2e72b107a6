"""The CLI starts fast in every pipeline step: --help and --version import no heavy module, and a command
builds only itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
from typer.testing import CliRunner

import spark_ops
from spark_ops.cli import COMMANDS, app, build_app

HEAVY = ("httpx", "httpx_aiohttp", "aiohttp", "prometheus_client", "rich", "jinja2", "markupsafe")

PROBE = """
import json, sys
from spark_ops.cli import app
try:
    app(sys.argv[1:], prog_name="spark", standalone_mode=False)
except SystemExit:
    pass
heavy = {heavy!r}
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in heavy)))
"""


def run_python(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=60, cwd=cwd, env={**os.environ}
    )


@pytest.mark.parametrize(
    "args",
    [["--help"], ["--version"], ["gate", "--help"], ["smoke", "--help"], ["evidence", "diff", "--help"]],
    ids=["help", "version", "gate-help", "smoke-help", "diff-help"],
)
def test_help_and_version_import_no_heavy_module(args, tmp_path):
    """`spark --help` and `spark --version` load neither httpx, aiohttp, prometheus_client nor rich."""
    completed = run_python("-c", PROBE.format(heavy=HEAVY), *args, cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    loaded = json.loads(completed.stdout.strip().splitlines()[-1])
    assert loaded == []


def test_version_via_module_imports_no_heavy_module(tmp_path):
    """`python -m spark_ops --version`, timed by -X importtime, never imports a heavy module."""
    completed = run_python("-X", "importtime", "-m", "spark_ops", "--version", cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    imported = {
        line.rsplit("|", 1)[-1].strip()
        for line in completed.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "spark_ops" in imported  # the probe saw the real import chain
    assert sorted(m for m in imported if m.split(".")[0] in HEAVY) == []
    assert "typer" not in imported  # --version alone answers before the CLI loads


def test_version_among_other_arguments_goes_through_the_cli(tmp_path):
    """`spark gate --version` is Typer's to judge (an unknown option there), not the fast path's."""
    completed = run_python("-m", "spark_ops", "gate", "--version", cwd=tmp_path)
    assert completed.returncode == 2
    assert "--version" in completed.stderr


def test_python_m_spark_ops_prints_the_version(tmp_path):
    """`python -m spark_ops --version` prints the installed package's version and exits 0."""
    completed = run_python("-m", "spark_ops", "--version", cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == f"spark-ops {spark_ops.__version__}"
    assert spark_ops.__version__ == version("spark-ops")


def test_spark_console_script_is_installed(tmp_path):
    """The `spark` command sits beside the venv's python and runs."""
    script = Path(sys.executable).parent / ("spark.exe" if os.name == "nt" else "spark")
    assert script.is_file()
    completed = subprocess.run(
        [str(script), "--version"], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == f"spark-ops {spark_ops.__version__}"


MAIN_PROBE = """
import json, sys
from spark_ops.cli import main
sys.argv = ["spark", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
print(json.dumps(sorted(m for m in sys.modules if m.startswith("spark_ops.cli."))))
"""


def test_spark_gate_builds_the_gate_alone(tmp_path):
    """`spark gate` imports no other command's module (building every command was a tenth of a gate)."""
    completed = run_python("-c", MAIN_PROBE, "gate", "--help", cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    assert "--exit-on-fail" in completed.stdout
    loaded = json.loads(completed.stdout.strip().splitlines()[-1])
    assert loaded == [
        "spark_ops.cli._errors",
        "spark_ops.cli._options",
        "spark_ops.cli._params",
        "spark_ops.cli.run",
    ]


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_a_command_built_alone_reads_as_in_the_whole_app(name):
    """Every command's --help, and so its options, is the same built alone (as `spark NAME` builds it) as
    in the whole app (as `spark --help` and the tests build it)."""
    alone = CliRunner().invoke(build_app(name), [name, "--help"], prog_name="spark")
    whole = CliRunner().invoke(app, [name, "--help"], prog_name="spark")
    assert alone.exit_code == whole.exit_code == 0, alone.output
    assert alone.output == whole.output


def test_a_gate_does_not_import_httpx_command_line_client(tmp_path, httpserver):
    """httpx loads its CLI (click, pygments) on import whenever click is installed; a spark process never
    runs it, so a gate leaves it out (about 40 ms of every pipeline step)."""
    pytest.importorskip("click", reason="httpx only loads its CLI when click is installed")
    httpserver.expect_request("/").respond_with_data("ok")
    suite = tmp_path / "one.toml"
    url = httpserver.url_for("/")
    suite.write_text(f'[[checks]]\nname = "one"\nkind = "http"\nurl = "{url}"\nexpect_status = [200]\n')
    completed = run_python(
        "-X", "importtime", "-m", "spark_ops", "gate", "--suite", str(suite), "--no-evidence", cwd=tmp_path
    )
    assert completed.returncode == 0, completed.stderr
    imported = {
        line.rsplit("|", 1)[-1].strip()
        for line in completed.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert {"httpx", "spark_ops.runner"} <= imported  # the check really ran through httpx
    assert sorted(m for m in imported if m.split(".")[0] in ("click", "pygments")) == []

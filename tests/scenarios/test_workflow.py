"""The GitHub Actions workflow (.github/workflows/ci.yml) cannot run here: actionlint checks it instead
(the binary comes with the test extras' actionlint wheel), and it must run the README's test command on
Linux, macOS and Windows x Python 3.11-3.13."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import REQUIRE_TOOLS, ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"


@pytest.fixture(scope="module")
def actionlint() -> str:
    """The actionlint binary; missing, the test skips locally but fails under CI (it is a test extra)."""
    found = shutil.which("actionlint")
    if found is not None:
        return found
    reason = "actionlint is missing (pip install -e '.[test]' brings it)"
    if os.environ.get("CI") == "true" or os.environ.get(REQUIRE_TOOLS) == "1":
        pytest.fail(f"{reason}; CI must lint the workflow", pytrace=False)
    pytest.skip(reason)


def lint(actionlint: str, workflow: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [actionlint, "-no-color", str(workflow)],
        cwd=workflow.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_workflow_passes_actionlint(actionlint):
    """actionlint finds nothing wrong in ci.yml (syntax, expressions, matrix, action inputs)."""
    checked = lint(actionlint, WORKFLOW)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_actionlint_catches_a_broken_workflow(actionlint, tmp_path):
    """The lint can fail: an undefined matrix key in a copy of ci.yml is reported."""
    broken = tmp_path / "ci.yml"
    text = WORKFLOW.read_text(encoding="utf-8")
    assert "${{ matrix.python }}" in text
    broken.write_text(text.replace("${{ matrix.python }}", "${{ matrix.pyton }}"), encoding="utf-8")
    checked = lint(actionlint, broken)
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert "pyton" in checked.stdout


def test_the_workflow_runs_the_readme_test_command_on_every_system_and_python():
    """Every job runs the README's `pip install nox && nox -s tests` on 3 systems x 3 Pythons."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    command = "python3 -m pip install nox && nox -s tests"
    assert command in readme
    text = WORKFLOW.read_text(encoding="utf-8")
    assert re.search(r"os: \[ubuntu-latest, macos-latest, windows-latest\]", text)
    assert re.search(r'python: \["3\.11", "3\.12", "3\.13"\]', text)
    runs = re.findall(r"run: (.*nox -s tests.*)", text)
    assert sorted(runs) == sorted(
        [
            f"{command} --force-python ${{{{ matrix.python }}}}",
            f"{command.replace('python3', 'python', 1)} --force-python ${{{{ matrix.python }}}}",
        ]
    )

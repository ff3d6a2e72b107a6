"""The CLI's plumbing: the command table, option conversion (without pydantic), Ctrl-C and escaped lines.

Exit codes for bad options and internal errors are in test_exit_codes.py and test_internal_errors.py;
``--version`` and the heavy-module budget of ``--help`` in test_startup.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import write_suite

import spark_ops.pipeline

# Every command and subcommand SPEC and the README name.
COMMANDS = [
    ["gate"],
    ["smoke"],
    ["canary"],
    ["sim"],
    ["monitor"],
    ["alerts"],
    ["dashboard"],
    ["report"],
    ["evidence", "export"],
    ["evidence", "verify"],
    ["evidence", "list"],
    ["evidence", "prune"],
    ["keys", "generate"],
    ["keys", "fingerprint"],
    ["checks", "list"],
    ["profiles", "list"],
    ["profiles", "show"],
    ["profiles", "validate"],
    ["suite", "prove"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_every_documented_command_is_registered(spark, command):
    """`spark COMMAND --help` answers for every command of the contract, with its usage line."""
    result = spark(*command, "--help")
    assert result.exit_code == 0, result.stderr
    assert f"Usage: spark {' '.join(command)}" in " ".join(result.stdout.split())


BAD_VALUES = {
    "float": (["monitor", "--interval", "abc"], "--interval", "'abc' is not a number"),
    "int": (["monitor", "--iterations", "1.5"], "--iterations", "'1.5' is not a whole number"),
    "choice": (["sim", "--ports", "weird"], "--ports", "'weird' is not one of 'default', 'auto'"),
    "choice-is-case-sensitive": (
        ["gate", "--format", "JSON"],
        "--format",
        "'JSON' is not one of 'table', 'json', 'junit', 'markdown'",
    ),
}


@pytest.mark.parametrize(("args", "option", "reason"), list(BAD_VALUES.values()), ids=list(BAD_VALUES))
def test_a_value_of_the_wrong_type_exits_2_naming_the_option(spark, args, option, reason):
    """A value that does not convert to the option's type is a usage error: exit 2, the option, the reason."""
    result = spark(*args)
    assert result.exit_code == 2, result.stdout + result.stderr
    assert f"Invalid value for '{option}'" in result.stderr
    assert reason in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("env_value", "expected_code"),
    [("1", 1), ("true", 1), ("yes", 1), ("on", 1), (" TRUE ", 1), ("0", 0), ("no", 0), ("off", 0), ("", 0)],
    ids=["1", "true", "yes", "on", "padded-upper-true", "0", "no", "off", "empty"],
)
def test_exit_on_fail_from_the_environment_reads_every_boolean_spelling(
    platform, spark, env_value, expected_code
):
    """SPARK_EXIT_ON_FAIL acts as --exit-on-fail: 1/true/yes/on (any case) enforce, 0/no/off/'' not."""
    platform.health["status"] = "DOWN"
    result = spark("gate", "--no-evidence", *platform.sets(), env={"SPARK_EXIT_ON_FAIL": env_value})
    assert result.exit_code == expected_code, result.stderr


def test_an_unreadable_boolean_in_the_environment_exits_2_naming_the_variable(platform, spark):
    """SPARK_EXIT_ON_FAIL=maybe is a usage error naming the variable, not a silent report-only run."""
    result = spark("gate", "--no-evidence", *platform.sets(), env={"SPARK_EXIT_ON_FAIL": "maybe"})
    assert result.exit_code == 2
    assert "SPARK_EXIT_ON_FAIL" in result.stderr
    assert "'maybe' is not a boolean" in result.stderr


def test_options_arrive_converted(platform, spark, tmp_path):
    """A path option, a choice and a repeated option reach the command as what they mean."""
    report = tmp_path / "out" / "result.json"
    report.parent.mkdir()
    result = spark(
        "gate",
        "--no-evidence",
        "--format",
        "json",
        "--fail-on",
        "critical",
        "--report-json",
        str(report),
        *platform.sets(),
    )
    assert result.exit_code == 0, result.stderr
    assert json.loads(report.read_text(encoding="utf-8")) == json.loads(result.stdout)


def test_ctrl_c_exits_130_with_one_line(platform, spark, monkeypatch):
    """Ctrl-C during a run is no crash: exit 130 and `spark: interrupted`, no details file, no traceback."""

    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(spark_ops.pipeline, "execute", interrupted)
    result = spark("gate", "--no-evidence", *platform.sets())
    assert result.exit_code == 130
    assert result.stderr == "spark: interrupted\n"


def test_control_characters_in_an_error_line_are_escaped(spark):
    """A name holding a carriage return or an escape sequence cannot rewrite the line it is shown on."""
    result = spark("gate", "--no-evidence", "--profile", "evil\r\x1b[2Kname")
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert "\r" not in line and "\x1b" not in line
    assert "evil\\r\\x1b[2Kname" in line


def test_a_one_check_gate_never_imports_pydantic(platform, tmp_path):
    """A whole `spark gate` process converts its options without pydantic (0.14 s of its cold start)."""
    suite = write_suite(
        tmp_path, {"name": "one", "kind": "http", "url": f"{platform.url}/", "expect_status": [200]}
    )
    probe = (
        "import sys\nfrom spark_ops.__main__ import main\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    code = exc.code\nelse:\n    code = 0\n"
        "print('LOADED', sorted(m for m in sys.modules if m.split('.')[0] == 'pydantic'), code)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("SPARK_EXIT_ON_FAIL", "SPARK_EVIDENCE_DIR")}
    completed = subprocess.run(
        [sys.executable, "-c", probe, "gate", "--suite", str(suite), "--no-evidence", "--exit-on-fail"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.splitlines()[-1] == "LOADED [] 0"
    assert "PASS" in completed.stdout

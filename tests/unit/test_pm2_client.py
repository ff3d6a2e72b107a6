"""The PM2 client (spark_ops/pm2_client.py): ``pm2_status`` for the evidence export, finding ``pm2`` on
PATH (``pm2.cmd`` on Windows), killing a hanging ``pm2`` with or without process groups, and whether a
PM2 daemon runs. The Windows paths are forced on Linux by switching the capability off."""

from __future__ import annotations

import json
import os
import stat
import sys
import time
from pathlib import Path

import pytest
from conftest import PM2_DATA, gone_or_zombie

from spark_ops import fsio, pm2_client
from spark_ops.errors import CheckError

PLANTED = ("pm2-planted-token-7f3c9e", "pm2-planted-dbpass-41d2")
TRIMMED_KEYS = {"name", "pm_id", "status", "restart_time", "memory", "cpu", "uptime_s"}
SEED_RECORDED_AT_S = 1795268737.474  # when banner_then_seed_crashloop.txt was recorded
# These force the Windows path on POSIX; on Windows itself signal 0 would send Ctrl-C, and PATHEXT applies.
posix_only = pytest.mark.skipif(os.name != "posix", reason="forces the Windows path on a POSIX system")


def test_pm2_status_returns_the_trimmed_list(fake_pm2, monkeypatch):
    """pm2_status() runs `pm2 jlist` and returns only name, pm_id, status, restarts, memory, cpu, uptime."""
    monkeypatch.setattr(pm2_client, "clock", lambda: SEED_RECORDED_AT_S)
    fake_pm2(f'cat "{PM2_DATA / "banner_then_seed_crashloop.txt"}"')
    status = pm2_client.pm2_status()
    assert [entry["name"] for entry in status] == [
        "spark-executor-1",
        "spark-executor-2",
        "spark-marketdata",
        "spark-web-next",
    ]
    assert all(set(entry) == TRIMMED_KEYS for entry in status)
    assert not any(secret in json.dumps(status) for secret in PLANTED)


def test_pm2_status_times_out_and_reports_a_missing_pm2(fake_pm2, monkeypatch, tmp_path):
    """pm2_status() raises CheckError when pm2 hangs past its timeout or is not on PATH."""
    fake_pm2("exec sleep 30")
    started = time.monotonic()
    with pytest.raises(CheckError, match=r"no answer within 0\.3 s"):
        pm2_client.pm2_status(timeout_s=0.3)
    assert time.monotonic() - started < 5
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(CheckError, match="not on PATH"):
        pm2_client.pm2_status()


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process group from /proc")
@pytest.mark.parametrize("groups", [True, False], ids=["process-group", "no-process-groups-windows-path"])
def test_a_hanging_pm2_is_killed_and_reaped_with_or_without_process_groups(
    fake_pm2, monkeypatch, tmp_path, groups
):
    """Past its timeout pm2 is killed and reaped: with its own process group on POSIX, as the child
    alone where there are no process groups (Windows), and then it stays in the caller's group."""
    monkeypatch.setattr(pm2_client, "KILLS_PROCESS_GROUPS", groups)
    pids = tmp_path / "pids"
    fake_pm2(f'echo "$$ $(cut -d" " -f5 /proc/$$/stat)" > "{pids}"\nexec sleep 30')
    started = time.monotonic()
    with pytest.raises(CheckError, match="no answer within"):
        pm2_client.pm2_status(timeout_s=0.5)
    assert time.monotonic() - started < 5
    pid, group = (int(field) for field in pids.read_text().split())
    assert (group == pid) is groups  # a session of its own only where groups are killed
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # killed and reaped (a zombie would still answer)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process tree from /proc")
def test_without_process_groups_taskkill_ends_the_tree(fake_pm2, monkeypatch, tmp_path):
    """On the Windows path a hanging pm2 and what it started are ended by `taskkill /T /F /PID <pid>`
    (a fake taskkill here, killing the tree as the real one does); the child is reaped."""
    monkeypatch.setattr(pm2_client, "KILLS_PROCESS_GROUPS", False)
    bin_folder, calls, pids = tmp_path / "fake-bin", tmp_path / "taskkill-calls", tmp_path / "pids"
    fake_pm2(f'sleep 30 &\necho "$$ $!" > "{pids}"\nwait')
    executable(bin_folder / "taskkill").write_text(
        f'#!/bin/sh\necho "$@" >> "{calls}"\npkill -KILL -P "$4"\nkill -KILL "$4"\n', encoding="utf-8"
    )
    with pytest.raises(CheckError, match="no answer within"):
        pm2_client.pm2_status(timeout_s=0.5)
    shell_pid, sleep_pid = (int(pid) for pid in pids.read_text().split())
    assert calls.read_text().split() == ["/T", "/F", "/PID", str(shell_pid)]
    with pytest.raises(ProcessLookupError):
        os.kill(shell_pid, 0)
    deadline = time.monotonic() + 5
    while not gone_or_zombie(sleep_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gone_or_zombie(sleep_pid)


def executable(path: Path) -> Path:
    path.write_text("#!/bin/sh\necho '[]'\n", encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.mark.parametrize(
    ("files", "windows", "found"),
    [
        pytest.param(["pm2", "pm2.cmd"], True, "pm2.cmd", id="windows-prefers-pm2.cmd"),
        pytest.param(["pm2", "pm2.exe"], True, "pm2.exe", id="windows-takes-pm2.exe"),
        pytest.param(["pm2"], True, "pm2", id="windows-falls-back-to-pm2"),
        pytest.param(["pm2", "pm2.cmd"], False, "pm2", id="posix-takes-pm2"),
        pytest.param([], True, None, id="windows-none"),
        pytest.param([], False, None, id="posix-none"),
    ],
)
@posix_only
def test_find_executable_prefers_pm2_cmd_on_windows(tmp_path, monkeypatch, files, windows, found):
    """npm's extensionless pm2 is a shell script Windows cannot start: there pm2.cmd (or .exe) is taken."""
    for name in files:
        executable(tmp_path / name)
    monkeypatch.setenv("PATH", str(tmp_path))
    result = pm2_client.find_executable("pm2", windows=windows)
    assert result == (None if found is None else str(tmp_path / found))


@posix_only
def test_an_explicit_command_is_taken_as_given_on_windows(tmp_path, monkeypatch):
    """A command with an extension (``pm2.cmd``, ``node.exe``) is looked up as it is."""
    executable(tmp_path / "pm2.cmd")
    executable(tmp_path / "pm2.cmd.cmd")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert pm2_client.find_executable("pm2.cmd", windows=True) == str(tmp_path / "pm2.cmd")


@pytest.mark.parametrize(
    ("pid_file", "probe", "running"),
    [
        pytest.param("self", True, True, id="live-pid"),
        pytest.param("dead", True, False, id="dead-pid"),
        pytest.param("garbage", True, False, id="not-a-pid"),
        pytest.param(None, True, False, id="no-pid-file"),
        pytest.param("dead", False, True, id="no-pid-probe-windows-trusts-the-file"),
    ],
)
@posix_only
def test_daemon_running_reads_the_pid_file(tmp_path, monkeypatch, pid_file, probe, running):
    """A PM2 daemon runs when $PM2_HOME/pm2.pid names a live process; where pids cannot be probed
    (Windows), the pid file alone is taken as a running daemon."""
    monkeypatch.setenv("PM2_HOME", str(tmp_path))
    monkeypatch.setattr(fsio, "CAN_PROBE_PIDS", probe)
    contents = {"self": str(os.getpid()), "dead": str(dead_pid()), "garbage": "not a pid"}
    if pid_file is not None:
        (tmp_path / "pm2.pid").write_text(contents[pid_file] + "\n", encoding="utf-8")
    assert pm2_client.daemon_running() is running


def dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    import subprocess

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid

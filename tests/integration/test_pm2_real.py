"""Real PM2 (``pm2`` on PATH) under an isolated ``PM2_HOME``: the ``pm2`` kind runs ``pm2 jlist`` itself
and catches a real crash loop. Without pm2 this skips, except under ``SPARK_REQUIRE_TOOLS=1`` (.ci/run),
where it fails."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import missing_tool, run_one_check

from spark_ops import pm2_client
from spark_ops.model import Status

PM2 = shutil.which("pm2")
CRASHER, HEALTHY = "spark-crasher", "spark-healthy"
SECRET = "pm2-real-planted-token-5b1e"
WAIT_S = 20.0

pytestmark = pytest.mark.slow


@pytest.fixture
def pm2_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An isolated PM2 home (its own daemon), killed with ``pm2 kill`` afterwards whatever happened."""
    if PM2 is None:
        missing_tool("pm2 is not on PATH (npm install -g pm2)")
    home = tmp_path / "pm2-home"
    monkeypatch.setenv("PM2_HOME", str(home))
    # PM2 copies its environment into every process's jlist entry: this must never be kept.
    monkeypatch.setenv("SPARK_PM2_TEST_TOKEN", SECRET)
    try:
        yield home
    finally:
        subprocess.run(
            [PM2, "kill"],
            env={**os.environ, "PM2_HOME": str(home)},
            capture_output=True,
            timeout=30,
            check=False,
        )


def pm2_start(folder: Path, name: str, source: str) -> None:
    script = folder / f"{name}.js"
    script.write_text(source, encoding="utf-8")
    assert PM2 is not None
    subprocess.run([PM2, "start", str(script), "--name", name], capture_output=True, timeout=30, check=True)


def wait_for_crash_loop() -> dict[str, object]:
    """The crasher's trimmed entry once PM2 marks it errored or its restarts pass the default limit."""
    deadline = time.monotonic() + WAIT_S
    while True:
        crasher = next(entry for entry in pm2_client.pm2_status() if entry["name"] == CRASHER)
        restarts = crasher["restart_time"]
        if crasher["status"] == "errored" or (isinstance(restarts, int) and restarts > 10):
            return crasher
        assert time.monotonic() < deadline, f"PM2 never gave up on the crasher: {crasher}"
        time.sleep(0.25)


def test_real_pm2_crash_loop_fails_and_healthy_process_passes(tmp_path, pm2_home):
    """Real `pm2 jlist`: a check over all processes FAILs naming the crasher; one on the other PASSes."""
    pm2_start(tmp_path, CRASHER, "process.exit(1);\n")
    pm2_start(tmp_path, HEALTHY, "setInterval(() => {}, 1000);\n")
    wait_for_crash_loop()

    everything = run_one_check(tmp_path, {"name": "pm2.all", "kind": "pm2"}, "dev", [])
    assert everything.status is Status.FAIL, everything.message
    assert everything.observed == {"processes": 2, "bad": [CRASHER]}
    assert f"{CRASHER}: " in everything.message
    assert HEALTHY + ":" not in everything.message

    healthy = run_one_check(tmp_path, {"name": "pm2.web", "kind": "pm2", "processes": [HEALTHY]}, "dev", [])
    assert healthy.status is Status.PASS, healthy.message

    for result in (everything, healthy):
        (body,) = result.artifacts.values()
        assert SECRET not in result.message + body.decode()
        assert {entry["name"] for entry in json.loads(body)} == {CRASHER, HEALTHY}

"""The simulator in a child process (sim/child.py): ready with its URLs, serving, gone when closed."""

from __future__ import annotations

import json
import subprocess
import urllib.request

import pytest

from spark_ops.errors import ConfigError
from spark_ops.sim import SERVICES, parse_fault
from spark_ops.sim.child import SimulatorProcess


def test_the_child_serves_the_platform_and_stops_when_closed():
    """Every service answers from the child; after stop() the child has exited and its ports are closed."""
    simulator = SimulatorProcess(faults=[parse_fault("marketdata=stale:60")]).start()
    try:
        assert set(simulator.urls) == set(SERVICES)
        with urllib.request.urlopen(simulator.urls["web"] + "/api/healthz", timeout=10) as answer:
            health = json.loads(answer.read())
        assert health["slo"]["staleness"] >= 60  # the fault reached the child
        process = simulator._process
    finally:
        simulator.stop()
    assert process is not None and process.poll() == 0
    with pytest.raises(OSError):
        urllib.request.urlopen(simulator.urls["web"] + "/api/healthz", timeout=2)


def test_a_child_that_cannot_start_is_a_one_line_config_error(monkeypatch):
    """A child that exits before it is ready is reported with its last error line, never a hang."""
    real_popen = subprocess.Popen

    def broken(command, **options):  # a child that fails as a broken install would
        return real_popen([command[0], "-c", "import sys; sys.exit('cannot import aiohttp')"], **options)

    monkeypatch.setattr(subprocess, "Popen", broken)
    with pytest.raises(ConfigError, match="the simulator did not start: cannot import aiohttp"):
        SimulatorProcess().start()

"""Fixtures for the simulator tests: a real simulated platform on free loopback ports."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from spark_ops.sim import Simulator


@pytest.fixture
def sim() -> Iterator[Simulator]:
    """A started ``Simulator(ports="auto")``, healthy until a test applies a fault; stopped afterwards."""
    simulator = Simulator(ports="auto").start()
    try:
        yield simulator
    finally:
        simulator.stop()

"""Faults that come and go (``SERVICE=KIND[:ARG]@ON/PERIOD``): parsing, and on in the on-phase only."""

from __future__ import annotations

import time

import httpx
import pytest

from spark_ops.errors import ConfigError, ExitCode
from spark_ops.sim import Fault, Simulator, parse_fault

ADMIN = "/__sim/faults"


class Clock:
    """The platform's clock, set by the test: ``Platform.clock`` is the seam."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(sim: Simulator) -> Clock:
    """A hand-set clock plugged into ``sim``'s platform, starting at t = 1000 s."""
    fake = Clock(1000.0)
    sim.platform.clock = fake
    return fake


@pytest.mark.parametrize(
    ("text", "fault"),
    [
        pytest.param("web=errors:0.3@10s/30s", Fault("web", "errors", 0.3, 10.0, 30.0), id="seconds"),
        pytest.param("web=slow:80@500ms/2s", Fault("web", "slow", 80.0, 0.5, 2.0), id="milliseconds"),
        pytest.param(
            "executor-1=status:503@1m/5m", Fault("executor-1", "status", 503.0, 60.0, 300.0), id="minutes"
        ),
        pytest.param(
            "web=errors:1 @ 1m30s / 1h ", Fault("web", "errors", 1.0, 90.0, 3600.0), id="spaces-and-mixed"
        ),
        pytest.param("web=errors:0.3", Fault("web", "errors", 0.3), id="no-cycle-always-on"),
    ],
)
def test_parse_reads_a_cycle_and_the_listing_round_trips(text, fault):
    """``@ON/PERIOD`` becomes on/period seconds; ``str(fault)`` (the admin listing) reads back the same."""
    assert parse_fault(text) == fault
    assert parse_fault(str(fault)) == fault


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("web=errors:0.3@10s", "@ON/PERIOD, e.g. @10s/30s", id="no-period"),
        pytest.param("web=errors:0.3@/30s", "durations such as", id="no-on"),
        pytest.param("web=errors:0.3@10/30", "durations such as", id="no-units"),
        pytest.param("web=errors:0.3@0s/30s", "durations such as", id="zero-on"),
        pytest.param("web=errors:0.3@-1s/30s", "durations such as", id="negative-on"),
        pytest.param("web=errors:0.3@nanms/2s", "durations such as", id="nan-ms"),
        pytest.param("web=errors:0.3@30s/30s", "ON must be shorter than PERIOD", id="on-equals-period"),
        pytest.param("web=errors:0.3@1m/30s", "ON must be shorter than PERIOD", id="on-longer"),
        pytest.param("web=down@10s/30s", "'down' cannot come and go", id="down"),
        pytest.param("executor-1=crashloop@10s/30s", "'crashloop' cannot come and go", id="crashloop"),
        pytest.param("marketdata=stale:60@10s/30s", "'stale' cannot come and go", id="stale"),
        pytest.param("web=errors:1.5@10s/30s", "out of range", id="bad-value-still-checked"),
    ],
)
def test_parse_rejects_malformed_cycles(text, message):
    """A malformed or impossible cycle is a configuration error (exit 2) saying what is wrong."""
    with pytest.raises(ConfigError, match=message) as caught:
        parse_fault(text)
    assert caught.value.exit_code == ExitCode.USAGE_ERROR
    assert "\n" not in str(caught.value)


def test_cli_refuses_a_cycle_on_down_with_one_line(spark):
    """``spark sim --fault web=down@1s/2s``: exit 2, one line naming the kinds that can come and go."""
    result = spark("sim", "--ports", "auto", "--fault", "web=down@1s/2s")
    assert result.exit_code == ExitCode.USAGE_ERROR
    (line,) = result.stderr.strip().splitlines()
    assert "works with slow, errors, status" in line


def answer(sim: Simulator) -> tuple[int, float]:
    """(status, seconds) of one GET / on web."""
    started = time.perf_counter()
    status = httpx.get(sim.urls["web"] + "/", timeout=5.0).status_code
    return status, time.perf_counter() - started


@pytest.mark.parametrize(
    ("fault", "is_faulted"),
    [
        pytest.param("web=status:503@10s/30s", lambda status, _: status == 503, id="status"),
        pytest.param("web=errors:1@10s/30s", lambda status, _: status == 500, id="errors"),
        pytest.param("web=slow:300@10s/30s", lambda _, seconds: seconds >= 0.3, id="slow"),
    ],
)
def test_a_cycling_fault_acts_in_its_on_phase_only(sim, clock, fault, is_faulted):
    """On for the first 10 s of every 30 s from when it was applied (through the admin endpoint)."""
    posted = httpx.post(sim.urls["web"] + ADMIN, content=fault)
    assert posted.json()["web"] == [fault]
    for offset_s, on in [
        (0, True),
        (9.9, True),
        (10, False),
        (29.9, False),
        (30, True),
        (65, True),
        (75, False),
    ]:
        clock.now = 1000.0 + offset_s
        assert is_faulted(*answer(sim)) is on, f"t+{offset_s} s"


def test_error_fraction_is_counted_over_the_on_phase(sim, clock):
    """``errors:0.5`` cycling: half of the answers in the on-phase are 500s, none in the off-phase."""
    sim.apply(parse_fault("web=errors:0.5@10s/30s"))
    on_phase = [answer(sim)[0] for _ in range(10)]
    clock.now += 15
    off_phase = [answer(sim)[0] for _ in range(10)]
    clock.now += 20
    back_on = [answer(sim)[0] for _ in range(10)]
    assert on_phase.count(500) == back_on.count(500) == 5
    assert off_phase.count(500) == 0


def test_a_one_second_cycle_comes_and_goes_on_the_real_clock(sim):
    """``status:503@500ms/1s`` on the real clock: over 2 s, about half the answers are 503s, the rest 200s."""
    sim.apply(parse_fault("web=status:503@500ms/1s"))
    statuses = []
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        statuses.append(answer(sim)[0])
        time.sleep(0.02)
    assert set(statuses) == {200, 503}
    assert 0.25 <= statuses.count(503) / len(statuses) <= 0.75, statuses

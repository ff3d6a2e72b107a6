"""Faults that come and go (``SERVICE=KIND[:ARG]@ON/PERIOD``): parsing, and on in the on-phase only."""

from __future__ import annotations

import time
from collections.abc import Callable

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
        pytest.param("web=down@10s/30s", Fault("web", "down", None, 10.0, 30.0), id="down"),
        pytest.param(
            "executor-1=crashloop@1m/2m", Fault("executor-1", "crashloop", None, 60.0, 120.0), id="crashloop"
        ),
        pytest.param("marketdata=stale:60@5s/10s", Fault("marketdata", "stale", 60.0, 5.0, 10.0), id="stale"),
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
        pytest.param("web=down:1@10s/30s", "takes no argument", id="down-argument-still-checked"),
        pytest.param("web=errors:1.5@10s/30s", "out of range", id="bad-value-still-checked"),
    ],
)
def test_parse_rejects_malformed_cycles(text, message):
    """A malformed or impossible cycle is a configuration error (exit 2) saying what is wrong."""
    with pytest.raises(ConfigError, match=message) as caught:
        parse_fault(text)
    assert caught.value.exit_code == ExitCode.USAGE_ERROR
    assert "\n" not in str(caught.value)


def test_cli_refuses_a_malformed_cycle_with_one_line(spark):
    """``spark sim --fault web=errors:0.3@30s/10s``: exit 2, one line saying what is wrong."""
    result = spark("sim", "--ports", "auto", "--fault", "web=errors:0.3@30s/10s")
    assert result.exit_code == ExitCode.USAGE_ERROR
    (line,) = result.stderr.strip().splitlines()
    assert "ON must be shorter than PERIOD" in line


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


def eventually(condition: Callable[[], bool], timeout_s: float = 3.0) -> bool:
    """Whether ``condition`` holds within ``timeout_s`` (the platform switches every 50 ms)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def refuses(sim: Simulator, service: str) -> bool:
    path = "/" if service == "web" else "/healthz"
    try:
        httpx.get(sim.urls[service] + path, timeout=2.0)
    except httpx.ConnectError:
        return True
    return False


def pm2_status(sim: Simulator, name: str) -> tuple[str, int]:
    processes = httpx.get(sim.urls["web"] + "/api/tools/pm2", timeout=5.0).json()
    process = next(process for process in processes if process["name"] == name)
    return process["pm2_env"]["status"], process["pm2_env"]["restart_time"]


def staleness(sim: Simulator) -> float:
    return float(httpx.get(sim.urls["web"] + "/api/healthz", timeout=5.0).json()["slo"]["staleness"])


@pytest.mark.parametrize(
    ("fault", "is_faulted"),
    [
        pytest.param("executor-1=down@10s/30s", lambda sim: refuses(sim, "executor-1"), id="down"),
        pytest.param(
            "executor-2=crashloop@10s/30s",
            lambda sim: refuses(sim, "executor-2") and pm2_status(sim, "spark-executor-2")[0] == "errored",
            id="crashloop",
        ),
        pytest.param("marketdata=stale:60@10s/30s", lambda sim: staleness(sim) >= 60, id="stale"),
    ],
)
def test_a_cycling_state_fault_comes_and_goes(sim, clock, fault, is_faulted):
    """down, crashloop and stale enter in the on-phase and leave after it: the same port serves again."""
    port = sim.urls[fault.split("=")[0]]
    sim.apply(parse_fault(fault))
    assert eventually(lambda: is_faulted(sim)), "not on at t+0"
    clock.now += 10
    assert eventually(lambda: not is_faulted(sim)), "still on at t+10 s"
    assert sim.urls[fault.split("=")[0]] == port
    clock.now += 20
    assert eventually(lambda: is_faulted(sim)), "not on again at t+30 s"


def test_a_cycling_crashloop_keeps_its_restarts_between_phases(sim, clock):
    """PM2's restart count climbs in each on-phase and is kept (not reset) in the off-phase."""
    sim.apply(parse_fault("executor-1=crashloop@10s/30s"))
    time.sleep(0.6)  # PM2 restarts a crash loop about twice a second
    clock.now += 10
    assert eventually(lambda: pm2_status(sim, "spark-executor-1")[0] == "online")
    _, restarts = pm2_status(sim, "spark-executor-1")
    assert restarts >= 2
    clock.now += 20
    assert eventually(lambda: pm2_status(sim, "spark-executor-1")[0] == "errored")
    assert pm2_status(sim, "spark-executor-1")[1] > restarts

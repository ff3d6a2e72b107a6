"""The simulator's WebSocket tick feed (/ws/ticks on marketdata) and its faults, through a real client."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
import pytest
from prometheus_client import generate_latest

from spark_ops.errors import ConfigError
from spark_ops.sim import Simulator, parse_fault


def feed_url(sim: Simulator) -> str:
    return sim.urls["marketdata"].replace("http://", "ws://") + "/ws/ticks"


async def read_ticks(url: str, count: int, send: str | None = None) -> list[dict[str, Any]]:
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as socket:
        if send is not None:
            await socket.send_str(send)
        ticks = []
        async with asyncio.timeout(5):
            while len(ticks) < count:
                message = await socket.receive()
                assert message.type is aiohttp.WSMsgType.TEXT, message
                ticks.append(json.loads(message.data))
        return ticks


def test_the_feed_sends_a_json_tick_every_250_ms(sim: Simulator) -> None:
    started = time.perf_counter()
    ticks = asyncio.run(read_ticks(feed_url(sim), 4))
    took = time.perf_counter() - started
    assert [tick["type"] for tick in ticks] == ["tick"] * 4
    assert [tick["seq"] for tick in ticks] == list(range(ticks[0]["seq"], ticks[0]["seq"] + 4))
    assert set(ticks[0]["prices"]) >= {"BTC-USD", "ETH-USD"}
    assert 0.5 <= took < 3.0, took  # 4 ticks 250 ms apart (the first may come at once)


def test_a_subscription_narrows_the_prices(sim: Simulator) -> None:
    ticks = asyncio.run(read_ticks(feed_url(sim), 3, send='{"op": "subscribe", "symbols": ["BTC-USD"]}'))
    assert set(ticks[-1]["prices"]) == {"BTC-USD"}


def test_the_feed_is_not_counted_as_a_request(sim: Simulator) -> None:
    """A feed connection lasts seconds: counted as a request it would wreck the platform's p95 and add
    series to a /metrics whose size is meant to hold still."""
    asyncio.run(read_ticks(feed_url(sim), 4))
    _, _, samples = sim.platform.window.snapshot()
    assert samples == 0
    exposition = generate_latest(sim.platform.services["marketdata"].registry).decode()
    assert "/ws/ticks" not in exposition


async def first_event(url: str) -> aiohttp.WSMessage | str:
    """The first thing a subscriber sees within 1 s: a message, a close, a refused upgrade or silence."""
    async with aiohttp.ClientSession() as session:
        try:
            socket = await session.ws_connect(url, autoclose=False)
        except aiohttp.WSServerHandshakeError as exc:
            return f"no upgrade: {exc.status}"
        try:
            async with asyncio.timeout(1.0):
                return await socket.receive()
        except TimeoutError:
            return "silence"
        finally:
            await socket.close()


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ("marketdata=stale:60", "silence"),
        ("marketdata=ws-silent", "silence"),
        ("marketdata=ws-noupgrade", "no upgrade: 200"),
    ],
    ids=["stale", "ws-silent", "ws-noupgrade"],
)
def test_faults_that_keep_ticks_away(sim: Simulator, fault: str, expected: str) -> None:
    sim.apply(parse_fault(fault))
    assert asyncio.run(first_event(feed_url(sim))) == expected


def test_ws_close_closes_with_its_code(sim: Simulator) -> None:
    sim.apply(parse_fault("marketdata=ws-close:1011"))
    event = asyncio.run(first_event(feed_url(sim)))
    assert isinstance(event, aiohttp.WSMessage)
    assert (event.type, event.data, event.extra) == (aiohttp.WSMsgType.CLOSE, 1011, "simulated feed failure")


def test_clearing_the_fault_brings_the_ticks_back(sim: Simulator) -> None:
    sim.apply(parse_fault("marketdata=ws-silent"))
    sim.clear("marketdata")
    event = asyncio.run(first_event(feed_url(sim)))
    assert isinstance(event, aiohttp.WSMessage) and event.type is aiohttp.WSMsgType.TEXT


def test_stopping_the_simulator_closes_open_feeds_at_once() -> None:
    """A subscriber still connected gets a 1001 close and the stop does not wait on it."""
    simulator = Simulator(ports="auto").start()
    url = feed_url(simulator)

    async def subscribe_then_stop() -> tuple[aiohttp.WSMessage, float]:
        async with aiohttp.ClientSession() as session, session.ws_connect(url, autoclose=False) as socket:
            await socket.receive()  # a first tick: the subscription is live
            started = time.perf_counter()
            stopping = asyncio.get_running_loop().run_in_executor(None, simulator.stop)
            while (message := await socket.receive()).type is aiohttp.WSMsgType.TEXT:
                pass
            await stopping
            return message, time.perf_counter() - started

    message, took = asyncio.run(subscribe_then_stop())
    assert (message.type, message.data) == (aiohttp.WSMsgType.CLOSE, 1001)
    assert took < 1.0, took  # aiohttp's own shutdown would wait its 1 s timeout on a live handler


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("web=ws-silent", "applies to marketdata only"),
        ("executor-1=ws-close:1011", "applies to marketdata only"),
        ("marketdata=ws-close:999", "out of range"),
        ("marketdata=ws-close:1006", "out of range"),
        ("marketdata=ws-close:1011.5", "out of range"),
        ("marketdata=ws-close", "needs a number"),
        ("marketdata=ws-silent:3", "takes no argument"),
        ("marketdata=ws-noupgrade:1", "takes no argument"),
    ],
)
def test_bad_feed_faults_are_configuration_errors(text: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason):
        parse_fault(text)


def test_feed_faults_parse_and_print_back() -> None:
    assert str(parse_fault("marketdata=ws-close:4000@1s/3s")) == "marketdata=ws-close:4000@1s/3s"
    assert str(parse_fault("marketdata=ws-silent")) == "marketdata=ws-silent"

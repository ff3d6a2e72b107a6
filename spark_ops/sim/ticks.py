"""The market-data tick feed over WebSocket (``/ws/ticks`` on marketdata), as the platform's v1.2 serves it.

Every tick of the simulated feed goes to each subscriber as one JSON text message::

    {"type": "tick", "seq": 42, "ts": 1764590400.25, "prices": {"BTC-USD": 100.01, ...}}

A subscriber may send ``{"op": "subscribe", "symbols": ["BTC-USD"]}`` to receive only those prices. The
faults (sim/faults.py) act on it: ``stale`` freezes the feed (no ticks, the socket stays open),
``ws-silent`` upgrades and never sends, ``ws-close:CODE`` upgrades and closes with CODE, ``ws-noupgrade``
answers a plain 200 instead of the upgrade.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable

from aiohttp import WSMsgType, web

from spark_ops.sim.services import MarketFeed, ServiceState

PATH = "/ws/ticks"
QUEUE_TICKS = 64  # a subscriber that reads slower than the feed loses ticks beyond this, never memory
MAX_SUBSCRIBE_BYTES = 4096


def tick_feed(
    state: ServiceState,
    feed: MarketFeed,
    clock: Callable[[], float],
    open_sockets: set[web.WebSocketResponse],
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The handler of ``PATH``; each open socket is kept in ``open_sockets`` so a stop can close it."""

    async def handler(request: web.Request) -> web.StreamResponse:
        now = clock()
        if state.acting("ws-noupgrade", now) is not None:
            return web.Response(text="this endpoint does not upgrade to WebSocket\n")
        socket = web.WebSocketResponse(max_msg_size=MAX_SUBSCRIBE_BYTES, heartbeat=None)
        await socket.prepare(request)
        open_sockets.add(socket)
        try:
            closing = state.acting("ws-close", now)
            if closing is not None and closing.value is not None:
                await socket.close(code=int(closing.value), message=b"simulated feed failure")
                return socket
            await _serve(socket, state, feed, clock)
        finally:
            open_sockets.discard(socket)
        return socket

    return handler


async def _serve(
    socket: web.WebSocketResponse, state: ServiceState, feed: MarketFeed, clock: Callable[[], float]
) -> None:
    """Send ticks until the subscriber leaves; read its subscribe messages meanwhile."""
    queue: asyncio.Queue[dict[str, object]] = asyncio.Queue(QUEUE_TICKS)
    symbols: list[set[str]] = []  # the latest subscription, if any (a list: set by the reader task)
    feed.listeners.add(queue)
    reader = asyncio.create_task(_read_subscriptions(socket, symbols))
    try:
        while not socket.closed and not reader.done():
            getting = asyncio.ensure_future(queue.get())
            await asyncio.wait({getting, reader}, return_when=asyncio.FIRST_COMPLETED)
            if not getting.done():
                getting.cancel()
                break
            tick = getting.result()
            if state.acting("ws-silent", clock()) is not None:
                continue  # upgraded, reading, never answering
            if symbols:
                prices = tick["prices"]
                assert isinstance(prices, dict)
                tick = {**tick, "prices": {s: p for s, p in prices.items() if s in symbols[-1]}}
            await socket.send_str(json.dumps(tick))
    except ConnectionResetError:
        pass  # the subscriber went away mid-send
    finally:
        feed.listeners.discard(queue)
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader


async def _read_subscriptions(socket: web.WebSocketResponse, symbols: list[set[str]]) -> None:
    """Apply each ``{"op": "subscribe", "symbols": [...]}``; anything else is ignored. Ends on close."""
    async for message in socket:
        if message.type is not WSMsgType.TEXT:
            continue
        try:
            asked = json.loads(message.data)
        except ValueError:
            continue
        if (
            isinstance(asked, dict)
            and asked.get("op") == "subscribe"
            and isinstance(asked.get("symbols"), list)
        ):
            symbols.append({str(symbol) for symbol in asked["symbols"]})

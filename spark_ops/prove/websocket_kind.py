"""The ``websocket`` kind's breakages: loopback WebSocket servers standing in for the feed.

Each breakage brings up an aiohttp server on 127.0.0.1 and hands back the same check pointed at it, over
plain ``ws://`` (a ``wss`` feed's certificate is what the ``tls`` kind proves). The
breakages that need real messages (a stale feed, a field going bad) relay the check's own feed: the
stand-in opens one connection to it before the check connects, forwards what the check sends (its
subscribe message) and passes every message on, late or rewritten. A feed that cannot be reached then
fails the stand-in, so that breakage is skipped, never counted as caught.

Breakages (from the feed's side, never from ``max_gap_ms`` or ``min_messages``): down; answers 200 and never
upgrades; upgrades and stays silent; closes with 1011 (internal error); stale, its first message held back
``STALE_S`` (a market-data feed silent 10 s is stale whatever a check allows). With ``expect_json``:
messages that are not JSON, and per asserted field the values the ``http`` kind's ``expect_json`` breakages
set (removed, null, the broken word, ...), applied to every relayed message.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket as sockets
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import msgspec

from spark_ops.prove.breakage import Answer, AnswerRewrite, Breakage
from spark_ops.prove.kinds import json_assertion

if TYPE_CHECKING:
    from aiohttp import ClientWebSocketResponse, web

    from spark_ops.checks.websocket import WebSocketCheck
    from spark_ops.config import Profile

LOOPBACK = "127.0.0.1"
STALE_S = 10.0  # how long a stale feed holds back its first message
INTERNAL_ERROR = 1011  # the close code of a server that failed (RFC 6455 7.4.1)
UPSTREAM_CONNECT_S = 10.0  # a relay gives up on the check's own feed after this long
NOT_JSON = "<html><body><h1>502 Bad Gateway</h1></body></html>"
NOT_JSON_EVERY_S = 0.1

Handler = Callable[["web.Request"], Awaitable["web.StreamResponse"]]
Relayed = Callable[[str], "str | None"]  # a feed message in, the broken one out (None: dropped)


def breakages(check: WebSocketCheck, profile: Profile) -> list[Breakage]:
    serve = partial(_serving, check, profile)
    found = [
        Breakage(
            "service down (connection refused)",
            "a check that passes while its feed is down would wave a deploy through an outage",
            stand_in=partial(_refusing, check, profile),
        ),
        Breakage(
            "answers 200 and never upgrades to WebSocket",
            "a proxy that drops the upgrade leaves every subscriber without a feed",
            stand_in=partial(serve, partial(_fixed, _not_upgrading)),
        ),
        Breakage(
            "upgrades, then never sends a message",
            "a silent feed is no feed: subscribers see no prices",
            stand_in=partial(serve, partial(_fixed, _silent)),
        ),
        Breakage(
            f"upgrades, then closes with {INTERNAL_ERROR} (internal error)",
            "a feed that closes on its subscribers is down",
            stand_in=partial(serve, partial(_fixed, _closing)),
        ),
        Breakage(
            f"stale: its first message comes after {STALE_S:g} s",
            "subscribers trading on prices this old trade on a frozen market",
            stand_in=partial(serve, partial(_relaying, held_back_s=STALE_S, broken=_as_sent)),
        ),
    ]
    if check.options.expect_json:
        found.append(
            Breakage(
                "every message is an HTML page, not JSON",
                "messages the subscriber cannot parse carry no prices",
                stand_in=partial(serve, partial(_fixed, _not_json)),
            )
        )
    for assertion in check.options.expect_json:
        for breakage in json_assertion(assertion.field, assertion.op, assertion.value, profile):
            assert breakage.answer is not None  # the http kind's field breakages rewrite answers
            found.append(
                Breakage(
                    f"every message: {breakage.name}",
                    breakage.matters,
                    stand_in=partial(serve, partial(_relaying, broken=partial(_rewritten, breakage.answer))),
                )
            )
    return found


# --- stand-ins --------------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def _serving(
    check: WebSocketCheck,
    profile: Profile,
    handler_for: Callable[[WebSocketCheck], Awaitable[Handler]],
) -> AsyncIterator[WebSocketCheck]:
    """A loopback server answering the check's path with ``handler_for(check)``; the check pointed at it."""
    from aiohttp import web

    handler = await handler_for(check)
    app = web.Application()

    async def answer(request: web.Request) -> web.StreamResponse:  # aiohttp wants a coroutine function
        return await handler(request)

    app.router.add_route("GET", "/{tail:.*}", answer)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
    await runner.setup()
    try:
        site = web.TCPSite(runner, LOOPBACK, 0)
        await site.start()
        port = runner.addresses[0][1]
        yield _pointed_at(check, profile, port)
    finally:
        await runner.cleanup()
        close = getattr(handler, "aclose", None)
        if close is not None:
            await close()


@contextlib.asynccontextmanager
async def _refusing(check: WebSocketCheck, profile: Profile) -> AsyncIterator[WebSocketCheck]:
    """The check pointed at a loopback port just freed: connecting is refused."""
    with sockets.socket(sockets.AF_INET, sockets.SOCK_STREAM) as listener:
        listener.bind((LOOPBACK, 0))
        port = listener.getsockname()[1]
    yield _pointed_at(check, profile, port)


def _pointed_at(check: WebSocketCheck, profile: Profile, port: int) -> WebSocketCheck:
    """The same check (min_messages, max_gap_ms, expect_json as configured) against ``127.0.0.1:port``;
    without its headers: they are for the real feed, and the stand-in needs none."""
    from spark_ops.checks.websocket import WebSocketCheck

    parts = urlsplit(check.ws_url)
    url = urlunsplit(("ws", f"{LOOPBACK}:{port}", parts.path or "/", parts.query, ""))
    options = msgspec.structs.replace(check.options, url=url, service=None, path=None, headers={})
    return WebSocketCheck(options, profile)


async def _fixed(handler: Handler, check: WebSocketCheck) -> Handler:
    return handler


async def _not_upgrading(request: web.Request) -> web.StreamResponse:
    from aiohttp import web

    return web.Response(text="this endpoint does not upgrade to WebSocket\n")


async def _silent(request: web.Request) -> web.StreamResponse:
    from aiohttp import web

    socket = web.WebSocketResponse(heartbeat=None)
    await socket.prepare(request)
    async for _ in socket:  # reads (a subscribe message), never answers, until the subscriber leaves
        pass
    return socket


async def _closing(request: web.Request) -> web.StreamResponse:
    from aiohttp import web

    socket = web.WebSocketResponse(heartbeat=None)
    await socket.prepare(request)
    await socket.close(code=INTERNAL_ERROR, message=b"internal error")
    return socket


async def _not_json(request: web.Request) -> web.StreamResponse:
    from aiohttp import web

    socket = web.WebSocketResponse(heartbeat=None)
    await socket.prepare(request)
    with contextlib.suppress(ConnectionResetError):
        while not socket.closed:
            await socket.send_str(NOT_JSON)
            await asyncio.sleep(NOT_JSON_EVERY_S)
    return socket


# --- the relay of the check's own feed ------------------------------------------------------------------


class _Relay:
    """One connection to the check's feed, opened before the check connects, relayed to it broken."""

    def __init__(
        self,
        upstream: ClientWebSocketResponse,
        close_session: Callable[[], Awaitable[None]],
        broken: Relayed,
        held_back_s: float,
    ) -> None:
        self.upstream, self.close_session = upstream, close_session
        self.broken, self.held_back_s = broken, held_back_s

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        from aiohttp import web

        socket = web.WebSocketResponse(heartbeat=None)
        await socket.prepare(request)
        tasks = {asyncio.create_task(self._forward(socket)), asyncio.create_task(self._pass_on(socket))}
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await socket.close()
        return socket

    async def _forward(self, socket: web.WebSocketResponse) -> None:
        """What the check sends (its subscribe message) goes to the feed; ends when the check leaves."""
        from aiohttp import WSMsgType

        async for message in socket:
            if message.type is WSMsgType.TEXT:
                await self.upstream.send_str(message.data)

    async def _pass_on(self, socket: web.WebSocketResponse) -> None:
        """The feed's messages, dropped while held back, then each one broken; ends when the feed does."""
        from aiohttp import WSMsgType

        loop = asyncio.get_running_loop()
        quiet_until = loop.time() + self.held_back_s
        while True:
            message = await self.upstream.receive()
            if message.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                return
            if loop.time() < quiet_until:
                continue  # a frozen feed: these ticks never reach the subscriber
            text = message.data if isinstance(message.data, str) else message.data.decode("utf-8", "replace")
            sent = self.broken(text)
            if sent is not None:
                await socket.send_str(sent)

    async def aclose(self) -> None:
        with contextlib.suppress(Exception):
            await self.upstream.close()
        await self.close_session()


async def _relaying(check: WebSocketCheck, *, broken: Relayed, held_back_s: float = 0.0) -> _Relay:
    """A relay of the check's own feed (its URL, headers and TLS trust), connected now: a feed that does
    not answer fails the stand-in, so the breakage is skipped rather than counted as caught."""
    import aiohttp

    from spark_ops.checks.websocket import connect_reason as _failed_upgrade
    from spark_ops.transport import USER_AGENT, os_error_reason, verifying_tls_context

    headers = {"User-Agent": USER_AGENT, **check.target.headers, **check.options.headers}
    tls = verifying_tls_context() if check.ws_url.startswith("wss:") else False
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None))
    try:
        async with asyncio.timeout(UPSTREAM_CONNECT_S):
            upstream = await session.ws_connect(
                check.ws_url,
                headers=headers,
                ssl=tls,
                max_msg_size=check.options.max_message_bytes + 1,
                autoclose=False,
                compress=0,
            )
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        await session.close()
        # The feed's own reason, never str(exc) of a handshake error: it quotes the URL and its credentials.
        if isinstance(exc, aiohttp.ClientError):
            reason = _failed_upgrade(exc)
        else:
            reason = "no answer in time" if isinstance(exc, TimeoutError) else os_error_reason(exc)
        raise ConnectionError(f"the relay could not reach the feed {check.display}: {reason}") from None
    except BaseException:
        await session.close()
        raise
    return _Relay(upstream, session.close, broken, held_back_s)


def _as_sent(message: str) -> str:
    return message


def _rewritten(rewrite: AnswerRewrite, message: str) -> str | None:
    """``message`` through an HTTP answer rewrite (the http kind's field breakages), as a JSON answer."""
    answer = rewrite(Answer(200, message.encode(), {"content-type": "application/json"}))
    return None if answer is None else answer.body.decode("utf-8", "replace")

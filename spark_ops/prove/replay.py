"""Record the platform's answers once, then serve them (healthy or broken) in-process.

``Recording`` is an httpx transport wrapped around the real one: the suite runs once against the platform
(the simulator, or the real one with ``--from-live``) and every answer is kept, body decoded. ``Replay``
is an httpx transport that answers from a recording through a breakage's rewrite, without a socket: a
proof runs dozens of breakages in one event loop instead of restarting servers.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx

from spark_ops.prove.breakage import Answer, AnswerRewrite

# Headers describing the wire form of a body: a recorded body is stored decoded and served as it is.
_WIRE_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding", "connection"})

Key = tuple[str, str]  # (method, URL)


def key_of(request: httpx.Request) -> Key:
    return request.method, str(request.url.copy_with(fragment=None))


@dataclass
class Recorded:
    """What the platform answered, by request: an ``Answer``, or None when no answer came (down)."""

    answers: dict[Key, Answer | None] = field(default_factory=dict)

    def get(self, request: httpx.Request) -> tuple[bool, Answer | None]:
        """(whether it was recorded, the answer)."""
        key = key_of(request)
        return key in self.answers, self.answers.get(key)


class Recording(httpx.AsyncBaseTransport):
    """Passes every request to ``inner`` and keeps the first answer to each (method, URL)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, recorded: Recorded, max_body_bytes: int) -> None:
        self.inner, self.recorded, self.max_body_bytes = inner, recorded, max_body_bytes

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        key = key_of(request)
        try:
            response = await self.inner.handle_async_request(request)
        except httpx.TransportError:
            self.recorded.answers.setdefault(key, None)
            raise
        raw = httpx.Response(response.status_code, headers=response.headers, stream=response.stream)
        # Decoded (a breakage rewrites what the check reads), and no more than one byte past the limit:
        # the replayed answer is then over the checks' own limit exactly when the real one was.
        body = bytearray()
        try:
            async for piece in raw.aiter_bytes():
                body += piece
                if len(body) > self.max_body_bytes:
                    del body[self.max_body_bytes + 1 :]
                    break
        finally:
            await raw.aclose()
        headers = {k.lower(): v for k, v in response.headers.items() if k.lower() not in _WIRE_HEADERS}
        answer = Answer(response.status_code, bytes(body), headers)
        self.recorded.answers.setdefault(key, answer)
        return _response(answer, request)


class Replay(httpx.AsyncBaseTransport):
    """Answers from ``recorded`` through ``rewrite``; a request never recorded is a service that is down.

    With no recording for a request (a stand-in answer the breakage makes whole, such as Prometheus for a
    suite recorded without one), the rewrite gets an empty 200 to start from.
    """

    def __init__(self, recorded: Recorded, rewrite: AnswerRewrite | None = None) -> None:
        self.recorded, self.rewrite = recorded, rewrite
        self.sent: dict[Key, int] = {}
        self.unrecorded: set[Key] = set()  # asked for, never recorded
        self.failed = ""  # why the rewrite itself raised, if it did

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        known, answer = self.recorded.get(request)
        if answer is None:
            self.unrecorded.add(key_of(request))
        if self.rewrite is not None:
            try:
                answer = self.rewrite(answer if answer is not None else Answer(200, b"", {}))
            except Exception as exc:  # a plug-in's rewrite may fail in any way: that trial proves nothing
                self.failed = f"{type(exc).__name__}: {exc}"
                raise httpx.ConnectError(f"the breakage failed: {self.failed}", request=request) from None
        elif not known:
            answer = None
        if answer is None:
            raise httpx.ConnectError(
                "cannot connect: connection refused (the service is down)", request=request
            )
        key = key_of(request)
        number = self.sent[key] = self.sent.get(key, 0) + 1
        if answer.delay_s > 0:
            await asyncio.sleep(answer.delay_s)
        if _fails(number, answer.error_fraction):
            answer = Answer(500, b"Internal Server Error", {"content-type": "text/plain"})
        return _response(answer, request)


def _fails(number: int, fraction: float) -> bool:
    """Whether request ``number`` (from 1) is one of the ``fraction`` that fail, spread evenly."""
    if fraction <= 0:
        return False
    return math.floor(number * fraction) > math.floor((number - 1) * fraction)


def _response(answer: Answer, request: httpx.Request) -> httpx.Response:
    # A stream, as a real transport answers: a body given as content would count as read already.
    headers = {**answer.headers, "content-length": str(len(answer.body))}
    return httpx.Response(answer.status, headers=headers, stream=_Body(answer.body), request=request)


class _Body(httpx.AsyncByteStream):
    def __init__(self, body: bytes) -> None:
        self.body = body

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.body


class ClientTransport(httpx.AsyncBaseTransport):
    """Sends through a whole client (its mounts, TLS and pool): what ``Recording`` wraps."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.client.send(request, stream=True, follow_redirects=False)

"""The HTTP transport every check reaches its target through: one client per run, one deadline-bounded
fetch with retries (tenacity, only before any response arrived), bodies read within a limit after
decompression, redirects followed hop by hop, and transport failures turned into a short reason.
"""

from __future__ import annotations

import asyncio
import functools
import os
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Awaitable, Callable, Hashable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential, wait_none

from spark_ops.config import Target
from spark_ops.errors import TargetError, clip, one_line


@contextmanager
def _ca_store_read_at_first_handshake() -> Iterator[None]:
    """While the block runs, an SSL context asked to read the system's CA store reads it just before its
    first handshake instead.

    aiohttp makes two default contexts when it is imported, and each reads the whole CA store (about
    50 ms of CPU each on the bench machine: a sixth of a one-check gate, bench/cold_start.py), for
    contexts spark-ops never uses (every request passes one of its own). Deferred, not skipped: anything
    that does use them (a plug-in calling aiohttp itself) has the same CAs in place before its first
    handshake.
    """
    name = "set_default_verify_paths"
    read_now = getattr(ssl.SSLContext, name)
    defined_here = vars(ssl.SSLContext).get(name)

    def read_before_first_handshake(context: ssl.SSLContext) -> None:
        lock, pending = threading.Lock(), [True]

        def read_once() -> None:
            with lock:
                if pending:
                    read_now(context)
                    pending.clear()

        def wrap_socket(*args: Any, **kwargs: Any) -> ssl.SSLSocket:
            read_once()
            return ssl.SSLContext.wrap_socket(context, *args, **kwargs)

        def wrap_bio(*args: Any, **kwargs: Any) -> ssl.SSLObject:
            read_once()
            return ssl.SSLContext.wrap_bio(context, *args, **kwargs)

        # Every TLS connection of a context starts in one of these two (asyncio's in wrap_bio).
        context.wrap_socket = wrap_socket  # type: ignore[method-assign]
        context.wrap_bio = wrap_bio  # type: ignore[method-assign]

    setattr(ssl.SSLContext, name, read_before_first_handshake)
    try:
        yield
    finally:
        if defined_here is None:
            delattr(ssl.SSLContext, name)
        else:  # pragma: no cover - a Python whose SSLContext defines it in Python
            setattr(ssl.SSLContext, name, defined_here)


with _ca_store_read_at_first_handshake():
    import aiohttp

USER_AGENT = "spark-ops"
ACCEPT_ENCODING = "gzip, deflate"  # what _Inflater decodes within the body limit (never br or zstd)
RETRY_FIRST_WAIT_S, RETRY_MAX_WAIT_S = 0.1, 1.0  # backoff between attempts: doubling, capped
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Fetched:
    """A complete HTTP answer as a check sees it."""

    url: str  # for messages: credentials removed
    method: str
    status: int
    headers: Mapping[str, str]
    body: bytes
    elapsed_ms: float  # from sending the request to the last byte of the body

    def describe(self) -> str:
        return f"{self.method} {self.url} -> {self.status} in {self.elapsed_ms:.0f} ms"


def make_client(max_connections: int) -> httpx.AsyncClient:
    """One client for a whole run, on aiohttp's transport; https goes through a second one, made at the
    first https request, so a run that reaches only http targets never loads the CA bundle (about 60 ms).

    httpx's default transport spends about 10 ms of CPU per request in its pool (1000 loopback GETs
    took 11.3 s against 1.2 s through aiohttp; see bench/transport.py): that overhead would both cap the
    gate at scale and inflate the latencies a probe measures.
    """
    from httpx_aiohttp import AiohttpTransport

    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)

    def verifying() -> httpx.AsyncBaseTransport:
        return AiohttpTransport(verify=verifying_tls_context(), limits=limits)

    return httpx.AsyncClient(
        # http:// only: every https:// URL, a redirect's too, is routed to the mount.
        transport=AiohttpTransport(verify=False, limits=limits),
        mounts={"https://": _MadeOnFirstRequest(verifying)},
        headers={"User-Agent": USER_AGENT, "Accept-Encoding": ACCEPT_ENCODING},
        follow_redirects=False,
    )


class _MadeOnFirstRequest(httpx.AsyncBaseTransport):
    """A transport made when its first request comes, so a run that never needs it never pays for it."""

    def __init__(self, make: Callable[[], httpx.AsyncBaseTransport]) -> None:
        self._make = make
        self._made: httpx.AsyncBaseTransport | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._made is None:
            self._made = self._make()
        return await self._made.handle_async_request(request)

    async def aclose(self) -> None:
        if self._made is not None:
            await self._made.aclose()


def verifying_tls_context() -> ssl.SSLContext:
    """The TLS context every verifying connection of spark-ops uses (HTTP, the tls and websocket kinds):
    certifi's CAs, or the ones SSL_CERT_FILE / SSL_CERT_DIR name."""
    return _tls_context(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))


@functools.lru_cache(maxsize=4)
def _tls_context(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    """httpx's verifying TLS context (certifi's CAs, or SSL_CERT_FILE / SSL_CERT_DIR), made once per
    process and per CA setting: loading the CA bundle takes about 60 ms, which every monitor cycle paid
    (a new client per cycle) and which is half a cycle against the simulator. A context is only read
    once made, so clients on any thread or event loop can share it.
    """
    return httpx.create_ssl_context(verify=True, trust_env=True)


@functools.lru_cache(maxsize=8192)
def _parsed_url(url: str) -> httpx.URL:
    """``url`` parsed once: a load probe sends the same URL thousands of times, and parsing it was a sixth
    of each request's CPU. ``httpx.URL`` is immutable, so one parse serves every request."""
    return httpx.URL(url)


@dataclass
class Probe:
    """What a check uses to reach its target; the runner makes one per check and reads back ``retries``."""

    client: httpx.AsyncClient
    max_attempts: int
    max_body_bytes: int
    timeout_s: float
    backoff: bool = True
    shared: SharedFetches | None = None  # the run's shared responses; None: every fetch is sent
    slot_s: float | None = None  # an analysis window's interval: how long one measurement may take
    retries: int = field(default=0, init=False)

    async def fetch(
        self,
        target: Target,
        *,
        method: str = "GET",
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        follow_redirects: bool = True,
        max_body_bytes: int | None = None,
        retry: bool = True,
        timeout_s: float | None = None,
    ) -> Fetched:
        """Send one request and read the whole body, at most ``max_body_bytes`` after decompression.

        ``retry=False`` sends exactly once (a load probe counts every failure); ``timeout_s`` bounds this
        one request inside the check's own deadline. With ``shared``, a request another check of the run
        already sent (same method, URL, headers, body and limits) is answered with that one response.
        """
        asked = _Asked(
            target.url,
            target.display,
            method,
            tuple(sorted({**target.headers, **(headers or {})}.items())),
            content,
            follow_redirects,
            max_body_bytes or self.max_body_bytes,
            self.max_attempts if retry else 1,
            timeout_s,
        )
        if self.shared is not None and retry:
            # The same request under the same limits: one answer serves every check that asks for it.
            return await self.shared.fetch((asked, self.timeout_s), lambda: self._fetch_within(asked))
        return await self._fetch_within(asked)

    async def connect(
        self, open_once: Callable[[], Awaitable[T]], retryable: Callable[[BaseException], bool]
    ) -> T:
        """``open_once()`` with the run's retries, for a kind that reaches its target other than by HTTP
        (a TLS handshake, a WebSocket): only a failure ``retryable`` says came before the peer answered is
        retried, with the same backoff as ``fetch``."""
        async for attempt in self._retrying(self.max_attempts, retryable):
            with attempt:
                if attempt.retry_state.attempt_number > 1:
                    self.retries += 1
                return await open_once()
        raise AssertionError("unreachable: tenacity either returns or re-raises")  # pragma: no cover

    def _retrying(self, attempts: int, retryable: Callable[[BaseException], bool]) -> AsyncRetrying:
        """The run's one retry policy: ``attempts`` in all, only after a failure ``retryable`` accepts,
        0.1 s doubling to at most 1 s between them (none when the run asks for no backoff)."""
        return AsyncRetrying(
            stop=stop_after_attempt(attempts),
            wait=wait_exponential(multiplier=RETRY_FIRST_WAIT_S, max=RETRY_MAX_WAIT_S)
            if self.backoff
            else wait_none(),
            retry=retry_if_exception(retryable),
            reraise=True,
        )

    async def _fetch_within(self, asked: _Asked) -> Fetched:
        if asked.timeout_s is None:
            return await self._fetch(asked)
        try:
            async with asyncio.timeout(asked.timeout_s):
                return await self._fetch(asked)
        except TimeoutError:
            raise TargetError(f"{asked.label}: no complete answer within {asked.timeout_s:g} s") from None

    async def _fetch(self, asked: _Asked) -> Fetched:
        limit, label = asked.max_body_bytes, asked.label
        request = self.client.build_request(
            asked.method,
            _parsed_url(asked.url),
            headers=dict(asked.headers),
            content=asked.content,
            timeout=self.timeout_s,  # the runner's deadline is the real bound; this stops a stuck socket
        )
        started = time.perf_counter()
        response = await self._send(request, asked.follow_redirects, label, asked.attempts)
        body = bytearray()
        try:
            inflater = _Inflater.for_answer(response.headers.get("content-encoding", ""), label)
            async for raw in response.aiter_raw():
                for piece in inflater.feed(raw):
                    body += piece
                    if len(body) > limit:
                        raise TargetError(f"{label}: body larger than the {limit}-byte limit")
            inflater.finish()
        except httpx.HTTPError as exc:
            raise TargetError(f"{label}: answer broke off after {len(body)} bytes: {one_line(exc)}") from None
        finally:
            await response.aclose()
        elapsed_ms = (time.perf_counter() - started) * 1000
        return Fetched(
            url=asked.display,
            method=asked.method,
            status=response.status_code,
            headers=dict(response.headers),
            body=bytes(body),
            elapsed_ms=elapsed_ms,
        )

    async def _send(
        self, request: httpx.Request, follow_redirects: bool, label: str, attempts: int
    ) -> httpx.Response:
        # Retried only here: once any response has arrived, a failure is the target's answer. A request sent
        # once (every request of a load probe) skips tenacity, whose machinery was a tenth of its CPU.
        try:
            if attempts == 1:
                return await self._send_hops(request, follow_redirects, label)
            async for attempt in self._retrying(attempts, _is_transport_error):
                with attempt:
                    if attempt.retry_state.attempt_number > 1:
                        self.retries += 1
                    return await self._send_hops(request, follow_redirects, label)
        except httpx.TransportError as exc:
            tries = f" (after {self.retries + 1} attempts)" if self.retries else ""
            raise TargetError(f"{label}: {_transport_reason(exc)}{tries}") from None
        except aiohttp.ClientError as exc:  # a malformed answer that httpx-aiohttp does not map
            raise TargetError(f"{label}: not a valid HTTP answer: {one_line(exc)}") from None
        raise AssertionError("unreachable: tenacity either returns or re-raises")  # pragma: no cover

    async def _send_hops(self, request: httpx.Request, follow_redirects: bool, label: str) -> httpx.Response:
        """Send ``request``, following redirects hop by hop without reading their bodies.

        httpx's own following reads every redirect's body whole, without any limit (a 302 carrying a
        gzip bomb took 2 GiB); ``next_request`` is httpx's redirect (Authorization and Cookie dropped
        when the origin changes), so only the reading is done differently here.
        """
        for _ in range(self.client.max_redirects + 1):
            response = await self.client.send(request, stream=True, follow_redirects=False)
            if not follow_redirects or response.next_request is None:
                return response
            await response.aclose()
            request = response.next_request
        raise TargetError(f"{label}: too many redirects")


@dataclass(frozen=True, slots=True)
class _Asked:
    """One request as a check asked for it, with its limits (hashable: checks asking the same share it)."""

    url: str
    display: str  # the URL for messages: credentials removed
    method: str
    headers: tuple[tuple[str, str], ...]
    content: bytes | None
    follow_redirects: bool
    max_body_bytes: int
    attempts: int
    timeout_s: float | None

    @property
    def label(self) -> str:
        return f"{self.method} {self.display}"


class SharedFetches:
    """One response per request of a run: the first check to ask sends it; the others await the same answer.

    The request runs as a task of its own, so a check that gives up (its deadline) does not cancel it for
    the others; what is still running when the run ends is cancelled by ``close``.
    """

    def __init__(self) -> None:
        self._tasks: dict[Hashable, asyncio.Task[Fetched]] = {}

    async def fetch(self, key: Hashable, send: Callable[[], Awaitable[Fetched]]) -> Fetched:
        task = self._tasks.get(key)
        if task is None:
            task = self._tasks[key] = asyncio.ensure_future(send())
        return await asyncio.shield(task)

    async def close(self) -> None:
        pending = [task for task in self._tasks.values() if not task.done()]
        for task in pending:
            task.cancel()
        # Retrieve every outcome, so an answer nobody awaited any more is not logged as never retrieved.
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        self._tasks.clear()


class _Inflater:
    """Decodes a body's Content-Encoding in steps of at most ``STEP_BYTES``, so the body limit holds after
    decompression and a bomb (1 MB that inflates to 1 GiB) costs the limit plus one step, not a 16 MiB
    burst per network read as a decoder without ``max_length`` gives."""

    STEP_BYTES = 64 * 1024

    def __init__(self, encoding: str, decompressor: Any, label: str) -> None:
        self.encoding, self.decompressor, self.label = encoding, decompressor, label
        self.fed = False
        self.head = b""  # deflate's first bytes, until there are two to tell zlib from raw

    @classmethod
    def for_answer(cls, content_encoding: str, label: str) -> _Inflater:
        """The inflater for ``content_encoding``; only what ``ACCEPT_ENCODING`` asks for is understood."""
        codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
        codings = [c for c in codings if c != "identity"]
        if not codings:
            return cls("identity", None, label)
        if codings in (["gzip"], ["x-gzip"]):
            return cls("gzip", zlib.decompressobj(zlib.MAX_WBITS | 16), label)
        if codings == ["deflate"]:  # zlib-wrapped as the RFC says, or raw as some servers send it
            return cls("deflate", None, label)
        raise TargetError(f"{label}: Content-Encoding {clip(content_encoding, 40)!r} is not supported")

    def feed(self, raw: bytes) -> Iterator[bytes]:
        """The decoded pieces of ``raw``, each at most STEP_BYTES."""
        if self.encoding == "identity":
            if raw:
                yield raw
            return
        self.fed = self.fed or bool(raw)
        data = raw
        if self.decompressor is None:  # deflate: the first two bytes say whether a zlib header is there
            self.head += raw
            if len(self.head) < 2:
                return
            data, wbits = self.head, zlib.MAX_WBITS if _zlib_header(self.head) else -zlib.MAX_WBITS
            self.decompressor = zlib.decompressobj(wbits)
        while not self.decompressor.eof:
            try:
                piece = self.decompressor.decompress(data, self.STEP_BYTES)
            except zlib.error as exc:
                raise TargetError(f"{self.label}: body does not decode as {self.encoding}: {exc}") from None
            if piece:
                yield piece
            data = self.decompressor.unconsumed_tail
            if not data and len(piece) < self.STEP_BYTES:  # a full step may leave output inside zlib
                return

    def finish(self) -> None:
        """A compressed body must end where its stream ends, or the answer was cut short."""
        if self.fed and (self.decompressor is None or not self.decompressor.eof):
            raise TargetError(f"{self.label}: the {self.encoding} body ends before its stream does")


def _zlib_header(data: bytes) -> bool:
    """Whether ``data`` starts with a zlib header (RFC 1950: method 8, window <= 32 KiB, check bits)."""
    method, check = data[0] & 0x0F == 8 and data[0] >> 4 <= 7, (data[0] * 256 + data[1]) % 31 == 0
    return method and check


def _is_transport_error(exc: BaseException) -> bool:
    """A failure before any answer arrived: the only kind a request is retried after."""
    return isinstance(exc, httpx.TransportError)


def _transport_reason(exc: httpx.TransportError) -> str:
    """A short reason for a failure before any answer: the OS's or aiohttp's words, not httpx's class.

    httpx-aiohttp maps a refused connection and a hang-up to ConnectTimeout, so the cause chain decides.
    """
    cause: BaseException | None = exc.__cause__
    while cause is not None:
        if isinstance(cause, TimeoutError):
            return "timed out"
        if isinstance(cause, ssl.SSLError):
            return f"TLS failed: {one_line(cause)}"
        os_error = getattr(cause, "os_error", cause)
        if isinstance(os_error, OSError) and (
            os_error.errno is not None or isinstance(os_error, socket.gaierror)
        ):
            return os_error_reason(os_error)
        if cause.__cause__ is None and cause.__context__ is None:
            return one_line(cause)
        cause = cause.__cause__ or cause.__context__
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    return one_line(exc)


def os_error_reason(error: OSError) -> str:
    """A failed connect in the OS's words: ``cannot connect: connection refused``, or the name lookup's."""
    if isinstance(error, socket.gaierror):
        return f"cannot resolve the host name ({error.strerror or error})"
    if error.errno is not None:
        return f"cannot connect: {os.strerror(error.errno).lower()}"
    return f"cannot connect: {one_line(error)}"

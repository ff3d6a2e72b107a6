"""``websocket``: a feed judged as its subscriber sees it: the upgrade, ``min_messages`` messages within the
deadline, the largest silence between them (``max_gap_ms``: the feed's staleness) and JSON assertions on
every message, exactly as ``http`` has them.

Every message is read within ``max_message_bytes`` (aiohttp refuses a longer one before holding it), so a
server flooding oversized frames costs at most that much memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, Annotated, Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

import msgspec

from spark_ops import strict_json
from spark_ops.checks._common import TargetOptions, Threshold, _short
from spark_ops.checks.http import JsonAssertion, json_failure
from spark_ops.config import Profile
from spark_ops.errors import ConfigError, TargetError, clip, one_line
from spark_ops.model import Judgement, Status
from spark_ops.registry import CheckBase

if TYPE_CHECKING:  # aiohttp's client loads only when a websocket check runs
    import aiohttp

    from spark_ops.prove.breakage import Breakage
    from spark_ops.transport import Probe

DEFAULT_MAX_MESSAGE_BYTES = 1 << 20
# The check stops listening at this share of its deadline, so it reports what it saw (3 of 5 messages)
# before the runner's deadline cuts it off with a bare "no complete answer".
LISTEN_SHARE = 0.95
CLOSE_SHARE = 0.98  # the polite close (a close frame, the server's reply) ends by this share of the deadline
CLOSE_WAIT_S = 0.25  # and waits at most this long for the reply: the verdict is already made
KEPT_MESSAGES = 20  # the first messages kept as evidence (messages.jsonl), each within max_message_bytes
_SCHEMES = {"ws": "http", "wss": "https", "http": "http", "https": "https"}


class WebSocketOptions(TargetOptions, frozen=True, kw_only=True):
    headers: dict[str, str] = {}  # sent with the upgrade request (secrets: never shown)
    send: str | None = None  # one text message sent once connected: a subscribe request
    min_messages: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] = 1  # fewer within the deadline FAILs
    max_gap_ms: Threshold | None = None  # largest silence between messages (the feed's staleness)
    expect_json: list[JsonAssertion] = []  # assertions every message must hold, as the http kind's
    max_message_bytes: Annotated[int, msgspec.Meta(ge=1)] = DEFAULT_MAX_MESSAGE_BYTES  # longer FAILs, unread


class WebSocketCheck(CheckBase):
    kind: ClassVar[str] = "websocket"
    summary: ClassVar[str] = "a WebSocket feed: upgrade, min_messages in time, largest gap, JSON assertions"
    Options: ClassVar[type[WebSocketOptions]] = WebSocketOptions

    def __init__(self, options: WebSocketOptions, profile: Profile) -> None:
        self.options = options
        url = options.url
        if url is not None:  # ws:// and wss:// are http:// and https:// once upgraded
            scheme, sep, rest = url.partition("://")
            if sep and scheme.lower() in _SCHEMES:
                url = f"{_SCHEMES[scheme.lower()]}://{rest}"
            elif sep:
                raise ConfigError(f"must be a ws, wss, http or https URL, got scheme {scheme!r}", key="url")
        self.target = profile.target(service=options.service, path=options.path, url=url)
        parts = urlsplit(self.target.url)
        self.ws_url = urlunsplit(parts._replace(scheme="wss" if parts.scheme == "https" else "ws"))
        self.display = self.target.display.replace("http", "ws", 1)
        self.max_gap_ms = (
            None if options.max_gap_ms is None else profile.number(options.max_gap_ms, key="max_gap_ms")
        )
        if self.max_gap_ms is not None and not self.max_gap_ms > 0:
            raise ConfigError(f"must be above 0, got {self.max_gap_ms:g}", key="max_gap_ms")
        for index, assertion in enumerate(options.expect_json):
            if assertion.op == "in" and not isinstance(assertion.value, list):
                raise ConfigError("'in' needs a list as value", key=f"expect_json[{index}].value")

    @property
    def threshold(self) -> dict[str, Any]:
        wanted: dict[str, Any] = {"min_messages": self.options.min_messages}
        if self.max_gap_ms is not None:
            wanted["max_gap_ms"] = self.max_gap_ms
        return wanted

    @property
    def planned_load(self) -> str:
        sent = ", 1 message sent" if self.options.send is not None else ""
        return f"1 WebSocket connection to {self.display}{sent}"

    def breakages(self, profile: Profile) -> list[Breakage]:
        from spark_ops.prove import websocket_kind  # loaded by `spark suite prove` only

        return websocket_kind.breakages(self, profile)

    async def judge(self, probe: Probe) -> Judgement:
        import aiohttp

        from spark_ops.transport import USER_AGENT, verifying_tls_context

        loop = asyncio.get_running_loop()
        listen_until = loop.time() + probe.timeout_s * LISTEN_SHARE
        close_by = min(loop.time() + probe.timeout_s * CLOSE_SHARE, listen_until + CLOSE_WAIT_S)
        tls = verifying_tls_context() if self.ws_url.startswith("wss:") else False
        headers = {"User-Agent": USER_AGENT, **self.target.headers, **self.options.headers}
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None)) as session:
            started = time.perf_counter()
            try:
                async with asyncio.timeout_at(listen_until):
                    socket = await probe.connect(
                        lambda: session.ws_connect(
                            self.ws_url,
                            headers=headers,
                            ssl=tls,
                            max_msg_size=self.options.max_message_bytes + 1,  # aiohttp's limit is exclusive
                            autoclose=False,  # a close frame is judged here, with its code
                            compress=0,  # no permessage-deflate: max_msg_size then bounds what is held
                        ),
                        _before_any_answer,
                    )
            except TimeoutError:
                raise TargetError(f"{self.display}: no WebSocket handshake within {_waited(probe)}") from None
            except aiohttp.ClientError as exc:
                raise TargetError(f"{self.display}: {connect_reason(exc)}") from None
            connect_ms = (time.perf_counter() - started) * 1000
            try:
                if self.options.send is not None:
                    async with asyncio.timeout_at(listen_until):
                        await socket.send_str(self.options.send)
                return await _Listener(self, socket, listen_until, probe, connect_ms).listen()
            finally:
                # A hostile server may never answer the close frame: the session's end drops the socket.
                close_until = min(close_by, loop.time() + CLOSE_WAIT_S)
                with contextlib.suppress(TimeoutError, aiohttp.ClientError, OSError):
                    async with asyncio.timeout_at(close_until):
                        await socket.close()


class _Listener:
    """Reads messages until ``min_messages`` arrived, judging each one and the silences between them."""

    def __init__(
        self,
        check: WebSocketCheck,
        socket: aiohttp.ClientWebSocketResponse,
        listen_until: float,
        probe: Probe,
        connect_ms: float,
    ) -> None:
        self.check, self.socket, self.listen_until, self.probe = check, socket, listen_until, probe
        self.connect_ms = connect_ms
        self.received = 0
        self.largest_gap_ms = 0.0
        self.kept: list[bytes] = []

    def _fail(self, reason: str, observed: Any = None) -> Judgement:
        return Judgement(
            Status.FAIL,
            f"{self.check.display}: {reason}",
            observed=observed,
            threshold=self.check.threshold,
            readings=self._readings(),
            artifacts=self._artifacts(),
        )

    def _readings(self) -> dict[str, float]:
        return {
            "messages": self.received,
            "max_gap_ms": round(self.largest_gap_ms, 3),
            "connect_ms": round(self.connect_ms, 3),
        }

    def _artifacts(self) -> dict[str, bytes]:
        return {"messages.jsonl": b"".join(self.kept)} if self.kept else {}

    def _so_far(self) -> str:
        return f"{self.received} of {self.check.options.min_messages} messages"

    async def listen(self) -> Judgement:
        import aiohttp

        loop = asyncio.get_running_loop()
        wanted, max_gap_ms = self.check.options.min_messages, self.check.max_gap_ms
        last_at = loop.time()  # the silence before the first message counts as a gap too
        while self.received < wanted:
            until = self.listen_until
            if max_gap_ms is not None:
                until = min(until, last_at + max_gap_ms / 1000)
            try:
                async with asyncio.timeout_at(until):
                    message = await self.socket.receive()
            except TimeoutError:
                silent_ms = (loop.time() - last_at) * 1000
                self.largest_gap_ms = max(self.largest_gap_ms, silent_ms)
                if max_gap_ms is not None and until < self.listen_until:
                    after = f"message {self.received}" if self.received else "the upgrade"
                    return self._fail(
                        f"no message for {silent_ms:.0f} ms after {after}, above max_gap_ms {max_gap_ms:g} "
                        f"({self._so_far()})",
                        round(silent_ms, 1),
                    )
                return self._fail(f"{self._so_far()} within {_waited(self.probe)}", self.received)
            now = loop.time()
            if message.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                self.largest_gap_ms = max(self.largest_gap_ms, (now - last_at) * 1000)
                last_at = now
                self.received += 1
                failure = self._judge_message(message.data)
                if failure is not None:
                    return failure
                continue
            return self._fail(self._ended(message))
        shown = f"{self.received} messages, largest gap {self.largest_gap_ms:.0f} ms"
        if max_gap_ms is not None:
            shown += f" (max_gap_ms {max_gap_ms:g})"
        held = "".join(f", {a.field} {a.op} {_short(a.value)}" for a in self.check.options.expect_json)
        return Judgement(
            Status.PASS,
            f"{self.check.display}: {shown}{held}",
            observed=self.received,
            threshold=self.check.threshold,
            readings=self._readings(),
            artifacts=self._artifacts(),
        )

    def _judge_message(self, data: str | bytes) -> Judgement | None:
        """A FAIL for message ``self.received`` when it breaks an assertion; None when it holds."""
        assertions = self.check.options.expect_json
        text = data.encode() if isinstance(data, str) else data
        if len(self.kept) < KEPT_MESSAGES:
            self.kept.append(text + b"\n")
        if not assertions:
            return None
        which = f"message {self.received}"
        if isinstance(data, bytes):
            return self._fail(f"{which} is binary ({len(data)} bytes), not JSON")
        try:
            document = strict_json.loads(data)
        except strict_json.AmbiguousJson as exc:
            return self._fail(f"{which} is ambiguous JSON: {exc}")
        except (ValueError, RecursionError) as exc:
            reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc).split(":")[0]
            return self._fail(f"{which} is not JSON: {reason}")
        for assertion in assertions:
            failure = json_failure(document, assertion)
            if failure is not None:
                reason, observed = failure
                return self._fail(f"{which}: {reason}", observed)
        return None

    def _ended(self, message: aiohttp.WSMessage) -> str:
        """Why the feed ended before ``min_messages``: a close frame with its code, a hang-up, an error."""
        import aiohttp

        if message.type is aiohttp.WSMsgType.CLOSE:
            code = self.socket.close_code if message.data is None else message.data
            said = f" ({clip(str(message.extra), 80)!r})" if message.extra else ""
            return f"closed by the server with code {code}{said} after {self._so_far()}"
        if message.type is aiohttp.WSMsgType.ERROR:
            return f"broken stream after {self._so_far()}: {_stream_error(message.data, self.check)}"
        return f"connection ended without a close frame after {self._so_far()}"


def _waited(probe: Probe) -> str:
    return f"{probe.timeout_s * LISTEN_SHARE:.3g} s"


def _stream_error(error: object, check: WebSocketCheck) -> str:
    import aiohttp

    if isinstance(error, aiohttp.WebSocketError) and error.code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG:
        return f"a message larger than the {check.options.max_message_bytes}-byte limit"
    if isinstance(error, BaseException):
        return one_line(error, 160)
    return clip(str(error), 160)


def _before_any_answer(exc: BaseException) -> bool:
    """A refused or unreachable server, retried as the run's requests are (not a TLS failure: an answer)."""
    import aiohttp

    return isinstance(exc, aiohttp.ClientConnectorError) and not isinstance(exc, aiohttp.ClientSSLError)


def connect_reason(exc: aiohttp.ClientError) -> str:
    """A short reason for a failed upgrade; never ``str(exc)`` of a handshake error, which quotes the URL
    (and so any credentials in it)."""
    import ssl

    import aiohttp

    if isinstance(exc, aiohttp.WSServerHandshakeError):
        return f"no WebSocket upgrade: HTTP {exc.status} ({clip(exc.message, 80)})"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return f"TLS failed: {one_line(exc.certificate_error, 160)}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        from spark_ops.transport import os_error_reason

        cause = exc.os_error
        if isinstance(cause, ssl.SSLError):
            return f"TLS failed: {one_line(cause, 160)}"
        return os_error_reason(cause)
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientOSError):
        return "the server hung up during the upgrade"
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"not a valid HTTP answer to the upgrade (HTTP {exc.status}: {clip(exc.message, 80)})"
    return f"the upgrade failed: {type(exc).__name__}"

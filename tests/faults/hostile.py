"""A hostile HTTP server on a real loopback socket: raw asyncio in a thread, so it can break every rule.

``HostileServer(host)`` listens on a free port of ``host`` (127.0.0.1, 127.0.0.2 or ::1), optionally
with TLS; ``server.serve = Serve(...)`` picks what every connection gets from then on. Each request's
headers are recorded in ``server.requests`` (the cross-host redirect test reads them).

The big answers are generated lazily and streamed: the plain 512 MiB body is written from one 1 MiB
block of zeros, and the gzip bomb (about 1 MB inflating to 1 GiB) is built once per session from two
compressed 1 MiB blocks (see ``gzip_bomb``).
"""

from __future__ import annotations

import asyncio
import functools
import socket
import ssl
import struct
import threading
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from faults._matrix import Serve, answer

MIB = 1 << 20
BLOCK = bytes(MIB)
BOMB_INFLATED_MIB = 1024
PLAIN_BODY_MIB = 512
# zlib.crc32 of 1 GiB of zeros (2.5 s to compute on the CI machine, so written down once).
CRC32_OF_1_GIB_ZEROS = 0x5B64C2B0
MAX_HEAD_BYTES = 64 * 1024


@functools.cache
def gzip_bomb() -> bytes:
    """A valid gzip member of 1 GiB of zeros in about 1 MB, built in milliseconds.

    After a full flush deflate keeps no history, so the compressed form of one 1 MiB zero block is the
    same segment every time: the stream is that segment 1024 times, an empty final block and the trailer.
    """
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    first = compressor.compress(BLOCK) + compressor.flush(zlib.Z_FULL_FLUSH)
    segment = compressor.compress(BLOCK) + compressor.flush(zlib.Z_FULL_FLUSH)
    final_block = zlib.compressobj(9, zlib.DEFLATED, -15).flush()  # an empty raw block with BFINAL set
    trailer = struct.pack("<II", CRC32_OF_1_GIB_ZEROS, (BOMB_INFLATED_MIB * MIB) & 0xFFFFFFFF)
    return first + segment * (BOMB_INFLATED_MIB - 1) + final_block + trailer


def encode(body: bytes, encoding: str) -> tuple[bytes, str]:
    """``body`` compressed as ``encoding`` and the Content-Encoding to declare.

    "raw-deflate" is deflate without the zlib header (some servers send it); "gzip-cut" loses its last
    16 bytes (trailer and the end of the stream); "gzip-corrupt" has its deflate data overwritten; "br"
    sends the body unchanged under a coding spark-ops never asks for.
    """
    base = encoding.split("-")[0] if encoding.startswith("gzip") else encoding
    wbits = {"gzip": 31, "deflate": 15, "raw-deflate": -15}.get(base)
    if wbits is None:
        return body, encoding
    compressor = zlib.compressobj(6, zlib.DEFLATED, wbits)
    packed = compressor.compress(body) + compressor.flush()
    if encoding == "gzip-cut":
        packed = packed[:-16]
    elif encoding == "gzip-corrupt":
        packed = packed[:10] + b"\xff" * (len(packed) - 10)
    return packed, base.removeprefix("raw-")


def _head(status: int, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Hostile')}"]
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


_REASONS = {200: "OK", 204: "No Content", 302: "Found", 400: "Bad Request", 503: "Service Unavailable"}


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with SO_LINGER 0: the peer gets a TCP RST, not a clean FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]


@dataclass
class HostileServer:
    host: str = "127.0.0.1"
    ssl_context: ssl.SSLContext | None = None
    serve: Serve = field(default_factory=Serve)
    requests: list[Recorded] = field(default_factory=list)
    redirect_origin: str = ""  # where Serve(location="other-host") points
    port: int = 0
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _server: asyncio.Server | None = None

    @property
    def origin(self) -> str:
        scheme = "https" if self.ssl_context is not None else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"

    def start(self) -> HostileServer:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                self._server = loop.run_until_complete(
                    asyncio.start_server(self._handle, self.host, 0, ssl=self.ssl_context)
                )
                self.port = self._server.sockets[0].getsockname()[1]
            except BaseException as exc:  # reported to the starting thread
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            self._server.close()
            for task in asyncio.all_tasks(loop):
                task.cancel()
            loop.run_until_complete(asyncio.sleep(0))
            loop.close()

        self._thread = threading.Thread(target=run, name=f"hostile-{self.host}", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            raise failure[0]
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        serve = self.serve
        try:
            if serve.behaviour == "plain-http":  # an https client's ClientHello gets a plain answer
                writer.write(_head(400, [("Content-Length", "0"), ("Connection", "close")]))
                await writer.drain()
                return
            while True:  # keep-alive: several requests may come on one connection
                head = await reader.readuntil(b"\r\n\r\n")
                if len(head) > MAX_HEAD_BYTES:
                    return
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1] if len(lines[0].split(" ")) > 1 else "/"
                pairs = (line.split(": ", 1) for line in lines[1:] if ": " in line)
                headers = {name.lower(): value for name, value in pairs}
                self.requests.append(Recorded(path, headers))
                keep_going = await BEHAVIOURS[serve.behaviour](self, serve, path, writer)
                if not keep_going:
                    return
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ssl.SSLError):
            return  # the client went away or spoke TLS where we did not: normal for hostile answers
        except asyncio.CancelledError:
            return
        finally:
            if not writer.is_closing():
                writer.close()


Behaviour = Callable[[HostileServer, Serve, str, asyncio.StreamWriter], Awaitable[bool]]


async def _static(server: HostileServer, serve: Serve, path: str, writer: asyncio.StreamWriter) -> bool:
    """The row's status and the path's body, with Content-Length off by ``length_delta``."""
    body, headers = answer(serve, path)
    if serve.encoding is not None:
        body, declared_coding = encode(body, serve.encoding)
        headers = (*headers, ("Content-Encoding", declared_coding))
    declared = [("Content-Length", str(len(body) + serve.length_delta))]
    if serve.length_delta:  # no reuse: the next request would read the surplus as its answer
        declared.append(("Connection", "close"))
    writer.write(_head(serve.status, [*headers, *(declared if serve.status != 204 else [])]) + body)
    await writer.drain()
    if serve.length_delta > 0:
        await asyncio.sleep(0.05)  # a body shorter than declared, then the hang-up
    return serve.length_delta == 0  # keep-alive only when the framing was honest


async def _silent(server: HostileServer, serve: Serve, path: str, writer: asyncio.StreamWriter) -> bool:
    """Read the request, never answer."""
    await asyncio.sleep(3600)
    return False


async def _drip_body(server: HostileServer, serve: Serve, path: str, writer: asyncio.StreamWriter) -> bool:
    """Headers at once, then the body one byte a second."""
    body, headers = answer(serve, path)
    writer.write(_head(200, [*headers, ("Content-Length", str(len(body)))]))
    await writer.drain()
    for index in range(len(body)):
        writer.write(body[index : index + 1])
        await writer.drain()
        await asyncio.sleep(1.0)
    return False


async def _drip_head(server: HostileServer, serve: Serve, path: str, writer: asyncio.StreamWriter) -> bool:
    """The status line and the headers themselves, one byte a second."""
    body, headers = answer(serve, path)
    head = _head(200, [*headers, ("Content-Length", str(len(body)))])
    for index in range(len(head)):
        writer.write(head[index : index + 1])
        await writer.drain()
        await asyncio.sleep(1.0)
    return False


async def _reset_mid_body(
    server: HostileServer, serve: Serve, path: str, writer: asyncio.StreamWriter
) -> bool:
    """Declare the whole body, send half of it, then RST."""
    body, headers = answer(serve, path)
    writer.write(_head(200, [*headers, ("Content-Length", str(len(body)))]) + body[: len(body) // 2])
    await writer.drain()
    await asyncio.sleep(0.05)
    _reset(writer)
    return False


async def _stream(writer: asyncio.StreamWriter, total: int, source: bytes) -> None:
    """``total`` bytes from ``source`` (repeated), written as fast as the peer reads them."""
    sent = 0
    while sent < total:
        piece = source[: min(len(source), total - sent)]
        writer.write(piece)
        await writer.drain()
        sent += len(piece)


async def _gzip_bomb(server: HostileServer, serve: Serve, path: str, writer: asyncio.StreamWriter) -> bool:
    bomb = gzip_bomb()
    _, headers = answer(serve, path)
    writer.write(_head(200, [*headers, ("Content-Encoding", "gzip"), ("Content-Length", str(len(bomb)))]))
    await _stream(writer, len(bomb), bomb)
    return False


async def _huge_plain(server: HostileServer, serve: Serve, path: str, writer: asyncio.StreamWriter) -> bool:
    total = PLAIN_BODY_MIB * MIB
    _, headers = answer(serve, path)
    writer.write(_head(200, [*headers, ("Content-Length", str(total))]))
    await _stream(writer, total, BLOCK)
    return False


async def _redirect(server: HostileServer, serve: Serve, path: str, writer: asyncio.StreamWriter) -> bool:
    """302 to ``serve.location``: a path here (a loop when it is the same), or "other-host"."""
    location = server.redirect_origin + path if serve.location == "other-host" else serve.location or path
    writer.write(_head(302, [("Location", location), ("Content-Length", "0")]))
    await writer.drain()
    return True


async def _redirect_bomb(
    server: HostileServer, serve: Serve, path: str, writer: asyncio.StreamWriter
) -> bool:
    """302 to itself whose own body is the gzip bomb: a client that reads redirect bodies reads 1 GiB."""
    bomb = gzip_bomb()
    headers = [("Location", path), ("Content-Encoding", "gzip"), ("Content-Length", str(len(bomb)))]
    writer.write(_head(302, headers))
    await _stream(writer, len(bomb), bomb)
    return False


async def _not_http(server: HostileServer, serve: Serve, path: str, writer: asyncio.StreamWriter) -> bool:
    """Another protocol on the port: an SSH banner, then the hang-up."""
    writer.write(b"SSH-2.0-OpenSSH_9.6p1 Debian-4\r\n")
    await writer.drain()
    return False


async def _huge_header(server: HostileServer, serve: Serve, path: str, writer: asyncio.StreamWriter) -> bool:
    """A 1 MiB header line before a healthy body."""
    body, headers = answer(serve, path)
    junk = [("X-Padding", "a" * MIB), ("Content-Length", str(len(body)))]
    writer.write(_head(200, [*headers, *junk]) + body)
    await writer.drain()
    return False


BEHAVIOURS: dict[str, Behaviour] = {
    "static": _static,
    "silent": _silent,
    "drip-body": _drip_body,
    "drip-head": _drip_head,
    "reset-mid-body": _reset_mid_body,
    "gzip-bomb": _gzip_bomb,
    "huge-plain": _huge_plain,
    "redirect": _redirect,
    "redirect-bomb": _redirect_bomb,
    "not-http": _not_http,
    "huge-header": _huge_header,
}

# The WebSocket behaviours live in their own module; the hostile server runs them like any other.
from faults.hostile_ws import WS_BEHAVIOURS  # noqa: E402

BEHAVIOURS.update(WS_BEHAVIOURS)

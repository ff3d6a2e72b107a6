"""The hostile server's WebSocket behaviours: an upgrade done by hand (RFC 6455), then whatever breaks a
subscriber: nothing, garbage, a frame cut in half, frames far over any sane size, a close with an error.

Registered into ``faults.hostile.BEHAVIOURS`` under ``ws-*`` names; each gets the request's headers from
``server.requests[-1]`` (recorded just before the behaviour runs, with no await in between).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import random
import struct
from typing import TYPE_CHECKING

from faults._matrix import Serve

if TYPE_CHECKING:
    from faults.hostile import Behaviour, HostileServer

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEXT, BINARY, CLOSE = 0x1, 0x2, 0x8
FEED_INTERVAL_S = 0.02
FLOOD_FRAME_BYTES = 64 << 20  # each flooded frame declares 64 MiB; the client must refuse at the header
GARBAGE = random.Random(14).randbytes(4096)  # the same garbage every run


def frame(opcode: int, payload: bytes, declared: int | None = None) -> bytes:
    """A server frame (FIN set, unmasked) with ``payload``; ``declared`` overrides the length field."""
    length = len(payload) if declared is None else declared
    if length < 126:
        head = struct.pack("!BB", 0x80 | opcode, length)
    elif length < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 126, length)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, length)
    return head + payload


def tick(seq: int) -> bytes:
    return frame(TEXT, json.dumps({"type": "tick", "seq": seq, "price": 100.0 + seq / 100}).encode())


async def _upgrade(server: HostileServer, writer: asyncio.StreamWriter) -> None:
    key = server.requests[-1].headers.get("sec-websocket-key", "")
    accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
    writer.write(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + f"Sec-WebSocket-Accept: {accept}\r\n\r\n".encode()
    )
    await writer.drain()


async def _feed(server: HostileServer, serve: Serve, path: str, writer: asyncio.StreamWriter) -> bool:
    """The healthy feed: a JSON tick every 20 ms."""
    await _upgrade(server, writer)
    for seq in range(1, 10_000):
        writer.write(tick(seq))
        await writer.drain()
        await asyncio.sleep(FEED_INTERVAL_S)
    return False


async def _slow_feed(server: HostileServer, serve: Serve, path: str, writer: asyncio.StreamWriter) -> bool:
    """A stale feed: one tick, then one every 0.8 s."""
    await _upgrade(server, writer)
    for seq in range(1, 100):
        writer.write(tick(seq))
        await writer.drain()
        await asyncio.sleep(0.8)
    return False


async def _half_handshake(
    server: HostileServer, serve: Serve, path: str, writer: asyncio.StreamWriter
) -> bool:
    """The 101 status line and one header, then nothing: the handshake never completes."""
    writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n")
    await writer.drain()
    await asyncio.sleep(3600)
    return False


async def _mute(server: HostileServer, serve: Serve, path: str, writer: asyncio.StreamWriter) -> bool:
    """Upgraded, then never a message."""
    await _upgrade(server, writer)
    await asyncio.sleep(3600)
    return False


async def _mid_frame(server: HostileServer, serve: Serve, path: str, writer: asyncio.StreamWriter) -> bool:
    """One whole tick, then a frame declaring 100 bytes that stops after 10, then the hang-up."""
    await _upgrade(server, writer)
    writer.write(tick(1) + frame(TEXT, b'{"type": "', declared=100))
    await writer.drain()
    await asyncio.sleep(0.05)
    return False


async def _garbage(server: HostileServer, serve: Serve, path: str, writer: asyncio.StreamWriter) -> bool:
    """Upgraded, then 4 KiB of random bytes where frames should be."""
    await _upgrade(server, writer)
    writer.write(GARBAGE)
    await writer.drain()
    await asyncio.sleep(3600)
    return False


async def _binary(server: HostileServer, serve: Serve, path: str, writer: asyncio.StreamWriter) -> bool:
    """Well-framed binary messages of random bytes where JSON ticks should be."""
    await _upgrade(server, writer)
    for _ in range(100):
        writer.write(frame(BINARY, GARBAGE[:512]))
        await writer.drain()
        await asyncio.sleep(FEED_INTERVAL_S)
    return False


async def _not_json(server: HostileServer, serve: Serve, path: str, writer: asyncio.StreamWriter) -> bool:
    await _upgrade(server, writer)
    writer.write(frame(TEXT, b"tick BTC-USD 100.0"))
    await writer.drain()
    await asyncio.sleep(3600)
    return False


async def _ambiguous(server: HostileServer, serve: Serve, path: str, writer: asyncio.StreamWriter) -> bool:
    """A tick that says its type twice: which one a subscriber reads depends on its parser."""
    await _upgrade(server, writer)
    writer.write(frame(TEXT, b'{"type": "tick", "type": "halt", "prices": {"BTC-USD": 100.0}}'))
    await writer.drain()
    await asyncio.sleep(3600)
    return False


async def _flood(server: HostileServer, serve: Serve, path: str, writer: asyncio.StreamWriter) -> bool:
    """Frames of 64 MiB each, one after another, streamed as fast as the client reads."""
    await _upgrade(server, writer)
    block = bytes(1 << 20)
    for _ in range(16):
        writer.write(frame(BINARY, b"", declared=FLOOD_FRAME_BYTES))
        for _ in range(FLOOD_FRAME_BYTES // len(block)):
            writer.write(block)
            await writer.drain()
    return False


async def _close_error(server: HostileServer, serve: Serve, path: str, writer: asyncio.StreamWriter) -> bool:
    """Upgraded, then a close frame with 1011 (internal error)."""
    await _upgrade(server, writer)
    writer.write(frame(CLOSE, struct.pack("!H", 1011) + b"feed backend down"))
    await writer.drain()
    await asyncio.sleep(0.2)
    return False


WS_BEHAVIOURS: dict[str, Behaviour] = {
    "ws-feed": _feed,
    "ws-slow-feed": _slow_feed,
    "ws-half-handshake": _half_handshake,
    "ws-mute": _mute,
    "ws-mid-frame": _mid_frame,
    "ws-garbage": _garbage,
    "ws-binary": _binary,
    "ws-not-json": _not_json,
    "ws-ambiguous": _ambiguous,
    "ws-flood": _flood,
    "ws-close-error": _close_error,
}

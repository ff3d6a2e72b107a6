"""The ``websocket`` kind's rows: feeds that never upgrade, break their framing, flood, fall silent or close.

The template asks for 3 messages, at most 500 ms apart, each a JSON object with ``type == "tick"``.
"""

from __future__ import annotations

from faults._matrix import Expect, Fault, Serve
from spark_ops.model import Status

FAIL = Status.FAIL


def ws(reason: str, **options: object) -> dict[str, Expect]:
    return {"websocket": Expect(FAIL, reason, dict(options))}


FAULTS = [
    Fault(
        "ws-never-upgrades",
        "WebSocket feeds",
        "the feed's URL answers a plain 200 page instead of the upgrade",
        "FAIL `no WebSocket upgrade: HTTP 200 ...`",
        ws(r"no WebSocket upgrade: HTTP 200"),
    ),
    Fault(
        "ws-handshake-never-completes",
        "WebSocket feeds",
        "the 101 status line and one header, then nothing",
        "FAIL at the check's deadline (`no WebSocket handshake within 1.42 s`)",
        ws(r"no WebSocket handshake within 1\.4\d s"),
        serve=Serve("ws-half-handshake"),
        deadline=True,
    ),
    Fault(
        "ws-sends-nothing",
        "WebSocket feeds",
        "upgrades, then never sends a message",
        "FAIL `no message for 500 ms after the upgrade, above max_gap_ms 500 (0 of 3 messages)`",
        ws(r"no message for 5\d\d ms after the upgrade, above max_gap_ms 500 \(0 of 3 messages\)"),
        serve=Serve("ws-mute"),
    ),
    Fault(
        "ws-sends-nothing-until-the-deadline",
        "WebSocket feeds",
        "the same, judged without a gap bound inside the deadline (`max_gap_ms` 5000)",
        "FAIL at the check's deadline (`0 of 3 messages within 1.42 s`)",
        ws(r"0 of 3 messages within 1\.4\d s", max_gap_ms=5000),
        serve=Serve("ws-mute"),
        deadline=True,
    ),
    Fault(
        "ws-stale-feed",
        "WebSocket feeds",
        "one tick, then one every 800 ms (a stale feed)",
        "FAIL `no message for 500 ms after message 1, above max_gap_ms 500`",
        ws(r"no message for 5\d\d ms after message 1, above max_gap_ms 500 \(1 of 3 messages\)"),
        serve=Serve("ws-slow-feed"),
    ),
    Fault(
        "ws-closes-mid-frame",
        "WebSocket feeds",
        "one tick, then a frame declaring 100 bytes that stops after 10, then the hang-up",
        "FAIL `connection ended without a close frame after 1 of 3 messages`",
        ws(r"connection ended without a close frame after 1 of 3 messages"),
        serve=Serve("ws-mid-frame"),
    ),
    Fault(
        "ws-binary-garbage",
        "WebSocket feeds",
        "upgrades, then 4 KiB of random bytes where frames should be",
        "FAIL `broken stream after 0 of 3 messages: ...`",
        ws(r"broken stream after 0 of 3 messages: "),
        serve=Serve("ws-garbage"),
    ),
    Fault(
        "ws-binary-messages",
        "WebSocket feeds",
        "well-framed binary messages of random bytes where JSON ticks should be",
        "FAIL `message 1 is binary (512 bytes), not JSON`",
        ws(r"message 1 is binary \(512 bytes\), not JSON"),
        serve=Serve("ws-binary"),
    ),
    Fault(
        "ws-text-not-json",
        "WebSocket feeds",
        "a text message that is not JSON",
        "FAIL `message 1 is not JSON: ...`",
        ws(r"message 1 is not JSON: Expecting value"),
        serve=Serve("ws-not-json"),
    ),
    Fault(
        "ws-duplicate-key",
        "WebSocket feeds",
        "a tick whose JSON says `type` twice (`tick`, then `halt`)",
        "FAIL `message 1 is ambiguous JSON: key 'type' appears twice in one object`",
        ws(r"message 1 is ambiguous JSON: key 'type' appears twice in one object"),
        serve=Serve("ws-ambiguous"),
    ),
    Fault(
        "ws-oversized-frames",
        "WebSocket feeds",
        "a flood of frames declaring 64 MiB each (memory stays bounded)",
        "FAIL `broken stream ...: a message larger than the 1048576-byte limit`",
        ws(r"broken stream after 0 of 3 messages: a message larger than the 1048576-byte limit"),
        serve=Serve("ws-flood"),
        memory=True,
    ),
    Fault(
        "ws-closes-with-an-error-code",
        "WebSocket feeds",
        "upgrades, then a close frame with code 1011",
        "FAIL `closed by the server with code 1011 ('feed backend down') after 0 of 3 messages`",
        ws(r"closed by the server with code 1011 \('feed backend down'\) after 0 of 3 messages"),
        serve=Serve("ws-close-error"),
    ),
    Fault(
        "wss-self-signed",
        "WebSocket feeds",
        "a wss feed behind a self-signed certificate",
        "FAIL `TLS failed: ... self-signed certificate`",
        ws(r"TLS failed: .*self[- ]signed certificate"),
        serve=Serve("ws-feed", origin="tls-self-signed"),
    ),
    Fault(
        "ws-refused",
        "WebSocket feeds",
        "nothing listens on the feed's port",
        "FAIL `cannot connect: connection refused`",
        ws(r"cannot connect: connection refused"),
        serve=Serve(origin="refused"),
    ),
]

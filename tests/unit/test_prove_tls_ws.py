"""``spark suite prove`` for the tls and websocket kinds: their breakages are loopback servers (TLS with
certificates the prover makes, WebSocket feeds broken or relayed from the simulator's), run for real."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import free_port, spec_of
from faults.hostile import HostileServer
from tlscerts import Issued, certificate_authority, leaf, server_context, write_ca_file

from spark_ops.checks.http import JsonAssertion
from spark_ops.checks.tls import TlsCheck, TlsOptions
from spark_ops.checks.websocket import WebSocketCheck, WebSocketOptions
from spark_ops.config import Suite, load_profile
from spark_ops.model import RiskLevel, Status
from spark_ops.pipeline import PreparedRun
from spark_ops.prove import websocket_kind
from spark_ops.prove.prover import CheckProof, Verdict, prove
from spark_ops.redact import Redactor
from spark_ops.registry import PreparedCheck
from spark_ops.sim import Simulator

HOST = "127.0.0.1"
CAUGHT = {Status.FAIL, Status.ERROR, Status.INCONCLUSIVE}


def _prove_one(check: Any, timeout_s: float = 5.0) -> CheckProof:
    profile = load_profile("dev")
    prepared = [PreparedCheck(spec_of("c", check.kind), timeout_s=timeout_s, retries=0, check=check)]
    suite = Suite("test", "test.toml", "", tuple(p.spec for p in prepared))
    run = PreparedRun("prove", profile, suite, prepared, RiskLevel.HIGH, None, Redactor([]))
    [proof] = prove(run, source="test").checks
    return proof


def _statuses(proof: CheckProof) -> dict[str, Status | None]:
    return {trial.breakage: trial.status for trial in proof.trials}


# --- tls ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def root() -> Issued:
    return certificate_authority("Spark Prove Test Root")


@pytest.fixture
def healthy_tls(root: Issued, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A TLS server on loopback with a chain the run trusts (SSL_CERT_FILE), 90 days from expiry."""
    monkeypatch.setenv("SSL_CERT_FILE", str(write_ca_file(tmp_path / "ca.pem", root)))
    server = HostileServer(HOST, ssl_context=server_context(tmp_path / "certs", leaf(HOST, root))).start()
    yield server.origin
    server.stop()


def _tls(origin: str, **options: Any) -> TlsCheck:
    return TlsCheck(TlsOptions(url=origin + "/", **options), load_profile("dev"))


def test_a_tls_check_is_proven_by_each_certificate_fault(healthy_tls: str) -> None:
    """The default thresholds (warn 30, fail 7 days) fail every breakage, each for its own reason."""
    proof = _prove_one(_tls(healthy_tls))
    assert proof.baseline.status is Status.PASS, proof.baseline.message
    assert proof.verdict is Verdict.PROVEN, proof.reason
    messages = {trial.breakage: trial.message for trial in proof.trials}
    assert set(_statuses(proof).values()) <= CAUGHT
    assert len(messages) == 5
    assert "expired: leaf" in messages["the certificate expired yesterday"]
    assert "within fail_days 7" in messages["the certificate expires in 1 day"]
    assert "for another host" in messages["the certificate is for another host (another-host.invalid)"]
    assert "untrusted" in messages["the certificate is self-signed (untrusted)"]
    assert "refused" in messages["service down (connection refused)"]


def test_fail_days_below_one_day_is_vacuous(healthy_tls: str) -> None:
    """fail_days = 0 only fails a certificate already expired: one with a day left goes through as a
    WARN, and the proof names that breakage."""
    proof = _prove_one(_tls(healthy_tls, warn_days=30, fail_days=0))
    assert proof.verdict is Verdict.VACUOUS, proof.reason
    [passed] = proof.passed_breakages
    assert passed.breakage == "the certificate expires in 1 day"
    assert passed.status is Status.WARN and "within warn_days 30" in passed.message
    assert _statuses(proof)["the certificate expired yesterday"] is Status.FAIL


def test_fail_days_of_one_catches_the_last_day(healthy_tls: str) -> None:
    """The rule's edge: fail_days = 1 fails a certificate with 1 day left (less, once judged)."""
    proof = _prove_one(_tls(healthy_tls, warn_days=1, fail_days=1))
    assert proof.verdict is Verdict.PROVEN, proof.reason


# --- websocket ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def feed() -> Iterator[str]:
    """The simulator's tick feed (ticks several times a second)."""
    with Simulator(ports="auto") as simulator:
        yield simulator.urls["marketdata"].replace("http://", "ws://", 1).rstrip("/") + "/ws/ticks"


def _ws(url: str, **options: Any) -> WebSocketCheck:
    return WebSocketCheck(WebSocketOptions(url=url, **options), load_profile("dev"))


def test_a_websocket_check_is_proven(feed: str) -> None:
    """A feed check with a gap bound and a JSON assertion fails every breakage of its feed."""
    check = _ws(
        feed,
        send='{"op": "subscribe", "symbols": ["BTC-USD"]}',
        min_messages=3,
        max_gap_ms=2000,
        expect_json=[JsonAssertion(field="type", value="tick")],
    )
    proof = _prove_one(check, timeout_s=3.0)
    assert proof.baseline.status is Status.PASS, proof.baseline.message
    assert proof.verdict is Verdict.PROVEN, proof.reason
    statuses = _statuses(proof)
    assert None not in statuses.values()  # every relay reached the feed: nothing skipped
    messages = {trial.breakage: trial.message for trial in proof.trials}
    assert "refused" in messages["service down (connection refused)"]
    assert "no WebSocket upgrade: HTTP 200" in messages["answers 200 and never upgrades to WebSocket"]
    assert "above max_gap_ms 2000" in messages["upgrades, then never sends a message"]
    assert (
        "closed by the server with code 1011" in messages["upgrades, then closes with 1011 (internal error)"]
    )
    assert "above max_gap_ms 2000" in messages["stale: its first message comes after 10 s"]
    assert "is not JSON" in messages["every message is an HTML page, not JSON"]
    assert "'down'" in messages["every message: type = 'down' (another value of the same type)"]
    assert "every message: type removed" in messages


def test_a_not_equal_assertion_is_vacuous(feed: str) -> None:
    """``type != "MAINTENANCE"`` holds for a feed saying ``"DOWN"``: reported with that breakage."""
    check = _ws(feed, expect_json=[JsonAssertion(field="type", op="!=", value="MAINTENANCE")])
    proof = _prove_one(check, timeout_s=3.0)
    assert proof.verdict is Verdict.VACUOUS, proof.reason
    assert [t.breakage for t in proof.passed_breakages] == [
        "every message: type = 'DOWN' (another value of the same type)"
    ]


def test_no_gap_bound_lets_a_stale_feed_through(feed: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without max_gap_ms, a deadline longer than the stale feed's silence passes it: vacuous. (The
    silence is shortened to 1 s here so the test stays quick; the rule is the same at 10 s.)"""
    monkeypatch.setattr(websocket_kind, "STALE_S", 1.0)
    proof = _prove_one(_ws(feed), timeout_s=2.5)
    assert proof.verdict is Verdict.VACUOUS, proof.reason
    [passed] = proof.passed_breakages
    assert passed.breakage == "stale: its first message comes after 1 s" and passed.status is Status.PASS


def test_a_relay_whose_feed_is_down_fails_the_stand_in() -> None:
    """The relayed breakages need the real feed: without it the stand-in fails (the trial is skipped,
    never counted as caught)."""
    check = _ws(f"ws://{HOST}:{free_port()}/ws/ticks")
    stale = next(b for b in check.breakages(load_profile("dev")) if b.name.startswith("stale"))
    assert stale.stand_in is not None

    async def enter() -> None:
        assert stale.stand_in is not None
        async with stale.stand_in():
            pass

    with pytest.raises(ConnectionError, match=r"the relay could not reach the feed ws://.*refused"):
        asyncio.run(enter())


def test_the_relay_forwards_the_subscription_and_breaks_every_message(feed: str) -> None:
    """A field breakage's stand-in relays the real feed: the check's subscribe message reaches it (only
    BTC-USD prices come back) and each message arrives with the asserted field broken."""
    import aiohttp

    check = _ws(
        feed,
        send='{"op": "subscribe", "symbols": ["BTC-USD"]}',
        expect_json=[JsonAssertion(field="type", value="tick")],
    )
    removed = next(b for b in check.breakages(load_profile("dev")) if b.name == "every message: type removed")
    assert removed.stand_in is not None

    async def read_through() -> list[dict[str, Any]]:
        assert removed.stand_in is not None
        async with removed.stand_in() as stand_in, aiohttp.ClientSession() as session:
            assert isinstance(stand_in, WebSocketCheck)
            socket = await session.ws_connect(stand_in.ws_url)
            await socket.send_str(check.options.send or "")
            got = [json.loads(await asyncio.wait_for(socket.receive_str(), 5)) for _ in range(5)]
            await socket.close()
            return got

    messages = asyncio.run(read_through())
    assert all("type" not in message and "seq" in message for message in messages)
    # The subscription takes effect from the tick after it arrives: the last ones hold BTC-USD alone.
    assert set(messages[-1]["prices"]) == {"BTC-USD"}

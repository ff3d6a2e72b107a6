"""The ``websocket`` kind against the simulator's tick feed and the hostile server's WebSocket behaviours."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import run_one_check, write_suite
from faults._matrix import Serve
from faults.hostile import HostileServer

from spark_ops import registry
from spark_ops.config import load_profile, load_suite
from spark_ops.errors import ConfigError
from spark_ops.model import CheckResult, Status
from spark_ops.sim import Simulator, parse_fault

SUBSCRIBE = '{"op": "subscribe", "symbols": ["BTC-USD"]}'


def feed_check(**options: Any) -> dict[str, Any]:
    return {
        "name": "marketdata.feed",
        "kind": "websocket",
        "service": "marketdata",
        "path": "/ws/ticks",
        "timeout_s": 3.0,
        **options,
    }


def judge(sim: Simulator, folder: Path, **options: Any) -> CheckResult:
    return run_one_check(folder, feed_check(**options), "dev", sim.profile_sets())


def test_the_simulated_feed_passes(shared_sim: Simulator, tmp_path: Path) -> None:
    """Subscribed to BTC-USD: 3 ticks, gaps near 250 ms, every tick holds the assertions; evidence kept."""
    result = judge(
        shared_sim,
        tmp_path,
        send=SUBSCRIBE,
        min_messages=3,
        max_gap_ms=1000,
        expect_json=[{"field": "type", "value": "tick"}, {"field": "prices.BTC-USD", "op": ">", "value": 0}],
    )
    assert result.status is Status.PASS, result.message
    assert result.message.startswith(f"{shared_sim.urls['marketdata'].replace('http', 'ws')}/ws/ticks: ")
    assert "3 messages, largest gap" in result.message
    readings = result.judgement.readings
    assert readings["messages"] == 3
    assert 0 < readings["max_gap_ms"] < 1000
    assert readings["connect_ms"] > 0
    kept = result.judgement.artifacts["messages.jsonl"].splitlines()
    assert [set(json.loads(line)["prices"]) for line in kept] == [{"BTC-USD"}] * 3


def test_an_assertion_is_held_by_every_message(shared_sim: Simulator, tmp_path: Path) -> None:
    """The subscription leaves ETH-USD out of the ticks: the first tick after it fails, named."""
    result = judge(
        shared_sim,
        tmp_path,
        send=SUBSCRIBE,
        expect_json=[{"field": "prices.ETH-USD", "op": ">", "value": 0}],
    )
    assert result.status is Status.FAIL
    assert "message 1: JSON field 'prices.ETH-USD' is missing" in result.message


def test_too_few_messages_within_the_deadline(shared_sim: Simulator, tmp_path: Path) -> None:
    """Ticks come every 250 ms: 100 of them cannot come within 1 s."""
    result = judge(shared_sim, tmp_path, min_messages=100, timeout_s=1.0)
    assert result.status is Status.FAIL
    assert "of 100 messages within 0.95 s" in result.message
    assert 1 <= result.judgement.readings["messages"] <= 5
    assert result.duration_ms < 1000


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("marketdata=stale:60", r"no message for \d+ ms after the upgrade, above max_gap_ms 600"),
        ("marketdata=ws-silent", r"no message for \d+ ms after the upgrade, above max_gap_ms 600"),
        ("marketdata=ws-close:1011", r"closed by the server with code 1011 \('simulated feed failure'\)"),
        ("marketdata=ws-noupgrade", r"no WebSocket upgrade: HTTP 200"),
    ],
    ids=["stale", "ws-silent", "ws-close", "ws-noupgrade"],
)
def test_the_simulators_feed_faults_fail(sim: Simulator, tmp_path: Path, fault: str, reason: str) -> None:
    sim.apply(parse_fault(fault))
    result = judge(sim, tmp_path, max_gap_ms=600)
    assert result.status is Status.FAIL
    assert re.search(reason, result.message), result.message


def test_the_feed_gate_exits_1_on_a_stale_feed_and_0_when_healthy(
    sim: Simulator, tmp_path: Path, spark: Any
) -> None:
    suite = write_suite(tmp_path, feed_check(min_messages=2, max_gap_ms=600, severity="critical"))
    sets = [arg for assignment in sim.profile_sets() for arg in ("--set", assignment)]
    args = ["gate", "--exit-on-fail", "--suite", str(suite), "--no-evidence", *sets]
    assert spark(*args).exit_code == 0
    sim.apply(parse_fault("marketdata=stale:60"))
    assert spark(*args).exit_code == 1


@pytest.fixture
def feed_server() -> Any:
    server = HostileServer("127.0.0.1", serve=Serve("ws-feed")).start()
    yield server
    server.stop()


def test_credentials_go_to_the_server_never_into_the_reason(
    feed_server: HostileServer, tmp_path: Path
) -> None:
    """Userinfo becomes Basic auth on the upgrade; a header is sent as given; neither is printed."""
    url = f"ws://feed:s3cret-pass@127.0.0.1:{feed_server.port}/ws/ticks"
    check = {"name": "feed", "kind": "websocket", "url": url, "headers": {"X-Api-Key": "k3y-t0ken"}}
    result = run_one_check(tmp_path, check, "dev", [])
    assert result.status is Status.PASS, result.message
    upgrade = feed_server.requests[-1].headers
    assert upgrade["authorization"].startswith("Basic ") and upgrade["x-api-key"] == "k3y-t0ken"
    assert "s3cret" not in result.message and "k3y" not in result.message
    assert result.message.startswith(f"ws://127.0.0.1:{feed_server.port}/ws/ticks: ")


def test_a_refused_upgrade_never_quotes_the_url_with_its_credentials(
    feed_server: HostileServer, tmp_path: Path
) -> None:
    feed_server.serve = Serve(status=401)
    url = f"ws://feed:s3cret-pass@127.0.0.1:{feed_server.port}/ws/ticks"
    result = run_one_check(tmp_path, {"name": "feed", "kind": "websocket", "url": url}, "dev", [])
    assert result.status is Status.FAIL
    assert "no WebSocket upgrade: HTTP 401" in result.message
    assert "s3cret" not in result.message


def test_a_message_over_max_message_bytes_fails(feed_server: HostileServer, tmp_path: Path) -> None:
    """A tick is about 50 bytes: a 20-byte limit refuses the first one."""
    url = f"ws://127.0.0.1:{feed_server.port}/ws/ticks"
    check = {"name": "feed", "kind": "websocket", "url": url, "max_message_bytes": 20}
    result = run_one_check(tmp_path, check, "dev", [])
    assert result.status is Status.FAIL
    assert "a message larger than the 20-byte limit" in result.message


def prepare(folder: Path, **options: Any) -> list[Any]:
    suite = write_suite(folder, {"name": "feed", "kind": "websocket", **options})
    return registry.prepare(load_suite(str(suite)), load_profile("dev", []))


@pytest.mark.parametrize(
    ("options", "key", "reason"),
    [
        ({"url": "ftp://h/x"}, "url", "must be a ws, wss, http or https URL"),
        ({"url": "ws://h/x", "max_gap_ms": 0}, "max_gap_ms", "must be above 0"),
        ({"url": "ws://h/x", "min_messages": 0}, "min_messages", ">= 1"),
        (
            {"url": "ws://h/x", "expect_json": [{"field": "a", "op": "in", "value": 1}]},
            "expect_json[0].value",
            "'in' needs a list",
        ),
        ({"url": "ws://h/x", "max_gap_ms": "slo.nope"}, "max_gap_ms", "no key 'slo.nope'"),
        ({"url": "ws://h/x", "subscribe": "x"}, "subscribe", "unknown key"),
    ],
    ids=["scheme", "zero-gap", "zero-messages", "in-not-a-list", "unknown-profile-key", "unknown-key"],
)
def test_bad_options_are_configuration_errors(
    tmp_path: Path, options: dict[str, Any], key: str, reason: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        prepare(tmp_path, **options)
    assert key in (raised.value.key or "") and reason in str(raised.value), str(raised.value)


def test_urls_of_every_scheme_map_to_ws_or_wss(tmp_path: Path) -> None:
    checks = [
        check.check
        for url in ("ws://h:1/a", "wss://h/a", "http://h:1/a", "https://h/a")
        for check in prepare(tmp_path, url=url)
    ]
    assert [check.ws_url for check in checks] == ["ws://h:1/a", "wss://h/a", "ws://h:1/a", "wss://h/a"]
    assert checks[0].threshold == {"min_messages": 1}


def test_the_messages_judged_are_kept_with_the_run(shared_sim: Simulator, tmp_path: Path, spark: Any) -> None:
    """The evidence of a run holds the messages the verdict was made on, one JSON line each."""
    suite = write_suite(tmp_path, feed_check(min_messages=2))
    sets = [arg for assignment in shared_sim.profile_sets() for arg in ("--set", assignment)]
    evidence = tmp_path / "evidence"
    result = spark("gate", "--suite", str(suite), "--evidence-dir", str(evidence), *sets)
    assert result.exit_code == 0, result.stdout
    (kept,) = evidence.glob("runs/*/**/messages.jsonl")
    assert [json.loads(line)["type"] for line in kept.read_text().splitlines()] == ["tick", "tick"]


def test_a_refused_connection_is_retried_as_requests_are(tmp_path: Path) -> None:
    from faults.conftest import free_port_on

    url = f"ws://127.0.0.1:{free_port_on('127.0.0.1')}/ws/ticks"
    result = run_one_check(
        tmp_path, {"name": "feed", "kind": "websocket", "url": url, "retries": 2}, "dev", []
    )
    assert result.status is Status.FAIL and "cannot connect: connection refused" in result.message
    assert result.retries == 2

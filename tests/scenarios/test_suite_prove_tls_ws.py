"""`spark suite prove` on a suite holding tls and websocket checks: a tls check against a loopback TLS
server the test starts (trusted through SSL_CERT_FILE), a websocket check on the simulator's tick feed,
and one planted vacuous check of each kind, reported with the breakage that passed it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import write_suite
from faults.hostile import HostileServer
from tlscerts import certificate_authority, leaf, server_context, write_ca_file

FEED = {"kind": "websocket", "service": "marketdata", "path": "/ws/ticks", "timeout_s": 3.0}


@pytest.fixture
def tls_origin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A TLS server on 127.0.0.1 whose chain the run trusts through SSL_CERT_FILE."""
    root = certificate_authority("Spark Prove Scenario Root")
    monkeypatch.setenv("SSL_CERT_FILE", str(write_ca_file(tmp_path / "ca.pem", root)))
    server = HostileServer(
        "127.0.0.1", ssl_context=server_context(tmp_path / "certs", leaf("127.0.0.1", root))
    ).start()
    yield server.origin
    server.stop()


def test_tls_and_websocket_checks_are_proven_and_planted_ones_reported(
    spark: Any, tmp_path: Path, tls_origin: str
) -> None:
    write_suite(
        tmp_path,
        {"name": "tls.web", "kind": "tls", "url": tls_origin + "/"},
        {"name": "feed.ticks", **FEED, "max_gap_ms": 2000, "min_messages": 3,
         "expect_json": [{"field": "type", "value": "tick"}]},
        {"name": "tls.planted", "kind": "tls", "url": tls_origin + "/", "warn_days": 30, "fail_days": 0},
        {"name": "feed.planted", **FEED,
         "expect_json": [{"field": "type", "op": "!=", "value": "MAINTENANCE"}]},
    )  # fmt: skip
    result = spark("suite", "prove", "--suite", "suite.toml", "--format", "json")
    assert result.exit_code == 1, result.stdout + result.stderr
    checks = {check["name"]: check for check in json.loads(result.stdout)["checks"]}
    for name in ("tls.web", "feed.ticks"):
        assert checks[name]["verdict"] == "proven", checks[name]
        assert checks[name]["baseline"]["status"] == "PASS"
        assert all(b["status"] in ("FAIL", "ERROR", "INCONCLUSIVE") for b in checks[name]["breakages"])
    assert len(checks["tls.web"]["breakages"]) == 5
    assert len(checks["feed.ticks"]["breakages"]) >= 8

    tls_planted = [b for b in checks["tls.planted"]["breakages"] if b["let_through"]]
    assert checks["tls.planted"]["verdict"] == "vacuous"
    assert [(b["breakage"], b["status"]) for b in tls_planted] == [
        ("the certificate expires in 1 day", "WARN")
    ]
    assert "within warn_days 30" in tls_planted[0]["message"]

    feed_planted = [b for b in checks["feed.planted"]["breakages"] if b["let_through"]]
    assert checks["feed.planted"]["verdict"] == "vacuous"
    assert [b["breakage"] for b in feed_planted] == [
        "every message: type = 'DOWN' (another value of the same type)"
    ]
    assert "type != 'MAINTENANCE'" in feed_planted[0]["message"]

    text = spark("suite", "prove", "--suite", "suite.toml")
    assert text.exit_code == 1
    assert "VACUOUS      tls.planted" in text.stdout
    assert "let through: the certificate expires in 1 day -> WARN" in text.stdout
    assert "let through: every message: type = 'DOWN'" in text.stdout

"""The ``tls`` kind against real TLS servers on 127.0.0.1 presenting chains made in the test."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import run_one_check
from faults._matrix import Serve
from faults.hostile import HostileServer
from tlscerts import Issued, certificate_authority, leaf, self_signed, server_context, write_ca_file

from spark_ops import registry
from spark_ops.clock import FixedClock, using
from spark_ops.config import load_profile, load_suite
from spark_ops.errors import ConfigError
from spark_ops.model import CheckResult, Status

HOST = "127.0.0.1"
DATE = r"\d{4}-\d\d-\d\d \d\d:\d\d UTC"


@pytest.fixture(scope="module")
def root() -> Issued:
    """The private root the client is told to trust (SSL_CERT_FILE)."""
    return certificate_authority("Spark Test Root")


@pytest.fixture
def trust(root: Issued, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """SSL_CERT_FILE names the test root, as a profile's CA setting would; the check trusts nothing else."""
    ca_file = write_ca_file(tmp_path / "ca.pem", root)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    monkeypatch.chdir(tmp_path)
    return ca_file


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Any]:
    """``serve(served, *chain)`` starts a TLS server presenting that chain; all stop after the test."""
    started: list[HostileServer] = []

    def start(served: Issued, *chain: Issued) -> str:
        server = HostileServer(HOST, ssl_context=server_context(tmp_path / "certs", served, *chain)).start()
        started.append(server)
        return server.origin

    yield start
    for server in started:
        server.stop()


def judge_tls(folder: Path, origin: str, **options: Any) -> CheckResult:
    check = {"name": "tls.web", "kind": "tls", "url": origin + "/", "timeout_s": 5.0, **options}
    return run_one_check(folder, check, "dev", [])


def assert_names(message: str, *fragments: str) -> None:
    """The reason names the certificate: subject, issuer and expiry date."""
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    assert re.search(rf"expires {DATE}", message), message


def test_a_trusted_chain_far_from_expiry_passes(
    trust: Path, root: Issued, serve: Any, tmp_path: Path
) -> None:
    """Leaf (90 days) and intermediate (10 years) under the trusted root: PASS, days left as a reading."""
    intermediate = certificate_authority("Spark Test Intermediate", issuer=root)
    origin = serve(leaf(HOST, intermediate), intermediate)
    result = judge_tls(tmp_path, origin)
    assert result.status is Status.PASS, result.message
    assert 89 < result.judgement.readings["days_left"] <= 90
    assert result.judgement.readings["chain_length"] == 2
    assert result.judgement.threshold == {"warn_days": 30.0, "fail_days": 7.0}
    assert "trusted for 127.0.0.1" in result.message


@pytest.mark.parametrize(
    ("fail_days", "status", "within"),
    [(7, Status.FAIL, "within fail_days 7"), (2, Status.WARN, "within warn_days 30")],
    ids=["inside-fail-days", "inside-warn-days-only"],
)
def test_a_leaf_expiring_in_three_days(
    trust: Path, root: Issued, serve: Any, tmp_path: Path, fail_days: int, status: Status, within: str
) -> None:
    """A leaf expiring in 3 days FAILs under fail_days 7 and WARNs when only warn_days reaches it."""
    origin = serve(leaf(HOST, root, days=(-80, 3)))
    result = judge_tls(tmp_path, origin, fail_days=fail_days)
    assert result.status is status, result.message
    assert within in result.message
    assert_names(result.message, "leaf subject 'CN=127.0.0.1'", "issuer 'CN=Spark Test Root'")
    assert 2.9 < result.judgement.observed <= 3


def test_an_intermediate_expiring_first_is_named(
    trust: Path, root: Issued, serve: Any, tmp_path: Path
) -> None:
    """The leaf has 90 days, the intermediate 10: the chain WARNs on the intermediate, named as such."""
    intermediate = certificate_authority("Spark Short Intermediate", issuer=root, days=(-300, 10))
    origin = serve(leaf(HOST, intermediate), intermediate)
    result = judge_tls(tmp_path, origin)
    assert result.status is Status.WARN, result.message
    assert_names(
        result.message, "intermediate 1 subject 'CN=Spark Short Intermediate'", "issuer 'CN=Spark Test Root'"
    )
    assert 9.9 < result.judgement.readings["days_left"] <= 10


def test_an_expired_leaf_fails(trust: Path, root: Issued, serve: Any, tmp_path: Path) -> None:
    origin = serve(leaf(HOST, root, days=(-60, -1)))
    result = judge_tls(tmp_path, origin)
    assert result.status is Status.FAIL
    assert ": expired: leaf" in result.message
    assert -1.01 < result.judgement.observed <= -0.99  # expired a day ago: negative days left
    assert_names(result.message, "subject 'CN=127.0.0.1'", "issuer 'CN=Spark Test Root'")


def test_an_expired_intermediate_fails_even_with_a_fresh_leaf(
    trust: Path, root: Issued, serve: Any, tmp_path: Path
) -> None:
    intermediate = certificate_authority("Spark Old Intermediate", issuer=root, days=(-400, -2))
    origin = serve(leaf(HOST, intermediate), intermediate)
    result = judge_tls(tmp_path, origin)
    assert result.status is Status.FAIL
    assert ": expired: intermediate 1 subject 'CN=Spark Old Intermediate'" in result.message


def test_a_leaf_not_yet_valid_fails(trust: Path, root: Issued, serve: Any, tmp_path: Path) -> None:
    origin = serve(leaf(HOST, root, days=(2, 90)))
    result = judge_tls(tmp_path, origin)
    assert result.status is Status.FAIL
    assert re.search(rf"not yet valid \(from {DATE}\): leaf subject 'CN=127.0.0.1'", result.message)
    assert_names(result.message, "issuer 'CN=Spark Test Root'")


def test_a_certificate_for_another_host_fails(trust: Path, root: Issued, serve: Any, tmp_path: Path) -> None:
    origin = serve(leaf("spark-elsewhere.example", root))
    result = judge_tls(tmp_path, origin)
    assert result.status is Status.FAIL
    assert "for another host (IP address mismatch" in result.message
    assert_names(result.message, "leaf subject 'CN=spark-elsewhere.example'", "issuer 'CN=Spark Test Root'")


def test_a_self_signed_certificate_is_untrusted(trust: Path, serve: Any, tmp_path: Path) -> None:
    origin = serve(self_signed(HOST))
    result = judge_tls(tmp_path, origin)
    assert result.status is Status.FAIL
    assert "untrusted (self-signed certificate)" in result.message
    assert_names(result.message, "leaf subject 'CN=127.0.0.1'", "issuer 'CN=127.0.0.1'")


def test_the_ca_setting_decides_trust(
    root: Issued, serve: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same chain PASSes with its root in SSL_CERT_FILE and FAILs untrusted under another root."""
    monkeypatch.chdir(tmp_path)
    origin = serve(leaf(HOST, root))
    other = write_ca_file(tmp_path / "other.pem", certificate_authority("Someone Else's Root"))
    own = write_ca_file(tmp_path / "own.pem", root)
    monkeypatch.setenv("SSL_CERT_FILE", str(own))
    assert judge_tls(tmp_path, origin).status is Status.PASS
    monkeypatch.setenv("SSL_CERT_FILE", str(other))
    result = judge_tls(tmp_path, origin)
    assert result.status is Status.FAIL
    assert "untrusted (unable to get local issuer certificate)" in result.message


def test_the_days_left_follow_the_library_clock(
    trust: Path, root: Issued, serve: Any, tmp_path: Path
) -> None:
    """The clock seam: 85 days on, a 90-day leaf is inside fail_days (OpenSSL's own clock still trusts it)."""
    served = leaf(HOST, root)
    origin = serve(served)
    with using(FixedClock(served.cert.not_valid_after_utc - timedelta(days=5))):
        result = judge_tls(tmp_path, origin)
    assert result.status is Status.FAIL, result.message
    assert result.judgement.observed == pytest.approx(5, abs=0.001)


def test_a_plain_http_server_fails_the_handshake(trust: Path, tmp_path: Path) -> None:
    """A server answering the ClientHello with a plain HTTP 400 fails the handshake, at once."""
    server = HostileServer(HOST, serve=Serve(behaviour="plain-http")).start()
    try:
        result = judge_tls(tmp_path, f"https://{HOST}:{server.port}")
    finally:
        server.stop()
    assert result.status is Status.FAIL
    assert "handshake failed" in result.message


def test_a_refused_port_fails(trust: Path, tmp_path: Path) -> None:
    from faults.conftest import free_port_on

    result = judge_tls(tmp_path, f"https://{HOST}:{free_port_on(HOST)}")
    assert result.status is Status.FAIL
    assert "cannot connect: connection refused" in result.message


def prepare(tmp_path: Path, **options: Any) -> None:
    from conftest import write_suite

    suite = write_suite(tmp_path, {"name": "tls.web", "kind": "tls", **options})
    registry.prepare(load_suite(str(suite)), load_profile("dev", []))


@pytest.mark.parametrize(
    ("options", "key", "reason"),
    [
        ({"service": "web"}, "service", "needs an https URL"),
        ({"url": "http://127.0.0.1:1/"}, "url", "needs an https URL"),
        ({"url": "https://h/", "warn_days": 5, "fail_days": 10}, "fail_days", "above warn_days"),
        ({"url": "https://h/", "warn_days": -1}, "warn_days", ">= 0"),
        ({"url": "https://h/", "warn_days": "slo.nope"}, "warn_days", "no key 'slo.nope'"),
    ],
    ids=["http-service", "http-url", "fail-above-warn", "negative-days", "unknown-profile-key"],
)
def test_bad_options_are_configuration_errors(
    tmp_path: Path, options: dict[str, Any], key: str, reason: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        prepare(tmp_path, **options)
    assert raised.value.key == f"checks[0].{key}" and reason in str(raised.value), str(raised.value)


def test_thresholds_may_name_profile_keys(tmp_path: Path) -> None:
    suite_path = tmp_path / "p"
    suite_path.mkdir()
    from conftest import write_suite

    suite = write_suite(
        suite_path, {"name": "t", "kind": "tls", "url": "https://h/", "warn_days": "slo.staleness_s"}
    )
    (prepared,) = registry.prepare(load_suite(str(suite)), load_profile("dev", []))
    assert prepared.check.threshold == {"warn_days": 30.0, "fail_days": 7.0}  # dev: staleness_s = 30


def test_a_refused_connection_is_retried_as_requests_are(trust: Path, tmp_path: Path) -> None:
    from faults.conftest import free_port_on

    result = judge_tls(tmp_path, f"https://{HOST}:{free_port_on(HOST)}", retries=2)
    assert result.status is Status.FAIL
    assert result.retries == 2

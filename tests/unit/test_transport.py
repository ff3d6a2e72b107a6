"""The run's HTTP client: the verifying TLS context is made only when a run reaches an https URL."""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import subprocess
import sys

import httpx
import pytest
import trustme
from conftest import free_port
from pytest_httpserver import HTTPServer

from spark_ops import transport


@pytest.fixture
def tls_contexts_made(monkeypatch: pytest.MonkeyPatch) -> list[ssl.SSLContext]:
    """Every verifying TLS context the transport makes, in order (the CA bundle is loaded for each)."""
    made: list[ssl.SSLContext] = []
    real = transport._tls_context.__wrapped__

    def counting(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
        made.append(real(cert_file, cert_dir))
        return made[-1]

    monkeypatch.setattr(transport, "_tls_context", counting)
    return made


def test_an_http_only_run_never_loads_the_ca_bundle(httpserver, tls_contexts_made):
    """Requests to http:// URLs answer without any verifying TLS context being made (about 60 ms saved)."""
    httpserver.expect_request("/").respond_with_data("ok")

    async def go() -> list[int]:
        async with transport.make_client(2) as client:
            return [(await client.get(httpserver.url_for("/"))).status_code for _ in range(3)]

    assert asyncio.run(go()) == [200, 200, 200]
    assert tls_contexts_made == []


def test_the_first_https_request_makes_one_verifying_context_for_the_client(tls_contexts_made):
    """https:// URLs go through a verifying context made at the first one and kept for the next."""
    url = f"https://127.0.0.1:{free_port()}/"

    async def go() -> list[type[Exception]]:
        failures: list[type[Exception]] = []
        async with transport.make_client(2) as client:
            for _ in range(2):
                with pytest.raises(httpx.TransportError) as caught:
                    await client.get(url)
                failures.append(type(caught.value))
        return failures

    assert len(asyncio.run(go())) == 2
    assert len(tls_contexts_made) == 1
    assert tls_contexts_made[0].verify_mode is ssl.CERT_REQUIRED
    assert tls_contexts_made[0].check_hostname


# A fresh interpreter: what aiohttp's default contexts hold depends on who imported aiohttp first.
DEFAULT_CONTEXT_PROBE = """
import asyncio, json, ssl, sys
import spark_ops.transport  # imports aiohttp first in this interpreter
from aiohttp import ClientSession, connector

def cas() -> int:
    return connector._SSL_CONTEXT_VERIFIED.cert_store_stats()["x509_ca"]

async def get(url: str) -> str:
    async with ClientSession() as session:  # aiohttp's own verifying default context
        try:
            async with session.get(url) as response:
                return str(response.status)
        except Exception as exc:
            return repr(exc)

before = cas()
answers = [asyncio.run(get(url)) for url in sys.argv[1:]]
patched = "set_default_verify_paths" in vars(ssl.SSLContext)
print(json.dumps({"before": before, "answers": answers, "after": cas(), "patched": patched}))
"""


def test_aiohttps_default_contexts_read_the_ca_store_at_their_first_handshake(tmp_path):
    """Importing the transport does not read the CA store for aiohttp's default contexts (spark-ops never
    uses them); one that is used reads it before its first handshake, so it still trusts the system's
    CAs (SSL_CERT_FILE here) and still refuses a certificate no trusted CA signed."""
    trusted, stranger = trustme.CA(), trustme.CA()
    ca_file = tmp_path / "ca.pem"
    trusted.cert_pem.write_to_path(str(ca_file))
    servers = []
    for ca in (trusted, stranger):
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1").configure_cert(context)
        server = HTTPServer(host="127.0.0.1", port=free_port(), ssl_context=context)
        server.expect_request("/").respond_with_data("ok")
        server.start()
        servers.append(server)
    try:
        completed = subprocess.run(
            [sys.executable, "-c", DEFAULT_CONTEXT_PROBE, *(s.url_for("/") for s in servers)],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "SSL_CERT_FILE": str(ca_file)},
        )
    finally:
        for server in servers:
            server.stop()
    assert completed.returncode == 0, completed.stderr
    seen = json.loads(completed.stdout)
    assert seen["before"] == 0  # nothing read at import
    assert seen["answers"][0] == "200"  # the trusted CA was read before the first handshake
    assert "CERTIFICATE_VERIFY_FAILED" in seen["answers"][1]  # and verification still refuses a stranger
    assert seen["after"] == 1  # exactly the one CA of SSL_CERT_FILE
    assert seen["patched"] is False  # ssl.SSLContext is itself again once aiohttp is imported

"""The run's HTTP client: the verifying TLS context is made only when a run reaches an https URL."""

from __future__ import annotations

import asyncio
import ssl

import httpx
import pytest
from conftest import free_port

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

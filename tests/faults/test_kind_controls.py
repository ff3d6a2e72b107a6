"""The controls of the tls and websocket rows: each template PASSes a healthy answer, so a row's non-PASS
is the fault's doing, not the template's."""

from __future__ import annotations

from typing import Any

import pytest

from faults._matrix import Serve, check_for
from faults.conftest import Origins
from faults.test_matrix import aim, run_gate


@pytest.mark.parametrize(
    ("kind", "serve", "scheme"),
    [
        ("tls", Serve(origin="tls-good"), "https"),
        ("websocket", Serve("ws-feed"), "ws"),
        ("websocket", Serve("ws-feed", origin="tls-good"), "wss"),
    ],
    ids=["tls-trusted-chain", "ws-feed", "wss-feed"],
)
def test_the_template_passes_a_healthy_answer(
    kind: str, serve: Serve, scheme: str, origins: Origins, spark: Any, tmp_path: Any, monkeypatch: Any
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(origins.ca_file))
    base, _ = aim(origins, serve)
    entry = check_for(kind, base, {})
    result, document, _ = run_gate(spark, tmp_path, [entry], base)
    (check,) = document["checks"]
    assert check["status"] == "PASS", check
    assert check["message"].startswith(("TLS 127.0.0.1", f"{scheme}://127.0.0.1")), check["message"]
    assert result.exit_code == 0

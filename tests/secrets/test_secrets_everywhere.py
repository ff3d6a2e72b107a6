"""No secret leaves spark-ops in any form: six secrets, each planted in one place, through every command.

The signing key (encrypted with a planted passphrase) signs the gate and canary runs and the archive: its
file's lines, the raw key and the passphrase are searched for the same way.

Each secret is a fresh random string, so a hit names where it came from. A fake platform on a real
loopback socket echoes back everything secret it was sent (the way a chatty error message or a debug
endpoint does); gate, canary, monitor (with a Pushgateway), report and evidence export then run against it,
and stdout, stderr, every file they wrote and every member of every archive (decompressed) are searched
for each secret raw, URL-encoded and base64 (standard and URL-safe, at all three alignments).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import secrets
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from conftest import drop_secret_env, free_port, write_stack_profile, write_suite
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from spark_ops.redact import MASK

ENV_NAME = "SPARK_API_TOKEN"
URL_USER = "ops"
PUSH_USER = "pusher"
HEALTH = {"status": "UP", "slo": {"latencyP95": 14, "errorRate": 0.0, "staleness": 0}}


def _random(label: str, *, url_safe: bool = False) -> str:
    """A unique secret; unless it must sit in a URL, it holds '/', '+' and '=' so its encodings differ."""
    core = secrets.token_urlsafe(18)
    return f"{label}{core}" if url_safe else f"{label}{core[:12]}/+={core[12:]}"


@dataclass(frozen=True)
class Planted:
    """The secrets of one test, by where they were planted."""

    header: str  # Authorization: Bearer <header> on web
    userinfo: str  # http://ops:<userinfo>@... for executor-1
    query: str  # ?token=<query> in a check's URL
    cookie: str  # Cookie: theme=dark; session=<cookie> on web
    environment: str  # $SPARK_API_TOKEN, echoed back by the platform
    body: str  # "password" of the http check's JSON request body
    push: str  # http://pusher:<push>@... the Pushgateway
    passphrase: str  # $SPARK_SIGNING_KEY_PASSPHRASE, which encrypts the signing key

    def by_source(self) -> dict[str, str]:
        return dict(self.__dict__)


def needles(value: str | bytes) -> dict[bytes, str]:
    """Every byte string that betrays ``value``: raw, URL-encoded, base64 (std, URL-safe) at any offset.

    Worked out here, independently of ``redact.secret_needles``: a base64 character depends only on the
    secret when it comes out the same whatever bytes surround the secret.
    """
    raw = value.encode() if isinstance(value, str) else value
    found = {raw: "raw", quote(value, safe="").encode(): "URL-encoded", quote_plus(value).encode(): "form"}
    for offset in range(3):
        low = base64.b64encode(b"\x00" * offset + raw + b"\x00" * 3)
        high = base64.b64encode(b"\xff" * offset + raw + b"\xff" * 3)
        same = [i for i in range(len(low)) if low[i] == high[i]]
        core = low[same[0] : same[-1] + 1]
        found[core] = f"base64 at offset {offset}"
        found[core.replace(b"+", b"-").replace(b"/", b"_")] = f"base64url at offset {offset}"
    return found


def leaks(planted: Mapping[str, str | bytes], where: str, data: bytes) -> list[str]:
    """``where holds <source> (<form>)`` for each planted secret ``data`` betrays."""
    return [
        f"{where} holds the {source} secret ({form})"
        for source, value in planted.items()
        for needle, form in needles(value).items()
        if needle in data
    ]


def signing_key_forms(path: Path, passphrase: str) -> dict[str, str | bytes]:
    """What would betray the signing key: its file's lines, the raw key (bytes, hex), its plain PKCS#8 DER."""
    from cryptography.hazmat.primitives import serialization

    pem = path.read_bytes()
    key = serialization.load_pem_private_key(pem, passphrase.encode())
    nothing = serialization.NoEncryption()
    raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, nothing)
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, nothing)
    lines = [line for line in pem.decode().splitlines() if not line.startswith("-----")]
    assert lines and len(raw) == 32
    return {
        **{f"signing key file line {n}": line for n, line in enumerate(lines, 1)},
        "signing key (raw)": raw,
        "signing key (hex)": raw.hex(),
        "signing key (PKCS#8 DER)": der,
    }


class EchoingPlatform:
    """A Spark platform that answers health, pages and metrics, and echoes back every secret it was sent."""

    def __init__(self, server: HTTPServer, planted: Planted) -> None:
        self.server = server
        self.planted = planted
        self.pushes: list[bytes] = []
        self.seen: list[str] = []  # every request's headers, URL and body, to prove the secrets were sent
        server.expect_request(re.compile(".*")).respond_with_handler(self.handle)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    def handle(self, request: Request) -> Response:
        body = request.get_data()
        self.seen.append(f"{request.url} {dict(request.headers)} {body.decode(errors='replace')}")
        if request.path.startswith("/metrics/job/"):  # the Pushgateway: refuses, quoting the credentials
            self.pushes.append(body)
            return Response(f"bad credentials {request.headers.get('Authorization')}", status=401)
        if request.path == "/api/healthz":
            return Response(json.dumps(HEALTH), content_type="application/json")
        if request.path == "/metrics":
            exposition = (
                "# TYPE build_info gauge\n"
                f'build_info{{token="{self.planted.environment}"}} 1\n'
                "# TYPE process_resident_memory_bytes gauge\n"
                "process_resident_memory_bytes 5.4e+07\n"
            )
            return Response(exposition, content_type="text/plain; version=0.0.4")
        if request.path == "/api/echo":  # a debug endpoint that tells all
            authorization = request.headers.get("Authorization", "")
            cookies = dict(request.cookies)
            document = {
                "status": "DENIED",
                "error": (
                    f"credential {authorization.partition(' ')[2]} refused; "
                    f"session {cookies.get('session')}; token {request.args.get('token')}; "
                    f"env {os.environ.get(ENV_NAME)}; body {body.decode()}"
                ),
                "headers": dict(request.headers),
                "cookies": cookies,
                "url": request.url,
                "request": json.loads(body) if body else None,
            }
            return Response(json.dumps(document), status=200, content_type="application/json")
        return Response("<html>Spark</html>", content_type="text/html")


@pytest.fixture(autouse=True)
def only_planted_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """The machine's own secret-named variables stay out; only the planted one is set."""
    drop_secret_env(monkeypatch)


@pytest.fixture
def planted(monkeypatch: pytest.MonkeyPatch) -> Planted:
    in_urls = ("userinfo", "query", "push")
    values = Planted(
        **{name: _random(name[:3], url_safe=name in in_urls) for name in Planted.__dataclass_fields__}
    )
    monkeypatch.setenv(ENV_NAME, values.environment)
    monkeypatch.setenv("SPARK_SIGNING_KEY_PASSPHRASE", values.passphrase)
    return values


@pytest.fixture
def echoing(httpserver: HTTPServer, planted: Planted) -> Iterator[EchoingPlatform]:
    """The echoing platform; werkzeug's request log (which quotes the query token) is kept quiet."""
    logger = logging.getLogger("werkzeug")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield EchoingPlatform(httpserver, planted)
    finally:
        logger.setLevel(level)


def write_profile_and_suite(folder: Path, platform: EchoingPlatform) -> tuple[str, str]:
    """profiles/leaky.toml (header, cookie, userinfo) and suite.toml (query token, JSON body)."""
    planted = platform.planted
    profile = write_stack_profile(
        folder,
        "leaky",
        platform.url,
        description="a stack full of credentials",
        web_headers=(
            f'{{ Authorization = "Bearer {planted.header}",'
            f' Cookie = "theme=dark; session={planted.cookie}" }}'
        ),
        executor_1_url=f"http://{URL_USER}:{planted.userinfo}@127.0.0.1:{platform.server.port}",
    )
    echo = {"kind": "http", "path": "/api/echo", "expect_json": [{"field": "status", "value": "UP"}]}
    suite = write_suite(
        folder,
        {
            "name": "echo.web",
            **echo,
            "service": "web",
            "method": "POST",
            "body": json.dumps({"user": URL_USER, "password": planted.body}),
        },
        {"name": "echo.executor", **echo, "service": "executor-1"},
        {
            "name": "echo.query",
            "kind": "http",
            "url": f"{platform.url}/api/echo?token={planted.query}",
            "expect_json": [{"field": "status", "value": "UP"}],
        },
        {
            "name": "health.latency",
            "kind": "slo",
            "service": "web",
            "path": "/api/healthz",
            "field": "slo.latencyP95",
            "max": "slo.latency_p95_ms",
        },
        {"name": "metrics.executor", "kind": "metrics", "service": "executor-1", "min_bytes": 10},
        {
            "name": "load.web",
            "kind": "latency",
            "service": "web",
            "path": "/api/echo",
            "count": 10,
            "rate_rps": 100,
            "min_samples": 5,
        },
    )
    return profile, str(suite)


def archive_members(path: Path) -> Mapping[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def test_no_planted_secret_reaches_any_output_file_or_archive(spark, echoing, tmp_path):
    """Six secrets planted in six places never show, raw or encoded, in any output, evidence or archive."""
    planted = echoing.planted
    profile, suite = write_profile_and_suite(tmp_path, echoing)
    common = ["--profile", profile, "--suite", suite]
    generated = spark("keys", "generate", "--out", "keys")
    assert generated.exit_code == 0, generated.stderr
    key = tmp_path / "keys" / "spark-signing.key"
    assert key.read_text().startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    sign = ["--sign-key", str(key)]
    outputs: dict[str, Any] = {
        "keys generate": generated,
        "gate (json)": spark("gate", *common, *sign, "--format", "json", "--report-junit", "gate.xml"),
        "gate (table)": spark("gate", *common, "--exit-on-fail", "--report-json", "gate.json"),
        "canary (markdown)": spark(
            "canary", "--mode", "real", "--auto-ok", *common, *sign, "--format", "markdown"
        ),
        "monitor": spark(
            "monitor",
            *common,
            "--iterations",
            "2",
            "--interval",
            "0.05",
            "--listen",
            f"127.0.0.1:{free_port()}",
            "--pushgateway",
            f"http://{PUSH_USER}:{planted.push}@127.0.0.1:{echoing.server.port}",
        ),
        "report (markdown)": spark("report", "--since", "1h"),
        "report (json)": spark("report", "--since", "1h", "--format", "json"),
        "export": spark("evidence", "export", "--all", *sign),
        "evidence list": spark("evidence", "list", "--format", "json"),
    }
    archive = tmp_path / outputs["export"].stdout.strip()
    outputs["verify"] = spark("evidence", "verify", str(archive), "--key", str(key.with_suffix(".pub")))
    # The secrets really were in play: sent by spark-ops and echoed back.
    sent = "\n".join(echoing.seen)
    basic = base64.b64encode(f"{URL_USER}:{planted.userinfo}".encode()).decode()
    for expected in (
        f"Bearer {planted.header}",
        f"session={planted.cookie}",
        f"token={planted.query}",
        planted.body,
        f"Basic {basic}",
    ):
        assert expected in sent, expected
    assert echoing.pushes, "the monitor never pushed"
    for name in ("gate (json)", "report (markdown)", "export", "verify"):
        assert outputs[name].exit_code == 0, outputs[name].stdout + outputs[name].stderr
    assert outputs["gate (table)"].exit_code in (0, 1)
    assert outputs["canary (markdown)"].exit_code in (0, 1), outputs["canary (markdown)"].stderr
    assert outputs["monitor"].exit_code == 0, outputs["monitor"].stderr
    runs = json.loads(outputs["gate (json)"].stdout)
    assert {check["name"] for check in runs["checks"]} >= {"echo.web", "echo.executor", "echo.query"}

    secrets: dict[str, str | bytes] = {**planted.by_source(), **signing_key_forms(key, planted.passphrase)}
    found: list[str] = []
    for name, result in outputs.items():
        found += leaks(secrets, f"{name} stdout", result.stdout.encode())
        found += leaks(secrets, f"{name} stderr", result.stderr.encode())
    for number, pushed in enumerate(echoing.pushes):  # what the monitor sent the Pushgateway is output too
        found += leaks(secrets, f"monitor push {number}", pushed)
    written = [
        p
        for p in tmp_path.rglob("*")
        if p.is_file() and p.parent.name not in ("profiles", "keys") and p.name != "suite.toml"
    ]
    # The runs were signed: their attestations and suite.json (the masked suite) are searched too.
    assert len([p for p in written if p.name == "attestation.dsse.json"]) == 2
    archives = [p for p in written if p.suffix == ".zip"]
    assert archives, "the export wrote no archive"
    echoed = [p for p in written if p.name == "body.json" and p.parent.name == "echo.web"]
    assert echoed, "no echoed body was kept as evidence"
    # The echo reached the evidence and was masked there, not dropped: the zero hits below mean redaction.
    assert all(MASK.encode() in p.read_bytes() for p in echoed)
    for path in written:
        found += leaks(
            secrets, str(path.relative_to(tmp_path)), path.name.encode() + b"\n" + path.read_bytes()
        )
    for archive in archives:
        for member, data in archive_members(archive).items():
            found += leaks(secrets, f"{archive.name}:{member}", member.encode() + b"\n" + data)
    assert not found, "\n".join(found)

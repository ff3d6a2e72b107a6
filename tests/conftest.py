"""Shared fixtures: a fake Spark platform on a real loopback socket, and a way to run the CLI."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import re
import shutil
import socket
import stat
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import pytest
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner
from werkzeug import Request, Response

from spark_ops import clock, registry
from spark_ops.cli import app
from spark_ops.clock import FixedClock
from spark_ops.config import CheckSpec, load_profile, load_suite
from spark_ops.model import CheckResult, Judgement, Risk, RiskLevel, RunResult, Severity, Status
from spark_ops.redact import SECRET_NAME
from spark_ops.runner import run_checks
from spark_ops.sim import Simulator
from spark_ops.transport import make_client

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent  # the checkout: README.md, examples/, .github/
DATA = TESTS / "data"  # recorded answers (pm2/) and promtool's alert tests (promtool/)
PM2_DATA = DATA / "pm2"  # `pm2 jlist` answers recorded from real PM2
PAGES = ("/", "/dashboard", "/portfolio", "/strategies", "/settings")
EXPOSITION = (
    "# HELP http_requests_total Requests served.\n"
    "# TYPE http_requests_total counter\n"
    'http_requests_total{code="200"} 1027\n'
    'http_requests_total{code="500"} 3\n'
    "# HELP process_resident_memory_bytes Resident memory.\n"
    "# TYPE process_resident_memory_bytes gauge\n"
    "process_resident_memory_bytes 5.4e+07\n"
)
# The shipped gate suite's checks, in suite order.
GATE_CHECKS = (
    "ui.up",
    "executor.up",
    "healthz.status",
    "healthz.slo.latencyP95",
    "healthz.slo.errorRate",
    "healthz.slo.staleness",
)
# The top-level keys of a result document (``-f json`` and the evidence store's result.json).
RESULT_KEYS = frozenset(
    {
        "schema",
        "command",
        "profile",
        "suite",
        "started_at",
        "duration_ms",
        "risk",
        "summary",
        "checks",
        "exit_code",
        # Added within v1 (an older reader ignores them): the options the exit code was reduced from, and
        # the analysis window (null for a single shot).
        "fail_on",
        "enforce",
        "window",
    }
)


FROZEN_AT = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


@pytest.fixture
def frozen_clock() -> Iterator[FixedClock]:
    """The library's clock stood still at FROZEN_AT (set ``.at`` or ``.advance()`` to move it)."""
    fixed = FixedClock(FROZEN_AT)
    with clock.using(fixed):
        yield fixed


@pytest.fixture
def sim() -> Iterator[Simulator]:
    """The simulated platform on free loopback ports, healthy until a test applies a fault; stopped after."""
    with Simulator(ports="auto") as simulator:
        yield simulator


@pytest.fixture(scope="module")
def shared_sim() -> Iterator[Simulator]:
    """``sim``, one for the module: for tests that share a costly peer (a real Prometheus scraping it)."""
    with Simulator(ports="auto") as simulator:
        yield simulator


@pytest.fixture(scope="session")
def httpserver_listen_address() -> tuple[str, int]:
    """pytest-httpserver binds to loopback only, on a free port."""
    return ("127.0.0.1", 0)


def free_port() -> int:
    """A loopback port nothing listens on (for 'service down')."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def drop_secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unset the machine's secret-named variables (and SPARK_EVIDENCE_DIR) for this test."""
    for name in list(os.environ):
        if SECRET_NAME.search(name) and name not in ("PWD", "OLDPWD"):
            monkeypatch.delenv(name)
    monkeypatch.delenv("SPARK_EVIDENCE_DIR", raising=False)


# Set by .ci/run: there a test that needs a real peer (promtool, prometheus, pm2, the Pushgateway) fails
# instead of skipping when the peer is missing. Not CI=true: GitHub sets that on every runner, and the
# macOS and Windows runners have no Debian packages to install these peers from.
REQUIRE_TOOLS = "SPARK_REQUIRE_TOOLS"


def missing_tool(reason: str) -> NoReturn:
    """Skip the test for ``reason``, or fail it where SPARK_REQUIRE_TOOLS=1 (CI must run it)."""
    if os.environ.get(REQUIRE_TOOLS) == "1":
        pytest.fail(f"{reason}; CI must run the tests that need it", pytrace=False)
    pytest.skip(reason)


def require_tool(name: str, install: str) -> str:
    """The ``name`` executable on PATH. Without one the test skips, but fails when SPARK_REQUIRE_TOOLS=1
    (as .ci/run sets it): CI must run every test that needs it."""
    found = shutil.which(name)
    if found is None:
        missing_tool(f"{name} is missing ({install})")
    return found


def promtool() -> str:
    """The promtool binary (see ``require_tool``)."""
    return require_tool("promtool", "apt-get install -y prometheus")


def write_stack_profile(
    folder: Path, name: str, url: str, *, description: str, web_headers: str, executor_1_url: str
) -> str:
    """profiles/<name>.toml extending base: every service at ``url`` except executor-1 at
    ``executor_1_url``, and web sending ``web_headers`` (a TOML inline table). Returns ``name``."""
    (folder / "profiles").mkdir(exist_ok=True)
    (folder / "profiles" / f"{name}.toml").write_text(
        f"""
description = "{description}"
extends = "base"
[services.web]
url = "{url}"
headers = {web_headers}
[services.executor-1]
url = "{executor_1_url}"
[services.executor-2]
url = "{url}"
[services.marketdata]
url = "{url}"
""",
        encoding="utf-8",
    )
    return name


def check_result(
    name: str,
    kind: str,
    severity: Severity,
    status: Status,
    message: str,
    *,
    duration_ms: int = 0,
    retries: int = 0,
    **judged: Any,
) -> CheckResult:
    """A result as the runner records it, from the fields a report shows (``judged``: observed, threshold,
    readings, artifacts)."""
    judgement = Judgement(status, message, **judged)
    return CheckResult(spec_of(name, kind, severity), judgement, duration_ms=duration_ms, retries=retries)


def spec_of(name: str, kind: str, severity: Severity = Severity.MAJOR, **options: Any) -> CheckSpec:
    """A suite entry as the suite loader parses it."""
    return CheckSpec(name=name, kind=kind, severity=severity, options=options)


def gate_run(results: Sequence[CheckResult], score: float) -> RunResult:
    """A failing gate run on the dev profile holding ``results``, as the reporters receive it."""
    return RunResult(
        command="gate",
        profile="dev",
        suite="gate",
        started_at="2026-11-21T12:00:00Z",
        duration_ms=84,
        results=list(results),
        risk=Risk(RiskLevel.HIGH, score, "Do not deploy: major checks are failing"),
        fail_on=RiskLevel.HIGH,
        enforce=True,
    )


FRESH = "(now)"  # FakePlatform.health's timestamp: replaced by the current time on every answer


@dataclass
class FakePlatform:
    """SPEC's endpoints served from one loopback server; tests change ``health``, ``page_status`` etc."""

    server: HTTPServer
    health: dict[str, Any] = field(
        default_factory=lambda: {
            "status": "UP",
            "slo": {"latencyP95": 14, "errorRate": 0.0, "staleness": 0},
            "timestamp": FRESH,
        }
    )
    health_body: bytes | None = None  # raw override, e.g. b"NaN" or HTML
    served_health: bytes | None = None  # the last health answer served, as sent
    page_status: dict[str, int] = field(default_factory=dict)
    metrics_body: str = EXPOSITION

    @property
    def url(self) -> str:
        return self.server.url_for("").rstrip("/")

    def sets(self, **overrides: str) -> list[str]:
        """``--set`` options pointing every service of the profile at this server."""
        urls = {"web": self.url, "executor-1": self.url, "executor-2": self.url, "marketdata": self.url}
        urls.update({k.replace("_", "-"): v for k, v in overrides.items()})
        args: list[str] = []
        for service, url in urls.items():
            args += ["--set", f"services.{service}.url={url}"]
        return args

    def document(self) -> dict[str, Any]:
        """``health`` as it is served now: a FRESH timestamp becomes the current time of the run's clock."""
        health = dict(self.health)
        if health.get("timestamp") == FRESH:
            health["timestamp"] = clock.iso_now()
        return health

    def _handle(self, request: Request) -> Response:
        path = request.path
        if path == "/api/healthz":
            body = self.health_body if self.health_body is not None else json.dumps(self.document()).encode()
            self.served_health = body
            return Response(body, status=self.page_status.get(path, 200), content_type="application/json")
        if path == "/metrics":
            return Response(
                self.metrics_body,
                status=self.page_status.get(path, 200),
                content_type="text/plain; version=0.0.4",
            )
        if path == "/healthz":
            return Response(
                '{"ok":true}', status=self.page_status.get(path, 200), content_type="application/json"
            )
        if path in PAGES:
            return Response(
                "<html><body>Spark</body></html>",
                status=self.page_status.get(path, 200),
                content_type="text/html",
            )
        return Response("not found", status=404)


@pytest.fixture
def platform(httpserver: HTTPServer) -> Iterator[FakePlatform]:
    """A healthy fake Spark platform; mutate it to make it sick."""
    fake = FakePlatform(httpserver)
    # Every path goes through one handler so state changes apply at once.
    httpserver.expect_request(re.compile(".*")).respond_with_handler(fake._handle)
    yield fake


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def spark(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run ``spark ARGS`` in-process from an empty working directory; returns exit code, stdout, stderr."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.delenv("SPARK_EXIT_ON_FAIL", raising=False)
    runner = CliRunner()

    def invoke(*args: str, env: dict[str, str] | None = None) -> CliResult:
        result = runner.invoke(app, list(args), env=env, catch_exceptions=False)
        return CliResult(result.exit_code, result.stdout, result.stderr)

    return invoke


def assert_config_error(result: Any, *fragments: str) -> str:
    """Exit 2, exactly one 'spark: error:' line on stderr naming every fragment, and no traceback."""
    assert result.exit_code == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("spark: error:"), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    assert "Traceback" not in result.stdout + result.stderr
    return lines[0]


def show_profile(spark: Any, *args: str) -> dict[str, Any]:
    """``spark profiles show ARGS`` as JSON (it must succeed)."""
    result = spark("profiles", "show", *args)
    assert result.exit_code == 0, result.stdout + result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


# --- one check through the runner -----------------------------------------------------------------


def toml_value(value: Any) -> str:
    """``value`` written as a TOML value (inline tables and arrays included)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{key} = {toml_value(item)}" for key, item in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    return repr(value)


def write_suite(folder: Path, *checks: dict[str, Any]) -> Path:
    """``folder/suite.toml`` holding ``checks`` (given as suite keys) as ``[[checks]]`` tables."""
    lines: list[str] = []
    for check in checks:
        lines.append("[[checks]]")
        lines += [f"{key} = {toml_value(value)}" for key, value in check.items()]
    path = folder / "suite.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run_one_check(
    folder: Path, check: dict[str, Any], profile: str, sets: Sequence[str], connections: int = 8
) -> CheckResult:
    """Run ``check`` alone under ``profile`` with ``--set`` values ``sets``, as the pipeline does."""
    loaded = load_profile(profile, list(sets))
    prepared = registry.prepare(load_suite(str(write_suite(folder, check))), loaded)

    async def go() -> list[CheckResult]:
        async with make_client(connections) as client:
            return await run_checks(
                prepared, client=client, concurrency=8, max_body_bytes=1 << 20, backoff=False
            )

    (result,) = asyncio.run(go())
    return result


@pytest.fixture
def judge_check(
    tmp_path: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., CheckResult]:
    """Run one check (given as suite keys) with ``service`` pointing at ``httpserver``; return its result.

    Call it as ``judge_check(check, service=..., profile="dev", sets=(...))``; ``sets`` are extra ``--set``
    values. Test modules bind ``service`` in a ``judge`` fixture of their own.
    """
    monkeypatch.chdir(tmp_path)

    def run(
        check: dict[str, Any], *, service: str, profile: str = "dev", sets: Sequence[str] = ()
    ) -> CheckResult:
        url = httpserver.url_for("").rstrip("/")
        return run_one_check(tmp_path, check, profile, [f"services.{service}.url={url}", *sets])

    return run


def gone_or_zombie(pid: int) -> bool:
    """True when ``pid`` no longer runs (a zombie left to an init that does not reap counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
        return handle.read().rsplit(")", 1)[1].split()[0] == "Z"


@pytest.fixture
def fake_pm2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Path]:
    """``fake_pm2(shell_body)`` puts an executable ``pm2`` running ``shell_body`` first on PATH."""
    if os.name != "posix":
        pytest.skip("the fake pm2 is a /bin/sh script")
    folder = tmp_path / "fake-bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")

    def install(body: str) -> Path:
        script = folder / "pm2"
        script.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
        script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        return script

    return install


# --- evidence on disk: run folders, result documents and archives (evidence and report tests) -------

RISK_SCORES = {"LOW": 100.0, "MEDIUM": 90.0, "HIGH": 70.0, "CRITICAL": 40.0}


def stamp_of(moment: datetime) -> str:
    """The UTC ``YYYYMMDD_HHMMSS`` stamp run folders, reports and archives are named with."""
    return moment.astimezone(UTC).strftime("%Y%m%d_%H%M%S")


def check_doc(name: str, status: str = "PASS", severity: str = "major", message: str = "") -> dict[str, Any]:
    """One entry of a result document's ``checks``."""
    return {
        "name": name,
        "kind": "http",
        "status": status,
        "severity": severity,
        "observed": None,
        "threshold": None,
        "message": message or f"{name} {status}",
        "duration_ms": 3,
    }


def result_doc(
    command: str,
    level: str = "LOW",
    checks: Sequence[Mapping[str, Any]] = (),
    *,
    profile: str = "dev",
    score: float | None = None,
) -> dict[str, Any]:
    """A result document as SPEC's Result JSON describes it."""
    checks = list(checks) or [check_doc(f"{command}.ok")]
    statuses = [check["status"] for check in checks]
    return {
        "schema": "spark-ops/result/v1",
        "command": command,
        "profile": profile,
        "suite": command,
        "started_at": "2026-01-01T00:00:00Z",
        "duration_ms": 50,
        "risk": {
            "level": level,
            "score": RISK_SCORES[level] if score is None else score,
            "recommendation": "-",
        },
        "summary": {
            "total": len(checks),
            "passed": statuses.count("PASS"),
            "warned": statuses.count("WARN"),
            "failed": statuses.count("FAIL"),
            "errors": statuses.count("ERROR"),
            "inconclusive": statuses.count("INCONCLUSIVE"),
            "skipped": statuses.count("SKIP"),
        },
        "checks": checks,
        "exit_code": 0,
    }


def write_run(
    base: Path,
    moment: datetime,
    command: str = "gate",
    document: Mapping[str, Any] | bytes | None = None,
    *,
    level: str = "LOW",
    suffix: str = "",
) -> Path:
    """A kept run folder ``base/runs/<stamp>_<command><suffix>/`` holding result.json and run.log.

    ``document`` is the result.json to write (bytes are written as they are); by default a LOW run.
    """
    folder = base / "runs" / f"{stamp_of(moment)}_{command}{suffix}"
    folder.mkdir(parents=True)
    if document is None:
        document = result_doc(command, level)
    body = document if isinstance(document, bytes) else json.dumps(document, indent=2).encode()
    (folder / "result.json").write_bytes(body)
    (folder / "run.log").write_text(f"{command} run kept for the tests\n", encoding="utf-8")
    return folder


def archive_members(path: Path) -> dict[str, bytes]:
    """Every member of the zip at ``path``, by name."""
    with zipfile.ZipFile(path) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def manifest_of(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(archive_members(path)["manifest.json"])
    return document


def exported_path(result: Any, cwd: Path) -> Path:
    """The archive path ``spark evidence export`` printed on stdout (its only line)."""
    assert result.exit_code == 0, result.stdout + result.stderr
    (line,) = result.stdout.strip().splitlines()
    path = Path(line)
    return path if path.is_absolute() else cwd / path


# --- signing (issue 15): the independent verifier the signature tests run ------------------------------


def openssl3() -> str:
    """Debian's OpenSSL 3 binary (``pkeyutl -rawin`` signs and verifies Ed25519; LibreSSL, macOS's
    ``openssl``, cannot): skipped without it, failed where SPARK_REQUIRE_TOOLS=1 (see ``require_tool``)."""
    import subprocess

    binary = require_tool("openssl", "apt-get install -y openssl")
    version = subprocess.run([binary, "version"], capture_output=True, text=True, timeout=30, check=False)
    if not version.stdout.startswith("OpenSSL 3"):
        missing_tool(f"OpenSSL 3 is missing ({binary} is {version.stdout.strip() or 'unknown'})")
    return binary


# --- issue 16: every document a test makes matches its published schema in docs/schemas ---------------
# Wraps, for the whole session, the functions that build the documents spark-ops publishes a schema for:
# result_json.encode (the JSON report, --report-json, the evidence's result.json and the export's run
# summaries), evidence.diff.as_json (`spark evidence diff --format json`) and prove.render.encode (`spark
# suite prove --format json`). A test that made a document its schema refuses fails at its teardown,
# naming the document's errors.
SCHEMAS = ROOT / "docs" / "schemas"
RESULT_SCHEMA_FILE = SCHEMAS / "result.schema.json"
_CHECKED_BUILDERS = (
    ("spark_ops.result_json", "encode", "result.schema.json"),
    ("spark_ops.evidence.diff", "as_json", "diff.schema.json"),
    ("spark_ops.prove.render", "encode", "proof.schema.json"),
)
_mismatched_documents: list[str] = []


def schema_validator(name: str) -> Any:
    """A validator for ``docs/schemas/<name>``; references to the other schema files resolve to them."""
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    resources = [
        (path.name, Resource.from_contents(json.loads(path.read_text(encoding="utf-8"))))
        for path in SCHEMAS.glob("*.schema.json")
    ]
    schema = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, registry=Registry().with_resources(resources))


def schema_errors(name: str, document: Any) -> list[str]:
    """Where ``document`` (as JSON text would read back) breaks ``docs/schemas/<name>``."""
    validator = _cached_validator(name, (SCHEMAS / name).stat().st_mtime_ns)
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '(document)'}: {error.message}"
        for error in validator.iter_errors(document)
    ]


def result_schema_errors(document: Any) -> list[str]:
    """Where ``document`` breaks the published result schema."""
    return schema_errors(RESULT_SCHEMA_FILE.name, document)


@functools.lru_cache(maxsize=8)
def _cached_validator(name: str, modified_ns: int) -> Any:
    """A schema's validator, built once per version of the file (a test may edit a copy, not this)."""
    return schema_validator(name)


@pytest.fixture(scope="session", autouse=True)
def _documents_are_checked_against_their_schemas() -> Iterator[None]:
    import importlib

    def checked(build: Callable[..., dict[str, Any]], schema: str) -> Callable[..., dict[str, Any]]:
        def build_and_check(*args: Any, **kwargs: Any) -> dict[str, Any]:
            document = build(*args, **kwargs)
            errors = schema_errors(schema, json.loads(json.dumps(document)))
            if errors:
                _mismatched_documents.append(f"{schema} ({build.__qualname__}): " + "; ".join(errors[:5]))
            return document

        return build_and_check

    with pytest.MonkeyPatch.context() as patch:
        for module_name, attribute, schema in _CHECKED_BUILDERS:
            module = importlib.import_module(module_name)
            patch.setattr(module, attribute, checked(getattr(module, attribute), schema))
        yield


@pytest.fixture(autouse=True)
def _no_document_broke_its_schema() -> Iterator[None]:
    yield
    mismatched = list(_mismatched_documents)
    _mismatched_documents.clear()
    if mismatched:
        pytest.fail("documents that break their schema in docs/schemas: " + " | ".join(mismatched))

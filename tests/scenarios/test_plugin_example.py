"""examples/plugin: a third-party ``tcp`` kind written against ``spark_ops.api`` alone.

Its judgement and options are tested in-process (the package imported from the checkout); the slow tests
pip-install spark-ops and the plug-in into a fresh virtual environment, as a user would, and run them
through ``spark checks list`` and ``spark gate``.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import socket
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import spec_of

from spark_ops.config import load_profile
from spark_ops.errors import ConfigError, TargetError
from spark_ops.model import CheckResult, Status
from spark_ops.registry import PreparedCheck
from spark_ops.runner import run_checks
from spark_ops.transport import make_client


def _repo_root() -> Path:
    """The source checkout these tests belong to (the tests run against an installed spark-ops)."""
    for folder in Path(__file__).resolve().parents:
        if (folder / "pyproject.toml").is_file() and (folder / "examples" / "plugin").is_dir():
            return folder
    raise RuntimeError(f"no spark-ops checkout with examples/plugin above {__file__}")


REPO_ROOT = _repo_root()
PLUGIN_DIR = REPO_ROOT / "examples" / "plugin"


@pytest.fixture
def spark_tcp(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """The example plug-in's module, imported from the checkout."""
    monkeypatch.syspath_prepend(str(PLUGIN_DIR))
    monkeypatch.delitem(sys.modules, "spark_tcp", raising=False)
    import spark_tcp

    return spark_tcp


@pytest.fixture
def listening_port() -> Iterator[int]:
    """A port a socket listens on at 127.0.0.1 (the kernel completes the handshake; nothing accepts)."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server.getsockname()[1]


@pytest.fixture
def closed_port() -> int:
    """A port nothing listens on: bound once, then closed, so connecting to it is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def make_check(module: types.ModuleType, **options: Any) -> Any:
    return module.TcpCheck(module.TcpOptions(**options), load_profile("dev"))


def judge(check: Any, timeout_s: float = 5.0) -> Any:
    """Run ``check.judge`` with a probe that only carries the deadline, as the kind reads it."""
    return asyncio.run(check.judge(types.SimpleNamespace(timeout_s=timeout_s)))


# --- the kind, in-process ------------------------------------------------------------------------------


def test_plugin_imports_only_the_public_api() -> None:
    """The example reaches spark-ops through ``spark_ops.api`` alone, never a private module."""
    source = (PLUGIN_DIR / "spark_tcp" / "__init__.py").read_text()
    imported = {
        line.split()[1]
        for line in source.splitlines()
        if line.lstrip().startswith(("import ", "from ")) and "spark_ops" in line
    }
    assert imported == {"spark_ops.api"}


def test_open_port_passes_with_the_connect_time(spark_tcp: types.ModuleType, listening_port: int) -> None:
    """A port that accepts connections is PASS, with the connect time as reading ``connect_ms``."""
    judgement = judge(make_check(spark_tcp, host="127.0.0.1", port=listening_port))
    assert judgement.status is Status.PASS
    assert judgement.message.startswith(f"tcp 127.0.0.1:{listening_port}: connected in ")
    assert set(judgement.readings) == {"connect_ms"} and 0 <= judgement.readings["connect_ms"] < 5000


def test_service_resolves_host_and_port_from_the_profile(
    spark_tcp: types.ModuleType, listening_port: int
) -> None:
    """``service`` connects to the host and port of the profile's URL for it."""
    profile = load_profile("dev", [f"services.web.url=http://127.0.0.1:{listening_port}"])
    check = spark_tcp.TcpCheck(spark_tcp.TcpOptions(service="web"), profile)
    assert check.planned_load == f"1 TCP connection to 127.0.0.1:{listening_port}"
    assert judge(check).status is Status.PASS


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("http://example.test", "example.test:80"),
        ("https://example.test/base", "example.test:443"),
        ("http://[::1]:4001", "[::1]:4001"),
    ],
    ids=["http-default", "https-default", "ipv6"],
)
def test_service_url_without_a_port_takes_the_scheme_default(
    spark_tcp: types.ModuleType, url: str, address: str
) -> None:
    """A service URL without a port connects to its scheme's port; an IPv6 host is shown bracketed."""
    profile = load_profile("dev", [f"services.web.url={url}"])
    assert spark_tcp.TcpCheck(spark_tcp.TcpOptions(service="web"), profile).address == address


def test_refused_connection_fails_with_the_reason(spark_tcp: types.ModuleType, closed_port: int) -> None:
    """A refused connection raises TargetError (FAIL) naming the address and the refusal."""
    with pytest.raises(TargetError) as caught:
        judge(make_check(spark_tcp, host="127.0.0.1", port=closed_port))
    assert str(caught.value) == f"tcp 127.0.0.1:{closed_port}: cannot connect: connection refused"


def test_unresolvable_name_fails_with_the_reason(spark_tcp: types.ModuleType) -> None:
    """A host name that does not resolve raises TargetError (FAIL) saying so."""
    with pytest.raises(TargetError) as caught:
        judge(make_check(spark_tcp, host="no-such-host.invalid", port=80), timeout_s=10)
    assert str(caught.value).startswith("tcp no-such-host.invalid:80: cannot resolve no-such-host.invalid: ")


def test_no_connection_within_the_deadline_fails(
    spark_tcp: types.ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A connection that never opens raises TargetError (FAIL) at the probe's deadline, naming it."""

    async def never_connects(host: str, port: int) -> Any:
        await asyncio.sleep(3600)

    monkeypatch.setattr(spark_tcp.asyncio, "open_connection", never_connects)
    with pytest.raises(TargetError) as caught:
        judge(make_check(spark_tcp, host="127.0.0.1", port=9), timeout_s=0.05)
    assert str(caught.value) == "tcp 127.0.0.1:9: cannot connect: no connection within the 0.05 s deadline"


def test_no_connection_within_the_runners_deadline_fails_naming_the_address(
    spark_tcp: types.ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under the runner, a connection that never opens FAILs with the kind's reason, not a generic one."""

    async def never_connects(host: str, port: int) -> Any:
        await asyncio.sleep(3600)

    monkeypatch.setattr(spark_tcp.asyncio, "open_connection", never_connects)
    check = make_check(spark_tcp, host="10.0.0.9", port=5432)
    prepared = PreparedCheck(spec=spec_of("db.port", "tcp"), timeout_s=2.0, retries=0, check=check)

    async def run() -> list[CheckResult]:
        async with make_client(1) as client:
            return await run_checks([prepared], client=client, concurrency=1, max_body_bytes=1024)

    [result] = asyncio.run(run())
    assert result.status is Status.FAIL
    assert result.message == "tcp 10.0.0.9:5432: cannot connect: no connection within the 2 s deadline"


def test_other_connect_errors_fail_with_their_reason(
    spark_tcp: types.ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Any other failure to connect (here: no route) is TargetError (FAIL) with the OS's reason."""

    async def unreachable(host: str, port: int) -> Any:
        # As asyncio raises it: the errno says why, the text only where.
        raise OSError(errno.EHOSTUNREACH, f"Connect call failed ('{host}', {port})")

    monkeypatch.setattr(spark_tcp.asyncio, "open_connection", unreachable)
    with pytest.raises(TargetError) as caught:
        judge(make_check(spark_tcp, host="10.0.0.1", port=22))
    reason = os.strerror(errno.EHOSTUNREACH).lower()
    assert str(caught.value) == f"tcp 10.0.0.1:22: cannot connect: {reason}"


@pytest.mark.parametrize(
    ("options", "key", "reason"),
    [
        ({}, "host", "needs host and port, or service"),
        ({"host": "db"}, "port", "needs port with host"),
        ({"port": 5432}, "host", "needs host and port, or service"),
        ({"host": " ", "port": 5432}, "host", "must not be empty"),
        ({"host": "db", "port": 0}, "port", "must be 1..65535, got 0"),
        ({"host": "db", "port": 65536}, "port", "must be 1..65535, got 65536"),
        ({"service": "web", "port": 80}, "service", "give either host and port, or service, not both"),
        ({"service": "nope"}, "service", "service 'nope' is not in profile 'dev'"),
    ],
    ids=["nothing", "no-port", "no-host", "blank-host", "port-0", "port-high", "both", "unknown-service"],
)
def test_bad_options_are_configuration_errors(
    spark_tcp: types.ModuleType, options: dict[str, Any], key: str, reason: str
) -> None:
    """A missing, mixed or out-of-range option is a ConfigError naming the key."""
    with pytest.raises(ConfigError) as caught:
        make_check(spark_tcp, **options)
    assert caught.value.key == key
    assert caught.value.reason.startswith(reason)


# --- installed with pip into a fresh virtual environment, run through `spark` ----------------------------


@pytest.fixture(scope="module")
def plugin_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment holding spark-ops (from this checkout) and then the example plug-in."""
    venv = tmp_path_factory.mktemp("plugin-venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = _venv_bin(venv, "python")
    for package in (REPO_ROOT, PLUGIN_DIR):
        installed = subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(package)],
            capture_output=True,
            text=True,
            timeout=900,
            env=_clean_env(),
        )
        assert installed.returncode == 0, installed.stdout + installed.stderr
    return venv


def _venv_bin(venv: Path, name: str) -> Path:
    folder = venv / ("Scripts" if os.name == "nt" else "bin")
    return folder / (f"{name}.exe" if os.name == "nt" else name)


def _clean_env() -> dict[str, str]:
    """The environment without anything that would point the venv at this checkout or set gate options."""
    dropped = ("PYTHONPATH", "VIRTUAL_ENV", "GITHUB_ACTIONS", "SPARK_EXIT_ON_FAIL", "SPARK_PROFILE")
    return {k: v for k, v in os.environ.items() if k not in dropped}


def spark(venv: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(_venv_bin(venv, "spark")), *args],
        cwd=cwd,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def tcp_gate(venv: Path, folder: Path, checks: str, *extra: str) -> subprocess.CompletedProcess[str]:
    """``spark gate`` on a suite of ``checks`` (TOML ``[[checks]]`` tables), exiting on the verdict."""
    suite = folder / "tcp.toml"
    suite.write_text(f'description = "tcp plug-in"\n{checks}')
    return spark(
        venv, folder, "gate", "--suite", str(suite), "--exit-on-fail", "--no-evidence", "-f", "json", *extra
    )


def one_tcp_check(port: int, extra: str = "") -> str:
    return f'[[checks]]\nname = "db.port"\nkind = "tcp"\nhost = "127.0.0.1"\nport = {port}\n{extra}'


@pytest.mark.slow
def test_installed_plugin_is_listed(plugin_venv: Path, tmp_path: Path) -> None:
    """``spark checks list`` in the venv shows the tcp kind from its entry point beside the built-ins."""
    listed = spark(plugin_venv, tmp_path, "checks", "list")
    assert listed.returncode == 0, listed.stderr
    rows = {line.split()[0]: line for line in listed.stdout.splitlines() if line.strip()}
    assert "spark_tcp:TcpCheck" in rows["tcp"]
    assert "http" in rows


@pytest.mark.slow
def test_installed_plugin_passes_an_open_port(plugin_venv: Path, tmp_path: Path, listening_port: int) -> None:
    """A gate of tcp checks (by host and port, and by service) against a listening port exits 0, PASS."""
    checks = one_tcp_check(listening_port) + '[[checks]]\nname = "web.port"\nkind = "tcp"\nservice = "web"\n'
    result = tcp_gate(
        plugin_venv, tmp_path, checks, "--set", f"services.web.url=http://127.0.0.1:{listening_port}"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    document = json.loads(result.stdout)
    assert document["risk"]["level"] == "LOW"
    for check in document["checks"]:
        assert check["kind"] == "tcp" and check["status"] == "PASS", check
        assert check["message"].startswith(f"tcp 127.0.0.1:{listening_port}: connected in ")
        assert set(check["readings"]) == {"connect_ms"}


@pytest.mark.slow
def test_installed_plugin_fails_a_refused_port(plugin_venv: Path, tmp_path: Path, closed_port: int) -> None:
    """A major tcp check against a closed port FAILs with the refusal: HIGH, exit 1."""
    result = tcp_gate(plugin_venv, tmp_path, one_tcp_check(closed_port))
    assert result.returncode == 1, result.stdout + result.stderr
    document = json.loads(result.stdout)
    assert document["risk"]["level"] == "HIGH"
    [check] = document["checks"]
    assert check["status"] == "FAIL" and check["severity"] == "major"
    assert check["message"] == f"tcp 127.0.0.1:{closed_port}: cannot connect: connection refused"


@pytest.mark.slow
def test_installed_plugin_refuses_an_unknown_option(plugin_venv: Path, tmp_path: Path) -> None:
    """An unknown key in a tcp check is a configuration error naming the suite file and key: exit 2."""
    result = tcp_gate(plugin_venv, tmp_path, one_tcp_check(9, extra="hots = 'db'\n"))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert "tcp.toml" in line and "checks[0].hots" in line and "unknown key" in line

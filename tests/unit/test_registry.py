"""Check kinds are plug-ins: built-ins and third-party kinds load through the same entry-point group."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

import pytest

from spark_ops import registry
from spark_ops.checks.http import HttpCheck
from spark_ops.checks.metrics import MetricsCheck
from spark_ops.checks.slo import SloCheck
from spark_ops.checks.tls import TlsCheck
from spark_ops.checks.websocket import WebSocketCheck
from spark_ops.errors import ConfigError

BUILT_INS = {
    "http": ("spark_ops.checks.http:HttpCheck", HttpCheck),
    "slo": ("spark_ops.checks.slo:SloCheck", SloCheck),
    "metrics": ("spark_ops.checks.metrics:MetricsCheck", MetricsCheck),
    "tls": ("spark_ops.checks.tls:TlsCheck", TlsCheck),
    "websocket": ("spark_ops.checks.websocket:WebSocketCheck", WebSocketCheck),
}

ALWAYS_PLUGIN = '''
"""A third-party check kind that answers whatever its suite tells it to."""

import msgspec

from spark_ops.model import Judgement, Status


class AlwaysOptions(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    verdict: str = "PASS"
    note: str = "nothing to see"


class AlwaysCheck:
    kind = "always"
    summary = "always gives the verdict its suite names"
    Options = AlwaysOptions

    def __init__(self, options, profile):
        self.options = options
        self.p95_max = profile.number("slo.latency_p95_ms", key="p95_max")

    async def judge(self, probe):
        return Judgement(
            Status(self.options.verdict),
            f"always says {self.options.note}",
            observed=self.options.verdict,
            threshold=self.p95_max,
        )
'''


def install_fake_distribution(site: Path, name: str, module_source: str, entry_points_text: str) -> None:
    """Write ``name.py`` and a ``name-0.1.dist-info`` into ``site`` as if pip had installed them."""
    (site / f"{name}.py").write_text(module_source)
    dist_info = site / f"{name}-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (dist_info / "entry_points.txt").write_text(entry_points_text)


def run_spark(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m spark_ops ARGS`` in a fresh interpreter that sees the fake distributions in ``cwd``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("GITHUB_ACTIONS", "SPARK_EXIT_ON_FAIL", "SPARK_PROFILE")
    }
    env["PYTHONPATH"] = str(cwd)
    return subprocess.run(
        [sys.executable, "-m", "spark_ops", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The single 'spark: error:' line of an exit-2 run (no traceback)."""
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("spark: error:"), result.stderr
    return lines[0]


@pytest.fixture
def always_plugin(tmp_path: Path) -> Path:
    """A pip-style installed plug-in distribution registering kind ``always``."""
    install_fake_distribution(
        tmp_path, "myplugin", ALWAYS_PLUGIN, "[spark_ops.checks]\nalways = myplugin:AlwaysCheck\n"
    )
    return tmp_path


def write_always_suite(folder: Path, **options: str) -> None:
    keys = "".join(f'{key} = "{value}"\n' for key, value in options.items())
    (folder / "always.toml").write_text(
        f'description = "plug-in suite"\n[[checks]]\nname = "plugin.always"\nkind = "always"\n{keys}'
    )


# --- built-ins come through the entry-point group ------------------------------------------------------


def test_built_ins_are_registered_as_entry_points() -> None:
    """http, slo and metrics are declared in the `spark_ops.checks` entry-point group like any plug-in."""
    declared = {entry.name: entry.value for entry in entry_points(group=registry.ENTRY_POINT_GROUP)}
    for name, (value, _) in BUILT_INS.items():
        assert declared.get(name) == value


def test_discover_reads_the_entry_point_group() -> None:
    """The registry knows exactly the kinds the entry-point group declares, sorted by name."""
    found = registry.discover()
    declared = {entry.name for entry in entry_points(group=registry.ENTRY_POINT_GROUP)}
    assert set(found) == declared
    assert list(found) == sorted(found)
    assert all(entry.group == registry.ENTRY_POINT_GROUP for entry in found.values())


@pytest.mark.parametrize("name", list(BUILT_INS))
def test_load_kind_returns_the_built_in_class(name: str) -> None:
    """Loading a built-in kind by name gives its class, with the plug-in protocol's attributes."""
    kind_class = registry.load_kind(name)
    assert kind_class is BUILT_INS[name][1]
    assert kind_class.kind == name
    assert kind_class.summary
    assert hasattr(kind_class, "Options") and hasattr(kind_class, "judge")


def test_describe_kinds_lists_every_built_in_with_its_source() -> None:
    """`spark checks list` rows carry each kind's summary and the entry point it came from."""
    rows = {kind: (summary, source) for kind, summary, source in registry.describe_kinds()}
    for name, (value, kind_class) in BUILT_INS.items():
        assert rows[name] == (kind_class.summary, value)


def test_unknown_kind_lists_the_known_ones() -> None:
    """An unknown kind is a ConfigError on key `kind` that lists the installed kinds."""
    with pytest.raises(
        ConfigError,
        match=r"unknown check kind 'htttp' \(known: compare, http, latency, metrics, pm2, promql, slo",
    ) as caught:
        registry.load_kind("htttp")
    assert caught.value.key == "kind"


def fake_group(monkeypatch: pytest.MonkeyPatch, *extra: EntryPoint) -> None:
    """Make the registry see the real group plus ``extra`` entry points."""
    real = list(entry_points(group=registry.ENTRY_POINT_GROUP))
    monkeypatch.setattr(
        registry, "entry_points", lambda group: [*real, *extra] if group == real[0].group else []
    )


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        pytest.param(
            EntryPoint("http", "evil_plugin:Http", registry.ENTRY_POINT_GROUP),
            "two plug-ins register check kind 'http'",
            id="clash-with-built-in",
        ),
        pytest.param(
            EntryPoint("gone", "no_such_module_xyz:Check", registry.ENTRY_POINT_GROUP),
            "check kind 'gone' (no_such_module_xyz:Check) failed to load",
            id="module-missing",
        ),
        pytest.param(
            EntryPoint("noattr", "json:NoSuchClass", registry.ENTRY_POINT_GROUP),
            "check kind 'noattr' (json:NoSuchClass) failed to load",
            id="class-missing",
        ),
        pytest.param(
            EntryPoint("notakind", "json:JSONDecoder", registry.ENTRY_POINT_GROUP),
            "check kind 'notakind' (json:JSONDecoder) has no Options",
            id="not-a-kind",
        ),
    ],
)
def test_broken_registrations_are_config_errors(
    monkeypatch: pytest.MonkeyPatch, entry: EntryPoint, message: str
) -> None:
    """A clashing, missing or malformed plug-in is a configuration error naming the kind and its target."""
    fake_group(monkeypatch, entry)
    with pytest.raises(ConfigError) as caught:
        registry.describe_kinds()
    assert message in str(caught.value)


def test_same_entry_point_seen_twice_is_not_a_clash(monkeypatch: pytest.MonkeyPatch) -> None:
    """One distribution visible twice on sys.path (same target) is not reported as two plug-ins."""
    fake_group(monkeypatch, EntryPoint("http", "spark_ops.checks.http:HttpCheck", registry.ENTRY_POINT_GROUP))
    assert registry.load_kind("http") is HttpCheck


# --- a third-party plug-in, installed as a distribution ----------------------------------------------


def test_third_party_kind_is_listed(always_plugin: Path) -> None:
    """A distribution declaring `spark_ops.checks` entry points shows up in `spark checks list`."""
    result = run_spark(always_plugin, "checks", "list")
    assert result.returncode == 0, result.stderr
    rows = {
        line.split()[0]: line
        for line in result.stdout.partition("suites:")[0].splitlines()[1:]
        if line.strip()
    }
    assert {"always", "http", "slo", "metrics"} <= set(rows)
    assert "always gives the verdict its suite names" in rows["always"]
    assert "myplugin:AlwaysCheck" in rows["always"]


@pytest.mark.parametrize(
    ("verdict", "exit_code", "level"),
    [
        pytest.param("PASS", 0, "LOW", id="pass"),
        pytest.param("FAIL", 1, "HIGH", id="fail"),
    ],
)
def test_third_party_kind_judges_in_a_gate(
    always_plugin: Path, verdict: str, exit_code: int, level: str
) -> None:
    """A plug-in kind runs in a gate like a built-in: its judgement, threshold and verdict are reported."""
    write_always_suite(always_plugin, verdict=verdict, note="hello from a plug-in")
    result = run_spark(
        always_plugin,
        "gate",
        "--suite",
        "always.toml",
        "--profile",
        "production",
        "--no-evidence",
        "--exit-on-fail",
        "-f",
        "json",
    )
    assert result.returncode == exit_code, result.stdout + result.stderr
    document = json.loads(result.stdout)
    assert document["risk"]["level"] == level
    [check] = document["checks"]
    assert check["name"] == "plugin.always" and check["kind"] == "always"
    assert check["status"] == verdict
    assert check["message"] == "always says hello from a plug-in"
    assert check["threshold"] == 120  # the plug-in resolved a profile key, like built-ins do


def test_third_party_kind_options_are_validated(always_plugin: Path) -> None:
    """An unknown key in a plug-in check is a configuration error naming the suite file and key."""
    write_always_suite(always_plugin, verdicts="PASS")
    line = one_error_line(run_spark(always_plugin, "gate", "--suite", "always.toml", "--no-evidence"))
    assert "always.toml" in line and "checks[0].verdicts" in line


def test_plugin_that_fails_to_import_is_exit_2_naming_the_kind(always_plugin: Path) -> None:
    """A plug-in whose module raises on import stops the run with exit 2 and one line naming the kind."""
    install_fake_distribution(
        always_plugin,
        "brokenplugin",
        textwrap.dedent("""
            import a_dependency_that_is_not_installed_xyz

            class BrokenCheck:
                pass
        """),
        "[spark_ops.checks]\nbroken = brokenplugin:BrokenCheck\n",
    )
    (always_plugin / "broken.toml").write_text('[[checks]]\nname = "b"\nkind = "broken"\n')
    line = one_error_line(run_spark(always_plugin, "gate", "--suite", "broken.toml", "--no-evidence"))
    assert "'broken'" in line and "brokenplugin:BrokenCheck" in line and "broken.toml" in line
    assert "a_dependency_that_is_not_installed_xyz" in line

    listed = one_error_line(run_spark(always_plugin, "checks", "list"))
    assert "'broken'" in listed


def test_plugin_cannot_silently_replace_a_built_in(always_plugin: Path) -> None:
    """A distribution that registers an existing kind name is refused, not allowed to shadow it."""
    install_fake_distribution(
        always_plugin, "shadowplugin", ALWAYS_PLUGIN, "[spark_ops.checks]\nhttp = shadowplugin:AlwaysCheck\n"
    )
    line = one_error_line(run_spark(always_plugin, "checks", "list"))
    assert "'http'" in line and "shadowplugin:AlwaysCheck" in line


def test_fake_distribution_is_not_visible_in_process() -> None:
    """The plug-in tests install into subprocesses only; this interpreter still sees just the real group."""
    assert "always" not in registry.discover()

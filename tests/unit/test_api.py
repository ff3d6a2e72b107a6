"""spark_ops.api: the one public module of the check-kind API, cheap to import."""

from __future__ import annotations

import subprocess
import sys

import pytest

import spark_ops.api as api
from spark_ops import errors, jsonpath, model, registry, transport
from spark_ops.checks import _common
from spark_ops.config import profile, target
from spark_ops.prove import breakage

# Where each public name lives today; the API re-exports exactly these objects.
HOMES = {
    "Check": registry,
    "CheckBase": registry,
    "CheckKind": registry,
    "Judgement": model,
    "Status": model,
    "Severity": model,
    "Readings": model,
    "Probe": transport,
    "Fetched": transport,
    "Target": target,
    "Profile": profile,
    "Options": _common,
    "TargetOptions": _common,
    "Bounds": _common,
    "Threshold": _common,
    "number_from": _common,
    "lookup": jsonpath,
    "MISSING": jsonpath,
    "parse_json": _common,
    "require_2xx": _common,
    "ConfigError": errors,
    "CheckError": errors,
    "TargetError": errors,
    "one_line": errors,
    "Answer": breakage,
    "Breakage": breakage,
}


def test_all_is_exactly_the_public_names() -> None:
    """``__all__`` lists every name a kind needs, once, and nothing else."""
    assert sorted(api.__all__) == sorted(HOMES)
    assert len(api.__all__) == len(set(api.__all__))


@pytest.mark.parametrize("name", sorted(HOMES))
def test_each_name_is_the_object_spark_ops_uses(name: str) -> None:
    """A re-exported name is the very object the runner and registry use (no copy, no wrapper)."""
    assert getattr(api, name) is getattr(HOMES[name], name)


def test_star_import_gives_the_lazy_names_too() -> None:
    """``from spark_ops.api import *`` binds every name, including the transport's."""
    namespace: dict[str, object] = {}
    exec("from spark_ops.api import *", namespace)
    assert {"Probe", "Fetched"} <= namespace.keys()
    assert set(api.__all__) <= namespace.keys()


def test_unknown_name_is_an_attribute_error() -> None:
    """A name the API does not export is an AttributeError naming it, not a silent None."""
    with pytest.raises(AttributeError, match=r"'spark_ops\.api' has no attribute 'PreparedCheck'"):
        api.PreparedCheck  # noqa: B018
    with pytest.raises(ImportError):
        exec("from spark_ops.api import _common", {})


def test_dir_lists_the_lazy_names() -> None:
    """``dir(spark_ops.api)`` shows Probe and Fetched before they are first touched."""
    assert {"Probe", "Fetched", "CheckBase"} <= set(dir(api))


def run_python(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_import_does_not_load_the_transport() -> None:
    """``import spark_ops.api`` loads neither the transport nor httpx nor aiohttp (they cost ~0.4 s)."""
    loaded = run_python(
        "import sys, spark_ops.api; "
        "print(sorted(m for m in ('spark_ops.transport', 'httpx', 'aiohttp') if m in sys.modules))"
    )
    assert loaded == "[]"


def test_probe_loads_the_transport_on_first_use() -> None:
    """Touching ``spark_ops.api.Probe`` imports the transport and gives its class."""
    loaded = run_python(
        "import sys; from spark_ops.api import Probe; "
        "print(Probe.__module__, 'spark_ops.transport' in sys.modules)"
    )
    assert loaded == "spark_ops.transport True"

"""What the docs tests share: the generator in tools/ and the published JSON Schemas in docs/schemas/."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from conftest import ROOT, schema_validator  # noqa: F401  (re-exported: the session hook uses it too)


@pytest.fixture(scope="session")
def gen_docs() -> ModuleType:
    """tools/gen_docs.py, imported as the script runs it."""
    path = ROOT / "tools" / "gen_docs.py"
    spec = importlib.util.spec_from_file_location("gen_docs", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_docs"] = module
    spec.loader.exec_module(module)
    return module


def errors_of(validator: Any, document: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '(document)'}: {error.message}"
        for error in validator.iter_errors(document)
    ]


def toml_file(path: Path) -> Any:
    import tomllib

    return tomllib.loads(path.read_text(encoding="utf-8"))

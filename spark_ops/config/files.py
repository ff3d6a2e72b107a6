"""Finding and reading profile and suite files: shipped with the package, or in ./profiles and ./checks.

A ``--profile``/``--suite``/``extends`` value is a file path when it looks like one, else a name searched
for in the working directory first, then among the shipped files. Every file is read as TOML with guards,
so a broken, unreadable or absurdly deep file is a ConfigError naming it, never a bare exception.
"""

from __future__ import annotations

import os
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from spark_ops.errors import ConfigError

MAX_NESTING = 32
TOO_DEEP = f"invalid TOML: nested deeper than {MAX_NESTING} levels"


def shipped_dir(kind: str) -> Path:
    """Where the installed package keeps its shipped profiles or suites."""
    packaged = Path(str(resources.files("spark_ops"))) / "_shipped" / kind
    if packaged.is_dir():
        return packaged
    # A source checkout (editable install): the data sits at the top of the repository.
    return Path(__file__).resolve().parents[2] / kind


def search_dirs(kind: str) -> list[Path]:
    """The folders searched for ``kind`` files, the one that wins first."""
    return [Path.cwd() / kind, shipped_dir(kind)]


def available(kind: str) -> dict[str, Path]:
    """Every profile or suite name that can be used, mapped to the file that wins."""
    found: dict[str, Path] = {}
    for folder in reversed(search_dirs(kind)):
        if folder.is_dir():
            for path in sorted(folder.glob("*.toml")):
                found[path.stem] = path
    return dict(sorted(found.items()))


def _looks_like_file(ref: str) -> bool:
    return ref.endswith(".toml") or "/" in ref or os.sep in ref


def display_name(ref: str, path: Path) -> str:
    """What a loaded profile or suite is called: its name when found by name, else its path."""
    return str(path) if _looks_like_file(ref) else path.stem


def locate(kind: str, ref: str, *, relative_to: Path | None = None) -> Path:
    """The file a ``--profile``/``--suite``/``extends`` value names: a path, or a name to search for."""
    what = "profile" if kind == "profiles" else "suite"
    if _looks_like_file(ref):
        path = Path(ref)
        if relative_to is not None and not path.is_absolute():
            path = relative_to / path
        try:
            exists = path.is_file()
        except OSError as exc:  # a name too long for the OS, a folder we may not enter
            raise ConfigError(f"{what} file {ref!r} cannot be read: {exc.strerror or exc}") from None
        if not exists:
            raise ConfigError(f"{what} file {ref!r} does not exist")
        return path
    names = available(kind)
    if ref not in names:
        raise ConfigError(f"unknown {what} {ref!r} (known: {', '.join(names) or 'none'})")
    return names[ref]


def read_toml(path: Path) -> dict[str, Any]:
    """The TOML document at ``path``; unreadable, invalid or too deep is a ConfigError naming the file."""
    try:
        with path.open("rb") as handle:
            document = tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror or exc}", file=str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}", file=str(path)) from None
    except UnicodeDecodeError:
        raise ConfigError("invalid TOML: not UTF-8 text", file=str(path)) from None
    except RecursionError:  # tomllib parses nested arrays and inline tables recursively
        raise ConfigError(TOO_DEEP, file=str(path)) from None
    require_shallow(document, file=str(path))
    return document


def require_shallow(value: Any, *, file: str) -> None:
    """A ConfigError unless ``value`` nests at most MAX_NESTING tables and arrays deep.

    Iterative, so a deep document cannot exhaust the stack here; once it passed, the recursive merge,
    interpolation and validation that follow stay far from Python's recursion limit.
    """
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_NESTING:
            raise ConfigError(TOO_DEEP, file=file)
        if isinstance(node, dict):
            stack.extend((child, depth + 1) for child in node.values())
        elif isinstance(node, list):
            stack.extend((child, depth + 1) for child in node)

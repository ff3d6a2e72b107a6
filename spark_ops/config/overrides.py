"""What is laid over a profile's files: ``--set KEY=VALUE`` overrides and ``${ENV}`` interpolation.

Both record where each dotted key came from (``Provenance``), so an error names the file or ``--set``
that wrote the bad value, not the file that was asked for.
"""

from __future__ import annotations

import os
import re
import tomllib
from typing import Any

from spark_ops.config.files import TOO_DEEP
from spark_ops.errors import ConfigError
from spark_ops.redact import SECRET_NAME

SET_SOURCE = "--set"


class Provenance(dict[str, str]):
    """Dotted key -> the file (or ``--set``) that last wrote it, so errors name the right source."""

    def source_of(self, key: str, default: str) -> str:
        """The source of ``key`` or of the nearest table or array above it that has one, else ``default``."""
        while key:
            if key in self:
                return self[key]
            key = _parent(key)
        return default


def _parent(key: str) -> str:
    """The key one level up: ``services.web`` for ``services.web.url``, ``a.list`` for ``a.list[0]``."""
    if key.endswith("]") and (bracket := key.rfind("[")) > 0:
        return key[:bracket]
    return key.rpartition(".")[0]


def parse_set(assignment: str) -> tuple[str, Any]:
    """``KEY=VALUE`` -> (dotted key, value read as TOML when it parses as one, else the string)."""
    key, sep, text = assignment.partition("=")
    key = key.strip()
    if not sep or not key or any(not part for part in key.split(".")):
        raise ConfigError(f"--set wants KEY=VALUE with a dotted KEY, got {assignment!r}")
    try:
        document = tomllib.loads(f"v = {text}")
    except tomllib.TOMLDecodeError:
        return key, text
    except RecursionError:
        raise ConfigError(TOO_DEEP, file=SET_SOURCE, key=key) from None
    # "120\n[slo]\nerror_rate = 1" is a document, not one value: its second line must not vanish.
    return key, document["v"] if document.keys() == {"v"} else text


def apply_set(values: dict[str, Any], key: str, value: Any, provenance: Provenance) -> None:
    """Write ``value`` at dotted ``key`` of ``values``, creating the tables on the way."""
    table = values
    parts = key.split(".")
    for depth, part in enumerate(parts[:-1]):
        if part not in table:  # a table the override creates: an error inside it is the override's
            table[part] = {}
            provenance[".".join(parts[: depth + 1])] = SET_SOURCE
        nxt = table[part]
        if not isinstance(nxt, dict):
            where = ".".join(parts[: depth + 1])
            raise ConfigError(f"cannot set {key!r}: {where!r} is not a table", file=SET_SOURCE, key=key)
        table = nxt
    table[parts[-1]] = value
    provenance[key] = SET_SOURCE


_ENV_REF = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")


def interpolate(value: Any, provenance: Provenance, secrets: set[str], key: str = "") -> Any:
    """Replace ``${NAME}`` / ``${NAME:-default}`` in every string with the environment's value.

    The value of a secret-named variable is added to ``secrets``; an unset variable without a default
    is a ConfigError naming the key and the file that wrote it.
    """
    if isinstance(value, dict):
        return {k: interpolate(v, provenance, secrets, f"{key}.{k}" if key else k) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, provenance, secrets, f"{key}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        name, default = match["name"], match["default"]
        found = os.environ.get(name)
        if found is None:
            if default is None:
                raise ConfigError(
                    f"environment variable {name} is not set (write ${{{name}:-default}} for a default)",
                    file=provenance.source_of(key, "profile"),
                    key=key,
                )
            found = default
        if SECRET_NAME.search(name):
            secrets.add(found)
        return found

    return _ENV_REF.sub(substitute, value)

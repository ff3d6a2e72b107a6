"""Suites: what to check, one ``[[checks]]`` entry per check, parsed once into a typed ``CheckSpec``.

The keys every kind shares are validated here; a kind's own keys stay a mapping that the registry
validates against the kind's ``Options`` when it binds the check to a profile.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

import msgspec

from spark_ops.config.files import display_name, locate, read_toml
from spark_ops.config.schema import AnalysisConfig, NonNegativeInt, PositiveFloat, Table, convert
from spark_ops.errors import ConfigError
from spark_ops.model import Severity
from spark_ops.redact import option_secrets


class CheckSpec(Table, frozen=True, kw_only=True):
    """One ``[[checks]]`` entry: the keys every kind shares, typed, and the kind's own keys unvalidated."""

    name: Annotated[str, msgspec.Meta(min_length=1)]
    kind: Annotated[str, msgspec.Meta(min_length=1)]
    severity: Severity = Severity.MAJOR
    timeout_s: PositiveFloat | None = None
    retries: NonNegativeInt | None = None
    description: str = ""
    # Set by load_suite, never read from the entry (an entry's "index" or "options" is the kind's key):
    index: NonNegativeInt = 0  # the entry's place in the suite, for error keys like checks[2].max
    options: Mapping[str, Any] = {}  # the kind's own keys as written


# The keys an entry may write for any kind; every other key belongs to the kind's options.
COMMON_CHECK_KEYS = frozenset(CheckSpec.__struct_fields__) - {"index", "options"}


@dataclass(frozen=True, slots=True)
class Suite:
    """A loaded suite: its checks in file order, and the secrets written into them."""

    name: str
    source: str
    description: str
    checks: tuple[CheckSpec, ...]
    secrets: frozenset[str] = frozenset()  # written into the checks' own URLs, headers and bodies
    # The keys the suite's own [analysis] table sets (validated): they win over the profile's.
    analysis: Mapping[str, Any] = field(default_factory=dict)


def load_suite(ref: str) -> Suite:
    """Load the suite ``ref`` (a name or a file); kind-specific keys are checked by the registry."""
    path = locate("checks", ref)
    file = str(path)
    raw = read_toml(path)
    unknown = set(raw) - {"description", "checks", "analysis"}
    if unknown:
        key = sorted(unknown)[0] or '""'  # an empty key is named as TOML writes it
        raise ConfigError("unknown key (check the spelling)", file=file, key=key)
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise ConfigError("must be a string", file=file, key="description")
    entries = raw.get("checks")
    if not isinstance(entries, list) or not entries:
        raise ConfigError("a suite needs at least one [[checks]] entry", file=file, key="checks")
    specs: list[CheckSpec] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        prefix = f"checks[{index}]"
        if not isinstance(entry, dict):
            raise ConfigError("must be a table", file=file, key=prefix)
        common = {key: value for key, value in entry.items() if key in COMMON_CHECK_KEYS}
        options = {key: value for key, value in entry.items() if key not in COMMON_CHECK_KEYS}
        raw_spec = {**common, "index": index, "options": options}
        spec: CheckSpec = convert(raw_spec, CheckSpec, file=file, prefix=prefix)
        if spec.name in seen:
            raise ConfigError(f"duplicate check name {spec.name!r}", file=file, key=f"{prefix}.name")
        seen.add(spec.name)
        specs.append(spec)
    secrets = frozenset(secret for spec in specs for secret in option_secrets(spec.options))
    analysis = raw.get("analysis", {})
    convert(analysis, AnalysisConfig, file=file, prefix="analysis")  # errors name the suite's key
    return Suite(
        name=display_name(ref, path),
        source=file,
        description=description,
        checks=tuple(specs),
        secrets=secrets,
        analysis=analysis,
    )

"""The shape of a profile as msgspec tables, and ``convert``: validation whose errors name file and key."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any, Literal

import msgspec

from spark_ops.errors import ConfigError

PositiveFloat = Annotated[float, msgspec.Meta(gt=0)]
NonNegativeFloat = Annotated[float, msgspec.Meta(ge=0)]
NonNegativeInt = Annotated[int, msgspec.Meta(ge=0)]
PositiveInt = Annotated[int, msgspec.Meta(ge=1)]


class Table(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """A TOML table whose unknown keys are errors (a typo must never be silently ignored)."""


class ServiceConfig(Table, frozen=True, kw_only=True):
    url: str
    headers: dict[str, str] = {}


class SloConfig(Table, frozen=True, kw_only=True):
    latency_p95_ms: NonNegativeFloat | None = None
    error_rate: Annotated[float, msgspec.Meta(ge=0, le=1)] | None = None
    staleness_s: NonNegativeFloat | None = None
    # A document's own time (health JSON ``timestamp``, a PromQL answer's) against the run's clock:
    # older than max_document_age_s + max_clock_skew_s, or later than now + max_clock_skew_s, FAILs.
    max_document_age_s: NonNegativeFloat = 60.0
    max_clock_skew_s: NonNegativeFloat = 5.0
    undated: Literal["fail", "warn", "ignore"] = "fail"  # a document that carries no time


class DefaultsConfig(Table, frozen=True, kw_only=True):
    timeout_s: PositiveFloat = 5.0
    retries: NonNegativeInt = 1
    concurrency: PositiveInt = 64
    max_body_bytes: PositiveInt = 10 * 1024 * 1024


class PrometheusConfig(Table, frozen=True, kw_only=True):
    url: str | None = None
    headers: dict[str, str] = {}


class Pm2Config(Table, frozen=True, kw_only=True):
    """Defaults for ``pm2`` checks (a check's own keys win)."""

    max_restarts: NonNegativeInt = 10
    max_memory_mb: PositiveFloat | None = None
    min_uptime_s: NonNegativeFloat | None = None


class RiskConfig(Table, frozen=True, kw_only=True):
    fail_on: Literal["medium", "high", "critical"] = "high"


class CanaryConfig(Table, frozen=True, kw_only=True):
    baseline: str | None = None  # a profile name or file, or a base URL; set by `spark canary --baseline`
    alpha: Annotated[float, msgspec.Meta(gt=0, lt=1)] = 0.05
    max_slowdown: NonNegativeFloat = 0.2  # fail when the canary's median is this much slower (0.2 = 20 %)
    marginal_slowdown: NonNegativeFloat = 0.1
    # fail when the canary's error rate is this much higher, in absolute terms (0.02 = two points)
    max_error_increase: Annotated[float, msgspec.Meta(ge=0, le=1)] = 0.02
    marginal_error_increase: Annotated[float, msgspec.Meta(ge=0, le=1)] = 0.01


class CheckLimits(Table, frozen=True, kw_only=True):
    """Limits one check overrides (``[analysis.checks."NAME"]``)."""

    failure_limit: NonNegativeInt | None = None
    consecutive_error_limit: PositiveInt | None = None
    inconclusive_limit: NonNegativeInt | None = None


class AnalysisConfig(Table, frozen=True, kw_only=True):
    """The ``[analysis]`` table; without ``duration_s`` or ``count`` a run is a single shot."""

    duration_s: PositiveFloat | None = None
    count: PositiveInt | None = None
    interval_s: PositiveFloat = 10.0
    failure_limit: NonNegativeInt = 0
    consecutive_error_limit: PositiveInt = 4
    inconclusive_limit: NonNegativeInt = 0
    checks: dict[str, CheckLimits] = {}


class ProfileConfig(Table, frozen=True, kw_only=True):
    description: str = ""
    extends: str | None = None
    services: dict[str, ServiceConfig] = {}
    slo: SloConfig = SloConfig()
    defaults: DefaultsConfig = DefaultsConfig()
    prometheus: PrometheusConfig = PrometheusConfig()
    pm2: Pm2Config = Pm2Config()
    risk: RiskConfig = RiskConfig()
    canary: CanaryConfig = CanaryConfig()
    analysis: AnalysisConfig = AnalysisConfig()


def convert(
    raw: Any,
    schema: type[msgspec.Struct],
    *,
    file: str,
    prefix: str = "",
    source_of: Callable[[str, str], str] | None = None,
) -> Any:
    """Validate ``raw`` against ``schema``; a failure becomes a ConfigError naming file and dotted key.

    ``source_of`` maps the failing key to the file that wrote it (profiles merged through ``extends``).
    """
    try:
        return msgspec.convert(raw, schema)
    except msgspec.ValidationError as exc:
        message, _, where = str(exc).partition(" - at `$")
        where = where.rstrip("`").lstrip(".")
        unknown = re.match(r"Object contains unknown field `(.*)`", message, re.S)
        missing = re.match(r"Object missing required field `(.+)`", message, re.S)
        if unknown or missing:
            field = (unknown or missing)[1]  # type: ignore[index]
            where = f"{where}.{field}" if where else field
            message = "unknown key (check the spelling)" if unknown else "required key is missing"
        if message.startswith("Invalid enum value") and (allowed := _allowed_values(schema, where)):
            message = f"{message}: expected one of {', '.join(map(repr, allowed))}"
        if "[...]" in where:  # msgspec does not name dict keys: find the offending one in the data
            where = _name_dict_keys(raw, where)
        key = lookup = ".".join(p for p in (prefix, where) if p)
        if unknown and not unknown[1]:  # an empty key: shown as TOML writes it; provenance has "table."
            table = key.removesuffix(".")
            key, lookup = (f'{table}.""', f"{table}.") if table else ('""', "")
        if source_of is not None:
            file = source_of(lookup, file)
        raise ConfigError(message.replace("`", "'"), file=file, key=key or None) from None


def _allowed_values(schema: type[Any], where: str) -> list[Any]:
    """The choices of the Literal or Enum field at dotted ``where`` in ``schema`` (empty if none)."""
    import typing
    from enum import Enum

    kind: Any = schema
    for part in re.sub(r"\[[^\]]*\]", "", where).split("."):
        try:
            kind = typing.get_type_hints(kind, include_extras=False)[part]
        except (KeyError, TypeError, NameError):
            return []
        options = [a for a in typing.get_args(kind) if a is not type(None)]
        if typing.get_origin(kind) is not Literal and len(options) == 1:  # Optional[X] -> X
            kind = options[0]
    if typing.get_origin(kind) is Literal:
        return list(typing.get_args(kind))
    if isinstance(kind, type) and issubclass(kind, Enum):
        return [member.value for member in kind]
    return []


def _name_dict_keys(raw: Any, where: str) -> str:
    """Replace each ``[...]`` in a msgspec path with the first key whose value has a different type."""
    named: list[str] = []
    node = raw
    for part in re.findall(r"\[\.\.\.\]|[^.\[]+", where):
        if part == "[...]" and isinstance(node, dict):
            key = next((k for k, v in node.items() if not isinstance(v, str)), next(iter(node), "?"))
            named.append(str(key))
            node = node.get(key)
        elif part:
            named.append(part)
            node = node.get(part) if isinstance(node, dict) else None
    return ".".join(named)

"""Profiles (where the platform is, how strict to be) and suites (what to check), read from TOML.

Loading a profile: find the file, follow ``extends`` (deep merge, the child wins), apply ``--set``
overrides, interpolate ``${ENV}``, then validate against the schema below. Every error names the file
and the dotted key it is about.
"""

from __future__ import annotations

import base64
import math
import os
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import unquote, urlsplit, urlunsplit

import msgspec

from spark_ops.errors import ConfigError
from spark_ops.model import Severity
from spark_ops.redact import (
    SECRET_NAME,
    Redactor,
    environment_secrets,
    header_secrets,
    option_secrets,
    url_secrets,
)

KINDS_OF_FILE = ("profiles", "checks")
DEFAULT_PROFILE = "dev"

PositiveFloat = Annotated[float, msgspec.Meta(gt=0)]
NonNegativeFloat = Annotated[float, msgspec.Meta(ge=0)]
NonNegativeInt = Annotated[int, msgspec.Meta(ge=0)]
PositiveInt = Annotated[int, msgspec.Meta(ge=1)]


class _Table(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """A TOML table whose unknown keys are errors (a typo must never be silently ignored)."""


class ServiceConfig(_Table, frozen=True, kw_only=True):
    url: str
    headers: dict[str, str] = {}


class SloConfig(_Table, frozen=True, kw_only=True):
    latency_p95_ms: NonNegativeFloat | None = None
    error_rate: Annotated[float, msgspec.Meta(ge=0, le=1)] | None = None
    staleness_s: NonNegativeFloat | None = None


class DefaultsConfig(_Table, frozen=True, kw_only=True):
    timeout_s: PositiveFloat = 5.0
    retries: NonNegativeInt = 1
    concurrency: PositiveInt = 64
    max_body_bytes: PositiveInt = 10 * 1024 * 1024


class PrometheusConfig(_Table, frozen=True, kw_only=True):
    url: str | None = None
    headers: dict[str, str] = {}


class Pm2Config(_Table, frozen=True, kw_only=True):
    """Defaults for ``pm2`` checks (a check's own keys win)."""

    max_restarts: NonNegativeInt = 10
    max_memory_mb: PositiveFloat | None = None
    min_uptime_s: NonNegativeFloat | None = None


class RiskConfig(_Table, frozen=True, kw_only=True):
    fail_on: Literal["medium", "high", "critical"] = "high"


class CanaryConfig(_Table, frozen=True, kw_only=True):
    baseline: str | None = None  # a profile name or file, or a base URL; set by `spark canary --baseline`
    alpha: Annotated[float, msgspec.Meta(gt=0, lt=1)] = 0.05
    max_slowdown: NonNegativeFloat = 0.2  # fail when the canary's median is this much slower (0.2 = 20 %)
    marginal_slowdown: NonNegativeFloat = 0.1


class ProfileConfig(_Table, frozen=True, kw_only=True):
    description: str = ""
    extends: str | None = None
    services: dict[str, ServiceConfig] = {}
    slo: SloConfig = SloConfig()
    defaults: DefaultsConfig = DefaultsConfig()
    prometheus: PrometheusConfig = PrometheusConfig()
    pm2: Pm2Config = Pm2Config()
    risk: RiskConfig = RiskConfig()
    canary: CanaryConfig = CanaryConfig()


@dataclass(frozen=True, slots=True)
class Target:
    """Where a check sends its request: an absolute URL and the headers to send with it."""

    url: str
    headers: Mapping[str, str]

    @property
    def display(self) -> str:
        """The URL without credentials, fit to print."""
        return Redactor().text(self.url)


@dataclass(frozen=True, slots=True)
class Profile:
    """A loaded, validated profile and the secrets it holds."""

    name: str
    source: str
    config: ProfileConfig
    values: Mapping[str, Any]  # the merged, interpolated TOML, for thresholds named by dotted key
    secrets: frozenset[str]

    @property
    def redactor(self) -> Redactor:
        """Masks the profile's secrets and secret-named environment variables (a target may echo either)."""
        return Redactor([*self.secrets, *environment_secrets()])

    def service(self, name: str) -> ServiceConfig:
        """The service called ``name``, or a ConfigError listing the ones the profile has."""
        try:
            return self.config.services[name]
        except KeyError:
            known = ", ".join(sorted(self.config.services)) or "none"
            raise ConfigError(
                f"service {name!r} is not in profile {self.name!r} (it has: {known})", key="service"
            ) from None

    def target(
        self, *, service: str | None, path: str | None, url: str | None, default_path: str = "/"
    ) -> Target:
        """Resolve a check's ``service`` + ``path`` (``default_path`` when none) or absolute ``url``."""
        if url is not None:
            if service is not None or path is not None:
                raise ConfigError("give either url, or service and path, not both", key="url")
            require_http_url(url, key="url")
            return target_with_credentials(url, {})
        if service is None:
            raise ConfigError("needs service (with path) or url", key="service")
        config = self.service(service)
        path = path or default_path
        if not path.startswith("/"):
            raise ConfigError(f"path must start with '/', got {path!r}", key="path")
        return target_with_credentials(config.url.rstrip("/") + path, dict(config.headers))

    def number(self, value: float | str, *, key: str) -> float:
        """A threshold: a number as written, or the number at a dotted profile key like ``slo.error_rate``."""
        if not isinstance(value, str):
            return float(value)
        found: Any = self.values
        for part in value.split("."):
            if not isinstance(found, Mapping) or part not in found:
                raise ConfigError(f"profile {self.name!r} has no key {value!r}", key=key)
            found = found[part]
        if isinstance(found, bool) or not isinstance(found, int | float) or math.isnan(found):
            shown = self.redactor.value(found)  # the key may name a header or URL holding a secret
            raise ConfigError(f"profile key {value!r} is not a number (it is {shown!r})", key=key)
        return float(found)


def target_with_credentials(url: str, headers: dict[str, str]) -> Target:
    """Move ``user:password@`` out of the URL into a Basic Authorization header (unless one is set)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return Target(url=url, headers=headers)
    netloc = parts.hostname or ""
    if ":" in netloc:  # an IPv6 literal
        netloc = f"[{netloc}]"
    if parts.port is not None:
        netloc = f"{netloc}:{parts.port}"
    if not any(name.lower() == "authorization" for name in headers):
        pair = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
        headers = {**headers, "Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}
    return Target(url=urlunsplit(parts._replace(netloc=netloc)), headers=headers)


@dataclass(frozen=True, slots=True)
class CheckSpec:
    """One ``[[checks]]`` entry: the keys every kind shares, and the kind's own keys unvalidated."""

    name: str
    kind: str
    severity: Severity
    timeout_s: float | None
    retries: int | None
    description: str
    options: Mapping[str, Any]
    index: int


@dataclass(frozen=True, slots=True)
class Suite:
    name: str
    source: str
    description: str
    checks: tuple[CheckSpec, ...]
    secrets: frozenset[str] = frozenset()  # written into the checks' own URLs, headers and bodies


class _CommonCheckKeys(_Table, frozen=True, kw_only=True):
    name: Annotated[str, msgspec.Meta(min_length=1)]
    kind: Annotated[str, msgspec.Meta(min_length=1)]
    severity: Literal["critical", "major", "minor"] = "major"
    timeout_s: PositiveFloat | None = None
    retries: NonNegativeInt | None = None
    description: str = ""


COMMON_CHECK_KEYS = frozenset(_CommonCheckKeys.__struct_fields__)


# --- finding files -------------------------------------------------------------------------------


def shipped_dir(kind: str) -> Path:
    """Where the installed package keeps its shipped profiles or suites."""
    packaged = Path(str(resources.files("spark_ops"))) / "_shipped" / kind
    if packaged.is_dir():
        return packaged
    # A source checkout (editable install): the data sits at the top of the repository.
    return Path(__file__).resolve().parent.parent / kind


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
        raise ConfigError(_TOO_DEEP, file=str(path)) from None
    _require_shallow(document, file=str(path))
    return document


MAX_NESTING = 32
_TOO_DEEP = f"invalid TOML: nested deeper than {MAX_NESTING} levels"


def _require_shallow(value: Any, *, file: str) -> None:
    """A ConfigError unless ``value`` nests at most MAX_NESTING tables and arrays deep.

    Iterative, so a deep document cannot exhaust the stack here; once it passed, the recursive merge,
    interpolation and validation below stay far from Python's recursion limit.
    """
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_NESTING:
            raise ConfigError(_TOO_DEEP, file=file)
        if isinstance(node, dict):
            stack.extend((child, depth + 1) for child in node.values())
        elif isinstance(node, list):
            stack.extend((child, depth + 1) for child in node)


# --- profiles ------------------------------------------------------------------------------------


class _Provenance(dict[str, str]):
    """Dotted key -> the file (or ``--set``) that last wrote it, so errors name the right source."""

    def source_of(self, key: str, default: str) -> str:
        while key:
            if key in self:
                return self[key]
            key = key.rpartition(".")[0]
        return default


def _merge(
    base: dict[str, Any], over: Mapping[str, Any], prov: _Provenance, source: str, prefix: str = ""
) -> None:
    """Deep-merge ``over`` into ``base``: tables merge, anything else is replaced."""
    for key, value in over.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _merge(base[key], value, prov, source, dotted + ".")
        else:
            base[key] = _deep_copy(value)
            prov[dotted] = source


def _deep_copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


def _load_chain(path: Path, prov: _Provenance, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    resolved = path.resolve()
    if resolved in seen:
        chain = " -> ".join(str(p) for p in (*seen, resolved))
        raise ConfigError(f"extends forms a cycle: {chain}", file=str(path), key="extends")
    raw = read_toml(path)
    parent_ref = raw.get("extends")
    merged: dict[str, Any] = {}
    if parent_ref is not None:
        if not isinstance(parent_ref, str):
            raise ConfigError("must be a profile name or file path", file=str(path), key="extends")
        try:
            parent = locate("profiles", parent_ref, relative_to=path.parent)
        except ConfigError as exc:
            raise ConfigError(exc.reason, file=str(path), key="extends") from None
        merged = _load_chain(parent, prov, (*seen, resolved))
    _merge(merged, raw, prov, str(path))
    return merged


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
        raise ConfigError(_TOO_DEEP, file="--set", key=key) from None
    # "120\n[slo]\nerror_rate = 1" is a document, not one value: its second line must not vanish.
    return key, document["v"] if document.keys() == {"v"} else text


def _apply_set(values: dict[str, Any], key: str, value: Any, prov: _Provenance) -> None:
    table = values
    parts = key.split(".")
    for depth, part in enumerate(parts[:-1]):
        nxt = table.setdefault(part, {})
        if not isinstance(nxt, dict):
            where = ".".join(parts[: depth + 1])
            raise ConfigError(f"cannot set {key!r}: {where!r} is not a table", file="--set", key=key)
        table = nxt
    table[parts[-1]] = value
    prov[key] = "--set"


_ENV_REF = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")


def _interpolate(value: Any, prov: _Provenance, secrets: set[str], key: str = "") -> Any:
    """Replace ``${NAME}`` / ``${NAME:-default}`` in every string with the environment's value."""
    if isinstance(value, dict):
        return {k: _interpolate(v, prov, secrets, f"{key}.{k}" if key else k) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, prov, secrets, f"{key}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        name, default = match["name"], match["default"]
        found = os.environ.get(name)
        if found is None:
            if default is None:
                raise ConfigError(
                    f"environment variable {name} is not set (write ${{{name}:-default}} for a default)",
                    file=prov.source_of(key, "profile"),
                    key=key,
                )
            found = default
        if SECRET_NAME.search(name):
            secrets.add(found)
        return found

    return _ENV_REF.sub(substitute, value)


def require_http_url(url: str, *, key: str, file: str | None = None) -> None:
    """A ConfigError naming ``key`` (and ``file``) unless ``url`` is an absolute http(s) URL.

    A URL that passes splits cleanly and has a valid port, so later ``urlsplit(url).port`` cannot raise.
    """
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError for a port outside 0..65535 or not a number
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:  # "http://[::1" (an unclosed IPv6 literal), "http://a:99999"
        valid = False
    if not valid:
        raise ConfigError(
            f"must be an absolute http(s) URL, got {Redactor().text(url)!r}", file=file, key=key
        )


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
        unknown = re.match(r"Object contains unknown field `(.+)`", message)
        missing = re.match(r"Object missing required field `(.+)`", message)
        if unknown or missing:
            field = (unknown or missing)[1]  # type: ignore[index]
            where = f"{where}.{field}" if where else field
            message = "unknown key (check the spelling)" if unknown else "required key is missing"
        if message.startswith("Invalid enum value") and (allowed := _allowed_values(schema, where)):
            message = f"{message}: expected one of {', '.join(map(repr, allowed))}"
        if "[...]" in where:  # msgspec does not name dict keys: find the offending one in the data
            where = _name_dict_keys(raw, where)
        key = ".".join(p for p in (prefix, where) if p)
        if source_of is not None:
            file = source_of(key, file)
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


def load_profile(ref: str = DEFAULT_PROFILE, sets: Iterable[str] = ()) -> Profile:
    """Load, merge, override, interpolate and validate the profile ``ref`` (a name or a file)."""
    path = locate("profiles", ref)
    prov = _Provenance()
    values = _load_chain(path, prov)
    for assignment in sets:
        _apply_set(values, *parse_set(assignment), prov)
    _require_shallow(values, file="--set")  # each file passed alone: only an override can nest deeper
    secrets: set[str] = set()
    values = _interpolate(values, prov, secrets)

    # Services are validated one by one so an error can name the service.
    services = values.get("services", {})
    if not isinstance(services, dict):
        raise ConfigError("must be a table", file=prov.source_of("services", str(path)), key="services")
    for name, service in services.items():
        key = f"services.{name}"
        convert(service, ServiceConfig, file=str(path), prefix=key, source_of=prov.source_of)
    config: ProfileConfig = convert(values, ProfileConfig, file=str(path), source_of=prov.source_of)

    for name, service in config.services.items():
        key = f"services.{name}.url"
        require_http_url(service.url, key=key, file=prov.source_of(key, str(path)))
        secrets.update(header_secrets(service.headers))
        secrets.update(url_secrets(service.url))
    if config.prometheus.url is not None:
        require_http_url(
            config.prometheus.url, key="prometheus.url", file=prov.source_of("prometheus", str(path))
        )
        secrets.update(url_secrets(config.prometheus.url))
    secrets.update(header_secrets(config.prometheus.headers))
    name = path.stem if not _looks_like_file(ref) else str(path)
    return Profile(name=name, source=str(path), config=config, values=values, secrets=frozenset(secrets))


def resolved_view(profile: Profile) -> dict[str, Any]:
    """The profile as it will be used, secrets masked (for ``spark profiles show`` and evidence)."""
    data = msgspec.to_builtins(profile.config)
    for service in data.get("services", {}).values():
        service["headers"] = {k: "***" for k in service.get("headers", {})}
    if data.get("prometheus", {}).get("headers"):
        data["prometheus"]["headers"] = {k: "***" for k in data["prometheus"]["headers"]}
    redacted: dict[str, Any] = profile.redactor.value(data)
    return redacted


# --- suites --------------------------------------------------------------------------------------


def load_suite(ref: str) -> Suite:
    """Load the suite ``ref`` (a name or a file); kind-specific keys are checked by the registry."""
    path = locate("checks", ref)
    file = str(path)
    raw = read_toml(path)
    unknown = set(raw) - {"description", "checks"}
    if unknown:
        raise ConfigError("unknown key (check the spelling)", file=file, key=sorted(unknown)[0])
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
        common_raw = {k: v for k, v in entry.items() if k in COMMON_CHECK_KEYS}
        common: _CommonCheckKeys = convert(common_raw, _CommonCheckKeys, file=file, prefix=prefix)
        if common.name in seen:
            raise ConfigError(f"duplicate check name {common.name!r}", file=file, key=f"{prefix}.name")
        seen.add(common.name)
        specs.append(
            CheckSpec(
                name=common.name,
                kind=common.kind,
                severity=Severity(common.severity),
                timeout_s=common.timeout_s,
                retries=common.retries,
                description=common.description,
                options={k: v for k, v in entry.items() if k not in COMMON_CHECK_KEYS},
                index=index,
            )
        )
    name = path.stem if not _looks_like_file(ref) else str(path)
    secrets = frozenset(secret for spec in specs for secret in option_secrets(spec.options))
    return Suite(name=name, source=file, description=description, checks=tuple(specs), secrets=secrets)

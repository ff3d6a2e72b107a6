"""Profiles: where the platform is and how strict to be.

Loading a profile: find the file, follow ``extends`` (deep merge, the child wins), apply ``--set``
overrides, interpolate ``${ENV}``, then validate against the schema. Every error names the file (in the
``extends`` chain, or ``--set``) that wrote the bad key, and the dotted key.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from spark_ops.config.files import display_name, locate, read_toml, require_shallow
from spark_ops.config.overrides import SET_SOURCE, Provenance, apply_set, interpolate, parse_set
from spark_ops.config.schema import ProfileConfig, ServiceConfig, convert
from spark_ops.config.target import Target, require_http_url, target_with_credentials
from spark_ops.errors import ConfigError
from spark_ops.redact import Redactor, environment_secrets, header_secrets, url_secrets

DEFAULT_PROFILE = "dev"


@dataclass(frozen=True, slots=True)
class Profile:
    """A loaded, validated profile and the secrets it holds."""

    name: str
    source: str
    config: ProfileConfig
    values: Mapping[str, Any]  # the merged, interpolated TOML, for thresholds named by dotted key
    secrets: frozenset[str]
    # Masks the profile's secrets and secret-named environment variables (a target may echo either).
    # Built once here: a Redactor prepares every encoded form of every secret.
    redactor: Redactor = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "redactor", Redactor([*self.secrets, *environment_secrets()]))

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


def load_profile(ref: str = DEFAULT_PROFILE, sets: Iterable[str] = ()) -> Profile:
    """Load, merge, override, interpolate and validate the profile ``ref`` (a name or a file)."""
    path = locate("profiles", ref)
    provenance = Provenance()
    values = _load_chain(path, provenance)
    for assignment in sets:
        apply_set(values, *parse_set(assignment), provenance)
    require_shallow(values, file=SET_SOURCE)  # each file passed alone: only an override can nest deeper
    secrets: set[str] = set()
    values = interpolate(values, provenance, secrets)

    # Services are validated one by one so an error can name the service.
    services = values.get("services", {})
    if not isinstance(services, dict):
        file = provenance.source_of("services", str(path))
        raise ConfigError("must be a table", file=file, key="services")
    for name, service in services.items():
        key = f"services.{name}"
        convert(service, ServiceConfig, file=str(path), prefix=key, source_of=provenance.source_of)
    config: ProfileConfig = convert(values, ProfileConfig, file=str(path), source_of=provenance.source_of)

    for name, service_config in config.services.items():
        key = f"services.{name}.url"
        require_http_url(service_config.url, key=key, file=provenance.source_of(key, str(path)))
        secrets.update(header_secrets(service_config.headers))
        secrets.update(url_secrets(service_config.url))
    if config.prometheus.url is not None:
        key = "prometheus.url"
        require_http_url(config.prometheus.url, key=key, file=provenance.source_of(key, str(path)))
        secrets.update(url_secrets(config.prometheus.url))
    secrets.update(header_secrets(config.prometheus.headers))
    return Profile(
        name=display_name(ref, path),
        source=str(path),
        config=config,
        values=values,
        secrets=frozenset(secrets),
    )


def resolved_view(profile: Profile) -> dict[str, Any]:
    """The profile as it will be used, secrets masked (for ``spark profiles show`` and evidence)."""
    data = msgspec.to_builtins(profile.config)
    for service in data.get("services", {}).values():
        service["headers"] = {k: "***" for k in service.get("headers", {})}
    if data.get("prometheus", {}).get("headers"):
        data["prometheus"]["headers"] = {k: "***" for k in data["prometheus"]["headers"]}
    redacted: dict[str, Any] = profile.redactor.value(data)
    return redacted


# --- extends: a chain of files merged into one document ---------------------------------------------


def _load_chain(path: Path, provenance: Provenance, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The document at ``path`` merged over its ``extends`` ancestors, recording who wrote each key."""
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
        merged = _load_chain(parent, provenance, (*seen, resolved))
    _merge(merged, raw, provenance, str(path))
    return merged


def _merge(
    base: dict[str, Any], over: Mapping[str, Any], provenance: Provenance, source: str, prefix: str = ""
) -> None:
    """Deep-merge ``over`` into ``base``: tables merge, anything else is replaced."""
    for key, value in over.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _merge(base[key], value, provenance, source, dotted + ".")
        else:
            base[key] = _deep_copy(value)
            provenance[dotted] = source


def _deep_copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value

"""Lint beside the proof: what can be seen wrong in a suite without breaking anything.

- a threshold above the profile's SLO target of the quantity it judges (``max = 1e9`` on latency), named
  by the field, the option or a declared ``unit``;
- a check that asserts nothing (an HTTP check accepting every status, with no other assertion);
- two checks with the same name (``duplicate_names``: read before the loader, which stops at the first);
- a threshold naming a profile key that one of the shipped profiles does not have.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from spark_ops.errors import ConfigError
from spark_ops.prove.breakage import number_at, quantity_of

if TYPE_CHECKING:
    from spark_ops.config import Profile, Suite
    from spark_ops.registry import PreparedCheck

# Option keys holding a number or the dotted name of a profile key, and the bad direction of each.
_UPPER_KEYS = (
    "max",
    "warn_max",
    "max_latency_ms",
    "max_p50_ms",
    "max_p95_ms",
    "max_p99_ms",
    "max_error_rate",
)
_THRESHOLD_KEYS = (*_UPPER_KEYS, "min", "warn_min")
# The profile key a latency probe's option judges against when it names none.
_OPTION_QUANTITY = {
    "max_latency_ms": "slo.latency_p95_ms",
    "max_p95_ms": "slo.latency_p95_ms",
    "max_error_rate": "slo.error_rate",
}


@dataclass(frozen=True, slots=True)
class Finding:
    check: str
    rule: str  # contradicts-profile | no-assertion | unknown-profile-key | duplicate-name
    message: str
    blocking: bool = True  # a defect (exit 1); False: worth a look only

    def describe(self) -> str:
        return f"{self.check}: {self.message} [{self.rule}]"


def lint(suite: Suite, checks: Sequence[PreparedCheck], profile: Profile) -> Iterator[Finding]:
    """Every finding on the loaded ``suite`` (as bound to ``profile``)."""
    shipped = _shipped_profiles()
    for prepared in checks:
        spec = prepared.spec
        options = dict(spec.options)
        yield from _contradictions(spec.name, options, profile)
        if spec.kind == "http" and _accepts_every_status(options) and not _asserts_more(options):
            yield Finding(
                spec.name,
                "no-assertion",
                f"expect_status {options.get('expect_status')} accepts every answer and nothing else is "
                "asserted: it can only fail when the service is unreachable",
            )
        for key, value in _thresholds(options):
            if not isinstance(value, str):
                continue
            lacking = [name for name, values in shipped.items() if number_at(values, value) is None]
            if lacking:
                yield Finding(
                    spec.name,
                    "unknown-profile-key",
                    f"{key} = {value!r} names a key the shipped profile(s) {', '.join(lacking)} lack: "
                    "the suite fails to load against them",
                    blocking=False,
                )


def duplicate_names(entries: Any) -> list[Finding]:
    """Every name two ``[[checks]]`` entries share (the loader names only the first)."""
    if not isinstance(entries, list):
        return []
    names = Counter(entry.get("name") for entry in entries if isinstance(entry, dict))
    return [
        Finding(
            str(name), "duplicate-name", f"{count} checks are named {name!r}: results cannot be told apart"
        )
        for name, count in names.items()
        if isinstance(name, str) and count > 1
    ]


def _contradictions(name: str, options: Mapping[str, Any], profile: Profile) -> Iterator[Finding]:
    """Upper bounds written as numbers above the profile's target for the quantity they judge (named by
    the field, the option, or the declared ``unit`` of an slo or promql reading)."""
    field = options.get("field") if isinstance(options.get("field"), str) else None
    unit = options.get("unit") if isinstance(options.get("unit"), str) else None
    for key, value in _thresholds(options):
        if key not in _UPPER_KEYS or isinstance(value, str | bool):
            continue
        if key in ("max", "warn_max"):
            quantity = quantity_of(field, unit=unit)
        else:
            quantity = quantity_of(None, _OPTION_QUANTITY.get(key))
        if quantity is None:
            continue
        target = number_at(profile.values, quantity.profile_key)
        if target is not None and float(value) > target:
            yield Finding(
                name,
                "contradicts-profile",
                f"{key} = {value:g} is above the {quantity.name} target of profile {profile.name!r} "
                f"({quantity.profile_key} = {target:g}): write {key} = {quantity.profile_key!r}",
            )


def _thresholds(options: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    for key in _THRESHOLD_KEYS:
        if key in options:
            yield key, options[key]
    for index, assertion in enumerate(options.get("values") or []):  # a metrics check's value bounds
        if isinstance(assertion, Mapping):
            for key in ("min", "max"):
                if key in assertion:
                    yield f"values[{index}].{key}", assertion[key]


def _accepts_every_status(options: Mapping[str, Any]) -> bool:
    from spark_ops.checks.http import parse_status_ranges

    try:
        ranges = parse_status_ranges(list(options.get("expect_status", [200])))
    except ConfigError:
        return False
    return all(any(low <= code <= high for low, high in ranges) for code in (200, 404, 500, 503))


def _asserts_more(options: Mapping[str, Any]) -> bool:
    return any(options.get(key) for key in ("expect_json", "body_contains", "max_latency_ms"))


def _shipped_profiles() -> dict[str, Mapping[str, Any]]:
    """The shipped profiles' merged values (``extends`` followed), by name."""
    from spark_ops.config import load_profile
    from spark_ops.config.files import shipped_dir

    found: dict[str, Mapping[str, Any]] = {}
    for path in sorted(shipped_dir("profiles").glob("*.toml")):
        try:
            found[path.stem] = load_profile(str(path)).values
        except ConfigError:  # a shipped profile needing an environment variable: judged by others
            continue
    return found

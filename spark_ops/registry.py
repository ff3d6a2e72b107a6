"""Check kinds are plug-ins: every kind, built-in or third-party, comes from the entry-point group
``spark_ops.checks`` and is loaded the same way.

A kind is a class with ``kind`` (its name), ``summary`` (one line), ``Options`` (a ``msgspec.Struct``
of its own keys; unknown keys are errors), ``__init__(options, profile)`` that resolves services and
thresholds (raising ``ConfigError`` with the key), and ``async judge(probe) -> Judgement``.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import msgspec

from spark_ops.config import CheckSpec, Profile, Suite
from spark_ops.config.schema import convert
from spark_ops.errors import ConfigError
from spark_ops.model import Judgement, Severity

if TYPE_CHECKING:
    from spark_ops.transport import Probe

ENTRY_POINT_GROUP = "spark_ops.checks"


class Check(Protocol):
    """A configured check: it only judges; the runner owns deadlines, retries and timing.

    Optional attributes: ``threshold`` (shown when the target never answered), ``planned_load`` (what it
    will send, for the canary's confirmation) and ``minimum_timeout_s`` (for checks that run long by design).
    """

    async def judge(self, probe: Probe) -> Judgement: ...


class CheckKind(Protocol):
    kind: ClassVar[str]
    summary: ClassVar[str]
    Options: ClassVar[type[msgspec.Struct]]

    def __call__(self, options: Any, profile: Profile) -> Check: ...


@dataclass(frozen=True, slots=True)
class PreparedCheck:
    """A suite entry bound to its kind and profile, with the deadline and retries it runs under."""

    name: str
    kind: str
    severity: Severity
    timeout_s: float
    retries: int
    check: Check


def discover() -> dict[str, EntryPoint]:
    """Every registered kind name and its entry point, without importing any of them."""
    found: dict[str, EntryPoint] = {}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        other = found.get(entry.name)
        if other is not None and other.value != entry.value:
            raise ConfigError(
                f"two plug-ins register check kind {entry.name!r}: {other.value} and {entry.value}"
            )
        found[entry.name] = entry
    return dict(sorted(found.items()))


def load_kind(name: str, known: dict[str, EntryPoint] | None = None) -> CheckKind:
    """The class of kind ``name``; unknown or broken plug-ins are configuration errors."""
    known = discover() if known is None else known
    entry = known.get(name)
    if entry is None:
        raise ConfigError(f"unknown check kind {name!r} (known: {', '.join(known) or 'none'})", key="kind")
    try:
        kind_class: CheckKind = entry.load()
    except Exception as exc:  # a third-party plug-in may fail to import in any way
        raise ConfigError(f"check kind {name!r} ({entry.value}) failed to load: {exc}", key="kind") from None
    for attribute in ("Options", "judge"):
        if not hasattr(kind_class, attribute):
            raise ConfigError(f"check kind {name!r} ({entry.value}) has no {attribute}", key="kind")
    return kind_class


def prepare(suite: Suite, profile: Profile) -> list[PreparedCheck]:
    """Bind every check of ``suite`` to its kind and ``profile``; errors name the suite file and key."""
    known = discover()
    prepared: list[PreparedCheck] = []
    for spec in suite.checks:
        prefix = f"checks[{spec.index}]"
        try:
            prepared.append(_prepare_one(spec, profile, known, suite.source, prefix))
        except ConfigError as exc:
            if exc.file is not None:
                raise
            key = f"{prefix}.{exc.key}" if exc.key else prefix
            raise ConfigError(f"{exc.reason} (check {spec.name!r})", file=suite.source, key=key) from None
    return prepared


def _prepare_one(
    spec: CheckSpec, profile: Profile, known: dict[str, EntryPoint], file: str, prefix: str
) -> PreparedCheck:
    kind_class = load_kind(spec.kind, known)
    options = convert(dict(spec.options), kind_class.Options, file=file, prefix=prefix)
    defaults = profile.config.defaults
    check = kind_class(options, profile)
    # A kind that runs for a while by design (a load probe) says how long it needs at least.
    needed_s = float(getattr(check, "minimum_timeout_s", 0.0))
    if spec.timeout_s is not None and spec.timeout_s < needed_s:
        raise ConfigError(
            f"{spec.timeout_s:g} s is shorter than this check needs ({needed_s:g} s)", key="timeout_s"
        )
    return PreparedCheck(
        name=spec.name,
        kind=spec.kind,
        severity=spec.severity,
        timeout_s=spec.timeout_s if spec.timeout_s is not None else max(defaults.timeout_s, needed_s),
        retries=spec.retries if spec.retries is not None else defaults.retries,
        check=check,
    )


def describe_kinds() -> list[tuple[str, str, str]]:
    """(kind, summary, where it comes from) of every installed kind, for ``spark checks list``."""
    known = discover()
    rows = []
    for name in known:
        kind_class = load_kind(name, known)
        rows.append((name, str(getattr(kind_class, "summary", "")), known[name].value))
    return rows

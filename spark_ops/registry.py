"""Check kinds are plug-ins: every kind, built-in or third-party, comes from the entry-point group
``spark_ops.checks`` and is loaded the same way.

A kind is a class with ``kind`` (its name), ``summary`` (one line), ``Options`` (a ``msgspec.Struct``
of its own keys; unknown keys are errors), ``__init__(options, profile)`` that resolves services and
thresholds (raising ``ConfigError`` with the key), and ``async judge(probe) -> Judgement``; ``CheckBase``
gives the other attributes of ``Check`` their defaults. Plug-in authors import all of it from
``spark_ops.api``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import msgspec

from spark_ops.config import CheckSpec, Profile, Suite
from spark_ops.config.schema import convert
from spark_ops.errors import ConfigError
from spark_ops.model import Judgement

if TYPE_CHECKING:
    from spark_ops.prove.breakage import Breakage
    from spark_ops.transport import Probe

ENTRY_POINT_GROUP = "spark_ops.checks"


class Check(Protocol):
    """A configured check: it only judges; the runner owns deadlines, retries and timing."""

    @property
    def threshold(self) -> Any:
        """What it judges against, shown when the target never answered (None: nothing to show)."""

    @property
    def planned_load(self) -> str:
        """What it will send, for the confirmation a real canary asks."""

    @property
    def minimum_timeout_s(self) -> float:
        """How long it needs at least (a load probe runs for a while by design)."""

    @property
    def shares_fetches(self) -> bool:
        """Whether it may judge the run's one response to a request other checks send too."""

    @property
    def runs_alone(self) -> bool:
        """Whether it runs on an event loop of its own (a probe whose timing the other checks must not
        disturb)."""

    def breakages(self, profile: Profile) -> Sequence[Breakage]:
        """The ways the platform breaks that this check exists to catch (``spark suite prove``)."""

    async def judge(self, probe: Probe) -> Judgement: ...


class CheckBase:
    """A base for check kinds with the sane defaults of every optional attribute of ``Check``.

    A kind sets ``kind``, ``summary`` and ``Options``, takes ``(options, profile)`` and implements
    ``judge``; it overrides an attribute only when its default is wrong for it.
    """

    kind: ClassVar[str]
    summary: ClassVar[str] = ""
    Options: ClassVar[type[msgspec.Struct]]

    @property
    def threshold(self) -> Any:
        return None

    @property
    def planned_load(self) -> str:
        return "requests of a plug-in kind"

    @property
    def minimum_timeout_s(self) -> float:
        return 0.0

    @property
    def shares_fetches(self) -> bool:
        return True

    @property
    def runs_alone(self) -> bool:
        return False

    def breakages(self, profile: Profile) -> Sequence[Breakage]:
        # Declares none: `spark suite prove` reports the check "not provable", never "proven".
        return ()

    async def judge(self, probe: Probe) -> Judgement:
        raise NotImplementedError(f"{type(self).__name__}.judge")


class CheckKind(Protocol):
    kind: ClassVar[str]
    summary: ClassVar[str]
    Options: ClassVar[type[msgspec.Struct]]

    def __call__(self, options: Any, profile: Profile) -> Check: ...


# What every kind must have; CheckBase gives the rest their defaults.
REQUIRED_ATTRIBUTES = ("Options", "judge")


@dataclass(frozen=True, slots=True)
class PreparedCheck:
    """A suite entry bound to its kind and profile, with the deadline and retries it runs under."""

    spec: CheckSpec
    timeout_s: float
    retries: int
    check: Check

    @property
    def name(self) -> str:
        return self.spec.name


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
    for attribute in REQUIRED_ATTRIBUTES:
        if not hasattr(kind_class, attribute):
            raise ConfigError(f"check kind {name!r} ({entry.value}) has no {attribute}", key="kind")
    return _with_defaults(kind_class, name, entry)


def _with_defaults(kind_class: Any, name: str, entry: EntryPoint) -> CheckKind:
    """``kind_class``, or for a kind written without ``CheckBase`` the same class with its defaults mixed in
    (the kind's own attributes first), so the runner never has to ask whether an attribute exists."""
    if isinstance(kind_class, type) and issubclass(kind_class, CheckBase):
        return kind_class  # type: ignore[return-value]
    if not isinstance(kind_class, type):
        raise ConfigError(f"check kind {name!r} ({entry.value}) is not a class", key="kind")
    try:
        mixed = type(kind_class.__name__, (kind_class, CheckBase), {"__module__": kind_class.__module__})
    except TypeError as exc:  # a class that cannot be subclassed (final, or a layout conflict)
        raise ConfigError(f"check kind {name!r} ({entry.value}) cannot be used: {exc}", key="kind") from None
    return mixed  # type: ignore[return-value]


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
    needed_s = float(check.minimum_timeout_s)
    if spec.timeout_s is not None and spec.timeout_s < needed_s:
        raise ConfigError(
            f"{spec.timeout_s:g} s is shorter than this check needs ({needed_s:g} s)", key="timeout_s"
        )
    return PreparedCheck(
        spec=spec,
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
        rows.append((name, str(kind_class.summary), known[name].value))
    return rows

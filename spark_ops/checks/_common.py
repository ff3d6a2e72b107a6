"""What several kinds share: targets, inclusive bounds, JSON fields, numbers that fail closed."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from spark_ops import strict_json
from spark_ops.errors import ConfigError, TargetError, clip
from spark_ops.model import Status

if TYPE_CHECKING:  # the runner (httpx, aiohttp) loads only when checks run
    from spark_ops.transport import Fetched

Threshold = float | str  # a number, or the dotted name of a profile key such as "slo.latency_p95_ms"


class Options(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """Base of every kind's options: unknown keys are configuration errors."""


class TargetOptions(Options, frozen=True, kw_only=True):
    """``service`` + ``path`` (resolved against the profile), or an absolute ``url``."""

    service: str | None = None
    path: str | None = None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class Bounds:
    """Inclusive ``min``/``max``, with an optional warning band inside them."""

    min: float | None = None
    max: float | None = None
    warn_min: float | None = None
    warn_max: float | None = None

    @classmethod
    def resolve(
        cls,
        profile: Any,
        *,
        min: Threshold | None,
        max: Threshold | None,
        warn_min: Threshold | None = None,
        warn_max: Threshold | None = None,
        required: bool = True,
        key_prefix: str = "",
        key_suffix: str = "",
    ) -> Bounds:
        """Resolve thresholds; errors name ``{key_prefix}min{key_suffix}`` (e.g. ``min_bytes``)."""

        def number(value: Threshold | None, key: str) -> float | None:
            if value is None:
                return None
            resolved: float = profile.number(value, key=key_prefix + key + key_suffix)
            if math.isnan(resolved):
                raise ConfigError("must not be NaN", key=key_prefix + key + key_suffix)
            return resolved

        bounds = cls(
            number(min, "min"), number(max, "max"), number(warn_min, "warn_min"), number(warn_max, "warn_max")
        )
        if required and bounds.min is None and bounds.max is None:
            raise ConfigError("needs min or max", key=key_prefix + "max" + key_suffix)
        if bounds.min is not None and bounds.max is not None and bounds.min > bounds.max:
            raise ConfigError(
                f"min {bounds.min:g} is above max {bounds.max:g}", key=key_prefix + "min" + key_suffix
            )
        return bounds

    def as_threshold(self) -> dict[str, float]:
        """The bounds as the result JSON shows them."""
        names = ("min", "max", "warn_min", "warn_max")
        return {name: value for name in names if (value := getattr(self, name)) is not None}

    def describe(self) -> str:
        return ", ".join(f"{k} {_fmt(v)}" for k, v in self.as_threshold().items())

    def judge(self, value: float, what: str) -> tuple[Status, str]:
        """PASS inside the bounds, WARN in the warning band, FAIL outside or for NaN and infinities."""
        shown = f"{what} = {_fmt(value)}"
        if not math.isfinite(value):
            return Status.FAIL, f"{shown}, not a finite number"
        if self.min is not None and value < self.min:
            return Status.FAIL, f"{shown}, below min {_fmt(self.min)}"
        if self.max is not None and value > self.max:
            return Status.FAIL, f"{shown}, above max {_fmt(self.max)}"
        if self.warn_min is not None and value < self.warn_min:
            return Status.WARN, f"{shown}, below warn_min {_fmt(self.warn_min)}"
        if self.warn_max is not None and value > self.warn_max:
            return Status.WARN, f"{shown}, above warn_max {_fmt(self.warn_max)}"
        return Status.PASS, f"{shown} ({self.describe()})"


def _fmt(value: float) -> str:
    return f"{value:g}"


def number_from(value: Any, what: str) -> float:
    """``value`` as a float; null, booleans, strings and containers are the target's fault (FAIL)."""
    if value is None:
        raise TargetError(f"{what} is null, not a number")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TargetError(f"{what} is {type(value).__name__} {_short(value)}, not a number")
    try:
        return float(value)
    except OverflowError:  # a JSON integer like 1e400 written out in digits: no float holds it
        digits = len(str(abs(value)))
        raise TargetError(f"{what} is an integer of {digits} digits, beyond any float") from None


def parse_json(fetched: Fetched) -> Any:
    """The body as JSON; empty, non-JSON, ambiguous (a key twice) or absurdly nested bodies are the
    target's fault (FAIL)."""
    if not fetched.body.strip():
        raise TargetError(f"{fetched.describe()}: empty body where JSON was expected")
    try:
        return strict_json.loads(fetched.body)
    except strict_json.AmbiguousJson as exc:
        raise TargetError(f"{fetched.describe()}: ambiguous JSON: {exc}") from None
    except (ValueError, RecursionError) as exc:
        kind = fetched.headers.get("content-type", "unknown content type")
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc).split(":")[0]
        raise TargetError(f"{fetched.describe()}: body is not JSON ({kind}): {reason}") from None


def _short(value: Any, limit: int = 60) -> str:
    return clip(repr(value), limit)


def _label_value(value: Any) -> str:
    # Escaped as in the exposition format, so two different label sets never print alike on one line.
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def series_name(name: str, labels: Mapping[str, Any]) -> str:
    """``up{instance="a:1", job="x"}`` as PromQL selects it; ``{job="x"}`` when there is no name."""
    pairs = ", ".join(f'{k}="{_label_value(v)}"' for k, v in sorted(labels.items()) if k != "__name__")
    return f"{name}{{{pairs}}}" if pairs or not name else name


def require_2xx(fetched: Fetched) -> None:
    """A health or metrics answer must be 2xx before its body is judged."""
    if not 200 <= fetched.status < 300:
        raise TargetError(f"{fetched.describe()}: expected a 2xx answer")

"""``compare``: a canary against its baseline on one metric, as Kayenta's judge does, from a Prometheus
range query.

The query is a template: ``{role}`` becomes the canary's label value, then the baseline's (e.g.
``rate(spark_http_requests_total{role="{role}", code=~"5.."}[30s])``). Both are range-queried over the
last ``lookback_s`` seconds at ``step_s``; every value of every series a side returns is one sample of
that side (the series are pooled: write the query so each side's series measure the same thing, or
aggregate them with ``sum``/``avg``). The two sample sets are compared with a Mann-Whitney U test
(one-sided for ``direction = "increase"`` or ``"decrease"``, two-sided for ``"either"``) and the effect
size, the relative change of the medians:

- FAIL: significant (p < alpha) and the bad change is beyond ``max_effect``; WARN: beyond
  ``marginal_effect``; PASS: not significant, or within ``marginal_effect``;
- fail closed: NaN or an infinite sample FAILs; no data on a side FAILs (``must_have_data = false``
  makes it INCONCLUSIVE); fewer than ``min_samples`` on a side is INCONCLUSIVE; an HTTP or Prometheus
  error, or an answer that is not a range vector, is ERROR; Prometheus' warnings make a PASS a WARN.

A metric whose failure must fail the canary whatever the score is a check with ``severity = "critical"``
(any critical check failing makes the risk CRITICAL, which fails at every ``--fail-on``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

import msgspec

from spark_ops.checks._common import Options
from spark_ops.checks._prometheus import (
    MAX_TEXT_CHARS,
    QUERY_RANGE_PATH,
    api_target,
    read_data,
    sample_value,
    server_target,
)
from spark_ops.config import Profile, Target
from spark_ops.errors import ConfigError, clip
from spark_ops.model import Judgement, Status
from spark_ops.registry import CheckBase
from spark_ops.stats import Alternative, mann_whitney, median, relative_change, verdict_of

if TYPE_CHECKING:  # the runner (httpx, aiohttp) loads only when checks run
    from spark_ops.prove.breakage import Breakage
    from spark_ops.transport import Fetched, Probe

PLACEHOLDER = "{role}"
MAX_POINTS = 11_000  # Prometheus refuses a range query of more points per series
ALTERNATIVES: dict[str, Alternative] = {"increase": "greater", "decrease": "less", "either": "two-sided"}
BAD_CHANGE = {
    "increase": "an increase is bad",
    "decrease": "a decrease is bad",
    "either": "any change is bad",
}

Fraction = Annotated[float, msgspec.Meta(ge=0)]


class CompareOptions(Options, frozen=True, kw_only=True):
    query: Annotated[str, msgspec.Meta(min_length=1)]  # a PromQL template with a {role} placeholder
    canary: Annotated[str, msgspec.Meta(min_length=1)]  # the label value {role} becomes for the canary
    baseline: Annotated[str, msgspec.Meta(min_length=1)]
    direction: Literal["increase", "decrease", "either"] = "increase"  # which change is bad
    max_effect: Fraction = 0.2  # allowed relative change of the medians (0.2 = 20 %)
    marginal_effect: Fraction | None = None  # the WARN band; default half of max_effect
    alpha: Annotated[float, msgspec.Meta(gt=0, lt=1)] | None = None  # default: the profile's [canary] alpha
    must_have_data: bool = True  # no data on a side is FAIL; false: INCONCLUSIVE
    lookback_s: Annotated[float, msgspec.Meta(gt=0)] = 300.0
    step_s: Annotated[float, msgspec.Meta(gt=0)] = 15.0
    min_samples: Annotated[int, msgspec.Meta(ge=1)] = 10
    prometheus_url: str | None = None  # else the profile's [prometheus] url


@dataclass(frozen=True, slots=True)
class Side:
    """One role's pooled samples (finite or not) from its range query, and Prometheus' warnings."""

    samples: list[float]
    series: int
    warnings: list[str]


class CompareCheck(CheckBase):
    kind: ClassVar[str] = "compare"
    summary: ClassVar[str] = "canary vs baseline on a PromQL range query: Mann-Whitney and effect size"
    Options: ClassVar[type[CompareOptions]] = CompareOptions

    def __init__(
        self, options: CompareOptions, profile: Profile, *, clock: Callable[[], float] = time.time
    ) -> None:
        if PLACEHOLDER not in options.query:
            raise ConfigError(f"must hold the {PLACEHOLDER} placeholder the roles replace", key="query")
        if options.canary == options.baseline:
            raise ConfigError(f"canary and baseline are both {options.canary!r}", key="canary")
        marginal = options.max_effect / 2 if options.marginal_effect is None else options.marginal_effect
        if marginal > options.max_effect:
            raise ConfigError(
                f"{marginal:g} is above max_effect {options.max_effect:g}", key="marginal_effect"
            )
        if options.lookback_s / options.step_s > MAX_POINTS:
            raise ConfigError(
                f"lookback_s / step_s is over {MAX_POINTS} points, more than Prometheus answers", key="step_s"
            )
        self.options = options
        self.marginal_effect = marginal
        self.alpha = profile.config.canary.alpha if options.alpha is None else options.alpha
        self.server = server_target(options.prometheus_url, profile)
        self.clock = clock
        self.what = repr(clip(" ".join(options.query.split()), 100))

    @property
    def threshold(self) -> dict[str, Any]:
        return {
            "direction": self.options.direction,
            "max_effect": self.options.max_effect,
            "marginal_effect": self.marginal_effect,
            "alpha": self.alpha,
            "min_samples": self.options.min_samples,
        }

    @property
    def planned_load(self) -> str:
        return f"2 range queries to {self.server.display}"

    def query_for(self, role: str) -> str:
        """The template with ``{role}`` replaced by ``role``, escaped as a PromQL string's content."""
        escaped = role.replace("\\", "\\\\").replace('"', '\\"')
        return self.options.query.replace(PLACEHOLDER, escaped)

    def _target(self, role: str, end: float) -> Target:
        start = end - self.options.lookback_s
        params = {
            "query": self.query_for(role),
            "start": f"{start:.3f}",
            "end": f"{end:.3f}",
            "step": f"{self.options.step_s:g}",
        }
        return api_target(self.server, QUERY_RANGE_PATH, params)

    def breakages(self, profile: Profile) -> list[Breakage]:
        from spark_ops.prove import kinds  # loaded by `spark suite prove` only

        return kinds.compare(self, profile)

    async def judge(self, probe: Probe) -> Judgement:
        end = self.clock()
        headers = {"Accept": "application/json"}
        # One after the other: a failed first query never leaves the second running unawaited.
        canary_answer = await probe.fetch(self._target(self.options.canary, end), headers=headers)
        baseline_answer = await probe.fetch(self._target(self.options.baseline, end), headers=headers)
        artifacts = {"canary.json": canary_answer.body, "baseline.json": baseline_answer.body}
        sides: dict[str, Side] = {}
        for role, fetched in (("canary", canary_answer), ("baseline", baseline_answer)):
            side = _read_side(fetched, self.server.display)
            if isinstance(side, str):
                return self._judgement(Status.ERROR, f"{role}: {side}", artifacts=artifacts)
            sides[role] = side
        status, reason, observed, readings = self._compare(sides["canary"], sides["baseline"])
        warnings = [text for side in sides.values() for text in side.warnings]
        if warnings and status is Status.PASS:
            status = Status.WARN  # a partial or doubtful answer never passes outright
        warned = "".join(f"; Prometheus warns: {clip(text, MAX_TEXT_CHARS)}" for text in warnings)
        return self._judgement(
            status, f"{reason}: {status}{warned}", observed=observed, readings=readings, artifacts=artifacts
        )

    def _judgement(self, status: Status, reason: str, **fields: Any) -> Judgement:
        return Judgement(status, f"{self.what}: {reason}", threshold=self.threshold, **fields)

    def _compare(self, canary: Side, baseline: Side) -> tuple[Status, str, Any, dict[str, float]]:
        """The status, the reason (without the status), observed and readings of the two sides."""
        counts: dict[str, float] = {
            "canary_samples": len(canary.samples),
            "baseline_samples": len(baseline.samples),
        }
        for role, side in (("canary", canary), ("baseline", baseline)):
            bad = [value for value in side.samples if not math.isfinite(value)]
            if bad:
                shown = ", ".join(sorted({f"{value}" for value in bad}))
                reason = f"{role} has {len(bad)} of {len(side.samples)} samples not a finite number ({shown})"
                return Status.FAIL, reason, None, counts
        empty = [role for role, side in (("canary", canary), ("baseline", baseline)) if not side.samples]
        if empty:
            status = Status.FAIL if self.options.must_have_data else Status.INCONCLUSIVE
            reason = (
                f"no data for {' and '.join(empty)} over the last {self.options.lookback_s:g} s "
                f"(must_have_data = {str(self.options.must_have_data).lower()})"
            )
            return status, reason, None, counts
        canary_median, baseline_median = median(canary.samples), median(baseline.samples)
        sides = (
            f"canary median {canary_median:.4g} ({_count(canary)}) vs baseline "
            f"{baseline_median:.4g} ({_count(baseline)})"
        )
        readings = {**counts, "canary_median": canary_median, "baseline_median": baseline_median}
        too_few = min(len(canary.samples), len(baseline.samples)) < self.options.min_samples
        if too_few:
            reason = f"{sides}: fewer than min_samples {self.options.min_samples} on a side"
            return Status.INCONCLUSIVE, reason, None, readings
        _, p_value = mann_whitney(canary.samples, baseline.samples, ALTERNATIVES[self.options.direction])
        effect = relative_change(canary_median, baseline_median)
        bad_effect = {"increase": effect, "decrease": -effect, "either": abs(effect)}[self.options.direction]
        verdict = verdict_of(p_value, self.alpha, bad_effect, self.options.max_effect, self.marginal_effect)
        status = {"pass": Status.PASS, "marginal": Status.WARN, "fail": Status.FAIL}[verdict]
        reason = (
            f"{sides}, {_percent(effect)}, Mann-Whitney p={p_value:.2g} {self._rule(p_value, bad_effect)}"
        )
        readings = {**readings, "p_value": p_value}
        if math.isfinite(effect):
            readings["effect"] = effect
        observed = {
            "canary_median": canary_median,
            "baseline_median": baseline_median,
            "effect": effect if math.isfinite(effect) else None,  # None: a change from a zero baseline
            "p_value": p_value,
            **counts,
        }
        return status, reason, observed, readings

    def _rule(self, p_value: float, bad_effect: float) -> str:
        """Which rule decided, in words."""
        if p_value >= self.alpha:
            return f">= alpha {self.alpha:g}, no significant change"
        bad = BAD_CHANGE[self.options.direction]
        if bad_effect > self.options.max_effect:
            return f"< alpha {self.alpha:g}, beyond max_effect {_share(self.options.max_effect)} ({bad})"
        if bad_effect > self.marginal_effect:
            return (
                f"< alpha {self.alpha:g}, beyond marginal_effect {_share(self.marginal_effect)} but within "
                f"max_effect {_share(self.options.max_effect)} ({bad})"
            )
        return f"< alpha {self.alpha:g}, but within marginal_effect {_share(self.marginal_effect)} ({bad})"


def _count(side: Side) -> str:
    """``n=20``, or ``n=20 in 2 series`` when a side's series were pooled."""
    return f"n={len(side.samples)}" + (f" in {side.series} series" if side.series > 1 else "")


def _percent(effect: float) -> str:
    if math.isinf(effect):
        return f"{'+' if effect > 0 else '-'}inf % (from a zero baseline)"
    percent = effect * 100
    return f"{percent:+.0f} %" if abs(percent) >= 100 else f"{percent:+.3g} %"


def _share(fraction: float) -> str:
    return f"{fraction * 100:.3g} %"


def _read_side(fetched: Fetched, server: str) -> Side | str:
    """One role's pooled samples, or why the answer cannot be judged."""
    data = read_data(fetched, server)
    if isinstance(data, str):
        return data
    if data.result_type != "matrix" or not isinstance(data.result, list):
        return (
            f"Prometheus {server} answered a {clip(repr(data.result_type), 40)}, not a range vector (matrix)"
        )
    samples: list[float] = []
    for index, series in enumerate(data.result):
        values = series.get("values") if isinstance(series, dict) else None
        if not isinstance(values, list):
            return f"Prometheus {server}: series {index} of the range vector has no values list"
        for pair in values:
            value = sample_value(pair)
            if value is None:
                return (
                    f'Prometheus {server}: series {index} holds a value that is not a [time, "number"] pair'
                )
            samples.append(value)
    return Side(samples, len(data.result), data.warnings)

"""``promql``: an instant query against a Prometheus server, every series judged against min/max.

The answer is read fail closed: an HTTP or Prometheus error, a body that is not a Prometheus answer, a
range vector or a string is ERROR (nothing could be judged), and so is a scalar or a vector where
``result_type`` names the other one; NaN and infinities FAIL; a finite value outside the domain of the
check's ``unit`` (as ``slo`` has it: ``ratio`` in [0, 1], ``ms`` >= 0, ...) FAILs before any bound is
judged; an empty result is INCONCLUSIVE unless ``on_no_data = "fail"``; Prometheus' ``warnings`` make a
passing result WARN. An answer with a key written twice FAILs (ambiguous), and so does one evaluated
longer ago than the profile's ``[slo] max_document_age_s`` (a cache or a replay: ``checks/_freshness.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

import msgspec

from spark_ops.checks._common import Bounds, Options, Threshold, series_name
from spark_ops.checks._freshness import Freshness
from spark_ops.checks._prometheus import (
    MAX_TEXT_CHARS,
    QUERY_PATH,
    api_target,
    read_data,
    sample_time,
    sample_value,
    server_target,
)
from spark_ops.config import Profile
from spark_ops.errors import ConfigError, clip
from spark_ops.model import Judgement, Status
from spark_ops.registry import CheckBase
from spark_ops.units import Unit, outside_domain

if TYPE_CHECKING:  # the runner (httpx, aiohttp) loads only when checks run
    from spark_ops.prove.breakage import Breakage
    from spark_ops.transport import Fetched, Probe

SHOWN_SERIES = 3  # failing series named in a reason; the rest are counted
MAX_OBSERVED_SERIES = 20  # series kept in ``observed``; the raw answer is in the evidence
_RANK = {Status.PASS: 0, Status.WARN: 1, Status.FAIL: 2}


class PromqlOptions(Options, frozen=True, kw_only=True):
    query: Annotated[str, msgspec.Meta(min_length=1)]
    unit: Unit = "number"  # what every series' value measures, which fixes its domain
    min: Threshold | None = None
    max: Threshold | None = None
    warn_min: Threshold | None = None
    warn_max: Threshold | None = None
    aggregate: Literal["each", "any"] = "each"  # every series within bounds, or at least one
    on_no_data: Literal["inconclusive", "fail"] = "inconclusive"
    result_type: Literal["any", "vector", "scalar"] = "any"  # another type of answer is ERROR
    prometheus_url: str | None = None  # else the profile's [prometheus] url


@dataclass(frozen=True, slots=True)
class Answer:
    """A successful instant-query answer: one (series name, value) per series, and Prometheus' warnings."""

    series: list[tuple[str, float]]
    warnings: list[str]
    evaluated_at: float | None  # the oldest sample time (Unix seconds); None when one has none


class PromqlCheck(CheckBase):
    kind: ClassVar[str] = "promql"
    summary: ClassVar[str] = "an instant PromQL query; each (or any) series against min/max"
    Options: ClassVar[type[PromqlOptions]] = PromqlOptions

    def __init__(self, options: PromqlOptions, profile: Profile) -> None:
        if not options.query.strip():
            raise ConfigError("must not be blank", key="query")
        self.options = options
        self.server = server_target(options.prometheus_url, profile)
        self.target = api_target(self.server, QUERY_PATH, {"query": options.query})
        self.bounds = Bounds.resolve(
            profile, min=options.min, max=options.max, warn_min=options.warn_min, warn_max=options.warn_max
        )
        self.what = repr(clip(" ".join(options.query.split()), 100))
        self.freshness = Freshness.of(profile)

    @property
    def threshold(self) -> dict[str, float]:
        return self.bounds.as_threshold()

    @property
    def planned_load(self) -> str:
        return f"1 query to {self.server.display}"

    def breakages(self, profile: Profile) -> list[Breakage]:
        from spark_ops.prove import kinds  # loaded by `spark suite prove` only

        return kinds.promql(self, profile)

    async def judge(self, probe: Probe) -> Judgement:
        fetched = await probe.fetch(self.target, headers={"Accept": "application/json"})
        artifacts = {"answer.json": fetched.body}
        threshold = self.bounds.as_threshold()
        answer = _read_answer(fetched, self.server.display, self.options.result_type)
        if isinstance(answer, str):
            return Judgement(Status.ERROR, f"{self.what}: {answer}", threshold=threshold, artifacts=artifacts)
        warned = "".join(f"; Prometheus warns: {clip(text, MAX_TEXT_CHARS)}" for text in answer.warnings)
        # A cached or replayed answer says how things were: its evaluation time must be now.
        stale = self.freshness.judge(answer.evaluated_at, "the answer") if answer.series else None
        if stale is not None and stale[0] is Status.FAIL:
            return self.freshness.refused(stale, f"{self.what}: ", artifacts)
        if not answer.series:
            status = Status.FAIL if self.options.on_no_data == "fail" else Status.INCONCLUSIVE
            reason = f"{self.what}: no series (empty result, on_no_data = {self.options.on_no_data!r})"
            return Judgement(
                status, reason + warned, threshold=threshold, readings={"series": 0}, artifacts=artifacts
            )
        status, reason, observed = self._judge_series(answer.series)
        if (answer.warnings or stale is not None) and status is Status.PASS:
            status = Status.WARN  # a partial, doubtful or undated answer never passes outright
        if stale is not None:
            warned += f"; {stale[1]}"
        values = [value for _, value in answer.series]
        readings = {"series": len(values), "min": min(values), "max": max(values)}
        if len(values) == 1:
            readings["value"] = values[0]
        return Judgement(
            status,
            f"{self.what}: {reason}{warned}",
            observed=observed,
            threshold=threshold,
            readings=readings,
            artifacts=artifacts,
        )

    def _judge_series(self, series: list[tuple[str, float]]) -> tuple[Status, str, Any]:
        """The status (worst series for ``each``, best for ``any``), the reason and the observed value(s)."""
        impossible = self._outside_domain(series)
        if impossible is not None:
            return impossible
        judged = [(name, value, *self.bounds.judge(value, name)) for name, value in series]
        if len(judged) == 1:
            _, value, status, reason = judged[0]
            return status, reason, value
        each = self.options.aggregate == "each"
        status = (max if each else min)((s for _, _, s, _ in judged), key=_RANK.__getitem__)
        # ``each`` names its worst series first, ``any`` its closest: they are kept in ``observed`` too.
        judged.sort(key=lambda row: _RANK[row[2]], reverse=each)
        observed = {name: value for name, value, _, _ in judged[:MAX_OBSERVED_SERIES]}
        total, bounds = len(judged), self.bounds.describe()
        if status is Status.PASS:
            if each:
                return status, f"{total} series, each within {bounds}", observed
            within = sum(1 for *_, s, _ in judged if s is Status.PASS)
            return status, f"{within} of {total} series within {bounds} (aggregate any)", observed
        offending = [reason for *_, s, reason in judged if s is status or not each]
        named = _shortened(offending)
        if each:
            where = "out of bounds" if status is Status.FAIL else "in the warning band"
            return status, f"{len(offending)} of {total} series {where}: {named}", observed
        if status is Status.WARN:  # the best series passes its bounds but sits in the warning band
            return (
                status,
                f"the best of {total} series is in the warning band (aggregate any): {named}",
                observed,
            )
        return status, f"none of {total} series within {bounds} (aggregate any): {named}", observed

    def _outside_domain(self, series: list[tuple[str, float]]) -> tuple[Status, str, Any] | None:
        """FAIL naming the series whose value no figure in ``unit`` can take, or None when there are none.

        Judged before the bounds and for both aggregates: under ``any`` too an impossible value FAILs the
        check, whatever the series beside it read. It is no failing series among healthy ones (as a NaN
        is: a ratio over no traffic): it shows that the query, or the unit declared for it, does not
        measure what the check says, and the other series of the same query are then no evidence of
        health either.
        """
        # NaN and the infinities are "not a finite number" (Bounds.judge), not a domain question.
        beyond = [
            (name, value, why)
            for name, value in series
            if math.isfinite(value) and (why := outside_domain(value, self.options.unit)) is not None
        ]
        if not beyond:
            return None
        named = [f"{name} = {value:g}, {why}" for name, value, why in beyond]
        if len(series) == 1:
            return Status.FAIL, named[0], series[0][1]
        shown = _shortened(named)
        impossible = {name for name, _, _ in beyond}
        first = sorted(series, key=lambda row: row[0] not in impossible)  # the impossible ones first
        observed = dict(first[:MAX_OBSERVED_SERIES])
        others = self.options.aggregate == "any" and len(beyond) < len(series)
        whatever = " (aggregate any: whatever the other series read)" if others else ""
        reason = f"{len(beyond)} of {len(series)} series outside the unit's domain{whatever}: {shown}"
        return Status.FAIL, reason, observed


def _shortened(reasons: list[str]) -> str:
    """The first ``SHOWN_SERIES`` reasons, and how many more there are."""
    named = "; ".join(reasons[:SHOWN_SERIES])
    if len(reasons) > SHOWN_SERIES:
        named += f"; and {len(reasons) - SHOWN_SERIES} more"
    return named


def _read_answer(fetched: Fetched, server: str, expected_type: str = "any") -> Answer | str:
    """The answer's series, or why it cannot be judged (Prometheus' own error words where it gave some)."""
    data = read_data(fetched, server)
    if isinstance(data, str):
        return data
    answered = f"Prometheus {server} -> HTTP {fetched.status}"
    result_type, result, warnings = data.result_type, data.result, data.warnings
    if result_type == "matrix":
        return (
            "the query returns a range vector (matrix): an instant check needs a vector or a scalar "
            "(drop the [range] or wrap it, e.g. max_over_time(...[5m]))"
        )
    if expected_type != "any" and result_type != expected_type:
        return (
            f"{answered}, result type {clip(repr(result_type), 40)} where the check expects a {expected_type}"
            " (result_type)"
        )
    if result_type == "scalar":
        value = sample_value(result)
        if value is None:
            return f'{answered}, but the scalar is not a [timestamp, "number"] pair'
        return Answer([("scalar", value)], warnings, sample_time(result))
    if result_type != "vector":
        return f"{answered}, result type {clip(repr(result_type), 40)}: only a vector or a scalar is judged"
    if not isinstance(result, list):
        return f"{answered}, but data.result of the vector is not a list"
    series: list[tuple[str, float]] = []
    times: list[float | None] = []
    for index, sample in enumerate(result):
        labels = sample.get("metric") if isinstance(sample, dict) else None
        value = sample_value(sample.get("value")) if isinstance(sample, dict) else None
        if not isinstance(labels, dict) or value is None:
            return (
                f'{answered}, but series {index} lacks its metric labels or its [timestamp, "number"] value'
            )
        series.append((series_name(str(labels.get("__name__", "")), labels), value))
        times.append(sample_time(sample.get("value")))
    known = [at for at in times if at is not None]
    return Answer(series, warnings, min(known) if known and len(known) == len(times) else None)

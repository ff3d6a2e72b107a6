"""``metrics``: scrape a Prometheus exposition and judge its shape and values.

The scrape asks as Prometheus does: OpenMetrics 1.0 first, the text format as fallback (``ACCEPT``). An
answer whose Content-Type is ``application/openmetrics-text`` is judged by OpenMetrics' rules
(``spark_ops/openmetrics.py``: ``# EOF`` required, else FAIL "truncated"); any other by the text
format's (``spark_ops/exposition.py``, as promtool). ``require`` and ``values`` name families and samples
alike in both: a counter is found by its family name (``http_requests``) and by its sample name
(``http_requests_total``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, ClassVar

import msgspec

from spark_ops.checks._common import Bounds, Options, TargetOptions, Threshold, require_2xx, series_name
from spark_ops.config import Profile
from spark_ops.errors import TargetError, one_line
from spark_ops.exposition import ExpositionError, parse_exposition
from spark_ops.model import Judgement, Status
from spark_ops.openmetrics import CONTENT_TYPE as OPENMETRICS
from spark_ops.openmetrics import Truncated, parse_openmetrics
from spark_ops.registry import CheckBase

if TYPE_CHECKING:  # the runner (httpx, aiohttp) loads only when checks run
    from spark_ops.prove.breakage import Breakage
    from spark_ops.transport import Probe

Count = Annotated[int, msgspec.Meta(ge=0)]
# What Prometheus 2.x sends: OpenMetrics first, then the text format, then anything.
ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)


class ValueAssertion(Options, frozen=True, kw_only=True):
    metric: str  # a sample name, e.g. process_resident_memory_bytes or http_requests_total
    labels: dict[str, str] = {}
    min: Threshold | None = None
    max: Threshold | None = None


class MetricsOptions(TargetOptions, frozen=True, kw_only=True):
    min_bytes: Count | None = None
    max_bytes: Count | None = None
    min_series: Count | None = None
    max_series: Count | None = None
    require: list[str] = []
    values: list[ValueAssertion] = []


class MetricsCheck(CheckBase):
    kind: ClassVar[str] = "metrics"
    summary: ClassVar[str] = "a Prometheus exposition: parses, byte size, series count, families, values"
    Options: ClassVar[type[MetricsOptions]] = MetricsOptions

    def __init__(self, options: MetricsOptions, profile: Profile) -> None:
        self.options = options
        self.target = profile.target(
            service=options.service, path=options.path, url=options.url, default_path="/metrics"
        )
        self.artifact = f"metrics/{options.service or 'target'}.prom"
        self.size = Bounds.resolve(
            profile, min=options.min_bytes, max=options.max_bytes, required=False, key_suffix="_bytes"
        )
        self.series = Bounds.resolve(
            profile, min=options.min_series, max=options.max_series, required=False, key_suffix="_series"
        )
        self.values = [
            (
                assertion,
                Bounds.resolve(profile, min=assertion.min, max=assertion.max, key_prefix=f"values[{i}]."),
            )
            for i, assertion in enumerate(options.values)
        ]

    @property
    def threshold(self) -> dict[str, float] | None:
        return self.size.as_threshold() or None

    @property
    def planned_load(self) -> str:
        return f"1 request to {self.target.display}"

    def breakages(self, profile: Profile) -> list[Breakage]:
        from spark_ops.prove import kinds  # loaded by `spark suite prove` only

        return kinds.metrics(self, profile)

    async def judge(self, probe: Probe) -> Judgement:
        fetched = await probe.fetch(self.target, headers={"Accept": ACCEPT})
        require_2xx(fetched)
        return self.assess(fetched.body, fetched.describe(), fetched.headers.get("content-type", ""))

    def assess(self, body: bytes, source: str, content_type: str = "") -> Judgement:
        """Judge an exposition already read (``source`` says from where, e.g. ``GET url -> 200 in 3 ms``;
        ``content_type`` picks the format: OpenMetrics for ``application/openmetrics-text``)."""
        artifacts = {self.artifact: body}
        size = len(body)
        if size == 0:
            raise TargetError(f"{source}: empty exposition")
        readings: dict[str, float] = {"exposition_bytes": size}
        openmetrics = content_type.split(";")[0].strip().lower() == OPENMETRICS
        parse = parse_openmetrics if openmetrics else parse_exposition
        try:
            # surrogateescape: bytes that are not UTF-8 fail where promtool fails them (label values).
            exposition = parse(body.decode("utf-8", "surrogateescape"))
        except ExpositionError as exc:
            what = "OpenMetrics exposition" if openmetrics else "exposition"
            problem = "truncated" if isinstance(exc, Truncated) else "does not parse"
            return Judgement(
                Status.FAIL,
                f"{source}: {what} {problem}: {one_line(exc, 200)}",
                observed=size,
                readings=readings,
                artifacts=artifacts,
            )
        if exposition.duplicate is not None:  # promtool lets it by; Prometheus' scraper rejects it
            return Judgement(
                Status.FAIL,
                f"{source}: duplicate series {exposition.duplicate} (Prometheus rejects such a scrape)",
                observed=size,
                readings=readings,
                artifacts=artifacts,
            )
        series = exposition.series
        readings.update(series=series, families=len(exposition.families))
        if series == 0:  # comments or blank lines only: no data is never a pass
            return Judgement(
                Status.FAIL,
                f"{source}: exposition holds no series",
                observed=size,
                threshold=self.threshold,
                readings=readings,
                artifacts=artifacts,
            )
        facts = f"{size} bytes, {series} series, {len(exposition.families)} families"

        def verdict(status: Status, reason: str, observed: object, threshold: object) -> Judgement:
            return Judgement(
                status,
                f"{facts}: {reason}",
                observed=observed,
                threshold=threshold,
                readings=readings,
                artifacts=artifacts,
            )

        for bounds, value, what in ((self.size, size, "bytes"), (self.series, series, "series")):
            status, reason = bounds.judge(value, what)
            if status is not Status.PASS:
                return verdict(status, reason, value, bounds.as_threshold())
        missing = [name for name in self.options.require if name not in exposition.names]
        if missing:
            return verdict(
                Status.FAIL,
                f"missing required metric {', '.join(missing)}",
                sorted(missing),
                {"require": self.options.require},
            )
        for assertion, bounds in self.values:
            matching = [
                s
                for s in exposition.samples(assertion.metric)
                if all(s.labels.get(k) == v for k, v in assertion.labels.items())
            ]
            if not matching:
                return verdict(
                    Status.INCONCLUSIVE,
                    f"no series of {assertion.metric} to judge",
                    None,
                    bounds.as_threshold(),
                )
            for sample in matching:
                status, reason = bounds.judge(sample.value, series_name(sample.name, sample.labels))
                if status is not Status.PASS:
                    return verdict(status, reason, sample.value, bounds.as_threshold())
        return Judgement(
            Status.PASS,
            f"{source}: {facts}",
            observed=size,
            threshold=self.size.as_threshold() or None,
            readings=readings,
            artifacts=artifacts,
        )

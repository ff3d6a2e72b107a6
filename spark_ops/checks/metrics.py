"""``metrics``: scrape a Prometheus text exposition and judge its shape and values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, ClassVar

import msgspec

from spark_ops.checks._common import (
    Bounds,
    Options,
    TargetOptions,
    Threshold,
    clip,
    require_2xx,
    series_name,
)
from spark_ops.errors import TargetError
from spark_ops.model import Judgement, Status
from spark_ops.profile import Profile

if TYPE_CHECKING:  # the runner (httpx, aiohttp) loads only when checks run
    from spark_ops.runner import Probe

Count = Annotated[int, msgspec.Meta(ge=0)]


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


@dataclass(frozen=True, slots=True)
class Sample:
    name: str
    labels: dict[str, str]
    value: float


@dataclass(frozen=True, slots=True)
class Exposition:
    families: frozenset[str]
    samples: list[Sample]

    @property
    def names(self) -> frozenset[str]:
        """Family names and sample names, so ``foo_total`` and ``foo`` both find a counter."""
        return self.families | {sample.name for sample in self.samples}


def parse_exposition(text: str) -> Exposition:
    """Parse Prometheus text format; raises ValueError with the reason when it does not parse.

    Stricter than prometheus_client's parser where Prometheus' scraper is: the last line must end with a
    line feed (else the answer may be cut inside a number, ``1027`` read as ``10``), and one series may
    appear only once (Prometheus rejects the scrape: "duplicate sample for timestamp").
    """
    from prometheus_client.parser import text_string_to_metric_families

    if text and not text.endswith("\n"):
        last = text.rsplit("\n", 1)[-1]
        raise ValueError(f"the last line does not end with a line feed (cut short?): {clip(repr(last), 60)}")
    families: set[str] = set()
    samples: list[Sample] = []
    seen: set[tuple[str, frozenset[tuple[str, str]]]] = set()
    for family in text_string_to_metric_families(text):
        families.add(family.name)
        for sample in family.samples:
            identity = (sample.name, frozenset(sample.labels.items()))
            if identity in seen:
                raise ValueError(f"duplicate series {series_name(sample.name, sample.labels)}")
            seen.add(identity)
            samples.append(Sample(sample.name, dict(sample.labels), float(sample.value)))
    return Exposition(frozenset(families), samples)


class MetricsCheck:
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

    async def judge(self, probe: Probe) -> Judgement:
        fetched = await probe.fetch(self.target)
        require_2xx(fetched)
        artifacts = {self.artifact: fetched.body}
        size = len(fetched.body)
        if size == 0:
            raise TargetError(f"{fetched.describe()}: empty exposition")
        try:
            exposition = parse_exposition(fetched.body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError, IndexError, KeyError, TypeError) as exc:
            reason = " ".join(str(exc).split())[:200] or type(exc).__name__
            return Judgement(
                Status.FAIL,
                f"{fetched.describe()}: exposition does not parse: {reason}",
                observed=size,
                artifacts=artifacts,
            )
        series = len(exposition.samples)
        if series == 0:  # comments or blank lines only: no data is never a pass
            return Judgement(
                Status.FAIL,
                f"{fetched.describe()}: exposition holds no series",
                observed=size,
                threshold=self.threshold,
                artifacts=artifacts,
            )
        facts = f"{size} bytes, {series} series, {len(exposition.families)} families"

        def verdict(status: Status, reason: str, observed: object, threshold: object) -> Judgement:
            return Judgement(
                status, f"{facts}: {reason}", observed=observed, threshold=threshold, artifacts=artifacts
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
                for s in exposition.samples
                if s.name == assertion.metric
                and all(s.labels.get(k) == v for k, v in assertion.labels.items())
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
            f"{fetched.describe()}: {facts}",
            observed=size,
            threshold=self.size.as_threshold() or None,
            artifacts=artifacts,
        )

"""``latency``: a measured load probe. Requests go out on an open-loop schedule at a fixed rate and
each latency is counted from the request's *intended* send time, so a stalled server shows in p99
instead of hiding behind fewer requests (no coordinated omission). Memory stays bounded: a histogram,
not a list of samples, and at most ``max_in_flight`` requests at once.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal
from urllib.parse import urlsplit, urlunsplit

import msgspec

from spark_ops.checks._common import TargetOptions, Threshold
from spark_ops.checks.http import parse_status_ranges
from spark_ops.config import Profile, Target
from spark_ops.config.target import require_http_url, target_with_credentials
from spark_ops.errors import ConfigError
from spark_ops.histogram import LatencyHistogram
from spark_ops.model import Judgement, Status
from spark_ops.registry import CheckBase
from spark_ops.stats import compare, compare_error_rates

if TYPE_CHECKING:  # the runner (httpx, aiohttp) loads only when checks run
    from spark_ops.prove.breakage import Breakage
    from spark_ops.transport import Probe

PERCENTILES = {"p50": 0.50, "p95": 0.95, "p99": 0.99}


class LatencyOptions(TargetOptions, frozen=True, kw_only=True):
    method: Literal["GET", "HEAD", "POST"] = "GET"
    rate_rps: Annotated[float, msgspec.Meta(gt=0, le=5000)] = 20.0
    count: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] | None = None
    duration_s: Annotated[float, msgspec.Meta(gt=0, le=86_400)] | None = None
    max_p50_ms: Threshold | None = None
    max_p95_ms: Threshold | None = None
    max_p99_ms: Threshold | None = None
    max_error_rate: Threshold | None = None
    min_samples: Annotated[int, msgspec.Meta(ge=1)] = 20
    expect_status: list[int | str] = msgspec.field(default_factory=lambda: ["2xx", "3xx"])
    request_timeout_s: Annotated[float, msgspec.Meta(gt=0)] | None = None
    max_in_flight: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 256


@dataclass(frozen=True, slots=True)
class ProbeFigures:
    """What one probe measured."""

    scheduled: int
    sent: int
    errors: int
    missed_slots: int  # slots not sent at all (max_in_flight outstanding): counted as errors
    late_slots: int  # slots sent over one interval late (the prober was behind): latency shows it
    histogram: LatencyHistogram

    @property
    def error_rate(self) -> float:
        # Slots that could not be sent count as failed requests: fail closed.
        return (self.errors + self.missed_slots) / self.scheduled if self.scheduled else 1.0

    def percentile_ms(self, name: str) -> float:
        return self.histogram.percentile(PERCENTILES[name])

    def readings(self, prefix: str = "") -> dict[str, float]:
        """The figures as readings (``baseline_p95_ms`` with ``prefix="baseline_"``)."""
        return {prefix + name: value for name, value in self.as_observed().items()}

    def as_observed(self) -> dict[str, Any]:
        figures: dict[str, Any] = {
            "samples": self.histogram.count,
            "scheduled": self.scheduled,
            "errors": self.errors,
            "missed_slots": self.missed_slots,
            "late_slots": self.late_slots,
            "error_rate": round(self.error_rate, 4),
        }
        if self.histogram.count:
            for name in PERCENTILES:
                figures[f"{name}_ms"] = round(self.percentile_ms(name), 2)
        return figures


class LatencyCheck(CheckBase):
    kind: ClassVar[str] = "latency"
    summary: ClassVar[str] = "a measured open-loop load probe: p50/p95/p99 and error rate at a fixed rate"
    Options: ClassVar[type[LatencyOptions]] = LatencyOptions

    def __init__(self, options: LatencyOptions, profile: Profile) -> None:
        if options.count is not None and options.duration_s is not None:
            raise ConfigError("give count or duration_s, not both", key="count")
        self.options = options
        self.target = profile.target(service=options.service, path=options.path, url=options.url)
        self.status_ranges = parse_status_ranges(options.expect_status)
        self.scheduled = options.count or max(1, math.ceil((options.duration_s or 2.0) * options.rate_rps))
        self.request_timeout_s = options.request_timeout_s or profile.config.defaults.timeout_s
        # The profile's SLO targets are the default thresholds, so one suite serves dev and production.
        p95 = (
            options.max_p95_ms if options.max_p95_ms is not None else _slo_default(profile, "latency_p95_ms")
        )
        errors = (
            options.max_error_rate
            if options.max_error_rate is not None
            else _slo_default(profile, "error_rate")
        )
        limits = {"p50": options.max_p50_ms, "p95": p95, "p99": options.max_p99_ms}
        self.max_ms = {
            name: profile.number(value, key=f"max_{name}_ms")
            for name, value in limits.items()
            if value is not None
        }
        self.max_error_rate = None if errors is None else profile.number(errors, key="max_error_rate")
        if not self.max_ms and self.max_error_rate is None:
            raise ConfigError(
                "needs a threshold: max_p95_ms (or the profile's slo.latency_p95_ms)", key="max_p95_ms"
            )
        self.canary = profile.config.canary
        self.baseline = None if self.canary.baseline is None else self._baseline_target(self.canary.baseline)
        self.pooled = _Pooled()  # both sides over an analysis window, interval by interval

    def _baseline_target(self, reference: str) -> Target:
        """The same request against the baseline: a base URL (same path) or another profile's service."""
        if reference.startswith(("http://", "https://")):
            try:
                require_http_url(reference, key="canary.baseline")
            except ConfigError:  # "http://", "http://[::1" (urlsplit refuses an unclosed IPv6 literal)
                raise ConfigError(
                    f"baseline {reference!r} is not an absolute URL", key="canary.baseline"
                ) from None
            base, own = urlsplit(reference), urlsplit(self.target.url)
            # Only the baseline's own credentials go to the baseline host, never the canary's headers.
            return target_with_credentials(
                urlunsplit((base.scheme, base.netloc, own.path, own.query, "")), {}
            )
        from spark_ops.config import load_profile

        try:
            other = load_profile(reference)
        except ConfigError as exc:
            raise ConfigError(f"baseline: {exc}", key="canary.baseline") from None
        options = self.options
        return other.target(service=options.service, path=options.path, url=options.url)

    @property
    def planned_load(self) -> str:
        """What a run will send, for the confirmation ``canary --mode real`` asks."""
        to = self.target.display + (f" and {self.baseline.display}" if self.baseline is not None else "")
        return f"{self.scheduled} requests at {self.options.rate_rps:g}/s to {to}"

    @property
    def minimum_timeout_s(self) -> float:
        """The schedule, plus time for the last request to finish."""
        return self.scheduled / self.options.rate_rps + self.request_timeout_s + 1.0

    @property
    def shares_fetches(self) -> bool:
        return False  # every request of the schedule is its own measurement

    @property
    def runs_alone(self) -> bool:
        return True  # its send times must not wait for the other checks' callbacks

    @property
    def threshold(self) -> dict[str, float]:
        limits: dict[str, float] = {f"max_{name}_ms": value for name, value in self.max_ms.items()}
        if self.max_error_rate is not None:
            limits["max_error_rate"] = self.max_error_rate
        return limits

    async def measure(self, probe: Probe, target: Target) -> ProbeFigures:
        """Run the schedule against ``target`` and return the figures; in an analysis window the schedule
        fills the interval (``probe.slot_s``), so the probe runs through the whole window."""
        options = self.options
        scheduled = self.scheduled if probe.slot_s is None else max(1, int(probe.slot_s * options.rate_rps))
        loop = asyncio.get_running_loop()
        interval_s = 1.0 / options.rate_rps
        histogram = LatencyHistogram()
        errors = missed = late = sent = 0
        in_flight: set[asyncio.Task[None]] = set()

        async def one(intended: float) -> None:
            nonlocal errors
            try:
                fetched = await probe.fetch(
                    target, method=options.method, retry=False, timeout_s=self.request_timeout_s
                )
                ok = any(low <= fetched.status <= high for low, high in self.status_ranges)
            except Exception:  # TargetError, or anything else: a request that failed, counted, never lost
                ok = False
            if ok:
                histogram.record((loop.time() - intended) * 1000)
            else:
                errors += 1

        start = loop.time() + 0.005
        try:
            for slot in range(scheduled):
                intended = start + slot * interval_s
                delay = intended - loop.time()
                if delay > _SPIN_S:
                    await asyncio.sleep(delay - _SPIN_S)
                while loop.time() < intended:  # the selector wakes in whole milliseconds: late, not early
                    await asyncio.sleep(0)
                if -delay > interval_s:
                    late += 1  # sent anyway: its latency still counts from the intended time
                if len(in_flight) >= options.max_in_flight:
                    missed += 1  # not sent at all: too many outstanding
                    continue
                task = asyncio.create_task(one(intended))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
                sent += 1
            if in_flight:
                await asyncio.gather(*in_flight)
        finally:
            for task in in_flight:
                task.cancel()
        return ProbeFigures(scheduled, sent, errors, missed, late, histogram)

    def breakages(self, profile: Profile) -> list[Breakage]:
        from spark_ops.prove import kinds  # loaded by `spark suite prove` only

        return kinds.latency(self, profile)

    async def judge(self, probe: Probe) -> Judgement:
        if self.baseline is None:
            return self._judge_alone(await self.measure(probe, self.target))
        # Baseline and canary are probed at the same time, so both see the same conditions.
        figures, baseline = await asyncio.gather(
            self.measure(probe, self.target), self.measure(probe, self.baseline)
        )
        if probe.slot_s is None:  # a single shot compares this probe's samples
            return self._against_baseline(figures, baseline, _Pooled.of(figures, baseline))
        self.pooled.add(figures, baseline)  # an analysis window compares every interval so far
        return self._against_baseline(figures, baseline, self.pooled)

    def _against_baseline(self, figures: ProbeFigures, baseline: ProbeFigures, pooled: _Pooled) -> Judgement:
        """The canary's own verdict, made worse by a slower latency (Mann-Whitney) or a higher error rate
        (Fisher's exact test) than the baseline's."""
        assert self.baseline is not None
        canary = self.canary
        alone = self._judge_alone(figures)
        latency = compare(
            pooled.canary,
            pooled.baseline,
            min_samples=self.options.min_samples,
            alpha=canary.alpha,
            max_slowdown=canary.max_slowdown,
            marginal_slowdown=canary.marginal_slowdown,
        )
        errors = compare_error_rates(
            *pooled.canary_errors,
            *pooled.baseline_errors,
            min_samples=self.options.min_samples,
            alpha=canary.alpha,
            max_increase=canary.max_error_increase,
            marginal_increase=canary.marginal_error_increase,
        )
        observed = {
            **figures.as_observed(),
            "baseline": {"url": self.baseline.display, **baseline.as_observed()},
            "comparison": {
                "verdict": latency.verdict,
                "p_value": _shown(latency.p_value, 3),
                "median_ratio": _shown(latency.median_ratio, 3),
            },
            "error_comparison": {
                "verdict": errors.verdict,
                "p_value": _shown(errors.p_value, 3),
                "increase": _shown(errors.increase, 4),
            },
        }
        verdicts = (alone.status, _COMPARISON_STATUS[latency.verdict], _COMPARISON_STATUS[errors.verdict])
        threshold = {
            **self.threshold,
            "max_slowdown": canary.max_slowdown,
            "marginal_slowdown": canary.marginal_slowdown,
            "max_error_increase": canary.max_error_increase,
            "marginal_error_increase": canary.marginal_error_increase,
            "alpha": canary.alpha,
        }
        readings = {**alone.readings, **baseline.readings("baseline_")}
        compared = {
            "p_value": latency.p_value,
            "median_ratio": latency.median_ratio,
            "error_p_value": errors.p_value,
            "error_increase": errors.increase,
        }
        readings.update({name: value for name, value in compared.items() if math.isfinite(value)})
        return Judgement(
            max(verdicts, key=_SEVERITY_ORDER.index),
            f"{alone.message}; {latency.describe()}; {errors.describe()}",
            observed,
            threshold,
            readings=readings,
            histograms={**alone.histograms, "baseline_latency_ms": baseline.histogram.bins()},
        )

    def _judge_alone(self, figures: ProbeFigures) -> Judgement:
        """The canary's own figures against the absolute thresholds."""
        return replace(
            self._judge_figures(figures),
            readings=figures.readings(),
            histograms={"latency_ms": figures.histogram.bins()},
        )

    def _judge_figures(self, figures: ProbeFigures) -> Judgement:
        observed = figures.as_observed()
        rate = f"{figures.scheduled} requests at {self.options.rate_rps:g}/s"
        if figures.histogram.count < self.options.min_samples and figures.error_rate == 0:
            return Judgement(
                Status.INCONCLUSIVE,
                f"{rate}: only {figures.histogram.count} samples (min_samples {self.options.min_samples})",
                observed=observed,
                threshold=self.threshold,
            )
        if self.max_error_rate is not None and figures.error_rate > self.max_error_rate:
            return Judgement(
                Status.FAIL,
                f"{rate}: error rate {figures.error_rate:.2%} above {self.max_error_rate:.2%} "
                f"({figures.errors} failed, {figures.missed_slots} missed slots)",
                observed=observed,
                threshold=self.threshold,
            )
        if figures.histogram.count < self.options.min_samples:
            return Judgement(
                Status.INCONCLUSIVE,
                f"{rate}: only {figures.histogram.count} successful samples "
                f"(min_samples {self.options.min_samples})",
                observed=observed,
                threshold=self.threshold,
            )
        shown = ", ".join(f"{name} {figures.percentile_ms(name):.1f} ms" for name in PERCENTILES)
        for name, limit in self.max_ms.items():
            value = figures.percentile_ms(name)
            if value > limit:
                return Judgement(
                    Status.FAIL,
                    f"{rate}: {name} {value:.1f} ms above {limit:g} ms ({shown})",
                    observed,
                    self.threshold,
                )
        missed = f", {figures.missed_slots} missed slots" if figures.missed_slots else ""
        return Judgement(
            Status.PASS,
            f"{rate}: {shown}, errors {figures.error_rate:.2%}{missed}",
            observed=observed,
            threshold=self.threshold,
        )


@dataclass
class _Pooled:
    """Both sides' latencies and (errors, requests) over the probes of an analysis window so far."""

    canary: LatencyHistogram = field(default_factory=LatencyHistogram)
    baseline: LatencyHistogram = field(default_factory=LatencyHistogram)
    canary_errors: tuple[int, int] = (0, 0)
    baseline_errors: tuple[int, int] = (0, 0)

    @classmethod
    def of(cls, canary: ProbeFigures, baseline: ProbeFigures) -> _Pooled:
        pooled = cls()
        pooled.add(canary, baseline)
        return pooled

    def add(self, canary: ProbeFigures, baseline: ProbeFigures) -> None:
        self.canary.merge(canary.histogram)
        self.baseline.merge(baseline.histogram)
        self.canary_errors = _plus(self.canary_errors, canary)
        self.baseline_errors = _plus(self.baseline_errors, baseline)


def _plus(counts: tuple[int, int], figures: ProbeFigures) -> tuple[int, int]:
    """(errors, requests) with a probe's added; a slot never sent counts as a failed request."""
    return counts[0] + figures.errors + figures.missed_slots, counts[1] + figures.scheduled


def _shown(value: float, digits: int) -> float | None:
    """A figure for the result JSON: rounded, and null when it is NaN or infinite."""
    return float(f"{value:.{digits}g}") if math.isfinite(value) else None


# The last stretch before a send time is waited out in the loop rather than in the selector, whose
# timeout rounds up to a whole millisecond: every send would otherwise start up to 1 ms late.
_SPIN_S = 0.002

# Worst last: a comparison can only make the canary's own verdict worse.
_SEVERITY_ORDER = [Status.PASS, Status.WARN, Status.INCONCLUSIVE, Status.FAIL]
_COMPARISON_STATUS = {
    "pass": Status.PASS,
    "marginal": Status.WARN,
    "inconclusive": Status.INCONCLUSIVE,
    "fail": Status.FAIL,
}


def _slo_default(profile: Profile, key: str) -> str | None:
    return f"slo.{key}" if getattr(profile.config.slo, key) is not None else None

"""``slo``: one numeric field of a health JSON against inclusive bounds, with an optional warning band.

In order, each a FAIL that stops the judging: the body is JSON with no key written twice; the document
is current (its ``timestamp_field`` against the profile's ``[slo]`` freshness bounds, see
``checks/_freshness.py``); the field is a finite number; the number lies in the physical domain of its
``unit`` (``ms`` and ``s`` >= 0, ``ratio`` in [0, 1], ``percent`` in [0, 100], ``count`` >= 0; ``number``,
the default, any finite number) — only then the thresholds.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, ClassVar

from spark_ops.checks._common import Bounds, TargetOptions, Threshold, number_from, parse_json, require_2xx
from spark_ops.checks._freshness import Freshness
from spark_ops.config import Profile
from spark_ops.errors import TargetError
from spark_ops.jsonpath import MISSING, lookup
from spark_ops.model import Judgement, Status
from spark_ops.registry import CheckBase
from spark_ops.units import Unit, outside_domain

if TYPE_CHECKING:  # the runner (httpx, aiohttp) loads only when checks run
    from spark_ops.prove.breakage import Breakage
    from spark_ops.transport import Probe


class SloOptions(TargetOptions, frozen=True, kw_only=True):
    field: str
    unit: Unit = "number"  # the field's unit, which fixes its domain
    timestamp_field: str = "timestamp"  # where the document says when it was made; "" = it says not
    min: Threshold | None = None
    max: Threshold | None = None
    warn_min: Threshold | None = None
    warn_max: Threshold | None = None


class SloCheck(CheckBase):
    kind: ClassVar[str] = "slo"
    summary: ClassVar[str] = "a numeric field of a health JSON (e.g. slo.latencyP95) against min/max"
    Options: ClassVar[type[SloOptions]] = SloOptions

    def __init__(self, options: SloOptions, profile: Profile) -> None:
        self.field = options.field
        self.unit = options.unit
        self.timestamp_field = options.timestamp_field
        self.freshness = Freshness.of(profile)
        self.target = profile.target(service=options.service, path=options.path, url=options.url)
        self.bounds = Bounds.resolve(
            profile, min=options.min, max=options.max, warn_min=options.warn_min, warn_max=options.warn_max
        )

    @property
    def threshold(self) -> dict[str, float]:
        return self.bounds.as_threshold()

    @property
    def planned_load(self) -> str:
        return f"1 request to {self.target.display}"

    def breakages(self, profile: Profile) -> list[Breakage]:
        from spark_ops.prove import kinds  # loaded by `spark suite prove` only

        return kinds.slo(self, profile)

    async def judge(self, probe: Probe) -> Judgement:
        fetched = await probe.fetch(self.target)
        require_2xx(fetched)
        document = parse_json(fetched)
        artifacts = {"body.json": fetched.body}
        stale = None
        if self.timestamp_field:
            stamp = lookup(document, self.timestamp_field)
            stale = self.freshness.judge(stamp, f"the document ({self.timestamp_field})")
            if stale is not None and stale[0] is Status.FAIL:
                return self.freshness.refused(stale, f"{fetched.describe()}: ", artifacts)
        value = lookup(document, self.field)
        if value is MISSING:
            raise TargetError(f"{fetched.describe()}: field {self.field!r} is missing")
        number = number_from(value, self.field)
        # NaN and the infinities are "not a finite number" (Bounds.judge), not a domain question.
        beyond = outside_domain(number, self.unit) if math.isfinite(number) else None
        if beyond is not None:
            return Judgement(
                Status.FAIL,
                f"{self.field} = {number:g}, {beyond}",
                observed=number,
                threshold=self.bounds.as_threshold(),
                artifacts=artifacts,
            )
        status, reason = self.bounds.judge(number, self.field)
        if stale is not None and status is Status.PASS:  # undated = "warn": the figure holds, its age not
            status, reason = Status.WARN, f"{reason}; {stale[1]}"
        return Judgement(
            status,
            reason,
            observed=number,
            threshold=self.bounds.as_threshold(),
            readings={self.field: number},  # named after the field, e.g. slo.latencyP95
            artifacts=artifacts,
        )

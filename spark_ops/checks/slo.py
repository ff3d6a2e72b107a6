"""``slo``: one numeric field of a health JSON against inclusive bounds, with an optional warning band."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from spark_ops.checks._common import Bounds, TargetOptions, Threshold, number_from, parse_json, require_2xx
from spark_ops.config import Profile
from spark_ops.errors import TargetError
from spark_ops.jsonpath import MISSING, lookup
from spark_ops.model import Judgement
from spark_ops.registry import CheckBase

if TYPE_CHECKING:  # the runner (httpx, aiohttp) loads only when checks run
    from spark_ops.prove.breakage import Breakage
    from spark_ops.transport import Probe


class SloOptions(TargetOptions, frozen=True, kw_only=True):
    field: str
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
        value = lookup(document, self.field)
        if value is MISSING:
            raise TargetError(f"{fetched.describe()}: field {self.field!r} is missing")
        number = number_from(value, self.field)
        status, reason = self.bounds.judge(number, self.field)
        return Judgement(
            status,
            reason,
            observed=number,
            threshold=self.bounds.as_threshold(),
            readings={self.field: number},  # named after the field, e.g. slo.latencyP95
            artifacts={"body.json": fetched.body},
        )

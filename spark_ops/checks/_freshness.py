"""Is a document evidence of *current* health? Its own time (a health JSON's ``timestamp``, a PromQL
answer's evaluation time) against the run's clock, with the profile's ``[slo]`` bounds:

- older than ``max_document_age_s`` (plus ``max_clock_skew_s``): FAIL with the age — a cache, a stuck
  aggregator or a replayed answer says how things were, not how they are;
- later than now by more than ``max_clock_skew_s``: FAIL — the two clocks disagree, so no age is known;
- no time at all: ``undated`` says (``fail`` by default, ``warn``, or ``ignore``).

Times are RFC 3339 strings with a zone (``2026-12-02T07:00:00Z``) or Unix seconds; the clock is
``spark_ops.clock``, so tests set the time without patching ``datetime``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from spark_ops import clock
from spark_ops.checks._common import _short
from spark_ops.jsonpath import MISSING
from spark_ops.model import Judgement, Status
from spark_ops.units import finite_number


@dataclass(frozen=True, slots=True)
class Freshness:
    """The profile's freshness bounds, and the verdict on one document's own time."""

    max_age_s: float
    skew_s: float
    undated: str  # "fail" | "warn" | "ignore"

    @classmethod
    def of(cls, profile: Any) -> Freshness:
        slo = profile.config.slo
        return cls(slo.max_document_age_s, slo.max_clock_skew_s, slo.undated)

    def refused(
        self, stale: tuple[Status, str, float | None], said: str, artifacts: Mapping[str, bytes]
    ) -> Judgement:
        """The judgement on a document ``judge`` failed: ``said`` (what was fetched, and a separator) then
        why, with its age as the observed value and as the ``document_age_s`` reading."""
        status, reason, age_s = stale
        return Judgement(
            status,
            f"{said}{reason}",
            observed=age_s,
            threshold={"max_document_age_s": self.max_age_s},
            readings={} if age_s is None else {"document_age_s": age_s},
            artifacts=artifacts,
        )

    def judge(self, stamp: Any, what: str) -> tuple[Status, str, float | None] | None:
        """None when ``stamp`` (a value read from the document, or MISSING) is fresh; else the status, the
        reason and the age in seconds (None when there is no age to give)."""
        if stamp is MISSING or stamp is None:
            if self.undated == "ignore":
                return None
            status = Status.FAIL if self.undated == "fail" else Status.WARN
            return (
                status,
                f"{what} carries no time: its age is unknown (slo.undated = {self.undated!r})",
                None,
            )
        made = parse_time(stamp)
        if made is None:
            return Status.FAIL, f"{what} time {_short(stamp)} is not an RFC 3339 time with a zone", None
        age_s = (clock.now() - made).total_seconds()
        if age_s < -self.skew_s:
            return (
                Status.FAIL,
                f"{what} is dated {-age_s:.0f} s in the future (max_clock_skew_s {self.skew_s:g}):"
                " the clocks disagree, its age is unknown",
                round(age_s, 3),
            )
        if age_s > self.max_age_s + self.skew_s:
            return (
                Status.FAIL,
                f"{what} is {_age(age_s)} old (max_document_age_s {self.max_age_s:g}"
                f" + max_clock_skew_s {self.skew_s:g}): stale, not current health",
                round(age_s, 3),
            )
        return None


def parse_time(stamp: Any) -> datetime | None:
    """An RFC 3339 string with a zone, or Unix seconds, as an aware datetime; None when it is neither."""
    if isinstance(stamp, str):
        try:
            made = datetime.fromisoformat(stamp.strip())
        except ValueError:
            return None
        return made if made.tzinfo is not None else None  # a local time of an unknown zone is no time
    seconds = finite_number(stamp)
    if seconds is None:
        return None
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"

"""Faults the simulator can rehearse: ``SERVICE=KIND[:ARG][@ON/PERIOD]`` from the command line or the admin
endpoint. ``@ON/PERIOD`` makes a fault come and go: ``web=errors:0.3@10s/30s`` is on for the first 10 s of
every 30 s, counted from when the fault was applied (durations in ms, s, m or h).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from spark_ops.errors import ConfigError
from spark_ops.units import parse_duration

SERVICES = ("web", "executor-1", "executor-2", "marketdata")
KINDS = {
    "down": "the service stops listening (connection refused)",
    "slow": "slow:MS - every answer is delayed by MS milliseconds",
    "errors": "errors:FRACTION - that fraction of answers (0..1) are 500s",
    "stale": "stale:SECONDS - the market-data feed stops; staleness starts at SECONDS (marketdata only)",
    "status": "status:CODE - every answer has this HTTP status",
    "crashloop": "the service is down and PM2 shows it errored with climbing restarts",
    "ws-silent": "the tick feed (/ws/ticks) upgrades, then never sends a message (marketdata only)",
    "ws-close": "ws-close:CODE - the tick feed upgrades, then closes with this close code (marketdata only)",
    "ws-noupgrade": "the tick feed answers 200 and never upgrades to WebSocket (marketdata only)",
}
MARKETDATA_ONLY = ("stale", "ws-silent", "ws-close", "ws-noupgrade")
NO_ARGUMENT = ("down", "crashloop", "ws-silent", "ws-noupgrade")


@dataclass(frozen=True, slots=True)
class Fault:
    service: str
    kind: str
    value: float | None = None
    on_s: float | None = None  # with ``period_s``: on for the first ``on_s`` of every ``period_s``
    period_s: float | None = None

    def __str__(self) -> str:
        arg = "" if self.value is None else f":{self.value:.15g}"
        cycle = "" if self.period_s is None else f"@{self.on_s:.15g}s/{self.period_s:.15g}s"
        return f"{self.service}={self.kind}{arg}{cycle}"

    def is_on(self, seconds_since_applied: float) -> bool:
        """Whether the fault acts ``seconds_since_applied`` after it was applied (always, unless cyclic)."""
        if self.on_s is None or self.period_s is None:
            return True
        return math.fmod(max(0.0, seconds_since_applied), self.period_s) < self.on_s


def _seconds(text: str, whole: str) -> float:
    """``500ms``, ``10s``, ``1m`` as seconds > 0; anything else is a ConfigError naming the fault."""
    cleaned = text.strip().lower()
    try:
        if cleaned.endswith("ms"):
            milliseconds = float(cleaned[:-2])
            if not math.isfinite(milliseconds) or milliseconds <= 0:
                raise ValueError
            return milliseconds / 1000
        return parse_duration(cleaned, option="--fault").total_seconds()
    except (ValueError, ConfigError):
        raise ConfigError(
            f"--fault cycle wants @ON/PERIOD durations such as @10s/30s or @500ms/2s: {whole!r}"
        ) from None


def _cycle(text: str, whole: str) -> tuple[float, float]:
    """``10s/30s`` -> (10.0, 30.0): on for the first 10 s of every 30 s."""
    on_text, sep, period_text = text.partition("/")
    if not sep:
        raise ConfigError(f"--fault cycle wants @ON/PERIOD, e.g. @10s/30s: {whole!r}")
    on_s, period_s = _seconds(on_text, whole), _seconds(period_text, whole)
    if on_s >= period_s:
        raise ConfigError(
            f"--fault cycle: ON must be shorter than PERIOD (else drop the @ON/PERIOD): {whole!r}"
        )
    return on_s, period_s


def parse_fault(text: str) -> Fault:
    """``executor-1=slow:200`` or ``web=errors:0.3@10s/30s`` -> Fault; anything malformed is a ConfigError
    (exit 2)."""
    service, sep, spec = text.partition("=")
    service, spec = service.strip(), spec.strip()
    if not sep or service not in SERVICES:
        raise ConfigError(
            f"--fault wants SERVICE=KIND[:ARG][@ON/PERIOD] with SERVICE one of {', '.join(SERVICES)}: "
            f"{text!r}"
        )
    spec, at, cycle_text = spec.partition("@")
    kind, _, arg = spec.strip().partition(":")
    if kind not in KINDS:
        raise ConfigError(f"unknown fault kind {kind!r} in {text!r} (known: {', '.join(KINDS)})")
    on_s, period_s = _cycle(cycle_text, text) if at else (None, None)
    if kind in MARKETDATA_ONLY and service != "marketdata":
        raise ConfigError(f"{kind} applies to marketdata only: {text!r}")
    if kind in NO_ARGUMENT:
        if arg:
            raise ConfigError(f"fault {kind!r} takes no argument: {text!r}")
        return Fault(service, kind, None, on_s, period_s)
    try:
        value = float(arg)
    except ValueError:
        raise ConfigError(f"fault {kind!r} needs a number: {KINDS[kind]}; got {text!r}") from None
    valid = {
        "slow": 0 <= value <= 600_000,
        "errors": 0 <= value <= 1,
        "stale": 0 <= value <= 10**9,
        "status": value.is_integer() and 100 <= value <= 599,
        # RFC 6455 7.4: what a server may send (1005, 1006 and 1015 never go on the wire)
        "ws-close": value.is_integer()
        and (1000 <= value <= 1014 or 3000 <= value <= 4999)
        and value not in (1004, 1005, 1006),
    }[kind]
    if not valid:
        raise ConfigError(f"fault value out of range: {KINDS[kind]}; got {text!r}")
    return Fault(service, kind, value, on_s, period_s)

"""Faults the simulator can rehearse: ``SERVICE=KIND[:ARG]`` from the command line or the admin endpoint."""

from __future__ import annotations

from dataclasses import dataclass

from spark_ops.errors import ConfigError

SERVICES = ("web", "executor-1", "executor-2", "marketdata")
KINDS = {
    "down": "the service stops listening (connection refused)",
    "slow": "slow:MS - every answer is delayed by MS milliseconds",
    "errors": "errors:FRACTION - that fraction of answers (0..1) are 500s",
    "stale": "stale:SECONDS - the market-data feed stops; staleness starts at SECONDS (marketdata only)",
    "status": "status:CODE - every answer has this HTTP status",
    "crashloop": "the service is down and PM2 shows it errored with climbing restarts",
}


@dataclass(frozen=True, slots=True)
class Fault:
    service: str
    kind: str
    value: float | None = None

    def __str__(self) -> str:
        arg = "" if self.value is None else f":{self.value:.15g}"
        return f"{self.service}={self.kind}{arg}"


def parse_fault(text: str) -> Fault:
    """``executor-1=slow:200`` -> Fault; anything malformed is a ConfigError (exit 2)."""
    service, sep, spec = text.partition("=")
    service, spec = service.strip(), spec.strip()
    if not sep or service not in SERVICES:
        raise ConfigError(
            f"--fault wants SERVICE=KIND[:ARG] with SERVICE one of {', '.join(SERVICES)}: {text!r}"
        )
    kind, _, arg = spec.partition(":")
    if kind not in KINDS:
        raise ConfigError(f"unknown fault kind {kind!r} in {text!r} (known: {', '.join(KINDS)})")
    if kind in ("down", "crashloop"):
        if arg:
            raise ConfigError(f"fault {kind!r} takes no argument: {text!r}")
        return Fault(service, kind)
    try:
        value = float(arg)
    except ValueError:
        raise ConfigError(f"fault {kind!r} needs a number: {KINDS[kind]}; got {text!r}") from None
    valid = {
        "slow": 0 <= value <= 600_000,
        "errors": 0 <= value <= 1,
        "stale": 0 <= value <= 10**9,
        "status": value.is_integer() and 100 <= value <= 599,
    }[kind]
    if not valid:
        raise ConfigError(f"fault value out of range: {KINDS[kind]}; got {text!r}")
    if kind == "stale" and service != "marketdata":
        raise ConfigError(f"stale applies to marketdata only: {text!r}")
    return Fault(service, kind, value)

"""``spark alerts``: Prometheus alerting rules over the metrics ``spark monitor`` exports, from a profile.

The rules (SPEC: p95 > 1000 ms for 5 min, error rate > 0.01 for 5 min) and the profile's own targets:

    SparkLatencyP95High        spark_slo_latency_p95_ms > 1000 for 5m
    SparkErrorRateHigh         spark_slo_error_rate > 0.01 for 5m (the monitor exposes a fraction 0..1)
    SparkMarketDataStale       spark_slo_staleness_seconds > slo.staleness_s for 1m
    SparkCriticalCheckDown     a critical check's spark_check_up == 0 for 3m
    SparkCheckDown             any other check's spark_check_up == 0 for 3m
    SparkMonitorStale          the last cycle ended more than 3 intervals ago, and at least 5 min ago
                               (monitor stuck, dead or not pushing; spark_monitor_interval_seconds)
    SparkMonitorAbsent         no spark_monitor_last_run_timestamp_seconds at all for 15 min
    SparkMonitorCycleErrors    a monitor cycle crashed in the last 15 min
    SparkErrorBudgetBurnFast   multi-window burn rate, page: 14.4x over 1h and 5m, or 6x over 6h and 30m
    SparkErrorBudgetBurnSlow   multi-window burn rate, ticket: 3x over 1d and 2h, or 1x over 3d and 6h

The burn-rate alerts are those of the SRE workbook (chapter "Alerting on SLOs") and Sloth, for a 30-day
SLO whose error budget is the profile's ``slo.error_rate``; recording rules hold the windowed averages.
A reading the monitor could not take is absent, not stale-but-fresh, so SparkCheckDown still fires.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from spark_ops import metric_names as names
from spark_ops.config import Profile

LATENCY_P95_ALERT_MS = 1000  # SPEC: Alert rules
ERROR_RATE_ALERT = 0.01
SLO_FOR = "5m"
STALE_FOR = "1m"
CHECK_DOWN_FOR = "3m"
# A cycle is late after this many intervals, and never before MONITOR_STALE_S (ten default intervals).
STALE_INTERVALS = 3
MONITOR_STALE_S = 300
# How far back the stale rule looks for the last cycle and the interval: a dead monitor's series go stale,
# and this must outlast STALE_INTERVALS of the longest interval anyone runs (8 hours here).
MONITOR_STALE_LOOKBACK = "1d"
MONITOR_ABSENT_WINDOW = "15m"
CYCLE_ERRORS_WINDOW = "15m"
SLO_PERIOD_DAYS = 30
# (short window, long window, burn-rate factor) per alert; at factor 1 the budget lasts the SLO period.
FAST_BURN = (("5m", "1h", 14.4), ("30m", "6h", 6.0))
SLOW_BURN = (("2h", "1d", 3.0), ("6h", "3d", 1.0))
WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
_SECONDS_PER_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_UNIT_NAMES = (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))


def _in_words(duration: str) -> str:
    """A one-unit Prometheus duration in its largest whole unit: "5m" and "300s" -> "5 minutes"."""
    seconds = int(duration[:-1]) * _SECONDS_PER_UNIT[duration[-1]]
    unit, size = next((unit, size) for unit, size in _UNIT_NAMES if seconds % size == 0)
    count = seconds // size
    return f"{count} {unit}{'' if count == 1 else 's'}"


def monitor_stale_in_words() -> str:
    """When SparkMonitorStale fires, for people: "3 intervals (at least 5 minutes)"."""
    return f"{STALE_INTERVALS} intervals (at least {_in_words(f'{MONITOR_STALE_S}s')})"


def error_rate_average(window: str) -> str:
    """The recording rule holding ``spark_slo_error_rate`` averaged over ``window``."""
    return f"check:{names.SLO_ERROR_RATE}:avg{window}"


@dataclass(frozen=True, slots=True)
class Rule:
    """One alerting or recording rule; ``comment`` is written above it in the YAML."""

    expr: str
    alert: str | None = None
    record: str | None = None
    for_: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    comment: str | None = None

    def as_mapping(self) -> dict[str, object]:
        """The rule as Prometheus reads it (key order as in its documentation)."""
        mapping: dict[str, object] = {"alert": self.alert} if self.alert else {"record": self.record}
        mapping["expr"] = self.expr
        if self.for_:
            mapping["for"] = self.for_
        if self.labels:
            mapping["labels"] = dict(self.labels)
        if self.annotations:
            mapping["annotations"] = dict(self.annotations)
        return mapping


@dataclass(frozen=True, slots=True)
class RuleGroup:
    name: str
    rules: Sequence[Rule]


def _alert(
    name: str,
    expr: str,
    severity: str,
    summary: str,
    description: str,
    *,
    for_: str | None = None,
    comment: str | None = None,
) -> Rule:
    return Rule(
        alert=name,
        expr=expr,
        for_=for_,
        labels={"severity": severity},
        annotations={"summary": summary, "description": description},
        comment=comment,
    )


def rule_groups(profile: Profile) -> list[RuleGroup]:
    """The rule groups for ``profile``: its targets set the staleness limit and the error budget."""
    slo = profile.config.slo
    source = f"spark-ops profile {profile.name}"
    alerts = [
        _alert(
            "SparkLatencyP95High",
            f"{names.SLO_LATENCY_P95} > {LATENCY_P95_ALERT_MS}",
            "critical",
            f"Spark p95 latency above {LATENCY_P95_ALERT_MS} ms",
            f"{{{{ $labels.check }}}} read a p95 latency of {{{{ $value }}}} ms for {_in_words(SLO_FOR)}.",
            for_=SLO_FOR,
        ),
        _alert(
            "SparkErrorRateHigh",
            f"{names.SLO_ERROR_RATE} > {ERROR_RATE_ALERT}",
            "critical",
            f"Spark error rate above {ERROR_RATE_ALERT * 100:g} %",
            f"{{{{ $labels.check }}}} read an error rate of {{{{ $value | humanizePercentage }}}} "
            f"for {_in_words(SLO_FOR)}.",
            for_=SLO_FOR,
            comment=(
                "SPEC says 0.01/s; the platform reports errorRate as the fraction of requests that failed\n"
                "(0..1) and the monitor exposes that fraction, so this compares it with 0.01 (1 %)."
            ),
        ),
    ]
    if slo.staleness_s is not None:
        alerts.append(
            _alert(
                "SparkMarketDataStale",
                f"{names.SLO_STALENESS} > {slo.staleness_s:g}",
                "critical",
                f"Spark market data older than {slo.staleness_s:g} s",
                f"{{{{ $labels.check }}}} read a staleness of {{{{ $value }}}} s ({source}: "
                f"slo.staleness_s = {slo.staleness_s:g}).",
                for_=STALE_FOR,
            )
        )
    alerts += [
        _alert(
            "SparkCriticalCheckDown",
            f'{names.CHECK_UP}{{severity="critical"}} == 0',
            "critical",
            "Spark critical check {{ $labels.check }} is down",
            "Critical check {{ $labels.check }} ({{ $labels.kind }}, suite {{ $labels.suite }}) has not "
            f"passed for {_in_words(CHECK_DOWN_FOR)}: do not deploy.",
            for_=CHECK_DOWN_FOR,
            comment="A check that could not read its value is down too: its SLO gauge is absent, not stale.",
        ),
        _alert(
            "SparkCheckDown",
            f'{names.CHECK_UP}{{severity!="critical"}} == 0',
            "warning",
            "Spark check {{ $labels.check }} is down",
            "Check {{ $labels.check }} ({{ $labels.kind }}, {{ $labels.severity }}, suite "
            f"{{{{ $labels.suite }}}}) has not passed for {_in_words(CHECK_DOWN_FOR)}.",
            for_=CHECK_DOWN_FOR,
        ),
        _alert(
            "SparkMonitorStale",
            _monitor_stale_expr(),
            "warning",
            f"spark monitor has not finished a cycle for {monitor_stale_in_words()}",
            "The last cycle of spark monitor ended {{ $value | humanizeDuration }} ago: the monitor is "
            "stuck, stopped or not pushing, and every spark_* figure is old.",
            comment=(
                f"Late: {STALE_INTERVALS} x {names.INTERVAL}, never under {MONITOR_STALE_S} s;\n"
                "a monitor too old to export its interval is held to that floor."
            ),
        ),
        _alert(
            "SparkMonitorAbsent",
            f"absent_over_time({names.LAST_RUN}[{MONITOR_ABSENT_WINDOW}])",
            "warning",
            "No spark monitor data",
            f"Prometheus has had no {names.LAST_RUN} for {_in_words(MONITOR_ABSENT_WINDOW)}: spark monitor "
            "is not running or not scraped.",
        ),
        _alert(
            "SparkMonitorCycleErrors",
            f'increase({names.RUNS}_total{{result="error"}}[{CYCLE_ERRORS_WINDOW}]) > 0',
            "warning",
            "spark monitor cycles are crashing",
            '{{ $value | printf "%.0f" }} spark monitor cycles crashed in the last '
            f"{_in_words(CYCLE_ERRORS_WINDOW)} (see its log).",
        ),
    ]
    groups = [RuleGroup("spark-ops.alerts", alerts)]
    if slo.error_rate is not None:
        groups += _burn_rate_groups(slo.error_rate, source)
    return groups


def _monitor_stale_expr() -> str:
    """Seconds since the last cycle, against STALE_INTERVALS intervals with a floor of MONITOR_STALE_S.

    Both series are read over MONITOR_STALE_LOOKBACK so a dead monitor (its series stale) still alerts;
    one without the interval gauge is compared with 0 intervals, i.e. with the floor.
    """
    last_run = f"max_over_time({names.LAST_RUN}[{MONITOR_STALE_LOOKBACK}])"
    interval = f"last_over_time({names.INTERVAL}[{MONITOR_STALE_LOOKBACK}])"
    return (
        f"time() - {last_run}\n"
        f"  > clamp_min(\n    {STALE_INTERVALS} * ({interval} or {last_run} * 0),\n    {MONITOR_STALE_S}\n  )"
    )


def _burn_rate_groups(budget: float, source: str) -> list[RuleGroup]:
    recording = [
        Rule(record=error_rate_average(window), expr=f"avg_over_time({names.SLO_ERROR_RATE}[{window}])")
        for window in WINDOWS
    ]

    def condition(legs: tuple[tuple[str, str, float], ...]) -> str:
        return "\nor\n".join(
            f"(\n  {error_rate_average(long)} > ({factor:g} * {budget:g})\n"
            f"  and\n  {error_rate_average(short)} > ({factor:g} * {budget:g})\n)"
            for short, long, factor in legs
        )

    budget_text = f"error budget {budget:g} ({source}: slo.error_rate)"

    def legs_text(legs: tuple[tuple[str, str, float], ...]) -> str:
        return ", or ".join(
            f"{factor:g}x{f' the {budget_text}' if index == 0 else ''} over {long} and {short}"
            for index, (short, long, factor) in enumerate(legs)
        )

    fastest, slowest = FAST_BURN[0][2], FAST_BURN[-1][2]
    burn = [
        _alert(
            "SparkErrorBudgetBurnFast",
            condition(FAST_BURN),
            "critical",
            "Spark is burning its error budget fast",
            f"{{{{ $labels.check }}}}: {legs_text(FAST_BURN)}: at this rate the {SLO_PERIOD_DAYS}-day budget "
            f"is gone in {SLO_PERIOD_DAYS / fastest:.0f} to {SLO_PERIOD_DAYS / slowest:.0f} days. Page.",
            comment="Multi-window, multi-burn-rate (SRE workbook, Sloth): a page.",
        ),
        _alert(
            "SparkErrorBudgetBurnSlow",
            condition(SLOW_BURN),
            "warning",
            "Spark is burning its error budget",
            f"{{{{ $labels.check }}}}: {legs_text(SLOW_BURN)}. Ticket.",
            comment="Multi-window, multi-burn-rate (SRE workbook, Sloth): a ticket.",
        ),
    ]
    return [RuleGroup("spark-ops.error-budget", recording), RuleGroup("spark-ops.burn-rate", burn)]


def render_rules(profile: Profile) -> str:
    """The rule file for ``profile`` as YAML text (``promtool check rules`` accepts it)."""
    slo = profile.config.slo
    lines = [
        f"# Prometheus rules for spark monitor, rendered by `spark alerts --profile {profile.name}`.",
        "# Metric names: `spark_ops/metric_names.py`; thresholds: SPEC (p95 1000 ms, errors 0.01) and the",
        f"# profile (slo.staleness_s = {_shown(slo.staleness_s)}, "
        f"slo.error_rate = {_shown(slo.error_rate)}).",
    ]
    if slo.staleness_s is None:
        lines.append("# The profile has no slo.staleness_s: no SparkMarketDataStale rule.")
    if slo.error_rate is None:
        lines.append("# The profile has no slo.error_rate: no error budget, so no burn-rate rules.")
    lines.append("groups:")
    for group in rule_groups(profile):
        lines += [f"  - name: {_scalar(group.name)}", "    rules:"]
        for rule in group.rules:
            lines += [f"      # {line}" for line in (rule.comment or "").splitlines()]
            lines += _mapping_lines(rule.as_mapping(), indent="      ", first_prefix="- ")
    return "\n".join(lines) + "\n"


def _shown(value: float | None) -> str:
    return "unset" if value is None else f"{value:g}"


def _mapping_lines(mapping: Mapping[str, object], *, indent: str, first_prefix: str = "") -> list[str]:
    """Block-style YAML for a mapping of strings, nested mappings and multi-line strings."""
    lines: list[str] = []
    for index, (key, value) in enumerate(mapping.items()):
        prefix = indent + (first_prefix if index == 0 else " " * len(first_prefix))
        if isinstance(value, Mapping):
            lines.append(f"{prefix}{key}:")
            lines += _mapping_lines(value, indent=" " * len(prefix) + "  ")
        elif isinstance(value, str) and "\n" in value:
            lines.append(f"{prefix}{key}: |-")
            lines += [f"{' ' * len(prefix)}  {line}" for line in value.splitlines()]
        else:
            lines.append(f"{prefix}{key}: {_scalar(str(value))}")
    return lines


def _scalar(text: str) -> str:
    """A YAML double-quoted scalar: JSON's string escapes are a subset of YAML's."""
    return json.dumps(text, ensure_ascii=False)

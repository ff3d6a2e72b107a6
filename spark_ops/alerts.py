"""``spark alerts``: Prometheus alerting rules over the metrics ``spark monitor`` exports, from a profile.

The rules (SPEC: p95 > 1000 ms for 5 min, error rate > 0.01 for 5 min) and the profile's own targets:

    SparkLatencyP95High        spark_slo_latency_p95_ms > 1000 for 5m
    SparkErrorRateHigh         spark_slo_error_rate > 0.01 for 5m (the monitor exposes a fraction 0..1)
    SparkMarketDataStale       spark_slo_staleness_seconds > slo.staleness_s for 1m
    SparkCriticalCheckDown     a critical check's spark_check_up == 0 for 3m
    SparkCheckDown             any other check's spark_check_up == 0 for 3m
    SparkMonitorStale          the last cycle ended more than 5 min ago (monitor stuck, dead or not pushing)
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

from spark_ops import monitor as names
from spark_ops.profile import Profile

LATENCY_P95_ALERT_MS = 1000  # SPEC: Alert rules
ERROR_RATE_ALERT = 0.01
SLO_FOR = "5m"
STALE_FOR = "1m"
CHECK_DOWN_FOR = "3m"
MONITOR_STALE_S = 300  # ten missed cycles at the default 30 s interval
MONITOR_ABSENT_WINDOW = "15m"
# (short window, long window, burn-rate factor) per alert; the budget is spent in 30 days at factor 1.
FAST_BURN = (("5m", "1h", 14.4), ("30m", "6h", 6.0))
SLOW_BURN = (("2h", "1d", 3.0), ("6h", "3d", 1.0))
WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")


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
            "{{ $labels.check }} read a p95 latency of {{ $value }} ms for 5 minutes.",
            for_=SLO_FOR,
        ),
        _alert(
            "SparkErrorRateHigh",
            f"{names.SLO_ERROR_RATE} > {ERROR_RATE_ALERT}",
            "critical",
            "Spark error rate above 1 %",
            "{{ $labels.check }} read an error rate of {{ $value | humanizePercentage }} for 5 minutes.",
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
            "passed for 3 minutes: do not deploy.",
            for_=CHECK_DOWN_FOR,
            comment="A check that could not read its value is down too: its SLO gauge is absent, not stale.",
        ),
        _alert(
            "SparkCheckDown",
            f'{names.CHECK_UP}{{severity!="critical"}} == 0',
            "warning",
            "Spark check {{ $labels.check }} is down",
            "Check {{ $labels.check }} ({{ $labels.kind }}, {{ $labels.severity }}, suite "
            "{{ $labels.suite }}) has not passed for 3 minutes.",
            for_=CHECK_DOWN_FOR,
        ),
        _alert(
            "SparkMonitorStale",
            f"time() - max_over_time({names.LAST_RUN}[1h]) > {MONITOR_STALE_S}",
            "warning",
            "spark monitor has not finished a cycle for 5 minutes",
            "The last cycle of spark monitor ended {{ $value | humanizeDuration }} ago: the monitor is "
            "stuck, stopped or not pushing, and every spark_* figure is old.",
        ),
        _alert(
            "SparkMonitorAbsent",
            f"absent_over_time({names.LAST_RUN}[{MONITOR_ABSENT_WINDOW}])",
            "warning",
            "No spark monitor data",
            "Prometheus has had no spark_monitor_last_run_timestamp_seconds for 15 minutes: spark monitor "
            "is not running or not scraped.",
        ),
        _alert(
            "SparkMonitorCycleErrors",
            f'increase({names.RUNS}_total{{result="error"}}[15m]) > 0',
            "warning",
            "spark monitor cycles are crashing",
            '{{ $value | printf "%.0f" }} spark monitor cycles crashed in the last 15 minutes (see its log).',
        ),
    ]
    groups = [RuleGroup("spark-ops.alerts", alerts)]
    if slo.error_rate is not None:
        groups += _burn_rate_groups(slo.error_rate, source)
    return groups


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
    burn = [
        _alert(
            "SparkErrorBudgetBurnFast",
            condition(FAST_BURN),
            "critical",
            "Spark is burning its error budget fast",
            f"{{{{ $labels.check }}}}: 14.4x the {budget_text} over 1h and 5m, or 6x over 6h and 30m: "
            "at this rate the 30-day budget is gone in 2 to 5 days. Page.",
            comment="Multi-window, multi-burn-rate (SRE workbook, Sloth): a page.",
        ),
        _alert(
            "SparkErrorBudgetBurnSlow",
            condition(SLOW_BURN),
            "warning",
            "Spark is burning its error budget",
            f"{{{{ $labels.check }}}}: 3x the {budget_text} over 1d and 2h, or 1x over 3d and 6h. Ticket.",
            comment="Multi-window, multi-burn-rate (SRE workbook, Sloth): a ticket.",
        ),
    ]
    return [RuleGroup("spark-ops.error-budget", recording), RuleGroup("spark-ops.burn-rate", burn)]


def render_rules(profile: Profile) -> str:
    """The rule file for ``profile`` as YAML text (``promtool check rules`` accepts it)."""
    slo = profile.config.slo
    lines = [
        f"# Prometheus rules for spark monitor, rendered by `spark alerts --profile {profile.name}`.",
        "# Metric names: see `spark_ops/monitor.py`; thresholds: SPEC (p95 1000 ms, errors 0.01) and the",
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

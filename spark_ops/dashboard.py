"""``spark dashboard``: a Grafana dashboard over the metrics ``spark monitor`` exports, from a profile.

It is provisionable as it is (a file provider can load it) and importable by hand: the Prometheus data
source is a dashboard variable (``$datasource``), not an import-time input. Panels: risk level and score,
time since the last cycle, a status grid of every check, the checks over time, the three SLO figures with
the profile's targets drawn as threshold lines, risk over time, runs by result, check durations and
/metrics bytes. Every expression uses only metric names from ``spark_ops.metric_names``.

The stat panels ask for the value now (instant queries), not the last one in the range: a dead monitor's
series go stale, so its stats read a red "no data" instead of its last, green, figures.
"""

from __future__ import annotations

import json
import re
from typing import Any

from spark_ops import metric_names as names
from spark_ops.alerts import MONITOR_STALE_S, monitor_stale_in_words
from spark_ops.config import Profile
from spark_ops.model import RiskLevel

SCHEMA_VERSION = 39
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
SELECTOR = '{instance=~"$instance"}'
GREEN, YELLOW, ORANGE, RED = "green", "yellow", "orange", "red"
NO_DATA = "no data"
# Grafana colours a missing value with the base threshold (often green) unless a mapping says otherwise.
NO_DATA_MAPPING = {
    "type": "special",
    "options": {"match": "null+nan", "result": {"text": NO_DATA, "color": RED}},
}
_RISK_COLOURS = {
    RiskLevel.LOW: GREEN,
    RiskLevel.MEDIUM: YELLOW,
    RiskLevel.HIGH: ORANGE,
    RiskLevel.CRITICAL: RED,
}
RISK_MAPPINGS = [
    {
        "type": "value",
        "options": {
            str(level.rank): {"text": level.value, "color": colour, "index": level.rank}
            for level, colour in _RISK_COLOURS.items()
        },
    }
]
UP_MAPPINGS = [
    {
        "type": "value",
        "options": {
            "1": {"text": "UP", "color": GREEN, "index": 0},
            "0": {"text": "DOWN", "color": RED, "index": 1},
        },
    }
]


def _thresholds(*steps: tuple[float | None, str]) -> dict[str, Any]:
    return {"mode": "absolute", "steps": [{"value": value, "color": colour} for value, colour in steps]}


def _target_line(limit: float | None) -> dict[str, Any]:
    """Green below the profile's target, red above it; no line when the profile sets none."""
    return _thresholds((None, GREEN), *([(limit, RED)] if limit is not None else []))


class _Layout:
    """Hands out panel ids and grid positions, row by row, 24 columns wide."""

    def __init__(self) -> None:
        self.panels: list[dict[str, Any]] = []
        self.x = self.y = self.row_height = 0

    def add(self, panel: dict[str, Any], *, width: int, height: int) -> None:
        if self.x + width > 24:
            self.x, self.y, self.row_height = 0, self.y + self.row_height, 0
        panel = {
            "id": len(self.panels) + 1,
            "gridPos": {"x": self.x, "y": self.y, "w": width, "h": height},
            "datasource": DATASOURCE,
            **panel,
        }
        self.panels.append(panel)
        self.x += width
        self.row_height = max(self.row_height, height)


def _panel(
    kind: str,
    title: str,
    description: str,
    targets: list[tuple[str, str]],
    *,
    unit: str = "none",
    thresholds: dict[str, Any] | None = None,
    mappings: list[dict[str, Any]] | None = None,
    custom: dict[str, Any] | None = None,
    options: dict[str, Any] | None = None,
    instant: bool = False,
    **defaults: Any,
) -> dict[str, Any]:
    return {
        "type": kind,
        "title": title,
        "description": description,
        "targets": [
            {
                "refId": chr(ord("A") + index),
                "datasource": DATASOURCE,
                "expr": expr,
                "legendFormat": legend,
                "instant": instant,
                "range": not instant,
            }
            for index, (expr, legend) in enumerate(targets)
        ],
        "fieldConfig": {
            "defaults": {
                "unit": unit,
                "thresholds": thresholds or _thresholds((None, GREEN)),
                "mappings": mappings or [],
                "custom": custom or {},
                **defaults,
            },
            "overrides": [],
        },
        "options": options or {},
    }


def _timeseries(
    title: str,
    description: str,
    targets: list[tuple[str, str]],
    *,
    threshold_line: bool = False,
    draw: str = "line",
    **rest: Any,
) -> dict[str, Any]:
    custom = {
        "drawStyle": draw,
        "lineWidth": 1,
        "fillOpacity": 80 if draw == "bars" else 10,
        "showPoints": "never",
        "spanNulls": False,  # a reading the monitor could not take is a gap, not a line
        "thresholdsStyle": {"mode": "line+area" if threshold_line else "off"},
    }
    options = {"legend": {"displayMode": "list", "placement": "bottom"}, "tooltip": {"mode": "multi"}}
    return _panel("timeseries", title, description, targets, custom=custom, options=options, **rest)


def _stat(
    title: str,
    description: str,
    expr: str,
    legend: str = "",
    *,
    mappings: list[dict[str, Any]] | None = None,
    **rest: Any,
) -> dict[str, Any]:
    """A one-figure panel of the value now; no value (a dead monitor, a stale series) is a red "no data"."""
    options = {
        "reduceOptions": {"calcs": ["last"], "fields": "", "values": False},
        "colorMode": "background",
        "graphMode": "none",
        "textMode": "auto",
        "orientation": "auto",
        "justifyMode": "auto",
    }
    return _panel(
        "stat",
        title,
        description,
        [(expr, legend)],
        options=options,
        instant=True,
        mappings=[*(mappings or []), NO_DATA_MAPPING],
        noValue=NO_DATA,
        **rest,
    )


def dashboard(profile: Profile) -> dict[str, Any]:
    """The dashboard for ``profile`` as a JSON-ready dict; its SLO targets are the threshold lines."""
    slo = profile.config.slo
    layout = _Layout()
    risk_thresholds = _thresholds(
        *((None if level is RiskLevel.LOW else level.rank, colour) for level, colour in _RISK_COLOURS.items())
    )
    layout.add(
        _stat(
            "Risk level",
            "The verdict of the last cycle, as spark gate would give it.",
            f"max({names.RISK_LEVEL}{SELECTOR})",
            thresholds=risk_thresholds,
            mappings=RISK_MAPPINGS,
        ),
        width=6,
        height=4,
    )
    layout.add(
        _stat(
            "Risk score",
            "Weighted score of the last cycle: PASS 1, WARN 0.5, otherwise 0 (percent).",
            f"min({names.RISK_SCORE}{SELECTOR})",
            thresholds=_thresholds((None, RED), (50, YELLOW), (100, GREEN)),
            min=0,
            max=100,
        ),
        width=6,
        height=4,
    )
    layout.add(
        _stat(
            "Since the last cycle",
            "Time since spark monitor last finished a cycle in the time range; it keeps growing when the "
            f"monitor stops. SparkMonitorStale fires past {monitor_stale_in_words()}.",
            # Over the range, so a dead monitor (its series stale) still has a last cycle to count from.
            f"time() - max(max_over_time({names.LAST_RUN}{SELECTOR}[$__range]))",
            unit="s",
            thresholds=_thresholds((None, GREEN), (MONITOR_STALE_S, RED)),
        ),
        width=6,
        height=4,
    )
    layout.add(
        _stat(
            "Cycle duration",
            "How long the last cycle took to run the whole suite.",
            f"max({names.CYCLE_DURATION}{SELECTOR})",
            unit="s",
        ),
        width=6,
        height=4,
    )
    layout.add(
        _stat(
            "Checks",
            "Every check of the suite: UP when its last status was PASS or WARN.",
            f"min by (check) ({names.CHECK_UP}{SELECTOR})",
            "{{check}}",
            thresholds=_thresholds((None, RED), (1, GREEN)),
            mappings=UP_MAPPINGS,
        ),
        width=24,
        height=5,
    )
    layout.add(
        _panel(
            "state-timeline",
            "Checks over time",
            "Each check's UP/DOWN over the time range; gaps are cycles that did not run.",
            [(f"min by (check) ({names.CHECK_UP}{SELECTOR})", "{{check}}")],
            thresholds=_thresholds((None, RED), (1, GREEN)),
            mappings=UP_MAPPINGS,
            options={"showValue": "never", "mergeValues": True, "alignValue": "left", "rowHeight": 0.9},
            custom={"fillOpacity": 80, "lineWidth": 0},
        ),
        width=24,
        height=8,
    )
    slo_panels = (
        ("p95 latency", names.SLO_LATENCY_P95, "ms", slo.latency_p95_ms, "slo.latency_p95_ms"),
        ("Error rate", names.SLO_ERROR_RATE, "percentunit", slo.error_rate, "slo.error_rate"),
        ("Market-data staleness", names.SLO_STALENESS, "s", slo.staleness_s, "slo.staleness_s"),
    )
    for title, metric, unit, limit, key in slo_panels:
        target = f"the target is {key} = {limit:g}" if limit is not None else f"the profile sets no {key}"
        layout.add(
            _timeseries(
                title,
                f"What the health endpoint reported to the slo checks; {target} (profile {profile.name}).",
                [(f"{metric}{SELECTOR}", "{{check}}")],
                unit=unit,
                thresholds=_target_line(limit),
                threshold_line=limit is not None,
                min=0,
            ),
            width=8,
            height=8,
        )
    layout.add(
        _timeseries(
            "Risk level over time",
            "0 LOW, 1 MEDIUM, 2 HIGH, 3 CRITICAL.",
            [(f"max({names.RISK_LEVEL}{SELECTOR})", "risk")],
            thresholds=risk_thresholds,
            mappings=RISK_MAPPINGS,
            min=0,
            max=3,
            decimals=0,
        ),
        width=12,
        height=8,
    )
    layout.add(
        _timeseries(
            "Runs by result",
            "Monitor cycles per interval by result: pass, fail, inconclusive, error (the cycle crashed).",
            [(f"sum by (result) (increase({names.RUNS}_total{SELECTOR}[$__rate_interval]))", "{{result}}")],
            draw="bars",
            min=0,
        ),
        width=12,
        height=8,
    )
    layout.add(
        _timeseries(
            "Check durations",
            "How long each check took in each cycle.",
            [(f"max by (check) ({names.CHECK_DURATION}{SELECTOR})", "{{check}}")],
            unit="s",
            min=0,
        ),
        width=12,
        height=8,
    )
    layout.add(
        _timeseries(
            "/metrics bytes",
            "Size of each /metrics exposition a metrics check read.",
            [(f"max by (service) ({names.SCRAPE_BYTES}{SELECTOR})", "{{service}}")],
            unit="bytes",
            min=0,
        ),
        width=12,
        height=8,
    )
    return {
        "uid": _uid(profile.name),
        "title": f"Spark ops monitor ({profile.name})",
        "description": f"spark monitor's metrics; SLO targets from spark-ops profile {profile.name}.",
        "tags": ["spark-ops"],
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "editable": True,
        "graphTooltip": 1,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "30s",
        "timezone": "browser",
        "templating": {"list": _variables()},
        "annotations": {"list": []},
        "links": [],
        "panels": layout.panels,
    }


def _variables() -> list[dict[str, Any]]:
    return [
        {
            "name": "datasource",
            "label": "Prometheus",
            "type": "datasource",
            "query": "prometheus",
            "current": {},
            "hide": 0,
            "refresh": 1,
            "options": [],
        },
        {
            "name": "instance",
            "label": "Monitor",
            "type": "query",
            "datasource": DATASOURCE,
            "query": {"query": f"label_values({names.LAST_RUN}, instance)", "refId": "instance"},
            "definition": f"label_values({names.LAST_RUN}, instance)",
            "includeAll": True,
            "multi": True,
            "allValue": ".*",
            "current": {"text": "All", "value": "$__all"},
            "refresh": 2,
            "sort": 1,
            "hide": 0,
            "options": [],
        },
    ]


def _uid(profile_name: str) -> str:
    """A stable uid (so provisioning updates the dashboard in place), at most 40 safe characters."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", profile_name.rsplit("/", 1)[-1].removesuffix(".toml")).strip("-")
    return f"spark-ops-{stem or 'profile'}"[:40]


def render_dashboard(profile: Profile) -> str:
    """The dashboard for ``profile`` as JSON text."""
    return json.dumps(dashboard(profile), indent=2) + "\n"

"""The self-contained HTML report: one offline file with the verdict, every check (failing first) and charts.

Charts are drawn in the browser by uPlot (vendored in ``assets/``, MIT, its licence beside it): 51 KB,
chosen over Chart.js and pygal by file size and time to render (README, design notes). Nothing is fetched
at view time, and the page's Content-Security-Policy says so: no source but the page itself, and only
the page's own two scripts may run (by hash), so markup that slipped into a reason could not run even
if escaping failed. Escaping itself is jinja2's autoescape; chart data travels as JSON in a
non-executable ``<script type="application/json">`` block (``tojson`` escapes ``<``, ``>``, ``&``, ``'``)
that the chart script reads as text.

Rendered from a ``RunResult`` (for a kept run: ``result_json.decode`` of its result.json) or from the
daily report's document; jinja2 and the assets are loaded only when a report is written.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spark_ops.model import Bins, CheckResult, RunResult, Severity, Status
from spark_ops.report import readable

if TYPE_CHECKING:
    import jinja2

ASSETS = Path(__file__).with_name("assets")
TEMPLATES = Path(__file__).with_name("templates")

# Failing checks first: what blocks the deploy, then what could not be judged, then warnings.
_STATUS_ORDER = [Status.ERROR, Status.FAIL, Status.INCONCLUSIVE, Status.WARN, Status.PASS, Status.SKIP]
_SEVERITY_ORDER = [Severity.CRITICAL, Severity.MAJOR, Severity.MINOR]
_PERCENTILES = ("p50", "p95", "p99")


def failing_first(results: Sequence[CheckResult]) -> list[CheckResult]:
    """The results by status (ERROR, FAIL, INCONCLUSIVE, WARN, PASS, SKIP), then severity, then suite
    order."""
    indexed = list(enumerate(results))
    indexed.sort(
        key=lambda pair: (
            _STATUS_ORDER.index(pair[1].status),
            _SEVERITY_ORDER.index(pair[1].severity),
            pair[0],
        )
    )
    return [result for _, result in indexed]


def render(run: RunResult) -> str:
    """The run as one self-contained HTML page."""
    charts: list[dict[str, Any]] = []
    histograms = [item for result in run.results for item in _histogram_charts(result, charts)]
    window_charts = [_window_chart(result, charts) for result in run.results] if run.window else []
    rows = [
        {
            "status": result.status.value,
            "failing": result.status.is_failure,
            "name": result.name,
            "kind": result.kind,
            "severity": result.severity.value,
            "observed": readable.observed(result.observed, result.readings),
            "threshold": readable.threshold(
                result.threshold, readable.unit_of(result.observed, result.readings)
            ),
            "message": result.message,
        }
        for result in failing_first(run.results)
    ]
    return _page(
        "run.html.j2",
        charts,
        run=run,
        summary=run.summary,
        rows=rows,
        histograms=histograms,
        window_charts=[item for item in window_charts if item["strip"]],
    )


def render_daily(report: Mapping[str, Any]) -> str:
    """The daily risk report (``daily_report.build``'s document) as one HTML page, with the window's runs
    charted by score over time, one line per command."""
    timeline = list(report.get("timeline") or [])
    charts: list[dict[str, Any]] = []
    if timeline:
        times = [_epoch_s(str(run["at"])) for run in timeline]
        commands = sorted({run["command"] for run in timeline})
        charts.append(
            {
                "id": "chart-trend",
                "type": "lines",
                "time": True,
                "x": times,
                "x_label": "run (UTC)",
                "y_label": "score",
                "y_range": [0, 100],
                "series": [
                    {
                        "label": command,
                        "values": [run["score"] if run["command"] == command else None for run in timeline],
                    }
                    for command in commands
                ],
            }
        )
    previous = report["trend"]["previous"]["mean_score"]
    return _page(
        "daily.html.j2",
        charts,
        report=report,
        timeline=timeline,
        mean_score=_number(report["runs"]["mean_score"]),
        previous_mean_score=_number(previous),
    )


def _number(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:g}" if isinstance(value, float) else str(value)


# --- charts ----------------------------------------------------------------------------------------


def _histogram_charts(result: CheckResult, charts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A bar chart per histogram of ``result`` (latency and, against a baseline, the baseline's), marked
    with its percentiles and thresholds; the percentile table beside it."""
    items = []
    for name, bins in result.histograms.items():
        if not bins:
            continue
        prefix = name.removesuffix("latency_ms")  # "" or "baseline_"
        readings = result.readings
        limits = result.threshold if isinstance(result.threshold, Mapping) else {}
        percentiles: list[dict[str, Any]] = []
        markers: list[dict[str, Any]] = []
        for percentile in _PERCENTILES:
            value = readings.get(f"{prefix}{percentile}_ms")
            limit = None if prefix else limits.get(f"max_{percentile}_ms")
            if value is not None:
                percentiles.append(
                    {"name": percentile, "value": f"{value:g} ms", "limit": _limit_text(limit)}
                )
                markers.append({"value": value, "label": f"{percentile} {value:g} ms", "threshold": False})
            if isinstance(limit, int | float) and not isinstance(limit, bool):
                markers.append({"value": float(limit), "label": f"max {limit:g} ms", "threshold": True})
        shown_bins = _reaching(bins, [marker["value"] for marker in markers])
        chart_id = f"chart-{len(charts)}"
        charts.append(
            {
                "id": chart_id,
                "type": "histogram",
                "labels": [_bin_label(low, high) for low, high, _ in shown_bins],
                "x_label": "latency (ms)",
                "y_label": "requests",
                "series": [{"label": name, "values": [count for _, _, count in shown_bins]}],
                "markers": [
                    {**marker, "position": position}
                    for marker in markers
                    if (position := _position(shown_bins, marker["value"])) is not None
                ],
            }
        )
        title = "baseline latency histogram" if prefix else "latency histogram"
        samples = sum(count for _, _, count in bins)
        items.append(
            {
                "check": result.name,
                "title": f"{title} ({samples} requests)",
                "percentiles": percentiles,
                "chart_id": chart_id,
            }
        )
    return items


def _limit_text(limit: Any) -> str | None:
    return f"{limit:g} ms" if isinstance(limit, int | float) and not isinstance(limit, bool) else None


def _bin_label(low: float, high: float) -> str:
    return f"{math.sqrt(low * high) if low > 0 else high / 2:.3g}"


def _reaching(bins: Bins, values_ms: Sequence[float], most: int = 40) -> Bins:
    """``bins`` with empty bins of the same log width added below or above them until they reach each of
    ``values_ms`` (a threshold below the fastest sample shows as such), at most ``most`` on each side."""
    low, high = bins[0][0], bins[-1][1]
    first_ratio, last_ratio = bins[0][1] / low if low > 0 else 0, high / bins[-1][0] if bins[-1][0] > 0 else 0
    below = [v for v in values_ms if 0 < v < low]
    above = [v for v in values_ms if v > high]
    before: list[tuple[float, float, int]] = []
    if below and first_ratio > 1:
        steps = min(most, math.ceil(math.log(low / min(below)) / math.log(first_ratio)))
        edges = [low / first_ratio**step for step in range(steps, -1, -1)]
        before = [(round(a, 3), round(b, 3), 0) for a, b in itertools.pairwise(edges)]
    after: list[tuple[float, float, int]] = []
    if above and last_ratio > 1:
        steps = min(most, math.ceil(math.log(max(above) / high) / math.log(last_ratio)))
        edges = [high * last_ratio**step for step in range(steps + 1)]
        after = [(round(a, 3), round(b, 3), 0) for a, b in itertools.pairwise(edges)]
    return (*before, *bins, *after)


def _position(bins: Bins, value_ms: float) -> float | None:
    """Where ``value_ms`` falls on the histogram's bin axis (bin i spans i-0.5..i+0.5, log inside a bin);
    None when it is outside the bins (the percentile table still shows it)."""
    for index, (low, high, _) in enumerate(bins):
        if low <= value_ms <= high:
            inside = (
                (math.log(value_ms) - math.log(low)) / (math.log(high) - math.log(low))
                if low > 0 and high > low and value_ms > 0
                else 0.5
            )
            return index - 0.5 + inside
    return None


def _window_chart(result: CheckResult, charts: list[dict[str, Any]]) -> dict[str, Any]:
    """A check's measurements over an analysis window: a status strip and a line chart per unit of its
    readings (milliseconds, rates, the rest), so p95 and a request count never share an axis."""
    # A time that does not parse (a hand-edited document) has no place on a time axis: left out.
    timed = [(moment, m) for m in result.measurements if (moment := _epoch_s(m.at)) is not None]
    times = [moment for moment, _ in timed]
    measurements = [m for _, m in timed]
    groups: dict[str, list[str]] = {}
    for name in dict.fromkeys(name for m in measurements for name in m.readings):
        groups.setdefault(_unit(name), []).append(name)
    chart_ids = []
    for unit, names in groups.items():
        chart_id = f"chart-{len(charts)}"
        charts.append(
            {
                "id": chart_id,
                "type": "lines",
                "time": True,
                "x": times,
                "x_label": "measured at (UTC)",
                "y_label": unit,
                "series": [
                    {"label": name, "values": [m.readings.get(name) for m in measurements]} for name in names
                ],
            }
        )
        chart_ids.append(chart_id)
    return {
        "check": result.name,
        "status": result.status.value,
        "strip": [m.status.value for m in result.measurements],
        "chart_ids": chart_ids,
    }


def _unit(reading: str) -> str:
    if reading.endswith("_ms"):
        return "ms"
    if reading.endswith("rate") or reading.endswith("_ratio"):
        return "ratio"
    if reading.endswith("bytes"):
        return "bytes"
    return "value"


def _epoch_s(moment: str) -> float | None:
    """An ISO 8601 UTC time (``...Z``) as epoch seconds, the x axis uPlot's time scale reads."""
    try:
        return datetime.fromisoformat(moment.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


# --- the page -------------------------------------------------------------------------------------


def _page(template: str, charts: list[dict[str, Any]], **context: Any) -> str:
    from markupsafe import Markup

    from spark_ops import __version__

    assets = _assets()
    return (
        _environment()
        .get_template(template)
        .render(
            charts=charts,
            version=__version__,
            # Markup: our own vendored files and their hashes, the only text on the page not escaped.
            uplot_css=Markup(assets["uPlot.min.css"]),
            uplot_js=Markup(assets["uPlot.iife.min.js"]),
            charts_js=Markup(assets["charts.js"]),
            script_hashes=Markup(
                " ".join(_script_hash(assets[n]) for n in ("uPlot.iife.min.js", "charts.js"))
            ),
            **context,
        )
    )


@cache
def _assets() -> dict[str, str]:
    return {name: (ASSETS / name).read_text(encoding="utf-8") for name in _ASSET_NAMES}


_ASSET_NAMES = ("uPlot.min.css", "uPlot.iife.min.js", "charts.js")


def _script_hash(source: str) -> str:
    """The CSP source that lets exactly this inline script run."""
    digest = hashlib.sha256(source.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


@cache
def _environment() -> jinja2.Environment:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,  # every value is escaped unless marked safe (only the vendored assets are)
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )

"""report/html.py without a browser: escaping, the CSP that lets only our scripts run, failing-first
order, offline assets, the chart data, and a kept result.json giving back the page the run wrote.
(tests/browser/ opens the same pages in Chromium.)"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import replace
from html.parser import HTMLParser

import pytest
from conftest import check_result, gate_run
from hypothesis import given, settings
from hypothesis import strategies as st

from spark_ops import result_json
from spark_ops.model import Measurement, Severity, Status, Window
from spark_ops.report import html, renderer

HOSTILE = '<script>alert(1)</script><img src=x onerror="alert(2)">'


def page_of(*results, window: Window | None = None) -> str:
    return html.render(replace(gate_run(list(results), score=50.0), window=window))


def chart_data(page: str) -> list[dict]:
    match = re.search(r'<script type="application/json" id="spark-charts">(.*?)</script>', page, re.S)
    assert match
    return json.loads(match.group(1))


def test_everything_from_a_run_is_escaped():
    """Name, reason, observed value and threshold with markup are shown as text, never as tags."""
    result = check_result(
        f"evil{HOSTILE}",
        "http",
        Severity.CRITICAL,
        Status.FAIL,
        HOSTILE,
        observed=HOSTILE,
        threshold={"max": HOSTILE},
    )
    page = page_of(result)
    assert "<script>alert" not in page and "<img" not in page
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 4


def test_only_the_pages_own_scripts_may_run():
    """The CSP lists exactly the hashes of the page's executable scripts, and allows no source."""
    page = page_of(check_result("ui.up", "http", Severity.CRITICAL, Status.PASS, "ok"))
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1)
    assert (
        "default-src 'none'" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    )
    scripts = re.findall(r"<script>(.*?)</script>", page, re.S)
    assert len(scripts) == 2  # uPlot and the chart script: the JSON block is not executable
    hashes = {f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in scripts}
    assert set(policy.split("script-src ")[1].split(";")[0].split()) == hashes


def test_page_needs_nothing_from_the_network():
    """No src, href or url() points anywhere: the assets are inline."""
    page = page_of(check_result("ui.up", "http", Severity.CRITICAL, Status.PASS, "GET http://x/ -> 200"))
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page)
    assert "<link" not in page and "@import" not in page
    assert "uPlot" in page and "MIT" in page


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (["PASS", "FAIL", "WARN", "ERROR"], ["ERROR", "FAIL", "WARN", "PASS"]),
        (["SKIP", "INCONCLUSIVE", "PASS"], ["INCONCLUSIVE", "PASS", "SKIP"]),
    ],
    ids=["failures-first", "no-data-before-pass"],
)
def test_failing_first(statuses, expected):
    """Rows go ERROR, FAIL, INCONCLUSIVE, WARN, PASS, SKIP; within a status critical first, then suite
    order."""
    results = [check_result(f"c{i}", "http", Severity.MAJOR, Status(s), s) for i, s in enumerate(statuses)]
    assert [r.status.value for r in html.failing_first(results)] == expected
    same = [
        check_result("minor", "http", Severity.MINOR, Status.FAIL, ""),
        check_result("major", "http", Severity.MAJOR, Status.FAIL, ""),
        check_result("critical", "http", Severity.CRITICAL, Status.FAIL, ""),
        check_result("major.2", "http", Severity.MAJOR, Status.FAIL, ""),
    ]
    assert [r.name for r in html.failing_first(same)] == ["critical", "major", "major.2", "minor"]


def test_observed_and_threshold_read_as_the_terminal_table_writes_them():
    """The page writes a probe's figures as a person would (report/readable.py), not as a dict dump."""
    observed = {"samples": 50, "missed_slots": 0, "p95_ms": 217.0, "error_rate": 0.0}
    page = html.render(gate_run([latency_result(observed=observed)], score=100.0))
    assert '<td class="value">p95 217 ms · error rate 0% · 50 samples</td>' in page
    assert '<td class="value">p95 max 150 ms</td>' in page
    assert "missed_slots" not in page


def latency_result(**changes):
    fields = dict(
        observed={"samples": 50},
        threshold={"max_p95_ms": 150.0},
        readings={"p50_ms": 206.5, "p95_ms": 217.0, "p99_ms": 232.2},
        histograms={"latency_ms": ((201.4, 203.4, 2), (203.4, 205.5, 40), (205.5, 233.0, 8))},
    )
    fields.update(changes)
    return check_result(
        "latency.web", "latency", Severity.MAJOR, Status.FAIL, "p95 217.0 ms above 150 ms", **fields
    )


def test_latency_histogram_reaches_its_threshold():
    """The histogram is extended with empty bins down to a threshold below every sample, so its marker
    is drawn; the percentiles are marked and listed with their limit."""
    page = page_of(latency_result())
    (chart,) = chart_data(page)
    assert chart["type"] == "histogram"
    assert sum(chart["series"][0]["values"]) == 50
    assert chart["series"][0]["values"][0] == 0  # empty bins before the fastest sample
    labels = [marker["label"] for marker in chart["markers"]]
    assert labels == ["p50 206.5 ms", "p95 217 ms", "max 150 ms", "p99 232.2 ms"]
    assert chart["markers"][2]["position"] <= 0.5  # the threshold sits in the first bin
    assert "(max 150 ms)" in page
    assert "latency histogram (50 requests)" in page


def test_window_charts_group_readings_by_unit():
    """Over a window, each check gets a status strip and one line chart per unit of its readings."""
    times = [f"2026-11-21T12:00:{10 * i:02d}.000Z" for i in range(3)]
    result = replace(
        latency_result(histograms={}),
        measurements=tuple(
            Measurement(at, Status.PASS, {"p95_ms": 10.0 + i, "error_rate": 0.0, "samples": 50})
            for i, at in enumerate(times)
        ),
    )
    page = page_of(result, window=Window(3, 3, 10.0, "complete"))
    charts = chart_data(page)
    assert [(c["y_label"], [s["label"] for s in c["series"]]) for c in charts] == [
        ("ms", ["p95_ms"]),
        ("ratio", ["error_rate"]),
        ("value", ["samples"]),
    ]
    assert charts[0]["x"][1] - charts[0]["x"][0] == 10.0
    assert page.count('<span class="status-PASS"') == 3
    assert "analysis window: 3 of 3 measurements, every 10 s, complete" in page


def test_kept_result_gives_back_the_same_page():
    """The page rendered from a kept result.json (decoded) is the one the run wrote: the result JSON
    carries everything the report shows, histograms included."""
    run = gate_run(
        [latency_result(), check_result("ui.up", "http", Severity.CRITICAL, Status.PASS, "ok")], 50.0
    )
    decoded = result_json.decode(result_json.render(run))
    assert decoded.results[0].histograms == run.results[0].histograms
    assert html.render(decoded) == html.render(run) == renderer("html")(run)


def test_daily_report_page():
    """The daily report's page: the verdict, one row per run and the trend chart of their scores."""
    report = {
        "window": {"from": "2026-11-20T12:00:00Z", "to": "2026-11-21T12:00:00Z"},
        "risk": {"level": "HIGH", "recommendation": "Do not deploy"},
        "runs": {"runs": 2, "low_risk_runs": 1, "mean_score": 85.0},
        "canary": None,
        "issues": [{"command": "canary", "check": "x", "status": "FAIL", "count": 1, "message": HOSTILE}],
        "trend": {"direction": "worse", "previous": {"mean_score": None}},
        "timeline": [
            {
                "run": "20261121_100000_gate",
                "command": "gate",
                "at": "2026-11-21T10:00:00Z",
                "risk": "LOW",
                "score": 100.0,
            },
            {
                "run": "20261121_110000_canary",
                "command": "canary",
                "at": "2026-11-21T11:00:00Z",
                "risk": "HIGH",
                "score": 70.0,
            },
        ],
    }
    page = html.render_daily(report)
    (chart,) = chart_data(page)
    assert [s["label"] for s in chart["series"]] == ["canary", "gate"]
    assert chart["series"][0]["values"] == [None, 70.0]
    assert page.count('<tr class="run">') == 2
    assert "<script>alert" not in page and "mean score 85 vs n/a" in page


def test_a_measurement_time_that_does_not_parse_is_left_off_the_axis():
    """A hand-edited time is not charted (no crash, no NaN on the axis), but its status stays in the strip."""
    result = replace(
        latency_result(histograms={}),
        measurements=(
            Measurement("2026-11-21T12:00:00.000Z", Status.PASS, {"p95_ms": 10.0}),
            Measurement("yesterday", Status.FAIL, {"p95_ms": 99.0}),
        ),
    )
    page = page_of(result, window=Window(2, 2, 10.0, "complete"))
    (chart,) = chart_data(page)
    assert chart["series"][0]["values"] == [10.0] and len(chart["x"]) == 1
    assert page.count('<span class="status-FAIL"') == 1


class _Tags(HTMLParser):
    """The start tags of a page, in order, with their attribute names."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, tuple[str, ...]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, tuple(name for name, _ in attrs)))


def tags_of(page: str) -> list[tuple[str, tuple[str, ...]]]:
    parser = _Tags()
    parser.feed(page)
    return parser.tags


# Markup's own characters (and words) often, and any text at all.
MARKUP = st.text(alphabet=list("<>&\"'/=` ascriptonerimg-!\n\\"), max_size=60)


@settings(max_examples=150, deadline=None)
@given(text=st.one_of(MARKUP, st.text(max_size=60)))
def test_no_text_from_a_target_adds_a_tag_or_an_attribute(text):
    """Whatever a target puts in a reason, an observed value or a check name, the page has exactly the
    tags and attributes of the same page with plain text there: nothing it sends becomes markup."""

    def page(value: str) -> str:
        result = check_result(
            f"c.{value}", "http", Severity.MAJOR, Status.FAIL, value, observed=value, threshold={"max": value}
        )
        return page_of(result)

    assert tags_of(page(text)) == tags_of(page("plain"))

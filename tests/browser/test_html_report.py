"""The HTML report in a real browser (headless Debian Chromium, network off): the verdict, one row per
check with failing checks first, every chart drawn, no console error, and hostile reasons that never run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import check_result, gate_run

from spark_ops import result_json
from spark_ops.model import Measurement, Severity, Status, Window
from spark_ops.report import html

HOSTILE = (
    "</td></tr></table><script>window.__pwned = 1; document.title = 'pwned'</script>"
    '<img src=x onerror="window.__pwned = 2">'
)


def open_report(browser: Any, path: Path) -> list[dict[str, Any]]:
    """Load ``path``, wait until the chart script finished, and return the console entries it logged."""
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get_log("browser")  # drop what an earlier page logged
    browser.get(path.as_uri())
    WebDriverWait(browser, 20).until(
        lambda b: b.execute_script("return document.body.getAttribute('data-charts-drawn')") is not None
    )
    return list(browser.get_log("browser"))


def chart_sizes(browser: Any) -> list[dict[str, Any]]:
    """Each chart container with the size of the canvas uPlot drew into it."""
    return list(
        browser.execute_script(
            """return [...document.querySelectorAll('.chart')].map(el => {
                 const c = el.querySelector('canvas');
                 return {id: el.id, drawn: el.dataset.drawn, w: c ? c.width : 0, h: c ? c.height : 0};
               });"""
        )
    )


def save_full_page(browser: Any, path: Path) -> None:
    """A screenshot of the whole page, not only the window."""
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1200, height + 140)
    try:
        assert browser.save_screenshot(str(path))
    finally:
        browser.set_window_size(1200, 1600)


def assert_no_console_errors(entries: list[dict[str, Any]]) -> None:
    errors = [entry for entry in entries if entry["level"] in ("SEVERE", "ERROR")]
    assert errors == [], errors


@pytest.mark.slow
def test_failing_canary_report_in_chromium(browser, spark, tmp_path):
    """A failing canary (web 200 ms slow) written with --report-html: the verdict, one row per check with
    the failing ones first, a drawn latency histogram; a screenshot is kept beside the test's output."""
    report = tmp_path / "canary.html"
    result = spark(
        "canary",
        "--mode",
        "mock",
        "--auto-ok",
        "--fault",
        "web=slow:200",
        "--no-evidence",
        "--format",
        "json",
        "--report-html",
        str(report),
    )
    assert result.exit_code == 1, result.stderr
    run = result_json.decode(result.stdout)
    entries = open_report(browser, report)
    assert_no_console_errors(entries)

    assert browser.find_element("id", "risk-level").text == run.risk.level.value == "HIGH"
    assert browser.find_element("id", "exit-code").text == "1"
    assert browser.find_element("id", "recommendation").text == run.risk.recommendation
    rows = browser.find_elements("css selector", "#checks tbody tr.check")
    assert len(rows) == len(run.results) == 13
    statuses = [row.get_attribute("data-status") for row in rows]
    failing = sum(1 for r in run.results if r.status.is_failure)
    assert failing >= 2  # the SLO p95 and the latency probe at least
    assert all(s in ("FAIL", "ERROR") for s in statuses[:failing]), statuses
    assert all(s not in ("FAIL", "ERROR") for s in statuses[failing:]), statuses
    names = [row.find_element("css selector", "td.name").text for row in rows]
    assert "latency.web" in names[:failing]

    charts = chart_sizes(browser)
    assert [c["id"] for c in charts] == ["chart-0"]  # the latency probe's histogram
    assert all(c["drawn"] == "true" and c["w"] > 0 and c["h"] > 0 for c in charts), charts
    percentiles = browser.find_element("css selector", "table.percentiles").text
    assert "p95" in percentiles and "max 150 ms" in percentiles

    screenshot = tmp_path / "failing-canary.png"
    save_full_page(browser, screenshot)
    assert screenshot.stat().st_size > 10_000
    print(f"screenshot: {screenshot}")


def window_run() -> Any:
    """A canary-like run over a 5-measurement window: a latency probe with a histogram and an SLO check."""
    times = [f"2026-11-21T12:00:{10 * i:02d}.000Z" for i in range(5)]
    latency = check_result(
        "latency.web",
        "latency",
        Severity.MAJOR,
        Status.FAIL,
        "3 of 5 measurements failed",
        observed={"samples": 50, "p95_ms": 210.0},
        threshold={"max_p95_ms": 150.0},
        readings={"p50_ms": 205.0, "p95_ms": 210.0, "p99_ms": 214.0, "error_rate": 0.0},
        histograms={"latency_ms": ((201.4, 203.4, 2), (203.4, 205.5, 30), (205.5, 215.9, 18))},
    )
    slo = check_result(
        "healthz.slo.staleness",
        "slo",
        Severity.MAJOR,
        Status.PASS,
        "all 5 measurements passed",
        observed=1.2,
        threshold={"max": 30.0},
        readings={"slo.staleness": 1.2},
    )
    from dataclasses import replace

    latency = replace(
        latency,
        measurements=tuple(
            Measurement(
                at,
                Status.FAIL if i % 2 == 0 else Status.PASS,
                {"p50_ms": 100.0 + i, "p95_ms": 140.0 + 20 * i, "error_rate": 0.01 * i},
            )
            for i, at in enumerate(times)
        ),
    )
    slo = replace(
        slo,
        measurements=tuple(
            Measurement(at, Status.PASS, {"slo.staleness": 1.0 + i / 10}) for i, at in enumerate(times)
        ),
    )
    run = gate_run([slo, latency], score=50.0)
    return replace(run, command="canary", suite="canary", window=Window(5, 5, 10.0, "complete"))


def test_window_charts_in_chromium(browser, tmp_path):
    """An analysis window: each check's measurements over time drawn (ms and ratio apart), plus the
    latency histogram; every chart has a non-zero size and nothing is logged as an error."""
    run = window_run()
    report = tmp_path / "window.html"
    report.write_text(html.render(result_json.decode(result_json.render(run))), encoding="utf-8")
    assert_no_console_errors(open_report(browser, report))
    charts = chart_sizes(browser)
    # histogram; latency.web: ms and ratio; slo: value
    assert len(charts) == 4, charts
    assert all(c["drawn"] == "true" and c["w"] > 0 and c["h"] > 0 for c in charts), charts
    strips = browser.find_elements("css selector", ".strip")
    assert [len(s.find_elements("css selector", "span")) for s in strips] == [5, 5]
    assert "analysis window: 5 of 5 measurements" in browser.find_element("id", "verdict").text
    save_full_page(browser, tmp_path / "window.png")


def test_daily_report_trend_in_chromium(browser, spark, tmp_path):
    """`spark report --format html`: the verdict and the trend of the window's runs, drawn."""
    from datetime import timedelta

    from conftest import result_doc, write_run

    from spark_ops import clock

    now = clock.now()
    base = tmp_path / "evidence"
    for minutes, command, level in ((50, "gate", "LOW"), (30, "canary", "HIGH"), (10, "gate", "MEDIUM")):
        write_run(base, now - timedelta(minutes=minutes), command, result_doc(command, level))
    result = spark("report", "--format", "html", "--no-store", "--evidence-dir", str(base))
    assert result.exit_code == 0, result.stderr
    page = tmp_path / "daily.html"
    page.write_text(result.stdout, encoding="utf-8")
    assert_no_console_errors(open_report(browser, page))
    assert browser.find_element("id", "risk-level").text == "HIGH"
    assert len(browser.find_elements("css selector", "#runs tr.run")) == 3
    (chart,) = chart_sizes(browser)
    assert chart["drawn"] == "true" and chart["w"] > 0 and chart["h"] > 0


def test_hostile_reason_never_runs(browser, tmp_path):
    """A reason (and an observed value, a check name) carrying <script> and an onerror attribute is shown
    as text: nothing runs, the table keeps one row per check, and the title stays ours."""
    hostile = check_result(
        f"evil{HOSTILE}",
        "http",
        Severity.CRITICAL,
        Status.FAIL,
        HOSTILE,
        observed=HOSTILE,
        threshold={"max": HOSTILE},
    )
    fine = check_result("ui.up", "http", Severity.CRITICAL, Status.PASS, "GET / -> 200")
    report = tmp_path / "hostile.html"
    report.write_text(html.render(gate_run([fine, hostile], score=50.0)), encoding="utf-8")
    entries = open_report(browser, report)
    assert browser.execute_script("return window.__pwned === undefined")
    assert "pwned" not in browser.title
    assert browser.find_elements("css selector", "script") and not browser.find_elements(
        "css selector", "img"
    )
    rows = browser.find_elements("css selector", "#checks tbody tr.check")
    assert len(rows) == 2
    assert HOSTILE in rows[0].find_element("css selector", "td.reason").text
    assert_no_console_errors(entries)


def test_report_needs_no_network(browser, tmp_path):
    """The page loads nothing from anywhere: every resource it asks for is the file itself."""
    run = window_run()
    report = tmp_path / "offline.html"
    report.write_text(html.render(run), encoding="utf-8")
    open_report(browser, report)
    resources = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert resources == []
    assert json.loads(browser.execute_script("return document.getElementById('spark-charts').textContent"))

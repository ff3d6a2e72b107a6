"""The HTML report: which chart library (by measurement), and what the report costs.

1. The choice. One page of 14 line charts (30 points each) and one 40-bar histogram, drawn by each
   candidate: uPlot 1.6.32 (vendored in spark_ops/report/assets), Chart.js 4.6.1 (`npm pack`) and pygal
   3.1.3 (a Python SVG renderer, `pip install --target`). For each: what it adds to an install, the page's
   bytes, the Python time to render (pygal draws in Python; the JS libraries draw in the browser), and the
   time from navigation to the last chart drawn in headless Chromium (median of 7 loads).
2. The cost. `html.render` of a 13-check canary with its latency histogram, of a 1000-check gate (the
   gate-at-scale suite keeps a report.html with every run), and of a 13-check analysis window of 30
   measurements; their bytes; and the canary's and window's load-and-draw time in Chromium.

Chromium comes from Debian (`apt-get install chromium chromium-driver`), driven by Selenium; without it the
browser columns say so. `npm` and `pip` fetch the two peers into a temporary folder.

    python bench/html_report.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _results import machine, record_rows, write_section

from spark_ops.model import CheckResult, Judgement, Measurement, Risk, RiskLevel, RunResult, Severity, Status
from spark_ops.model import Window as AnalysisWindow
from spark_ops.report import html

ASSETS = Path(html.__file__).with_name("assets")
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
# Inline scripts run while the page is parsed, so every chart is drawn before DOMContentLoaded ends.
DRAWN_MS = "return performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd"


def browser() -> Any | None:
    """Headless Debian Chromium through Selenium, or None when either is missing."""
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        return None
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        return None
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--window-size=1200,900",
    ):
        options.add_argument(argument)
    return webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))


def draw_ms(driver: Any, page: Path, loads: int) -> float:
    """Median time from navigation start to the end of DOMContentLoaded (every chart drawn)."""
    times = []
    for _ in range(loads):
        driver.get(page.as_uri())
        times.append(float(driver.execute_script(DRAWN_MS)))
    return statistics.median(times)


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# --- 1. the libraries -------------------------------------------------------------------------------


def candidate_pages(work: Path) -> dict[str, dict[str, Any]]:
    """Each library's page of the same charts, with its install size and Python render time."""
    rng = random.Random(1)
    series = [[round(rng.uniform(1, 50), 2) for _ in range(30)] for _ in range(14)]
    bars = [rng.randint(0, 9) for _ in range(40)]
    data = json.dumps({"series": series, "bars": bars})
    pages: dict[str, dict[str, Any]] = {}
    uplot = (ASSETS / "uPlot.iife.min.js").read_text()
    pages["uPlot 1.6.32"] = {
        "install": sum((ASSETS / n).stat().st_size for n in ("uPlot.iife.min.js", "uPlot.min.css")),
        "render_ms": None,  # drawn in the browser
        "html": f"""<!doctype html><style>{(ASSETS / "uPlot.min.css").read_text()}</style><body>
<script>{uplot}</script><script>const D={data}; const xs=[...Array(30).keys()];
D.series.forEach(s => {{ const d = document.createElement('div'); document.body.appendChild(d);
  new uPlot({{width: 600, height: 200, series: [{{}}, {{stroke: 'red'}}]}}, [xs, s], d); }});
const h = document.createElement('div'); document.body.appendChild(h);
new uPlot({{width: 600, height: 200, scales: {{x: {{time: false}}}},
  series: [{{}}, {{fill: '#48c', paths: uPlot.paths.bars()}}]}}, [[...Array(40).keys()], D.bars], h);
</script>""",
    }
    subprocess.run(["npm", "pack", "--silent", "chart.js@4.6.1"], cwd=work, check=True, capture_output=True)
    subprocess.run(["tar", "xzf", "chart.js-4.6.1.tgz"], cwd=work, check=True)
    chartjs = (work / "package" / "dist" / "chart.umd.min.js").read_text()
    pages["Chart.js 4.6.1"] = {
        "install": len(chartjs.encode()),
        "render_ms": None,  # drawn in the browser
        "html": f"""<!doctype html><body><script>{chartjs}</script><script>const D={data};
const xs = [...Array(30).keys()];
function canvas() {{ const c = document.createElement('canvas'); c.width = 600; c.height = 200;
  document.body.appendChild(c); return c; }}
const off = {{animation: false, responsive: false}};
D.series.forEach(s => new Chart(canvas(), {{type: 'line', data: {{labels: xs, datasets: [{{data: s}}]}},
  options: off}}));
new Chart(canvas(), {{type: 'bar', data: {{labels: [...Array(40).keys()], datasets: [{{data: D.bars}}]}},
  options: off}});
</script>""",
    }
    target = work / "pygal"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--target", str(target), "pygal==3.1.3"],
        check=True,
        capture_output=True,
    )
    sys.path.insert(0, str(target))
    import pygal

    def svgs() -> list[str]:
        drawn = []
        for values in series:
            line = pygal.Line(width=600, height=200, show_legend=False, js=[])
            line.add("v", values)
            drawn.append(line.render(is_unicode=True))
        bar = pygal.Bar(width=600, height=200, show_legend=False, js=[])
        bar.add("n", bars)
        drawn.append(bar.render(is_unicode=True))
        return drawn

    times = []
    for _ in range(5):
        started = time.perf_counter()
        drawn = svgs()
        times.append((time.perf_counter() - started) * 1000)
    pages["pygal 3.1.3 (SVG)"] = {
        "install": folder_bytes(target / "pygal"),
        "render_ms": statistics.median(times),
        "html": "<!doctype html><body>" + "".join(drawn),
    }
    return pages


# --- 2. the report ----------------------------------------------------------------------------------


def check(index: int, status: Status = Status.PASS, **judged: Any) -> CheckResult:
    from spark_ops.config.suite import CheckSpec

    spec = CheckSpec(name=f"check.{index}", kind="http", severity=Severity.MAJOR, index=index)
    message = f"GET http://127.0.0.1:3003/page/{index} -> 200 in 4 ms"
    return CheckResult(spec, Judgement(status, message, observed=200, threshold=[200], **judged))


def canary_run(checks: int) -> RunResult:
    rng = random.Random(2)
    bins = []
    low = 2.0
    for _ in range(40):
        bins.append((round(low, 3), round(low * 1.05, 3), rng.randint(0, 30)))
        low *= 1.05
    latency = check(
        0,
        Status.FAIL,
        readings={"p50_ms": 3.1, "p95_ms": 5.2, "p99_ms": 9.8},
        histograms={"latency_ms": tuple(bins)},
    )
    results = [latency] + [check(i) for i in range(1, checks)]
    risk = Risk(RiskLevel.HIGH, 92.3, "Do not deploy: major checks are failing")
    return RunResult("canary", "dev", "canary", "2026-11-21T12:00:00Z", 2000, results, risk)


def window_run(checks: int, measurements: int) -> RunResult:
    run = canary_run(checks)
    times = [f"2026-11-21T12:{i // 6:02d}:{10 * (i % 6):02d}.000Z" for i in range(measurements)]
    results = [
        replace(
            result,
            measurements=tuple(
                Measurement(at, Status.PASS, {"elapsed_ms": 4.0 + (i % 7), "error_rate": 0.0})
                for i, at in enumerate(times)
            ),
        )
        for result in run.results
    ]
    return replace(run, results=results, window=AnalysisWindow(measurements, measurements, 10.0, "complete"))


def _ms(value: float | None, instead: str, digits: int) -> str:
    return instead if value is None else f"{value:.{digits}f}"


def render_ms(run: RunResult, repeat: int) -> float:
    html.render(run)  # templates compiled and assets read once, as in a process that writes several
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        html.render(run)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer loads and renders (a smoke run)")
    args = parser.parse_args()
    loads, repeat = (3, 5) if args.quick else (7, 21)
    driver = browser()
    work = Path(tempfile.mkdtemp(prefix="bench-html-"))
    try:
        lines = [
            "## HTML report: the chart library, and what a report costs",
            "",
            f"Machine: {machine()}.",
            "",
            "One page of 14 line charts (30 points) and a 40-bar histogram in each candidate; load and draw "
            f"in headless Debian Chromium, median of {loads} loads:",
            "",
            "| library | adds to an install | page bytes | Python render ms | Chromium load+draw ms |",
            "|---|---|---|---|---|",
        ]
        drawn: dict[str, float] = {}
        for name, page in candidate_pages(work).items():
            path = work / f"{name.split()[0]}.html"
            path.write_text(page["html"], encoding="utf-8")
            browser_ms = draw_ms(driver, path, loads) if driver else None
            if browser_ms is not None:
                drawn[name] = browser_ms
            lines.append(
                f"| {name} | {page['install'] / 1024:.0f} KB | {path.stat().st_size / 1024:.0f} KB | "
                f"{_ms(page['render_ms'], 'in the browser', 1)} | {_ms(browser_ms, 'no Chromium', 0)} |"
            )
        lines += [
            "",
            f"spark-ops' own pages (`html.render`, median of {repeat} renders):",
            "",
            "| page | render ms | bytes | Chromium load+draw ms |",
            "|---|---|---|---|",
        ]
        pages = {
            "canary, 13 checks + latency histogram": canary_run(13),
            "gate, 1000 checks": canary_run(1000),
            "window, 13 checks x 30 measurements (27 charts)": window_run(13, 30),
        }
        rendered: dict[str, float] = {}
        for name, run in pages.items():
            path = work / "report.html"
            text = html.render(run)
            path.write_text(text, encoding="utf-8")
            rendered[name] = render_ms(run, repeat)
            browser_ms = draw_ms(driver, path, loads) if driver and "1000" not in name else None
            shown = "—" if browser_ms is None else f"{browser_ms:.0f}"
            lines.append(f"| {name} | {rendered[name]:.1f} | {len(text.encode()) / 1024:.0f} KB | {shown} |")
        lines += [
            "",
            "Load+draw is navigation start to the end of DOMContentLoaded: the inline scripts (the library "
            "and the charts) run while the page is parsed, so every chart is drawn by then.",
        ]
        write_section("html-report", "\n".join(lines))
        uplot, chartjs = drawn.get("uPlot 1.6.32"), drawn.get("Chart.js 4.6.1")
        record_rows(
            "html-report",
            [
                {
                    "what": "HTML report: 1000-check gate rendered (ms)",
                    "spark": f"{rendered['gate, 1000 checks']:.1f}",
                    "peer": "",
                    "ratio": "",
                    "goal": "under 2.5 ms a check (gate at scale)",
                    "met": "yes" if rendered["gate, 1000 checks"] < 2500 else "no",
                },
                {
                    "what": "charts drawn in Chromium: uPlot vs Chart.js (ms)",
                    "spark": "n/a" if uplot is None else f"{uplot:.0f}",
                    "peer": "n/a" if chartjs is None else f"{chartjs:.0f} (Chart.js)",
                    "ratio": "" if not (uplot and chartjs) else f"{uplot / chartjs:.2f}x",
                    "goal": "the faster library",
                    "met": "n/a" if not (uplot and chartjs) else "yes" if uplot <= chartjs else "no",
                },
            ],
        )
        print("\n".join(lines))
    finally:
        if driver is not None:
            driver.quit()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

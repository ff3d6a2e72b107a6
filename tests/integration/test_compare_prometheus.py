"""``compare`` checks against a real Prometheus scraping simulators that play baseline and canaries.

One Prometheus scrapes four simulators at once, each labelled by its role: ``baseline`` and ``healthy``
(an equal pair), ``errors`` (``web=errors:0.2``) and ``slow`` (``web=slow:80``), while a load thread
per simulator sends ``GET /``. After ~33 s of data every check judges the last 30 s at a 1 s step: the
``errors`` role's own scrapes answer 500 a fifth of the time, and on a loaded CI machine a 15 s look back
once held 8 of its 16 steps, under ``min_samples`` (10); 31 steps leave room for such gaps.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import run_one_check, write_suite

from spark_ops.model import CheckResult, Status
from spark_ops.sim import Simulator, parse_fault

from .conftest import PrometheusServer, running_prometheus

ROLES = {"baseline": None, "healthy": None, "errors": "web=errors:0.2", "slow": "web=slow:80"}
DATA_S = 33.0  # of scraped data before judging: the checks look back LOOKBACK_S
LOOKBACK_S = 30
REQUEST_INTERVAL_S = 0.05  # each load thread: GET / about 20 times a second (the slow one fewer)
# No 5xx series at all reads as 0 (``or vector(0)``), not as no data; no requests at all stays no data.
ERROR_RATE = (
    '(sum(rate(spark_http_requests_total{role="{role}", code=~"5.."}[5s])) or vector(0))'
    ' / sum(rate(spark_http_requests_total{role="{role}"}[5s]))'
)
P50_LATENCY = (
    'histogram_quantile(0.5, sum by (le) (rate(spark_http_request_duration_seconds_bucket{role="{role}",'
    ' path="/"}[5s])))'
)


def send_load(url: str, stop: threading.Event) -> None:
    """GET ``url`` until ``stop``; answers (500s included) and refusals are the simulator's business."""
    with httpx.Client(timeout=5.0) as client:
        while not stop.is_set():
            with contextlib.suppress(httpx.HTTPError):  # the simulator's metrics count, not the load
                client.get(url)
            stop.wait(REQUEST_INTERVAL_S)


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    """Four role-labelled simulators under load, scraped by one Prometheus; DATA_S seconds scraped."""
    stop = threading.Event()
    simulators = [
        Simulator(role=role, faults=[parse_fault(fault)] if fault else []).start()
        for role, fault in ROLES.items()
    ]
    threads = [
        threading.Thread(target=send_load, args=(sim.urls["web"] + "/", stop), daemon=True)
        for sim in simulators
    ]
    try:
        for thread in threads:
            thread.start()
        targets = [
            (f"web-{role}", sim.urls["web"].removeprefix("http://"), "/api/tools/metrics")
            for role, sim in zip(ROLES, simulators, strict=True)
        ]
        with running_prometheus(tmp_path_factory.mktemp("prometheus"), targets) as server:
            server.wait_for(f"count(count by (role) (spark_http_requests_total)) == {len(ROLES)}")
            time.sleep(DATA_S)
            yield server
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
        for sim in simulators:
            sim.stop()


@pytest.fixture
def judge(prometheus: PrometheusServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run one ``compare`` check of ``canary`` against the ``baseline`` role under the dev profile."""
    monkeypatch.chdir(tmp_path)

    def run(canary: str, query: str, **options: Any) -> CheckResult:
        check = {
            "name": "cmp",
            "kind": "compare",
            "query": query,
            "canary": canary,
            "baseline": "baseline",
            "lookback_s": LOOKBACK_S,
            "step_s": 1,
            **options,
        }
        return run_one_check(tmp_path, check, "dev", [f"prometheus.url={prometheus.url}"])

    return run


LATENCY = {"max_effect": 1.0}  # twice the baseline's median fails; scheduling noise on 2 cores does not


@pytest.mark.parametrize(
    ("canary", "query", "options", "status", "fragments"),
    [
        pytest.param(
            "healthy", ERROR_RATE, {}, Status.PASS, ["no significant change"], id="equal-pair-errors"
        ),
        pytest.param("healthy", P50_LATENCY, LATENCY, Status.PASS, [": PASS"], id="equal-pair-latency"),
        pytest.param(
            "errors",
            ERROR_RATE,
            {},
            Status.FAIL,
            ["+inf % (from a zero baseline)", "beyond max_effect 20 % (an increase is bad): FAIL"],
            id="errors-0.2-fail",
        ),
        pytest.param(
            "slow",
            P50_LATENCY,
            LATENCY,
            Status.FAIL,
            ["beyond max_effect 100 %", ": FAIL"],
            id="slow-80-fails",
        ),
        pytest.param("slow", ERROR_RATE, {}, Status.PASS, ["no significant change"], id="slow-has-no-errors"),
        pytest.param(
            "ghost",
            ERROR_RATE,
            {},
            Status.FAIL,
            ["no data for canary", "must_have_data = true"],
            id="no-such-role",
        ),
    ],
)
def test_compare_against_real_prometheus(judge, canary, query, options, status, fragments):
    """A bad canary FAILs with its reason, an equal pair PASSes, a role with no data never passes."""
    result = judge(canary, query, **options)
    assert result.status is status, result.message
    for fragment in fragments:
        assert fragment in result.message, (fragment, result.message)
    readings = result.judgement.readings
    if canary != "ghost":
        assert readings["canary_samples"] >= 10, result.message
        assert readings["baseline_samples"] >= 10, result.message


def test_the_slow_canarys_median_is_its_delay(judge):
    """The slow canary's p50 reads about 80 ms (its bucket is 50-100 ms), the baseline's a few ms."""
    readings = judge("slow", P50_LATENCY, **LATENCY).judgement.readings
    assert 0.05 <= readings["canary_median"] <= 0.1
    assert readings["baseline_median"] < 0.025


def test_a_critical_compare_fails_the_run_at_any_fail_on(spark, prometheus, tmp_path):
    """``severity = "critical"`` is the issue's ``critical = true``: a failing compare makes the risk
    CRITICAL, so even ``--fail-on critical`` exits 1, with the reason in the JSON result."""
    check = {
        "name": "canary.errors",
        "kind": "compare",
        "severity": "critical",
        "query": ERROR_RATE,
        "canary": "errors",
        "baseline": "baseline",
        "lookback_s": LOOKBACK_S,
        "step_s": 1,
    }
    suite = write_suite(tmp_path, check)
    args = ("--suite", str(suite), "--set", f"prometheus.url={prometheus.url}", "--no-evidence")
    result = spark("gate", *args, "--exit-on-fail", "--fail-on", "critical", "-f", "json")
    assert result.exit_code == 1, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["risk"]["level"] == "CRITICAL"
    (judged,) = report["checks"]
    assert judged["status"] == "FAIL"
    assert "beyond max_effect 20 %" in judged["message"]
    assert judged["observed"]["effect"] is None  # +inf from a zero baseline: JSON has no infinity

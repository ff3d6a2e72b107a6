"""``spark monitor`` scraped by a real Prometheus that loads the rules ``spark alerts`` renders."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from conftest import GATE_CHECKS, free_port

from spark_ops import pipeline
from spark_ops.alerts import render_rules
from spark_ops.config import load_profile
from spark_ops.monitor import run_monitor
from spark_ops.sim import Simulator, parse_fault

from .conftest import PrometheusServer, running_prometheus


@pytest.fixture(scope="module")
def monitor_address(shared_sim: Simulator) -> Iterator[str]:
    """`spark monitor`'s loop on a thread, running the gate against the simulator every second."""
    prepared = pipeline.prepare_run(
        "monitor", profile_ref="dev", suite_ref="gate", sets=shared_sim.profile_sets()
    )
    address = f"127.0.0.1:{free_port()}"
    stop = threading.Event()
    thread = threading.Thread(
        target=run_monitor,
        args=(prepared,),
        kwargs={"interval_s": 1.0, "listen": address, "stop": stop},
        name="spark-monitor",
    )
    thread.start()
    try:
        yield address
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()


@pytest.fixture(scope="module")
def prometheus(monitor_address: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    """A real Prometheus scraping the monitor, with the dev profile's alert rules loaded."""
    folder = tmp_path_factory.mktemp("prometheus")
    rules = folder / "spark-alerts.yml"
    rules.write_text(render_rules(load_profile("dev")), encoding="utf-8")
    with running_prometheus(
        folder / "server", [("spark-monitor", monitor_address)], rule_files=[rules]
    ) as server:
        server.wait_for('up{job="spark-monitor"} == 1', timeout=30)
        yield server


def test_prometheus_sees_every_check_of_the_suite(prometheus: PrometheusServer, monitor_address: str):
    """Prometheus scrapes spark_check_up for each gate check (all up) and counts passing cycles."""
    found = prometheus.wait_for(f'count(spark_check_up{{job="spark-monitor"}} == 1) == {len(GATE_CHECKS)}')
    assert found
    series = prometheus.query('spark_check_up{job="spark-monitor"}')["data"]["result"]
    assert {item["metric"]["check"] for item in series} == set(GATE_CHECKS)
    assert {item["metric"]["instance"] for item in series} == {monitor_address}
    assert prometheus.wait_for('spark_monitor_runs_total{result="pass"} > 0')
    assert prometheus.wait_for("spark_risk_level == 0")
    assert prometheus.wait_for('spark_monitor_interval_seconds{job="spark-monitor"} == 1')
    assert prometheus.wait_for('spark_slo_latency_p95_ms{check="healthz.slo.latencyP95"} >= 0')


def test_prometheus_loads_the_rendered_rules(prometheus: PrometheusServer):
    """Every alerting and recording rule `spark alerts` rendered is loaded and evaluates without error, and
    the healthy monitor is not reported stale."""
    time.sleep(2)  # at least one evaluation at the 1 s interval
    answer = httpx.get(f"{prometheus.url}/api/v1/rules", timeout=5).json()
    rules = [rule for group in answer["data"]["groups"] for rule in group["rules"]]
    assert len(rules) == 17
    assert {rule["health"] for rule in rules} == {"ok"}, [r for r in rules if r["health"] != "ok"]
    alerting = {rule["name"]: rule for rule in rules if rule["type"] == "alerting"}
    assert {"SparkLatencyP95High", "SparkCheckDown", "SparkErrorBudgetBurnFast"} <= set(alerting)
    assert alerting["SparkMonitorStale"]["state"] == "inactive"  # a monitor cycling every second is fresh


def alerts_named(prometheus: PrometheusServer, name: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{prometheus.url}/api/v1/alerts", timeout=5).json()
    return [alert for alert in answer["data"]["alerts"] if alert["labels"]["alertname"] == name]


def test_a_fault_makes_the_alerts_pending(prometheus: PrometheusServer, shared_sim: Simulator):
    """Stale market data seen by the monitor turns SparkMarketDataStale and SparkCheckDown pending."""
    shared_sim.apply(parse_fault("marketdata=stale:120"))
    try:
        deadline = time.monotonic() + 30
        stale: list[dict[str, Any]] = []
        down: list[dict[str, Any]] = []
        while time.monotonic() < deadline and not (stale and down):
            stale = alerts_named(prometheus, "SparkMarketDataStale")
            down = alerts_named(prometheus, "SparkCheckDown")
            time.sleep(0.2)
    finally:
        shared_sim.clear("marketdata")
    assert [(a["labels"]["check"], a["state"]) for a in stale] == [("healthz.slo.staleness", "pending")]
    assert [(a["labels"]["check"], a["state"]) for a in down] == [("healthz.slo.staleness", "pending")]
    assert down[0]["labels"]["severity"] == "warning"

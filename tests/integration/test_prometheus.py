"""``promql`` checks against a real Prometheus that scrapes the embedded simulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import run_one_check, write_suite

from spark_ops.model import CheckResult, Status
from spark_ops.sim import Simulator, parse_fault

from .conftest import PrometheusServer, prometheus_binary, running_prometheus

JOBS = ("web", "executor-1", "executor-2", "marketdata")


@pytest.fixture(scope="module")
def prometheus(shared_sim: Simulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    """One Prometheus for the module, scraping the four services; every job has been scraped once."""
    targets = [
        (name, url.removeprefix("http://"), "/api/tools/metrics" if name == "web" else "/metrics")
        for name, url in shared_sim.urls.items()
    ]
    with running_prometheus(tmp_path_factory.mktemp("prometheus"), targets) as server:
        server.wait_for(f"count(up == 1) == {len(JOBS)}")
        yield server


@pytest.fixture
def judge(prometheus: PrometheusServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run one ``promql`` check (given as suite keys) under the dev profile against ``prometheus``."""
    monkeypatch.chdir(tmp_path)

    def run(**options: Any) -> CheckResult:
        check = {"name": "prom", "kind": "promql", **options}
        return run_one_check(tmp_path, check, "dev", [f"prometheus.url={prometheus.url}"])

    return run


@pytest.mark.parametrize(
    ("options", "status", "fragment"),
    [
        ({"query": "up", "min": 1}, Status.PASS, "4 series, each within min 1"),
        ({"query": "scalar(count(up))", "min": 4, "max": 4}, Status.PASS, "scalar = 4"),
        (
            {"query": 'spark_http_requests_total{service="executor-1", path="/healthz"}', "min": 0},
            Status.PASS,
            'job="executor-1"',
        ),
        ({"query": "process_resident_memory_bytes", "max": 1000}, Status.FAIL, "above max 1000"),
        ({"query": "spark_no_such_metric", "min": 0}, Status.INCONCLUSIVE, "no series"),
        ({"query": "spark_no_such_metric", "min": 0, "on_no_data": "fail"}, Status.FAIL, "no series"),
        ({"query": "up{", "min": 1}, Status.ERROR, "HTTP 400: bad_data: invalid parameter"),
        (
            {"query": "up * on() group_left up", "min": 1},
            Status.ERROR,
            "HTTP 422: execution: found duplicate",
        ),
        ({"query": "up[1m]", "min": 1}, Status.ERROR, "range vector (matrix)"),
    ],
    ids=[
        "up-each",
        "scalar",
        "labels-named",
        "over-max",
        "no-data",
        "no-data-fails",
        "invalid-query",
        "execution-error",
        "range-vector",
    ],
)
def test_queries_against_real_prometheus(judge, options, status, fragment):
    """Real answers: bounds pass or fail, no data is never PASS, Prometheus' errors are ERROR in its words."""
    result = judge(**options)
    assert result.status is status, result.message
    assert fragment in result.message
    assert "\n" not in result.message
    assert result.artifacts["answer.json"].startswith(b"{")


def test_a_down_executor_fails_naming_its_series(shared_sim, prometheus, judge):
    """executor-1 down shows as up == 0: ``each`` fails naming that series, ``any`` still passes."""
    port = shared_sim.urls["executor-1"].rsplit(":", 1)[1]
    shared_sim.apply(parse_fault("executor-1=down"))
    try:
        prometheus.wait_for('up{job="executor-1"} == 0')
        each = judge(query="up", min=1)
        assert each.status is Status.FAIL, each.message
        assert f'up{{instance="127.0.0.1:{port}", job="executor-1"}} = 0, below min 1' in each.message
        assert "1 of 4 series out of bounds" in each.message
        assert not any(f'job="{job}"' in each.message for job in JOBS if job != "executor-1")
        assert judge(query="up", min=1, aggregate="any").status is Status.PASS
    finally:
        shared_sim.clear("executor-1")
        prometheus.wait_for('up{job="executor-1"} == 1')


def test_invalid_query_through_the_cli(spark, prometheus, tmp_path):
    """``spark gate --exit-on-fail`` with an invalid query exits 1 with Prometheus' reason on one line."""
    check = {"name": "prom.bad", "kind": "promql", "query": "rate(up[1m]", "min": 0}
    suite = write_suite(tmp_path, check)
    args = ("gate", "--suite", str(suite), "--exit-on-fail", "--set", f"prometheus.url={prometheus.url}")
    table = spark(*args, "--no-evidence")
    assert table.exit_code == 1, table.stdout + table.stderr
    assert "ERROR" in table.stdout
    assert "Traceback" not in table.stdout + table.stderr
    report = spark(*args, "--no-evidence", "-f", "json")
    assert report.exit_code == 1
    (result,) = json.loads(report.stdout)["checks"]
    assert result["status"] == "ERROR"
    assert "bad_data: invalid parameter" in result["message"]
    assert "parse error" in result["message"]
    assert len(result["message"].splitlines()) == 1


def test_factory_loads_rule_files(prometheus_server, tmp_path):
    """The ``prometheus_server`` factory loads the given rule files and evaluates them every second."""
    rules = tmp_path / "rules.yml"
    rules.write_text(
        json.dumps({"groups": [{"name": "t", "rules": [{"record": "t:one", "expr": "vector(1)"}]}]})
    )
    server = prometheus_server([("nothing", "127.0.0.1:9", "/metrics")], rule_files=[rules])
    (series,) = server.wait_for("t:one")
    assert series["value"][1] == "1"
    assert server.url.startswith("http://127.0.0.1:")


def test_missing_binary_skips_locally_and_fails_in_ci(monkeypatch, tmp_path):
    """Without prometheus on PATH the tests skip (GitHub's CI=true too), but fail under .ci/run's
    SPARK_REQUIRE_TOOLS=1: CI never skips them."""
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("SPARK_REQUIRE_TOOLS", raising=False)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.skip.Exception):
        prometheus_binary()
    monkeypatch.setenv("SPARK_REQUIRE_TOOLS", "1")
    with pytest.raises(pytest.fail.Exception, match="CI must run"):
        prometheus_binary()

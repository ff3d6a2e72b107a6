"""Every kind that reads JSON FAILs a document with a key written twice, naming the key (over a real
socket): http assertions, slo, pm2, promql and compare. RFC 8259 leaves which value wins to the parser,
so a proxy and spark-ops may read different values from one body."""

from __future__ import annotations

import functools
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from spark_ops import clock
from spark_ops.model import Status

HEALTHZ = "/api/healthz"


def fresh_health(slo: str) -> str:
    return f'{{"status": "UP", "slo": {slo}, "timestamp": "{clock.iso_now()}"}}'


@pytest.fixture
def judge(judge_check: Any) -> Any:
    return functools.partial(judge_check, service="web")


def serve(httpserver: HTTPServer, path: str, body: str) -> None:
    httpserver.expect_request(path).respond_with_data(body, content_type="application/json")


CHECKS = {
    "http": {
        "name": "h",
        "kind": "http",
        "service": "web",
        "path": HEALTHZ,
        "expect_json": [{"field": "status", "op": "==", "value": "UP"}],
    },
    "slo": {
        "name": "s",
        "kind": "slo",
        "service": "web",
        "path": HEALTHZ,
        "field": "slo.errorRate",
        "max": 0.05,
    },
}


@pytest.mark.parametrize("kind", ["http", "slo"])
@pytest.mark.parametrize(
    ("body", "key"),
    [
        pytest.param('{"status": "DOWN", "status": "UP", "slo": {"errorRate": 0}}', "status", id="top"),
        pytest.param(None, "errorRate", id="nested"),
    ],
)
def test_health_answer_with_a_repeated_key_fails(judge, httpserver, kind, body, key):
    """Whichever value the check would have read, a repeated key at any level is FAIL naming the key."""
    serve(httpserver, HEALTHZ, body or fresh_health('{"errorRate": 0.9, "errorRate": 0.0}'))
    result = judge(CHECKS[kind])
    assert result.status is Status.FAIL, result.message
    assert f"ambiguous JSON: key {key!r} appears twice" in result.message


def test_pm2_list_with_a_repeated_key_fails(judge, httpserver):
    """A jlist entry saying both errored and online is FAIL, not read as the last status."""
    entry = (
        '{"name": "web", "pm_id": 0, "pm2_env": {"status": "errored", "status": "online", "restart_time": 0}}'
    )
    serve(httpserver, "/api/tools/pm2", f"[{entry}]")
    result = judge({"name": "p", "kind": "pm2", "service": "web", "path": "/api/tools/pm2"})
    assert result.status is Status.FAIL, result.message
    assert "ambiguous JSON: key 'status' appears twice" in result.message


def test_pm2_list_after_a_banner_with_a_repeated_key_fails(judge, httpserver):
    """The banner-skipping path of the jlist reader refuses the repeated key as well."""
    body = '[PM2] Spawning PM2 daemon\n[{"name": "web", "name": "api", "pm2_env": {"status": "online"}}]'
    serve(httpserver, "/api/tools/pm2", body)
    result = judge({"name": "p", "kind": "pm2", "service": "web", "path": "/api/tools/pm2"})
    assert result.status is Status.FAIL, result.message
    assert "ambiguous JSON: key 'name' appears twice" in result.message


def test_promql_answer_with_a_repeated_key_fails(judge_check, httpserver):
    """A Prometheus answer with two ``status`` keys is FAIL (read, and saying two things), not ERROR."""
    now = clock.now().timestamp()
    body = (
        '{"status": "error", "status": "success", "data": {"resultType": "vector", "result": '
        f'[{{"metric": {{"__name__": "up"}}, "value": [{now}, "1"]}}]}}}}'
    )
    serve(httpserver, "/api/v1/query", body)
    check = {"name": "q", "kind": "promql", "query": "up", "min": 1}
    result = judge_check(check, service="web", sets=(f"prometheus.url={httpserver.url_for('')}",))
    assert result.status is Status.FAIL, result.message
    assert "ambiguous JSON: key 'status' appears twice" in result.message


def test_compare_range_answer_with_a_repeated_key_fails(judge_check, httpserver):
    """The compare kind reads Prometheus' answers through the same reader: FAIL naming the key."""
    body = '{"status": "success", "data": {"resultType": "matrix", "result": [], "result": []}}'
    serve(httpserver, "/api/v1/query_range", body)
    check = {
        "name": "c",
        "kind": "compare",
        "query": 'up{role="{role}"}',
        "canary": "canary",
        "baseline": "baseline",
    }
    result = judge_check(check, service="web", sets=(f"prometheus.url={httpserver.url_for('')}",))
    assert result.status is Status.FAIL, result.message
    assert "ambiguous JSON: key 'result' appears twice" in result.message

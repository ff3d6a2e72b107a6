"""Freshness: a health document, or a PromQL answer, is judged by its own time against the run's clock
(``[slo] max_document_age_s``, ``max_clock_skew_s``, ``undated``), over a real socket, clock set through
``spark_ops.clock``."""

from __future__ import annotations

import functools
import json
from datetime import timedelta, timezone
from typing import Any

import pytest
from conftest import FROZEN_AT, assert_config_error, write_suite
from pytest_httpserver import HTTPServer

from spark_ops.checks._freshness import parse_time
from spark_ops.model import Status

HEALTHZ = "/api/healthz"
QUERY = "/api/v1/query"


def stamp(seconds_ago: float) -> str:
    """FROZEN_AT minus ``seconds_ago``, as the platform writes it (RFC 3339, Z)."""
    return (FROZEN_AT - timedelta(seconds=seconds_ago)).isoformat().replace("+00:00", "Z")


def health(timestamp: Any = None, **extra: Any) -> str:
    document: dict[str, Any] = {"status": "UP", "slo": {"latencyP95": 14, "errorRate": 0.0, "staleness": 0}}
    if timestamp is not None:
        document["timestamp"] = timestamp
    return json.dumps({**document, **extra})


SLO = {"name": "p95", "kind": "slo", "service": "web", "path": HEALTHZ, "field": "slo.latencyP95", "max": 150}
STATUS = {
    "name": "status",
    "kind": "http",
    "service": "web",
    "path": HEALTHZ,
    "expect_json": [{"field": "status", "op": "==", "value": "UP"}],
    "timestamp_field": "timestamp",
}


@pytest.fixture
def judge(judge_check: Any, frozen_clock: Any) -> Any:
    return functools.partial(judge_check, service="web")


def serve(httpserver: HTTPServer, body: str, path: str = HEALTHZ) -> None:
    httpserver.expect_request(path).respond_with_data(body, content_type="application/json")


AGES = [
    # (timestamp written, status, fragment of the reason)
    pytest.param(stamp(0), Status.PASS, "slo.latencyP95 = 14", id="now"),
    pytest.param(stamp(64.9), Status.PASS, "slo.latencyP95 = 14", id="within-age-plus-skew"),
    pytest.param(
        stamp(66), Status.FAIL, "is 66 s old (max_document_age_s 60 + max_clock_skew_s 5)", id="stale"
    ),
    pytest.param(stamp(3 * 86400), Status.FAIL, "is 3.0 days old", id="days-old"),
    pytest.param(stamp(-4), Status.PASS, "slo.latencyP95 = 14", id="future-within-skew"),
    pytest.param(stamp(-30), Status.FAIL, "dated 30 s in the future (max_clock_skew_s 5)", id="future"),
    pytest.param(FROZEN_AT.timestamp() - 10, Status.PASS, "slo.latencyP95 = 14", id="unix-seconds"),
    pytest.param(FROZEN_AT.timestamp() - 600, Status.FAIL, "10 min old", id="unix-seconds-stale"),
    pytest.param(
        FROZEN_AT.astimezone(timezone(timedelta(hours=2))).isoformat(),
        Status.PASS,
        "slo.latencyP95",
        id="other-zone-now",
    ),
    pytest.param("2026-03-04T05:06:07", Status.FAIL, "not an RFC 3339 time with a zone", id="no-zone"),
    pytest.param("yesterday", Status.FAIL, "not an RFC 3339 time with a zone", id="words"),
    pytest.param(True, Status.FAIL, "not an RFC 3339 time with a zone", id="boolean"),
    pytest.param(
        None, Status.FAIL, "carries no time: its age is unknown (slo.undated = 'fail')", id="undated"
    ),
]


@pytest.mark.parametrize(("timestamp", "status", "fragment"), AGES)
def test_slo_judges_the_documents_age_first(judge, httpserver, timestamp, status, fragment):
    """A stale, future-dated, unreadable or missing timestamp FAILs the slo check, whatever the value."""
    serve(httpserver, health(timestamp))
    result = judge(SLO)
    assert result.status is status, result.message
    assert fragment in result.message


@pytest.mark.parametrize(("timestamp", "status", "fragment"), AGES)
def test_http_timestamp_field_judges_the_same_way(judge, httpserver, timestamp, status, fragment):
    """The http kind's ``timestamp_field`` gives the same verdicts as the slo kind."""
    serve(httpserver, health(timestamp))
    result = judge(STATUS)
    assert result.status is status, result.message
    if status is Status.FAIL:
        assert fragment in result.message


@pytest.mark.parametrize("check", [SLO, STATUS], ids=["slo", "http"])
def test_stale_reading_is_the_age(judge, httpserver, check):
    """A stale document's observed value and reading is its age in seconds, for slo and http alike."""
    serve(httpserver, health(stamp(300)))
    result = judge(check)
    assert result.status is Status.FAIL, result.message
    assert result.observed == 300
    readings = dict(result.readings)
    if check is STATUS:  # the http kind's own two readings come beside it
        assert readings.pop("status_code") == 200 and readings.pop("elapsed_ms") >= 0
    assert readings == {"document_age_s": 300}


@pytest.mark.parametrize(
    ("sets", "status", "fragment"),
    [
        pytest.param(("slo.undated=warn",), Status.WARN, "slo.latencyP95 = 14", id="warn"),
        pytest.param(("slo.undated=ignore",), Status.PASS, "slo.latencyP95 = 14", id="ignore"),
    ],
)
def test_undated_policy_from_the_profile(judge, httpserver, sets, status, fragment):
    """``[slo] undated = "warn"`` makes an undated passing document WARN; ``"ignore"`` lets it pass."""
    serve(httpserver, health())
    for check in (SLO, STATUS):
        result = judge(check, sets=sets)
        assert result.status is status, result.message
        if status is Status.WARN:
            assert "carries no time" in result.message


def test_undated_warn_never_hides_a_failing_value(judge, httpserver):
    """``undated = "warn"`` softens the missing time only: a value over max still FAILs."""
    serve(httpserver, json.dumps({"slo": {"latencyP95": 400}}))
    result = judge(SLO, sets=("slo.undated=warn",))
    assert result.status is Status.FAIL
    assert "above max 150" in result.message


def test_max_document_age_from_the_profile(judge, httpserver):
    """``--set slo.max_document_age_s=600`` accepts a 5-minute-old document; the default refuses it."""
    serve(httpserver, health(stamp(300)))
    assert judge(SLO).status is Status.FAIL
    assert judge(SLO, sets=("slo.max_document_age_s=600",)).status is Status.PASS


def test_empty_timestamp_field_judges_no_time(judge, httpserver):
    """``timestamp_field = ""`` on an slo check: the document is not dated, and the value alone is judged."""
    serve(httpserver, health(stamp(86400)))
    assert judge({**SLO, "timestamp_field": ""}).status is Status.PASS


def test_http_timestamp_field_needs_expect_json(tmp_path, spark, platform):
    """``timestamp_field`` without ``expect_json`` reads no JSON: a configuration error (exit 2)."""
    check = {"name": "t", "kind": "http", "service": "web", "path": HEALTHZ, "timestamp_field": "timestamp"}
    suite = write_suite(tmp_path, check)
    assert_config_error(
        spark("gate", "--suite", str(suite), *platform.sets()), "timestamp_field", "expect_json"
    )


def test_bad_undated_value_is_a_config_error(tmp_path, spark, platform):
    """An unknown ``undated`` policy exits 2 naming the key and the choices."""
    result = spark("gate", *platform.sets(), "--set", "slo.undated=maybe")
    assert_config_error(result, "slo.undated", "'fail'")


def promql_answer(evaluated_at: Any) -> str:
    sample = {"metric": {"__name__": "up", "job": "x"}, "value": [evaluated_at, "1"]}
    return json.dumps({"status": "success", "data": {"resultType": "vector", "result": [sample]}})


@pytest.mark.parametrize(
    ("evaluated_ago", "status", "fragment"),
    [
        pytest.param(1, Status.PASS, "up", id="now"),
        pytest.param(3600, Status.FAIL, "the answer is 60 min old", id="cached-an-hour"),
        pytest.param(-60, Status.FAIL, "the answer is dated 60 s in the future", id="future"),
    ],
)
def test_promql_answer_evaluated_long_ago_fails(
    judge_check, frozen_clock, httpserver, evaluated_ago, status, fragment
):
    """A PromQL answer whose evaluation time is not now (a cache, a replay) FAILs with its age."""
    serve(httpserver, promql_answer(FROZEN_AT.timestamp() - evaluated_ago), QUERY)
    check = {"name": "q", "kind": "promql", "query": "up", "min": 1}
    result = judge_check(check, service="web", sets=(f"prometheus.url={httpserver.url_for('')}",))
    assert result.status is status, result.message
    assert fragment in result.message


def test_promql_answer_without_a_time_is_undated(judge_check, frozen_clock, httpserver):
    """A sample pair whose time is not a number carries no time: the undated policy applies."""
    serve(httpserver, promql_answer(None), QUERY)
    check = {"name": "q", "kind": "promql", "query": "up", "min": 1}
    result = judge_check(check, service="web", sets=(f"prometheus.url={httpserver.url_for('')}",))
    assert result.status is Status.FAIL
    assert "carries no time" in result.message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-02T07:00:00Z", "2026-12-02T07:00:00+00:00"),
        ("2026-12-02T09:00:00+02:00", "2026-12-02T07:00:00+00:00"),
        ("2026-12-02T07:00:00.250Z", "2026-12-02T07:00:00.250000+00:00"),
        (1796194800, "2026-12-02T07:00:00+00:00"),
        ("2026-12-02T07:00:00", None),
        ("", None),
        (float("nan"), None),
        (1e300, None),
        ([2026], None),
    ],
)
def test_parse_time(text, expected):
    """RFC 3339 with a zone or Unix seconds; a local time, NaN, an overflow or a list is no time."""
    parsed = parse_time(text)
    assert (parsed and parsed.astimezone(FROZEN_AT.tzinfo).isoformat()) == expected

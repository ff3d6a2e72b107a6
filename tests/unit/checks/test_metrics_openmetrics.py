"""The ``metrics`` kind and OpenMetrics over a real socket: it asks as Prometheus does, judges an
OpenMetrics answer by OpenMetrics' rules, and names families alike in both formats."""

from __future__ import annotations

import functools
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_latest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from spark_ops.checks.metrics import ACCEPT
from spark_ops.model import Status

OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"
TEXT = "text/plain; version=0.0.4; charset=utf-8"
WITH_EXEMPLARS = (
    "# HELP http_requests Requests served.\n# TYPE http_requests counter\n"
    'http_requests_total{code="200"} 1027 # {trace_id="4bf92f3577b34da6"} 1 1764658800.5\n'
    'http_requests_created{code="200"} 1764600000\n'
    "# TYPE http_seconds histogram\n# UNIT http_seconds seconds\n"
    'http_seconds_bucket{le="0.1"} 900 # {trace_id="a1"} 0.05\nhttp_seconds_bucket{le="+Inf"} 1027\n'
    "http_seconds_count 1027\nhttp_seconds_sum 61.5\n"
    '# TYPE build info\nbuild_info{version="1.2.0"} 1\n'
    '# TYPE feed stateset\nfeed{feed="live"} 1\nfeed{feed="stale"} 0\n'
    "# TYPE process_resident_memory_bytes gauge\n# UNIT process_resident_memory_bytes bytes\n"
    "process_resident_memory_bytes 5.4e+07\n"
    "# EOF\n"
)
# The same families in the text format: a counter's family there is named with _total.
AS_TEXT = (
    '# TYPE http_requests_total counter\nhttp_requests_total{code="200"} 1027\n'
    '# TYPE http_seconds histogram\nhttp_seconds_bucket{le="0.1"} 900\nhttp_seconds_bucket{le="+Inf"} 1027\n'
    "http_seconds_count 1027\nhttp_seconds_sum 61.5\n"
    '# TYPE build_info gauge\nbuild_info{version="1.2.0"} 1\n'
    "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes 5.4e+07\n"
)


@pytest.fixture
def judge(judge_check: Any) -> Any:
    return functools.partial(judge_check, service="executor-1")


def check(**options: Any) -> dict[str, Any]:
    return {"name": "m", "kind": "metrics", "service": "executor-1", **options}


def serve(httpserver: HTTPServer, body: str, content_type: str = OPENMETRICS) -> list[str]:
    """Serve ``body`` at /metrics; returns the Accept headers the requests carried."""
    accepts: list[str] = []

    def answer(request: Request) -> Response:
        accepts.append(request.headers.get("Accept", ""))
        return Response(body, content_type=content_type)

    httpserver.expect_request("/metrics").respond_with_handler(answer)
    return accepts


def test_asks_for_openmetrics_first_as_prometheus_does(judge, httpserver):
    """The scrape's Accept offers OpenMetrics 1.0.0 first, then the text format, then anything."""
    accepts = serve(httpserver, WITH_EXEMPLARS)
    assert judge(check()).status is Status.PASS
    assert accepts == [ACCEPT]
    offered = [part.split(";")[0] for part in ACCEPT.split(",")]
    assert offered[0] == "application/openmetrics-text" and "version=1.0.0" in ACCEPT.split(",")[0]
    assert offered.index("text/plain") > 0


def test_a_valid_openmetrics_answer_with_exemplars_passes(judge, httpserver):
    """The false-alarm control: exemplars, _created, UNIT, info and stateset are valid OpenMetrics."""
    serve(httpserver, WITH_EXEMPLARS)
    result = judge(check(require=["http_requests", "http_requests_total", "build_info", "feed"]))
    assert result.status is Status.PASS, result.message
    assert result.readings["series"] == 10


def test_what_prometheus_client_serves_as_openmetrics_passes(judge, httpserver):
    """A real exporter's OpenMetrics answer (prometheus-client's writer) passes, values read."""
    registry = CollectorRegistry()
    Counter("jobs", "Jobs done.", registry=registry).inc(3)
    Gauge("queue_depth", "Queued.", ["venue"], registry=registry).labels("binance").set(7)
    Histogram("fill_seconds", "Fill time.", registry=registry).observe(0.2)
    Info("build", "Build.", registry=registry).info({"version": "1.2"})
    serve(httpserver, openmetrics_latest(registry).decode())
    result = judge(
        check(
            require=["jobs", "jobs_total", "fill_seconds", "build_info"],
            values=[{"metric": "queue_depth", "min": 7}],
        )
    )
    assert result.status is Status.PASS, result.message


def test_no_eof_is_truncated(judge, httpserver):
    """An OpenMetrics answer without ``# EOF`` was cut short: FAIL "truncated", whatever else parsed."""
    serve(httpserver, WITH_EXEMPLARS.removesuffix("# EOF\n"))
    result = judge(check())
    assert result.status is Status.FAIL
    assert "OpenMetrics exposition truncated" in result.message


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param("# TYPE a counter\na 1\n# EOF\n", "written in two places", id="counter-without-total"),
        pytest.param('# TYPE a gauge\na 1 # {t="x"} 1\n# EOF\n', "carry exemplars", id="exemplar-on-gauge"),
        pytest.param("a 1\nb 1\na 2\n# EOF\n", "written in two places", id="interleaved"),
        pytest.param("a 1\n\n# EOF\n", "blank line", id="blank-line"),
        pytest.param("# TYPE a untyped\na 1\n# EOF\n", "unknown type 'untyped'", id="untyped"),
        pytest.param(
            '# TYPE h histogram\nh_bucket{le="1"} 1\n# EOF\n', "+Inf bucket is missing", id="no-inf"
        ),
    ],
)
def test_an_openmetrics_answer_is_judged_by_openmetrics_rules(judge, httpserver, body, reason):
    """What the text format allows but OpenMetrics does not FAILs an OpenMetrics answer, naming why."""
    serve(httpserver, body)
    result = judge(check())
    assert result.status is Status.FAIL
    assert "OpenMetrics exposition does not parse" in result.message and reason in result.message


def test_the_text_format_is_still_judged_as_promtool_judges_it(judge, httpserver):
    """A text answer (no OpenMetrics Content-Type) needs no # EOF and keeps the text rules."""
    serve(httpserver, AS_TEXT, TEXT)
    assert judge(check()).status is Status.PASS
    httpserver.clear()
    serve(httpserver, WITH_EXEMPLARS, TEXT)  # exemplars are no text format
    assert judge(check()).status is Status.FAIL


@pytest.mark.parametrize(
    ("body", "content_type"), [(WITH_EXEMPLARS, OPENMETRICS), (AS_TEXT, TEXT)], ids=["om", "text"]
)
@pytest.mark.parametrize(
    ("options", "status"),
    [
        pytest.param({"require": ["http_requests"]}, Status.PASS, id="counter-by-family"),
        pytest.param({"require": ["http_requests_total"]}, Status.PASS, id="counter-by-sample"),
        pytest.param({"require": ["http_seconds", "http_seconds_bucket"]}, Status.PASS, id="histogram"),
        pytest.param({"require": ["build_info"]}, Status.PASS, id="info-by-sample"),
        pytest.param({"require": ["nope"]}, Status.FAIL, id="missing"),
        pytest.param(
            {"values": [{"metric": "http_requests_total", "labels": {"code": "200"}, "min": 1000}]},
            Status.PASS,
            id="value",
        ),
        pytest.param(
            {"values": [{"metric": "http_seconds_bucket", "labels": {"le": "+Inf"}, "max": 10}]},
            Status.FAIL,
            id="bucket-over",
        ),
        pytest.param(
            {"values": [{"metric": "process_resident_memory_bytes", "max": 1e9}]}, Status.PASS, id="gauge"
        ),
    ],
)
def test_require_and_values_name_families_alike_in_both_formats(
    judge, httpserver, body, content_type, options, status
):
    """The same suite keys give the same verdict on the same families in OpenMetrics and the text format."""
    serve(httpserver, body, content_type)
    result = judge(check(**options))
    assert result.status is status, result.message


def test_a_series_twice_fails_in_openmetrics_too(judge, httpserver):
    """A series written twice (same labels, same time) FAILs as it does in the text format."""
    serve(httpserver, 'a{x="1"} 1\na{x="1"} 2\n# EOF\n')
    result = judge(check())
    assert result.status is Status.FAIL
    assert 'duplicate series a{x="1"}' in result.message

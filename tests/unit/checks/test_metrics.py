"""The ``metrics`` kind against a real loopback server: parse, size, series, required families, values."""

from __future__ import annotations

import functools
from typing import Any

import pytest
from conftest import EXPOSITION as PLATFORM_EXPOSITION
from conftest import write_suite
from pytest_httpserver import HTTPServer

from spark_ops import registry
from spark_ops.config import load_profile, load_suite
from spark_ops.errors import ConfigError
from spark_ops.model import Status

# The fake platform's exposition plus one gauge for the value assertions.
EXPOSITION = PLATFORM_EXPOSITION + "# TYPE spark_error_ratio gauge\nspark_error_ratio 0.03\n"
SIZE = len(EXPOSITION.encode())
SERIES = 4


def metrics_check(**options: Any) -> dict[str, Any]:
    """One ``metrics`` check on executor-1 (default path /metrics)."""
    return {"name": "executor.metrics", "kind": "metrics", "service": "executor-1", **options}


@pytest.fixture
def judge(judge_check: Any) -> Any:
    """Run one check (given as suite keys) with executor-1 pointing at ``httpserver``; return its result."""
    return functools.partial(judge_check, service="executor-1")


def serve(httpserver: HTTPServer, body: str | bytes = EXPOSITION, status: int = 200) -> None:
    httpserver.expect_request("/metrics").respond_with_data(
        body, status=status, content_type="text/plain; version=0.0.4"
    )


def test_valid_exposition_passes_with_its_size(judge, httpserver):
    """A parsing exposition passes, reporting its byte size, series and families."""
    serve(httpserver)
    result = judge(metrics_check())
    assert result.status is Status.PASS, result.message
    assert result.observed == SIZE
    assert f"{SIZE} bytes, {SERIES} series, 3 families" in result.message


def test_raw_text_is_kept_as_an_artifact(judge, httpserver):
    """The scraped text is kept under metrics/<service>.prom for the evidence, byte for byte."""
    serve(httpserver)
    result = judge(metrics_check())
    assert result.artifacts == {"metrics/executor-1.prom": EXPOSITION.encode()}


def test_path_defaults_to_metrics_and_can_be_changed(judge, httpserver):
    """Without path the check scrapes /metrics; path points it elsewhere (e.g. /api/tools/metrics)."""
    httpserver.expect_request("/api/tools/metrics").respond_with_data(EXPOSITION)
    result = judge(metrics_check(path="/api/tools/metrics"))
    assert result.status is Status.PASS, result.message
    assert [request.path for request, _ in httpserver.log] == ["/api/tools/metrics"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("<html><body>Bad Gateway</body></html>", "does not parse"),
        ('{"status": "UP"}', "does not parse"),
        ('http_requests_total{code="200" 1027\n', "does not parse"),
        ("process_resident_memory_bytes lots\n", "does not parse"),
        (b"\xff\xfe\x00garbage", "does not parse"),
        ("", "empty exposition"),
        ("\n\n", "holds no series"),
        ("# HELP up Whether up.\n# TYPE up gauge\n", "holds no series"),
    ],
    ids=[
        "html",
        "json",
        "unclosed-labels",
        "word-as-value",
        "not-utf8",
        "empty",
        "blank-lines",
        "comments-only",
    ],
)
def test_unparseable_or_empty_exposition_fails(judge, httpserver, body, reason):
    """An exposition that does not parse, or an empty one, fails and still keeps what was read."""
    serve(httpserver, body)
    result = judge(metrics_check())
    assert result.status is Status.FAIL
    assert reason in result.message
    if body:
        raw = body if isinstance(body, bytes) else body.encode()
        assert result.artifacts == {"metrics/executor-1.prom": raw}


@pytest.mark.parametrize("status_code", [404, 500, 503], ids=["404", "500", "503"])
def test_non_2xx_answer_fails(judge, httpserver, status_code):
    """A scrape answered with an error status fails even when the body would parse."""
    serve(httpserver, EXPOSITION, status=status_code)
    result = judge(metrics_check())
    assert result.status is Status.FAIL
    assert f"-> {status_code}" in result.message


@pytest.mark.parametrize(
    ("bounds", "status", "observed"),
    [
        ({"min_bytes": SIZE}, Status.PASS, SIZE),
        ({"min_bytes": SIZE + 1}, Status.FAIL, SIZE),
        ({"max_bytes": SIZE}, Status.PASS, SIZE),
        ({"max_bytes": SIZE - 1}, Status.FAIL, SIZE),
        ({"min_bytes": 100, "max_bytes": 100_000}, Status.PASS, SIZE),
        ({"max_series": SERIES}, Status.PASS, SIZE),
        ({"max_series": SERIES - 1}, Status.FAIL, SERIES),
        ({"min_series": SERIES + 1}, Status.FAIL, SERIES),
        ({"min_series": 1, "max_series": 1000}, Status.PASS, SIZE),
    ],
    ids=[
        "min-bytes-equal",
        "min-bytes-above",
        "max-bytes-equal",
        "max-bytes-below",
        "bytes-within",
        "max-series-equal",
        "max-series-below",
        "min-series-above",
        "series-within",
    ],
)
def test_size_and_series_bounds(judge, httpserver, bounds, status, observed):
    """Byte size and series count are judged against inclusive bounds."""
    serve(httpserver)
    result = judge(metrics_check(**bounds))
    assert result.status is status, result.message
    assert result.observed == observed


@pytest.mark.parametrize(
    ("require", "missing"),
    [
        (["http_requests_total"], []),
        (["http_requests"], []),
        (["process_resident_memory_bytes", "spark_error_ratio"], []),
        (["up"], ["up"]),
        (["http_requests_total", "zz_missing", "aa_missing"], ["aa_missing", "zz_missing"]),
        (["process_resident_memory"], ["process_resident_memory"]),
    ],
    ids=["counter-with-total", "counter-family-name", "gauges", "absent", "two-absent", "prefix-only"],
)
def test_require(judge, httpserver, require, missing):
    """Required families must be present; a counter is found with or without its _total suffix."""
    serve(httpserver)
    result = judge(metrics_check(require=require))
    if missing:
        assert result.status is Status.FAIL
        assert result.observed == missing
        assert all(name in result.message for name in missing)
    else:
        assert result.status is Status.PASS, result.message


VALUE_CASES = [
    # (assertion, status)
    ({"metric": "process_resident_memory_bytes", "max": 1e8}, Status.PASS),
    ({"metric": "process_resident_memory_bytes", "max": 1e7}, Status.FAIL),
    ({"metric": "process_resident_memory_bytes", "min": 5.4e7, "max": 5.4e7}, Status.PASS),
    ({"metric": "http_requests_total", "labels": {"code": "500"}, "max": 10}, Status.PASS),
    ({"metric": "http_requests_total", "labels": {"code": "500"}, "max": 0}, Status.FAIL),
    ({"metric": "http_requests_total", "max": 100}, Status.FAIL),
    ({"metric": "http_requests_total", "min": 1}, Status.PASS),
    ({"metric": "spark_error_ratio", "max": "slo.error_rate"}, Status.PASS),
    ({"metric": "no_such_metric", "max": 1}, Status.INCONCLUSIVE),
    ({"metric": "http_requests_total", "labels": {"code": "404"}, "max": 1}, Status.INCONCLUSIVE),
    ({"metric": "http_requests", "max": 1e9}, Status.INCONCLUSIVE),
]


@pytest.mark.parametrize(
    ("assertion", "status"),
    VALUE_CASES,
    ids=[
        "gauge-below-max",
        "gauge-above-max",
        "gauge-equal-both",
        "labelled-within",
        "labelled-above",
        "every-series-judged",
        "every-series-above-min",
        "profile-key",
        "no-such-metric",
        "no-series-with-labels",
        "family-name-is-no-sample",
    ],
)
def test_values(judge, httpserver, assertion, status):
    """Every matching series must lie within the bounds; no matching series at all is INCONCLUSIVE."""
    serve(httpserver)
    result = judge(metrics_check(values=[assertion]))
    assert result.status is status, result.message
    if status is Status.INCONCLUSIVE:
        assert "no series" in result.message


def test_values_threshold_by_profile_key_is_stricter_in_production(judge, httpserver):
    """A value bound named by profile key passes dev (5 %) and fails production (2 %) at 3 %."""
    serve(httpserver)
    check = metrics_check(values=[{"metric": "spark_error_ratio", "max": "slo.error_rate"}])
    assert judge(check, profile="dev").status is Status.PASS
    production = judge(check, profile="production")
    assert production.status is Status.FAIL
    assert production.observed == 0.03


@pytest.mark.parametrize(
    ("sample", "bounds"),
    [
        ("NaN", {"max": 10}),
        ("NaN", {"min": 0}),
        ("+Inf", {"max": 10}),
        ("-Inf", {"min": 0}),
        ("+Inf", {"min": 0}),
    ],
    ids=["nan-max", "nan-min", "inf-max", "minus-inf-min", "inf-min-only"],
)
def test_non_finite_sample_fails(judge, httpserver, sample, bounds):
    """A NaN or infinite sample never satisfies a bound."""
    serve(httpserver, f"# TYPE queue_depth gauge\nqueue_depth {sample}\n")
    result = judge(metrics_check(values=[{"metric": "queue_depth", **bounds}]))
    assert result.status is Status.FAIL
    assert "not a finite number" in result.message
    assert isinstance(result.observed, str)  # NaN/inf shown as text so the result JSON stays valid


@pytest.mark.parametrize(
    ("options", "key"),
    [
        ({"values": [{"metric": "up"}]}, "checks[0].values[0].max"),
        ({"values": [{"metric": "up", "min": 2, "max": 1}]}, "checks[0].values[0].min"),
        ({"values": [{"metric": "up", "max": "slo.nope"}]}, "checks[0].values[0].max"),
        ({"values": [{"metric": "up", "maximum": 1}]}, "checks[0].values[0].maximum"),
        ({"min_bytes": -1}, "checks[0].min_bytes"),
        pytest.param({"min_bytes": 10, "max_bytes": 5}, "checks[0].min_bytes"),
        pytest.param({"min_series": 5, "max_series": 1}, "checks[0].min_series"),
        ({"max_series": "many"}, "checks[0].max_series"),
        ({"require": "up"}, "checks[0].require"),
    ],
    ids=[
        "value-without-bounds",
        "value-min-above-max",
        "value-missing-profile-key",
        "value-misspelt-key",
        "negative-bytes",
        "bytes-min-above-max",
        "series-min-above-max",
        "series-not-a-number",
        "require-not-a-list",
    ],
)
def test_invalid_options_are_config_errors(tmp_path, monkeypatch, options, key):
    """Options that cannot be judged are refused before anything is sent, naming the suite file and key."""
    monkeypatch.chdir(tmp_path)
    suite = write_suite(tmp_path, metrics_check(**options))
    with pytest.raises(ConfigError) as caught:
        registry.prepare(load_suite(str(suite)), load_profile("dev"))
    assert caught.value.key == key
    assert caught.value.file == str(suite)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ('up 1\nup{a="1" 2\n', "line 2: unexpected end of label value"),
        ("# TYPE up gauge\nup 1\nup 1 \n", "line 3: expected integer as timestamp"),
        ("up 1\nup 2", "line 2: unexpected end of input stream"),
        ("up 1\r\n", "line 1: expected float as value, got '1\\r'"),
    ],
    ids=["unclosed-labels", "blank-after-value", "no-final-newline", "crlf"],
)
def test_parse_error_names_the_line_and_the_reason(judge, httpserver, body, reason):
    """An exposition promtool would refuse fails, the message naming the line and promtool's reason."""
    serve(httpserver, body)
    result = judge(metrics_check())
    assert result.status is Status.FAIL
    assert f"does not parse: {reason}" in result.message


HISTOGRAM = (
    "# TYPE rpc_seconds histogram\n"
    'rpc_seconds_bucket{le="0.1"} 3\nrpc_seconds_bucket{le="+Inf"} 7\n'
    "rpc_seconds_sum 1.2\nrpc_seconds_count 7\n"
)


@pytest.mark.parametrize(
    ("assertion", "status"),
    [
        ({"metric": "rpc_seconds_bucket", "labels": {"le": "+Inf"}, "max": 7}, Status.PASS),
        ({"metric": "rpc_seconds_bucket", "labels": {"le": "+Inf"}, "max": 6}, Status.FAIL),
        ({"metric": "rpc_seconds_bucket", "labels": {"le": "0.1"}, "min": 3, "max": 3}, Status.PASS),
        ({"metric": "rpc_seconds_count", "min": 8}, Status.FAIL),
        ({"metric": "rpc_seconds", "max": 1}, Status.INCONCLUSIVE),
    ],
    ids=["inf-bucket-within", "inf-bucket-above", "bucket-by-le", "count-below-min", "family-is-no-sample"],
)
def test_values_of_histogram_samples(judge, httpserver, assertion, status):
    """Histogram buckets are judged by their le label; the family name itself holds no sample."""
    serve(httpserver, HISTOGRAM)
    result = judge(metrics_check(values=[assertion], require=["rpc_seconds", "rpc_seconds_bucket"]))
    assert result.status is status, result.message
    assert "4 series, 1 families" in result.message


def test_bytes_that_are_not_utf8_in_a_comment_parse(judge, httpserver):
    """Non-UTF-8 bytes in a comment or HELP text parse (as for promtool); in a label value they do not."""
    serve(httpserver, b"# HELP up caf\xe9\nup 1\n")
    assert judge(metrics_check()).status is Status.PASS
    httpserver.clear()
    serve(httpserver, b'up{city="caf\xe9"} 1\n')
    result = judge(metrics_check())
    assert result.status is Status.FAIL
    assert "invalid label value" in result.message


def test_a_family_declared_without_samples_is_not_present(judge, httpserver):
    """A required family with HELP and TYPE but no sample is missing (a declaration is no data), and is
    not counted among the families (as promtool drops it)."""
    serve(httpserver, EXPOSITION + "# HELP rpc_seconds Latency.\n# TYPE rpc_seconds histogram\n")
    assert judge(metrics_check()).message.endswith(f"{SERIES} series, 3 families")
    result = judge(metrics_check(require=["rpc_seconds"]))
    assert result.status is Status.FAIL
    assert result.observed == ["rpc_seconds"]


@pytest.mark.parametrize(
    ("body", "duplicate"),
    [
        ("up 1\nup 2\n", "up"),
        ('a{x="1",y="2"} 1\na{x="1",y="3"} 1\na{y="2",x="1"} 5\n', 'a{x="1",y="2"}'),
        ('a{x="1"} 1\na{x="2"} 1\na {x="1"} 3\n', 'a{x="1"}'),
        ('a{b="q\\"",a="1"} 1\na {a="1", b="q\\""} 2\n', 'a{b="q\\"",a="1"}'),
        ('a{x="1"} 1\na{x="2"} 1\na{x="1"} 1\n', 'a{x="1"}'),
        ('a{x="1"} 1\na{x="2"} 1\na{x="3"} 1\n', None),
        ('a{x="1"} 1\na{x="1",y=""} 1\nb{x="1"} 1\n', None),
    ],
    ids=[
        "plain",
        "labels-reordered",
        "blanks-slow-path",
        "escaped-value",
        "in-a-run",
        "distinct",
        "other-sets",
    ],
)
def test_a_series_written_twice_fails(judge, httpserver, body, duplicate):
    """Prometheus rejects a scrape holding one series twice (promtool lets it by): the check FAILs on it.

    The series is named with its labels in the order they were first written.
    """
    serve(httpserver, body)
    result = judge(metrics_check())
    if duplicate is None:
        assert result.status is Status.PASS, result.message
    else:
        assert result.status is Status.FAIL
        assert f"duplicate series {duplicate} (Prometheus rejects such a scrape)" in result.message

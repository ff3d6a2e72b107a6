"""The ``promql`` kind against a real loopback server speaking Prometheus' HTTP API (instant queries)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import assert_config_error, free_port, run_one_check, write_suite
from pytest_httpserver import HTTPServer

from spark_ops import clock
from spark_ops.clock import FixedClock
from spark_ops.model import CheckResult, Status
from spark_ops.result_json import encode_check

QUERY_PATH = "/api/v1/query"
EVALUATED_AT = 1760616000  # the time the recorded answers below were evaluated at
UP_A = {"__name__": "up", "job": "executor-1", "instance": "127.0.0.1:4001"}
UP_B = {"__name__": "up", "job": "executor-2", "instance": "127.0.0.1:4002"}
UP_C = {"__name__": "up", "job": "marketdata", "instance": "127.0.0.1:5001"}
NAME_A = 'up{instance="127.0.0.1:4001", job="executor-1"}'
NAME_B = 'up{instance="127.0.0.1:4002", job="executor-2"}'
NAME_C = 'up{instance="127.0.0.1:5001", job="marketdata"}'
BAD_QUERY = 'invalid parameter "query": 1:3: parse error: unexpected end of input'


@pytest.fixture(autouse=True)
def answered_now() -> Iterator[FixedClock]:
    """The run's clock 2 s after the answers' evaluation time: they are fresh unless a test moves it."""
    with clock.using(FixedClock(datetime.fromtimestamp(EVALUATED_AT + 2, UTC))) as fixed:
        yield fixed


def promql(**options: Any) -> dict[str, Any]:
    """One ``promql`` check (as suite keys) asking ``up`` unless told otherwise."""
    return {"name": "prom.up", "kind": "promql", "query": "up", **options}


def vector(*series: tuple[dict[str, str], str], **extra: Any) -> dict[str, Any]:
    """A successful instant-vector answer holding ``(labels, value)`` series."""
    result = [{"metric": labels, "value": [1760616000.123, value]} for labels, value in series]
    return {"status": "success", "data": {"resultType": "vector", "result": result}, **extra}


def answer(result_type: str, result: Any) -> dict[str, Any]:
    """A successful answer of any result type."""
    return {"status": "success", "data": {"resultType": result_type, "result": result}}


def error(error_type: str, message: str) -> dict[str, Any]:
    """Prometheus' error envelope."""
    return {"status": "error", "errorType": error_type, "error": message}


def serve(
    httpserver: HTTPServer, body: Any, status: int = 200, content_type: str = "application/json"
) -> None:
    """Answer every instant query with ``body`` (a JSON-able value, or raw text as given)."""
    data = body if isinstance(body, str) else json.dumps(body)
    httpserver.expect_request(QUERY_PATH).respond_with_data(data, status=status, content_type=content_type)


@pytest.fixture
def judge(tmp_path: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run one check with the profile's ``[prometheus] url`` at ``httpserver``; ``sets`` add ``--set``s."""
    monkeypatch.chdir(tmp_path)

    def run(check: dict[str, Any], *, profile: str = "dev", sets: tuple[str, ...] = ()) -> CheckResult:
        url = httpserver.url_for("").rstrip("/")
        return run_one_check(tmp_path, check, profile, [f"prometheus.url={url}", *sets])

    return run


JUDGED = [
    # (id, answer, options, status, fragments the reason holds)
    ("pass-one-series", vector((UP_A, "1")), {"min": 1}, Status.PASS, [f"{NAME_A} = 1 (min 1)"]),
    (
        "pass-each",
        vector((UP_A, "1"), (UP_B, "1"), (UP_C, "1")),
        {"min": 1},
        Status.PASS,
        ["3 series, each within min 1"],
    ),
    ("over-max", vector((UP_A, "250")), {"max": 100}, Status.FAIL, [NAME_A, "250, above max 100"]),
    ("under-min", vector((UP_A, "0")), {"min": 1}, Status.FAIL, [NAME_A, "0, below min 1"]),
    ("equal-bounds-pass", vector((UP_A, "5")), {"min": 5, "max": 5}, Status.PASS, ["= 5"]),
    (
        "each-one-out",
        vector((UP_A, "1"), (UP_B, "0"), (UP_C, "1")),
        {"min": 1},
        Status.FAIL,
        ["1 of 3 series out of bounds", f"{NAME_B} = 0, below min 1"],
    ),
    (
        "any-one-within",
        vector((UP_A, "0"), (UP_B, "1"), (UP_C, "0")),
        {"min": 1, "aggregate": "any"},
        Status.PASS,
        ["1 of 3 series within min 1 (aggregate any)"],
    ),
    (
        "any-none-within",
        vector((UP_A, "0"), (UP_B, "0")),
        {"min": 1, "aggregate": "any"},
        Status.FAIL,
        ["none of 2 series within min 1", NAME_A, NAME_B],
    ),
    (
        "any-nan-beside-a-good-series",
        vector((UP_A, "NaN"), (UP_B, "1")),
        {"min": 1, "aggregate": "any"},
        Status.PASS,
        ["1 of 2 series within"],
    ),
    (
        "many-failing-shortened",
        vector(*(({"__name__": "up", "job": f"j{i}"}, "0") for i in range(7))),
        {"min": 1},
        Status.FAIL,
        ["7 of 7 series out of bounds", 'up{job="j0"} = 0', "and 4 more"],
    ),
    ("no-name-after-aggregation", vector(({"job": "x"}, "9")), {"max": 1}, Status.FAIL, ['{job="x"} = 9']),
    ("empty-inconclusive", vector(), {"min": 1}, Status.INCONCLUSIVE, ["no series", "'inconclusive'"]),
    ("empty-on-no-data-fail", vector(), {"min": 1, "on_no_data": "fail"}, Status.FAIL, ["no series"]),
    ("nan", vector((UP_A, "NaN")), {"min": 0, "max": 10}, Status.FAIL, ["not a finite number"]),
    ("plus-inf", vector((UP_A, "+Inf")), {"min": 0}, Status.FAIL, ["inf, not a finite number"]),
    ("minus-inf", vector((UP_A, "-Inf")), {"max": 0}, Status.FAIL, ["-inf, not a finite number"]),
    ("nan-in-each", vector((UP_A, "1"), (UP_B, "NaN")), {"min": 1}, Status.FAIL, [NAME_B, "not a finite"]),
    ("warn-band", vector((UP_A, "130")), {"max": 150, "warn_max": 100}, Status.WARN, ["above warn_max 100"]),
    (
        "warnings-make-pass-warn",
        vector((UP_A, "1"), warnings=["PromQL info: metric might not be a counter"]),
        {"min": 1},
        Status.WARN,
        ["Prometheus warns: PromQL info: metric might not be a counter"],
    ),
    (
        "warnings-keep-fail",
        vector((UP_A, "0"), warnings=["partial data: store unreachable"]),
        {"min": 1},
        Status.FAIL,
        ["below min 1", "Prometheus warns: partial data: store unreachable"],
    ),
    (
        "warnings-on-empty",
        vector(warnings=["partial data: store unreachable"]),
        {"min": 1},
        Status.INCONCLUSIVE,
        ["no series", "partial data"],
    ),
    ("scalar-pass", answer("scalar", [1760616000, "3"]), {"min": 1}, Status.PASS, ["scalar = 3 (min 1)"]),
    ("scalar-over", answer("scalar", [1760616000, "30"]), {"max": 10}, Status.FAIL, ["scalar = 30"]),
    ("scalar-nan", answer("scalar", [1760616000, "NaN"]), {"max": 10}, Status.FAIL, ["not a finite"]),
    (
        "matrix",
        answer("matrix", [{"metric": UP_A, "values": [[1760616000, "1"]]}]),
        {"min": 1},
        Status.ERROR,
        ["range vector (matrix)", "max_over_time"],
    ),
    ("string", answer("string", [1760616000, "hello"]), {"min": 1}, Status.ERROR, ["'string'"]),
    (
        "missing-result-type",
        {"status": "success", "data": {"result": []}},
        {"min": 1},
        Status.ERROR,
        ["None"],
    ),
]


@pytest.mark.parametrize(
    ("body", "options", "status", "fragments"),
    [case[1:] for case in JUDGED],
    ids=[case[0] for case in JUDGED],
)
def test_answers_are_judged(judge, httpserver, body, options, status, fragments):
    """Each series is judged against inclusive bounds; empty is INCONCLUSIVE; NaN, Inf, errors never pass."""
    serve(httpserver, body)
    result = judge(promql(**options))
    assert result.status is status, result.message
    for fragment in fragments:
        assert fragment in result.message, (fragment, result.message)
    assert result.message.startswith("'up': ")


@pytest.mark.parametrize(
    ("unit", "value", "bounds", "fragment"),
    [
        pytest.param("ms", "-3", {"max": 150}, "= -3, outside its domain >= 0 (ms)", id="negative-ms"),
        pytest.param("s", "-0.5", {"max": 30}, "= -0.5, outside its domain >= 0 (s)", id="negative-s"),
        pytest.param(
            "ratio", "-0.01", {"max": 0.05}, "outside its domain [0, 1] (ratio)", id="negative-ratio"
        ),
        pytest.param(
            "ratio", "1.5", {"min": 0.99}, "= 1.5, outside its domain [0, 1] (ratio)", id="ratio-above-1"
        ),
        pytest.param(
            "percent", "-1", {"max": 5}, "outside its domain [0, 100] (percent)", id="negative-percent"
        ),
        pytest.param(
            "percent", "101", {"min": 99}, "= 101, outside its domain [0, 100] (percent)", id="percent-over"
        ),
        pytest.param("count", "-2", {"max": 5}, "= -2, outside its domain >= 0 (count)", id="negative-count"),
    ],
)
def test_a_value_outside_its_units_domain_fails_whatever_the_bounds(
    judge, httpserver, unit, value, bounds, fragment
):
    """``unit`` fixes the domain of every series' value, judged before min/max: each value here is within
    its bounds, and FAILs as no figure in its unit, naming the series."""
    serve(httpserver, vector((UP_A, value)))
    assert judge(promql(**bounds)).status is Status.PASS  # without a unit the bounds let it through
    result = judge(promql(unit=unit, **bounds))
    assert result.status is Status.FAIL, result.message
    assert result.message.startswith(f"'up': {NAME_A} = "), result.message
    assert fragment in result.message, result.message
    assert result.observed == float(value)


DOMAIN_JUDGED = [
    # (id, unit, series values, options, status, fragments the reason holds)
    (
        "ratio-in-domain-within",
        "ratio",
        ["0.01"],
        {"max": 0.05},
        Status.PASS,
        [f"{NAME_A} = 0.01 (max 0.05)"],
    ),
    ("ratio-in-domain-over-max", "ratio", ["0.5"], {"max": 0.05}, Status.FAIL, ["0.5, above max 0.05"]),
    ("ratio-ends-are-in", "ratio", ["0", "1"], {"min": 0}, Status.PASS, ["2 series, each within min 0"]),
    ("ms-warn-band", "ms", ["130"], {"max": 150, "warn_max": 100}, Status.WARN, ["above warn_max 100"]),
    ("number-has-no-domain", "number", ["-1e300"], {"min": -1e301}, Status.PASS, ["-1e+300"]),
    ("nan-stays-not-finite", "ratio", ["NaN"], {"max": 1}, Status.FAIL, ["not a finite number"]),
    ("inf-stays-not-finite", "ms", ["-Inf"], {"max": 150}, Status.FAIL, ["-inf, not a finite number"]),
    (
        "each-one-outside",
        "ratio",
        ["0.01", "-0.2", "0.02"],
        {"max": 0.05},
        Status.FAIL,
        ["1 of 3 series outside the unit's domain: ", f"{NAME_B} = -0.2, outside its domain [0, 1] (ratio)"],
    ),
    (
        "each-domain-before-bounds",
        "ratio",
        ["0.9", "-0.2"],
        {"max": 0.05},
        Status.FAIL,
        ["1 of 2 series outside the unit's domain", NAME_B],
    ),
    (
        "any-outside-beside-a-good-series",
        "ratio",
        ["-0.2", "0.01"],
        {"max": 0.05, "aggregate": "any"},
        Status.FAIL,
        [
            "1 of 2 series outside the unit's domain (aggregate any: whatever the other series read)",
            f"{NAME_A} = -0.2, outside its domain [0, 1] (ratio)",
        ],
    ),
    (
        "any-only-the-impossible-one-within-bounds",
        "ms",
        ["-5", "900", "800"],
        {"max": 150, "aggregate": "any"},
        Status.FAIL,
        ["1 of 3 series outside the unit's domain", f"{NAME_A} = -5, outside its domain >= 0 (ms)"],
    ),
    (
        "any-all-outside",
        "percent",
        ["101", "150"],
        {"max": 200, "aggregate": "any"},
        Status.FAIL,
        ["2 of 2 series outside the unit's domain: ", NAME_A, NAME_B],
    ),
    (
        "any-nan-beside-a-good-series-still-passes",
        "ratio",
        ["NaN", "0.01"],
        {"max": 0.05, "aggregate": "any"},
        Status.PASS,
        ["1 of 2 series within max 0.05 (aggregate any)"],
    ),
]


@pytest.mark.parametrize(
    ("unit", "values", "options", "status", "fragments"),
    [case[1:] for case in DOMAIN_JUDGED],
    ids=[case[0] for case in DOMAIN_JUDGED],
)
def test_the_domain_is_judged_series_by_series_before_the_bounds(
    judge, httpserver, unit, values, options, status, fragments
):
    """Inside its domain a value is judged by the bounds as before; one series outside it FAILs the check
    for ``each`` and for ``any`` alike (an impossible value is no evidence of health); NaN and the
    infinities stay "not a finite number"."""
    serve(httpserver, vector(*zip((UP_A, UP_B, UP_C), values, strict=False)))
    result = judge(promql(unit=unit, **options))
    assert result.status is status, result.message
    for fragment in fragments:
        assert fragment in result.message, (fragment, result.message)
    if "outside the unit's domain" in fragments[0]:  # the domain's reason, not the bounds' one
        assert "out of bounds" not in result.message and "none of" not in result.message, result.message


def test_the_impossible_series_are_observed_first(judge, httpserver):
    """Several series with some outside the domain: ``observed`` holds every value, the impossible first."""
    serve(httpserver, vector((UP_A, "0.01"), (UP_B, "0.02"), (UP_C, "-1")))
    result = judge(promql(unit="ratio", max=0.05, aggregate="any"))
    assert result.status is Status.FAIL, result.message
    assert list(result.observed) == [NAME_C, NAME_A, NAME_B]
    assert result.observed[NAME_C] == -1.0


def test_many_impossible_series_are_shortened(judge, httpserver):
    """Beyond three, the impossible series are counted rather than named."""
    serve(httpserver, vector(*(({"__name__": "lag", "job": f"j{i}"}, "-1") for i in range(6))))
    result = judge(promql(unit="s", max=30))
    assert result.status is Status.FAIL, result.message
    assert "6 of 6 series outside the unit's domain: " in result.message
    assert 'lag{job="j2"} = -1' in result.message and 'lag{job="j3"}' not in result.message
    assert result.message.endswith("; and 3 more")


BROKEN = [
    # (id, body, HTTP status, content type, fragments the reason holds)
    (
        "400-bad-data",
        error("bad_data", BAD_QUERY),
        400,
        "application/json",
        [f"HTTP 400: bad_data: {BAD_QUERY}"],
    ),
    (
        "422-execution",
        error("execution", "expanding series: context canceled"),
        422,
        "application/json",
        ["HTTP 422: execution: expanding series: context canceled"],
    ),
    (
        "503-timeout",
        error("timeout", "query timed out in expression evaluation"),
        503,
        "application/json",
        ["HTTP 503: timeout: query timed out"],
    ),
    (
        "503-html",
        "<html><body>Service Unavailable</body></html>",
        503,
        "text/html",
        ["not a Prometheus answer"],
    ),
    (
        "200-status-error",
        error("internal", "something broke"),
        200,
        "application/json",
        ["internal: something"],
    ),
    ("200-error-without-message", {"status": "error"}, 200, "application/json", ["no error message"]),
    ("4xx-success-body", vector((UP_A, "1")), 404, "application/json", ["HTTP 404"]),
    ("non-json", "up 1\n", 200, "text/plain", ["not a Prometheus answer (text/plain)", "up 1"]),
    ("empty-body", "", 200, "application/json", ["not a Prometheus answer"]),
    ("json-array", "[1, 2]", 200, "application/json", ["not a Prometheus answer"]),
    ("no-status", {"data": {"resultType": "vector", "result": []}}, 200, "application/json", ["status None"]),
    ("no-data", {"status": "success"}, 200, "application/json", ["no data.result"]),
    (
        "no-result",
        {"status": "success", "data": {"resultType": "vector"}},
        200,
        "application/json",
        ["no data"],
    ),
    ("result-null", answer("vector", None), 200, "application/json", ["not a list"]),
    ("series-without-value", answer("vector", [{"metric": UP_A}]), 200, "application/json", ["series 0"]),
    (
        "series-without-metric",
        answer("vector", [{"value": [1, "1"]}]),
        200,
        "application/json",
        ["series 0 lacks its metric labels"],
    ),
    (
        "value-a-number",
        answer("vector", [{"metric": UP_A, "value": [1, 1]}]),
        200,
        "application/json",
        ["value"],
    ),
    (
        "value-garbage",
        answer("vector", [{"metric": UP_A, "value": [1, "up"]}]),
        200,
        "application/json",
        ["value"],
    ),
    ("scalar-malformed", answer("scalar", "1"), 200, "application/json", ["scalar is not"]),
]


@pytest.mark.parametrize(
    ("body", "http_status", "content_type", "fragments"),
    [case[1:] for case in BROKEN],
    ids=[case[0] for case in BROKEN],
)
def test_unreadable_answers_are_errors(judge, httpserver, body, http_status, content_type, fragments):
    """An error from Prometheus or a body that is not its answer is ERROR, in Prometheus' own words."""
    serve(httpserver, body, status=http_status, content_type=content_type)
    result = judge(promql(min=1))
    assert result.status is Status.ERROR, result.message
    for fragment in fragments:
        assert fragment in result.message, (fragment, result.message)
    assert result.threshold == {"min": 1.0}
    assert "\n" not in result.message


def test_query_is_sent_under_the_servers_path_prefix(judge, httpserver):
    """The query goes to <url>/api/v1/query as the query parameter, below any path prefix of the URL."""
    httpserver.expect_request(
        "/prom/api/v1/query", query_string={"query": 'sum(up{job="web"})'}
    ).respond_with_json(vector(({}, "1")))
    url = httpserver.url_for("/prom/")
    result = judge(promql(query='sum(up{job="web"})', min=1), sets=(f"prometheus.url={url}",))
    assert result.status is Status.PASS, result.message
    assert result.message == "'sum(up{job=\"web\"})': {} = 1 (min 1)"


def test_observed_is_the_value_or_the_values_read(judge, httpserver):
    """One series gives its number; several give name -> value, the out-of-bounds ones first."""
    serve(httpserver, vector((UP_A, "1"), (UP_B, "0")))
    result = judge(promql(min=1))
    assert result.observed == {NAME_B: 0.0, NAME_A: 1.0}
    assert list(result.observed) == [NAME_B, NAME_A]
    assert result.threshold == {"min": 1.0}


def test_raw_answer_is_kept_as_an_artifact(judge, httpserver):
    """The answer the verdict was made on is kept for the evidence, errors included."""
    body = json.dumps(error("bad_data", BAD_QUERY))
    serve(httpserver, body, status=400)
    result = judge(promql(min=1))
    assert result.artifacts == {"answer.json": body.encode()}


def test_threshold_by_profile_key(judge, httpserver):
    """A bound named by profile key judges one suite against the dev or the production target."""
    serve(httpserver, vector(({"quantile": "0.95"}, "130")))
    check = promql(query="spark_latency_p95_ms", max="slo.latency_p95_ms")
    dev, production = judge(check, profile="dev"), judge(check, profile="production")
    assert (dev.status, dev.threshold) == (Status.PASS, {"max": 150.0})
    assert (production.status, production.threshold) == (Status.FAIL, {"max": 120.0})


def test_basic_auth_and_headers_are_sent_and_never_shown(judge, httpserver):
    """user:pass@ in the URL becomes Basic auth, [prometheus] headers are sent, and neither is shown."""
    basic = "Basic " + base64.b64encode(b"alice:s3cr3t-pw").decode()
    httpserver.expect_request(
        QUERY_PATH, headers={"Authorization": basic, "X-Scope-OrgID": "tenant-7"}
    ).respond_with_json(vector((UP_A, "1")))
    url = httpserver.url_for("").rstrip("/").replace("http://", "http://alice:s3cr3t-pw@")
    result = judge(promql(min=1), sets=(f"prometheus.url={url}", "prometheus.headers.X-Scope-OrgID=tenant-7"))
    assert result.status is Status.PASS, result.message
    shown = json.dumps(encode_check(result))
    assert "s3cr3t" not in shown
    assert basic.split()[1] not in shown


def test_bearer_token_is_redacted_from_every_output(spark, httpserver, tmp_path, monkeypatch):
    """A token in [prometheus] headers reaches Prometheus and appears in no output, even on an error."""
    monkeypatch.setenv("PROM_TOKEN", "tok-9f8e7d6c")
    httpserver.expect_request(QUERY_PATH, headers={"Authorization": "Bearer tok-9f8e7d6c"}).respond_with_json(
        error("bad_data", "unknown tenant for token tok-9f8e7d6c"), status=400
    )
    profile = tmp_path / "prom.toml"
    profile.write_text(
        f'[prometheus]\nurl = "{httpserver.url_for("").rstrip("/")}"\n'
        'headers = { Authorization = "Bearer ${PROM_TOKEN}" }\n'
    )
    suite = write_suite(tmp_path, promql(min=1))
    result = spark("gate", "--profile", str(profile), "--suite", str(suite), "--no-evidence", "-f", "json")
    (check,) = json.loads(result.stdout)["checks"]
    assert check["status"] == "ERROR"
    assert "unknown tenant" in check["message"]
    assert "tok-9f8e7d6c" not in result.stdout + result.stderr


def test_an_environment_secret_echoed_by_prometheus_is_masked(spark, httpserver, tmp_path, monkeypatch):
    """A secret-named env var's value that Prometheus echoes is masked on stdout and in the evidence."""
    monkeypatch.setenv("SPARK_API_TOKEN", "envonly-s3cret-77")
    serve(httpserver, error("bad_data", "tenant envonly-s3cret-77 is unknown"), status=400)
    suite = write_suite(tmp_path, promql(min=1))
    url = httpserver.url_for("").rstrip("/")
    result = spark("gate", "--suite", str(suite), "--set", f"prometheus.url={url}", "-f", "json")
    (check,) = json.loads(result.stdout)["checks"]
    assert check["status"] == "ERROR"
    assert "tenant *** is unknown" in check["message"]
    stored = "".join(p.read_text(errors="replace") for p in (tmp_path / "evidence").rglob("*") if p.is_file())
    assert "envonly-s3cret-77" not in result.stdout + result.stderr + stored


def test_own_prometheus_url_wins_and_gets_no_profile_headers(judge, httpserver):
    """A check's prometheus_url replaces the profile's, and the profile's headers are not sent to it."""
    httpserver.expect_request(QUERY_PATH).respond_with_json(vector((UP_A, "1")))
    unused = f"http://127.0.0.1:{free_port()}"
    sets = (f"prometheus.url={unused}", "prometheus.headers.Authorization=Bearer profile-token")
    result = judge(promql(min=1, prometheus_url=httpserver.url_for("/")), sets=sets)
    assert result.status is Status.PASS, result.message
    ((request, _),) = httpserver.log
    assert "Authorization" not in request.headers


def test_unreachable_prometheus_fails(judge):
    """A Prometheus that does not answer at all fails the check (the runner's transport failure)."""
    result = judge(promql(min=1), sets=(f"prometheus.url=http://127.0.0.1:{free_port()}",))
    assert result.status is Status.FAIL
    assert "cannot connect" in result.message


@pytest.mark.parametrize(
    ("options", "fragments"),
    [
        ({"aggregate": "all", "min": 1}, ["checks[0].aggregate", "'all'"]),
        ({"on_no_data": "pass", "min": 1}, ["checks[0].on_no_data", "'pass'"]),
        ({}, ["checks[0].max", "needs min or max"]),
        ({"min": 5, "max": 1}, ["checks[0].min", "above max"]),
        ({"max": "slo.latency_p99_ms"}, ["checks[0].max", "slo.latency_p99_ms"]),
        ({"query": "  ", "min": 1}, ["checks[0].query", "blank"]),
        (
            {"prometheus_url": "127.0.0.1:9090", "min": 1},
            ["checks[0].prometheus_url", "absolute http(s) URL"],
        ),
        ({"promql": "up", "min": 1}, ["checks[0].promql", "unknown key"]),
        ({"unit": "furlongs", "max": 1}, ["checks[0].unit", "'furlongs'", "'ratio'"]),
    ],
    ids=[
        "bad-aggregate",
        "bad-on-no-data",
        "no-bounds",
        "min-above-max",
        "missing-key",
        "blank-query",
        "relative-url",
        "misspelt-key",
        "unknown-unit",
    ],
)
def test_config_errors_exit_2(spark, tmp_path, options, fragments):
    """A promql check that cannot be judged as written is refused with exit 2, naming the suite key."""
    suite = write_suite(tmp_path, {**promql(), **options})
    result = spark("gate", "--suite", str(suite), "--no-evidence")
    assert_config_error(result, str(suite), *fragments)


def test_no_prometheus_url_anywhere_exits_2(spark, tmp_path):
    """Without prometheus_url on the check or [prometheus] url in the profile the suite is refused."""
    profile = tmp_path / "bare.toml"
    profile.write_text('description = "no prometheus here"\n')
    suite = write_suite(tmp_path, promql(min=1))
    result = spark("gate", "--profile", str(profile), "--suite", str(suite), "--no-evidence")
    assert_config_error(result, "checks[0].prometheus_url", "[prometheus] url")

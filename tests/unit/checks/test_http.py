"""The ``http`` kind against a real loopback server: status, latency, body text, JSON fields, limits."""

from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import write_suite
from werkzeug import Request, Response

from spark_ops import registry
from spark_ops.config import load_profile, load_suite
from spark_ops.errors import ConfigError
from spark_ops.model import Status

# One document with every shape an assertion may meet; NaN and Infinity are what Python's json emits.
DOCUMENT = (
    '{"status": "UP", "n": 5, "ratio": 0.5, "flag": true, "one": 1, "text": "abc",'
    ' "items": [{"name": "a"}], "none": null, "nan": NaN, "inf": Infinity, "ninf": -Infinity}'
)


def http_check(**options: Any) -> dict[str, Any]:
    """One ``http`` check against the ``web`` service unless ``options`` say otherwise."""
    return {"name": "under.test", "kind": "http", "service": "web", "path": "/", **options}


@pytest.fixture
def judge(judge_check: Any) -> Any:
    """Run one check (given as suite keys) with ``web`` pointing at ``httpserver``; return its result."""
    return functools.partial(judge_check, service="web")


def prepare_only(tmp_path: Path, check: dict[str, Any]) -> None:
    """Load and bind ``check`` against the dev profile (raises ConfigError when it is invalid)."""
    registry.prepare(load_suite(str(write_suite(tmp_path, check))), load_profile("dev"))


# --- status ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("served", "expect_status", "status"),
    [
        (200, [200], Status.PASS),
        (204, [200, 204], Status.PASS),
        (201, ["2xx"], Status.PASS),
        (299, ["200-299"], Status.PASS),
        (404, ["4xx"], Status.PASS),
        (500, [200], Status.FAIL),
        (404, ["2xx"], Status.FAIL),
        (300, ["200-299"], Status.FAIL),
        (503, [200, "4xx"], Status.FAIL),
    ],
    ids=[
        "single-code",
        "list",
        "class-2xx",
        "range-upper-bound",
        "class-4xx",
        "500-vs-200",
        "404-vs-2xx",
        "300-vs-range",
        "503-vs-mixed",
    ],
)
def test_expect_status(judge, httpserver, served, expect_status, status):
    """The answer's status is judged against codes, classes and ranges; the observed code is reported."""
    httpserver.expect_request("/").respond_with_data("ok", status=served)
    result = judge(http_check(expect_status=expect_status))
    assert result.status is status, result.message
    assert result.observed == served
    assert result.threshold == expect_status
    assert f"-> {served}" in result.message


def test_default_expect_status_is_200(judge, httpserver):
    """Without expect_status a non-200 answer fails."""
    httpserver.expect_request("/").respond_with_data("moved", status=500)
    assert judge(http_check()).status is Status.FAIL


@pytest.mark.parametrize(
    "expect_status",
    [["abc"], [700], ["600-700"], ["299-200"], ["6xx"], [99], []],
    ids=["word", "700", "range-above-599", "range-reversed", "class-6xx", "two-digits", "empty"],
)
def test_invalid_expect_status_is_a_config_error(tmp_path, monkeypatch, expect_status):
    """A status that is no HTTP status is refused before anything is sent, naming the key."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as caught:
        prepare_only(tmp_path, http_check(expect_status=expect_status))
    assert caught.value.key == "checks[0].expect_status"
    assert "suite.toml" in str(caught.value)


@pytest.mark.parametrize("expect_status", [["abc"], [700]], ids=["word", "700"])
def test_invalid_expect_status_exits_2(spark, platform, tmp_path, expect_status):
    """Through the CLI an invalid expect_status exits 2 with one line naming the key, no traceback."""
    suite = write_suite(tmp_path, http_check(expect_status=expect_status))
    result = spark("gate", "--suite", str(suite), "--no-evidence", "-f", "json", *platform.sets())
    assert result.exit_code == 2
    assert "expect_status" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


# --- latency --------------------------------------------------------------------------------------


def slow(seconds: float) -> Any:
    def handler(request: Request) -> Response:
        time.sleep(seconds)
        return Response("late")

    return handler


@pytest.mark.parametrize(
    ("delay_s", "max_latency_ms", "status"),
    [
        (0.0, 1000, Status.PASS),
        (0.3, 100, Status.FAIL),
        (0.0, "slo.latency_p95_ms", Status.PASS),
        (0.3, "slo.latency_p95_ms", Status.FAIL),
    ],
    ids=["fast-number", "slow-number", "fast-profile-key", "slow-profile-key"],
)
def test_max_latency_ms(judge, httpserver, delay_s, max_latency_ms, status):
    """An answer slower than max_latency_ms (a number or a profile key) fails with the time it took."""
    httpserver.expect_request("/").respond_with_handler(slow(delay_s))
    result = judge(http_check(max_latency_ms=max_latency_ms))
    assert result.status is status, result.message
    if status is Status.FAIL:
        assert result.observed >= 300
        expected_max = 150.0 if max_latency_ms == "slo.latency_p95_ms" else float(max_latency_ms)
        assert result.threshold == {"max": expected_max}
        assert "slower than max_latency_ms" in result.message


def test_max_latency_ms_naming_a_missing_profile_key_is_a_config_error(tmp_path, monkeypatch):
    """A latency threshold naming a key the profile lacks is refused, naming that key."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"slo\.latency_p99_ms"):
        prepare_only(tmp_path, http_check(max_latency_ms="slo.latency_p99_ms"))


# --- body text ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("needles", "status"),
    [(["Spark"], Status.PASS), (["Spark", "Portfolio"], Status.PASS), (["Spark", "Error"], Status.FAIL)],
    ids=["one-present", "all-present", "one-missing"],
)
def test_body_contains(judge, httpserver, needles, status):
    """Every body_contains string must appear in the body."""
    httpserver.expect_request("/").respond_with_data("<html>Spark Portfolio</html>", content_type="text/html")
    result = judge(http_check(body_contains=needles))
    assert result.status is status, result.message
    if status is Status.FAIL:
        assert "'Error'" in result.message


# --- JSON assertions ------------------------------------------------------------------------------

JSON_CASES = [
    # (field, op, value, status)
    ("status", "==", "UP", Status.PASS),
    ("status", "==", "DOWN", Status.FAIL),
    ("status", "!=", "DOWN", Status.PASS),
    ("status", "!=", "UP", Status.FAIL),
    ("n", "<", 6, Status.PASS),
    ("n", "<", 5, Status.FAIL),
    ("n", "<=", 5, Status.PASS),
    ("n", "<=", 4, Status.FAIL),
    ("ratio", ">", 0.25, Status.PASS),
    ("n", ">", 5, Status.FAIL),
    ("n", ">=", 5, Status.PASS),
    ("n", ">=", 5.5, Status.FAIL),
    ("status", "in", ["UP", "DEGRADED"], Status.PASS),
    ("status", "in", ["DOWN"], Status.FAIL),
    ("items.0.name", "==", "a", Status.PASS),
    ("flag", "==", True, Status.PASS),
    ("text", "<", "abd", Status.PASS),
    # fail closed
    ("absent", "==", 1, Status.FAIL),
    ("absent", "!=", 1, Status.FAIL),
    ("items.3.name", "==", "a", Status.FAIL),
    ("none", "!=", 1, Status.FAIL),
    ("none", "<", 1, Status.FAIL),
    ("nan", "<", 1, Status.FAIL),
    ("nan", "!=", 1, Status.FAIL),
    ("nan", ">=", 0, Status.FAIL),
    ("inf", ">", 0, Status.FAIL),
    ("ninf", "<", 0, Status.FAIL),
    ("inf", "!=", 1, Status.FAIL),
    ("text", "<", 5, Status.FAIL),
    ("n", "<", "9", Status.FAIL),
    ("flag", "==", 1, Status.FAIL),
    ("one", "==", True, Status.FAIL),
    ("flag", "!=", 1, Status.PASS),
    ("flag", ">", 0, Status.FAIL),
    ("flag", "in", [1], Status.FAIL),
    ("one", "in", [True], Status.FAIL),
    ("none", "in", ["UP"], Status.FAIL),
]


@pytest.mark.parametrize(
    ("field", "op", "value", "status"),
    JSON_CASES,
    ids=[f"{field} {op} {value!r}" for field, op, value, _ in JSON_CASES],
)
def test_expect_json(judge, httpserver, field, op, value, status):
    """JSON assertions hold only on real values: missing, null, NaN, infinities and type clashes fail."""
    httpserver.expect_request("/").respond_with_data(DOCUMENT, content_type="application/json")
    result = judge(http_check(expect_json=[{"field": field, "op": op, "value": value}]))
    assert result.status is status, result.message
    if status is Status.FAIL:
        assert repr(field) in result.message
        assert result.threshold == {"field": field, "op": op, "value": value}


def test_expect_json_all_assertions_must_hold(judge, httpserver):
    """The first failing assertion among several fails the check."""
    httpserver.expect_request("/").respond_with_data(DOCUMENT, content_type="application/json")
    assertions = [{"field": "status", "value": "UP"}, {"field": "n", "op": "<", "value": 3}]
    result = judge(http_check(expect_json=assertions))
    assert result.status is Status.FAIL
    assert "'n'" in result.message


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        ("<html><body>502 Bad Gateway</body></html>", "text/html", "not JSON"),
        ("", "application/json", "empty body"),
        ("   \n", "application/json", "empty body"),
        ('{"status": "UP"', "application/json", "not JSON"),
    ],
    ids=["html", "empty", "whitespace", "truncated"],
)
def test_expect_json_on_a_body_that_is_not_json_fails(judge, httpserver, body, content_type, reason):
    """A JSON assertion on HTML, an empty or a broken body fails, saying why."""
    httpserver.expect_request("/").respond_with_data(body, content_type=content_type)
    result = judge(http_check(expect_json=[{"field": "status", "value": "UP"}]))
    assert result.status is Status.FAIL
    assert reason in result.message


def test_in_without_a_list_is_a_config_error(tmp_path, monkeypatch):
    """``in`` needs a list of allowed values."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as caught:
        prepare_only(tmp_path, http_check(expect_json=[{"field": "status", "op": "in", "value": "UP"}]))
    assert caught.value.key == "checks[0].expect_json[0].value"


@pytest.mark.parametrize("value", ["2024-01-01", "07:30:00", "2024-01-01T07:30:00Z", "[2024-01-01]"])
def test_a_toml_date_or_time_as_a_value_is_a_config_error(spark, tmp_path, value):
    """TOML has dates and times, JSON has none: such a value could never match a body, so it is refused
    (exit 2, one line naming the key), not judged as text."""
    suite = tmp_path / "suite.toml"
    suite.write_text(
        '[[checks]]\nname = "when"\nkind = "http"\nurl = "http://127.0.0.1:9/"\n'
        f'expect_json = [{{ field = "at", op = "!=", value = {value} }}]\n'
    )
    result = spark("gate", "--suite", str(suite), "--no-evidence")
    assert result.exit_code == 2, result.stdout + result.stderr
    assert "checks[0].expect_json[0]: value must be a JSON value" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_unknown_operator_is_a_config_error(tmp_path, monkeypatch):
    """An operator outside ==, !=, <, <=, >, >=, in is refused."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="expect_json"):
        prepare_only(tmp_path, http_check(expect_json=[{"field": "n", "op": "=~", "value": 1}]))


# --- body size limit ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "status"),
    [(1000, Status.PASS), (1001, Status.FAIL), (1 << 18, Status.FAIL)],
    ids=["at-limit", "one-over", "far-over"],
)
def test_max_body_bytes(judge, httpserver, size, status):
    """A body beyond max_body_bytes fails the check rather than being read without end."""
    httpserver.expect_request("/").respond_with_data("x" * size)
    result = judge(http_check(max_body_bytes=1000))
    assert result.status is status, result.message
    if status is Status.FAIL:
        assert "limit" in result.message


# --- request shape --------------------------------------------------------------------------------


def test_post_sends_method_body_and_headers(judge, httpserver):
    """method, body and headers reach the server as written."""
    httpserver.expect_request("/api/orders", method="POST").respond_with_data("created", status=201)
    check = http_check(
        path="/api/orders",
        method="POST",
        body='{"qty": 1}',
        headers={"Content-Type": "application/json"},
        expect_status=[201],
    )
    result = judge(check)
    assert result.status is Status.PASS, result.message
    (request, _), *_ = httpserver.log
    assert request.method == "POST"
    assert request.get_data() == b'{"qty": 1}'
    assert request.headers["Content-Type"] == "application/json"


def test_absolute_url_is_used_as_is(judge, httpserver):
    """url = an absolute URL sends the request there, without any service."""
    httpserver.expect_request("/elsewhere/healthz").respond_with_data("ok")
    check = {"name": "abs", "kind": "http", "url": httpserver.url_for("/elsewhere/healthz")}
    result = judge(check)
    assert result.status is Status.PASS, result.message
    assert [request.path for request, _ in httpserver.log] == ["/elsewhere/healthz"]


def test_service_and_path_join_the_profile_url(judge, httpserver):
    """service + path resolve against the profile's URL for that service."""
    httpserver.expect_request("/api/healthz").respond_with_data("ok")
    result = judge(http_check(path="/api/healthz"))
    assert result.status is Status.PASS, result.message
    assert f"{httpserver.url_for('/api/healthz')} -> 200" in result.message


@pytest.mark.parametrize(
    ("keys", "key"),
    [
        ({"service": "web", "url": "http://127.0.0.1:1/x"}, "url"),
        ({"url": "ftp://127.0.0.1/x"}, "url"),
        ({"url": "/relative"}, "url"),
        ({}, "service"),
        ({"service": "nope"}, "service"),
        ({"service": "web", "path": "no-slash"}, "path"),
    ],
    ids=["url-and-service", "not-http", "relative-url", "no-target", "unknown-service", "path-without-slash"],
)
def test_target_errors_are_config_errors(tmp_path, monkeypatch, keys, key):
    """A check must name exactly one reachable target; anything else is refused naming the key."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as caught:
        prepare_only(tmp_path, {"name": "t", "kind": "http", **keys})
    assert caught.value.key == f"checks[0].{key}"


def test_unknown_key_is_a_config_error(tmp_path, monkeypatch):
    """A misspelt option is never silently ignored."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as caught:
        prepare_only(tmp_path, http_check(expect_stauts=[200]))
    assert caught.value.key == "checks[0].expect_stauts"

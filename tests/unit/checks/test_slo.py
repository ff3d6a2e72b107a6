"""The ``slo`` kind against a real loopback server: one health-JSON field judged against inclusive bounds."""

from __future__ import annotations

import functools
import json
from typing import Any

import pytest
from conftest import write_suite
from pytest_httpserver import HTTPServer

from spark_ops import clock, registry
from spark_ops.config import load_profile, load_suite
from spark_ops.errors import ConfigError
from spark_ops.model import Status

HEALTHZ = "/api/healthz"


def slo_check(**options: Any) -> dict[str, Any]:
    """One ``slo`` check on the web service's health endpoint."""
    return {"name": "healthz.slo", "kind": "slo", "service": "web", "path": HEALTHZ, **options}


def health(**slo: Any) -> str:
    """SPEC's health JSON with the given ``slo`` fields."""
    return json.dumps({"status": "UP", "slo": slo, "timestamp": clock.iso_now()})


@pytest.fixture
def judge(judge_check: Any) -> Any:
    """Run one check (given as suite keys) with ``web`` pointing at ``httpserver``; return its result.

    ``judge(check, profile=..., sets=(...))`` adds ``--set`` values to the profile."""
    return functools.partial(judge_check, service="web")


def serve(httpserver: HTTPServer, body: str, status: int = 200) -> None:
    httpserver.expect_request(HEALTHZ).respond_with_data(body, status=status, content_type="application/json")


BOUNDS_CASES = [
    # (value, bounds, status)
    (14, {"max": 150}, Status.PASS),
    (400, {"max": 150}, Status.FAIL),
    (150, {"max": 150}, Status.PASS),
    (150.001, {"max": 150}, Status.FAIL),
    (0.5, {"min": 1}, Status.FAIL),
    (1, {"min": 1}, Status.PASS),
    (5, {"min": 1, "max": 10}, Status.PASS),
    (11, {"min": 1, "max": 10}, Status.FAIL),
    (130, {"max": 150, "warn_max": 100}, Status.WARN),
    (100, {"max": 150, "warn_max": 100}, Status.PASS),
    (160, {"max": 150, "warn_max": 100}, Status.FAIL),
    (5, {"min": 0, "warn_min": 10}, Status.WARN),
    (-1, {"min": 0, "warn_min": 10}, Status.FAIL),
    (0, {"max": 0}, Status.PASS),
]


@pytest.mark.parametrize(
    ("value", "bounds", "status"),
    BOUNDS_CASES,
    ids=[
        "within-max",
        "above-max",
        "equal-max",
        "just-above-max",
        "below-min",
        "equal-min",
        "within-min-max",
        "above-min-max",
        "warn-band",
        "equal-warn-max",
        "above-max-beyond-warn",
        "warn-min-band",
        "below-min-beyond-warn",
        "zero-at-zero",
    ],
)
def test_bounds(judge, httpserver, value, bounds, status):
    """min and max are inclusive; a value in the warning band is WARN; outside the bounds is FAIL."""
    serve(httpserver, health(latencyP95=value))
    result = judge(slo_check(field="slo.latencyP95", **bounds))
    assert result.status is status, result.message
    assert result.observed == value
    assert result.threshold == {key: float(number) for key, number in bounds.items()}
    assert "slo.latencyP95" in result.message


@pytest.mark.parametrize(
    ("field", "value", "profile_key", "dev", "production"),
    [
        ("slo.latencyP95", 130, "slo.latency_p95_ms", Status.PASS, Status.FAIL),
        ("slo.errorRate", 0.03, "slo.error_rate", Status.PASS, Status.FAIL),
        ("slo.staleness", 20, "slo.staleness_s", Status.PASS, Status.FAIL),
        ("slo.latencyP95", 14, "slo.latency_p95_ms", Status.PASS, Status.PASS),
        ("slo.latencyP95", 400, "slo.latency_p95_ms", Status.FAIL, Status.FAIL),
    ],
    ids=["p95-130", "error-rate-3pct", "staleness-20s", "p95-14", "p95-400"],
)
def test_threshold_by_profile_key(judge, httpserver, field, value, profile_key, dev, production):
    """A threshold named by profile key judges one suite against the dev or the production target."""
    leaf = field.split(".")[-1]
    serve(httpserver, health(**{leaf: value}))
    check = slo_check(field=field, max=profile_key)
    assert judge(check, profile="dev").status is dev
    assert judge(check, profile="production").status is production


def test_threshold_by_profile_key_follows_set(judge, httpserver):
    """--set slo.latency_p95_ms tightens a threshold the suite names by key."""
    serve(httpserver, health(latencyP95=130))
    check = slo_check(field="slo.latencyP95", max="slo.latency_p95_ms")
    assert judge(check).threshold == {"max": 150.0}
    tightened = judge(check, sets=("slo.latency_p95_ms=120",))
    assert tightened.status is Status.FAIL
    assert tightened.threshold == {"max": 120.0}


@pytest.mark.parametrize(
    ("body", "status_code", "reason"),
    [
        (json.dumps({"status": "UP", "slo": {}}), 200, "missing"),
        (json.dumps({"status": "UP"}), 200, "missing"),
        ('{"slo": {"latencyP95": null}}', 200, "null"),
        ('{"slo": {"latencyP95": "14"}}', 200, "not a number"),
        ('{"slo": {"latencyP95": true}}', 200, "not a number"),
        ('{"slo": {"latencyP95": [14]}}', 200, "not a number"),
        ('{"slo": {"latencyP95": {"value": 14}}}', 200, "not a number"),
        ('{"slo": {"latencyP95": NaN}}', 200, "not a finite number"),
        ('{"slo": {"latencyP95": Infinity}}', 200, "not a finite number"),
        ('{"slo": {"latencyP95": -Infinity}}', 200, "not a finite number"),
        ('{"slo": "UP"}', 200, "missing"),
        ("[14]", 200, "missing"),
        ("NaN", 200, "missing"),
        ("<html><body>Bad Gateway</body></html>", 200, "not JSON"),
        ('{"slo": {"latencyP95": 1', 200, "not JSON"),
        ("", 200, "empty body"),
        (health(latencyP95=14), 503, "2xx"),
        (health(latencyP95=14), 302, "2xx"),
    ],
    ids=[
        "missing-field",
        "missing-parent",
        "null",
        "string",
        "boolean",
        "list",
        "object",
        "nan",
        "infinity",
        "minus-infinity",
        "parent-not-object",
        "top-level-list",
        "top-level-nan",
        "html",
        "truncated-json",
        "empty-body",
        "503-with-good-body",
        "redirect",
    ],
)
def test_bad_answers_never_pass(judge, httpserver, body, status_code, reason):
    """Fail closed: a missing, null, non-numeric or non-finite value, or a bad answer, is never PASS."""
    serve(httpserver, body, status=status_code)
    # These bodies carry no time on purpose: the value's own reason is under test (freshness below).
    result = judge(slo_check(field="slo.latencyP95", min=0, max=1e12, timestamp_field=""))
    assert result.status in (Status.FAIL, Status.ERROR), result.message
    assert reason in result.message


def test_nan_observed_stays_json_safe(spark, platform, tmp_path):
    """A NaN reading fails the gate and the result JSON stays valid (NaN shown as a string)."""
    platform.health_body = b'{"status": "UP", "slo": {"latencyP95": NaN}, "timestamp": "%s"}' % (
        clock.iso_now().encode()
    )
    suite = write_suite(tmp_path, slo_check(field="slo.latencyP95", max=150))
    result = spark(
        "gate", "--suite", str(suite), "--no-evidence", "-f", "json", "--exit-on-fail", *platform.sets()
    )
    assert result.exit_code == 1, result.stdout + result.stderr
    (check,) = json.loads(result.stdout)["checks"]
    assert check["status"] == "FAIL"
    assert check["observed"] == "nan"


def test_health_body_is_kept_as_an_artifact(judge, httpserver):
    """The health JSON the verdict was made on is kept with the result for the evidence."""
    body = health(latencyP95=14)
    serve(httpserver, body)
    result = judge(slo_check(field="slo.latencyP95", max=150))
    assert result.artifacts == {"body.json": body.encode()}


@pytest.mark.parametrize(
    ("bounds", "key", "words"),
    [
        ({"min": 10, "max": 5}, "checks[0].min", "above max"),
        ({}, "checks[0].max", "needs min or max"),
        ({"warn_max": 100}, "checks[0].max", "needs min or max"),
        ({"max": "slo.latency_p99_ms"}, "checks[0].max", "slo.latency_p99_ms"),
        ({"min": "slo.nothing.here"}, "checks[0].min", "slo.nothing.here"),
        ({"max": "risk.fail_on"}, "checks[0].max", "not a number"),
        ({"max": "slo"}, "checks[0].max", "not a number"),
        ({"max": True}, "checks[0].max", "Expected"),
        ({"maximum": 150}, "checks[0].maximum", "unknown key"),
    ],
    ids=[
        "min-above-max",
        "no-bounds",
        "only-warn-band",
        "missing-profile-key",
        "missing-nested-key",
        "key-not-a-number",
        "key-is-a-table",
        "boolean-threshold",
        "misspelt-key",
    ],
)
def test_invalid_bounds_are_config_errors(tmp_path, monkeypatch, bounds, key, words):
    """Bounds that cannot be judged are refused before anything is sent, naming the suite file and key."""
    monkeypatch.chdir(tmp_path)
    suite = write_suite(tmp_path, slo_check(field="slo.latencyP95", **bounds))
    with pytest.raises(ConfigError) as caught:
        registry.prepare(load_suite(str(suite)), load_profile("dev"))
    assert caught.value.key == key
    assert caught.value.file == str(suite)
    assert words in str(caught.value)


def test_missing_profile_key_exits_2(spark, platform, tmp_path):
    """Through the CLI a threshold naming a missing profile key exits 2 naming the key."""
    suite = write_suite(tmp_path, slo_check(field="slo.latencyP95", max="slo.latency_p99_ms"))
    result = spark("gate", "--suite", str(suite), "--no-evidence", "-f", "json", *platform.sets())
    assert result.exit_code == 2
    assert "slo.latency_p99_ms" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("unit", "value", "bounds", "status", "fragment"),
    [
        pytest.param(
            "ms", -3, {"max": 150}, Status.FAIL, "= -3, outside its domain >= 0 (ms)", id="negative-ms"
        ),
        pytest.param("s", -0.5, {"max": 30}, Status.FAIL, "outside its domain >= 0 (s)", id="negative-s"),
        pytest.param(
            "ratio", 1.5, {"max": 2}, Status.FAIL, "outside its domain [0, 1] (ratio)", id="ratio-above-1"
        ),
        pytest.param("ratio", -0.01, {"max": 0.05}, Status.FAIL, "[0, 1] (ratio)", id="negative-ratio"),
        pytest.param("percent", 101, {"max": 200}, Status.FAIL, "[0, 100] (percent)", id="percent-above-100"),
        pytest.param("count", -1, {"max": 5}, Status.FAIL, ">= 0 (count)", id="negative-count"),
        pytest.param("ratio", 1, {"max": 1}, Status.PASS, "= 1", id="ratio-1-is-in"),
        pytest.param("ms", 0, {"max": 150}, Status.PASS, "= 0", id="zero-ms-is-in"),
        pytest.param("number", -3, {"min": -10}, Status.PASS, "= -3", id="number-has-no-domain"),
        pytest.param("ratio", "NaN", {"max": 1}, Status.FAIL, "not a finite number", id="nan-stays-nan"),
    ],
)
def test_a_value_outside_its_units_domain_fails_whatever_the_bounds(
    judge, httpserver, unit, value, bounds, status, fragment
):
    """The field's ``unit`` fixes its physical domain, judged before min/max: out of it is FAIL."""
    raw = json.dumps({"slo": {"v": 0}, "timestamp": clock.iso_now()}).replace('"v": 0', f'"v": {value}')
    serve(httpserver, raw)
    result = judge(slo_check(field="slo.v", unit=unit, **bounds))
    assert result.status is status, result.message
    assert fragment in result.message


def test_an_unknown_unit_is_a_config_error(tmp_path, spark, platform):
    """``unit`` is one of the listed ones; another exits 2 naming the key and the choices."""
    suite = write_suite(tmp_path, slo_check(field="slo.latencyP95", unit="furlongs", max=1))
    result = spark("gate", "--suite", str(suite), *platform.sets())
    assert result.exit_code == 2
    assert "unit" in result.stderr and "'ratio'" in result.stderr, result.stderr


def test_the_shipped_suites_declare_their_units():
    """gate and canary name each SLO figure's unit: latency in ms, error rate a ratio, staleness in s."""
    for suite in ("gate", "canary"):
        units = {
            spec.options["field"]: spec.options.get("unit")
            for spec in load_suite(suite).checks
            if spec.kind == "slo"
        }
        assert units == {"slo.latencyP95": "ms", "slo.errorRate": "ratio", "slo.staleness": "s"}, suite

"""Issue 2's "Done when" scenarios, end to end: the real CLI against a fake platform on a loopback socket."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import GATE_CHECKS, free_port

WARN_SUITE = """
[[checks]]
name = "healthz.slo.latencyP95"
kind = "slo"
service = "web"
path = "/api/healthz"
field = "slo.latencyP95"
max = 150
warn_max = 50
severity = "major"
"""

INCONCLUSIVE_SUITE = """
[[checks]]
name = "executor.metrics.orders"
kind = "metrics"
service = "executor-1"
values = [{ metric = "spark_orders_filled_total", min = 1 }]
"""


def run_json(spark: Any, *args: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any], str]:
    """Run a command with ``--format json --no-evidence``; returns exit code, result document, stderr."""
    result = spark(*args, "--no-evidence", "--format", "json", env=env)
    assert "Traceback" not in result.stdout + result.stderr
    return result.exit_code, json.loads(result.stdout), result.stderr


def checks_by_name(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {check["name"]: check for check in document["checks"]}


def write_suite(text: str) -> str:
    """A suite file in the (temporary) working directory."""
    path = Path("suite.toml")
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_healthy_platform_passes_gate_with_exit_0_and_low(platform, spark):
    """A healthy platform passes all six gate checks: LOW, score 100, exit 0 even with --exit-on-fail."""
    code, document, _ = run_json(spark, "gate", "--exit-on-fail", *platform.sets())
    assert code == 0
    assert document["risk"] == {
        "level": "LOW",
        "score": 100.0,
        "recommendation": "System healthy, safe to deploy",
    }
    assert document["summary"]["passed"] == 6
    assert sorted(checks_by_name(document)) == sorted(GATE_CHECKS)
    assert document["exit_code"] == 0


def test_p95_of_400ms_fails_the_gate(platform, spark):
    """p95 = 400 ms fails healthz.slo.latencyP95 (a major check): HIGH and exit 1."""
    platform.health["slo"]["latencyP95"] = 400
    code, document, _ = run_json(spark, "gate", "--exit-on-fail", *platform.sets())
    assert code == 1
    check = checks_by_name(document)["healthz.slo.latencyP95"]
    assert check["status"] == "FAIL"
    assert check["observed"] == 400
    assert check["threshold"] == {"max": 150}
    assert "400" in check["message"]
    assert document["risk"]["level"] == "HIGH"
    assert document["exit_code"] == 1


@pytest.mark.parametrize(
    ("profile", "expected_code", "expected_failures"),
    [
        ("dev", 0, set()),
        ("production", 1, {"healthz.slo.latencyP95", "healthz.slo.errorRate", "healthz.slo.staleness"}),
    ],
    ids=["dev-passes", "production-fails"],
)
def test_same_numbers_judged_against_each_profiles_targets(
    platform, spark, profile, expected_code, expected_failures
):
    """p95 130 ms, 3 % errors and 20 s staleness are inside dev's targets and outside production's."""
    platform.health["slo"] = {"latencyP95": 130, "errorRate": 0.03, "staleness": 20}
    code, document, _ = run_json(spark, "gate", "--exit-on-fail", "--profile", profile, *platform.sets())
    assert code == expected_code
    assert document["profile"] == profile
    failed = {c["name"] for c in document["checks"] if c["status"] == "FAIL"}
    assert failed == expected_failures


def test_executor_down_fails_its_check_with_a_reason(platform, spark):
    """An executor nobody listens for fails executor.up with a readable reason: CRITICAL, no traceback."""
    code, document, stderr = run_json(
        spark, "gate", "--exit-on-fail", *platform.sets(executor_1=f"http://127.0.0.1:{free_port()}")
    )
    assert code == 1
    check = checks_by_name(document)["executor.up"]
    assert check["status"] == "FAIL"
    assert check["severity"] == "critical"
    assert "cannot connect" in check["message"]
    assert "connection refused" in check["message"].lower()
    assert document["risk"]["level"] == "CRITICAL"
    assert "Traceback" not in stderr


@pytest.mark.parametrize(
    ("page_status", "expected_code", "expected_passed"),
    [({}, 0, 6), ({"/portfolio": 500}, 1, 5)],
    ids=["healthy-6-of-6", "page-500-fails"],
)
def test_smoke_needs_every_page_to_answer_200(platform, spark, page_status, expected_code, expected_passed):
    """The smoke suite passes 6/6 on a healthy platform and fails when one page answers 500."""
    platform.page_status.update(page_status)
    code, document, _ = run_json(spark, "smoke", "--exit-on-fail", *platform.sets())
    assert code == expected_code
    assert document["suite"] == "smoke"
    assert (document["summary"]["total"], document["summary"]["passed"]) == (6, expected_passed)
    for path in page_status:
        failing = [c for c in document["checks"] if c["status"] == "FAIL"]
        assert len(failing) == 1
        assert failing[0]["observed"] == 500
        assert path in failing[0]["message"]


@pytest.mark.parametrize("status", ["DEGRADED", "DOWN"], ids=["degraded", "down"])
def test_platform_status_other_than_up_fails_healthz_status(platform, spark, status):
    """A platform reporting DEGRADED or DOWN fails healthz.status (critical) and the gate."""
    platform.health["status"] = status
    code, document, _ = run_json(spark, "gate", "--exit-on-fail", *platform.sets())
    assert code == 1
    check = checks_by_name(document)["healthz.status"]
    assert check["status"] == "FAIL"
    assert check["observed"] == status
    assert document["risk"]["level"] == "CRITICAL"


SICK_PLATFORMS = {
    "slow-p95": lambda p: p.health["slo"].update(latencyP95=400),
    "degraded": lambda p: p.health.update(status="DEGRADED"),
    "page-500": lambda p: p.page_status.update({"/": 500}),
    "non-json-health": lambda p: setattr(p, "health_body", b"<html>oops</html>"),
}


@pytest.mark.parametrize("make_sick", list(SICK_PLATFORMS.values()), ids=list(SICK_PLATFORMS))
def test_without_exit_on_fail_every_verdict_exits_0(platform, spark, make_sick):
    """Report-only by default: a failing verdict is reported but the gate exits 0."""
    make_sick(platform)
    code, document, _ = run_json(spark, "gate", *platform.sets())
    assert code == 0
    assert document["risk"]["level"] in ("HIGH", "CRITICAL")
    assert document["exit_code"] == 0


def test_fail_on_critical_lets_a_high_verdict_pass(platform, spark):
    """--fail-on critical: a HIGH verdict (a major SLO failing) exits 0 even with --exit-on-fail."""
    platform.health["slo"]["latencyP95"] = 400
    code, document, _ = run_json(spark, "gate", "--exit-on-fail", "--fail-on", "critical", *platform.sets())
    assert document["risk"]["level"] == "HIGH"
    assert code == 0


@pytest.mark.parametrize(
    ("fail_on", "expected_code"),
    [(None, 0), ("medium", 1)],
    ids=["default-high-passes-warn", "medium-fails-warn"],
)
def test_fail_on_medium_makes_a_warning_fail(platform, spark, fail_on, expected_code):
    """A WARN (value inside max, beyond warn_max) is MEDIUM: it exits 1 only with --fail-on medium."""
    platform.health["slo"]["latencyP95"] = 100
    options = ["--fail-on", fail_on] if fail_on else []
    code, document, _ = run_json(
        spark, "gate", "--exit-on-fail", "--suite", write_suite(WARN_SUITE), *options, *platform.sets()
    )
    assert document["checks"][0]["status"] == "WARN"
    assert document["risk"]["level"] == "MEDIUM"
    assert document["risk"]["score"] == 50.0
    assert code == expected_code


@pytest.mark.parametrize(
    ("enforce", "expected_code"), [(True, 3), (False, 0)], ids=["exit-on-fail", "report-only"]
)
def test_inconclusive_only_verdict_exits_3(platform, spark, enforce, expected_code):
    """Asserting on a metric the target does not expose is INCONCLUSIVE: exit 3 with --exit-on-fail."""
    options = ["--exit-on-fail"] if enforce else []
    code, document, _ = run_json(
        spark, "gate", "--suite", write_suite(INCONCLUSIVE_SUITE), *options, *platform.sets()
    )
    assert document["checks"][0]["status"] == "INCONCLUSIVE"
    assert document["summary"]["inconclusive"] == 1
    assert document["risk"]["level"] == "MEDIUM"
    assert code == expected_code
    assert document["exit_code"] == expected_code


def test_a_gate_run_sends_one_request_to_the_health_document(platform, spark, httpserver):
    """The four gate checks on /api/healthz judge one snapshot: the platform sees one request, not four."""
    code, document, _ = run_json(spark, "gate", "--exit-on-fail", *platform.sets())
    assert code == 0
    healthz_checks = [c for c in document["checks"] if c["name"].startswith("healthz.")]
    assert len(healthz_checks) == 4
    paths = [request.path for request, _ in httpserver.log]
    assert paths.count("/api/healthz") == 1, paths

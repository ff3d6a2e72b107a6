"""The shipped gate suite judges what the health answer means, not only its shape: a well-formed answer
that is stale, out of its domain or ambiguous fails the gate (exit 1 with --exit-on-fail); the simulator,
which serves a current and well-formed answer, still passes (exit 0)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from spark_ops import clock


def gate(spark: Any, *sets: str) -> tuple[int, dict[str, dict[str, Any]]]:
    args = ["gate", "--exit-on-fail", "--no-evidence", "--format", "json"]
    for assignment in sets:
        args += ["--set", assignment] if not assignment.startswith("--") else [assignment]
    result = spark(*args)
    assert "Traceback" not in result.stdout + result.stderr
    return result.exit_code, {check["name"]: check for check in json.loads(result.stdout)["checks"]}


def fresh(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "status": "UP",
        "slo": {"latencyP95": 14, "errorRate": 0.0, "staleness": 0},
        "timestamp": clock.iso_now(),
    }
    document["slo"].update(changes)
    return document


HEALTH_CHECKS = ("healthz.status", "healthz.slo.latencyP95", "healthz.slo.errorRate", "healthz.slo.staleness")


@pytest.mark.parametrize(
    ("body", "failing", "reason"),
    [
        pytest.param(
            lambda: json.dumps({**fresh(), "timestamp": "2025-10-16T12:00:00Z"}).encode(),
            HEALTH_CHECKS,
            "days old",
            id="stale",
        ),
        pytest.param(
            lambda: json.dumps({k: v for k, v in fresh().items() if k != "timestamp"}).encode(),
            HEALTH_CHECKS,
            "carries no time",
            id="undated",
        ),
        pytest.param(
            lambda: json.dumps(fresh(errorRate=1.7)).encode(),
            ("healthz.slo.errorRate",),
            "outside its domain [0, 1] (ratio)",
            id="error-rate-out-of-domain",
        ),
        pytest.param(
            lambda: json.dumps(fresh(latencyP95=-20)).encode(),
            ("healthz.slo.latencyP95",),
            "outside its domain >= 0 (ms)",
            id="negative-latency",
        ),
        pytest.param(
            lambda: (
                json.dumps(fresh()).replace('"status": "UP"', '"status": "DOWN", "status": "UP"').encode()
            ),
            HEALTH_CHECKS,
            "ambiguous JSON: key 'status' appears twice",
            id="ambiguous",
        ),
    ],
)
def test_a_well_formed_but_untrustworthy_health_answer_fails_the_gate(platform, spark, body, failing, reason):
    """Stale, undated, out-of-domain or ambiguous: the shipped gate exits 1 and the health checks say why."""
    platform.health_body = body()
    code, checks = gate(spark, *platform.sets()[1::2])
    assert code == 1, checks
    for name in failing:
        assert checks[name]["status"] == "FAIL", checks[name]
        assert reason in checks[name]["message"], checks[name]["message"]
    assert checks["ui.up"]["status"] == checks["executor.up"]["status"] == "PASS"


def test_the_fake_platforms_current_answer_passes(platform, spark):
    """The control on the fake platform: the same answer, current and unambiguous, passes (exit 0)."""
    platform.health_body = json.dumps(fresh()).encode()
    code, checks = gate(spark, *platform.sets()[1::2])
    assert code == 0, checks
    assert {check["status"] for check in checks.values()} == {"PASS"}


def test_the_simulator_passes_the_shipped_gate(sim, spark):
    """Against the simulator (a current, well-formed health answer) the shipped gate exits 0."""
    code, checks = gate(spark, *sim.profile_sets())
    assert code == 0, checks
    assert {check["status"] for check in checks.values()} == {"PASS"}

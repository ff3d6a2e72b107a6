"""The shared fixtures work end to end (a healthy platform passes the gate)."""

import json


def test_healthy_platform_passes_gate_with_exit_0(platform, spark):
    """A healthy platform gives LOW and exit 0 even with --exit-on-fail."""
    result = spark("gate", "--no-evidence", "--exit-on-fail", "-f", "json", *platform.sets())
    assert result.exit_code == 0, result.stdout + result.stderr
    document = json.loads(result.stdout)
    assert document["risk"]["level"] == "LOW"
    assert document["summary"]["passed"] == 6

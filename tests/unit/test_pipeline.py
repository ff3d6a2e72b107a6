"""spark_ops/pipeline.py: prepare_run validates before anything is sent; execute returns a redacted,
judged result whose exit code follows from the risk and the options (analysis windows:
tests/scenarios/test_analysis_window.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import write_suite

from spark_ops import pipeline
from spark_ops.errors import ConfigError, ExitCode
from spark_ops.model import RiskLevel, Status
from spark_ops.redact import MASK

TOKEN = "pipeline-T0ken-5ecret-0123456789"


def sets_for(url: str) -> list[str]:
    """``--set`` assignments pointing every service of the profile at ``url``."""
    return [f"services.{service}.url={url}" for service in ("web", "executor-1", "executor-2", "marketdata")]


def test_a_suite_error_names_the_suite_file_and_key(tmp_path, monkeypatch):
    """An unknown kind in a suite is a ConfigError naming the suite's file and the check's key."""
    monkeypatch.chdir(tmp_path)
    suite = write_suite(tmp_path, {"name": "x", "kind": "no-such-kind", "service": "web"})
    with pytest.raises(ConfigError) as caught:
        pipeline.prepare_run("gate", profile_ref="dev", suite_ref=str(suite))
    assert caught.value.file == str(suite)
    assert caught.value.key == "checks[0].kind"


def test_a_profile_error_names_the_profile_file(tmp_path, monkeypatch):
    """A profile that is not TOML is a ConfigError naming the profile's file, before the suite is read."""
    monkeypatch.chdir(tmp_path)
    profile = tmp_path / "broken.toml"
    profile.write_text("description = [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        pipeline.prepare_run("gate", profile_ref=str(profile), suite_ref="no-such-suite")
    assert Path(caught.value.file or "").resolve() == profile.resolve()


def test_fail_on_given_to_prepare_run_overrides_the_profile():
    """``fail_on`` given to prepare_run wins over the profile's ``[risk] fail_on``."""
    assert pipeline.prepare_run("gate", profile_ref="dev", suite_ref="gate").fail_on is RiskLevel.HIGH
    run = pipeline.prepare_run("gate", profile_ref="dev", suite_ref="gate", fail_on="critical")
    assert run.fail_on is RiskLevel.CRITICAL


def test_results_come_back_redacted(platform, tmp_path, monkeypatch):
    """A secret in a check's message, observed value and kept body is masked before execute returns it."""
    monkeypatch.setenv("SPARK_PIPELINE_TOKEN", TOKEN)
    monkeypatch.chdir(tmp_path)
    platform.health["status"] = TOKEN  # the platform echoes the secret where a status belongs
    suite = write_suite(
        tmp_path,
        {
            "name": "echo",
            "kind": "http",
            "service": "web",
            "path": "/api/healthz",
            "expect_json": [{"field": "status", "op": "==", "value": "UP"}],
        },
    )
    run = pipeline.prepare_run("gate", profile_ref="dev", suite_ref=str(suite), sets=sets_for(platform.url))
    seen: list[str] = []
    result = pipeline.execute(run, enforce=True, on_result=lambda r: seen.append(r.message), backoff=False)
    (check,) = result.results
    assert check.status is Status.FAIL
    shown = [
        check.message,
        repr(check.observed),
        *(body.decode() for body in check.artifacts.values()),
        *seen,
    ]
    assert all(TOKEN not in text for text in shown), shown
    assert MASK in check.message


@pytest.mark.parametrize(
    ("latency_p95_ms", "fail_on", "enforce", "level", "code"),
    [
        (14, None, True, RiskLevel.LOW, ExitCode.OK),
        (400, None, True, RiskLevel.HIGH, ExitCode.VERDICT_FAILED),
        (400, None, False, RiskLevel.HIGH, ExitCode.OK),
        (400, "critical", True, RiskLevel.HIGH, ExitCode.OK),
        (400, "medium", True, RiskLevel.HIGH, ExitCode.VERDICT_FAILED),
    ],
    ids=[
        "healthy",
        "high-enforced",
        "high-report-only",
        "high-under-fail-on-critical",
        "high-fail-on-medium",
    ],
)
def test_the_exit_code_follows_from_risk_and_options(platform, latency_p95_ms, fail_on, enforce, level, code):
    """The gate suite's result carries the risk, and its exit code reduces risk, fail_on and enforce."""
    platform.health["slo"]["latencyP95"] = latency_p95_ms
    run = pipeline.prepare_run(
        "gate", profile_ref="dev", suite_ref="gate", sets=sets_for(platform.url), fail_on=fail_on
    )
    result = pipeline.execute(run, enforce=enforce, backoff=False)
    assert result.risk.level is level
    assert result.exit_code == code
    assert (result.command, result.profile, result.suite) == ("gate", "dev", "gate")

"""``spark alerts``: Prometheus rules from a profile over the monitor's metric names, checked and unit-tested
with the real ``promtool`` (tests/data/promtool/alerts_test.yml)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import DATA, assert_config_error, promtool

from spark_ops import alerts
from spark_ops.config import load_profile
from spark_ops.monitor import MonitorMetrics
from spark_ops.pipeline import prepare_run

PROMTOOL_TESTS = DATA / "promtool" / "alerts_test.yml"
ALERTS = {
    "SparkLatencyP95High",
    "SparkErrorRateHigh",
    "SparkMarketDataStale",
    "SparkCriticalCheckDown",
    "SparkCheckDown",
    "SparkMonitorStale",
    "SparkMonitorAbsent",
    "SparkMonitorCycleErrors",
    "SparkErrorBudgetBurnFast",
    "SparkErrorBudgetBurnSlow",
}
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_NAME = re.compile(r"(?<![\w:.$])([a-zA-Z_:][\w:]*)(?![\w:])(?!\s*\()")
_PROMQL_WORDS = {"and", "or", "unless", "bool", "offset"}


def promql_metric_names(expr: str) -> set[str]:
    """The metric (and recorded series) names a PromQL expression reads; functions and keywords excluded."""
    for pattern in (r'"[^"]*"', r"\{[^}]*\}", r"\[[^\]]*\]"):  # strings, label matchers, ranges
        expr = re.sub(pattern, " ", expr)
    expr = _GROUPING.sub(" ", expr)
    return {name for name in _NAME.findall(expr) if name not in _PROMQL_WORDS}


def exported_names() -> set[str]:
    """Every sample name the monitor's registry exports (counters with their _total)."""
    prepared = prepare_run("monitor", profile_ref="dev", suite_ref="gate")
    registry = MonitorMetrics(prepared, interval_s=30).registry
    return {sample.name for family in registry.collect() for sample in family.samples} | {
        family.name for family in registry.collect()
    }


def run_promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool(), *args], capture_output=True, text=True, timeout=120, cwd=cwd)


def test_promtool_checks_and_unit_tests_the_dev_rules(tmp_path):
    """The dev profile's rules pass `promtool check rules` and every case of promtool/alerts_test.yml."""
    (tmp_path / "spark-alerts.yml").write_text(alerts.render_rules(load_profile("dev")), encoding="utf-8")
    shutil.copy(PROMTOOL_TESTS, tmp_path / "alerts_test.yml")
    checked = run_promtool("check", "rules", "spark-alerts.yml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 17 rules found" in checked.stdout
    tested = run_promtool("test", "rules", "alerts_test.yml", cwd=tmp_path)
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_promtool_unit_tests_catch_a_wrong_threshold(tmp_path):
    """The promtool tests are not vacuous: rules with a fast-burn factor of 1 instead of 14.4 fail them."""
    text = alerts.render_rules(load_profile("dev")).replace("(14.4 * 0.05)", "(1 * 0.05)")
    (tmp_path / "spark-alerts.yml").write_text(text, encoding="utf-8")
    shutil.copy(PROMTOOL_TESTS, tmp_path / "alerts_test.yml")
    tested = run_promtool("test", "rules", "alerts_test.yml", cwd=tmp_path)
    assert tested.returncode != 0
    assert "SparkErrorBudgetBurnFast" in tested.stdout + tested.stderr


@pytest.mark.parametrize("profile", ["dev", "production"])
def test_every_shipped_profile_renders_rules_promtool_accepts(tmp_path, profile):
    """`promtool check rules` accepts the rules of every shipped profile."""
    (tmp_path / "rules.yml").write_text(alerts.render_rules(load_profile(profile)), encoding="utf-8")
    checked = run_promtool("check", "rules", "rules.yml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.parametrize(
    ("profile", "staleness", "budget"), [("dev", "30", "0.05"), ("production", "15", "0.02")], ids=str
)
def test_thresholds_come_from_spec_and_profile(profile, staleness, budget):
    """p95 > 1000 and errors > 0.01 for 5m (SPEC); staleness and the error budget from the profile."""
    rules = {
        rule.alert: rule
        for group in alerts.rule_groups(load_profile(profile))
        for rule in group.rules
        if rule.alert
    }
    assert set(rules) == ALERTS
    assert (rules["SparkLatencyP95High"].expr, rules["SparkLatencyP95High"].for_) == (
        "spark_slo_latency_p95_ms > 1000",
        "5m",
    )
    assert (rules["SparkErrorRateHigh"].expr, rules["SparkErrorRateHigh"].for_) == (
        "spark_slo_error_rate > 0.01",
        "5m",
    )
    assert rules["SparkMarketDataStale"].expr == f"spark_slo_staleness_seconds > {staleness}"
    fast, slow = rules["SparkErrorBudgetBurnFast"].expr, rules["SparkErrorBudgetBurnSlow"].expr
    for factor, short, long in (("14.4", "5m", "1h"), ("6", "30m", "6h")):
        assert f"check:spark_slo_error_rate:avg{long} > ({factor} * {budget})" in fast
        assert f"check:spark_slo_error_rate:avg{short} > ({factor} * {budget})" in fast
    for factor, short, long in (("3", "2h", "1d"), ("1", "6h", "3d")):
        assert f"check:spark_slo_error_rate:avg{long} > ({factor} * {budget})" in slow
        assert f"check:spark_slo_error_rate:avg{short} > ({factor} * {budget})" in slow
    for name, rule in rules.items():
        assert rule.labels["severity"] in ("critical", "warning"), name
        assert set(rule.annotations) == {"summary", "description"}, name


def test_rules_read_only_what_the_monitor_exports():
    """Every alert and recording rule reads only metric names the monitor exports, or series recorded here."""
    groups = alerts.rule_groups(load_profile("dev"))
    recorded = {rule.record for group in groups for rule in group.rules if rule.record}
    assert recorded == {alerts.error_rate_average(window) for window in alerts.WINDOWS}
    read = {name for group in groups for rule in group.rules for name in promql_metric_names(rule.expr)}
    assert read - recorded <= exported_names()
    assert {
        "spark_check_up",
        "spark_slo_error_rate",
        "spark_monitor_last_run_timestamp_seconds",
        "spark_monitor_interval_seconds",
    } <= read


def test_alert_texts_state_the_durations_the_rules_use(monkeypatch):
    """Each description states the rule's own window or hold time: change one and the text follows."""
    for name, duration in [
        ("SLO_FOR", "10m"),
        ("CHECK_DOWN_FOR", "2h"),
        ("MONITOR_ABSENT_WINDOW", "30m"),
        ("CYCLE_ERRORS_WINDOW", "1h"),
        ("MONITOR_STALE_S", 600),
        ("STALE_INTERVALS", 4),
    ]:
        monkeypatch.setattr(alerts, name, duration)
    rules = {rule.alert: rule for group in alerts.rule_groups(load_profile("dev")) for rule in group.rules}

    def described(alert: str) -> str:
        return rules[alert].annotations["summary"] + " " + rules[alert].annotations["description"]

    assert rules["SparkLatencyP95High"].for_ == rules["SparkErrorRateHigh"].for_ == "10m"
    assert "for 10 minutes." in described("SparkLatencyP95High")
    assert "for 10 minutes." in described("SparkErrorRateHigh")
    assert rules["SparkCriticalCheckDown"].for_ == rules["SparkCheckDown"].for_ == "2h"
    assert "has not passed for 2 hours: do not deploy." in described("SparkCriticalCheckDown")
    assert "has not passed for 2 hours." in described("SparkCheckDown")
    assert "[30m]" in rules["SparkMonitorAbsent"].expr
    assert "for 30 minutes:" in described("SparkMonitorAbsent")
    assert "[1h]" in rules["SparkMonitorCycleErrors"].expr
    assert "in the last 1 hour (see its log)." in described("SparkMonitorCycleErrors")
    assert "4 * (" in rules["SparkMonitorStale"].expr and "600" in rules["SparkMonitorStale"].expr
    assert "for 4 intervals (at least 10 minutes)" in described("SparkMonitorStale")


def test_promql_metric_names_ignores_functions_labels_and_keywords():
    """The name extraction used on rules and dashboards sees metrics only."""
    expr = (
        'sum by (result) (increase(spark_monitor_runs_total{instance=~"$i"}[$__rate_interval])) '
        "and on (check) time() - max_over_time(foo:bar:avg5m[1h]) > (14.4 * 0.05)"
    )
    assert promql_metric_names(expr) == {"spark_monitor_runs_total", "foo:bar:avg5m"}


def test_profile_without_slo_targets_omits_those_rules(spark, tmp_path):
    """A profile with no staleness or error-rate target gets no staleness or burn-rate rules, and says so."""
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "bare.toml").write_text(
        '[services.web]\nurl = "http://127.0.0.1:3003"\n', encoding="utf-8"
    )
    result = spark("alerts", "--profile", "bare")
    assert result.exit_code == 0, result.stderr
    assert "no slo.staleness_s: no SparkMarketDataStale rule" in result.stdout
    assert "no slo.error_rate: no error budget, so no burn-rate rules" in result.stdout
    assert 'SparkMarketDataStale"' not in result.stdout
    assert "SparkErrorBudgetBurn" not in result.stdout
    (tmp_path / "bare.yml").write_text(result.stdout, encoding="utf-8")
    checked = run_promtool("check", "rules", "bare.yml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_command_prints_rules_on_stdout(spark):
    """`spark alerts` prints the rule file on stdout and nothing on stderr."""
    result = spark("alerts", "--profile", "production")
    assert result.exit_code == 0
    assert result.stdout == alerts.render_rules(load_profile("production"))
    assert result.stderr == ""


def test_command_writes_out_file_whole(spark, tmp_path):
    """`spark alerts --out FILE` writes the rules there (no temporary left), stdout stays empty."""
    result = spark("alerts", "--out", "rules/spark.yml")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert (tmp_path / "rules" / "spark.yml").read_text(encoding="utf-8") == alerts.render_rules(
        load_profile("dev")
    )
    assert [p.name for p in (tmp_path / "rules").iterdir()] == ["spark.yml"]


def test_unknown_profile_is_exit_2_in_one_line(spark):
    """An unknown profile is a configuration error: exit 2 with one line naming it."""
    assert_config_error(spark("alerts", "--profile", "no-such"), "no-such")


def test_unwritable_out_is_exit_2_in_one_line(spark, tmp_path):
    """An --out inside a plain file cannot be written: exit 2 with one line, nothing printed."""
    (tmp_path / "not-a-folder").write_text("", encoding="utf-8")
    result = spark("alerts", "--out", "not-a-folder/rules.yml")
    assert_config_error(result, "--out not-a-folder/rules.yml", "cannot write")
    assert result.stdout == ""

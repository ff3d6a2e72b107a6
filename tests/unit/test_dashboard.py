"""``spark dashboard``: a provisionable Grafana dashboard over exactly the monitor's metrics, with the
profile's SLO targets drawn; and the example Prometheus scrape config."""

from __future__ import annotations

import json
import re
import shutil
from typing import Any

import pytest
from conftest import ROOT, assert_config_error
from test_alerts import exported_names, promql_metric_names, run_promtool

from spark_ops import metric_names
from spark_ops.alerts import render_rules
from spark_ops.config import load_profile
from spark_ops.dashboard import SCHEMA_VERSION, dashboard, render_dashboard

EXAMPLES = ROOT / "examples"


def panels_by_title(board: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {panel["title"]: panel for panel in board["panels"]}


def red_steps(panel: dict[str, Any]) -> list[float]:
    steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
    return [step["value"] for step in steps if step["color"] == "red" and step["value"] is not None]


def test_dashboard_is_provisionable_grafana_json():
    """The JSON has a stable uid, a current schemaVersion, a Prometheus datasource variable every panel
    and query uses, unique panel ids and positions inside the 24-column grid."""
    board = json.loads(render_dashboard(load_profile("dev")))
    assert board["uid"] == "spark-ops-dev"
    assert board["schemaVersion"] == SCHEMA_VERSION >= 39
    variables = {variable["name"]: variable for variable in board["templating"]["list"]}
    assert (variables["datasource"]["type"], variables["datasource"]["query"]) == ("datasource", "prometheus")
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in board["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert all(target["datasource"] == panel["datasource"] for target in panel["targets"])
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24 and grid["h"] > 0


def test_every_expression_reads_only_metrics_the_monitor_exports():
    """Every panel's and variable's query names only metrics in the monitor's registry."""
    board = dashboard(load_profile("dev"))
    exprs = [target["expr"] for panel in board["panels"] for target in panel["targets"]]
    # label_values(METRIC, LABEL) is Grafana's, not PromQL: its first argument is the metric.
    exprs += [
        re.sub(r"label_values\((.+),\s*\w+\)", r"\1", variable["definition"])
        for variable in board["templating"]["list"]
        if "definition" in variable
    ]
    read = set().union(*(promql_metric_names(expr) for expr in exprs))
    assert read <= exported_names()
    assert read >= {
        metric_names.CHECK_UP,
        metric_names.SLO_LATENCY_P95,
        metric_names.SLO_ERROR_RATE,
        metric_names.SLO_STALENESS,
        metric_names.RISK_LEVEL,
        f"{metric_names.RUNS}_total",
        metric_names.SCRAPE_BYTES,
    }


def test_panels_cover_status_slos_risk_runs_and_scrapes():
    """A status grid of spark_check_up, the three SLOs, risk over time, runs by result and scrape bytes."""
    panels = panels_by_title(dashboard(load_profile("dev")))
    grid = panels["Checks"]
    assert grid["type"] == "stat"
    assert "spark_check_up" in grid["targets"][0]["expr"]
    assert grid["targets"][0]["legendFormat"] == "{{check}}"
    assert panels["Checks over time"]["type"] == "state-timeline"
    assert panels["Risk level over time"]["type"] == "timeseries"
    assert "spark_risk_level" in panels["Risk level over time"]["targets"][0]["expr"]
    assert "by (result)" in panels["Runs by result"]["targets"][0]["expr"]
    assert "spark_metrics_scrape_bytes" in panels["/metrics bytes"]["targets"][0]["expr"]
    assert panels["Error rate"]["fieldConfig"]["defaults"]["unit"] == "percentunit"


STATS = ["Risk level", "Risk score", "Since the last cycle", "Cycle duration", "Checks"]


def test_stat_panels_show_the_value_now_or_a_red_no_data():
    """Every stat panel asks for the value now (an instant query, reduced with "last"), never the last
    non-null value of the range, and shows a red "no data" when there is none."""
    panels = panels_by_title(dashboard(load_profile("dev")))
    assert sorted(STATS) == sorted(title for title, panel in panels.items() if panel["type"] == "stat")
    for title in STATS:
        panel = panels[title]
        assert [(t["instant"], t["range"]) for t in panel["targets"]] == [(True, False)], title
        assert panel["options"]["reduceOptions"]["calcs"] == ["last"], title
        defaults = panel["fieldConfig"]["defaults"]
        assert defaults["noValue"] == "no data", title
        special = [m for m in defaults["mappings"] if m["type"] == "special"]
        assert special == [
            {
                "type": "special",
                "options": {"match": "null+nan", "result": {"text": "no data", "color": "red"}},
            }
        ], title
    for panel in panels.values():
        if panel["type"] != "stat":
            assert all(t["range"] and not t["instant"] for t in panel["targets"]), panel["title"]


def promql_at(expr: str) -> str:
    """A dashboard expression as Prometheus runs it: the whole 6 h range, every instance."""
    return expr.replace("$__range", "6h").replace("$instance", ".*")


def test_a_dead_monitor_shows_a_growing_age_and_no_stale_figures(tmp_path):
    """With a real PromQL engine (promtool): after the monitor dies at 10m, "Since the last cycle" keeps
    growing (10 then 20 minutes), and every other stat returns nothing, so it shows "no data"."""
    panels = panels_by_title(dashboard(load_profile("dev")))
    died = "0x10 stale"
    series = [
        ("spark_monitor_last_run_timestamp_seconds", "0+60x10 stale"),
        ("spark_monitor_cycle_duration_seconds", died),
        ("spark_risk_level", died),
        ("spark_risk_score", "100x10 stale"),
        (
            'spark_check_up{check="ui.up",kind="http",severity="critical",suite="gate",instance="box-7"}',
            "1x10 stale",
        ),
    ]
    age = promql_at(panels["Since the last cycle"]["targets"][0]["expr"])
    cases = [
        {"expr": age, "eval_time": "5m", "exp_samples": [{"labels": "{}", "value": 0}]},
        {"expr": age, "eval_time": "20m", "exp_samples": [{"labels": "{}", "value": 600}]},
        {"expr": age, "eval_time": "30m", "exp_samples": [{"labels": "{}", "value": 1200}]},
    ]
    for title in STATS:
        if title != "Since the last cycle":
            expr = promql_at(panels[title]["targets"][0]["expr"])
            cases.append({"expr": expr, "eval_time": "20m", "exp_samples": []})
    document = {
        "rule_files": [],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {"series": name if "{" in name else f'{name}{{instance="box-7"}}', "values": values}
                    for name, values in series
                ],
                "promql_expr_test": cases,
            }
        ],
    }
    (tmp_path / "stats_test.yml").write_text(json.dumps(document), encoding="utf-8")  # JSON is YAML
    tested = run_promtool("test", "rules", "stats_test.yml", cwd=tmp_path)
    assert tested.returncode == 0, tested.stdout + tested.stderr


@pytest.mark.parametrize("profile", ["dev", "production"])
def test_slo_thresholds_are_the_profiles(profile):
    """The p95, error-rate and staleness panels draw exactly the profile's targets as threshold lines."""
    slo = load_profile(profile).config.slo
    panels = panels_by_title(dashboard(load_profile(profile)))
    expected = {
        "p95 latency": slo.latency_p95_ms,
        "Error rate": slo.error_rate,
        "Market-data staleness": slo.staleness_s,
    }
    for title, target in expected.items():
        assert red_steps(panels[title]) == [target], title
        assert panels[title]["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"] != "off"


def test_profile_without_targets_draws_no_lines(spark, tmp_path):
    """A profile with no SLO targets gets the SLO panels without threshold lines, not made-up ones."""
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "bare.toml").write_text('[services.web]\nurl = "http://127.0.0.1:3003"\n')
    result = spark("dashboard", "--profile", "bare")
    assert result.exit_code == 0, result.stderr
    panels = panels_by_title(json.loads(result.stdout))
    for title in ("p95 latency", "Error rate", "Market-data staleness"):
        assert red_steps(panels[title]) == []
        assert panels[title]["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"] == "off"


def test_command_prints_json_or_writes_out(spark, tmp_path):
    """`spark dashboard` prints the JSON on stdout; with --out it writes the same JSON there."""
    printed = spark("dashboard", "--profile", "production")
    assert printed.exit_code == 0
    assert json.loads(printed.stdout) == dashboard(load_profile("production"))
    written = spark("dashboard", "--profile", "production", "--out", "grafana/spark.json")
    assert written.exit_code == 0, written.stderr
    assert written.stdout == ""
    assert (tmp_path / "grafana" / "spark.json").read_text(encoding="utf-8") == printed.stdout


def test_unknown_profile_is_exit_2_in_one_line(spark):
    """An unknown profile is a configuration error: exit 2, one line naming it."""
    assert_config_error(spark("dashboard", "--profile", "no-such"), "no-such")


def test_example_prometheus_config_passes_promtool(tmp_path):
    """examples/prometheus.yml, beside the rules `spark alerts` renders, passes `promtool check config`."""
    shutil.copy(EXAMPLES / "prometheus.yml", tmp_path / "prometheus.yml")
    (tmp_path / "spark-alerts.yml").write_text(render_rules(load_profile("dev")), encoding="utf-8")
    checked = run_promtool("check", "config", "prometheus.yml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout
    text = (EXAMPLES / "prometheus.yml").read_text(encoding="utf-8")
    assert '"127.0.0.1:9108"' in text  # spark monitor's default --listen
    assert "honor_labels: true" in text  # the pushed job and instance labels are kept

"""Overrides (spark_ops/config/overrides.py): ${ENV} interpolation and --set KEY=VALUE."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import assert_config_error, show_profile

from spark_ops.config.overrides import parse_set
from spark_ops.errors import ConfigError

# --- ${ENV} interpolation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "env", "expected"),
    [
        pytest.param(
            "http://127.0.0.1:${SPARK_TEST_PORT}",
            {"SPARK_TEST_PORT": "4321"},
            "http://127.0.0.1:4321",
            id="set",
        ),
        pytest.param(
            "${SPARK_TEST_URL:-http://127.0.0.1:7777}", {}, "http://127.0.0.1:7777", id="default-used"
        ),
        pytest.param(
            "${SPARK_TEST_URL:-http://127.0.0.1:7777}",
            {"SPARK_TEST_URL": "http://10.0.0.1:1"},
            "http://10.0.0.1:1",
            id="env-beats-default",
        ),
        pytest.param(
            "http://${SPARK_TEST_HOST:-127.0.0.1}:${SPARK_TEST_PORT:-80}/x",
            {"SPARK_TEST_PORT": "81"},
            "http://127.0.0.1:81/x",
            id="two-references",
        ),
        pytest.param("http://127.0.0.1:1/$HOME", {}, "http://127.0.0.1:1/$HOME", id="bare-dollar-kept"),
    ],
)
def test_env_interpolation(
    spark: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    written: str,
    env: dict[str, str],
    expected: str,
) -> None:
    """${NAME} and ${NAME:-default} in a profile string take the environment's value or the default."""
    for name in ("SPARK_TEST_PORT", "SPARK_TEST_URL", "SPARK_TEST_HOST"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    (tmp_path / "p.toml").write_text(f'extends = "base"\n[services.web]\nurl = "{written}"\n')
    assert show_profile(spark, "p.toml")["services"]["web"]["url"] == expected


# --- --set ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("assignment", "key", "value"),
    [
        pytest.param("defaults.retries=3", "defaults.retries", 3, id="integer"),
        pytest.param("slo.error_rate=0.5", "slo.error_rate", 0.5, id="float"),
        pytest.param("risk.enabled=true", "risk.enabled", True, id="boolean"),
        pytest.param("a.list=[1, 2, 3]", "a.list", [1, 2, 3], id="toml-array"),
        pytest.param('a.list=["x", "y"]', "a.list", ["x", "y"], id="toml-array-of-strings"),
        pytest.param("a.table={ x = 1 }", "a.table", {"x": 1}, id="toml-inline-table"),
        pytest.param('description="quoted text"', "description", "quoted text", id="toml-string"),
        pytest.param("risk.fail_on=critical", "risk.fail_on", "critical", id="bare-word-as-string"),
        pytest.param("description=two words", "description", "two words", id="not-toml-as-string"),
        pytest.param(
            "services.web.url=http://127.0.0.1:5555",
            "services.web.url",
            "http://127.0.0.1:5555",
            id="url-as-string",
        ),
        pytest.param("description=a=b", "description", "a=b", id="value-with-equals"),
        pytest.param("description=", "description", "", id="empty-value"),
        pytest.param(" slo.staleness_s =7", "slo.staleness_s", 7, id="key-whitespace-trimmed"),
    ],
)
def test_parse_set_reads_toml_or_falls_back_to_string(assignment: str, key: str, value: Any) -> None:
    """--set values are TOML when they parse as TOML, else taken verbatim as a string."""
    assert parse_set(assignment) == (key, value)


@pytest.mark.parametrize("assignment", ["no-equals", "=3", "a..b=1", ".a=1", "a.=1"], ids=str)
def test_parse_set_rejects_malformed_keys(assignment: str) -> None:
    """--set without KEY= or with an empty key part is a configuration error."""
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_set(assignment)


@pytest.mark.parametrize(
    ("sets", "path", "expected"),
    [
        pytest.param(["defaults.retries=4"], ("defaults", "retries"), 4, id="number"),
        pytest.param(["defaults.timeout_s=0.25"], ("defaults", "timeout_s"), 0.25, id="float"),
        pytest.param(["description=my laptop stack"], ("description",), "my laptop stack", id="string"),
        pytest.param(["risk.fail_on=critical"], ("risk", "fail_on"), "critical", id="not-toml-string"),
        pytest.param(
            ["slo.latency_p95_ms=120", "slo.latency_p95_ms=90"], ("slo", "latency_p95_ms"), 90, id="last-wins"
        ),
        pytest.param(
            ["services.extra.url=http://127.0.0.1:6000"],
            ("services", "extra", "url"),
            "http://127.0.0.1:6000",
            id="creates-nested-service",
        ),
        pytest.param(
            ["services.web.headers.X-Api-Key=abc123xyz"],
            ("services", "web", "headers", "X-Api-Key"),
            "***",
            id="creates-header-masked",
        ),
    ],
)
def test_set_overrides_the_resolved_profile(
    spark: Any, sets: list[str], path: tuple[str, ...], expected: Any
) -> None:
    """--set changes the profile `profiles show` resolves, creating nested keys as needed."""
    args = [arg for assignment in sets for arg in ("--set", assignment)]
    found: Any = show_profile(spark, "dev", *args)
    for part in path:
        found = found[part]
    assert found == expected
    assert "abc123xyz" not in json.dumps(show_profile(spark, "dev", *args))


@pytest.mark.parametrize(
    ("assignment", "fragments"),
    [
        pytest.param("slo.latency_p95_ms", ["KEY=VALUE", "slo.latency_p95_ms"], id="no-equals"),
        pytest.param("=120", ["KEY=VALUE"], id="empty-key"),
        pytest.param("description.text=x", ["--set", "description.text", "not a table"], id="under-a-string"),
        pytest.param(
            "slo.latency_p95_ms.max=1", ["--set", "slo.latency_p95_ms", "not a table"], id="under-a-number"
        ),
        pytest.param("slo.latency_p95=120", ["--set", "slo.latency_p95", "unknown key"], id="unknown-key"),
        pytest.param("defaults.retries=true", ["--set", "defaults.retries", "bool"], id="boolean-for-int"),
        pytest.param("defaults.retries=[1, 2]", ["--set", "defaults.retries"], id="array-for-int"),
        pytest.param(
            "slo.latency_p95_ms=fast", ["--set", "slo.latency_p95_ms", "str"], id="string-for-number"
        ),
        pytest.param(
            "services.web.flag=true", ["--set", "services.web.flag", "unknown key"], id="unknown-service-key"
        ),
        pytest.param("services.web.url=ftp://x", ["--set", "services.web.url"], id="bad-url"),
        pytest.param("nope.deeper.still=1", ["--set", "nope", "unknown key"], id="unknown-table-it-creates"),
        pytest.param(
            "services.new.headers.X-Team=ops",
            ["--set", "services.new.url", "required key is missing"],
            id="service-it-creates-without-url",
        ),
    ],
)
def test_bad_set_exits_2(spark: Any, assignment: str, fragments: list[str]) -> None:
    """A malformed or invalid --set stops the gate with exit 2 and one line naming --set and the key."""
    line = assert_config_error(spark("gate", "--no-evidence", "--set", assignment), *fragments)
    assert "base.toml" not in line and "dev.toml" not in line


@pytest.mark.parametrize(
    ("sets", "expected_status", "expected_exit"),
    [
        pytest.param([], "PASS", 0, id="dev-default-150"),
        pytest.param(["--set", "slo.latency_p95_ms=120"], "FAIL", 1, id="set-to-120"),
        pytest.param(["--set", "slo.latency_p95_ms=130"], "PASS", 0, id="set-to-130-inclusive"),
    ],
)
def test_set_changes_a_threshold_the_gate_judges_against(
    spark: Any, platform: Any, sets: list[str], expected_status: str, expected_exit: int
) -> None:
    """`--set slo.latency_p95_ms=120` makes a p95 of 130 ms fail a gate that passes on dev's 150 ms."""
    platform.health["slo"]["latencyP95"] = 130
    result = spark("gate", "--no-evidence", "--exit-on-fail", "-f", "json", *platform.sets(), *sets)
    assert result.exit_code == expected_exit, result.stdout + result.stderr
    checks = {check["name"]: check for check in json.loads(result.stdout)["checks"]}
    assert checks["healthz.slo.latencyP95"]["status"] == expected_status
    assert checks["healthz.slo.latencyP95"]["observed"] == 130

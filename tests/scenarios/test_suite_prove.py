"""`spark suite prove` end to end: the shipped suites prove clean against the simulator, planted vacuous
checks are reported with the breakage that passed them, --from-live records a real server, exit codes."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import FakePlatform, assert_config_error, free_port, write_suite

HEALTHZ = {"service": "web", "path": "/api/healthz"}


@pytest.mark.parametrize("suite", ["gate", "smoke", "canary"])
def test_shipped_suites_are_proven(spark: Any, suite: str) -> None:
    """Every check of every shipped suite fails under every breakage it declares: exit 0."""
    result = spark("suite", "prove", "--suite", suite, "--format", "json")
    report = json.loads(result.stdout)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert report["schema"] == "spark-ops/proof/v1" and report["recorded_from"] == "simulator"
    assert {c["verdict"] for c in report["checks"]} == {"proven"}
    for check in report["checks"]:
        assert check["baseline"]["status"] == "PASS", check
        assert check["breakages"], check["name"]
        assert all(b["status"] in ("FAIL", "ERROR", "INCONCLUSIVE") for b in check["breakages"])
    assert report["lint"] == []


PLANTED = [
    pytest.param(
        {"kind": "slo", **HEALTHZ, "field": "slo.latencyP95", "max": 1e9},
        "slo.latencyP95 = 1500 ms (10x the profile's 150 ms target)",
        "slo.latencyP95 = 1500 (max 1e+09)",
        id="max-1e9-on-latencyP95",
    ),
    pytest.param(  # a field the platform does not document: its declared unit names the quantity
        {
            "kind": "slo",
            "service": "web",
            "path": "/api/tools/canary",
            "field": "latencyP95",
            "unit": "ms",
            "timestamp_field": "",
            "max": 1e9,
        },
        "latencyP95 = 1500 ms (10x the profile's 150 ms target)",
        "latencyP95 = 1500 (max 1e+09)",
        id="max-1e9-on-a-field-declared-in-ms",
    ),
    pytest.param(
        {"kind": "http", "service": "web", "path": "/", "expect_status": ["2xx", "5xx"]},
        "answers 500",
        "-> 500",
        id="expect-status-2xx-5xx",
    ),
    pytest.param(
        {"kind": "http", **HEALTHZ, "expect_json": [{"field": "status", "op": "!=", "value": "MAINTENANCE"}]},
        "status = 'DOWN' (another value of the same type)",
        "status != 'MAINTENANCE'",
        id="status-not-maintenance",
    ),
]


@pytest.mark.parametrize(("check", "breakage", "read"), PLANTED)
def test_planted_vacuous_check_is_reported(
    spark: Any, tmp_path: Path, check: dict[str, Any], breakage: str, read: str
) -> None:
    """A check a broken platform passes is vacuous, reported with the breakage it let through and its read."""
    write_suite(tmp_path, {"name": "planted", **check}, {"name": "ui.up", "kind": "http", "service": "web"})
    result = spark("suite", "prove", "--suite", "suite.toml", "--format", "json")
    assert result.exit_code == 1, result.stdout + result.stderr
    planted, honest = json.loads(result.stdout)["checks"]
    assert planted["verdict"] == "vacuous" and honest["verdict"] == "proven"
    let_through = [b for b in planted["breakages"] if b["let_through"]]
    assert breakage in [b["breakage"] for b in let_through], let_through
    assert any(read in b["message"] for b in let_through), let_through
    text = spark("suite", "prove", "--suite", "suite.toml")
    assert text.exit_code == 1
    assert "VACUOUS      planted" in text.stdout and f"let through: {breakage}" in text.stdout


def test_verbose_lists_every_breakage(spark: Any) -> None:
    """-v shows each breakage of a proven check with what the check said under it."""
    result = spark("suite", "prove", "-v")
    assert result.exit_code == 0
    assert "    FAIL         answers 500: GET http" in result.stdout
    assert (
        "slo.latencyP95 = 1500 ms (10x the profile's 150 ms target): slo.latencyP95 = 1500, above max 150"
        in (result.stdout)
    )


def test_lint_is_reported_beside_the_proof(spark: Any, tmp_path: Path) -> None:
    """max = 1e9 on latency is both vacuous and a threshold contradicting the profile."""
    write_suite(tmp_path, {"name": "lax", "kind": "slo", **HEALTHZ, "field": "slo.latencyP95", "max": 1e9})
    result = spark("suite", "prove", "--suite", "suite.toml")
    assert result.exit_code == 1
    assert "defect  lax: max = 1e+09 is above the latency target of profile 'dev'" in result.stdout


def test_not_provable_exits_3(spark: Any, tmp_path: Path) -> None:
    """A check failing on the healthy platform proves nothing by failing on a broken one: exit 3."""
    write_suite(
        tmp_path,
        {"name": "wrong", "kind": "http", "service": "web", "path": "/", "expect_status": [404]},
        {"name": "ui.up", "kind": "http", "service": "web"},
    )
    result = spark("suite", "prove", "--suite", "suite.toml")
    assert result.exit_code == 3, result.stdout + result.stderr
    assert (
        "NOT PROVABLE wrong" in result.stdout and "does not pass on the platform as recorded" in result.stdout
    )


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--suite", "nope"], ["unknown suite 'nope'"]),
        (["--profile", "nope"], ["nope"]),
        (["--set", "slo.latency_p95_ms=fast"], ["slo.latency_p95_ms"]),
    ],
    ids=["unknown-suite", "unknown-profile", "bad-set"],
)
def test_configuration_errors_exit_2(spark: Any, args: list[str], fragments: list[str]) -> None:
    """Bad input is one line and exit 2, never a traceback."""
    assert_config_error(spark("suite", "prove", *args), *fragments)


def test_duplicate_names_exit_2_naming_each(spark: Any, tmp_path: Path) -> None:
    """Two checks sharing a name: a configuration error naming every shared name."""
    up = {"kind": "http", "service": "web"}
    write_suite(tmp_path, {"name": "a", **up}, {"name": "a", **up}, {"name": "b", **up}, {"name": "b", **up})
    assert_config_error(
        spark("suite", "prove", "--suite", "suite.toml"), "suite.toml: checks:", "'a'", "'b'", "duplicate"
    )


def test_from_live_records_the_real_platform(spark: Any, platform: FakePlatform) -> None:
    """--from-live records the profile's services (a loopback server) once and proves the gate on them."""
    platform.server.clear_log()
    result = spark("suite", "prove", "--from-live", "--format", "json", *platform.sets())
    assert result.exit_code == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["recorded_from"] == "live"
    assert {c["verdict"] for c in report["checks"]} == {"proven"}
    latency = next(c for c in report["checks"] if c["name"] == "healthz.slo.latencyP95")
    assert latency["baseline"]["observed"] == 14  # the live platform's own reading
    # Recorded once (one request per URL), then every breakage replayed in-process: nothing more sent.
    assert sorted(request.path for request, _ in platform.server.log) == ["/", "/api/healthz", "/healthz"]


def test_from_live_on_a_sick_platform_is_not_provable(spark: Any, platform: FakePlatform) -> None:
    """A live platform already DOWN: the status check cannot be proven on it (exit 3), nothing is vacuous."""
    platform.health["status"] = "DOWN"
    result = spark("suite", "prove", "--from-live", "--format", "json", *platform.sets())
    assert result.exit_code == 3, result.stdout
    verdicts = {c["name"]: c["verdict"] for c in json.loads(result.stdout)["checks"]}
    assert verdicts["healthz.status"] == "not_provable"
    assert verdicts["healthz.slo.latencyP95"] == "proven"


def test_no_secret_in_the_report(spark: Any, platform: FakePlatform) -> None:
    """A password in a service URL never reaches the report, text or JSON."""
    secret = "s3cr3t-pr0ve"
    url = platform.url.replace("http://", f"http://ops:{secret}@")
    sets = [*platform.sets(), "--set", f"services.web.url={url}"]
    for output in ("table", "json"):
        result = spark("suite", "prove", "--from-live", "--format", output, *sets)
        assert result.exit_code == 0, result.stdout + result.stderr
        assert secret not in result.stdout + result.stderr
        if output == "table":
            assert "answers recorded from the live platform" in result.stdout


def test_every_builtin_kind_declares_breakages_that_fail_it(spark: Any, tmp_path: Path) -> None:
    """pm2 (over HTTP and from a file), promql, compare and metrics value bounds: each proven, and each
    broken in its own terms (a crash-looping process, an empty or NaN Prometheus answer, a NaN sample)."""
    prometheus = f"http://127.0.0.1:{free_port()}"  # nothing answers: the stand-in answers for it
    processes = [
        {
            "name": "spark-web-next",
            "pm_id": 0,
            "monit": {"memory": 1, "cpu": 0},
            "pm2_env": {"status": "online", "restart_time": 0, "pm_uptime": 1},
        }
    ]
    (tmp_path / "jlist.json").write_text(json.dumps(processes), encoding="utf-8")
    write_suite(
        tmp_path,
        {"name": "pm2.url", "kind": "pm2", "service": "web", "processes": ["spark-web-next"]},
        {"name": "pm2.file", "kind": "pm2", "file": "jlist.json"},
        {
            "name": "errors",
            "kind": "promql",
            "query": "x",
            "max": "slo.error_rate",
            "prometheus_url": prometheus,
        },
        {
            "name": "canary.vs.baseline",
            "kind": "compare",
            "query": 'latency{role="{role}"}',
            "canary": "canary",
            "baseline": "baseline",
            "prometheus_url": prometheus,
        },
        {
            "name": "memory",
            "kind": "metrics",
            "service": "executor-1",
            "values": [{"metric": "process_resident_memory_bytes", "max": 1e12}],
        },
    )
    result = spark("suite", "prove", "--suite", "suite.toml", "--format", "json")
    assert result.exit_code == 0, result.stdout + result.stderr
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert {name: c["verdict"] for name, c in checks.items()} == dict.fromkeys(checks, "proven")

    def caught(name: str, breakage: str) -> str:
        [trial] = [b for b in checks[name]["breakages"] if b["breakage"] == breakage]
        assert not trial["let_through"], trial
        return str(trial["message"])

    assert "errored, 49 restarts" in caught(
        "pm2.url", "spark-web-next errored and crash-looping (49 restarts)"
    )
    assert "errored, 49 restarts" in caught("pm2.file", "spark-web errored and crash-looping (49 restarts)")
    assert "no series" in caught("errors", "Prometheus answers an empty result")
    assert "above max 0.05" in caught(
        "errors", "Prometheus answers a value of 0.5 (half of all requests failing: far past the target)"
    )
    assert "not a finite number" in caught("canary.vs.baseline", "Prometheus answers NaN samples")
    assert "nan" in caught("memory", "process_resident_memory_bytes = NaN")
    # Prometheus never answered while recording: proven by its breakages, and the report says so.
    assert "never seen passing" in checks["errors"]["reason"]


HALF_FAILING = "Prometheus answers a value of 0.5 (half of all requests failing: far past the target)"


@pytest.mark.parametrize(
    ("unit", "bound", "verdict", "let_through", "caught"),
    [
        pytest.param(
            "ratio",
            1e9,
            "vacuous",
            [HALF_FAILING],
            ["Prometheus answers a value of -1 (outside its domain [0, 1] (ratio))"],
            id="ratio-max-1e9-vacuous",
        ),
        pytest.param(
            "ratio",
            0.05,
            "proven",
            [],
            [
                HALF_FAILING,
                "Prometheus answers a value of -1 (outside its domain [0, 1] (ratio))",
                "Prometheus answers a value of 2 (outside its domain [0, 1] (ratio))",
            ],
            id="ratio-max-0.05-proven",
        ),
        pytest.param(  # "number", the default, names no quantity: no value is planted, as before
            "number", 1e9, "proven", [], ["Prometheus answers a NaN value"], id="number-names-no-quantity"
        ),
    ],
)
def test_a_promql_checks_unit_names_what_is_far_past_its_target(
    spark: Any,
    tmp_path: Path,
    httpserver: Any,
    unit: str,
    bound: float,
    verdict: str,
    let_through: list[str],
    caught: list[str],
) -> None:
    """A promql check with a numeric bound is broken by a value far past the target of the quantity its
    ``unit`` names (a ratio: an error rate of 0.5) and by values outside the unit's domain: ``max = 1e9``
    lets the 0.5 through and is vacuous. Prometheus is a real server answering a healthy 1 % error rate."""
    healthy = [{"metric": {"job": "web"}, "value": [time.time(), "0.01"]}]
    httpserver.expect_request("/api/v1/query").respond_with_json(
        {"status": "success", "data": {"resultType": "vector", "result": healthy}}
    )
    check = {
        "kind": "promql",
        "query": "job:errors:ratio",
        "max": bound,
        "prometheus_url": httpserver.url_for("/"),
    }
    write_suite(tmp_path, {"name": "errors", "unit": unit, **check})
    result = spark("suite", "prove", "--suite", "suite.toml", "--format", "json")
    [proof] = json.loads(result.stdout)["checks"]
    assert proof["baseline"]["status"] == "PASS", proof["baseline"]
    assert proof["verdict"] == verdict, proof
    assert result.exit_code == (1 if verdict == "vacuous" else 0), result.stdout
    trials = {trial["breakage"]: trial for trial in proof["breakages"]}
    assert [name for name, trial in trials.items() if trial["let_through"]] == let_through, trials
    for name in let_through:
        assert "= 0.5 (max 1e+09)" in trials[name]["message"], trials[name]
    for name in caught:
        assert trials[name]["status"] == "FAIL", trials[name]
        if "outside its domain" in name:  # judged as impossible, before the bound
            assert "outside its domain [0, 1] (ratio)" in trials[name]["message"], trials[name]
    if unit == "number":
        assert not any("far past" in name or "outside its domain" in name for name in trials), trials


def test_from_live_records_within_the_body_limit(spark: Any, platform: FakePlatform) -> None:
    """An answer over defaults.max_body_bytes is recorded only up to the limit, and the replayed check
    still sees it as too large: the proof judges what a real run would."""
    result = spark(
        "suite", "prove", "--from-live", "--format", "json", "--suite", "canary",
        *platform.sets(), "--set", "defaults.max_body_bytes=64",
    )  # fmt: skip
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    metrics = checks["metrics.executor-1"]
    assert metrics["verdict"] == "not_provable"
    assert "body larger than the 64-byte limit" in metrics["baseline"]["message"]
    assert result.exit_code == 3

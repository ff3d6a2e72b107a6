"""Faults the simulator rehearses: parsing, what each does to the platform, the admin endpoint, and the
verdict each one drives the gate and the canary to (the point of the simulator)."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from conftest import GATE_CHECKS, PAGES

from spark_ops.errors import ConfigError, ExitCode
from spark_ops.sim import SERVICES, Fault, Simulator, parse_fault

ADMIN = "/__sim/faults"
WEB_PATHS = (
    *PAGES,
    "/api/healthz",
    "/api/tools/metrics",
    "/api/tools/status",
    "/api/tools/canary",
    "/api/tools/risk-report",
    "/api/tools/pm2",
)
BACKEND_PATHS = ("/healthz", "/metrics")
PROBE_PATH = {"web": "/", "executor-1": "/healthz", "executor-2": "/healthz", "marketdata": "/healthz"}
NO_FAULTS = {name: [] for name in SERVICES}


def get(sim: Simulator, service: str, path: str) -> httpx.Response:
    """One GET on a fresh connection (no keep-alive carried between calls)."""
    return httpx.get(sim.urls[service] + path, timeout=5.0)


def refuses(sim: Simulator, service: str) -> bool:
    """True when the service's port refuses connections, as a dead process's would."""
    try:
        get(sim, service, PROBE_PATH[service])
    except httpx.ConnectError:
        return True
    return False


def pm2_process(sim: Simulator, name: str) -> dict[str, Any]:
    processes = get(sim, "web", "/api/tools/pm2").json()
    return next(process for process in processes if process["name"] == name)


# --- parse_fault -----------------------------------------------------------------------------------


VALID = [
    pytest.param("web=down", Fault("web", "down"), id="down"),
    pytest.param("executor-1=slow:200", Fault("executor-1", "slow", 200.0), id="slow"),
    pytest.param("executor-2=errors:0.5", Fault("executor-2", "errors", 0.5), id="errors-fraction"),
    pytest.param("executor-2=errors:1", Fault("executor-2", "errors", 1.0), id="errors-all"),
    pytest.param("marketdata=stale:60", Fault("marketdata", "stale", 60.0), id="stale"),
    pytest.param("web=status:503", Fault("web", "status", 503.0), id="status"),
    pytest.param("executor-1=crashloop", Fault("executor-1", "crashloop"), id="crashloop"),
    pytest.param(" executor-1 = slow:0 ", Fault("executor-1", "slow", 0.0), id="spaces-and-zero"),
]


@pytest.mark.parametrize(("text", "fault"), VALID)
def test_parse_fault_reads_valid_faults(text, fault):
    """``SERVICE=KIND[:ARG]`` as documented becomes the fault it names."""
    assert parse_fault(text) == fault


@pytest.mark.parametrize(
    "text",
    [
        *(param.values[0] for param in VALID),
        pytest.param(
            "marketdata=stale:1234567",
            id="seven-digits",
        ),
    ],
)
def test_fault_listing_round_trips(text):
    """A fault as listed by the admin endpoint and /api/tools/status reads back as the same fault."""
    fault = parse_fault(text)
    assert parse_fault(str(fault)) == fault


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("db=down", "SERVICE one of", id="unknown-service"),
        pytest.param("WEB=down", "SERVICE one of", id="service-is-case-sensitive"),
        pytest.param("executor-1", "SERVICE=KIND", id="no-equals"),
        pytest.param("=down", "SERVICE one of", id="no-service"),
        pytest.param("web=explode", "unknown fault kind", id="unknown-kind"),
        pytest.param("web=", "unknown fault kind", id="no-kind"),
        pytest.param("web=slow", "needs a number", id="slow-without-ms"),
        pytest.param("web=slow:fast", "needs a number", id="slow-not-a-number"),
        pytest.param("web=slow:-5", "out of range", id="slow-negative"),
        pytest.param("web=errors:1.5", "out of range", id="errors-above-1"),
        pytest.param("web=errors:nan", "out of range", id="errors-nan"),
        pytest.param("web=status:99", "out of range", id="status-below-100"),
        pytest.param("web=status:600", "out of range", id="status-above-599"),
        pytest.param("web=status:503.5", "out of range", id="status-not-integer"),
        pytest.param("executor-1=stale:60", "marketdata only", id="stale-on-executor"),
        pytest.param("web=down:5", "takes no argument", id="down-with-argument"),
        pytest.param("executor-1=crashloop:3", "takes no argument", id="crashloop-with-argument"),
    ],
)
def test_parse_fault_rejects_malformed_faults(text, message):
    """A malformed fault is a configuration error (exit 2) whose message says what is wrong."""
    with pytest.raises(ConfigError, match=message) as caught:
        parse_fault(text)
    assert caught.value.exit_code == ExitCode.USAGE_ERROR


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(["sim", "--ports", "auto"], id="sim"),
        pytest.param(["canary", "--mode", "mock", "--auto-ok", "--no-evidence"], id="canary"),
    ],
)
def test_cli_rejects_a_malformed_fault_with_exit_2(spark, command):
    """``--fault`` with a typo stops the command at once: exit 2, one line, no traceback, nothing started."""
    result = spark(*command, "--fault", "executor-1=explode")
    assert result.exit_code == ExitCode.USAGE_ERROR
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "unknown fault kind 'explode'" in lines[0]


# --- what each fault does ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "kind"),
    [
        pytest.param("web", "down", id="web-down"),
        pytest.param("executor-1", "down", id="executor-1-down"),
        pytest.param("executor-2", "down", id="executor-2-down"),
        pytest.param("marketdata", "down", id="marketdata-down"),
        pytest.param("executor-1", "crashloop", id="executor-1-crashloop"),
        pytest.param("marketdata", "crashloop", id="marketdata-crashloop"),
    ],
)
def test_down_refuses_connections_and_clear_restores_the_same_port(sim, service, kind):
    """A down or crash-looping service refuses connections; ``clear()`` brings it back on the same URL."""
    url = sim.urls[service]
    assert get(sim, service, PROBE_PATH[service]).status_code == 200
    sim.apply(parse_fault(f"{service}={kind}"))
    assert refuses(sim, service)
    sim.clear()
    assert sim.urls[service] == url
    assert get(sim, service, PROBE_PATH[service]).status_code == 200


def test_clear_one_service_leaves_the_others_faulted(sim):
    """``clear("executor-1")`` heals that service only; a fault elsewhere stays until cleared."""
    sim.apply(parse_fault("executor-1=down"))
    sim.apply(parse_fault("executor-2=down"))
    sim.clear("executor-1")
    assert not refuses(sim, "executor-1")
    assert refuses(sim, "executor-2")


def test_down_drops_kept_alive_connections(sim):
    """A client holding a keep-alive connection sees the service die too, as with a killed process."""
    with httpx.Client(timeout=5.0) as client:
        assert client.get(sim.urls["executor-1"] + "/healthz").status_code == 200
        sim.apply(parse_fault("executor-1=down"))
        with pytest.raises(httpx.TransportError):
            client.get(sim.urls["executor-1"] + "/healthz")


@pytest.mark.parametrize(
    ("service", "code", "paths"),
    [
        pytest.param("web", 503, WEB_PATHS, id="web-503"),
        pytest.param("executor-1", 503, BACKEND_PATHS, id="executor-1-503"),
        pytest.param("marketdata", 429, BACKEND_PATHS, id="marketdata-429"),
    ],
)
def test_status_fault_makes_every_answer_that_status(sim, service, code, paths):
    """``status:CODE`` makes every endpoint of the service answer CODE, pages, APIs and /metrics alike."""
    sim.apply(parse_fault(f"{service}=status:{code}"))
    assert {path: get(sim, service, path).status_code for path in paths} == dict.fromkeys(paths, code)


@pytest.mark.parametrize(
    ("fraction", "expected_errors"),
    [
        pytest.param(0.0, 0, id="none"),
        pytest.param(0.25, 5, id="quarter"),
        pytest.param(0.5, 10, id="half"),
        pytest.param(1.0, 20, id="all"),
    ],
)
def test_errors_fault_serves_that_fraction_of_500s_deterministically(sim, fraction, expected_errors):
    """``errors:F`` answers exactly F of the requests with 500 (no randomness: a rehearsal repeats)."""
    sim.apply(parse_fault(f"executor-2=errors:{fraction}"))
    codes = [get(sim, "executor-2", "/healthz").status_code for _ in range(20)]
    assert codes.count(500) == expected_errors
    assert codes.count(200) == 20 - expected_errors


@pytest.mark.parametrize("service", ["web", "marketdata"])
def test_slow_fault_delays_every_answer(sim, service):
    """``slow:MS`` delays each answer by at least MS milliseconds, and it still succeeds."""
    sim.apply(parse_fault(f"{service}=slow:300"))
    started = time.perf_counter()
    response = get(sim, service, PROBE_PATH[service])
    assert time.perf_counter() - started >= 0.3
    assert response.status_code == 200


def test_crashloop_shows_errored_and_climbing_restarts_in_pm2(sim):
    """``crashloop``: PM2 shows the process errored with climbing restarts, its port refuses; clear heals."""
    sim.apply(parse_fault("executor-1=crashloop"))
    first = pm2_process(sim, "spark-executor-1")
    assert first["pm2_env"]["status"] == "errored"
    assert first["monit"]["memory"] == 0
    assert refuses(sim, "executor-1")
    time.sleep(1.1)
    later = pm2_process(sim, "spark-executor-1")
    assert later["pm2_env"]["restart_time"] >= first["pm2_env"]["restart_time"] + 2
    others = [p for p in get(sim, "web", "/api/tools/pm2").json() if p["name"] != "spark-executor-1"]
    assert all(p["pm2_env"]["status"] == "online" for p in others)
    sim.clear()
    healed = pm2_process(sim, "spark-executor-1")
    assert healed["pm2_env"]["status"] == "online"
    assert healed["pm2_env"]["restart_time"] >= later["pm2_env"]["restart_time"]  # PM2 keeps the count


def test_stale_fault_shows_in_the_last_tick_timestamp(sim):
    """Under ``stale:60`` the exposition's last-tick timestamp is 60 s old, like its staleness gauge."""
    sim.apply(parse_fault("marketdata=stale:60"))
    body = get(sim, "marketdata", "/metrics").text
    line = next(x for x in body.splitlines() if x.startswith("spark_marketdata_last_tick_timestamp_seconds "))
    assert time.time() - float(line.split()[1]) >= 60


def test_several_faults_at_start_are_all_applied():
    """``Simulator(faults=[...])`` (``spark sim --fault A --fault B``) applies every fault, and lists them."""
    texts = ("executor-1=down", "executor-2=slow:50", "executor-2=errors:0.5")
    with Simulator(ports="auto", faults=[parse_fault(text) for text in texts]) as sim:
        status = get(sim, "web", "/api/tools/status").json()
        assert (status["executor-1"]["listening"], status["executor-1"]["faults"]) == (False, [texts[0]])
        assert sorted(status["executor-2"]["faults"]) == ["executor-2=errors:0.5", "executor-2=slow:50"]
        assert get(sim, "web", "/api/tools/risk-report").json()["status"] == "DEGRADED"
        assert refuses(sim, "executor-1")


# --- the admin endpoint ---------------------------------------------------------------------------


def test_admin_endpoint_applies_lists_and_clears_faults_at_run_time(sim):
    """POST a fault, GET the listing, DELETE ?service= to heal: rehearsals change while the platform runs."""
    admin = sim.urls["web"] + ADMIN
    assert httpx.get(admin).json() == NO_FAULTS
    posted = httpx.post(admin, content="executor-1=down")
    assert posted.status_code == 200
    assert posted.json() == {**NO_FAULTS, "executor-1": ["executor-1=down"]}
    assert refuses(sim, "executor-1")
    httpx.post(admin, content="marketdata=stale:60")
    assert httpx.get(admin).json() == {
        **NO_FAULTS,
        "executor-1": ["executor-1=down"],
        "marketdata": ["marketdata=stale:60"],
    }
    cleared = httpx.delete(admin, params={"service": "executor-1"})
    assert cleared.json() == {**NO_FAULTS, "marketdata": ["marketdata=stale:60"]}
    assert not refuses(sim, "executor-1")
    assert httpx.delete(admin).json() == NO_FAULTS
    assert get(sim, "web", "/api/healthz").json()["slo"]["staleness"] < 5


@pytest.mark.parametrize(
    ("method", "params", "body", "code"),
    [
        pytest.param("POST", {}, "executor-1=explode", 400, id="post-unknown-kind"),
        pytest.param("POST", {}, "db=down", 400, id="post-unknown-service"),
        pytest.param("POST", {}, "", 400, id="post-empty"),
        pytest.param("POST", {}, "web=status:700", 400, id="post-out-of-range"),
        pytest.param("DELETE", {"service": "db"}, "", 400, id="delete-unknown-service"),
        pytest.param("PUT", {}, "web=down", 405, id="put"),
    ],
)
def test_admin_endpoint_rejects_malformed_requests_and_changes_nothing(sim, method, params, body, code):
    """A malformed fault is answered 400 (a wrong method 405) with a JSON error, and nothing changes."""
    response = httpx.request(method, sim.urls["web"] + ADMIN, params=params, content=body)
    assert response.status_code == code
    assert response.json()["error"]
    assert httpx.get(sim.urls["web"] + ADMIN).json() == NO_FAULTS


def test_admin_endpoint_stays_reachable_under_a_status_fault(sim):
    """Faults do not reach the admin path: with web answering 500 the rehearsal can still be ended."""
    admin = sim.urls["web"] + ADMIN
    assert httpx.post(admin, content="web=status:500").status_code == 200
    assert get(sim, "web", "/").status_code == 500
    assert httpx.delete(admin).json() == NO_FAULTS
    assert get(sim, "web", "/").status_code == 200


def test_admin_endpoint_of_any_service_controls_the_whole_platform(sim):
    """Each service's admin path manages every fault, so web can be healed through a back end's port."""
    sim.apply(parse_fault("web=down"))
    admin = sim.urls["executor-2"] + ADMIN
    assert httpx.get(admin).json() == {**NO_FAULTS, "web": ["web=down"]}
    assert httpx.delete(admin, params={"service": "web"}).json() == NO_FAULTS
    assert get(sim, "web", "/").status_code == 200


def test_posting_web_down_to_webs_admin_endpoint_answers_before_going_down(sim):
    """POSTing web=down to WEB/__sim/faults (the URL ``spark sim`` prints) answers the listing, then dies."""
    response = httpx.post(sim.urls["web"] + ADMIN, content="web=down")
    assert response.json() == {**NO_FAULTS, "web": ["web=down"]}


# --- fault -> verdict ----------------------------------------------------------------------------


def verdict(result: Any) -> tuple[str, set[str], dict[str, Any]]:
    """(risk level, names of the checks that did not pass, the result document) of a ``-f json`` run."""
    assert "Traceback" not in result.stdout + result.stderr
    document = json.loads(result.stdout)
    assert document["exit_code"] == result.exit_code
    failing = {check["name"] for check in document["checks"] if check["status"] != "PASS"}
    return document["risk"]["level"], failing, document


ALL_BUT_EXECUTOR = set(GATE_CHECKS) - {"executor.up"}


@pytest.mark.parametrize(
    ("fault", "exit_code", "level", "failing", "why"),
    [
        pytest.param(None, 0, "LOW", set(), "a healthy platform passes all six checks", id="healthy"),
        pytest.param(
            "web=down", 1, "CRITICAL", ALL_BUT_EXECUTOR,
            "the UI (critical) and every health-API check fail; executor-1 itself is fine",
            id="web-down",
        ),
        pytest.param(
            "executor-1=down", 1, "CRITICAL", {"executor.up", "healthz.status", "healthz.slo.errorRate"},
            "executor.up (critical) is refused, the platform is DEGRADED, its refused calls count as errors",
            id="executor-1-down",
        ),
        pytest.param(
            "marketdata=stale:60", 1, "HIGH", {"healthz.slo.staleness"},
            "only staleness (major) fails: 60 s is over the dev 30 s target, everything else is healthy",
            id="marketdata-stale",
        ),
        pytest.param(
            "executor-1=slow:400", 1, "HIGH", {"healthz.slo.latencyP95"},
            "slow is not down: the health API's p95 (major) shows 400 ms > 150 ms, nothing critical fails",
            id="executor-1-slow",
        ),
        pytest.param(
            "executor-2=errors:1", 1, "CRITICAL", {"healthz.status", "healthz.slo.errorRate"},
            "the error rate (major) rises and the platform is DEGRADED, so healthz.status (critical) fails",
            id="executor-2-errors",
        ),
        pytest.param(
            "web=status:500", 1, "CRITICAL", ALL_BUT_EXECUTOR,
            "the UI answers 500 (critical) and the health API gives no 2xx document to judge",
            id="web-status-500",
        ),
        pytest.param(
            "executor-1=crashloop", 1, "CRITICAL", {"executor.up", "healthz.status", "healthz.slo.errorRate"},
            "a crash-looping executor is down for the gate: executor.up (critical) fails",
            id="executor-1-crashloop",
        ),
        pytest.param(
            "marketdata=down", 1, "CRITICAL", {"healthz.status", "healthz.slo.errorRate"},
            "no check probes marketdata directly, but the platform is DEGRADED (critical)",
            id="marketdata-down",
        ),
    ],
)  # fmt: skip
def test_gate_verdict_for_each_fault(sim, spark, fault, exit_code, level, failing, why):
    """``spark gate --exit-on-fail`` against the simulator ends at the risk each fault should cause."""
    if fault is not None:
        sim.apply(parse_fault(fault))
    sets = [option for assignment in sim.profile_sets() for option in ("--set", assignment)]
    result = spark("gate", "--exit-on-fail", "-f", "json", "--no-evidence", *sets)
    got_level, got_failing, document = verdict(result)
    assert (result.exit_code, got_level, got_failing) == (exit_code, level, failing), why
    assert {check["name"] for check in document["checks"]} == set(GATE_CHECKS)
    assert all(check["status"] == "FAIL" for check in document["checks"] if check["name"] in failing), why


@pytest.mark.parametrize(
    ("fault", "level", "failing", "why"),
    [
        pytest.param(
            "web=slow:400", "HIGH", {"latency.web", "healthz.slo.latencyP95"},
            "the probe measures 400 ms on web / and the health API's p95 agrees (both major); "
            "the pages still answer 200 so nothing critical fails",
            id="web-slow",
        ),
        pytest.param(
            "executor-1=crashloop", "CRITICAL",
            {"healthz.status", "metrics.executor-1", "healthz.slo.errorRate"},
            "the executor's /metrics cannot be scraped and the platform is DEGRADED (critical)",
            id="executor-1-crashloop",
        ),
    ],
)  # fmt: skip
def test_canary_verdict_for_each_fault(spark, fault, level, failing, why):
    """``spark canary --mode mock --fault F`` rehearses a failure and its verdict sets the exit code (1)."""
    result = spark("canary", "--mode", "mock", "--auto-ok", "--fault", fault, "-f", "json", "--no-evidence")
    got_level, got_failing, _ = verdict(result)
    assert (result.exit_code, got_level, got_failing) == (1, level, failing), why

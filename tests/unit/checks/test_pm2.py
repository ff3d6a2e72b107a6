"""The ``pm2`` kind: recorded ``pm2 jlist`` output read from a file, a fake ``pm2`` on PATH, a real HTTP
server and the simulator; thresholds from the profile's ``[pm2]`` or the check; secrets never kept.

The files in tests/data/pm2 were recorded from real PM2 7.0.4 (node scripts named like the platform's
services), then stripped of the host's environment and paths; every process carries a planted token and
database password in its environment, as a real jlist would. Edited by hand, as their names say:
``seed_crashloop_49_restarts.json`` (the recorded crash loop with ``restart_time`` 15 -> 49, the seed
report's count), ``edited_missing_and_mistyped_fields.json`` (healthy.json with executor-1's status
removed, executor-2's restart_time as the string "0", marketdata's monit removed) and
``banner_then_seed_crashloop.txt`` (the recorded daemon-spawn banner followed by the seed list).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import PM2_DATA, assert_config_error, gone_or_zombie, run_one_check, write_suite

from spark_ops import pm2_client
from spark_ops.model import CheckResult, Status
from spark_ops.sim import Simulator, parse_fault

PLANTED = ("pm2-planted-token-7f3c9e", "pm2-planted-dbpass-41d2")
TRIMMED_KEYS = {"name", "pm_id", "status", "restart_time", "memory", "cpu", "uptime_s"}
# When each file was recorded (ms since the epoch): uptimes are judged as of then.
RECORDED_AT_MS = {
    "healthy.json": 1795268730848,
    "edited_missing_and_mistyped_fields.json": 1795268730848,
    "short_uptime.json": 1795268732298,
    "stopped.json": 1795268732747,
    "crashloop_errored_15_restarts.json": 1795268737474,
    "seed_crashloop_49_restarts.json": 1795268737474,
    "banner_then_seed_crashloop.txt": 1795268737474,
    "high_memory.json": 1795268758504,
}
EXECUTORS = ["spark-executor-1", "spark-executor-2"]


def pm2_check(**options: Any) -> dict[str, Any]:
    """One ``pm2`` check with the given keys."""
    return {"name": "pm2.processes", "kind": "pm2", **options}


def run(folder: Path, check: dict[str, Any], sets: tuple[str, ...] = ()) -> CheckResult:
    return run_one_check(folder, check, "dev", list(sets))


def assert_nothing_secret(result: CheckResult) -> None:
    """Neither the message nor any artifact holds a planted secret; artifacts are the trimmed list."""
    kept = result.message + "".join(body.decode() for body in result.artifacts.values())
    for secret in PLANTED:
        assert secret not in kept
    for body in result.artifacts.values():
        assert all(set(entry) == TRIMMED_KEYS for entry in json.loads(body))


@pytest.fixture
def pinned_clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """``pin(file)`` judges uptimes as of the moment ``file`` was recorded."""

    def pin(file: str) -> None:
        recorded_ms = RECORDED_AT_MS.get(file, 1795268760000)
        monkeypatch.setattr(pm2_client, "clock", lambda: recorded_ms / 1000)

    return pin


# --- the recorded files, read as a file and through a fake `pm2 jlist` --------------------------------

FILE_CASES = [
    pytest.param("healthy.json", {}, Status.PASS, ["4 PM2 processes online", "(max 10)"], id="healthy"),
    pytest.param(
        "seed_crashloop_49_restarts.json",
        {},
        Status.FAIL,
        ["1 of 4 PM2 processes bad: spark-web-next: errored, 49 restarts (max 10)"],
        id="seed-crashloop-49-restarts",
    ),
    pytest.param(
        "crashloop_errored_15_restarts.json",
        {},
        Status.FAIL,
        ["spark-web-next: errored, 15 restarts (max 10)"],
        id="recorded-crashloop",
    ),
    pytest.param(
        "banner_then_seed_crashloop.txt",
        {},
        Status.FAIL,
        ["spark-web-next: errored, 49 restarts (max 10)", "daemon was not running"],
        id="banner-before-json",
    ),
    pytest.param(
        "seed_crashloop_49_restarts.json",
        {"processes": EXECUTORS},
        Status.PASS,
        ["2 PM2 processes online"],
        id="crashloop-outside-the-named-processes",
    ),
    pytest.param(
        "seed_crashloop_49_restarts.json",
        {"max_restarts": 60},
        Status.FAIL,
        ["spark-web-next: errored"],
        id="errored-fails-whatever-the-restarts",
    ),
    pytest.param(
        "high_memory.json",
        {"max_memory_mb": 200},
        Status.FAIL,
        ["1 of 4", "spark-executor-1: 249.6 MB memory (max 200)"],
        id="high-memory",
    ),
    pytest.param("high_memory.json", {}, Status.PASS, ["4 PM2 processes online"], id="no-memory-limit"),
    pytest.param(
        "short_uptime.json",
        {"min_uptime_s": 3},
        Status.FAIL,
        ["1 of 4", "spark-executor-2: up 1.2 s (min 3)"],
        id="short-uptime",
    ),
    pytest.param("short_uptime.json", {}, Status.PASS, ["at most 1 restart (max 10)"], id="no-uptime-limit"),
    pytest.param(
        "short_uptime.json",
        {"max_restarts": 0},
        Status.FAIL,
        ["spark-executor-2: 1 restart (max 0)"],
        id="one-restart-over-zero",
    ),
    pytest.param("stopped.json", {}, Status.FAIL, ["1 of 4", "spark-marketdata: stopped"], id="stopped"),
    pytest.param(
        "edited_missing_and_mistyped_fields.json",
        {},
        Status.FAIL,
        [
            "3 of 4",
            "spark-executor-1: pm2_env.status missing",
            "spark-executor-2: pm2_env.restart_time is the string '0', not a count",
            "spark-marketdata: monit.memory missing",
        ],
        id="missing-and-mistyped-fields",
    ),
    pytest.param("empty.json", {}, Status.INCONCLUSIVE, ["PM2 lists no processes"], id="empty"),
    pytest.param(
        "empty.json",
        {"processes": ["spark-web-next"]},
        Status.FAIL,
        ["spark-web-next: not in the PM2 list"],
        id="empty-but-processes-expected",
    ),
    pytest.param(
        "banner_daemon_spawned_empty_list.txt",
        {},
        Status.INCONCLUSIVE,
        ["PM2 lists no processes", "the PM2 daemon was not running"],
        id="banner-daemon-spawned-empty",
    ),
    pytest.param(
        "healthy.json",
        {"processes": ["spark-web-next", "spark-gateway", "spark-web-next"]},
        Status.FAIL,
        ["1 of 2 PM2 processes bad: spark-gateway: not in the PM2 list"],
        id="named-process-missing",
    ),
]


@pytest.mark.parametrize("source", ["file", "command"])
@pytest.mark.parametrize(("file", "options", "status", "fragments"), FILE_CASES)
def test_recorded_jlists(tmp_path, pinned_clock, fake_pm2, source, file, options, status, fragments):
    """Each recorded jlist, read from a file or from `pm2 jlist`, gets its verdict and names the bad ones."""
    pinned_clock(file)
    if source == "file":
        check = pm2_check(file=str(PM2_DATA / file), **options)
    else:
        fake_pm2(f'cat "{PM2_DATA / file}"')
        check = pm2_check(**options)
    result = run(tmp_path, check)
    assert result.status is status, result.message
    for fragment in fragments:
        assert fragment in result.message
    assert_nothing_secret(result)


def test_seed_crashloop_observed_threshold_and_artifact(tmp_path, pinned_clock):
    """The seed failure's result: observed counts and names, the resolved limits, the trimmed list kept."""
    pinned_clock("seed_crashloop_49_restarts.json")
    result = run(tmp_path, pm2_check(file=str(PM2_DATA / "seed_crashloop_49_restarts.json")))
    assert result.observed == {"processes": 4, "bad": ["spark-web-next"]}
    assert result.threshold == {"max_restarts": 10}
    (name,) = result.artifacts
    assert name == "pm2/seed_crashloop_49_restarts.json"
    kept = {entry["name"]: entry for entry in json.loads(result.artifacts[name])}
    assert kept["spark-web-next"] == {
        "name": "spark-web-next",
        "pm_id": 4,
        "status": "errored",
        "restart_time": 49,
        "memory": 0,
        "cpu": 0.0,
        "uptime_s": None,
    }
    assert kept["spark-marketdata"]["uptime_s"] == pytest.approx(2.2, abs=0.05)


def test_planted_env_secret_stays_out_of_the_evidence(spark, tmp_path):
    """Through `spark gate`, the stored run holds the trimmed list and no environment value anywhere."""
    suite = write_suite(tmp_path, pm2_check(file=str(PM2_DATA / "seed_crashloop_49_restarts.json")))
    result = spark("gate", "--suite", str(suite), "--evidence-dir", str(tmp_path / "ev"), "-f", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["checks"][0]["status"] == "FAIL"
    (stored,) = (tmp_path / "ev" / "runs").glob("*/pm2/seed_crashloop_49_restarts.json")
    assert {entry["name"] for entry in json.loads(stored.read_text())} >= {"spark-web-next"}
    for path in (tmp_path / "ev").rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            assert not any(secret in text for secret in PLANTED), path
    assert not any(secret in result.stdout + result.stderr for secret in PLANTED)


def test_file_is_relative_to_the_working_directory(tmp_path, monkeypatch):
    """A relative ``file`` is read from the working directory."""
    monkeypatch.chdir(PM2_DATA.parent)
    result = run(tmp_path, pm2_check(file="pm2/healthy.json"))
    assert result.status is Status.PASS, result.message


@pytest.mark.parametrize(
    ("content", "status", "fragment"),
    [
        (None, Status.ERROR, "cannot read"),
        (b"", Status.FAIL, "empty answer"),
        (b"<html>Bad Gateway</html>", Status.FAIL, "not a PM2 process list"),
        (b'{"processes": []}', Status.FAIL, "JSON an object, not a PM2 process list"),
        (b'[{"name": "spark-web-next", "pm2_env": {"status": "online"', Status.FAIL, "no JSON array"),
        (b'[{"name": "a"}] trailing words', Status.FAIL, "no JSON array"),
    ],
    ids=["missing-file", "empty-file", "html", "object", "truncated", "text-after-the-list"],
)
def test_unreadable_or_malformed_file_never_passes(tmp_path, content, status, fragment):
    """A missing file is ERROR (could not look); content that is no process list is FAIL."""
    path = tmp_path / "jlist.json"
    if content is not None:
        path.write_bytes(content)
    result = run(tmp_path, pm2_check(file=str(path)))
    assert result.status is status, result.message
    assert fragment in result.message


def test_odd_entries_are_bad_and_cluster_instances_are_told_apart(tmp_path, httpserver):
    """A non-object or nameless entry is bad; processes sharing a name are labelled with their pm_id."""
    entry = {"monit": {"memory": 1, "cpu": 0}}
    processes = [
        {"name": "web", "pm_id": 0, "pm2_env": {"status": "online", "restart_time": 0}, **entry},
        {"name": "web", "pm_id": 1, "pm2_env": {"status": "errored", "restart_time": 3}, **entry},
        None,
        {"pm_id": 7, "pm2_env": {"status": "online", "restart_time": True}, "monit": {"memory": -5}},
        {"name": "api", "pm2_env": {"status": {"env": {"TOKEN": PLANTED[0]}}, "restart_time": 0}, **entry},
    ]
    httpserver.expect_request("/jlist").respond_with_json(processes)
    result = run(tmp_path, pm2_check(url=httpserver.url_for("/jlist")))
    assert result.status is Status.FAIL
    assert result.observed == {"processes": 5, "bad": ["web (pm_id 1)", "entry 2", "pm_id 7", "api"]}
    for fragment in (
        "web (pm_id 1): errored",
        "entry 2: entry is null",
        "pm_id 7: name missing, pm2_env.restart_time is true, not a count, "
        "monit.memory is -5, not a number of bytes",
        "api: pm2_env.status is an object",
    ):
        assert fragment in result.message
    assert_nothing_secret(result)


@pytest.mark.parametrize(
    ("min_uptime_s", "pm2_env", "fragment"),
    [
        (60, {"status": "online", "restart_time": 0}, "pm2_env.pm_uptime missing or not a number"),
        (60, {"status": "online", "restart_time": 0, "pm_uptime": "yesterday"}, "pm_uptime missing"),
        (60, {"status": "online", "restart_time": 0, "pm_uptime": 1795268760000 - 30_000}, "up 30.0 s"),
    ],
    ids=["no-pm-uptime", "pm-uptime-text", "below-min"],
)
def test_uptime_needs_pm_uptime(tmp_path, httpserver, pinned_clock, min_uptime_s, pm2_env, fragment):
    """With min_uptime_s set, an online process without a usable start time is bad, never good."""
    pinned_clock("now")
    process = {"name": "web", "pm_id": 0, "pm2_env": pm2_env, "monit": {"memory": 1, "cpu": 0}}
    httpserver.expect_request("/jlist").respond_with_json([process])
    result = run(tmp_path, pm2_check(url=httpserver.url_for("/jlist"), min_uptime_s=min_uptime_s))
    assert result.status is Status.FAIL
    assert fragment in result.message


# --- over HTTP --------------------------------------------------------------------------------------


def test_url_serving_the_seed_jlist(tmp_path, httpserver, pinned_clock):
    """``url`` reads the same JSON from an endpoint; the seed crash loop fails there too."""
    pinned_clock("seed_crashloop_49_restarts.json")
    body = (PM2_DATA / "seed_crashloop_49_restarts.json").read_bytes()
    httpserver.expect_request("/pm2").respond_with_data(body, content_type="application/json")
    result = run(tmp_path, pm2_check(url=httpserver.url_for("/pm2")))
    assert result.status is Status.FAIL
    assert "spark-web-next: errored, 49 restarts (max 10)" in result.message
    assert list(result.artifacts) == ["pm2/target.json"]
    assert_nothing_secret(result)


@pytest.mark.parametrize(
    ("body", "status_code", "fragment"),
    [
        (b"", 200, "empty answer"),
        (b"<html><body>Bad Gateway</body></html>", 200, "not a PM2 process list"),
        (b'{"error": "pm2 not running"}', 200, "not a PM2 process list"),
        (b"[]", 503, "2xx"),
    ],
    ids=["empty-body", "html", "object", "503"],
)
def test_bad_http_answers_fail(tmp_path, httpserver, body, status_code, fragment):
    """An endpoint answering no process list, or not 2xx, fails the check."""
    httpserver.expect_request("/pm2").respond_with_data(body, status=status_code)
    result = run(tmp_path, pm2_check(url=httpserver.url_for("/pm2")))
    assert result.status is Status.FAIL, result.message
    assert fragment in result.message


@pytest.fixture
def crashloop_sim() -> Any:
    """The simulator with executor-1 crash-looping under (simulated) PM2."""
    with Simulator(ports="auto", faults=[parse_fault("executor-1=crashloop")]) as simulator:
        yield simulator


def test_simulator_crashloop_fails_naming_the_process(tmp_path, crashloop_sim):
    """Against the simulator's /api/tools/pm2 (service + default path), the crash loop is caught."""
    result = run(tmp_path, pm2_check(service="web"), tuple(crashloop_sim.profile_sets()))
    assert result.status is Status.FAIL, result.message
    assert result.observed == {"processes": 4, "bad": ["spark-executor-1"]}
    assert "spark-executor-1: errored" in result.message
    healthy_only = pm2_check(service="web", processes=["spark-web-next", "spark-marketdata"])
    assert run(tmp_path, healthy_only, tuple(crashloop_sim.profile_sets())).status is Status.PASS


def test_simulator_healthy_platform_passes(tmp_path, sim):
    """The healthy simulator's four processes pass with the profile's defaults."""
    result = run(tmp_path, pm2_check(service="web"), tuple(sim.profile_sets()))
    assert result.status is Status.PASS, result.message
    assert result.observed == {"processes": 4, "bad": []}


# --- thresholds: the profile's [pm2], overridden per check ----------------------------------------


@pytest.mark.parametrize(
    ("file", "sets", "options", "status", "threshold"),
    [
        ("short_uptime.json", (), {}, Status.PASS, {"max_restarts": 10}),
        ("short_uptime.json", ("pm2.max_restarts=0",), {}, Status.FAIL, {"max_restarts": 0}),
        ("short_uptime.json", ("pm2.max_restarts=0",), {"max_restarts": 1}, Status.PASS, {"max_restarts": 1}),
        (
            "high_memory.json",
            ("pm2.max_memory_mb=200",),
            {},
            Status.FAIL,
            {"max_restarts": 10, "max_memory_mb": 200.0},
        ),
        (
            "high_memory.json",
            ("pm2.max_memory_mb=200",),
            {"max_memory_mb": 256},
            Status.PASS,
            {"max_restarts": 10, "max_memory_mb": 256.0},
        ),
        (
            "short_uptime.json",
            ("pm2.min_uptime_s=3",),
            {},
            Status.FAIL,
            {"max_restarts": 10, "min_uptime_s": 3.0},
        ),
        (
            "short_uptime.json",
            ("pm2.min_uptime_s=3",),
            {"min_uptime_s": 0},
            Status.PASS,
            {"max_restarts": 10, "min_uptime_s": 0.0},
        ),
    ],
    ids=[
        "default-max-restarts",
        "profile-max-restarts",
        "check-overrides-max-restarts",
        "profile-max-memory",
        "check-overrides-max-memory",
        "profile-min-uptime",
        "check-overrides-min-uptime",
    ],
)
def test_profile_defaults_and_check_overrides(tmp_path, pinned_clock, file, sets, options, status, threshold):
    """Limits come from the profile's [pm2] (default max_restarts 10) unless the check sets its own."""
    pinned_clock(file)
    result = run(tmp_path, pm2_check(file=str(PM2_DATA / file), **options), sets)
    assert result.status is status, result.message
    assert result.threshold == threshold


# --- configuration errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "fragments"),
    [
        ({"file": "a.json", "url": "http://127.0.0.1:1/pm2"}, ["checks[0].file", "not both url and file"]),
        ({"file": "a.json", "command": "pm2"}, ["checks[0].command", "not both file and command"]),
        ({"service": "web", "command": "pm2"}, ["checks[0].command", "not both service and command"]),
        ({"path": "/api/tools/pm2"}, ["checks[0].service", "needs service"]),
        ({"service": "nowhere"}, ["checks[0].service", "'nowhere'"]),
        ({"max_restarts": "ten"}, ["checks[0].max_restarts", "Expected"]),
        ({"max_restarts": -1}, ["checks[0].max_restarts", ">= 0"]),
        ({"max_restarts": 1.5}, ["checks[0].max_restarts", "Expected"]),
        ({"max_memory_mb": 0}, ["checks[0].max_memory_mb", "> 0"]),
        ({"min_uptime_s": -1}, ["checks[0].min_uptime_s", ">= 0"]),
        ({"processes": []}, ["checks[0].processes", "length >= 1"]),
        ({"processes": "spark-web-next"}, ["checks[0].processes", "Expected"]),
        ({"processes": [""]}, ["checks[0].processes[0]", "length >= 1"]),
        ({"command": ""}, ["checks[0].command", "length >= 1"]),
        ({"max_restart": 5}, ["checks[0].max_restart", "unknown key"]),
    ],
    ids=[
        "file-and-url",
        "file-and-command",
        "service-and-command",
        "path-without-service",
        "unknown-service",
        "max-restarts-text",
        "max-restarts-negative",
        "max-restarts-fraction",
        "max-memory-zero",
        "min-uptime-negative",
        "processes-empty",
        "processes-not-a-list",
        "process-name-empty",
        "command-empty",
        "misspelt-key",
    ],
)
def test_config_errors_exit_2(spark, tmp_path, options, fragments):
    """Two sources, a wrong type or an unknown key stops `spark gate` with exit 2 naming file and key."""
    suite = write_suite(tmp_path, pm2_check(**options))
    line = assert_config_error(spark("gate", "--suite", str(suite), "--no-evidence"), *fragments)
    assert str(suite) in line


# --- running pm2 ------------------------------------------------------------------------------------


def test_pm2_not_on_path_is_an_error(tmp_path, monkeypatch):
    """Without pm2 on PATH the status could not be read: ERROR (counts as failing), saying so."""
    monkeypatch.setenv("PATH", str(tmp_path))
    result = run(tmp_path, pm2_check())
    assert result.status is Status.ERROR
    assert "'pm2' is not on PATH" in result.message


def test_command_names_another_executable(tmp_path, fake_pm2):
    """``command`` runs another executable (e.g. a wrapper) as ``<command> jlist``."""
    script = fake_pm2(f'[ "$1" = jlist ] && cat "{PM2_DATA / "healthy.json"}"')
    result = run(tmp_path, pm2_check(command=str(script)))
    assert result.status is Status.PASS, result.message
    assert list(result.artifacts) == ["pm2/status.json"]


def test_non_zero_exit_is_an_error_with_a_redacted_stderr_line(tmp_path, fake_pm2, monkeypatch, spark):
    """pm2 exiting non-zero is ERROR; the reason quotes its error line, an env secret masked on output."""
    monkeypatch.setenv("SPARK_PM2_TOKEN", "s3cr3t-in-the-env")
    fake_pm2(
        "echo '[]'\n"
        "printf '\\033[31m[PM2][ERROR]\\033[39m connect EACCES "
        "/home/spark/.pm2/rpc.sock s3cr3t-in-the-env\\n' >&2\n"
        "echo '    at Socket.connect (node:net:1)' >&2\n"
        "exit 3"
    )
    suite = write_suite(tmp_path, {"name": "pm2.jlist", "kind": "pm2"})
    result = spark("gate", "--suite", str(suite), "--format", "json")
    (check,) = json.loads(result.stdout)["checks"]
    assert check["status"] == "ERROR"
    assert "pm2 jlist exited 3: [PM2][ERROR] connect EACCES /home/spark/.pm2/rpc.sock ***" in check["message"]
    assert "s3cr3t" not in result.stdout + result.stderr
    stored = "".join(p.read_text(errors="replace") for p in (tmp_path / "evidence").rglob("*") if p.is_file())
    assert "s3cr3t" not in stored


@pytest.mark.parametrize(
    ("stdout", "fragment"),
    [
        ("Usage: pm2 [cmd] app", "not a PM2 process list"),
        ('{"name": "spark-web-next"}', "JSON an object"),
        ("", "empty answer"),
    ],
    ids=["usage-text", "object", "nothing"],
)
def test_pm2_output_that_is_no_list_fails(tmp_path, fake_pm2, stdout, fragment):
    """pm2 exiting 0 with no process list on stdout fails the check."""
    fake_pm2(f"printf '%s' '{stdout}'")
    result = run(tmp_path, pm2_check())
    assert result.status is Status.FAIL
    assert fragment in result.message


def test_output_over_the_body_limit_fails(tmp_path, fake_pm2):
    """pm2 output beyond the run's body limit is cut off and fails instead of filling memory."""
    fake_pm2("head -c 3000000 /dev/zero")
    result = run(tmp_path, pm2_check())
    assert result.status is Status.FAIL
    assert "larger than the 1048576-byte limit" in result.message


def test_deadline_kills_and_reaps_a_hanging_pm2(tmp_path, fake_pm2):
    """When the runner's deadline cancels the check, pm2 and what it started are killed and reaped."""
    pids = tmp_path / "pids"
    fake_pm2(f'sleep 30 &\necho "$$ $!" > "{pids}"\nwait')
    started = time.monotonic()
    result = run(tmp_path, pm2_check(timeout_s=0.5))
    assert time.monotonic() - started < 5
    assert result.status is Status.FAIL
    assert "deadline" in result.message
    shell_pid, sleep_pid = (int(pid) for pid in pids.read_text().split())
    with pytest.raises(ProcessLookupError):
        os.kill(shell_pid, 0)  # our child: killed and reaped (a zombie would still answer)
    deadline = time.monotonic() + 5
    while not gone_or_zombie(sleep_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gone_or_zombie(sleep_pid)

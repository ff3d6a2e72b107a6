"""``spark monitor``: runs a suite every interval, serves the results as Prometheus metrics, pushes them to
a Pushgateway, survives target outages and crashing cycles, and stops cleanly on SIGTERM and Ctrl-C."""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import GATE_CHECKS, ROOT, assert_config_error, free_port, missing_tool
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from pytest_httpserver import HTTPServer

from spark_ops import metric_names, monitor, pipeline
from spark_ops.model import Status
from spark_ops.monitor import CycleOutcome, Monitor, MonitorMetrics, run_monitor
from spark_ops.redact import Redactor
from spark_ops.sim import Simulator, parse_fault

PUSHGATEWAY = "/usr/bin/prometheus-pushgateway"
SLO_GAUGES = {
    "healthz.slo.latencyP95": metric_names.SLO_LATENCY_P95,
    "healthz.slo.errorRate": metric_names.SLO_ERROR_RATE,
    "healthz.slo.staleness": metric_names.SLO_STALENESS,
}
CONTRACT = {
    "spark_check_up",
    "spark_check_status",
    "spark_check_duration_seconds",
    "spark_slo_latency_p95_ms",
    "spark_slo_error_rate",
    "spark_slo_staleness_seconds",
    "spark_metrics_scrape_bytes",
    "spark_risk_level",
    "spark_risk_score",
    "spark_monitor_runs",
    "spark_monitor_last_run_timestamp_seconds",
    "spark_monitor_cycle_duration_seconds",
    "spark_monitor_interval_seconds",
}
Labels = frozenset[tuple[str, str]]


@dataclass
class Scrape:
    """One /metrics answer, parsed: every sample by name and labels."""

    samples: dict[tuple[str, Labels], float]

    @classmethod
    def of(cls, url: str) -> Scrape:
        with urllib.request.urlopen(url, timeout=5) as answer:
            text = answer.read().decode("utf-8")
        return cls(
            {
                (sample.name, frozenset(sample.labels.items())): sample.value
                for family in text_string_to_metric_families(text)
                for sample in family.samples
            }
        )

    def value(self, name: str, **labels: str) -> float | None:
        """The one sample of ``name`` whose labels include ``labels``; None when there is none."""
        wanted = set(labels.items())
        found = [v for (n, have), v in self.samples.items() if n == name and wanted <= have]
        assert len(found) <= 1, (name, labels, found)
        return found[0] if found else None

    def by_check(self, name: str) -> dict[str, float]:
        return {dict(have)["check"]: v for (n, have), v in self.samples.items() if n == name}


@dataclass
class Watched:
    """What a monitor session did, and what its /metrics said after each cycle."""

    outcomes: list[CycleOutcome] = field(default_factory=list)
    scrapes: list[Scrape] = field(default_factory=list)
    log: list[str] = field(default_factory=list)


def watch(
    prepared: pipeline.PreparedRun,
    iterations: int,
    after: dict[int, Callable[[], None]] | None = None,
    **options: Any,
) -> Watched:
    """Run the monitor for ``iterations`` cycles on a free loopback port, scraping /metrics after each
    cycle and running ``after[n]`` once cycle ``n`` is recorded (to change the platform between cycles)."""
    watched = Watched()
    port = free_port()

    def on_cycle(outcome: CycleOutcome) -> None:
        watched.outcomes.append(outcome)
        watched.scrapes.append(Scrape.of(f"http://127.0.0.1:{port}/metrics"))
        (after or {}).get(outcome.number, lambda: None)()

    stats = run_monitor(
        prepared,
        interval_s=0.01,
        iterations=iterations,
        listen=f"127.0.0.1:{port}",
        log=watched.log.append,
        on_cycle=on_cycle,
        **options,
    )
    assert stats.cycles == iterations == len(watched.outcomes)
    return watched


def prepare(sets: list[str], suite: str = "gate") -> pipeline.PreparedRun:
    return pipeline.prepare_run("monitor", profile_ref="dev", suite_ref=suite, sets=sets)


@pytest.fixture
def tiny_suite(tmp_path: Path) -> str:
    """A suite of one slo check and one metrics check, quick to run.

    The p95 bound is fixed far above any loaded machine: these tests are about the series served, and the
    simulator's p95 covers a 60 s window, so one slow answer on a busy CI machine (the dev target is
    150 ms) would fail every later cycle. The check still FAILs when the web service is down."""
    path = tmp_path / "tiny.toml"
    path.write_text(
        '[[checks]]\nname = "p95"\nkind = "slo"\nservice = "web"\npath = "/api/healthz"\n'
        'field = "slo.latencyP95"\nunit = "ms"\nmax = 60000\n\n'
        '[[checks]]\nname = "metrics.executor-1"\nkind = "metrics"\nservice = "executor-1"\n',
        encoding="utf-8",
    )
    return str(path)


# --- what it serves --------------------------------------------------------------------------------


def test_registry_holds_exactly_the_contract_metric_names():
    """The monitor's own registry exports the documented metric families and nothing else."""
    metrics = MonitorMetrics(prepare([]), interval_s=30)
    families = {family.name for family in metrics.registry.collect()}
    assert families == CONTRACT


def test_healthy_platform_serves_every_check_and_reading(sim):
    """On a healthy platform every gate check is up and PASS; the SLO readings and risk LOW are served."""
    watched = watch(prepare(sim.profile_sets()), iterations=2)
    scrape = watched.scrapes[-1]
    assert scrape.by_check("spark_check_up") == dict.fromkeys(GATE_CHECKS, 1.0)
    for check in GATE_CHECKS:
        assert scrape.value("spark_check_up", check=check, suite="gate") == 1.0
        one_hot = {s.value: scrape.value("spark_check_status", check=check, status=s.value) for s in Status}
        assert one_hot == {s.value: (1.0 if s is Status.PASS else 0.0) for s in Status}
        duration = scrape.value("spark_check_duration_seconds", check=check, suite="gate")
        assert duration is not None and 0 <= duration < 5
    assert scrape.value("spark_check_up", check="ui.up", kind="http", severity="critical") == 1.0
    for check, gauge in SLO_GAUGES.items():
        reading = scrape.value(gauge, check=check)
        assert reading is not None and math.isfinite(reading) and reading >= 0
    assert scrape.value("spark_risk_level") == 0.0
    assert scrape.value("spark_risk_score") == 100.0
    assert scrape.value("spark_monitor_runs_total", result="pass") == 2.0
    assert scrape.value("spark_monitor_runs_total", result="fail") == 0.0
    last_run = scrape.value("spark_monitor_last_run_timestamp_seconds")
    assert last_run is not None and abs(time.time() - last_run) < 30
    assert (scrape.value("spark_monitor_cycle_duration_seconds") or 0) > 0
    assert scrape.value("spark_monitor_interval_seconds") == 0.01
    assert [o.result for o in watched.outcomes] == ["pass", "pass"]
    assert watched.log[0].startswith("serving metrics on http://127.0.0.1:")
    assert "cycle 2: pass, risk LOW (100), 6/6 passed" in watched.log[2]


def test_metrics_checks_report_the_bytes_they_scraped(sim, tiny_suite):
    """A metrics check's /metrics body size is served per check and service, equal to what was read."""
    watched = watch(prepare(sim.profile_sets(), suite=tiny_suite), iterations=1)
    served = watched.scrapes[0].value("spark_metrics_scrape_bytes", check="metrics.executor-1")
    run = watched.outcomes[0].run
    assert run is not None
    (result,) = [r for r in run.results if r.name == "metrics.executor-1"]
    assert served == len(result.artifacts["metrics/executor-1.prom"]) > 1024
    assert watched.scrapes[0].value("spark_metrics_scrape_bytes", service="executor-1") == served


def test_a_fault_flips_the_right_gauges(sim):
    """Stale market data turns the staleness check down and FAIL, serves the stale reading and raises risk."""
    stale = parse_fault("marketdata=stale:120")
    watched = watch(prepare(sim.profile_sets()), iterations=2, after={1: lambda: sim.apply(stale)})
    before, after = watched.scrapes
    assert before.value("spark_check_up", check="healthz.slo.staleness") == 1.0
    assert after.value("spark_check_up", check="healthz.slo.staleness") == 0.0
    assert after.value("spark_check_status", check="healthz.slo.staleness", status="FAIL") == 1.0
    assert after.value("spark_check_status", check="healthz.slo.staleness", status="PASS") == 0.0
    assert (after.value("spark_slo_staleness_seconds", check="healthz.slo.staleness") or 0) >= 120
    others = {c: v for c, v in after.by_check("spark_check_up").items() if c != "healthz.slo.staleness"}
    assert set(others.values()) == {1.0}
    assert after.value("spark_risk_level") == 2.0  # a major check failing: HIGH
    assert [o.result for o in watched.outcomes] == ["pass", "fail"]
    assert after.value("spark_monitor_runs_total", result="fail") == 1.0


def test_series_stay_the_same_across_cycles_outages_and_recovery(sim, tiny_suite):
    """Cycle after cycle the monitor serves the same series, so its memory does not grow with cycles; an
    outage removes the readings it could not take, and recovery brings back exactly the series there were."""

    def take_both_targets_down() -> None:
        sim.apply(parse_fault("web=down"))
        sim.apply(parse_fault("executor-1=down"))

    watched = watch(
        prepare(sim.profile_sets(), suite=tiny_suite),
        iterations=6,
        after={2: take_both_targets_down, 4: sim.clear},
    )
    reasons = [
        [(r.name, r.status.value, r.judgement.message) for r in o.run.results]
        for o in watched.outcomes
        if o.run
    ]
    assert [o.result for o in watched.outcomes] == ["pass", "pass", "fail", "fail", "pass", "pass"], reasons
    keys = [{(name, labels) for name, labels in scrape.samples} for scrape in watched.scrapes]
    healthy, down, recovered = keys[0:2], keys[2:4], keys[4:6]
    assert all(k == healthy[0] for k in healthy + recovered)
    assert down[0] == down[1]
    lost = {name for name, _ in healthy[0] - down[0]}
    assert lost == {"spark_slo_latency_p95_ms", "spark_metrics_scrape_bytes"}
    assert down[0] < healthy[0]


# --- when things go wrong --------------------------------------------------------------------------


def test_target_outage_keeps_the_loop_alive_and_counts_fail():
    """With every service on a closed port each cycle fails, nothing is read, and the loop goes on."""
    closed = free_port()
    sets = [f"services.{name}.url=http://127.0.0.1:{closed}" for name in ("web", "executor-1")]
    watched = watch(prepare(sets), iterations=3)
    assert [o.result for o in watched.outcomes] == ["fail"] * 3
    scrape = watched.scrapes[-1]
    assert set(scrape.by_check("spark_check_up").values()) == {0.0}
    for gauge in SLO_GAUGES.values():
        assert scrape.by_check(gauge) == {}
    assert scrape.value("spark_monitor_runs_total", result="fail") == 3.0
    assert scrape.value("spark_risk_level") == 3.0


def test_reading_lost_in_an_outage_is_removed_not_left_stale(sim):
    """A reading that cannot be taken disappears from /metrics (never its old value) and comes back."""
    web_down = parse_fault("web=down")
    watched = watch(
        prepare(sim.profile_sets()),
        iterations=3,
        after={1: lambda: sim.apply(web_down), 2: lambda: sim.clear("web")},
    )
    healthy, outage, recovered = watched.scrapes
    assert [o.result for o in watched.outcomes] == ["pass", "fail", "pass"]
    for check, gauge in SLO_GAUGES.items():
        assert healthy.value(gauge, check=check) is not None
        assert outage.value(gauge, check=check) is None
        assert recovered.value(gauge, check=check) is not None
        assert outage.value("spark_check_up", check=check) == 0.0


def test_crashing_cycle_is_counted_logged_redacted_and_the_loop_goes_on(sim, monkeypatch):
    """A cycle that blows up counts as error, logs one redacted line, and the next one runs; it is recorded
    as every check ERROR, so the risk is the project's own verdict on that: CRITICAL, score 0."""
    monkeypatch.setenv("SPARK_API_TOKEN", "tok-sekrit-123")
    real_execute = pipeline.execute
    calls = []

    def execute(prepared: pipeline.PreparedRun, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("boom with tok-sekrit-123\nsecond line")
        return real_execute(prepared, **kwargs)

    monkeypatch.setattr(pipeline, "execute", execute)
    watched = watch(prepare(sim.profile_sets()), iterations=3)
    assert [o.result for o in watched.outcomes] == ["pass", "error", "pass"]
    (line,) = [line for line in watched.log if line.startswith("cycle 2:")]
    assert line.startswith("cycle 2: error: RuntimeError: boom with *** second line (")
    assert "tok-sekrit-123" not in "".join(watched.log)
    crashed = watched.scrapes[1]
    assert crashed.by_check("spark_check_up") == dict.fromkeys(GATE_CHECKS, 0.0)
    for check in GATE_CHECKS:
        one_hot = {s.value: crashed.value("spark_check_status", check=check, status=s.value) for s in Status}
        assert one_hot == {s.value: (1.0 if s is Status.ERROR else 0.0) for s in Status}
    assert all(crashed.by_check(gauge) == {} for gauge in SLO_GAUGES.values())
    assert crashed.value("spark_risk_level") == 3.0  # the gate has critical checks: CRITICAL
    assert crashed.value("spark_risk_score") == 0.0
    assert watched.scrapes[2].value("spark_monitor_runs_total", result="error") == 1.0
    assert watched.scrapes[2].value("spark_risk_level") == 0.0


# --- the command -----------------------------------------------------------------------------------


def test_a_bug_in_recording_is_counted_as_an_error_cycle_and_the_loop_goes_on(sim, monkeypatch):
    """If recording a finished run blows up, the cycle counts as error with every check ERROR; next runs."""
    real_record = monitor.MonitorMetrics.record
    calls = []

    def record(self: Any, results: Any, assessed: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("recording bug")
        return real_record(self, results, assessed)

    monkeypatch.setattr(monitor.MonitorMetrics, "record", record)
    watched = watch(prepare(sim.profile_sets()), iterations=3)
    assert [o.result for o in watched.outcomes] == ["pass", "error", "pass"]
    assert watched.scrapes[1].by_check("spark_check_up") == dict.fromkeys(GATE_CHECKS, 0.0)
    assert watched.scrapes[1].value("spark_risk_level") == 3.0


def test_iterations_stop_the_command_with_exit_0(spark, sim):
    """`spark monitor --iterations 2` runs two cycles, one stderr line each, nothing on stdout, exit 0."""
    sets = [arg for s in sim.profile_sets() for arg in ("--set", s)]
    result = spark(
        "monitor", "--iterations", "2", "--interval", "0.05", "--listen", f"127.0.0.1:{free_port()}", *sets
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert [line.split(":")[1] for line in lines if line.startswith("spark: cycle")] == [
        " cycle 1",
        " cycle 2",
    ]
    assert lines[-1] == "spark: monitor stopped after 2 cycles"


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A loopback port something else is listening on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_port_in_use_is_exit_2_in_one_line(spark, busy_port):
    """A --listen port already taken is a configuration error: exit 2, one line, before any cycle."""
    result = spark("monitor", "--listen", f"127.0.0.1:{busy_port}", "--iterations", "1")
    assert_config_error(result, f"--listen 127.0.0.1:{busy_port}", "in use")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--listen", "9108"], "HOST:PORT"),
        (["--listen", "127.0.0.1:99999"], "HOST:PORT"),
        (["--listen", "127.0.0.1:http"], "HOST:PORT"),
        (["--interval", "0"], "--interval"),
        (["--iterations", "0"], "--iterations"),
        (["--pushgateway", "ftp://gw:9091"], "--pushgateway"),
        (["--pushgateway", "http://:9091"], "--pushgateway"),
        (["--profile", "no-such-profile"], "no-such-profile"),
    ],
    ids=[
        "port-only",
        "port-too-big",
        "port-not-number",
        "interval-zero",
        "iterations-zero",
        "ftp",
        "no-host",
        "profile",
    ],
)
def test_bad_options_are_exit_2_in_one_line(spark, args, fragment):
    """Bad --listen, --interval, --iterations, --pushgateway or profile: exit 2, one line, nothing served."""
    assert_config_error(spark("monitor", *args), fragment)


def spawn_monitor(sim: Simulator, port: int, tmp_path: Path) -> subprocess.Popen[str]:
    sets = [arg for s in sim.profile_sets() for arg in ("--set", s)]
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "spark_ops",
            "monitor",
            "--interval",
            "30",
            "--listen",
            f"127.0.0.1:{port}",
            *sets,
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_metrics(url: str, process: subprocess.Popen[str] | None, runs: int) -> None:
    """Until ``url`` answers with at least ``runs`` cycles counted (or the process died)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process is None or process.poll() is None, process.communicate() if process else None
        try:
            scrape = Scrape.of(url)
        except OSError:
            time.sleep(0.05)
            continue
        counted = sum(scrape.value("spark_monitor_runs_total", result=r) or 0 for r in monitor.RESULTS)
        if counted >= runs:
            return
        time.sleep(0.05)
    raise AssertionError(f"{url} did not count {runs} cycles in 30 s")


@pytest.mark.parametrize(
    ("signum", "busy"),
    [(signal.SIGTERM, False), (signal.SIGINT, False), (signal.SIGTERM, True)],
    ids=["sigterm-sleeping", "ctrl-c-sleeping", "sigterm-mid-cycle"],
)
def test_signal_stops_a_running_monitor_cleanly(sim, tmp_path, signum, busy):
    """SIGTERM or Ctrl-C stops `spark monitor` within a couple of seconds, mid-cycle too, with exit 0."""
    if busy:  # every cycle now hangs on the slow web service until the check deadline (5 s)
        sim.apply(parse_fault("web=slow:8000"))
    port = free_port()
    process = spawn_monitor(sim, port, tmp_path)
    try:
        wait_for_metrics(f"http://127.0.0.1:{port}/metrics", process, runs=0 if busy else 1)
        if busy:
            time.sleep(0.5)  # well into the first cycle
        sent = time.monotonic()
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=10)
        took = time.monotonic() - sent
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    assert took < 3, took
    assert "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1].startswith("spark: monitor stopped after")


# --- the Pushgateway -------------------------------------------------------------------------------


@pytest.fixture
def pushgateway(tmp_path: Path) -> Iterator[str]:
    """A real Pushgateway on a free loopback port, without persistence; stopped after the test."""
    if not Path(PUSHGATEWAY).exists():
        missing_tool(f"{PUSHGATEWAY} is missing (apt-get install -y prometheus-pushgateway)")
    port = free_port()
    process = subprocess.Popen(
        [PUSHGATEWAY, f"--web.listen-address=127.0.0.1:{port}", "--persistence.file="],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"{url}/-/ready", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_push_reaches_a_real_pushgateway_with_job_and_instance(sim, pushgateway):
    """Each cycle is pushed under job spark-monitor and the given instance; the gateway serves it back."""
    watched = watch(prepare(sim.profile_sets()), iterations=2, pushgateway=pushgateway, instance="box-7")
    assert all(o.push_error is None for o in watched.outcomes)
    pushed = Scrape.of(f"{pushgateway}/metrics")
    for check in GATE_CHECKS:
        assert pushed.value("spark_check_up", check=check, job="spark-monitor", instance="box-7") == 1.0
    assert (
        pushed.value("spark_monitor_runs_total", result="pass", job="spark-monitor", instance="box-7") == 2.0
    )
    assert pushed.value("push_time_seconds", job="spark-monitor", instance="box-7") is not None


def test_push_failure_is_one_line_without_the_url_credentials(sim, monkeypatch):
    """An unreachable Pushgateway costs one log line per cycle and nothing else; the line shows its URL
    with the credentials taken out before any message is made, not masked afterwards."""
    monkeypatch.setattr(Redactor, "text", lambda self, text: text)  # masking off: only stripping can pass
    port = free_port()
    watched = watch(
        prepare(sim.profile_sets()), iterations=2, pushgateway=f"http://user:secret@127.0.0.1:{port}"
    )
    assert [o.result for o in watched.outcomes] == ["pass", "pass"]
    assert watched.log[0].endswith(f", pushing to http://127.0.0.1:{port} as instance {socket.gethostname()}")
    failures = [line for line in watched.log if "push to" in line]
    assert len(failures) == 2
    assert all(line.startswith(f"push to http://127.0.0.1:{port} failed: ") for line in failures)
    assert all(o.push_error in failures for o in watched.outcomes)
    assert "secret" not in "".join(watched.log)


def test_an_abandoned_cycle_records_and_pushes_nothing(sim, monkeypatch):
    """A cycle still running when the monitor is stopped is abandoned: when its suite run ends later, no
    metric changes and nothing is pushed."""
    release = threading.Event()
    real_execute = pipeline.execute

    def slow_execute(prepared: pipeline.PreparedRun, **kwargs: Any) -> Any:
        run = real_execute(prepared, **kwargs)
        release.wait(timeout=10)  # the run ends only after the stop request
        return run

    pushes: list[object] = []

    class RecordingGateway:
        def push(self, registry: object) -> None:
            pushes.append(registry)

    monkeypatch.setattr(pipeline, "execute", slow_execute)
    mon = Monitor(prepare(sim.profile_sets()), interval_s=30, pushgateway=RecordingGateway())
    before = generate_latest(mon.registry)
    stop = threading.Event()
    stopped_after: list[int] = []
    loop = threading.Thread(
        target=lambda: stopped_after.append(mon.loop(iterations=None, stop=stop, on_cycle=lambda _: None))
    )
    loop.start()
    time.sleep(0.3)  # well into the first cycle
    stop.set()
    loop.join(timeout=5)
    assert stopped_after == [0]
    release.set()
    for worker in [t for t in threading.enumerate() if t.name == "spark-monitor-cycle-1"]:
        worker.join(timeout=10)
        assert not worker.is_alive()
    assert generate_latest(mon.registry) == before
    assert pushes == []


def test_push_credentials_in_the_url_go_as_basic_auth(sim, httpserver: HTTPServer):
    """user:password in --pushgateway becomes an Authorization header, and is not in the request path."""
    httpserver.expect_request(
        "/metrics/job/spark-monitor/instance/box-7",
        method="PUT",
        headers={"Authorization": "Basic cHVzaGVyOmh1bnRlcjJwdw=="},  # pusher:hunter2pw
    ).respond_with_data("", status=200)
    gateway = httpserver.url_for("/").replace("http://", "http://pusher:hunter2pw@")
    watched = watch(prepare(sim.profile_sets()), iterations=1, pushgateway=gateway, instance="box-7")
    assert watched.outcomes[0].push_error is None, watched.log
    httpserver.check_assertions()


# --- running it under PM2 --------------------------------------------------------------------------


ECOSYSTEM = ROOT / "examples" / "ecosystem.config.js"


def load_ecosystem() -> dict[str, Any]:
    """examples/ecosystem.config.js as node reads it."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    completed = subprocess.run(
        [node, "-e", f"console.log(JSON.stringify(require({str(ECOSYSTEM)!r})))"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert completed.returncode == 0, completed.stderr
    loaded: dict[str, Any] = json.loads(completed.stdout)
    return loaded


def test_pm2_ecosystem_example_runs_spark_monitor():
    """examples/ecosystem.config.js loads in node and runs `spark monitor` with a clean-stop signal."""
    (app,) = load_ecosystem()["apps"]
    assert app["script"] == "spark"
    assert app["args"][0] == "monitor"
    assert app["interpreter"] == "none"
    assert app["kill_signal"] in ("SIGTERM", "SIGINT")
    assert 2 in app["stop_exit_codes"]  # a configuration error is not retried in a loop


def test_pm2_runs_the_example_and_stops_it_cleanly(sim):
    """A private PM2 daemon runs the example app (aimed at the simulator); `pm2 stop` ends it cleanly."""
    pm2 = shutil.which("pm2")
    if pm2 is None:
        pytest.skip("pm2 is not installed")
    config = load_ecosystem()
    port = free_port()
    sets = [arg for s in sim.profile_sets() for arg in ("--set", s)]
    home = Path(tempfile.mkdtemp(prefix="pm2-"))  # short: PM2 keeps its sockets here
    config["apps"][0].update(
        args=["monitor", "--interval", "1", "--listen", f"127.0.0.1:{port}", *sets], cwd=str(home)
    )
    (home / "ecosystem.json").write_text(json.dumps(config), encoding="utf-8")
    env = {
        **os.environ,
        "PM2_HOME": str(home),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }

    def run_pm2(*args: str) -> str:
        completed = subprocess.run([pm2, *args], env=env, capture_output=True, text=True, timeout=60)
        assert completed.returncode == 0, completed.stdout + completed.stderr
        return completed.stdout

    try:
        run_pm2("start", str(home / "ecosystem.json"))
        wait_for_metrics(f"http://127.0.0.1:{port}/metrics", None, runs=1)
        run_pm2("stop", "spark-monitor")
        (process,) = json.loads(run_pm2("jlist"))
        assert (process["pm2_env"]["status"], process["pm2_env"]["restart_time"]) == ("stopped", 0)
        log = Path(process["pm2_env"]["pm_err_log_path"]).read_text(encoding="utf-8")
        assert "spark: monitor stopped after" in log
        assert "Traceback" not in log
    finally:
        subprocess.run([pm2, "kill"], env=env, capture_output=True, timeout=60)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def port_counting_server() -> Iterator[tuple[str, set[int]]]:
    """A keep-alive aiohttp server on its own thread answering 200; the set of client ports it saw
    (one per TCP connection)."""
    import asyncio

    from aiohttp import web

    ports: set[int] = set()

    async def handle(request: web.Request) -> web.Response:
        assert request.transport is not None
        ports.add(request.transport.get_extra_info("peername")[1])
        return web.Response(text="ok")

    loop = asyncio.new_event_loop()
    app = web.Application()
    app.router.add_get("/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    port = free_port()

    async def start() -> None:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=10)
    try:
        yield f"http://127.0.0.1:{port}", ports
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


@pytest.mark.parametrize("cycles", [3, 8], ids=["three-cycles", "eight-cycles"])
def test_cycles_share_one_client_and_its_connections(port_counting_server, tmp_path, cycles):
    """A monitor's cycles run on one client: connections opened in the first cycle carry the next ones
    (a fresh client per cycle opened new connections every time), and every cycle still passes."""
    base, ports = port_counting_server
    suite = tmp_path / "two.toml"
    suite.write_text(
        f'[[checks]]\nname = "a"\nkind = "http"\nurl = "{base}/a"\n\n'
        f'[[checks]]\nname = "b"\nkind = "http"\nurl = "{base}/b"\n',
        encoding="utf-8",
    )
    watched = watch(pipeline.prepare_run("monitor", profile_ref="dev", suite_ref=str(suite)), cycles)
    assert [o.result for o in watched.outcomes] == ["pass"] * cycles
    assert 1 <= len(ports) <= 2, ports  # two checks at once: at most two connections, whatever the cycles

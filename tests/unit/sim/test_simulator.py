"""The simulated platform behaves like the Spark platform: its endpoints, its real /metrics expositions,
a health API that reports what it measured, and ``spark sim`` as a process a user starts and stops."""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import tomllib
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from spark_ops.sim import SERVICES, Simulator, parse_fault

PAGES = ("/", "/dashboard", "/portfolio", "/strategies", "/settings")
BACKENDS = ("executor-1", "executor-2", "marketdata")
METRICS_PATH = {"web": "/api/tools/metrics", **dict.fromkeys(BACKENDS, "/metrics")}
PM2_NAMES = {"spark-web-next", "spark-executor-1", "spark-executor-2", "spark-marketdata"}
READY_TIMEOUT_S = 20.0
HISTOGRAM_COUNT = "spark_http_request_duration_seconds_count"


def get(sim: Simulator, service: str, path: str) -> httpx.Response:
    """One GET on a fresh connection (no keep-alive carried between calls)."""
    return httpx.get(sim.urls[service] + path, timeout=5.0)


def scrape(sim: Simulator, service: str) -> str:
    response = get(sim, service, METRICS_PATH[service])
    assert response.status_code == 200
    return response.text


def sample_value(exposition: str, sample_name: str, **labels: str) -> float:
    """The value of one sample in a Prometheus exposition, parsed by prometheus_client's own parser."""
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == sample_name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    raise AssertionError(f"no sample {sample_name}{labels} in the exposition")


def health(sim: Simulator) -> dict[str, Any]:
    response = get(sim, "web", "/api/healthz")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# --- endpoints -------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PAGES, ids=lambda path: path.strip("/") or "home")
def test_web_serves_the_five_pages_as_html(sim, path):
    """Each of the platform's five pages answers 200 with an HTML document, as the smoke suite expects."""
    response = get(sim, "web", path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "<html" in response.text.lower()


def test_healthz_answers_the_spec_shape(sim):
    """/api/healthz answers SPEC's JSON: status UP, numbers for slo.latencyP95/errorRate/staleness, a time."""
    response = get(sim, "web", "/api/healthz")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    document = response.json()
    assert document["status"] == "UP"
    slo = document["slo"]
    assert all(is_number(slo[key]) for key in ("latencyP95", "errorRate", "staleness")), slo
    assert slo["latencyP95"] >= 0
    assert 0 <= slo["errorRate"] <= 1
    assert slo["staleness"] >= 0
    datetime.strptime(document["timestamp"], "%Y-%m-%dT%H:%M:%SZ")


def check_exposition(response: httpx.Response) -> None:
    assert response.headers["content-type"].startswith("text/plain")
    names = {family.name for family in text_string_to_metric_families(response.text)}
    assert "spark_http_requests" in names


def check_status(response: httpx.Response) -> None:
    document = response.json()
    assert set(document) == set(SERVICES)
    assert all(entry["listening"] and entry["faults"] == [] for entry in document.values())


def check_canary(response: httpx.Response) -> None:
    document = response.json()
    assert is_number(document["latencyP95"])
    assert is_number(document["errorRate"])
    assert is_number(document["samples"])


def check_risk_report(response: httpx.Response) -> None:
    document = response.json()
    assert document["status"] == "UP"
    assert set(document["slo"]) >= {"latencyP95", "errorRate", "staleness"}
    assert document["faults"] == {}


def check_pm2(response: httpx.Response) -> None:
    processes = response.json()
    assert {process["name"] for process in processes} == PM2_NAMES
    for process in processes:
        assert process["pm2_env"]["status"] == "online"
        assert process["pm2_env"]["restart_time"] == 0
        assert process["monit"]["memory"] > 0


@pytest.mark.parametrize(
    ("path", "check"),
    [
        pytest.param("/api/tools/metrics", check_exposition, id="metrics"),
        pytest.param("/api/tools/status", check_status, id="status"),
        pytest.param("/api/tools/canary", check_canary, id="canary"),
        pytest.param("/api/tools/risk-report", check_risk_report, id="risk-report"),
        pytest.param("/api/tools/pm2", check_pm2, id="pm2"),
    ],
)
def test_web_serves_the_tools_apis(sim, path, check: Callable[[httpx.Response], None]):
    """The web's tool APIs answer 200 with their documents (PM2's list in the ``pm2 jlist`` shape)."""
    response = get(sim, "web", path)
    assert response.status_code == 200
    check(response)


@pytest.mark.parametrize("service", BACKENDS)
def test_backends_serve_healthz(sim, service):
    """Each back end answers /healthz with 200 and JSON saying it is UP, as the gate's executor.up expects."""
    response = get(sim, service, "/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "UP"


# --- /metrics --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "expected_bytes"),
    [
        pytest.param("executor-1", 8500, id="executor-1-8.5KB"),
        pytest.param("executor-2", 8500, id="executor-2-8.5KB"),
        pytest.param("marketdata", 7900, id="marketdata-7.9KB"),
    ],
)
def test_backend_metrics_are_real_expositions_of_the_platform_size(sim, service, expected_bytes):
    """/metrics parses as Prometheus text, holds process metrics and is the platform's size (within 15 %)."""
    response = get(sim, service, "/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    families = {family.name: family for family in text_string_to_metric_families(response.text)}
    assert {"spark_http_requests", "spark_http_request_duration_seconds"} <= set(families)
    assert families["process_resident_memory_bytes"].samples[0].value > 0
    assert 0.85 * expected_bytes <= len(response.content) <= 1.15 * expected_bytes


@pytest.mark.parametrize(
    ("service", "path"),
    [
        pytest.param("executor-1", "/healthz", id="executor-1"),
        pytest.param("executor-2", "/healthz", id="executor-2"),
        pytest.param("marketdata", "/healthz", id="marketdata"),
        pytest.param("web", "/dashboard", id="web"),
    ],
)
def test_request_counter_and_histogram_move_as_the_service_serves(sim, service, path):
    """Serving N requests adds exactly N to that path's request counter and latency histogram count."""
    labels = {"service": service, "path": path}
    before = scrape(sim, service)
    for _ in range(3):
        assert get(sim, service, path).status_code == 200
    after = scrape(sim, service)
    for sample_name, extra in (("spark_http_requests_total", {"code": "200"}), (HISTOGRAM_COUNT, {})):
        selector = {**labels, **extra}
        moved = sample_value(after, sample_name, **selector) - sample_value(before, sample_name, **selector)
        assert moved == 3, sample_name


def ci_is_set() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def promtool_or_skip() -> str:
    """promtool's path; a missing promtool skips locally but fails under CI, where the check is required."""
    path = shutil.which("promtool")
    if path is None:
        if ci_is_set():
            pytest.fail("promtool is not installed, and CI is set: install it (Debian: prometheus)")
        pytest.skip("promtool is not installed (this test is required when CI is set)")
    return path


@pytest.mark.parametrize(
    ("which", "ci", "outcome"),
    [
        pytest.param(None, None, pytest.skip.Exception, id="missing-locally-skips"),
        pytest.param(None, "true", pytest.fail.Exception, id="missing-under-ci-fails"),
        pytest.param(None, "false", pytest.skip.Exception, id="missing-ci-false-skips"),
        pytest.param("/usr/bin/promtool", "true", None, id="present-runs"),
    ],
)
def test_promtool_requirement_never_skips_under_ci(monkeypatch, which, ci, outcome):
    """The promtool check may skip on a laptop without promtool, but never silently under CI=true."""
    monkeypatch.setattr(shutil, "which", lambda name: which)
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    if outcome is None:
        assert promtool_or_skip() == which
    else:
        with pytest.raises(outcome):
            promtool_or_skip()


@pytest.mark.parametrize("service", SERVICES)
def test_promtool_accepts_every_exposition(sim, service):
    """``promtool check metrics`` accepts each service's exposition, as a real Prometheus would scrape it."""
    promtool = promtool_or_skip()
    get(sim, service, "/healthz" if service != "web" else "/")  # some traffic: non-zero histograms
    result = subprocess.run(
        [promtool, "check", "metrics"],
        input=scrape(sim, service),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- /api/healthz reports what it measured ----------------------------------------------------------


def test_healthz_latency_reports_a_slow_backend(sim):
    """With executor-1 answering in 200 ms, the health API's p95 shows it (>= 150 ms): measured, not fixed."""
    assert health(sim)["slo"]["latencyP95"] < 150
    sim.apply(parse_fault("executor-1=slow:200"))
    assert health(sim)["slo"]["latencyP95"] >= 150


def test_healthz_error_rate_reports_a_failing_backend(sim):
    """With executor-2 answering 500, the error rate rises above 0 and the platform is DEGRADED."""
    assert health(sim)["slo"]["errorRate"] == 0
    sim.apply(parse_fault("executor-2=errors:1"))
    document = health(sim)
    assert document["slo"]["errorRate"] > 0
    assert document["status"] == "DEGRADED"
    assert document["services"]["executor-2"] == "DOWN"


def test_healthz_staleness_grows_while_the_feed_is_stale(sim):
    """``marketdata=stale:60`` starts staleness at 60 s and it keeps growing; clearing it makes data fresh."""
    sim.apply(parse_fault("marketdata=stale:60"))
    first = health(sim)["slo"]["staleness"]
    time.sleep(0.6)
    second = health(sim)["slo"]["staleness"]
    assert 60 <= first < second
    sim.clear("marketdata")
    assert health(sim)["slo"]["staleness"] < 5


def total_ticks(sim: Simulator) -> float:
    """All market-data ticks received so far, summed over symbols and venues."""
    families = text_string_to_metric_families(scrape(sim, "marketdata"))
    return sum(s.value for f in families for s in f.samples if s.name == "spark_marketdata_ticks_total")


def test_healthy_feed_ticks_and_stays_fresh(sim):
    """A healthy market-data feed ticks: staleness stays under 5 s and the tick counter moves."""
    before = total_ticks(sim)
    time.sleep(0.8)
    assert total_ticks(sim) > before
    assert health(sim)["slo"]["staleness"] < 5


# --- `spark sim` as a process --------------------------------------------------------------------------


@contextmanager
def sim_process(*args: str, cwd: Path) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    """``python -m spark_ops sim ARGS``: yields the process and its output up to the ready line."""
    process = subprocess.Popen(
        [sys.executable, "-m", "spark_ops", "sim", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    seen: list[str] = []
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not seen or not seen[-1].startswith("faults:"):
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"spark sim printed no ready line within {READY_TIMEOUT_S:g} s: {''.join(seen)}")
            if line is None:
                pytest.fail(f"spark sim ended before it was ready: {''.join(seen)}")
            seen.append(line)
        yield process, seen
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def printed_urls(lines: list[str]) -> dict[str, str]:
    """The ``SERVICE URL`` lines ``spark sim`` prints."""
    urls = {}
    for line in lines:
        parts = line.split()
        if len(parts) == 2 and parts[0] in SERVICES:
            urls[parts[0]] = parts[1]
    return urls


def refuses(url: str) -> bool:
    try:
        httpx.get(url, timeout=2.0)
    except httpx.ConnectError:
        return True
    return False


@pytest.mark.parametrize(
    ("faults", "exit_code", "failing"),
    [
        pytest.param([], 0, set(), id="healthy-passes"),
        pytest.param(["--fault", "marketdata=stale:60"], 1, {"healthz.slo.staleness"}, id="stale-fails"),
    ],
)
def test_spark_sim_process_writes_a_profile_the_gate_judges(spark, tmp_path, faults, exit_code, failing):
    """``spark sim --ports auto --write-profile F`` prints its URLs and writes a profile the gate can use."""
    profile = tmp_path / "sim-profile.toml"
    args = ("--ports", "auto", "--write-profile", str(profile), *faults)
    with sim_process(*args, cwd=tmp_path) as (process, out):
        urls = printed_urls(out)
        assert set(urls) == set(SERVICES)
        written = tomllib.loads(profile.read_text(encoding="utf-8"))
        assert {name: entry["url"] for name, entry in written["services"].items()} == urls
        result = spark("gate", "--profile", str(profile), "--exit-on-fail", "-f", "json", "--no-evidence")
        document = json.loads(result.stdout)
        assert result.exit_code == exit_code, result.stdout + result.stderr
        assert {c["name"] for c in document["checks"] if c["status"] != "PASS"} == failing
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=5) == 0


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT-ctrl-c"])
def test_spark_sim_process_stops_cleanly(tmp_path, stop_signal):
    """SIGTERM (a supervisor) or Ctrl-C stops ``spark sim`` within seconds: exit 0, ports released."""
    if stop_signal == signal.SIGINT and signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        pytest.skip("SIGINT is ignored in this session, so the child inherits that: cannot rehearse Ctrl-C")
    with sim_process("--ports", "auto", cwd=tmp_path) as (process, out):
        urls = printed_urls(out)
        assert not refuses(urls["web"] + "/")
        started = time.monotonic()
        process.send_signal(stop_signal)
        assert process.wait(timeout=5) == 0
        assert time.monotonic() - started < 5
        assert process.stderr is not None
        stderr = process.stderr.read()
        assert "simulator stopped" in stderr
        assert "Traceback" not in stderr
        assert all(refuses(url + "/") for url in urls.values())


def test_spark_sim_on_taken_default_port_exits_2_with_one_line(tmp_path):
    """``spark sim --ports default`` when 3003 is taken: exit 2 and one line naming the port, no traceback."""
    with socket.socket() as blocker:
        try:
            blocker.bind(("127.0.0.1", 3003))
        except OSError:
            pytest.skip("port 3003 is already in use on this machine, so the conflict cannot be staged")
        blocker.listen()
        result = subprocess.run(
            [sys.executable, "-m", "spark_ops", "sim", "--ports", "default"],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=30,
            check=False,
        )
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "3003" in lines[0]


@pytest.mark.parametrize(
    ("max_entries", "records", "expire"),
    [(20_000, 500, False), (50, 500, False), (1000, 300, True), (10, 3, False)],
    ids=["under-the-cap", "cap-evicts-oldest", "old-entries-expire", "few"],
)
def test_latency_window_matches_sorting_the_window(monkeypatch, max_entries, records, expire):
    """The health window's p95, error rate and count equal those of sorting what it holds (nearest rank),
    as entries are evicted past the cap and expire past the window."""
    import math
    import random

    from spark_ops.sim import services as platform

    now = [1000.0]
    monkeypatch.setattr(platform.time, "monotonic", lambda: now[0])
    window = platform.LatencyWindow(max_entries=max_entries)
    kept: list[tuple[float, float, bool]] = []
    rng = random.Random(7)
    for i in range(records):
        now[0] += 0.5 if expire and i % 2 else 0.0
        latency, error = round(rng.uniform(0, 50), 1), rng.random() < 0.1  # ties happen, on purpose
        window.record(latency, error)
        kept = [*kept, (now[0], latency, error)][-max_entries:]
        kept = [entry for entry in kept if entry[0] >= now[0] - platform.WINDOW_S]
        latencies = sorted(entry[1] for entry in kept)
        expected_p95 = latencies[min(len(latencies) - 1, math.ceil(0.95 * len(latencies)) - 1)]
        errors = sum(entry[2] for entry in kept) / len(kept)
        assert window.snapshot() == (expected_p95, errors, len(kept))
    # Each case exercises what its id says: the cap evicted entries, or time expired some.
    if records > max_entries:
        assert len(kept) == max_entries
    if expire:
        assert len(kept) < min(records, max_entries), "nothing expired: the clock never passed WINDOW_S"


def test_spark_sim_role_labels_every_series(tmp_path):
    """``spark sim --role canary`` serves expositions whose every series carries role="canary"."""
    with sim_process("--ports", "auto", "--role", "canary", cwd=tmp_path) as (_process, lines):
        urls = printed_urls(lines)
        with urllib.request.urlopen(urls["executor-1"] + "/metrics", timeout=10) as answer:
            text = answer.read().decode()
    series = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert series
    assert all('role="canary"' in line for line in series), [s for s in series if 'role="canary"' not in s][
        :3
    ]

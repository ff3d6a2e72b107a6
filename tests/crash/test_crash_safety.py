"""SIGKILL never leaves a torn archive or run behind, and ``spark monitor`` keeps flat memory while flapping.

Every command here is a real ``spark`` subprocess killed with SIGKILL at a moment the test waits for (the
archive's temporary file has grown, the checks are waiting on a slow loopback server, the run's staging
folder is being filled), never after a blind sleep. Afterwards every zip under a final name verifies,
every run folder under a final name holds a complete result.json, what the dead process left is hidden,
ignored by ``spark evidence list`` and export, and removed by the next writer; the next run and export
succeed.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import free_port, write_suite

from spark_ops import clock
from spark_ops.evidence.store import RUN_ID
from spark_ops.fsio import STAGING_PREFIX

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform != "linux", reason="reads /proc for descriptors and RSS"),
]

HEALTH = {"status": "UP", "slo": {"latencyP95": 14, "errorRate": 0.0, "staleness": 0}}
EXPOSITION = b"# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes 5.4e+07\n"
WAIT_S = 60.0  # how long to wait for a moment to come before the test fails (a machine under load)


# --- a platform on a real loopback socket, whose behaviour the test changes -------------------------


@dataclass
class Answer:
    status: int = 200
    body: bytes = b"<html>Spark</html>"
    content_type: str = "text/html"
    reset: bool = False  # hang up without answering


@dataclass
class Platform:
    """Serves ``answer(path)``; ``hold`` keeps every request waiting until released."""

    answer: Callable[[str], Answer]
    hold: threading.Event = field(default_factory=threading.Event)  # set: requests wait
    release: threading.Event = field(default_factory=threading.Event)
    arrived: threading.Event = field(default_factory=threading.Event)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def sets(self) -> list[str]:
        services = ("web", "executor-1", "executor-2", "marketdata")
        return [arg for name in services for arg in ("--set", f"services.{name}.url={self.url}")]


def healthy(path: str) -> Answer:
    """The Spark platform in good health."""
    if path == "/api/healthz":
        current = {**HEALTH, "timestamp": clock.iso_now()}  # a health answer says when it was made
        return Answer(body=json.dumps(current).encode(), content_type="application/json")
    if path == "/metrics":
        return Answer(body=EXPOSITION, content_type="text/plain; version=0.0.4")
    if path == "/healthz":
        return Answer(body=b'{"ok": true}', content_type="application/json")
    return Answer()


@pytest.fixture
def serve() -> Iterator[Callable[[Callable[[str], Answer]], Platform]]:
    """Start platforms on free loopback ports; all stop (releasing held requests) at the end of the test."""
    servers: list[tuple[ThreadingHTTPServer, Platform]] = []

    def start(answer: Callable[[str], Answer]) -> Platform:
        platform = Platform(answer)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = (
                True  # headers and body go out as two writes: no 40 ms delayed-ACK stall
            )

            def do_GET(self) -> None:
                platform.arrived.set()
                if platform.hold.is_set():
                    platform.release.wait(WAIT_S)
                reply = platform.answer(self.path)
                if reply.reset:
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
                    self.close_connection = True
                    return
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        platform.port = server.server_address[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append((server, platform))
        return platform

    yield start
    for server, platform in servers:
        platform.release.set()
        server.shutdown()
        server.server_close()


# --- running spark in a subprocess -----------------------------------------------------------------


def spark_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SPARK_EVIDENCE_DIR", "GITHUB_ACTIONS")}
    env.pop("SPARK_EXIT_ON_FAIL", None)
    return env


def start_spark(cwd: Path, *args: str, prelude: str = "") -> subprocess.Popen[bytes]:
    """``spark ARGS`` as a real process in ``cwd``; ``prelude`` is Python run first in that process."""
    code = f"{prelude}\nfrom spark_ops.cli import main\nmain()\n"
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        env=spark_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def run_spark(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "spark_ops", *args],
        cwd=cwd,
        env=spark_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


def wait_for(what: str, condition: Callable[[], Any], process: subprocess.Popen[bytes]) -> Any:
    """Poll ``condition`` every millisecond until it is truthy; fail if the process ended first."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        if process.poll() is not None:
            _, err = process.communicate()
            pytest.fail(f"spark exited ({process.returncode}) before {what}: {err.decode()[-2000:]}")
        time.sleep(0.001)
    process.kill()
    pytest.fail(f"timed out waiting for {what}")


def kill(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL, "the process ended before the kill landed"


# --- what a reader must find after a crash ----------------------------------------------------------


def assert_no_torn_runs(evidence: Path) -> list[str]:
    """Every run folder under a final name holds a complete result.json; returns their names."""
    runs = evidence / "runs"
    final = []
    for entry in sorted(runs.iterdir()) if runs.is_dir() else []:
        if RUN_ID.match(entry.name):
            document = json.loads((entry / "result.json").read_bytes())
            assert document["schema"] == "spark-ops/result/v1", entry
            assert {"risk", "summary", "checks", "exit_code"} <= document.keys(), entry
            final.append(entry.name)
        else:
            assert entry.name.startswith(STAGING_PREFIX), f"a stray entry that looks like neither: {entry}"
    return final


def assert_archives_verify(folder: Path, cwd: Path) -> list[str]:
    """Every zip under a final name in ``folder`` passes ``spark evidence verify``; returns their names."""
    names = []
    for archive in sorted(folder.glob("*.zip")):
        if archive.name.startswith("."):
            continue
        verified = run_spark(cwd, "evidence", "verify", str(archive))
        assert verified.returncode == 0, verified.stdout + verified.stderr
        names.append(archive.name)
    return names


def listed(cwd: Path) -> list[dict[str, Any]]:
    shown = run_spark(cwd, "evidence", "list", "--format", "json")
    assert shown.returncode == 0, shown.stderr
    entries: list[dict[str, Any]] = json.loads(shown.stdout)
    return entries


def staging_entries(folder: Path) -> list[str]:
    return (
        sorted(p.name for p in folder.iterdir() if p.name.startswith(STAGING_PREFIX))
        if folder.is_dir()
        else []
    )


# --- SIGKILL during an export ---------------------------------------------------------------------------


def big_log(path: Path, megabytes: int) -> None:
    """A log of hex lines: about half of it survives deflate, so the archive grows while it is written."""
    data = os.urandom(megabytes * 1024 * 1024 // 2).hex()
    with path.open("w", encoding="ascii") as out:
        for start in range(0, len(data), 127):
            out.write(f"{data[start : start + 127]}\n")


def open_archive_size(pid: int, out_dir: Path) -> int:
    """Bytes written so far to the archive the export process has open in ``out_dir`` (0 when none yet).

    With O_TMPFILE the file has no name: /proc shows the descriptor as ``<out_dir>/#<inode> (deleted)``.
    """
    fds = Path(f"/proc/{pid}/fd")
    try:
        entries = list(fds.iterdir())
    except OSError:
        return 0
    for fd in entries:
        try:
            target = Path(os.readlink(fd).removesuffix(" (deleted)"))
            if target.parent == out_dir and (target.name.startswith(("#", STAGING_PREFIX))):
                return fd.stat().st_size
        except OSError:
            continue
    return 0


# Without O_TMPFILE (other systems, some filesystems) the archive is a hidden named temporary file.
# Forcing that path in the killed process is the only way to test it on Linux: hence the prelude.
NO_TMPFILE = "import spark_ops.fsio as f; f.anonymous_file = lambda folder: None"


@pytest.mark.parametrize("prelude", ["", NO_TMPFILE], ids=["o-tmpfile", "named-temporary-file"])
def test_sigkill_during_export_leaves_no_torn_archive_and_the_next_export_succeeds(serve, tmp_path, prelude):
    """An export killed mid-write leaves no zip under a final name; the next export packs the same runs."""
    platform = serve(healthy)
    kept = run_spark(tmp_path, "gate", *platform.sets())
    assert kept.returncode == 0, kept.stderr
    big_log(tmp_path / "big.log", megabytes=48)
    out_dir = (tmp_path / "evidence").resolve()

    export = start_spark(tmp_path, "evidence", "export", "--include", "big.log", prelude=prelude)
    written = wait_for(
        "the archive to hold 2 MB", lambda: open_archive_size(export.pid, out_dir) > 2 << 20, export
    )
    kill(export)

    assert not assert_archives_verify(out_dir, tmp_path), "a killed export left a zip under a final name"
    left = staging_entries(out_dir)
    if prelude:  # hidden, and of this shape, so the next export knows to remove it
        assert len(left) == 1 and re.fullmatch(rf"\{STAGING_PREFIX}{export.pid}-.*\.zip", left[0]), left
    else:
        assert left == [], "an O_TMPFILE archive has no name to leave behind"
    assert not [e for e in listed(tmp_path) if e["kind"] == "archive"], "evidence list shows a torn archive"
    assert not (out_dir / ".last-export.json").exists(), "a killed export marked the runs as exported"

    again = run_spark(tmp_path, "evidence", "export", "--include", "big.log")
    assert again.returncode == 0, again.stderr
    (archive,) = assert_archives_verify(out_dir, tmp_path)
    complete = (out_dir / archive).stat().st_size
    assert written < complete // 2, f"the kill landed late ({written} of {complete} bytes): nothing torn"
    assert staging_entries(out_dir) == [], "the next export did not remove what the killed one left"
    assert "exported 1 runs" in again.stderr


# --- SIGKILL during a gate run --------------------------------------------------------------------------


def big_json_answer(path: str) -> Answer:
    """Health JSON padded to 4 MB: each check keeps a body this big as evidence, so keeping takes a while."""
    if path.startswith("/big/"):
        padded = {**HEALTH, "pad": "x" * (4 << 20)}
        return Answer(body=json.dumps(padded).encode(), content_type="application/json")
    return healthy(path)


def slow_gate_suite(folder: Path) -> Path:
    return write_suite(
        folder,
        *(
            {
                "name": f"big.{n}",
                "kind": "http",
                "service": "web",
                "path": f"/big/{n}",
                "expect_json": [{"field": "status", "value": "UP"}],
            }
            for n in range(8)
        ),
    )


def staging_file(runs: Path) -> bool:
    """True once a staging folder of the run store holds a kept body: the run is being written."""
    return runs.is_dir() and any(runs.glob(f"{STAGING_PREFIX}*/checks/*/body.json"))


@pytest.mark.parametrize("moment", ["while-checks-wait", "while-keeping-evidence"])
def test_sigkill_during_a_gate_run_leaves_no_torn_run_and_the_next_run_and_export_succeed(
    serve, tmp_path, moment
):
    """A gate killed waiting on a slow server or while keeping its run leaves nothing that looks whole."""
    platform = serve(big_json_answer)
    suite = slow_gate_suite(tmp_path)
    runs = tmp_path / "evidence" / "runs"
    if moment == "while-checks-wait":
        platform.hold.set()
    gate = start_spark(
        tmp_path, "gate", "--suite", str(suite), "--report-json", "report.json", *platform.sets()
    )
    if moment == "while-checks-wait":
        wait_for("the checks to reach the slow server", platform.arrived.is_set, gate)
    else:
        wait_for("the run's staging folder to fill", lambda: staging_file(runs), gate)
    kill(gate)
    platform.release.set()
    platform.hold.clear()

    assert assert_no_torn_runs(tmp_path / "evidence") == [], "a killed run left a folder under a final name"
    report = tmp_path / "report.json"
    if moment == "while-checks-wait":
        assert not report.exists(), "a run killed before its verdict left a report"
    else:  # written before the run is kept: it is whole
        assert json.loads(report.read_bytes())["schema"] == "spark-ops/result/v1"
    assert staging_entries(tmp_path) == [], "the report's temporary file was left under the working folder"
    if moment == "while-keeping-evidence":
        assert staging_entries(runs), "the kill was meant to land while the run was being kept"
    assert not [e for e in listed(tmp_path) if e["kind"] == "run"], "evidence list shows the killed run"
    nothing = run_spark(tmp_path, "evidence", "export", "--all")
    assert nothing.returncode == 2 and "no runs" in nothing.stderr, nothing.stderr

    again = run_spark(tmp_path, "gate", "--suite", str(suite), "--exit-on-fail", *platform.sets())
    assert again.returncode == 0, again.stderr
    (kept,) = assert_no_torn_runs(tmp_path / "evidence")
    assert staging_entries(runs) == [], "the next run did not remove what the killed one left"
    exported = run_spark(tmp_path, "evidence", "export")
    assert exported.returncode == 0, exported.stderr
    (archive,) = assert_archives_verify(tmp_path / "evidence", tmp_path)
    members = run_spark(tmp_path, "evidence", "list", "--format", "json")
    assert archive in members.stdout and kept in members.stdout


TORN_RUNS = {
    # what a run folder under a final name holds -> its result.json bytes (None: no result.json)
    "torn-result": b'{"schema": "spark-ops/result/v1", "command": "gate", "ri',
    "no-result": None,
    "not-an-object": b"[]",
}


@pytest.mark.parametrize("content", list(TORN_RUNS.values()), ids=list(TORN_RUNS))
def test_a_run_folder_without_a_whole_result_is_flagged_incomplete_everywhere(spark, tmp_path, content):
    """A run without a readable result.json (not one spark wrote) is INCOMPLETE in list, export and report."""
    folder = tmp_path / "evidence" / "runs" / "20261201_120000_gate"
    folder.mkdir(parents=True)
    (folder / "run.log").write_text("2026-12-01T12:00:00Z gate profile=dev suite=gate\n", encoding="utf-8")
    if content is not None:
        (folder / "result.json").write_bytes(content)

    (entry,) = json.loads(spark("evidence", "list", "--format", "json").stdout)
    assert (entry["name"], entry["risk"]) == (folder.name, "INCOMPLETE")
    exported = spark("evidence", "export", "--all")
    assert exported.exit_code == 0, exported.stderr
    assert f"note: run {folder.name} has no readable result.json" in exported.stderr
    with zipfile.ZipFile(exported.stdout.strip()) as archive:
        (summary,) = json.loads(archive.read("manifest.json"))["runs"]
    assert summary["risk"] == "INCOMPLETE"
    report = json.loads(spark("report", "--since", "1000d", "--format", "json", "--no-store").stdout)
    assert report["risk"]["level"] == "HIGH", report["risk"]


# --- spark monitor against a flapping target ----------------------------------------------------------


def flapping() -> Callable[[str], Answer]:
    """Up and down by turns: each request for ``/`` (one per cycle) flips the whole platform.

    Down is a 503 page, health JSON that says DOWN without its SLO fields, and a /metrics that hangs up:
    every kind of series the monitor keeps is set, then removed, then set again.
    """
    state = {"up": False}
    lock = threading.Lock()

    def answer(path: str) -> Answer:
        if path == "/":
            with lock:
                state["up"] = not state["up"]
        if state["up"]:
            return healthy(path)
        if path == "/api/healthz":
            return Answer(body=b'{"status": "DOWN"}', content_type="application/json")
        if path == "/metrics":
            return Answer(reset=True)
        return Answer(status=503, body=b"down")

    return answer


FLAPPING_SUITE = (
    {"name": "ui.up", "kind": "http", "service": "web", "path": "/", "severity": "critical"},
    {
        "name": "healthz.status",
        "kind": "http",
        "service": "web",
        "path": "/api/healthz",
        "expect_json": [{"field": "status", "value": "UP"}],
    },
    {
        "name": "healthz.slo.latencyP95",
        "kind": "slo",
        "service": "web",
        "path": "/api/healthz",
        "field": "slo.latencyP95",
        "max": "slo.latency_p95_ms",
    },
    {"name": "metrics.web", "kind": "metrics", "service": "web", "min_bytes": 10},
)
WARM_UP_CYCLES = 100  # imports, caches and the allocator's arenas settle first
MEASURED_CYCLES = 500
MIN_MEASURED_CYCLES = 250  # fewer within the time bound (a loaded machine) is too few to judge
RUN_BOUND_S = 240.0
MAX_RSS_GROWTH_KB = 6 * 1024  # a leak of 12 KB a cycle would cross it
SAMPLE_EVERY = 50


def rss_kb(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
    assert match, status
    return int(match[1])


def test_monitor_against_a_flapping_target_keeps_flat_memory(serve, tmp_path):
    """Hundreds of up/down cycles at a tiny interval: RSS grows under 6 MB from steady state to the end."""
    platform = serve(flapping())
    suite = write_suite(tmp_path, *FLAPPING_SUITE)
    listen = f"127.0.0.1:{free_port()}"
    monitor = start_spark(
        tmp_path,
        "monitor",
        "--suite",
        str(suite),
        "--interval",
        "0.005",
        "--iterations",
        "100000",
        "--listen",
        listen,
        "--set",
        "defaults.retries=0",
        *platform.sets(),
    )
    cycles = {"last": 0, "results": set()}
    lines: list[str] = []

    def read_log() -> None:
        assert monitor.stderr is not None
        for raw in monitor.stderr:
            line = raw.decode(errors="replace").rstrip()
            lines.append(line)
            if match := re.match(r"spark: cycle (\d+): (\w+)", line):
                cycles["last"] = int(match[1])
                cycles["results"].add(match[2])

    reader = threading.Thread(target=read_log, daemon=True)
    reader.start()
    started = time.monotonic()
    samples: list[tuple[int, int]] = []  # (cycle, RSS kB) every SAMPLE_EVERY cycles, for the trend
    try:
        wait_for(f"{WARM_UP_CYCLES} cycles", lambda: cycles["last"] >= WARM_UP_CYCLES, monitor)
        samples.append((cycles["last"], rss_kb(monitor.pid)))
        first_cycle = samples[0][0]
        while cycles["last"] < first_cycle + MEASURED_CYCLES and time.monotonic() - started < RUN_BOUND_S:
            assert monitor.poll() is None, "\n".join(lines[-20:])
            if cycles["last"] >= samples[-1][0] + SAMPLE_EVERY:
                samples.append((cycles["last"], rss_kb(monitor.pid)))
            time.sleep(0.02)
        samples.append((cycles["last"], rss_kb(monitor.pid)))
        with socket.create_connection(("127.0.0.1", int(listen.rpartition(":")[2])), timeout=10) as sock:
            sock.sendall(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")
            exposition = b""
            while chunk := sock.recv(65536):
                exposition += chunk
    finally:
        monitor.send_signal(signal.SIGTERM)
        monitor.wait(timeout=60)
        reader.join(timeout=10)

    (first_cycle, first_rss), (last_cycle, last_rss) = samples[0], samples[-1]
    measured = last_cycle - first_cycle
    growth_kb = last_rss - first_rss
    took_ms = sorted(int(m[1]) for line in lines if (m := re.search(r"\((\d+) ms\)$", line)))
    print(
        f"monitor RSS (cycle, kB): {samples}; {growth_kb:+d} kB over {measured} cycles; "
        f"median cycle {took_ms[len(took_ms) // 2] if took_ms else '?'} ms"
    )
    assert measured >= MIN_MEASURED_CYCLES, f"only {measured} cycles in {RUN_BOUND_S:g} s"
    assert cycles["results"] >= {"pass", "fail"}, f"the target did not flap: {cycles['results']}"
    assert growth_kb < MAX_RSS_GROWTH_KB, f"RSS grew {growth_kb} kB over {measured} cycles"
    runs_total = re.findall(rb'spark_monitor_runs_total\{result="(\w+)"\} (\S+)', exposition)
    assert sum(float(value) for _, value in runs_total) >= last_cycle, exposition[-2000:]
    assert monitor.returncode == 0, "\n".join(lines[-20:])

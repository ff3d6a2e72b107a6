"""The analysis window end to end through the pipeline: intervals, early abort, errors, interruption."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import FakePlatform
from werkzeug import Request, Response

from spark_ops import pipeline
from spark_ops.analysis import AnalysisConfig, AnalysisPlan
from spark_ops.model import RunResult, Status
from spark_ops.sim import Simulator, parse_fault

HEALTH_STATUS = """
[[checks]]
name = "healthz.status"
kind = "http"
service = "web"
path = "/api/healthz"
expect_json = [{ field = "status", op = "==", value = "UP" }]
severity = "{severity}"
"""


def analyse(
    platform: FakePlatform,
    tmp_path: Path,
    plan: AnalysisPlan | None,
    *,
    severity: str = "critical",
    stop: threading.Event | None = None,
    on_interval: object = None,
) -> RunResult:
    suite = tmp_path / "suite.toml"
    suite.write_text(HEALTH_STATUS.replace("{severity}", severity), encoding="utf-8")
    sets = platform.sets()[1::2]
    prepared = replace(
        pipeline.prepare_run("canary", profile_ref="dev", suite_ref=str(suite), sets=sets), plan=plan
    )
    return pipeline.execute(prepared, enforce=True, stop=stop, on_interval=on_interval)  # type: ignore[arg-type]


def plan_of(count: int, interval_s: float = 0.05, **limits: int) -> AnalysisPlan:
    plan = AnalysisPlan.of(AnalysisConfig(count=count, interval_s=interval_s, **limits))
    assert plan is not None
    return plan


def flapping(platform: FakePlatform, every: int) -> list[str]:
    """Make /api/healthz answer DOWN on every ``every``-th request; returns the statuses it served."""
    served: list[str] = []

    def handle(request: Request) -> Response:
        if request.path != "/api/healthz":
            return platform._handle(request)
        status = "DOWN" if len(served) % every == every - 1 else "UP"
        served.append(status)
        return Response(
            json.dumps({**platform.document(), "status": status}), content_type="application/json"
        )

    platform.server.clear()
    platform.server.expect_request("/api/healthz").respond_with_handler(handle)
    return served


def test_an_intermittent_failure_a_single_shot_misses_is_caught_by_a_window(platform, tmp_path):
    """DOWN one answer in five: the single shot sees UP and passes; ten intervals see it and fail."""
    served = flapping(platform, every=5)
    single = analyse(platform, tmp_path, None)
    assert (single.results[0].status, single.exit_code, served) == (Status.PASS, 0, ["UP"])
    flapping(platform, every=5)
    window = analyse(platform, tmp_path, plan_of(10))
    (check,) = window.results
    assert check.status is Status.FAIL
    assert "1 of 5 measurements failed (failure_limit 0)" in check.message  # aborted after the 5th
    assert "JSON field 'status' = 'DOWN', expected == 'UP'" in check.message
    assert window.exit_code == 1


def test_a_deciding_failure_ends_the_window_within_one_interval(platform, tmp_path):
    """A critical check past its failure limit ends the analysis after the interval that decided it."""
    served = flapping(platform, every=3)
    seen: list[int] = []
    run = analyse(platform, tmp_path, plan_of(10, failure_limit=0), on_interval=lambda i, _: seen.append(i))
    assert run.window is not None
    assert run.window.ended.startswith("aborted: healthz.status FAIL")
    assert (run.window.taken, len(served), seen) == (3, 4 - 1, [0, 1, 2])
    assert [m.status for m in run.results[0].measurements] == [Status.PASS, Status.PASS, Status.FAIL]
    assert run.exit_code == 1


def test_a_failure_below_fail_on_does_not_end_the_window(platform, tmp_path):
    """A minor check's failure does not fail the run at fail_on high: the window runs to its end."""
    flapping(platform, every=3)
    run = analyse(platform, tmp_path, plan_of(6), severity="minor")
    assert run.window is not None and (run.window.taken, run.window.ended) == (6, "complete")
    assert run.results[0].status is Status.FAIL
    assert "2 of 6 measurements failed" in run.results[0].message


PROMQL = '[[checks]]\nname = "up"\nkind = "promql"\nquery = "up"\nmin = 1\nseverity = "{severity}"\n'


@pytest.mark.parametrize(
    ("severity", "taken", "ended", "exit_code"),
    [("minor", 4, "complete", 0), ("critical", 1, "aborted: up ERROR", 1)],
    ids=["minor-runs-to-the-end", "critical-ends-the-window"],
)
def test_a_window_where_every_measurement_errored_is_error_never_pass(
    platform, tmp_path, severity, taken, ended, exit_code
):
    """Argo #4479's fail-open: every measurement could not judge. Here the check is ERROR, never PASS."""
    suite = tmp_path / "suite.toml"
    suite.write_text(PROMQL.replace("{severity}", severity), encoding="utf-8")
    sets = [f"prometheus.url={platform.url}"]  # the fake platform is no Prometheus: every answer errors
    prepared = pipeline.prepare_run("canary", profile_ref="dev", suite_ref=str(suite), sets=sets)
    run = pipeline.execute(replace(prepared, plan=plan_of(4, consecutive_error_limit=10)), enforce=True)
    (check,) = run.results
    assert [m.status for m in check.measurements] == [Status.ERROR] * taken
    assert check.status is Status.ERROR
    assert f"{taken} of {taken} measurements could not judge" in check.message
    assert run.window is not None and run.window.ended.startswith(ended)
    assert run.exit_code == exit_code  # a minor ERROR is MEDIUM: below fail_on high, but never PASS


def test_an_interrupted_window_is_judged_on_what_it_measured_and_never_exits_0(platform, tmp_path):
    """A stop request (Ctrl-C, SIGTERM) ends the window; what was measured is judged; the exit is not 0."""
    stop = threading.Event()

    def after_two(index: int, _results: object) -> None:
        if index == 1:
            stop.set()

    run = analyse(platform, tmp_path, plan_of(20, interval_s=0.3), stop=stop, on_interval=after_two)
    assert run.window is not None
    assert run.window.ended == "interrupted"
    assert run.window.taken == 2
    (check,) = run.results
    assert [m.status for m in check.measurements] == [Status.PASS, Status.PASS]
    assert check.status is Status.INCONCLUSIVE  # 2 of 20 planned: too few to pass
    assert run.exit_code == 3


@pytest.mark.parametrize("count", [1, 3])
def test_every_measurement_is_kept_in_the_result(platform, tmp_path, count):
    """Each interval adds one measurement with its time, status and readings."""
    run = analyse(platform, tmp_path, plan_of(count))
    (check,) = run.results
    assert len(check.measurements) == count
    assert all(m.at.endswith("Z") and m.readings["status_code"] == 200 for m in check.measurements)
    assert [m.at for m in check.measurements] == sorted(m.at for m in check.measurements)


SMOKE_HEALTH = """
[[checks]]
name = "healthz.status"
kind = "http"
service = "web"
path = "/api/healthz"
expect_status = [200]
severity = "critical"
"""


def test_an_intermittent_simulator_fault_is_caught_by_a_10_interval_window_every_time(tmp_path):
    """web answers 503 for 200 ms of every second: single shots mostly miss it, a window of 10
    measurements 150 ms apart (closer than the fault lasts, longer than its period) catches it each time."""
    suite = tmp_path / "suite.toml"
    suite.write_text(SMOKE_HEALTH, encoding="utf-8")
    with Simulator(ports="auto", faults=[parse_fault("web=status:503@200ms/1s")]) as simulator:
        sets = simulator.profile_sets()
        single = pipeline.prepare_run("gate", profile_ref="dev", suite_ref=str(suite), sets=sets)
        shots = []
        for _ in range(20):
            shots.append(pipeline.execute(single, enforce=True).results[0].status)
            time.sleep(0.07)
        window = replace(single, plan=plan_of(10, interval_s=0.15))
        windows = [pipeline.execute(window, enforce=True) for _ in range(5)]
    # A shot lands in the 20 % on-phase about one time in five: under 10 passes of 20 is a 1-in-1,600 event.
    assert shots.count(Status.PASS) >= 10, shots
    for run in windows:
        (check,) = run.results
        assert check.status is Status.FAIL, check.message
        assert "-> 503" in check.message
        assert run.exit_code == 1


@pytest.mark.skipif(not hasattr(signal, "SIGTERM") or sys.platform == "win32", reason="POSIX signal delivery")
def test_sigterm_ends_a_cli_window_judged_kept_and_not_exit_0(platform, tmp_path):
    """`spark gate --duration` stopped by SIGTERM: what was measured is judged, printed and kept; exit 3."""
    suite = tmp_path / "suite.toml"
    suite.write_text(HEALTH_STATUS.replace("{severity}", "critical"), encoding="utf-8")
    command = [
        sys.executable,
        "-m",
        "spark_ops",
        "gate",
        "--suite",
        str(suite),
        "--exit-on-fail",
        "-f",
        "json",
    ]
    command += ["--duration", "60s", "--interval", "0.2s", "--evidence-dir", str(tmp_path / "evidence")]
    command += platform.sets()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    assert process.stderr is not None
    for line in process.stderr:  # one line per interval: stop after the third
        if "interval 3/300" in line or time.monotonic() > deadline:
            break
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 3, err
    document = json.loads(out)
    assert document["window"]["ended"] == "interrupted"
    assert 3 <= document["window"]["taken"] < 300
    assert document["checks"][0]["status"] == "INCONCLUSIVE"  # a few of 300 planned: too few to pass
    assert "run kept in" in err
    (kept,) = (tmp_path / "evidence" / "runs").iterdir()
    assert json.loads((kept / "result.json").read_text())["window"]["ended"] == "interrupted"

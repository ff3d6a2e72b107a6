"""The canary's latency probe measures the server, not spark-ops (issue 13, point 5).

1. Inside a full canary suite: the shipped `canary` suite run by `spark canary --mode real` (pages, health,
   three /metrics expositions, SLOs from the simulator in a child process), its latency probe pointed at
   a loopback server answering in 25 ms; `hey` at the same rate against the same server, interleaved,
   medians of p50/p95/p99. Goal: every percentile within 2 ms of hey's.
2. Under load: 50 `spark canary --mode mock` runs on this 2-core machine with a CPU-bound process beside
   them; each run's probe p95 against the p95 the simulator itself served in that run (its
   /api/healthz `slo.latencyP95`, read by the same run). Goal: never above 3x.

    python bench/canary_probe.py [--repeat 3] [--runs 50] [--quick]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _results import machine, record_rows, write_section
from _tools import ensure_tool, loopback_server, median, spark_command
from latency_hey import NAMES, hey_figures, hey_run

REPO = Path(__file__).resolve().parents[1]
GOAL_MS = 2.0
GOAL_RATIO = 3.0
RATE, WORKERS = 25.0, 5  # the canary suite's rate; hey: 5 workers x 5/s


def canary_suite(folder: Path, probe_url: str, count: int) -> Path:
    """The shipped canary suite, its latency probe sent to ``probe_url`` for ``count`` requests."""
    text = (REPO / "checks" / "canary.toml").read_text(encoding="utf-8")
    head, _, probe = text.rpartition("[[checks]]")
    if 'kind = "latency"' not in probe:
        raise SystemExit("the canary suite's last check is no longer the latency probe")
    probe = probe.replace('service = "web"\npath = "/"', f'url = "{probe_url}"').replace(
        "count = 50", f"count = {count}"
    )
    suite = folder / "canary-bench.toml"
    suite.write_text(f"{head}[[checks]]{probe}", encoding="utf-8")
    return suite


@contextmanager
def simulator() -> Iterator[list[str]]:
    """The simulator in a child process; yields the ``--set`` options pointing a profile at it."""
    sys.path.insert(0, str(REPO))
    from spark_ops.sim.child import SimulatorProcess

    with SimulatorProcess() as child:
        yield [option for pair in child.profile_sets() for option in ("--set", pair)]


def probe_figures(document: dict[str, object]) -> dict[str, float]:
    checks = document["checks"]
    assert isinstance(checks, list)
    probe = next(check for check in checks if check["kind"] == "latency")
    observed = probe["observed"]
    if observed.get("errors") or observed.get("missed_slots"):
        raise SystemExit(f"the probe did not get clean samples: {observed}")
    return {name: float(observed[f"{name}_ms"]) for name in NAMES}


def spark_canary(*arguments: str) -> dict[str, object]:
    command = [*spark_command(), "canary", *arguments, "--auto-ok", "--no-evidence", "--format", "json"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    if done.returncode not in (0, 1):
        raise SystemExit(f"spark canary failed (exit {done.returncode}): {done.stderr[-500:]}")
    return json.loads(done.stdout)


def inside_the_suite(hey: str, repeat: int, count: int) -> dict[str, dict[str, float]]:
    runs: dict[str, list[dict[str, float]]] = {"spark-ops": [], "hey": []}
    with (
        tempfile.TemporaryDirectory(prefix="spark-bench-canary-") as tmp,
        simulator() as sets,
        loopback_server(25) as base,
    ):
        suite = canary_suite(Path(tmp), f"{base}/", count)
        hey_figures(hey_run(hey, f"{base}/", RATE / WORKERS, WORKERS, WORKERS * 5))  # warm-up
        for _ in range(repeat):  # one tool at a time, interleaved
            document = spark_canary("--mode", "real", "--suite", str(suite), *sets)
            runs["spark-ops"].append(probe_figures(document))
            runs["hey"].append(hey_figures(hey_run(hey, f"{base}/", RATE / WORKERS, WORKERS, count)))
    return {tool: {n: median([run[n] for run in found]) for n in NAMES} for tool, found in runs.items()}


def under_load(runs: int) -> list[tuple[float, float]]:
    """(probe p95, the simulator's served p95) of ``runs`` mock canaries beside a CPU-bound process."""
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    pairs = []
    try:
        for _ in range(runs):
            document = spark_canary("--mode", "mock")
            checks = {check["name"]: check for check in document["checks"]}  # type: ignore[union-attr]
            health = checks["healthz.slo.latencyP95"]
            if "slo.latencyP95" not in health["readings"]:  # the health check itself failed: say so
                raise SystemExit(f"a mock canary read no served p95: {health['message']}")
            pairs.append((probe_figures(document)["p95"], float(health["readings"]["slo.latencyP95"])))
    finally:
        hog.kill()
        hog.wait()
    return pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--quick", action="store_true", help="short runs, few of them (a smoke run)")
    args = parser.parse_args()
    hey = ensure_tool("hey", "hey")
    repeat, runs, count = (1, 3, 50) if args.quick else (args.repeat, args.runs, 250)
    medians = inside_the_suite(hey, repeat, count)
    pairs = under_load(runs)
    difference = {name: medians["spark-ops"][name] - medians["hey"][name] for name in NAMES}
    within = all(abs(value) <= GOAL_MS for value in difference.values())
    ratios = [probe / max(served, 0.001) for probe, served in pairs]
    worst = max(ratios)
    lines = [
        "## Canary probe: the server measured, not spark-ops",
        "",
        f"Machine: {machine()}.",
        "",
        "Inside the full canary suite (`spark canary --mode real`, the other 12 checks against the "
        f"simulator in a child process), the probe at {RATE:g}/s for {count} requests to a loopback server "
        f"answering in 25 ms; hey at the same rate (-c {WORKERS} -q {RATE / WORKERS:g}) against the same "
        f"server; median of {repeat} interleaved runs:",
        "",
        "| tool | p50 ms | p95 ms | p99 ms |",
        "|---|---|---|---|",
    ]
    for tool, figures in medians.items():
        lines.append(f"| {tool} | " + " | ".join(f"{figures[name]:.2f}" for name in NAMES) + " |")
    lines += [
        "| difference | " + " | ".join(f"{difference[n]:+.2f}" for n in NAMES) + " |",
        "",
        f"Goal: every percentile within {GOAL_MS:g} ms of hey's: **{'met' if within else 'missed'}**.",
        "",
        f"{runs} `spark canary --mode mock` runs beside a CPU-bound process (`while True: pass`) on "
        f"{machine().split(', ')[1]}: the probe's p95 against the p95 the simulator served in the same run.",
        "",
        "| | probe p95 ms | served p95 ms | ratio |",
        "|---|---|---|---|",
        f"| median | {median([p for p, _ in pairs]):.2f} | {median([s for _, s in pairs]):.2f} | "
        f"{median(ratios):.2f}x |",
        f"| worst run | {pairs[ratios.index(worst)][0]:.2f} | {pairs[ratios.index(worst)][1]:.2f} | "
        f"{worst:.2f}x |",
        "",
        f"Goal: never above {GOAL_RATIO:g}x: **{'met' if worst <= GOAL_RATIO else 'missed'}** "
        f"({sum(r <= GOAL_RATIO for r in ratios)} of {runs} runs within).",
    ]
    report = "\n".join(lines) + "\n"
    print(report)
    write_section("canary-probe", report)
    smoke = args.quick
    record_rows(
        "canary-probe",
        [
            {
                "what": "canary probe inside the full suite vs hey, 25 ms server: p50 / p95 / p99",
                "spark": " / ".join(f"{medians['spark-ops'][n]:.1f}" for n in NAMES) + " ms",
                "peer": " / ".join(f"{medians['hey'][n]:.1f}" for n in NAMES) + " ms (hey)",
                "ratio": " / ".join(f"{difference[n]:+.1f}" for n in NAMES) + " ms",
                "goal": f"within {GOAL_MS:g} ms",
                "met": "n/a" if smoke else ("yes" if within else "no"),
            },
            {
                "what": f"{runs} mock canaries beside a CPU hog: probe p95 / served p95, worst run",
                "spark": f"{pairs[ratios.index(worst)][0]:.1f} ms",
                "peer": f"{pairs[ratios.index(worst)][1]:.1f} ms (simulator)",
                "ratio": f"{worst:.2f}x",
                "goal": f"<= {GOAL_RATIO:g}x",
                "met": "n/a" if smoke else ("yes" if worst <= GOAL_RATIO else "no"),
            },
        ],
    )


if __name__ == "__main__":
    main()

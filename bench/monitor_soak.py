"""Monitor soak: `spark monitor` (the real CLI, a subprocess) for 10,000 cycles of the `gate` suite against
the simulator (`spark sim --ports auto`, a subprocess of its own) at a 1 ms interval, so cycles follow one
another at once. Measured:

- memory: the monitor's RSS (from /proc) at the start of steady state (cycle 1000; imports, the first
  connections and the metric series are all made by then) against its RSS at the end;
- cycle time: each cycle's duration as the monitor logs it (whole ms: median, p99), and the wall time per
  cycle seen from outside (cycles per second, the loop's own cost included);
- side by side, before and after the soak: a one-shot `spark gate` of the same suite against the same
  simulator (what a shell loop or cron job would run instead of the monitor), median wall time.

Every cycle must end `pass` against a healthy simulator; any other result is counted and shown.

    python bench/monitor_soak.py [--cycles 10000] [--quick]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _results import machine, record_rows, write_section
from _tools import free_port, median, percentile, spark_command, wall_s

CYCLE_LINE = re.compile(r"cycle (\d+): (\w+).*\((\d+) ms\)$")
GOAL_GROWTH_MB = 5.0
ONE_SHOT_RUNS = 5


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds ``pid`` has used (from /proc/PID/stat)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_simulator(folder: Path) -> tuple[subprocess.Popen[bytes], Path]:
    """``spark sim --ports auto`` in its own process, and the profile it wrote pointing at it."""
    profile = folder / "sim.toml"
    sim = subprocess.Popen(
        [*spark_command(), "sim", "--ports", "auto", "--write-profile", str(profile)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while not profile.exists():
        if sim.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("spark sim did not start")
        time.sleep(0.1)
    time.sleep(0.5)  # the profile is written once every service listens; let the feed tick once
    return sim, profile


def soak(profile: Path, cycles: int, steady_from: int, sim_pid: int) -> dict[str, object]:
    """Run the monitor for ``cycles`` cycles; per-cycle durations, results, RSS samples, and the CPU time
    the monitor and the simulator used per cycle in steady state (load on a shared machine stretches
    wall time, hardly CPU time)."""
    command = [
        *spark_command(),
        "monitor",
        "--profile",
        str(profile),
        "--interval",
        "0.001",
        "--iterations",
        str(cycles),
        "--listen",
        f"127.0.0.1:{free_port()}",
    ]
    started = time.perf_counter()
    monitor = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert monitor.stderr is not None
    durations: list[float] = []
    results: dict[str, int] = {}
    rss: dict[int, int] = {}
    steady_started = started
    cpu_from = cpu_to = (0.0, 0.0)
    for line in monitor.stderr:
        match = CYCLE_LINE.search(line.strip())
        if match is None:
            continue
        number, result, took_ms = int(match[1]), match[2], float(match[3])
        results[result] = results.get(result, 0) + 1
        durations.append(took_ms)
        if number == steady_from:
            steady_started = time.perf_counter()
            cpu_from = cpu_s(monitor.pid), cpu_s(sim_pid)
        if number == cycles:
            cpu_to = cpu_s(monitor.pid), cpu_s(sim_pid)
        if number % 100 == 0 or number in (1, steady_from, cycles):
            rss[number] = rss_kb(monitor.pid)
    monitor.wait()
    ended = time.perf_counter()
    if monitor.returncode != 0 or len(durations) != cycles:
        raise SystemExit(
            f"spark monitor exited {monitor.returncode} after {len(durations)} of {cycles} cycles"
        )
    return {
        "durations": durations,
        "results": results,
        "rss": rss,
        "wall_s": ended - started,
        "steady_wall_per_cycle_ms": (ended - steady_started) / (cycles - steady_from) * 1000,
        "monitor_cpu_ms": (cpu_to[0] - cpu_from[0]) / (cycles - steady_from) * 1000,
        "sim_cpu_ms": (cpu_to[1] - cpu_from[1]) / (cycles - steady_from) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cycles", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="200 cycles (a smoke run)")
    args = parser.parse_args()
    cycles = 200 if args.quick else args.cycles
    steady_from = max(1, cycles // 10)
    one_shots = 2 if args.quick else ONE_SHOT_RUNS
    with tempfile.TemporaryDirectory(prefix="spark-bench-soak-") as tmp:
        folder = Path(tmp)
        sim, profile = start_simulator(folder)
        try:
            gate = [*spark_command(), "gate", "--profile", str(profile), "--no-evidence", "--exit-on-fail"]
            env = {k: v for k, v in os.environ.items() if k != "GITHUB_ACTIONS"}
            gate_times = [wall_s(gate, env=env) for _ in range(one_shots)]  # before the soak
            run = soak(profile, cycles, steady_from, sim.pid)
            gate_times += [wall_s(gate, env=env) for _ in range(one_shots)]  # and after it
        finally:
            sim.terminate()
            sim.wait()
    durations: list[float] = run["durations"]  # type: ignore[assignment]
    rss: dict[int, int] = run["rss"]  # type: ignore[assignment]
    results: dict[str, int] = run["results"]  # type: ignore[assignment]
    steady = durations[steady_from:]
    start_mb, end_mb = rss[steady_from] / 1024, rss[cycles] / 1024
    growth_mb = end_mb - start_mb
    cycle_median, cycle_p99 = median(steady), percentile(steady, 0.99)
    per_cycle_ms = float(run["steady_wall_per_cycle_ms"])  # type: ignore[arg-type]
    gate_ms = median(gate_times) * 1000
    samples = sorted(rss)
    shown = sorted({*samples[:: max(1, len(samples) // 8)], cycles})
    trend = ", ".join(f"{n}: {rss[n] / 1024:.1f}" for n in shown)
    per_1000_kb = growth_mb * 1024 / max(1, cycles - steady_from) * 1000
    met = growth_mb < GOAL_GROWTH_MB and set(results) == {"pass"}
    lines = [
        f"## Monitor soak: {cycles:,} cycles of the `gate` suite against the simulator",
        "",
        f"Machine: {machine()}. `spark monitor --interval 0.001` and `spark sim --ports auto` in separate "
        f"processes; the machine was shared with other busy jobs, so times are noisy. Took "
        f"{float(run['wall_s']):.0f} s in all ({per_cycle_ms:.1f} ms of wall time per cycle in steady state, "
        "the loop's own cost included).",
        "",
        "| what | value |",
        "|---|---|",
        f"| RSS at cycle {steady_from} (steady state) | {start_mb:.1f} MB |",
        f"| RSS at cycle {cycles} | {end_mb:.1f} MB |",
        f"| growth | {growth_mb:+.2f} MB ({per_1000_kb:+.1f} KB per 1000 cycles) |",
        f"| cycle time, median (as logged, whole ms) | {cycle_median:.0f} ms |",
        f"| cycle time, p99 | {cycle_p99:.0f} ms |",
        f"| CPU per cycle in steady state: monitor / simulator | {float(run['monitor_cpu_ms']):.1f} ms / "  # type: ignore[arg-type]
        f"{float(run['sim_cpu_ms']):.1f} ms |",  # type: ignore[arg-type]
        f"| one-shot `spark gate` of the same suite, median of {len(gate_times)} | {gate_ms:.0f} ms |",
        f"| results | {', '.join(f'{k} {v}' for k, v in sorted(results.items()))} |",
        "",
        f"RSS (MB) by cycle: {trend}.",
        "",
        f"Goal: memory flat once in steady state (under {GOAL_GROWTH_MB:g} MB of growth over the soak) and "
        f"every cycle `pass`: **{'n/a (smoke run)' if args.quick else 'met' if met else 'missed'}**; "
        f"a cycle costs {cycle_median / gate_ms:.2f}x a one-shot gate.",
    ]
    report = "\n".join(lines) + "\n"
    print(report)
    write_section("monitor-soak", report)
    record_rows(
        "monitor-soak",
        [
            {
                "what": f"monitor soak, {cycles:,} cycles: RSS growth after cycle {steady_from}",
                "spark": f"{growth_mb:+.2f} MB ({start_mb:.0f} -> {end_mb:.0f} MB)",
                "peer": "n/a",
                "ratio": f"{end_mb / start_mb:.3f}x",
                "goal": f"< {GOAL_GROWTH_MB:g} MB, every cycle pass",
                "met": "n/a" if args.quick else ("yes" if met else "no"),
            },
            {
                "what": "monitor soak: cycle time, median (p99)",
                "spark": f"{cycle_median:.0f} ms ({cycle_p99:.0f} ms)",
                "peer": f"{gate_ms:.0f} ms (one-shot spark gate)",
                "ratio": f"{cycle_median / gate_ms:.2f}x",
                "goal": "a cycle costs less than a one-shot gate",
                "met": "n/a" if args.quick else ("yes" if cycle_median < gate_ms else "no"),
            },
        ],
    )


if __name__ == "__main__":
    main()

"""Latency probe accuracy: the `latency` kind (a one-check suite run by `spark gate --format json`) against
`hey` (Debian's package) on the same loopback endpoint at the same rate. hey's per-request latencies come
from its CSV output (`-o csv`), and p50/p95/p99 are computed from them by nearest rank, the definition
spark-ops' histogram uses (its buckets are 1 % wide, so it knows each value to within 0.5 %).

1. Steady server (answers in 10 ms plus up to 10 ms of uniform jitter), the two tools one after the other,
   interleaved, medians of each percentile. Goal (issue 7): within 2 ms or 5 % of hey.
2. A 2 s stall mid-run (POST /stall?s=2 to the server: every answer waits until the stall ends), both
   tools at once against the same server, so both live through the same stall. spark-ops' probe is open
   loop (each latency counts from the request's intended send time), hey is closed loop (each of its
   workers waits for its answer before sending again): only one request per hey worker sees the stall,
   so with fewer than 1 % of its requests stalled hey's p99 hides it while the probe's p99 shows it.

The rate is hey's `-q` (per worker) times `-c` (workers), and the probe's `rate_rps`.

    python bench/latency_hey.py [--repeat 3] [--quick]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _results import machine, record_rows, write_section
from _tools import ensure_tool, loopback_server, median, percentile, spark_command

NAMES = {"p50": 0.50, "p95": 0.95, "p99": 0.99}
GOAL_MS, GOAL_FRACTION = 2.0, 0.05
STALL_S = 2.0


def latency_suite(folder: Path, url: str, rate: float, count: int) -> Path:
    """A one-check suite: the latency probe at ``rate`` for ``count`` requests, thresholds out of the way."""
    suite = folder / f"latency-{rate:g}-{count}.toml"
    suite.write_text(
        f'description = "one latency probe (bench/latency_hey.py)"\n\n[[checks]]\nname = "latency"\n'
        f'kind = "latency"\nurl = "{url}"\nrate_rps = {rate}\ncount = {count}\nmax_p95_ms = 100000\n'
        f"max_error_rate = 1.0\nrequest_timeout_s = 10\n",
        encoding="utf-8",
    )
    return suite


def spark_probe(suite: Path) -> subprocess.Popen[str]:
    command = [*spark_command(), "gate", "--suite", str(suite), "--format", "json", "--no-evidence"]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def spark_figures(process: subprocess.Popen[str]) -> dict[str, float]:
    """p50/p95/p99 (ms) the probe observed; any error or missing figure stops the benchmark."""
    out, err = process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"spark gate failed (exit {process.returncode}): {err[-500:]}")
    observed = json.loads(out)["checks"][0]["observed"]
    if not isinstance(observed, dict) or observed.get("errors") or observed.get("missed_slots"):
        raise SystemExit(f"the probe did not get clean samples: {observed}")
    return {name: float(observed[f"{name}_ms"]) for name in NAMES} | {"samples": observed["samples"]}


def hey_run(hey: str, url: str, rate_per_worker: float, workers: int, count: int) -> subprocess.Popen[str]:
    command = [hey, "-n", str(count), "-c", str(workers), "-q", f"{rate_per_worker:g}", "-o", "csv", url]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def hey_figures(process: subprocess.Popen[str]) -> dict[str, float]:
    """p50/p95/p99 (ms) from hey's per-request CSV rows; a non-200 row stops the benchmark."""
    out, err = process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"hey failed (exit {process.returncode}): {err[-500:]}")
    rows = list(csv.DictReader(io.StringIO(out)))
    if not rows or any(row["status-code"] != "200" for row in rows):
        raise SystemExit(f"hey did not get clean answers ({len(rows)} rows)")
    samples = [float(row["response-time"]) * 1000 for row in rows]
    return {name: percentile(samples, fraction) for name, fraction in NAMES.items()} | {
        "samples": len(samples)
    }


def close_enough(ours: float, theirs: float) -> bool:
    return abs(ours - theirs) <= max(GOAL_MS, GOAL_FRACTION * theirs)


def stall_after(base: str, delay_s: float) -> threading.Thread:
    def post() -> None:
        time.sleep(delay_s)
        request = urllib.request.Request(f"{base}/stall?s={STALL_S:g}", method="POST")
        urllib.request.urlopen(request, timeout=5).read()

    thread = threading.Thread(target=post, daemon=True)
    thread.start()
    return thread


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="short runs, once (a smoke run)")
    args = parser.parse_args()
    hey = ensure_tool("hey", "hey")
    repeat = 1 if args.quick else args.repeat
    # Steady: 100/s (hey: 10 workers x 10/s) for 20 s each; stall: the same, the stall at 8 s, so hey's 10
    # stalled requests are 0.5 % of its 2000 and the probe's ~200 are 10 %. (200/s was tried: on the
    # shared 2-core machine the probe's Python, 1.4 to 1.9 ms of CPU a request, then fell behind its own
    # schedule, which an open-loop probe rightly counts as latency.)
    steady_workers, steady_q, steady_s = (10, 10.0, 2.0) if args.quick else (10, 10.0, 20.0)
    stall_workers, stall_q, stall_s = (10, 10.0, 6.0) if args.quick else (10, 10.0, 20.0)
    steady_rate, stall_rate = steady_workers * steady_q, stall_workers * stall_q
    steady_count, stall_count = int(steady_rate * steady_s), int(stall_rate * stall_s)
    steady: dict[str, list[dict[str, float]]] = {"spark-ops": [], "hey": []}
    with tempfile.TemporaryDirectory(prefix="spark-bench-latency-") as tmp:
        folder = Path(tmp)
        with loopback_server(10, 10) as base:
            url = f"{base}/steady"
            suite = latency_suite(folder, url, steady_rate, steady_count)
            hey_figures(hey_run(hey, url, steady_q, steady_workers, steady_workers * 5))  # warm-up
            for _ in range(repeat):  # one tool at a time, interleaved
                steady["spark-ops"].append(spark_figures(spark_probe(suite)))
                steady["hey"].append(hey_figures(hey_run(hey, url, steady_q, steady_workers, steady_count)))
        with loopback_server(10, 10) as base:
            url = f"{base}/stall"
            suite = latency_suite(folder, url, stall_rate, stall_count)
            ours_process = spark_probe(suite)
            hey_process = hey_run(hey, url, stall_q, stall_workers, stall_count)
            # Mid-run for both: spark-ops starts its schedule once Python has started (about 1 s).
            poster = stall_after(base, stall_s * 0.4)
            stalled = {"spark-ops": spark_figures(ours_process), "hey": hey_figures(hey_process)}
            poster.join(timeout=10)
    medians = {
        tool: {name: median([run[name] for run in runs]) for name in NAMES} for tool, runs in steady.items()
    }
    lines = [
        "## Latency probe accuracy: the `latency` kind against `hey`, same endpoint, same rate",
        "",
        f"Machine: {machine()}. The machine was shared with other busy jobs: the two tools ran one after "
        "the other (steady) or at once (stall), so both saw the same conditions.",
        "",
        f"Steady server (10 ms + up to 10 ms jitter), {steady_rate:g}/s for {steady_count} requests "
        f"(hey -c {steady_workers} -q {steady_q:g}), median of {repeat} interleaved runs:",
        "",
        "| tool | p50 ms | p95 ms | p99 ms |",
        "|---|---|---|---|",
    ]
    for tool, figures in medians.items():
        lines.append(f"| {tool} | " + " | ".join(f"{figures[name]:.2f}" for name in NAMES) + " |")
    within = {name: close_enough(medians["spark-ops"][name], medians["hey"][name]) for name in NAMES}
    difference = {name: medians["spark-ops"][name] - medians["hey"][name] for name in NAMES}
    deltas = ", ".join(f"{name} {difference[name]:+.2f} ms" for name in NAMES)
    lines += [
        "| difference | " + " | ".join(f"{difference[n]:+.2f}" for n in NAMES) + " |",
        "",
        f"Goal: every percentile within {GOAL_MS:g} ms or {GOAL_FRACTION:.0%} of hey's: "
        f"**{'met' if all(within.values()) else 'missed'}** ({deltas}).",
        "",
        f"A {STALL_S:g} s stall mid-run, both tools at once, {stall_rate:g}/s for {stall_count} requests "
        "each "
        f"(hey -c {stall_workers} -q {stall_q:g}):",
        "",
        "| tool | p50 ms | p95 ms | p99 ms | samples |",
        "|---|---|---|---|---|",
    ]
    for tool, figures in stalled.items():
        lines.append(
            f"| {tool} ({'open' if tool == 'spark-ops' else 'closed'} loop) | "
            + " | ".join(f"{figures[name]:.1f}" for name in NAMES)
            + f" | {figures['samples']:.0f} |"
        )
    # "Shows the stall": a p99 of at least half the stall; "hides it": a p99 under a tenth of it.
    shows = stalled["spark-ops"]["p99"] >= STALL_S * 1000 / 2
    hey_hides = stalled["hey"]["p99"] < STALL_S * 1000 / 10
    lines += [
        "",
        f"The open-loop probe shows the stall in p99 (at least {STALL_S * 500:.0f} ms): "
        f"**{'yes' if shows else 'no'}**; hey's closed loop hides it (p99 under {STALL_S * 100:.0f} ms): "
        f"**{'yes' if hey_hides else 'no'}**. Each hey worker waits out the stall on one request and then "
        "carries on at its rate, so the requests it would have sent meanwhile are never sent or measured.",
    ]
    report = "\n".join(lines) + "\n"
    print(report)
    write_section("latency-hey", report)
    smoke = args.quick
    ratio = medians["spark-ops"]["p99"] / medians["hey"]["p99"]
    record_rows(
        "latency-hey",
        [
            {
                "what": f"latency probe vs hey, steady server, {steady_rate:g}/s: p50 / p95 / p99",
                "spark": " / ".join(f"{medians['spark-ops'][n]:.1f}" for n in NAMES) + " ms",
                "peer": " / ".join(f"{medians['hey'][n]:.1f}" for n in NAMES) + " ms (hey)",
                "ratio": f"{ratio:.2f}x (p99)",
                "goal": f"within {GOAL_MS:g} ms or {GOAL_FRACTION:.0%}",
                "met": "n/a" if smoke else ("yes" if all(within.values()) else "no"),
            },
            {
                "what": f"latency probe vs hey, {STALL_S:g} s stall mid-run: p99",
                "spark": f"{stalled['spark-ops']['p99']:.0f} ms",
                "peer": f"{stalled['hey']['p99']:.0f} ms (hey, closed loop)",
                "ratio": f"{stalled['spark-ops']['p99'] / stalled['hey']['p99']:.0f}x",
                "goal": "the probe shows the stall in p99, hey hides it",
                "met": "n/a" if smoke else ("yes" if shows and hey_hides else "no"),
            },
        ],
    )


if __name__ == "__main__":
    main()

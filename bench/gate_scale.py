"""Gate at scale: suites of 10, 100, 500 and 1000 `http` checks (each its own URL) against a loopback
server that answers every GET in 50 ms, run by the real `spark gate` (a subprocess, as a pipeline runs
it). Side by side in one run, interleaved, medians:

- `spark gate` with the default table on stdout, and with `--format json` (evidence kept, as by default);
- plain aiohttp issuing the same GETs at the same concurrency (the profile's 64), in a subprocess of its
  own, so both pay a Python start-up: the client floor in Python;
- a sequential `curl` loop over the same URLs (one `curl` per URL, what a shell step would do).

The cost of one more check is the slope of wall time between 100 and 1000 checks (the fixed cost of
starting Python and loading the suite cancels out). The curve is linear when the slope from 500 to 1000
is at most 1.5x the slope from 100 to 500 (segments of hundreds of checks, so start-up noise hardly moves
them). Goal (issue 7): under 2.5 ms per extra check at 1000. A curl loop over 1000 URLs takes over a
minute, so it is measured up to 100 URLs and extrapolated beyond (sequential: linear by construction);
the table marks those figures.

    python bench/gate_scale.py [--repeat 5] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _results import machine, record_rows, write_section
from _tools import ensure_tool, loopback_server, median, spark_command

GOAL_MS_PER_CHECK = 2.5
CONCURRENCY = 64  # the profile's default `concurrency`; the aiohttp floor uses the same
LINEAR_SLOPE_RATIO = 1.5
CURL_MAX = 100  # the curl loop is measured up to this many URLs, extrapolated beyond

FLOOR = """
import asyncio, sys, aiohttp
urls, concurrency = open(sys.argv[1]).read().split(), int(sys.argv[2])
async def main():
    gate = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        async def one(url):
            async with gate, session.get(url) as response:
                await response.read()
                return response.status
        statuses = await asyncio.gather(*(one(url) for url in urls))
    if any(status != 200 for status in statuses):
        sys.exit(1)
asyncio.run(main())
"""
CURL_LOOP = 'while read -r url; do "$0" -sf -o /dev/null "$url" || exit 1; done < "$1"'


def write_suite(folder: Path, base: str, size: int) -> tuple[Path, Path]:
    """A suite of ``size`` http checks, each on its own URL, and the same URLs one per line."""
    urls = [f"{base}/check/{i}" for i in range(size)]
    lines = [f'description = "{size} http checks (bench/gate_scale.py)"']
    for i, url in enumerate(urls):
        lines += ["", "[[checks]]", f'name = "c{i:04d}"', 'kind = "http"', f'url = "{url}"']
    suite, url_list = folder / f"suite{size}.toml", folder / f"urls{size}.txt"
    suite.write_text("\n".join(lines) + "\n", encoding="utf-8")
    url_list.write_text("\n".join(urls) + "\n", encoding="utf-8")
    return suite, url_list


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str], expect: str | None = None, **kwargs: object) -> tuple[float, float]:
    """Wall and CPU seconds (user + system, its children included) of one run; it must exit 0 and, when
    ``expect`` is given, print it (all checks passed)."""
    cpu, started = children_cpu_s(), time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload]
    took, cpu = time.perf_counter() - started, children_cpu_s() - cpu
    if done.returncode != 0 or (expect is not None and expect not in done.stdout):
        raise SystemExit(f"{' '.join(command[:3])}... failed (exit {done.returncode}): {done.stderr[-500:]}")
    return took, cpu


def json_passed(size: int) -> str:
    return f'"passed": {size},'


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="5, 10 and 20 checks, once (a smoke run)")
    args = parser.parse_args()
    sizes = (5, 10, 20) if args.quick else (10, 100, 500, 1000)
    repeat = 1 if args.quick else args.repeat
    curl = ensure_tool("curl", "curl")
    spark = spark_command()
    tools = ("spark gate (table)", "spark gate --format json", "plain aiohttp", "curl loop")
    times: dict[tuple[str, int], list[float]] = {(t, n): [] for t in tools for n in sizes}
    cpu: dict[tuple[str, int], list[float]] = {(t, n): [] for t in tools for n in sizes}

    def measure(tool: str, n: int, command: list[str], expect: str | None = None, **kwargs: object) -> None:
        took, used = timed(command, expect, **kwargs)
        times[tool, n].append(took)
        cpu[tool, n].append(used)

    with tempfile.TemporaryDirectory(prefix="spark-bench-gate-") as tmp, loopback_server(50) as base:
        folder, big = Path(tmp), sizes[-1]
        files = {n: write_suite(folder, base, n) for n in sizes}
        env = {**os.environ, "SPARK_EVIDENCE_DIR": str(folder / "evidence")}
        env.pop("GITHUB_ACTIONS", None)
        # A warm-up, not measured: page cache, .pyc files, the server's first connections.
        timed([*spark, "gate", "--suite", str(files[big][0]), "--format", "json"], env=env)
        for _ in range(repeat):  # interleaved, so drift on a shared machine hits every tool alike
            for n in sizes:
                suite, url_list = files[n]
                gate = [*spark, "gate", "--profile", "dev", "--suite", str(suite)]
                measure("spark gate (table)", n, gate, f"{n}/{n} passed", env=env)
                measure("spark gate --format json", n, [*gate, "--format", "json"], json_passed(n), env=env)
                measure("plain aiohttp", n, [sys.executable, "-c", FLOOR, str(url_list), str(CONCURRENCY)])
                if n <= CURL_MAX:  # 1000 sequential curls take over a minute: extrapolated below
                    measure("curl loop", n, ["sh", "-c", CURL_LOOP, curl, str(url_list)])
    medians = {key: median(samples) for key, samples in times.items() if samples}
    cpu_medians = {key: median(samples) for key, samples in cpu.items() if samples}
    curl_measured = max(n for n in sizes if ("curl loop", n) in medians)
    extrapolated = [n for n in sizes if ("curl loop", n) not in medians]
    for n in extrapolated:  # sequential, so linear by construction
        medians["curl loop", n] = medians["curl loop", curl_measured] * n / curl_measured
    small, mid, big = sizes[0], sizes[1], sizes[-1]
    # The per-check cost of the last two segments: a cost that grows with the suite shows as the last
    # one being steeper (segments of hundreds of checks, so start-up noise hardly moves them).
    before, last = (sizes[-3], sizes[-2]), (sizes[-2], sizes[-1])

    def slope_ms(tool: str, low: int, high: int) -> float:
        return (medians[tool, high] - medians[tool, low]) / (high - low) * 1000

    def cpu_slope_ms(tool: str, low: int, high: int) -> float:
        return (cpu_medians[tool, high] - cpu_medians[tool, low]) / (high - low) * 1000

    def steepening(tool: str) -> float:
        previous = slope_ms(tool, *before)
        return slope_ms(tool, *last) / previous if previous > 0 else float("inf")

    lines = [
        f"## Gate at scale: {', '.join(map(str, sizes))} `http` checks, server answers in 50 ms",
        "",
        f"Machine: {machine()}; median of {repeat} interleaved runs of each (wall time of the whole "
        f"subprocess); concurrency {CONCURRENCY} (the profile's default) for spark-ops and aiohttp; "
        f"floor at {big}: {big} / {CONCURRENCY} x 50 ms = {big / CONCURRENCY * 0.05:.2f} s. "
        "The machine was shared with other busy jobs: absolute times are noisy, the ratios less so.",
        "",
        "| tool | " + " | ".join(f"{n} checks s" for n in sizes) + f" | ms per extra check {mid}->{big} "
        f"| ms per extra check {small}->{big} "
        f"| slope {last[0]}->{last[1]} / slope {before[0]}->{before[1]} |",
        "|---|" + "---|" * len(sizes) + "---|---|---|",
    ]
    for tool in tools:
        cells = [
            f"{medians[tool, n]:.2f}" + ("*" if tool == "curl loop" and n in extrapolated else "")
            for n in sizes
        ]
        lines.append(
            f"| {tool} | {' | '.join(cells)} | {slope_ms(tool, mid, big):.2f} | "
            f"{slope_ms(tool, small, big):.2f} | {steepening(tool):.2f} |"
        )
    lines += [
        "",
        "CPU time (user + system) of the same runs, medians: load on a shared machine stretches wall time "
        "far more than CPU time, so this is the steadier view of what one more check costs.",
        "",
        "| tool | "
        + " | ".join(f"{n} checks CPU s" for n in sizes)
        + f" | CPU ms per extra check {mid}->{big} |",
        "|---|" + "---|" * len(sizes) + "---|",
    ]
    for tool in tools[:3]:
        cells = [f"{cpu_medians[tool, n]:.2f}" for n in sizes]
        lines.append(f"| {tool} | {' | '.join(cells)} | {cpu_slope_ms(tool, mid, big):.2f} |")
    ours = slope_ms("spark gate (table)", mid, big)
    cpu_ours, cpu_floor = (
        cpu_slope_ms("spark gate (table)", mid, big),
        cpu_slope_ms("plain aiohttp", mid, big),
    )
    ours_json = slope_ms("spark gate --format json", mid, big)
    floor = slope_ms("plain aiohttp", mid, big)
    linear = steepening("spark gate (table)") <= LINEAR_SLOPE_RATIO
    met = ours < GOAL_MS_PER_CHECK and linear
    verdict = "n/a (smoke run)" if args.quick else ("met" if met else "missed")
    vs_curl = medians["spark gate (table)", big] / medians["curl loop", big]
    note = (
        f"\\* extrapolated from the curl loop's {curl_measured} URLs (over a minute at {big})."
        if extrapolated
        else ""
    )
    lines += [
        "",
        note,
        "",
        f"Goal: under {GOAL_MS_PER_CHECK} ms of wall time per extra check at {big} (the slope {mid}->{big}, "
        f"default table output) and linear (slope {last[0]}->{last[1]} at most {LINEAR_SLOPE_RATIO:g}x the "
        f"slope {before[0]}->{before[1]}): **{verdict}** "
        f"({ours:.2f} ms; {ours_json:.2f} ms with --format json; plain aiohttp {floor:.2f} ms). "
        f"spark gate at {big} checks takes {vs_curl:.3f}x the curl loop's time.",
    ]
    report = "\n".join(lines) + "\n"
    print(report)
    write_section("gate-scale", report)
    record_rows(
        "gate-scale",
        [
            {
                "what": f"gate at scale: ms per extra http check, {mid}->{big} (table output)",
                "spark": f"{ours:.2f} ms",
                "peer": f"{floor:.2f} ms (plain aiohttp, same concurrency)",
                "ratio": f"{ours / floor:.2f}x",
                "goal": f"< {GOAL_MS_PER_CHECK} ms, linear",
                "met": "n/a" if args.quick else ("yes" if met else "no"),
            },
            {
                "what": f"gate at scale: CPU ms per extra http check, {mid}->{big} (table output)",
                "spark": f"{cpu_ours:.2f} ms",
                "peer": f"{cpu_floor:.2f} ms (plain aiohttp)",
                "ratio": f"{cpu_ours / cpu_floor:.2f}x",
                "goal": "n/a (the wall-time goal's steadier view)",
                "met": "n/a",
            },
            {
                "what": f"gate at scale: {big} http checks, wall",
                "spark": f"{medians['spark gate (table)', big]:.2f} s",
                "peer": f"{medians['curl loop', big]:.1f} s (sequential curl loop"
                + (f", extrapolated from {curl_measured})" if extrapolated else ")"),
                "ratio": f"{vs_curl:.3f}x",
                "goal": "faster than a curl loop",
                "met": "yes" if medians["spark gate (table)", big] < medians["curl loop", big] else "no",
            },
        ],
    )
    print(json.dumps({f"{tool} {n}": round(value, 3) for (tool, n), value in medians.items()}))


if __name__ == "__main__":
    main()

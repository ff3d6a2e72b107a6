"""`spark suite prove` on the shipped suites: wall and CPU time of the whole command (a subprocess, as a
pipeline step runs it: CLI start, simulator start on free ports, one recorded run of the suite, every
breakage replayed in-process). Goal (issue 17): the gate suite proven in under 10 s on this machine class.
The canary suite is shown beside it; its latency probe runs its 2 s schedule once per breakage it
declares, all at once.

    python bench/prove.py [--repeat 5] [--quick]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _results import machine, record_rows, write_section
from _tools import child_usage, median, spark_command

GOAL_S = 10.0
SUITES = ("gate", "smoke", "canary")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="1 run of each (a smoke run)")
    args = parser.parse_args()
    repeat = 1 if args.quick else args.repeat
    spark = spark_command()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    rows: dict[str, list[tuple[float, float]]] = {suite: [] for suite in SUITES}
    with tempfile.TemporaryDirectory(prefix="spark-bench-prove-") as workdir:
        child_usage(
            [*spark, "suite", "prove", "--suite", "smoke"], env=env, cwd=workdir
        )  # warm, not measured
        for _ in range(repeat):
            for suite in SUITES:  # interleaved: load on a shared machine spreads over every suite
                wall, cpu, _ = child_usage([*spark, "suite", "prove", "--suite", suite], env=env, cwd=workdir)
                rows[suite].append((wall, cpu))
    lines = [
        "## spark suite prove (issue 17)",
        "",
        f"`spark suite prove --suite NAME` as a subprocess, median of {repeat} interleaved runs; "
        f"{machine()}.",
        "",
        "| suite | wall s (median) | CPU s (median) | worst wall s |",
        "|---|---|---|---|",
    ]
    for suite, samples in rows.items():
        walls, cpus = [w for w, _ in samples], [c for _, c in samples]
        lines.append(f"| {suite} | {median(walls):.2f} | {median(cpus):.2f} | {max(walls):.2f} |")
    gate_s = median([w for w, _ in rows["gate"]])
    lines += [
        "",
        f"Goal: the gate suite proven in under {GOAL_S:g} s: {'met' if gate_s < GOAL_S else 'NOT met'}.",
    ]
    write_section("prove", "\n".join(lines))
    record_rows(
        "prove",
        [
            {
                "what": "spark suite prove --suite gate",
                "spark": f"{gate_s:.2f} s",
                "peer": "n/a (no peer proves checks)",
                "ratio": "n/a",
                "goal": f"< {GOAL_S:g} s",
                "met": "yes" if gate_s < GOAL_S else "no",
            }
        ],
    )
    print("\n".join(lines))


if __name__ == "__main__":
    main()

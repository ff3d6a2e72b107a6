"""Cold start: `spark --version` and `spark --help` against `python -c "import typer"` in the same
environment (the least any Typer CLI can cost). Wall time of each subprocess, interleaved runs, medians;
the ratio is of medians taken in the same run. Goal (issue 7): at most 1.3x and 1.8x.

Every command runs with bytecode caching on, in a private PYTHONPYCACHEPREFIX warmed by one unmeasured
run: an installed package has its .pyc files (pip compiles them), while an editable checkout under
PYTHONDONTWRITEBYTECODE=1 would recompile spark_ops on every start and measure the compiler instead.

    python bench/cold_start.py [--repeat 15] [--quick]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _results import machine, record_rows, write_section
from _tools import median, spark_command, wall_s

GOALS = {"spark --version": 1.3, "spark --help": 1.8}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--quick", action="store_true", help="3 runs of each (a smoke run)")
    args = parser.parse_args()
    repeat = 3 if args.quick else args.repeat
    spark = spark_command()
    commands = {
        "import typer": [sys.executable, "-c", "import typer"],
        "spark --version": [*spark, "--version"],
        "spark --help": [*spark, "--help"],
    }
    with tempfile.TemporaryDirectory(prefix="spark-bench-pyc-") as pycache:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = pycache
        for command in commands.values():  # warm the page cache and write the .pyc files, not measured
            wall_s(command, env=env)
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(repeat):  # interleaved, so drift on a shared machine hits every command alike
            for name, command in commands.items():
                times[name].append(wall_s(command, env=env))
    typer_ms = median(times["import typer"]) * 1000
    lines = [
        '## Cold start: `spark --version` and `spark --help` against `python -c "import typer"`',
        "",
        f"Machine: {machine()}; median of {repeat} interleaved runs of each subprocess (wall time), "
        "with .pyc files cached (see the script's docstring).",
        "",
        "| command | median ms | min ms | x import typer | goal |",
        "|---|---|---|---|---|",
        f'| python -c "import typer" | {typer_ms:.0f} | {min(times["import typer"]) * 1000:.0f} | 1.00 | |',
    ]
    rows = []
    for name, goal in GOALS.items():
        spark_ms = median(times[name]) * 1000
        ratio = spark_ms / typer_ms
        lines.append(
            f"| {name} | {spark_ms:.0f} | {min(times[name]) * 1000:.0f} | {ratio:.2f} | <= {goal:g}x |"
        )
        rows.append(
            {
                "what": f"cold start: {name}",
                "spark": f"{spark_ms:.0f} ms",
                "peer": f"{typer_ms:.0f} ms (python -c 'import typer')",
                "ratio": f"{ratio:.2f}x",
                "goal": f"<= {goal:g}x",
                "met": "yes" if ratio <= goal else "no",
            }
        )
    lines += [
        "",
        "`spark --version` alone is answered by the console script before Typer and the command tree",
        "load (`spark_ops/__main__.py`), so it costs less than importing Typer; `spark --help` loads the",
        "whole CLI (every command's options): it measures the import work the CLI itself does.",
    ]
    report = "\n".join(lines) + "\n"
    print(report)
    write_section("cold-start", report)
    record_rows("cold-start", rows)


if __name__ == "__main__":
    main()

"""OpenMetrics at size: the 10 MB fleet exposition of ``metrics_at_size.py`` written as OpenMetrics 1.0
(counter families without ``_total``, exemplars on counters and buckets, ``# UNIT``, an info and a
stateset family, timestamps in seconds, ``# EOF``), judged by the ``metrics`` kind, beside the same
fleet in the text format judged by the kind and by ``promtool check metrics``, and prometheus-client's
OpenMetrics parser over the same OpenMetrics text, in one run.

Every measurement is one subprocess (interpreter and imports included): wall time, median of
interleaved runs, CPU (user + sys) and peak RSS (``os.wait4``). Goal (issue 14): the kind on OpenMetrics
within promtool-class speed, i.e. no slower than promtool on the text format of the same fleet.
``--quick``: a 0.5 MB exposition, one run.

    python bench/openmetrics_at_size.py [--instances 188] [--repeat 5] [--quick]
"""

from __future__ import annotations

import argparse
import random
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _results import machine, record_rows, write_section
from _tools import child_usage, ensure_tool, median
from metrics_at_size import exposition

_EXEMPLAR_EVERY = 7  # one sample line in 7 of a counter or a bucket carries an exemplar
_MS_STAMP = re.compile(r" (\d{13})\n")


def as_openmetrics(text: str, seed: int = 14) -> str:
    """The text-format fleet as OpenMetrics 1.0, plus an info and a stateset family per instance."""
    rng = random.Random(seed)
    out: list[str] = []
    for line in text.splitlines(keepends=True):
        if line.startswith("# HELP http_requests_total ") or line.startswith("# TYPE http_requests_total "):
            line = line.replace("http_requests_total", "http_requests", 1)
        elif line.startswith("# TYPE http_seconds "):
            line += "# UNIT http_seconds seconds\n"
        elif line.startswith("# TYPE spark_last_error_info gauge"):
            line = "# TYPE spark_last_error info\n"
        elif (line.startswith("http_requests_total{") or line.startswith("http_seconds_bucket{")) and (
            rng.randrange(_EXEMPLAR_EVERY) == 0
        ):
            trace = f"{rng.getrandbits(64):016x}"
            line = (
                line[:-1]
                + f' # {{trace_id="{trace}"}} {rng.random():.3f} 1764600000.{rng.randrange(1000):03d}\n'
            )
        line = _MS_STAMP.sub(lambda m: f" {m[1][:10]}.{m[1][10:]}\n", line)  # milliseconds -> seconds
        out.append(line)
    pods = sorted(set(re.findall(r'process_resident_memory_bytes\{pod="([^"]+)"', text)))
    out.append("# TYPE spark_feed stateset\n")
    for pod in pods:
        for state in ("live", "stale", "halted"):
            out.append(f'spark_feed{{pod="{pod}",spark_feed="{state}"}} {int(state == "live")}\n')
    out.append("# TYPE spark_build info\n")
    out += [f'spark_build_info{{pod="{pod}",version="1.2.0"}} 1\n' for pod in pods]
    out.append("# EOF\n")
    return "".join(out)


KIND = """
import sys
from spark_ops.checks.metrics import MetricsCheck, MetricsOptions, ValueAssertion
from spark_ops.config import load_profile
options = MetricsOptions(
    url="http://127.0.0.1:9/metrics", max_bytes=20_971_520, min_series=1,
    require=["http_requests_total", "http_seconds", "process_resident_memory_bytes"],
    values=[ValueAssertion(metric="process_resident_memory_bytes", max=2e9)],
)
check = MetricsCheck(options, load_profile("dev"))
with open(sys.argv[1], "rb") as body:
    judgement = check.assess(body.read(), sys.argv[1], sys.argv[2])
print(judgement.status.name, judgement.message)
sys.exit(0 if judgement.status.name == "PASS" else 1)
"""
CLIENT = """
import sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
with open(sys.argv[1], encoding="utf-8") as text:
    print(sum(len(family.samples) for family in text_string_to_metric_families(text.read())))
"""
OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"
TEXT = "text/plain; version=0.0.4"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--instances", type=int, default=188, help="about 740 series each (188: about 10 MB)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="a 0.5 MB exposition, one run (a smoke run)")
    args = parser.parse_args()
    instances, repeat = (10, 1) if args.quick else (args.instances, args.repeat)
    promtool = ensure_tool("promtool", "prometheus")
    with tempfile.TemporaryDirectory(prefix="spark-bench-openmetrics-") as folder:
        work = Path(folder)
        text = exposition(instances)
        om_text = as_openmetrics(text)
        om, prom = work / "metrics.om", work / "metrics.prom"
        om.write_text(om_text, encoding="utf-8")
        prom.write_text(text, encoding="utf-8")
        om_mb, text_mb = len(om_text.encode()) / 1e6, len(text.encode()) / 1e6
        commands: dict[str, tuple[list[str], tuple[int, ...], Path | None]] = {
            "metrics kind, OpenMetrics": ([sys.executable, "-c", KIND, str(om), OPENMETRICS], (0,), None),
            "metrics kind, text format": ([sys.executable, "-c", KIND, str(prom), TEXT], (0,), None),
            "promtool check metrics, text format": ([promtool, "check", "metrics"], (0, 3), prom),
            "prometheus-client OpenMetrics parser": ([sys.executable, "-c", CLIENT, str(om)], (0,), None),
        }
        verdict = subprocess.run(commands["metrics kind, OpenMetrics"][0], capture_output=True, text=True)
        counted = subprocess.run(
            commands["prometheus-client OpenMetrics parser"][0], capture_output=True, text=True
        )
        print(verdict.stdout.strip(), f"| prometheus-client counts {counted.stdout.strip()} samples")
        if verdict.returncode != 0 or f" {counted.stdout.strip()} series" not in verdict.stdout:
            raise SystemExit("the kind does not pass the OpenMetrics fleet, or counts other series")
        runs: dict[str, list[tuple[float, float, float]]] = {name: [] for name in commands}
        for attempt in range(repeat):  # interleaved, so drift on a shared machine hits every tool alike
            for name, (command, ok, stdin) in commands.items():
                with stdin.open("rb") if stdin else open("/dev/null", "rb") as source:
                    runs[name].append(child_usage(command, ok, stdin=source))
            print(f"run {attempt + 1}: " + ", ".join(f"{n} {r[-1][0]:.2f} s" for n, r in runs.items()))
    seconds = {name: median([s for s, _, _ in done]) for name, done in runs.items()}
    cpu = {name: median([c for _, c, _ in done]) for name, done in runs.items()}
    peak = {name: max(m for _, _, m in done) for name, done in runs.items()}
    promtool_s = seconds["promtool check metrics, text format"]
    series = verdict.stdout.split(" series")[0].rsplit(" ", 1)[-1]
    lines = [
        f"## OpenMetrics at size: the fleet as a {om_mb:.1f} MB OpenMetrics exposition ({series} series)",
        "",
        f"Machine: {machine()}; median wall time of {repeat} interleaved runs, each one subprocess "
        "(interpreter and imports included); peak RSS of that process (wait4). The same fleet as "
        f"`metrics_at_size.py` ({text_mb:.1f} MB in the text format), written as OpenMetrics 1.0 with "
        f"exemplars on one counter or bucket line in {_EXEMPLAR_EVERY}, `# UNIT`, info and stateset families "
        "and `# EOF`. The kind: `MetricsCheck.assess` with the answer's Content-Type (parse, bytes, series, "
        "3 required families, a value assertion). promtool reads only the text format: its row is the "
        "peer figure for the same fleet.",
        "",
        "| what | median wall s | MB/s | median CPU s | peak RSS MB | x promtool (wall) | goal |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in commands:
        size = om_mb if "OpenMetrics" in name else text_mb
        goal = "<= 1x" if name == "metrics kind, OpenMetrics" else ""
        lines.append(
            f"| {name} | {seconds[name]:.2f} | {size / seconds[name]:.0f} | {cpu[name]:.2f} "
            f"| {peak[name]:.0f} "
            f"| {seconds[name] / promtool_s:.2f} | {goal} |"
        )
    ratio = seconds["metrics kind, OpenMetrics"] / promtool_s
    cpu_ratio = cpu["metrics kind, OpenMetrics"] / cpu["promtool check metrics, text format"]
    lines += [
        "",
        f"CPU (user + sys): the kind {cpu['metrics kind, OpenMetrics']:.2f} s against promtool's "
        f"{cpu['promtool check metrics, text format']:.2f} s ({cpu_ratio:.2f}x); promtool's Go runtime "
        "spreads over both cores, so its wall time is the lower one on a machine with a core to spare.",
        "",
        "Bound: OpenMetrics has rules across lines (metric grouping, histogram buckets ascending and "
        "cumulative, timestamps per group, duplicates), so after runs of lines of one shape are read in "
        "one C call each, their rows are judged in Python: a run of gauges or counters, and a histogram "
        "group's buckets, with a few set and comparison calls; anything else (exemplars' own checks, "
        "the first row of each group, timestamps) row by row. The text format needs no rule across "
        "lines but duplicates, so its parser stays in C for whole runs. prometheus-client's parser shows "
        "what a character-by-character Python reader costs.",
    ]
    report = "\n".join(lines) + "\n"
    print(report)
    write_section("openmetrics-at-size", report)
    record_rows(
        "openmetrics-at-size",
        [
            {
                "what": f"metrics kind, {om_mb:.0f} MB OpenMetrics exposition",
                "spark": f"{seconds['metrics kind, OpenMetrics']:.2f} s "
                f"({cpu['metrics kind, OpenMetrics']:.2f} s CPU), {peak['metrics kind, OpenMetrics']:.0f} MB",
                "peer": f"{promtool_s:.2f} s (promtool check metrics, the same fleet as text); text format "
                f"in the kind {seconds['metrics kind, text format']:.2f} s",
                "ratio": f"{ratio:.2f}x",
                "goal": "<= 1x",
                "met": "yes" if ratio <= 1.0 else "no",
            }
        ],
    )


if __name__ == "__main__":
    main()

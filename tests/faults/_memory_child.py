"""Run one check per kind through the runner, in a fresh process, and report the peak RSS growth.

    python tests/faults/_memory_child.py '{"limit": ..., "healthy": URL, "hostile": URL, "checks": [...]}'

Each check runs first against the healthy server (so imports, pools and buffers are warm and counted in
the baseline), then against the hostile one. Two measures per hostile run: the growth of the peak
resident set size (getrusage ru_maxrss, a high-water mark, over the warm baseline; coarse, since memory
freed earlier can be reused unseen) and the peak of Python allocations during the run (tracemalloc:
exact for bytes and bytearrays, which is where a body lives). Prints one JSON line.
"""

from __future__ import annotations

import asyncio
import gc
import json
import resource
import sys
import tempfile
import tracemalloc
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests/, for conftest.write_suite

from conftest import write_suite  # noqa: E402

from spark_ops import registry  # noqa: E402
from spark_ops.config import load_profile, load_suite  # noqa: E402
from spark_ops.runner import run_checks  # noqa: E402
from spark_ops.transport import make_client  # noqa: E402


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def run(entry: dict[str, Any], base: str, limit: int, folder: Path) -> dict[str, Any]:
    aimed = {**entry}
    if "url" in aimed:
        aimed["url"] = base + aimed["url"]
    sets = [f"defaults.max_body_bytes={limit}", f"prometheus.url={base}", "defaults.retries=0"]
    prepared = registry.prepare(load_suite(str(write_suite(folder, aimed))), load_profile("dev", sets))

    async def go() -> list[Any]:
        async with make_client(4) as client:
            return await run_checks(
                prepared, client=client, concurrency=4, max_body_bytes=limit, backoff=False
            )

    (result,) = asyncio.run(go())
    return {"status": result.status.value, "message": result.message}


def main() -> None:
    job = json.loads(sys.argv[1])
    folder = Path(tempfile.mkdtemp())
    for entry in job["checks"]:
        run(entry, job["healthy"], job["limit"], folder)
    baseline = peak_rss_bytes()
    report: dict[str, Any] = {"baseline_bytes": baseline, "checks": {}}
    tracemalloc.start()
    for entry in job["checks"]:
        # The last check's loop and client are cyclic garbage: freed during this check, they would lower
        # its peak below the body it read (a 4 MiB body once traced as 4.13 MB in CI).
        gc.collect()
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        outcome = run(entry, job["hostile"], job["limit"], folder)
        outcome["traced_peak_bytes"] = tracemalloc.get_traced_memory()[1] - before
        outcome["growth_bytes"] = peak_rss_bytes() - baseline
        report["checks"][entry["kind"]] = outcome
    print(json.dumps(report))


if __name__ == "__main__":
    main()

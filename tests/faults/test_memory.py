"""The big-body rows of the matrix (gzip bomb, 512 MiB) in a fresh process: peak memory stays bounded."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from faults import render_readme
from faults._matrix import Serve, check_for
from faults.conftest import Origins
from faults.hostile import HostileServer

HERE = Path(__file__).resolve().parent
MEMORY_FAULTS = [f for f in render_readme.all_faults() if f.memory]
LIMIT = 4 * 1024 * 1024  # the body limit the child runs under (smaller than the default: a sharper test)
CHUNK = 64 * 1024  # the most one read adds past the limit: a network read or one bounded inflate step
# What is not the body: a bytearray over-allocates by up to 1/8 as it grows; aiohttp buffers up to
# 2 x 64 KiB of unread socket data; a check's own objects. 1 MiB covers these with room (measured: the
# traced peak is 4.4-4.9 MiB for the 4 MiB limit).
TRACED_ALLOWANCE = LIMIT // 8 + 1024 * 1024
# RSS also holds C allocations (zlib state, the SSL and socket buffers) and the allocator's arenas.
RSS_ALLOWANCE = 8 * 1024 * 1024


def test_the_matrix_has_memory_rows():
    """An empty MEMORY_FAULTS would turn the test below into one silent skip."""
    assert MEMORY_FAULTS


@pytest.fixture
def healthy() -> Iterator[HostileServer]:
    server = HostileServer("127.0.0.1", serve=Serve()).start()
    yield server
    server.stop()


@pytest.mark.parametrize("fault", MEMORY_FAULTS, ids=[f.id for f in MEMORY_FAULTS])
def test_peak_memory_stays_under_the_body_limit_plus_a_chunk(
    fault, origins: Origins, healthy: HostileServer
) -> None:
    """A body far over the limit (1 GiB inflated, 512 MiB plain) grows peak RSS by at most limit + a chunk."""
    origins.plain.serve = fault.serve
    # The latency probe holds up to max_in_flight bodies at once by design: the per-request kinds here.
    checks = [
        {**check_for(kind, "", expect.options), "timeout_s": 30.0}
        for kind, expect in fault.expect.items()
        if kind != "latency"
    ]
    job = {"limit": LIMIT, "healthy": healthy.origin, "hostile": origins.plain.origin, "checks": checks}
    child = subprocess.run(
        [sys.executable, str(HERE / "_memory_child.py"), json.dumps(job)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert child.returncode == 0 and "Traceback" not in child.stderr, child.stderr
    report = json.loads(child.stdout)
    # Every check asked for reports back: an empty or partial report must not pass the loop below.
    assert checks and report["checks"].keys() == {c["kind"] for c in checks}, (checks, report)
    bound = LIMIT + CHUNK + TRACED_ALLOWANCE
    for kind, outcome in report["checks"].items():
        expect = fault.expect[kind]
        reason = expect.reason.replace("10485760", str(LIMIT))  # the child's smaller limit
        assert outcome["status"] == expect.status.value, (kind, outcome)
        assert re.search(reason, outcome["message"]), (kind, reason, outcome)
        rss = outcome["growth_bytes"]
        assert rss < LIMIT + CHUNK + RSS_ALLOWANCE, (kind, rss / 2**20, "MiB RSS", report)
        assert outcome["traced_peak_bytes"] < bound, (kind, outcome, bound)
        if "body larger than" in reason:  # the body was read up to the limit: the measure must see it
            assert outcome["traced_peak_bytes"] >= LIMIT, (kind, outcome)
    for kind, outcome in report["checks"].items():
        print(
            f"{fault.id} {kind}: RSS peak growth {outcome['growth_bytes'] / 2**20:.1f} MiB,"
            f" traced peak {outcome['traced_peak_bytes'] / 2**20:.2f} MiB (bound {bound / 2**20:.2f} MiB)"
        )

"""Which HTTP transport the runner should use: 1000 GETs, 64 in flight, to a loopback server that
answers in 50 ms. Side by side in one run: httpx's default transport, httpx on aiohttp's transport
(what spark-ops uses), and plain aiohttp (the client floor in Python). Floor: 1000 / 64 * 50 ms = 0.8 s.

    python bench/transport.py [--requests N] [--concurrency C] [--repeat R]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _results import machine, record_rows, write_section
from _tools import loopback_server


async def gather_bounded(count: int, concurrency: int, one: Callable[[], Awaitable[int]]) -> None:
    gate = asyncio.Semaphore(concurrency)

    async def guarded() -> int:
        async with gate:
            return await one()

    statuses = await asyncio.gather(*(guarded() for _ in range(count)))
    if any(status != 200 for status in statuses):
        raise RuntimeError("a request failed")


async def httpx_default(url: str, count: int, concurrency: int) -> None:
    import httpx

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits) as client:
        await gather_bounded(count, concurrency, lambda: _status(client.get(url)))


async def httpx_aiohttp(url: str, count: int, concurrency: int) -> None:
    from spark_ops.transport import make_client

    async with make_client(concurrency) as client:
        await gather_bounded(count, concurrency, lambda: _status(client.get(url)))


async def plain_aiohttp(url: str, count: int, concurrency: int) -> None:
    import aiohttp

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def one() -> int:
            async with session.get(url) as response:
                await response.read()
                return response.status

        await gather_bounded(count, concurrency, one)


async def _status(pending: Awaitable[object]) -> int:
    response = await pending
    return int(response.status_code)  # type: ignore[attr-defined]


CLIENTS = {
    "httpx default transport": httpx_default,
    "httpx + aiohttp transport (spark-ops)": httpx_aiohttp,
    "plain aiohttp (floor in Python)": plain_aiohttp,
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 200 requests, once")
    args = parser.parse_args()
    if args.quick:
        args.requests, args.repeat = 200, 1
    with loopback_server(delay_ms=50) as base:
        url = f"{base}/"
        times: dict[str, list[float]] = {name: [] for name in CLIENTS}
        for _ in range(args.repeat):  # interleaved, so drift on a shared machine hits every client alike
            for name, client in CLIENTS.items():
                started = time.perf_counter()
                asyncio.run(client(url, args.requests, args.concurrency))
                times[name].append(time.perf_counter() - started)
    floor = args.requests / args.concurrency * 0.05
    aiohttp_median = statistics.median(times["plain aiohttp (floor in Python)"])
    lines = [
        f"## HTTP transport: {args.requests} GETs, {args.concurrency} in flight, server answers in 50 ms",
        "",
        f"Machine: {machine()}; median of {args.repeat} interleaved runs; floor {floor:.2f} s.",
        "",
        "| client | median s | x plain aiohttp |",
        "|---|---|---|",
    ]
    for name, samples in times.items():
        median = statistics.median(samples)
        lines.append(f"| {name} | {median:.2f} | {median / aiohttp_median:.2f} |")
    report = "\n".join(lines) + "\n"
    print(report)
    write_section("transport", report)
    ours = statistics.median(times["httpx + aiohttp transport (spark-ops)"])
    record_rows(
        "transport",
        [
            {
                "what": f"HTTP client: {args.requests} GETs, {args.concurrency} in flight",
                "spark": f"{ours:.2f} s",
                "peer": f"{aiohttp_median:.2f} s (plain aiohttp)",
                "ratio": f"{ours / aiohttp_median:.2f}x",
                "goal": "near the Python floor",
                "met": "yes" if ours / aiohttp_median <= 1.15 else "no",
            }
        ],
    )


if __name__ == "__main__":
    main()

"""An asyncio event loop on a thread of its own, driven from other threads.

Used where work must not share the caller's loop: the monitor's session (one loop and client for many
runs), the latency probe (isolated from the other checks' callbacks, so their work does not delay its
send times) and the in-process simulator.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    import httpx

T = TypeVar("T")


class LoopThread:
    """A started event loop on a daemon thread; ``close()`` cancels what still runs and ends both."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def submit(self, coroutine: Callable[[], Awaitable[T]]) -> Future[T]:
        """Start ``coroutine()`` on the loop; the future completes with its result (from any thread)."""

        async def wrapped() -> T:
            return await coroutine()

        return asyncio.run_coroutine_threadsafe(wrapped(), self.loop)

    def run(self, coroutine: Callable[[], Awaitable[T]], timeout_s: float | None = None) -> T:
        """Run ``coroutine()`` on the loop and wait for its result (never from the loop's own thread)."""
        return self.submit(coroutine).result(timeout=timeout_s)

    async def run_here(self, coroutine: Callable[[], Awaitable[T]]) -> T:
        """Await, from another event loop, ``coroutine()`` run on this one; cancelling the wait cancels it."""
        return await asyncio.wrap_future(self.submit(coroutine))

    def close(self, before: Callable[[], Awaitable[None]] | None = None, timeout_s: float = 10) -> None:
        """Cancel every task still running, await ``before()`` (e.g. closing a client), stop the loop."""

        async def shut() -> None:
            current = asyncio.current_task()
            pending = [task for task in asyncio.all_tasks() if task is not current]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            if before is not None:
                await before()

        if not self._thread.is_alive():
            return
        try:
            asyncio.run_coroutine_threadsafe(shut(), self.loop).result(timeout=timeout_s)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=timeout_s)
            if not self._thread.is_alive():
                self.loop.close()


class ClientLoop(LoopThread):
    """A loop on its own thread with one HTTP client on it, for many runs in a row (the monitor's cycles)
    or for checks that must run alone (the latency probe): connections stay open between runs and nothing
    is set up again per run. Against the simulator a fresh loop, client and connections per monitor cycle
    were about half of a cycle's CPU time.
    """

    def __init__(self, max_connections: int, name: str = "spark-client-loop") -> None:
        super().__init__(name)
        self.client: httpx.AsyncClient = self.run(lambda: self._open(max_connections))

    @staticmethod
    async def _open(max_connections: int) -> httpx.AsyncClient:
        from spark_ops.transport import make_client

        return await make_client(max_connections).__aenter__()

    def close(self, before: Callable[[], Awaitable[None]] | None = None, timeout_s: float = 10) -> None:
        """Cancel whatever still runs (an abandoned run), close the client, stop the loop."""

        async def shut() -> None:
            if before is not None:
                await before()
            await self.client.aclose()

        super().close(shut, timeout_s)

"""The embedded Spark platform simulator: ``Simulator`` runs it on an event loop on a thread of its own
(``sim.child.SimulatorProcess`` runs one in a child process).

with Simulator(ports="auto", faults=[parse_fault("marketdata=stale:60")]) as sim:
    sim.urls["web"]  # http://127.0.0.1:<free port>
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import Literal, TypeVar

from spark_ops.errors import ConfigError
from spark_ops.loop_thread import LoopThread
from spark_ops.sim.faults import SERVICES, Fault, parse_fault

T = TypeVar("T")

__all__ = ["SERVICES", "Fault", "Simulator", "parse_fault", "serve_until_stopped"]


class Simulator:
    """Starts the simulated platform on its own event loop and thread; ``stop()`` ends both."""

    def __init__(
        self,
        *,
        ports: Literal["default", "auto"] = "auto",
        faults: Sequence[Fault] = (),
        role: str | None = None,  # a constant label role="..." on every series: baseline vs canary
    ) -> None:
        from spark_ops.sim.platform import DEFAULT_PORTS, Platform

        wanted = dict(DEFAULT_PORTS) if ports == "default" else dict.fromkeys(SERVICES, 0)
        self.platform = Platform(wanted, list(faults), role)
        self._thread: LoopThread | None = None

    @property
    def urls(self) -> dict[str, str]:
        return {name: self.platform.url(name) for name in SERVICES}

    def _call(self, coroutine: Callable[[], Awaitable[T]]) -> T:
        assert self._thread is not None, "the simulator is not started"
        return self._thread.run(coroutine, timeout_s=30)

    def start(self) -> Simulator:
        self._thread = LoopThread("spark-sim")
        try:
            self._call(self.platform.start)
        except OSError as exc:
            self.stop()
            raise ConfigError(f"the simulator cannot start: {exc}") from None
        return self

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            try:
                thread.run(self.platform.stop, timeout_s=30)
            finally:
                thread.close()

    def apply(self, fault: Fault) -> None:
        self._call(lambda: self.platform.apply(fault))

    def clear(self, service: str | None = None) -> None:
        self._call(lambda: self.platform.clear(service))

    def profile_toml(self, extends: str = "dev") -> str:
        """A profile pointing at this simulator's services."""
        lines = ['description = "the spark-ops simulator"', f'extends = "{extends}"']
        for name, url in self.urls.items():
            lines += ["", f"[services.{name}]", f'url = "{url}"']
        return "\n".join(lines) + "\n"

    def profile_sets(self) -> list[str]:
        """``--set`` assignments pointing a profile's services at this simulator."""
        return [f"services.{name}.url={url}" for name, url in self.urls.items()]

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def serve_until_stopped(simulator: Simulator, on_ready: Callable[[Simulator], None]) -> None:
    """Start ``simulator``, call ``on_ready`` and serve until Ctrl-C or SIGTERM; it is stopped however
    this ends. The SIGTERM handler is in place before the start, so a SIGTERM at any moment stops cleanly."""
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        with simulator:
            on_ready(simulator)
            with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is the normal way to stop
                stop.wait()
    finally:
        signal.signal(signal.SIGTERM, previous)

"""The simulator in a child process: ``spark canary --mode mock`` runs it there, so its event loop never
shares the CLI's interpreter (and GIL) with the latency probe that measures it.

The child (``python -m spark_ops.sim.child``) starts a ``Simulator`` on free ports, prints one JSON line
with its URLs, and serves until its standard input closes: a parent that dies takes it along, on every
platform, without signals.
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
from collections.abc import Sequence

from spark_ops.errors import ConfigError
from spark_ops.sim.faults import SERVICES, Fault, parse_fault

READY_TIMEOUT_S = 60.0  # a loaded CI machine imports aiohttp and prometheus_client slowly
STOP_TIMEOUT_S = 10.0


class SimulatorProcess:
    """The simulated platform in a child process; the same ``urls``/``profile_sets`` as ``Simulator``."""

    def __init__(self, *, faults: Sequence[Fault] = (), role: str | None = None) -> None:
        self.faults, self.role = list(faults), role
        self.urls: dict[str, str] = {}
        self._process: subprocess.Popen[str] | None = None

    def start(self) -> SimulatorProcess:
        command = [sys.executable, "-m", "spark_ops.sim.child"]
        command += [argument for fault in self.faults for argument in ("--fault", str(fault))]
        command += ["--role", self.role] if self.role else []
        self._process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        line = _first_line(self._process, READY_TIMEOUT_S)
        try:
            urls = json.loads(line)["urls"] if line else None
        except (ValueError, KeyError, TypeError):
            urls = None
        if not isinstance(urls, dict) or set(urls) != set(SERVICES):
            self.stop()
            error = (self._process.stderr.read() if self._process.stderr else "").strip().splitlines()
            raise ConfigError(f"the simulator did not start: {error[-1] if error else line or 'no answer'}")
        self.urls = {str(name): str(url) for name, url in urls.items()}
        return self

    def stop(self) -> None:
        """Close the child's input (it stops itself); one that does not is terminated, then killed."""
        process = self._process
        if process is None or process.poll() is not None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT_S)

    def profile_sets(self) -> list[str]:
        """``--set`` assignments pointing a profile's services at this simulator."""
        return [f"services.{name}.url={url}" for name, url in self.urls.items()]

    def __enter__(self) -> SimulatorProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _first_line(process: subprocess.Popen[str], timeout_s: float) -> str:
    """The child's first line of output, or "" when it exits or says nothing within ``timeout_s``."""
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    reader = threading.Thread(target=lambda: lines.put(process.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        return lines.get(timeout=timeout_s).strip()
    except queue.Empty:
        return ""


def main(arguments: Sequence[str]) -> int:
    """The child: serve the simulator until standard input closes."""
    import argparse

    from spark_ops.sim import Simulator

    parser = argparse.ArgumentParser(prog="python -m spark_ops.sim.child")
    parser.add_argument("--fault", action="append", default=[], type=parse_fault)
    parser.add_argument("--role")
    options = parser.parse_args(arguments)
    with Simulator(ports="auto", faults=options.fault, role=options.role) as simulator:
        print(json.dumps({"urls": simulator.urls}), flush=True)
        sys.stdin.read()  # until the parent closes it, or dies
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except ConfigError as exc:
        print(f"spark sim: {exc}", file=sys.stderr)
        sys.exit(2)

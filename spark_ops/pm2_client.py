"""The PM2 client: run ``pm2 jlist``, read its process list, and trim it to what may be kept.

A raw jlist holds every process's whole environment (tokens, passwords): it is parsed here, trimmed by
``trimmed_status`` and never stored or shown. Used by the ``pm2`` check kind and by ``spark evidence
export``'s ``system/pm2_status.json``: ``pm2_status()`` (run pm2, return the trimmed list),
``read_jlist``, ``parse_jlist``, ``trimmed_status``, ``read_process`` and ``daemon_running``.

Portable: ``pm2`` is found with ``shutil.which`` (``pm2.cmd`` first on Windows, where npm's extensionless
``pm2`` is a shell script); the child runs in its own process group where there are process groups, so
a kill reaches what it started; elsewhere ``taskkill /T`` ends the child's tree, and the child is killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spark_ops import strict_json
from spark_ops.errors import CheckError, TargetError, clip
from spark_ops.fsio import process_alive
from spark_ops.jsonpath import MISSING, lookup
from spark_ops.units import finite_number

DEFAULT_COMMAND = "pm2"
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
STDERR_KEEP_BYTES = 64 * 1024
STDERR_LINE_CHARS = 200
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_LIST_START = re.compile(r"^[ \t]*\[", re.M)
# Process groups (POSIX): the child leads its own, and a kill reaches everything in it. Tests turn
# this off to run the Windows path (kill the child alone) on Linux.
KILLS_PROCESS_GROUPS = hasattr(os, "killpg") and hasattr(signal, "SIGKILL")
ON_WINDOWS = sys.platform == "win32"

# Seconds since the epoch, for uptimes; tests pin it to a recording's time.
clock: Callable[[], float] = time.time


@dataclass(frozen=True, slots=True)
class ProcessStatus:
    """What the check reads of one jlist entry: typed values only, and what was missing or mistyped."""

    name: str | None
    pm_id: int | None
    status: str | None
    restart_time: int | None
    memory_bytes: float | None
    cpu: float | None
    uptime_s: float | None  # online processes only
    problems: tuple[str, ...]

    def trimmed(self) -> dict[str, Any]:
        """The entry as evidence may keep it: no environment, no paths."""
        return {
            "name": self.name,
            "pm_id": self.pm_id,
            "status": self.status,
            "restart_time": self.restart_time,
            "memory": self.memory_bytes,
            "cpu": self.cpu,
            "uptime_s": None if self.uptime_s is None else round(self.uptime_s, 1),
        }


def _shown(value: Any) -> str:
    """A wrongly typed value, described without echoing containers (they may hold an environment)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return f"the string {value!r}" if len(value) <= 20 else "a string"
    return "a list" if isinstance(value, list) else "an object"


def _count(value: Any, where: str, what: str, problems: list[str], *, whole: bool = False) -> Any:
    """``value`` when it is a finite number >= 0 (an int when ``whole``), else None and a problem."""
    if value is MISSING:
        problems.append(f"{where} missing")
        return None
    typed = isinstance(value, int) if whole else isinstance(value, int | float)
    if isinstance(value, bool) or not typed or finite_number(value) is None or value < 0:
        problems.append(f"{where} is {_shown(value)}, not {what}")
        return None
    return value


def read_process(entry: Any, now_ms: float) -> ProcessStatus:
    """Read one jlist entry; missing or mistyped fields become problems, never good values."""
    problems: list[str] = []
    if not isinstance(entry, dict):
        return ProcessStatus(None, None, None, None, None, None, None, (f"entry is {_shown(entry)}",))
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        problems.append("name missing")
        name = None
    pm_id = entry.get("pm_id")
    pm_id = pm_id if isinstance(pm_id, int) and not isinstance(pm_id, bool) else None
    env, monit = entry.get("pm2_env"), entry.get("monit")
    status = lookup(env, "status")
    if not isinstance(status, str) or not status:
        problems.append(
            "pm2_env.status missing" if status is MISSING else f"pm2_env.status is {_shown(status)}"
        )
        status = None
    restarts = _count(lookup(env, "restart_time"), "pm2_env.restart_time", "a count", problems, whole=True)
    memory = _count(lookup(monit, "memory"), "monit.memory", "a number of bytes", problems)
    cpu = finite_number(lookup(monit, "cpu"))
    started_ms = finite_number(lookup(env, "pm_uptime"))
    uptime_s = (now_ms - started_ms) / 1000 if status == "online" and started_ms is not None else None
    return ProcessStatus(name, pm_id, status, restarts, memory, cpu, uptime_s, tuple(problems))


def trimmed_status(processes: list[Any], now_ms: float | None = None) -> list[dict[str, Any]]:
    """A parsed jlist cut down to name, pm_id, status, restart_time, memory, cpu, uptime_s per process."""
    now_ms = clock() * 1000 if now_ms is None else now_ms
    return [read_process(entry, now_ms).trimmed() for entry in processes]


def parse_jlist(data: bytes, origin: str) -> list[Any]:
    """The process list in ``data``; PM2's banner or warning lines before the JSON are skipped.

    Raises TargetError when ``data`` is not UTF-8 or holds no JSON array that runs to its end. Messages never
    quote the data: a broken jlist may still hold environment values.
    """
    try:
        text = data.decode("utf-8")  # JSON is UTF-8 (RFC 8259); pm2 (Node) never writes anything else
    except UnicodeDecodeError as exc:
        raise TargetError(f"{origin}: not valid UTF-8 (byte {exc.start}), not a PM2 process list") from None
    if not text.strip():
        raise TargetError(f"{origin}: empty answer where the PM2 process list was expected")
    try:
        document = strict_json.loads(text)
    except strict_json.AmbiguousJson as exc:
        raise TargetError(f"{origin}: ambiguous JSON: {exc}") from None
    except (ValueError, RecursionError):
        document = MISSING
    if document is not MISSING and not isinstance(document, list):
        raise TargetError(f"{origin}: JSON {_shown(document)}, not a PM2 process list")
    if isinstance(document, list):
        return document
    # Banner lines can start with "[" too ("[PM2] Spawning..."): the list is the array that ends the output.
    for start in _LIST_START.finditer(text):
        try:
            found, end = strict_json.raw_decode(text, start.end() - 1)
        except strict_json.AmbiguousJson as exc:
            raise TargetError(f"{origin}: ambiguous JSON: {exc}") from None
        except (ValueError, RecursionError):
            continue
        if isinstance(found, list) and not text[end:].strip():
            return found
    raise TargetError(f"{origin}: not a PM2 process list (no JSON array in {len(data)} bytes)")


def _stderr_line(stderr: bytes) -> str:
    """The most telling stderr line (the first naming an error, else the last), short.

    Not redacted here: every output (the run's results, the export, the CLI's errors) is redacted once.
    """
    lines = [line.strip() for line in _ANSI.sub("", stderr.decode("utf-8", errors="replace")).splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        return "no output on stderr"
    line = next((line for line in lines if "error" in line.lower()), lines[-1])
    return clip(line, STDERR_LINE_CHARS)


async def _read_to_eof(
    stream: asyncio.StreamReader | None, keep: int, on_overflow: Callable[[], None] | None = None
) -> tuple[bytes, bool]:
    """Read ``stream`` to its end (an undrained pipe keeps the child from being reaped) and say whether it
    held more than ``keep`` bytes. With ``on_overflow`` (called once) the first ``keep`` bytes are kept,
    without it the last ``keep``."""
    data = bytearray()
    overflowed = False
    while stream is not None and (chunk := await stream.read(65536)):
        if overflowed and on_overflow is not None:
            continue
        data += chunk
        if len(data) > keep:
            overflowed = True
            if on_overflow is None:
                del data[:-keep]
            else:
                on_overflow()
    return bytes(data), overflowed


def _kill(process: asyncio.subprocess.Process) -> None:
    """Kill the child and everything it started (a wrapper's children: node under ``pm2.cmd``)."""
    try:
        if KILLS_PROCESS_GROUPS:
            os.killpg(process.pid, signal.SIGKILL)
            return
        _kill_tree(process.pid)
        process.kill()  # the child itself, whether or not taskkill could run
    except ProcessLookupError:
        pass


def _kill_tree(pid: int) -> None:
    """Without process groups (Windows) ``taskkill /T`` ends ``pid`` with its descendants, if it runs."""
    import subprocess

    taskkill = shutil.which("taskkill")
    if taskkill is None:
        return
    with contextlib.suppress(OSError, subprocess.SubprocessError):  # the child is still killed after
        subprocess.run(
            [taskkill, "/T", "/F", "/PID", str(pid)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=10,
            check=False,
        )


def find_executable(command: str, *, windows: bool | None = None) -> str | None:
    """The path of ``command`` on PATH, or None. On Windows ``<command>.cmd`` and ``.exe`` come first:
    npm installs ``pm2`` beside ``pm2.cmd``, and the extensionless one is a shell script Windows cannot run.
    """
    if (ON_WINDOWS if windows is None else windows) and not Path(command).suffix:
        for candidate in (f"{command}.cmd", f"{command}.exe"):
            if (found := shutil.which(candidate)) is not None:
                return found
    return shutil.which(command)


def daemon_running() -> bool:
    """Whether a PM2 daemon runs (a live pid in ``$PM2_HOME/pm2.pid``): ``pm2 jlist`` would start one."""
    home = Path(os.environ.get("PM2_HOME") or Path.home() / ".pm2")
    try:
        pid = int((home / "pm2.pid").read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return False
    return process_alive(pid)


async def read_jlist(command: str = DEFAULT_COMMAND, *, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """The standard output of ``<command> jlist`` (raw: it holds environments; parse and trim it).

    Raises CheckError when the command is not on PATH, cannot start or exits non-zero (the reason
    carries one redacted stderr line), TargetError when the output exceeds ``max_bytes``. When the
    caller is cancelled (a deadline), the child and its session are killed and reaped before returning.
    """
    what = f"{command} jlist"
    executable = find_executable(command)
    if executable is None:
        raise CheckError(f"cannot read the PM2 process list: {command!r} is not on PATH")
    try:
        process = await asyncio.create_subprocess_exec(
            executable,
            "jlist",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=KILLS_PROCESS_GROUPS,  # its own process group: a kill reaches what it started
        )
    except OSError as exc:
        raise CheckError(f"cannot run {what}: {exc.strerror or exc}") from None
    try:
        (stdout, too_long), (stderr, _) = await asyncio.gather(
            _read_to_eof(process.stdout, max_bytes, on_overflow=lambda: _kill(process)),
            _read_to_eof(process.stderr, STDERR_KEEP_BYTES),
        )
        returncode = await process.wait()
    finally:
        if process.returncode is None:
            _kill(process)
            await process.wait()
    if too_long:
        raise TargetError(f"{what}: output larger than the {max_bytes}-byte limit")
    if returncode != 0:
        raise CheckError(f"{what} exited {returncode}: {_stderr_line(stderr)}")
    return stdout


def pm2_status(
    command: str = DEFAULT_COMMAND, *, timeout_s: float = 10.0, max_bytes: int = DEFAULT_MAX_BYTES
) -> list[dict[str, Any]]:
    """Run ``<command> jlist`` and return the trimmed process list (e.g. for ``system/pm2_status.json``).

    Synchronous, for code outside the runner. Raises CheckError when pm2 is missing, fails or gives
    no answer within ``timeout_s`` (the child is killed), TargetError when its output is no process list.
    """

    async def read() -> bytes:
        async with asyncio.timeout(timeout_s):
            return await read_jlist(command, max_bytes=max_bytes)

    try:
        data = asyncio.run(read())
    except TimeoutError:
        raise CheckError(f"{command} jlist gave no answer within {timeout_s:g} s") from None
    return trimmed_status(parse_jlist(data, f"{command} jlist"))

"""``pm2``: every process PM2 supervises is online, not restarting in a loop, within memory, up long enough.

The process list is ``pm2 jlist``'s JSON, read from exactly one source: ``url`` or ``service`` + ``path``
(an endpoint serving the same JSON, e.g. the simulator's ``/api/tools/pm2``), ``file`` (a saved jlist,
relative to the working directory), or by running ``<command> jlist`` (``command`` defaults to ``pm2``).

Outcomes: a local source that cannot be read (pm2 not on PATH, a non-zero exit, an unreadable file) is
ERROR: the check could not look, which says nothing about the processes but never passes. Anything that
answered with something other than a healthy process list (not JSON, not a list, a bad process) is FAIL;
an empty list is INCONCLUSIVE unless ``processes`` named some, which are then missing (FAIL).

A raw jlist holds every process's whole environment (tokens, passwords): it is parsed here, trimmed by
``trimmed_status`` and never stored or shown. Reusable pieces, e.g. for ``spark evidence export``'s
``system/pm2_status.json``: ``pm2_status()`` (run pm2, return the trimmed list), ``read_jlist``,
``parse_jlist`` and ``trimmed_status``.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

import msgspec

from spark_ops.checks._common import MISSING, TargetOptions, clip, lookup, require_2xx
from spark_ops.config import Profile, Target
from spark_ops.config.schema import NonNegativeFloat, NonNegativeInt, PositiveFloat
from spark_ops.errors import CheckError, ConfigError, TargetError
from spark_ops.model import Judgement, Status
from spark_ops.units import finite_number

if TYPE_CHECKING:  # the runner (httpx, aiohttp) loads only when checks run
    from spark_ops.transport import Probe

NonEmptyText = Annotated[str, msgspec.Meta(min_length=1)]
DEFAULT_COMMAND = "pm2"
DEFAULT_PATH = "/api/tools/pm2"
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
MIB = 1024 * 1024  # PM2 shows memory in MiB and calls it "mb"
STDERR_KEEP_BYTES = 64 * 1024
STDERR_LINE_CHARS = 200
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_LIST_START = re.compile(r"^[ \t]*\[", re.M)
_DAEMON_SPAWNED = b"Spawning PM2 daemon"

# Seconds since the epoch, for uptimes; tests pin it to a recording's time.
clock: Callable[[], float] = time.time


class Pm2Options(TargetOptions, frozen=True, kw_only=True):
    file: NonEmptyText | None = None
    command: NonEmptyText | None = None
    processes: Annotated[list[NonEmptyText], msgspec.Meta(min_length=1)] | None = None
    max_restarts: NonNegativeInt | None = None
    max_memory_mb: PositiveFloat | None = None
    min_uptime_s: NonNegativeFloat | None = None


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
        document = json.loads(text)
    except (ValueError, RecursionError):
        document = MISSING
    if document is not MISSING and not isinstance(document, list):
        raise TargetError(f"{origin}: JSON {_shown(document)}, not a PM2 process list")
    if isinstance(document, list):
        return document
    decoder = json.JSONDecoder()
    # Banner lines can start with "[" too ("[PM2] Spawning..."): the list is the array that ends the output.
    for start in _LIST_START.finditer(text):
        try:
            found, end = decoder.raw_decode(text, start.end() - 1)
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
    """Kill the child and everything in its session (a wrapper script's own children too)."""
    try:
        if sys.platform == "win32":
            process.kill()
        else:
            os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


async def read_jlist(command: str = DEFAULT_COMMAND, *, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """The standard output of ``<command> jlist`` (raw: it holds environments; parse and trim it).

    Raises CheckError when the command is not on PATH, cannot start or exits non-zero (the reason
    carries one redacted stderr line), TargetError when the output exceeds ``max_bytes``. When the
    caller is cancelled (a deadline), the child and its session are killed and reaped before returning.
    """
    what = f"{command} jlist"
    executable = shutil.which(command)
    if executable is None:
        raise CheckError(f"cannot read the PM2 process list: {command!r} is not on PATH")
    try:
        process = await asyncio.create_subprocess_exec(
            executable,
            "jlist",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,  # its own process group, so a kill reaches whatever it started
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


class Pm2Check:
    kind: ClassVar[str] = "pm2"
    summary: ClassVar[str] = "PM2 processes (pm2 jlist, a file or a URL): online, restarts, memory, uptime"
    Options: ClassVar[type[Pm2Options]] = Pm2Options

    def __init__(self, options: Pm2Options, profile: Profile) -> None:
        # The keys given per source; two sources would be ambiguous.
        sources = [
            keys
            for keys in (
                [key for key in ("url", "service", "path") if getattr(options, key) is not None],
                ["file"] if options.file is not None else [],
                ["command"] if options.command is not None else [],
            )
            if keys
        ]
        if len(sources) > 1:
            first, second = sources[0][0], sources[1][0]
            raise ConfigError(
                f"give one source (url, service + path, file or command), not both {first} and {second}",
                key=second,
            )
        self.target: Target | None = None
        if options.url is not None or options.service is not None or options.path is not None:
            self.target = profile.target(
                service=options.service, path=options.path, url=options.url, default_path=DEFAULT_PATH
            )
        self.file = options.file
        self.command = options.command or DEFAULT_COMMAND
        self.processes = list(dict.fromkeys(options.processes)) if options.processes is not None else None
        defaults = profile.config.pm2
        self.max_restarts = defaults.max_restarts if options.max_restarts is None else options.max_restarts
        self.max_memory_mb = (
            defaults.max_memory_mb if options.max_memory_mb is None else options.max_memory_mb
        )
        self.min_uptime_s = defaults.min_uptime_s if options.min_uptime_s is None else options.min_uptime_s
        if self.target is not None:
            self.artifact = f"pm2/{options.service or 'target'}.json"
        elif self.file is not None:
            self.artifact = f"pm2/{Path(self.file).stem}.json"
        else:
            self.artifact = "pm2/status.json"

    @property
    def threshold(self) -> dict[str, Any]:
        limits: dict[str, Any] = {
            "max_restarts": self.max_restarts,
            "max_memory_mb": self.max_memory_mb,
            "min_uptime_s": self.min_uptime_s,
            "processes": self.processes,
        }
        return {key: value for key, value in limits.items() if value is not None}

    @property
    def planned_load(self) -> str:
        if self.target is not None:
            return f"1 request to {self.target.display}"
        if self.file is not None:
            return f"reads {self.file}"
        return f"runs `{self.command} jlist` on this machine"

    async def _read(self, probe: Probe) -> tuple[bytes, str]:
        """The raw list and where it came from (for messages)."""
        if self.target is not None:
            fetched = await probe.fetch(self.target)
            require_2xx(fetched)
            return fetched.body, fetched.describe()
        if self.file is not None:
            try:
                with Path(self.file).open("rb") as handle:
                    data = handle.read(probe.max_body_bytes + 1)
            except OSError as exc:
                raise CheckError(f"cannot read {self.file}: {exc.strerror or exc}") from None
            if len(data) > probe.max_body_bytes:
                raise TargetError(f"{self.file}: larger than the {probe.max_body_bytes}-byte limit")
            return data, self.file
        data = await read_jlist(self.command, max_bytes=probe.max_body_bytes)
        return data, f"{self.command} jlist"

    def _faults(self, process: ProcessStatus) -> list[str]:
        """Why ``process`` is bad, in the order an operator reads a ``pm2 ls`` row; empty when good."""
        faults = list(process.problems)
        if process.status is not None and process.status != "online":
            faults.append(process.status)
        if process.restart_time is not None and process.restart_time > self.max_restarts:
            faults.append(f"{_plural(process.restart_time, 'restart')} (max {self.max_restarts})")
        if self.max_memory_mb is not None and process.memory_bytes is not None:
            memory_mb = process.memory_bytes / MIB
            if memory_mb > self.max_memory_mb:
                faults.append(f"{memory_mb:.1f} MB memory (max {self.max_memory_mb:g})")
        if self.min_uptime_s is not None and process.status == "online":
            if process.uptime_s is None:
                faults.append("pm2_env.pm_uptime missing or not a number")
            elif process.uptime_s < self.min_uptime_s:
                faults.append(f"up {process.uptime_s:.1f} s (min {self.min_uptime_s:g})")
        return faults

    async def judge(self, probe: Probe) -> Judgement:
        data, origin = await self._read(probe)
        entries = parse_jlist(data, origin)
        now_ms = clock() * 1000
        listed = [read_process(entry, now_ms) for entry in entries]
        artifacts = {self.artifact: json.dumps([p.trimmed() for p in listed], indent=2).encode()}
        # PM2 starts its daemon for `jlist` when none runs: then nothing was being supervised.
        note = " (the PM2 daemon was not running: pm2 jlist started it)" if _DAEMON_SPAWNED in data else ""
        names = Counter(p.name for p in listed)
        judged = [
            (_label(process, index, names), process)
            for index, process in enumerate(listed)
            if self.processes is None or process.name in self.processes
        ]
        present = {process.name for _, process in judged}
        missing = [name for name in self.processes or [] if name not in present]
        if not judged and not missing:
            return Judgement(
                Status.INCONCLUSIVE,
                f"{origin}: PM2 lists no processes{note}",
                observed={"processes": 0, "bad": []},
                threshold=self.threshold,
                artifacts=artifacts,
            )
        bad = [(name, ["not in the PM2 list"]) for name in missing]
        bad += [(label, faults) for label, process in judged if (faults := self._faults(process))]
        total = len(judged) + len(missing)
        observed = {"processes": total, "bad": [label for label, _ in bad]}
        if bad:
            reasons = "; ".join(f"{label}: {', '.join(faults)}" for label, faults in bad)
            return Judgement(
                Status.FAIL,
                f"{len(bad)} of {total} PM2 processes bad: {reasons}{note}",
                observed=observed,
                threshold=self.threshold,
                artifacts=artifacts,
            )
        most_restarts = max(process.restart_time or 0 for _, process in judged)
        return Judgement(
            Status.PASS,
            f"{_plural(total, 'PM2 process', 'es')} online, at most {_plural(most_restarts, 'restart')}"
            f" (max {self.max_restarts})",
            observed=observed,
            threshold=self.threshold,
            artifacts=artifacts,
        )


def _label(process: ProcessStatus, index: int, names: Counter[str | None]) -> str:
    """The process's name; its pm_id too when the name is shared (cluster mode) or missing."""
    where = f"pm_id {process.pm_id}" if process.pm_id is not None else f"entry {index}"
    if process.name is None:
        return where
    return f"{process.name} ({where})" if names[process.name] > 1 else process.name


def _plural(count: int, noun: str, suffix: str = "s") -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}{suffix}"

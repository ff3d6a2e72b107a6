"""``pm2``: every process PM2 supervises is online, not restarting in a loop, within memory, up long enough.

The process list is ``pm2 jlist``'s JSON, read from exactly one source: ``url`` or ``service`` + ``path``
(an endpoint serving the same JSON, e.g. the simulator's ``/api/tools/pm2``), ``file`` (a saved jlist,
relative to the working directory), or by running ``<command> jlist`` (``command`` defaults to ``pm2``).

Outcomes: a local source that cannot be read (pm2 not on PATH, a non-zero exit, an unreadable file) is
ERROR: the check could not look, which says nothing about the processes but never passes. Anything that
answered with something other than a healthy process list (not JSON, not a list, a bad process) is FAIL;
an empty list is INCONCLUSIVE unless ``processes`` named some, which are then missing (FAIL).

A raw jlist holds every process's whole environment (tokens, passwords): ``spark_ops.pm2_client`` reads,
parses and trims it; only the trimmed list is kept as the check's artifact.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

import msgspec

from spark_ops import pm2_client
from spark_ops.checks._common import TargetOptions, require_2xx
from spark_ops.config import Profile, Target
from spark_ops.config.schema import NonNegativeFloat, NonNegativeInt, PositiveFloat
from spark_ops.errors import CheckError, ConfigError, TargetError, plural
from spark_ops.model import Judgement, Status
from spark_ops.pm2_client import DEFAULT_COMMAND, ProcessStatus, parse_jlist, read_jlist, read_process
from spark_ops.registry import CheckBase

if TYPE_CHECKING:  # the runner (httpx, aiohttp) loads only when checks run
    from spark_ops.prove.breakage import Breakage
    from spark_ops.transport import Probe

NonEmptyText = Annotated[str, msgspec.Meta(min_length=1)]
DEFAULT_PATH = "/api/tools/pm2"
MIB = 1024 * 1024  # PM2 shows memory in MiB and calls it "mb"
_DAEMON_SPAWNED = b"Spawning PM2 daemon"


class Pm2Options(TargetOptions, frozen=True, kw_only=True):
    file: NonEmptyText | None = None
    command: NonEmptyText | None = None
    processes: Annotated[list[NonEmptyText], msgspec.Meta(min_length=1)] | None = None
    max_restarts: NonNegativeInt | None = None
    max_memory_mb: PositiveFloat | None = None
    min_uptime_s: NonNegativeFloat | None = None


class Pm2Check(CheckBase):
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
            faults.append(f"{plural(process.restart_time, 'restart')} (max {self.max_restarts})")
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

    def breakages(self, profile: Profile) -> list[Breakage]:
        from spark_ops.prove import kinds  # loaded by `spark suite prove` only

        return kinds.pm2(self, profile)

    async def judge(self, probe: Probe) -> Judgement:
        data, origin = await self._read(probe)
        entries = parse_jlist(data, origin)
        now_ms = pm2_client.clock() * 1000
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
                readings={"processes": 0},
                artifacts=artifacts,
            )
        bad = [(name, ["not in the PM2 list"]) for name in missing]
        bad += [(label, faults) for label, process in judged if (faults := self._faults(process))]
        total = len(judged) + len(missing)
        observed = {"processes": total, "bad": [label for label, _ in bad]}
        readings = {
            "processes": total,
            "bad": len(bad),
            "restarts_max": max((process.restart_time or 0 for _, process in judged), default=0),
        }
        if bad:
            reasons = "; ".join(f"{label}: {', '.join(faults)}" for label, faults in bad)
            return Judgement(
                Status.FAIL,
                f"{len(bad)} of {total} PM2 processes bad: {reasons}{note}",
                observed=observed,
                threshold=self.threshold,
                readings=readings,
                artifacts=artifacts,
            )
        most_restarts = max(process.restart_time or 0 for _, process in judged)
        return Judgement(
            Status.PASS,
            f"{plural(total, 'PM2 process', 'es')} online, at most {plural(most_restarts, 'restart')}"
            f" (max {self.max_restarts})",
            observed=observed,
            threshold=self.threshold,
            readings=readings,
            artifacts=artifacts,
        )


def _label(process: ProcessStatus, index: int, names: Counter[str | None]) -> str:
    """The process's name; its pm_id too when the name is shared (cluster mode) or missing."""
    where = f"pm_id {process.pm_id}" if process.pm_id is not None else f"entry {index}"
    if process.name is None:
        return where
    return f"{process.name} ({where})" if names[process.name] > 1 else process.name

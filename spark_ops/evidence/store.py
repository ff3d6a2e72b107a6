"""The run store: every gate, smoke and canary run kept as ``<dir>/runs/<UTC YYYYMMDD_HHMMSS>_<command>/``.

A run folder is written under a temporary name (``.tmp-<pid>-...``) and renamed into place, so a reader
never sees half a run. A process killed mid-write leaves only its hidden staging folder, which the next
writer removes once that process is gone.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from spark_ops import clock, result_json
from spark_ops.errors import ConfigError
from spark_ops.fsio import STAGING_PREFIX, publish_folder, sweep_stale_staging, write_durably
from spark_ops.model import RunResult

DEFAULT_DIR = "evidence"
STAMP_FORMAT = "%Y%m%d_%H%M%S"
# <stamp>_<command>[-N]; the command is a plain word (gate, smoke, canary, report).
RUN_ID = re.compile(r"^(?P<stamp>\d{8}_\d{6})_(?P<command>[a-z][a-z0-9-]*?)(?:-(?P<n>\d+))?$")
INCOMPLETE = "INCOMPLETE"  # the risk shown for a run folder without a readable result.json
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _safe(name: str) -> str:
    cleaned = _UNSAFE.sub("_", name).strip("._")
    return cleaned or "_"


def new_staging(parent: Path) -> Path:
    """A hidden staging folder in ``parent`` whose name carries this process's pid."""
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"evidence folder {parent}: cannot create: {exc.strerror or exc}") from None
    sweep_stale_staging(parent)
    return Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-", dir=parent))


def view_document(view: Mapping[str, Any]) -> bytes:
    """A resolved, masked configuration as a run folder keeps it (profile.json; suite.json when signed)."""
    return (json.dumps(view, indent=2) + "\n").encode()


def store_run(
    run: RunResult,
    base_dir: Path,
    *,
    profile_view: Mapping[str, Any] | None = None,
    signed: Mapping[str, bytes] | None = None,
) -> Path:
    """Write ``run`` (result.json, report.html, run.log, the raw bodies it judged, the profile used) and
    return its folder.

    ``run`` is already redacted; ``profile_view`` is the resolved profile with secrets masked; ``signed``
    are a signed run's own files by name (suite.json, attestation.dsse.json: ``attest.signed_run_files``).
    """

    runs = base_dir / "runs"
    staging = new_staging(runs)
    stamp = clock.now().strftime(STAMP_FORMAT)
    try:
        write_durably(staging / "result.json", result_json.render(run).encode())
        write_durably(staging / "report.html", _html_report(run))
        if profile_view is not None:
            write_durably(staging / "profile.json", view_document(profile_view))
        for name, data in (signed or {}).items():
            write_durably(staging / name, data)
        log = [f"{run.started_at} {run.command} profile={run.profile} suite={run.suite}"]
        kept: dict[bytes, Path] = {}  # a response several checks judged is kept once
        for result in run.results:
            log.append(f"{result.status.value:<12} {result.name} [{result.severity.value}] {result.message}")
            for name, body in result.artifacts.items():
                # "metrics/web.prom" is a run-level path; a bare name belongs to its check.
                if "/" in name:
                    folder, _, leaf = name.rpartition("/")
                    relative = Path(_safe(folder)) / _safe(leaf)
                else:
                    relative = Path("checks") / _safe(result.name) / _safe(name)
                if body in kept:
                    log.append(f"{'':<12} {relative.as_posix()}: the same body as {kept[body].as_posix()}")
                    continue
                kept[body] = relative
                write_durably(staging / relative, body)
        log.append(f"risk {run.risk.level.value} score {run.risk.score:g} exit {run.exit_code}")
        write_durably(staging / "run.log", ("\n".join(log) + "\n").encode())
        return publish_folder(staging, runs, f"{stamp}_{run.command}")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _html_report(run: RunResult) -> bytes:
    """The run's self-contained HTML report, kept beside result.json (and so carried by every export)."""
    from spark_ops.report.html import render

    return render(run).encode()


def evidence_dir(option: Path | None) -> Path:
    """``--evidence-dir``, else ``$SPARK_EVIDENCE_DIR``, else ``./evidence``."""
    if option is not None:
        return option
    return Path(os.environ.get("SPARK_EVIDENCE_DIR") or DEFAULT_DIR)


# --- reading the store ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredRun:
    """One kept run as ``spark evidence list``, export and the daily report see it."""

    id: str
    path: Path
    command: str
    created: datetime  # from the folder name (UTC)
    result: RunResult | None  # result.json decoded, or None when it is missing, torn or not ours
    problem: str | None = None  # why ``result`` is None

    @property
    def risk(self) -> str:
        """The run's risk level; INCOMPLETE when result.json is missing or torn (never written whole)."""
        return INCOMPLETE if self.result is None else self.result.risk.level.value

    @property
    def profile(self) -> str:
        return "?" if self.result is None else self.result.profile

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.path.rglob("*") if p.is_file())

    def files(self) -> Iterator[Path]:
        """Every file of the run, in a stable order."""
        return iter(sorted(p for p in self.path.rglob("*") if p.is_file()))


def parse_stamp(stamp: str) -> datetime | None:
    """The UTC time of a ``YYYYMMDD_HHMMSS`` stamp, or None when it is no date (``20261399_999999``)."""
    try:
        return datetime.strptime(stamp, STAMP_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def read_json(path: Path) -> Any:
    """The JSON document in ``path``; ValueError when it is unreadable, not JSON or absurdly nested."""
    try:
        return json.loads(path.read_bytes())
    except OSError as exc:
        raise ValueError(f"{path.name}: cannot read: {exc.strerror or exc}") from None
    except RecursionError:
        raise ValueError(f"{path.name}: nested too deeply") from None


def read_result(path: Path) -> tuple[RunResult | None, str | None]:
    """The run a ``result.json`` records, or None and why it cannot be read (one line)."""
    from spark_ops.result_json import ResultRefused, decode

    try:
        return decode(path.read_bytes()), None
    except OSError as exc:
        return None, f"{path.name}: cannot read: {exc.strerror or exc}"
    except ResultRefused as exc:
        return None, f"{path.name}: {exc}"


def list_runs(base_dir: Path) -> list[StoredRun]:
    """Every run folder under ``base_dir/runs``, oldest first (staging folders and strays skipped)."""
    runs = base_dir / "runs"
    if not runs.is_dir():
        return []
    found = []
    for folder in runs.iterdir():
        match = RUN_ID.match(folder.name)
        created = parse_stamp(match["stamp"]) if match else None
        if not match or created is None or not folder.is_dir():  # a stray, not a run
            continue
        result, problem = read_result(folder / "result.json")
        found.append(
            StoredRun(
                id=folder.name,
                path=folder,
                command=match["command"],
                created=created,
                result=result,
                problem=problem,
            )
        )
    return sorted(found, key=_run_order)


def _run_order(run: StoredRun) -> tuple[datetime, int]:
    match = RUN_ID.match(run.id)
    return run.created, int(match["n"] or 1) if match else 1

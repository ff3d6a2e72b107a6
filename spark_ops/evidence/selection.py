"""Which runs an export takes: ``--run`` IDs, ``--all``, or the latest of each command since the last export.

The last export is remembered in ``<evidence>/.last-export.json``: its second and the runs and reports of
that same second that already existed, so that none of them is "new" afterwards.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from spark_ops.errors import ConfigError
from spark_ops.evidence.store import STAMP_FORMAT, StoredRun, list_runs, read_json
from spark_ops.fsio import write_atomically

LAST_EXPORT = ".last-export.json"  # in the evidence folder: when the last export ran and what it took


@dataclass(frozen=True, slots=True)
class LastExport:
    """When the last export ran and what it took: later runs and reports are "new"."""

    stamp: str  # YYYYMMDD_HHMMSS of the export
    names: frozenset[str]  # run IDs and report file names of that same second that already existed

    def is_new(self, name: str) -> bool:
        return name[: len(self.stamp)] >= self.stamp and name not in self.names


def last_export(base_dir: Path) -> LastExport | None:
    """The marker of the last export in ``base_dir``; None when there is none or it cannot be read."""
    try:
        marker = read_json(base_dir / LAST_EXPORT)
        return LastExport(stamp=str(marker["stamp"]), names=frozenset(map(str, marker["names"])))
    except (ValueError, KeyError, TypeError):
        return None


def remember_export(base_dir: Path, archive: Path, when: datetime) -> None:
    """Mark the export's second and every run or report of that second that existed: none is new later."""
    stamp = when.strftime(STAMP_FORMAT)
    reports = base_dir / "reports"
    names = [run.id for run in list_runs(base_dir)] + (
        [path.name for path in reports.iterdir()] if reports.is_dir() else []
    )
    marker = {"stamp": stamp, "names": [n for n in names if n.startswith(stamp)], "archive": archive.name}
    write_atomically(base_dir / LAST_EXPORT, (json.dumps(marker) + "\n").encode())


def select_runs(base_dir: Path, *, run_ids: Iterable[str] = (), all_runs: bool = False) -> list[StoredRun]:
    """``--run`` IDs, ``--all``, or by default the latest run of each command since the last export."""
    runs = list_runs(base_dir)
    wanted = list(run_ids)
    if wanted:
        by_id = {run.id: run for run in runs}
        missing = [run_id for run_id in wanted if run_id not in by_id]
        if missing:
            raise ConfigError(
                f"no run {missing[0]!r} in {base_dir / 'runs'} (`spark evidence list` shows them)"
            )
        return [by_id[run_id] for run_id in dict.fromkeys(wanted)]
    if all_runs:
        return runs
    last = last_export(base_dir)
    latest: dict[str, StoredRun] = {}
    for run in runs:  # oldest first, so the last one seen per command is the latest
        if last is None or last.is_new(run.id):
            latest[run.command] = run
    return sorted(latest.values(), key=lambda run: run.id)

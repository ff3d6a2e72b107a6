"""What the evidence folder holds (runs, reports, archives) and removing what is older than a cutoff."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from spark_ops.evidence.store import list_runs, new_staging, parse_stamp

_ARCHIVE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*_(?P<stamp>\d{8}_\d{6})(?:-\d+)?\.zip$")
_REPORT = re.compile(r"^(?P<stamp>\d{8}_\d{6})_report(?:-\d+)?\.(?:md|json)$")


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of ``spark evidence list``."""

    kind: str  # run | report | archive
    name: str
    path: Path
    created: datetime
    command: str
    profile: str
    risk: str
    size_bytes: int


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def archives(folder: Path) -> list[Entry]:
    """The evidence archives directly in ``folder``, oldest first."""
    from spark_ops.evidence.verify import read_manifest

    found = []
    for path in sorted(folder.glob("*.zip")) if folder.is_dir() else []:
        match = _ARCHIVE.match(path.name)
        created = parse_stamp(match["stamp"]) if match else None
        if created is None:  # not an archive of ours (or a stamp that is no date)
            continue
        manifest = read_manifest(path) or {}
        runs = manifest.get("runs") if isinstance(manifest.get("runs"), list) else None
        found.append(
            Entry(
                kind="archive",
                name=path.name,
                path=path,
                created=created,
                command=f"{len(runs)} runs" if runs is not None else "(no manifest)",
                profile="",
                risk="",
                size_bytes=path.stat().st_size,
            )
        )
    return found


def reports(base_dir: Path) -> list[Entry]:
    folder = base_dir / "reports"
    found = []
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        match = _REPORT.match(path.name)
        created = parse_stamp(match["stamp"]) if match else None
        if created is not None and path.suffix == ".json":
            found.append(Entry("report", path.name, path, created, "report", "", "", _size(path)))
    return found


def catalog(base_dir: Path) -> list[Entry]:
    """Runs, daily reports and archives under ``base_dir``, oldest first."""
    entries = [
        Entry("run", run.id, run.path, run.created, run.command, run.profile, run.risk, run.size_bytes())
        for run in list_runs(base_dir)
    ]
    entries += reports(base_dir) + archives(base_dir)
    return sorted(entries, key=lambda entry: (entry.created, entry.name))


def prune(base_dir: Path, cutoff: datetime, *, dry_run: bool = False) -> list[Entry]:
    """Remove runs, reports and archives created before ``cutoff``; returns what was (or would be) removed."""
    doomed = [entry for entry in catalog(base_dir) if entry.created < cutoff]
    if dry_run:
        return doomed
    for entry in doomed:
        if entry.kind == "run":
            # Renamed out of sight first, so a half-deleted run never looks like a run.
            hidden = new_staging(entry.path.parent)
            entry.path.rename(hidden / entry.name)
            shutil.rmtree(hidden, ignore_errors=True)
        else:
            entry.path.unlink(missing_ok=True)
            if entry.kind == "report":
                entry.path.with_suffix(".md").unlink(missing_ok=True)
    return doomed


def human_size(size_bytes: int) -> str:
    """``532 B``, ``32.6 KB``, ``1.2 GB`` (powers of 1024)."""
    size = float(size_bytes)
    for unit in ("B", "KB", "MB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


def as_json(entries: list[Entry]) -> str:
    """``spark evidence list --format json``: one object per entry, times in UTC."""
    rows = [
        {
            "created": e.created.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "kind": e.kind,
            "name": e.name,
            "command": e.command,
            "profile": e.profile,
            "risk": e.risk,
            "size_bytes": e.size_bytes,
        }
        for e in entries
    ]
    return json.dumps(rows, indent=2) + "\n"


def as_table(entries: list[Entry], base_dir: Path) -> str:
    """``spark evidence list``: a header and one aligned line per entry, or a line saying nothing is kept."""
    if not entries:
        return f"nothing kept in {base_dir}\n"
    header = ("created (UTC)", "kind", "name", "command", "profile", "risk")
    lines = ["{:<20} {:<8} {:<40} {:<10} {:<12} {:<10} size".format(*header)]
    lines += [
        f"{e.created:%Y-%m-%d %H:%M:%S}  {e.kind:<8} {e.name:<40} {e.command:<10} "
        f"{e.profile:<12} {e.risk:<10} {human_size(e.size_bytes)}"
        for e in entries
    ]
    return "\n".join(lines) + "\n"

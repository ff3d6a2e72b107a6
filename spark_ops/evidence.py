"""The run store: every gate, smoke and canary run kept as ``<dir>/runs/<UTC YYYYMMDD_HHMMSS>_<command>/``.

A run folder is written under a temporary name and renamed into place, so a reader never sees half a
run. Export, verify and list come with the evidence issue (#4).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from spark_ops.errors import ConfigError
from spark_ops.model import RunResult
from spark_ops.report import json as json_report

DEFAULT_DIR = "evidence"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _safe(name: str) -> str:
    cleaned = _UNSAFE.sub("_", name).strip("._")
    return cleaned or "_"


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def store_run(run: RunResult, base_dir: Path) -> Path:
    """Write ``run`` (result.json, run.log, the raw bodies it judged) and return its folder."""
    runs = base_dir / "runs"
    try:
        runs.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"evidence folder {runs}: cannot create: {exc.strerror or exc}") from None
    stamp = datetime.now(UTC).strftime("%Y%m%d_%H%M%S")
    staging = Path(tempfile.mkdtemp(prefix=".tmp-", dir=runs))
    try:
        _write(staging / "result.json", json_report.render(run).encode())
        log = [f"{run.started_at} {run.command} profile={run.profile} suite={run.suite}"]
        for result in run.results:
            log.append(f"{result.status.value:<12} {result.name} [{result.severity.value}] {result.message}")
            for name, body in result.artifacts.items():
                # "metrics/web.prom" is a run-level path; a bare name belongs to its check.
                if "/" in name:
                    folder, _, leaf = name.rpartition("/")
                    relative = Path(_safe(folder)) / _safe(leaf)
                else:
                    relative = Path("checks") / _safe(result.name) / _safe(name)
                _write(staging / relative, body)
        log.append(f"risk {run.risk.level.value} score {run.risk.score:g} exit {run.exit_code}")
        _write(staging / "run.log", ("\n".join(log) + "\n").encode())
        for attempt in range(1, 1000):
            final = runs / (f"{stamp}_{run.command}" + (f"-{attempt}" if attempt > 1 else ""))
            try:
                staging.rename(final)  # atomic; fails if a run of the same second already took the name
                return final
            except OSError:
                if not final.exists():
                    raise
        raise FileExistsError(f"no free run folder name for {stamp}_{run.command}")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def evidence_dir(option: Path | None) -> Path:
    """``--evidence-dir``, else ``$SPARK_EVIDENCE_DIR``, else ``./evidence``."""
    if option is not None:
        return option
    return Path(os.environ.get("SPARK_EVIDENCE_DIR") or DEFAULT_DIR)

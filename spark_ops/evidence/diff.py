"""``spark evidence diff``: what changed between two kept runs, and whether anything got worse.

A run is named by its ID in the store, its folder, or an archive (``ARCHIVE.zip``, or ``ARCHIVE.zip#RUN_ID``
when it holds several runs); every one is read through ``result_json.decode``. An archive's result.json
must match its manifest's sha256, else it is refused like ``evidence verify`` refuses it.

A regression is: a check that fails now and did not (a new failure, also a new check that fails), a
status that got worse (PASS < SKIP, WARN < INCONCLUSIVE < FAIL, ERROR), a higher risk level, or a reading
where bigger is worse (``RISING_IS_WORSE``: latency percentiles, error rates and counts, restarts,
staleness) that rose by more than ``max_rise`` (0.5: +50 %) of its value before and by more than its
noise floor (``NOISE_FLOORS``); a rise from 0 is always past the relative bound.
"""

from __future__ import annotations

import hashlib
import math
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spark_ops.errors import ConfigError, EvidenceRefused, plural
from spark_ops.evidence.store import RUN_ID, list_runs
from spark_ops.model import CheckResult, RunResult, Status

DEFAULT_MAX_RISE = 0.5  # a reading where bigger is worse may rise by 50 % before it counts as worse
SHOWN_CHANGE = 0.10  # readings that moved less than 10 % are left out of the report (noise)
# Percentiles, SLO latencies, errors, restarts, missed slots, staleness. Not one request's ``elapsed_ms``:
# a single timing is one sample (shown when it moved, never a regression alone); the probe's p95 is not.
RISING_IS_WORSE = re.compile(
    r"((^|_)p\d+_ms$|latency|error|restart|missed|late_slots|staleness)", re.IGNORECASE
)
# A rise smaller than this is noise, whatever its percentage: loopback latencies jitter by milliseconds,
# a feed's staleness (seconds) by a tick. Other readings (errors, restarts) count from the first one.
NOISE_FLOORS = ((re.compile(r"_ms$|latencyP\d+$"), 5.0), (re.compile(r"staleness", re.IGNORECASE), 1.0))
_STATUS_RANK = {
    Status.PASS: 0,
    Status.SKIP: 1,
    Status.WARN: 1,
    Status.INCONCLUSIVE: 2,
    Status.FAIL: 3,
    Status.ERROR: 3,
}


@dataclass(frozen=True, slots=True)
class LoadedRun:
    """A run to compare and where it came from (``20261201_120000_canary``, a folder, ``a.zip#ID``)."""

    label: str
    run: RunResult
    stored_id: str | None = None  # its ID when it is a run folder of the store being compared against


@dataclass(frozen=True, slots=True)
class StatusChange:
    check: str
    before: Status
    after: Status
    message: str  # the reason it gives now

    @property
    def change(self) -> str:
        """``new failure``, ``worse``, ``better`` or ``changed`` (FAIL and ERROR, both failing)."""
        if self.after.is_failure and not self.before.is_failure:
            return "new failure"
        rank_before, rank_after = _STATUS_RANK[self.before], _STATUS_RANK[self.after]
        if rank_after == rank_before:
            return "changed"
        return "worse" if rank_after > rank_before else "better"


@dataclass(frozen=True, slots=True)
class ReadingMove:
    check: str
    reading: str
    before: float
    after: float
    worse: bool  # a reading where bigger is worse rose past the bound

    @property
    def relative(self) -> float:
        return _relative(self.before, self.after)

    def describe(self) -> str:
        """``latency.web p95 4.6 ms → 48.2 ms (+948 %)``."""
        label, unit = (self.reading[:-3], " ms") if self.reading.endswith("_ms") else (self.reading, "")
        relative = self.relative
        percent = f"{relative * 100:+.0f} %" if math.isfinite(relative) else "from 0"
        return f"{self.check} {label} {self.before:g}{unit} → {self.after:g}{unit} ({percent})"


def _relative(before: float, after: float) -> float:
    """The change as a fraction of the value before (±inf from 0)."""
    if before == 0:
        return 0.0 if after == 0 else math.copysign(math.inf, after)
    return (after - before) / abs(before)


@dataclass(frozen=True, slots=True)
class RunDiff:
    before: LoadedRun
    after: LoadedRun
    added: list[CheckResult]
    removed: list[CheckResult]
    changes: list[StatusChange]  # new failures first, then worse, better, changed
    moves: list[ReadingMove]  # worse first, then by size of the change
    max_rise: float

    @property
    def risk_worse(self) -> bool:
        return self.after.run.risk.level.rank > self.before.run.risk.level.rank

    @property
    def regressions(self) -> list[str]:
        """Everything that got worse, one short line each; empty when nothing did."""
        found = [
            f"new failure: {result.name} ({result.status.value}, new check)"
            for result in self.added
            if result.status.is_failure
        ]
        found += [
            f"{c.change}: {c.check} {c.before.value} → {c.after.value}"
            for c in self.changes
            if c.change in ("new failure", "worse")
        ]
        found += [f"worse reading: {move.describe()}" for move in self.moves if move.worse]
        if self.risk_worse:
            before, after = self.before.run.risk.level.value, self.after.run.risk.level.value
            found.append(f"risk {before} → {after}")
        return found


def diff_runs(before: LoadedRun, after: LoadedRun, *, max_rise: float = DEFAULT_MAX_RISE) -> RunDiff:
    """What changed from ``before`` to ``after``."""
    if not (max_rise >= 0 and math.isfinite(max_rise)):
        raise ConfigError(f"--max-rise {max_rise * 100:g}: give a percentage of 0 or more")
    old = {result.name: result for result in before.run.results}
    new = {result.name: result for result in after.run.results}
    changes = [
        StatusChange(name, old[name].status, result.status, result.message)
        for name, result in new.items()
        if name in old and old[name].status is not result.status
    ]
    order = ["new failure", "worse", "better", "changed"]
    changes.sort(key=lambda change: order.index(change.change))
    moves = []
    for name, result in new.items():
        if name not in old:
            continue
        previous = old[name].readings
        for reading, value in result.readings.items():
            if reading not in previous:
                continue
            relative = _relative(previous[reading], value)
            worse = _rose_too_far(reading, previous[reading], value, max_rise)
            if worse or abs(relative) >= SHOWN_CHANGE:
                moves.append(ReadingMove(name, reading, previous[reading], value, worse))
    moves.sort(key=lambda move: (not move.worse, -min(abs(move.relative), 1e12)))
    return RunDiff(
        before=before,
        after=after,
        added=[result for name, result in new.items() if name not in old],
        removed=[result for name, result in old.items() if name not in new],
        changes=changes,
        moves=moves,
        max_rise=max_rise,
    )


def _rose_too_far(reading: str, before: float, after: float, max_rise: float) -> bool:
    """Whether a reading where bigger is worse rose by more than ``max_rise`` and more than its noise."""
    if not RISING_IS_WORSE.search(reading) or _relative(before, after) <= max_rise:
        return False
    floor = next((floor for pattern, floor in NOISE_FLOORS if pattern.search(reading)), 0.0)
    return after - before > floor


# --- loading runs -----------------------------------------------------------------------------------


def load_run(reference: str, base_dir: Path) -> LoadedRun:
    """The run ``reference`` names: a run ID in ``base_dir``, a run folder, or an archive (``#RUN_ID``)."""
    from spark_ops.evidence.store import read_result

    path_text, _, member_run = reference.partition("#")
    path = Path(path_text)
    if path.suffix == ".zip" or (path.is_file() and zipfile.is_zipfile(path)):
        return _from_archive(path, member_run or None)
    if path.is_dir() or path.name == "result.json":
        folder = path if path.is_dir() else path.parent
        in_store = folder.resolve().parent == (base_dir / "runs").resolve()
        return _loaded(str(path), *read_result(folder / "result.json"), folder.name if in_store else None)
    if RUN_ID.match(reference):
        stored = base_dir / "runs" / reference
        if stored.is_dir():
            return _loaded(reference, *read_result(stored / "result.json"), reference)
    raise ConfigError(
        f"no run {reference!r}: not a run ID in {base_dir / 'runs'}, a run folder or an archive "
        "(`spark evidence list` shows them)"
    )


def _loaded(label: str, run: RunResult | None, problem: str | None, stored_id: str | None) -> LoadedRun:
    if run is None:
        raise ConfigError(f"{label}: {problem}")
    return LoadedRun(label, run, stored_id)


def _from_archive(path: Path, run_id: str | None) -> LoadedRun:
    """A run's result.json read from an evidence archive (never extracted), checked against the manifest."""
    from spark_ops.evidence.verify import read_manifest
    from spark_ops.result_json import ResultRefused, decode

    manifest = read_manifest(path)
    if manifest is None:
        raise ConfigError(f"{path}: not a readable evidence archive (no manifest.json)")
    ids = [str(run.get("id")) for run in manifest.get("runs") or [] if isinstance(run, Mapping)]
    if run_id is None:
        if len(ids) != 1:
            raise ConfigError(
                f"{path} holds {len(ids)} runs ({', '.join(ids) or 'none'}): name one as {path}#RUN_ID"
            )
        run_id = ids[0]
    member = f"runs/{run_id}/result.json"
    listed = {
        entry.get("path"): entry for entry in manifest.get("members") or [] if isinstance(entry, Mapping)
    }
    if member not in listed:
        raise ConfigError(f"{path}: no run {run_id!r} in this archive (it holds {', '.join(ids) or 'none'})")
    try:
        with zipfile.ZipFile(path) as archive:
            body = archive.read(member)
    except (OSError, KeyError, zipfile.BadZipFile) as exc:
        raise ConfigError(f"{path}: cannot read {member}: {exc}") from None
    if hashlib.sha256(body).hexdigest() != listed[member].get("sha256"):
        raise EvidenceRefused(f"{path}: {member} does not match the manifest: the archive was altered")
    try:
        return LoadedRun(f"{path.name}#{run_id}", decode(body))
    except ResultRefused as exc:
        raise ConfigError(f"{path}#{run_id}: {exc}") from None


def last_pass(base_dir: Path, after: LoadedRun) -> LoadedRun | None:
    """The latest kept run of ``after``'s command before it that passed its own verdict (exit 0 as if
    enforced: below its ``fail_on``, nothing inconclusive); None when there is none. "Before" is the
    store's order for a kept run (two runs of one second are told apart), else the start time."""
    from spark_ops.risk import final_reduce

    newer = after.run
    kept = list_runs(base_dir)
    ids = [stored.id for stored in kept]
    if after.stored_id in ids:
        earlier = kept[: ids.index(after.stored_id)]
    else:
        earlier = [stored for stored in kept if stored.result and stored.result.started_at < newer.started_at]
    candidates = [
        stored
        for stored in earlier
        if stored.result is not None
        and stored.command == newer.command
        and final_reduce(
            stored.result.results,
            stored.result.risk,
            fail_on=stored.result.fail_on,
            enforce=True,
            finished=stored.result.window is None or stored.result.window.finished,
        )
        == 0
    ]
    if not candidates:
        return None
    latest = candidates[-1]  # the store lists runs oldest first
    assert latest.result is not None
    return LoadedRun(latest.id, latest.result, latest.id)


# --- views -------------------------------------------------------------------------------------------


def as_json(diff: RunDiff) -> dict[str, Any]:
    """The diff as a JSON document (``spark-ops/diff/v1``)."""

    def side(loaded: LoadedRun) -> dict[str, Any]:
        run = loaded.run
        return {
            "run": loaded.label,
            "command": run.command,
            "started_at": run.started_at,
            "risk": run.risk.level.value,
            "score": run.risk.score,
            "exit_code": run.exit_code,
        }

    return {
        "schema": "spark-ops/diff/v1",
        "before": side(diff.before),
        "after": side(diff.after),
        "checks_added": [{"name": r.name, "status": r.status.value} for r in diff.added],
        "checks_removed": [{"name": r.name, "status": r.status.value} for r in diff.removed],
        "status_changes": [
            {
                "check": c.check,
                "before": c.before.value,
                "after": c.after.value,
                "change": c.change,
                "message": c.message,
            }
            for c in diff.changes
        ],
        "readings": [
            {
                "check": m.check,
                "reading": m.reading,
                "before": m.before,
                "after": m.after,
                "change": m.relative if math.isfinite(m.relative) else None,
                "worse": m.worse,
            }
            for m in diff.moves
        ],
        "max_rise": diff.max_rise,
        "regressions": diff.regressions,
    }


def _risk(loaded: LoadedRun) -> str:
    risk = loaded.run.risk
    return f"{risk.level.value} (score {risk.score:g}, exit {loaded.run.exit_code})"


def render_table(diff: RunDiff) -> str:
    """Plain text for a terminal or a CI log."""
    lines = [
        f"spark evidence diff: {diff.before.label} → {diff.after.label}",
        f"risk: {_risk(diff.before)} → {_risk(diff.after)}",
    ]
    if diff.changes:
        lines += ["", f"status changes ({len(diff.changes)}):"]
        width = max(len(c.check) for c in diff.changes)
        lines += [
            f"  {c.change:<12} {c.check:<{width}}  {c.before.value} → {c.after.value}: {c.message}"
            for c in diff.changes
        ]
    for title, results in (("checks added", diff.added), ("checks removed", diff.removed)):
        if results:
            lines += ["", f"{title} ({len(results)}):"]
            lines += [f"  {r.name} ({r.status.value})" for r in results]
    if diff.moves:
        lines += ["", f"readings that moved ({len(diff.moves)}):"]
        lines += [f"  {m.describe()}{'  worse' if m.worse else ''}" for m in diff.moves]
    lines += ["", _verdict(diff)]
    return "\n".join(lines) + "\n"


def render_markdown(diff: RunDiff) -> str:
    """Markdown for a pull request or a step summary."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = [
        f"## spark evidence diff: `{diff.before.label}` → `{diff.after.label}`",
        "",
        f"**Risk:** {_risk(diff.before)} → {_risk(diff.after)}",
    ]
    if diff.changes:
        lines += ["", "| change | check | before | after | reason now |", "|---|---|---|---|---|"]
        lines += [
            f"| {c.change} | `{cell(c.check)}` | {c.before.value} | {c.after.value} | {cell(c.message)} |"
            for c in diff.changes
        ]
    for title, results in (("Checks added", diff.added), ("Checks removed", diff.removed)):
        if results:
            lines += [
                "",
                f"**{title}:** " + ", ".join(f"`{cell(r.name)}` ({r.status.value})" for r in results),
            ]
    if diff.moves:
        lines += ["", "| reading | moved | worse |", "|---|---|---|"]
        lines += [
            f"| `{cell(m.check)}` | {cell(m.describe())} | {'yes' if m.worse else ''} |" for m in diff.moves
        ]
    lines += ["", _verdict(diff)]
    return "\n".join(lines) + "\n"


def _verdict(diff: RunDiff) -> str:
    """``no regression``, or how many of what kind: ``15 regressions: 3 new failures, 11 worse readings,
    risk LOW → CRITICAL``."""
    regressions = diff.regressions
    if not regressions:
        return "no regression"
    kinds: dict[str, int] = {}
    for line in regressions:
        kind = line if line.startswith("risk ") else line.split(":")[0]
        kinds[kind] = kinds.get(kind, 0) + 1
    parts = [kind if kind.startswith("risk ") else plural(count, kind) for kind, count in kinds.items()]
    return f"{plural(len(regressions), 'regression')}: {', '.join(parts)}"

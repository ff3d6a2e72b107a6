"""``spark evidence export``: plan what an archive holds, then write it whole or not at all.

Export streams every member (bounded memory whatever the size of a log) through the redactor, a secret
scanner and sha256, into an archive that has no name until it is complete (``fsio.nameless_file``): on
Linux an ``O_TMPFILE`` file that vanishes if the process is killed, elsewhere a hidden ``.tmp-<pid>-``
file that the next export removes. The finished archive is linked under its final name, which never
replaces a file: a name taken already gets ``-2``, ``-3``...
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import socket
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spark_ops import __version__, clock, result_json
from spark_ops.errors import ConfigError, EvidenceRefused
from spark_ops.evidence.selection import last_export, remember_export, select_runs
from spark_ops.evidence.store import STAMP_FORMAT, StoredRun, list_runs, read_json
from spark_ops.evidence.verify import MANIFEST, MANIFEST_SCHEMA, SIGNATURE
from spark_ops.evidence.zipio import LEVEL, ArchiveWriter, Source, Written
from spark_ops.fsio import nameless_file, publish_unique
from spark_ops.redact import Redactor, environment_secrets

if TYPE_CHECKING:
    from spark_ops.signing import SigningKey


@dataclass(frozen=True, slots=True)
class ExportPlan:
    """Everything an export will pack, decided before a byte is written."""

    runs: list[StoredRun]
    sources: list[Source]
    profiles: Mapping[str, Any] = field(default_factory=dict)
    explicit: bool = False  # chosen with --run: does not move the "since the last export" mark

    @property
    def incomplete(self) -> list[str]:
        """IDs of the runs packed without a readable result.json (their manifest risk is INCOMPLETE)."""
        return [run.id for run in self.runs if run.result is None]


@dataclass(frozen=True, slots=True)
class Exported:
    path: Path
    members: list[Written]
    runs: list[StoredRun]

    @property
    def content_bytes(self) -> int:
        return sum(member.size for member in self.members)


def expand_includes(patterns: Iterable[str], tail_bytes: int | None) -> list[Source]:
    """Files named by ``--include`` (paths, globs, folders) as ``include/...`` members."""
    sources: list[Source] = []
    taken: set[str] = set()
    for pattern in patterns:
        matches = sorted(glob.glob(os.path.expanduser(pattern), recursive=True))
        files: list[tuple[Path, str]] = []
        for match in map(Path, matches):
            if match.is_dir():
                files.extend(
                    (p, p.relative_to(match.parent).as_posix())
                    for p in sorted(match.rglob("*"))
                    if p.is_file()
                )
            elif match.is_file():
                files.append((match, match.name))
        if not files:
            raise ConfigError(f"--include {pattern!r} matched no file")
        for path, name in files:
            member, n = f"include/{name}", 1
            while member in taken:  # two logs called out.log from different folders
                n += 1
                stem, dot, suffix = name.rpartition(".")
                member = f"include/{stem}-{n}.{suffix}" if dot and stem else f"include/{name}-{n}"
            taken.add(member)
            sources.append(Source(member=member, path=path, tail_bytes=tail_bytes))
    return sources


def pm2_source(command: str = "pm2") -> Source | None:
    """``system/pm2_status.json`` when ``command`` is on PATH: the trimmed process list, or why it failed.

    Trimmed because a raw ``pm2 jlist`` holds every process's environment, secrets included.
    """
    from spark_ops import pm2_client
    from spark_ops.errors import SparkOpsError

    if pm2_client.find_executable(command) is None:
        return None
    document: Any
    if not pm2_client.daemon_running():  # `pm2 jlist` would start a daemon; an export must not leave one
        document = {"error": "the PM2 daemon is not running (no live pid in $PM2_HOME/pm2.pid)"}
    else:
        try:
            document = {"processes": pm2_client.pm2_status(command)}
        except SparkOpsError as exc:  # kept as evidence too: "pm2 did not answer" is worth knowing
            document = {"error": str(exc)}
    return Source(member="system/pm2_status.json", data=(json.dumps(document, indent=2) + "\n").encode())


def plan_export(
    base_dir: Path,
    *,
    run_ids: Iterable[str] = (),
    all_runs: bool = False,
    includes: Iterable[str] = (),
    max_log_bytes: int | None = None,
    extra: Iterable[Source] = (),
) -> ExportPlan:
    """The runs, reports, included files and extras an export will hold; ConfigError when it has none."""
    run_ids = list(run_ids)
    runs = select_runs(base_dir, run_ids=run_ids, all_runs=all_runs)
    sources = [
        Source(member=f"runs/{run.id}/{path.relative_to(run.path).as_posix()}", path=path)
        for run in runs
        for path in run.files()
    ]
    if not run_ids:  # the daily reports written since the last export (all of them with --all)
        last = None if all_runs else last_export(base_dir)
        reports = base_dir / "reports"
        for path in sorted(reports.glob("*")) if reports.is_dir() else []:
            if path.is_file() and not path.name.startswith(".") and (last is None or last.is_new(path.name)):
                sources.append(Source(member=f"reports/{path.name}", path=path))
    sources.extend(expand_includes(includes, max_log_bytes))
    sources.extend(extra)
    if not runs and not any(s.member.startswith("reports/") for s in sources):
        hint = "use --all, --run ID, or run `spark gate` first"
        if last_export(base_dir) is not None and list_runs(base_dir):
            raise ConfigError(f"no new runs in {base_dir} since the last export ({hint})")
        raise ConfigError(f"no runs in {base_dir / 'runs'} to export ({hint})")
    profiles: dict[str, Any] = {}
    for run in runs:
        view = run.path / "profile.json"
        if view.is_file() and run.profile not in profiles:
            with contextlib.suppress(ValueError):
                profiles[run.profile] = read_json(view)
    return ExportPlan(runs=runs, sources=sources, profiles=profiles, explicit=bool(run_ids))


def archive_stem(prefix: str, when: datetime) -> str:
    """``<prefix>_<UTC YYYYMMDD_HHMMSS>``: the archive's name before ``.zip`` (or ``-2.zip``...)."""
    return f"{prefix}_{when.strftime(STAMP_FORMAT)}"


def check_prefix(prefix: str) -> str:
    if not prefix or not all(c.isalnum() or c in "._-" for c in prefix) or prefix.startswith("."):
        raise ConfigError(f"--name {prefix!r}: use letters, digits, '.', '_' or '-'")
    return prefix


def _run_summary(run: StoredRun) -> dict[str, Any]:
    """A kept run as the manifest lists it (the fields of its result.json, null for a run without one)."""
    document = None if run.result is None else result_json.encode(run.result)
    return {
        "id": run.id,
        "command": run.command,
        **{key: None if document is None else document[key] for key in _SUMMARY_KEYS},
        "risk": run.risk,
        "exit_code": None if document is None else document["exit_code"],
    }


_SUMMARY_KEYS = ("profile", "suite", "started_at", "summary")


def export(
    plan: ExportPlan,
    *,
    base_dir: Path,
    out_dir: Path,
    prefix: str,
    redactor: Redactor,
    on_bytes: Callable[[int], None] = lambda n: None,
    signer: SigningKey | None = None,
) -> Exported:
    """Write ``plan`` as ``out_dir/<prefix>_<stamp>.zip``; the archive appears whole or not at all.

    With ``signer`` the manifest names its fingerprint and ``manifest.json.sig`` holds the Ed25519
    signature over the manifest's exact bytes (base64); runs' attestations travel as their members.
    """
    check_prefix(prefix)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--out {out_dir}: cannot create: {exc.strerror or exc}") from None
    created = clock.now()
    with nameless_file(out_dir, suffix=".zip") as (handle, publish):
        with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=LEVEL) as archive:
            writer = ArchiveWriter(archive, redactor, on_bytes)
            for source in plan.sources:
                writer.add(source)
            manifest = {
                "schema": MANIFEST_SCHEMA,
                "tool": {"name": "spark-ops", "version": __version__},
                "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "host": socket.gethostname(),
                "profiles": plan.profiles,
                "runs": [_run_summary(run) for run in plan.runs],
                "members": [member.to_dict() for member in writer.written],
            }
            if signer is not None:
                manifest["signature"] = {
                    "algorithm": "ed25519",
                    "keyid": signer.fingerprint,
                    "file": SIGNATURE,
                }
            # Redacted before it is written, so the bytes signed are the bytes the archive holds.
            body = redactor.bytes((json.dumps(manifest, indent=2, sort_keys=False) + "\n").encode())
            writer.add(Source(member=MANIFEST, data=body))
            if signer is not None:
                _sign_manifest(writer, body, signer)
        stem = archive_stem(prefix, created)
        try:
            final = publish_unique(publish, out_dir, stem, ".zip")
        except FileExistsError:
            raise ConfigError(f"no free archive name for {stem}.zip in {out_dir}") from None
    if not plan.explicit:
        remember_export(base_dir, final, created)
    members = [member for member in writer.written if member.path not in (MANIFEST, SIGNATURE)]
    return Exported(path=final, members=members, runs=plan.runs)


def _sign_manifest(writer: ArchiveWriter, body: bytes, signer: SigningKey) -> None:
    """Add ``manifest.json.sig``: the detached signature over the manifest exactly as it was written."""
    import hashlib

    from spark_ops.signing import encode_signature

    if writer.written[-1].sha256 != hashlib.sha256(body).hexdigest():  # the writer must not have changed it
        raise EvidenceRefused("the manifest changed while it was written; refusing to sign it")
    writer.add(Source(member=SIGNATURE, data=encode_signature(signer.sign(body))))


def export_redactor(
    runs: Iterable[StoredRun],
    profile: str | None,
    sets: Iterable[str],
    *,
    note: Callable[[str], None],
    extra: Iterable[str] = (),
) -> Redactor:
    """The secrets an export keeps out: the environment's, those of ``profile`` (else the runs' profiles),
    those written into the runs' suites (a check's own headers, URL or body) and ``extra`` (the signing
    key's forms, so an included key file can never leave in the archive).

    A run's profile or suite that no longer loads is noted and skipped: its bodies were redacted when it
    was kept.
    """
    from spark_ops.config.profile import load_profile
    from spark_ops.config.suite import load_suite
    from spark_ops.errors import SparkOpsError

    secrets = {*environment_secrets(), *extra}
    references = [profile] if profile else sorted({run.profile for run in runs if run.profile != "?"})
    for reference in references:
        try:
            secrets |= load_profile(reference, sets).secrets
        except SparkOpsError as exc:
            if profile:  # named by the user: its errors are theirs to fix
                raise
            note(f"note: profile {reference!r} not loaded ({exc}); runs were redacted when kept")
    for suite in sorted({run.result.suite for run in runs if run.result is not None}):
        try:
            secrets |= load_suite(suite).secrets
        except SparkOpsError as exc:
            note(f"note: suite {suite!r} not loaded ({exc}); runs were redacted when kept")
    return Redactor(secrets)

"""Evidence archives: export kept runs, reports and logs into a checksummed zip, and verify one.

Export streams every member (bounded memory whatever the size of a log) through the redactor, a secret
scanner and sha256, into an archive that has no name until it is complete: on Linux an ``O_TMPFILE``
file that vanishes if the process is killed, elsewhere a hidden ``.tmp-<pid>-`` file that the next
export removes. The finished archive is linked under its final name, which never replaces a file.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import hashlib
import json
import lzma
import os
import socket
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import IO, Any

from spark_ops import __version__
from spark_ops.errors import ConfigError, EvidenceRefused, one_line
from spark_ops.evidence.store import (
    STAGING_PREFIX,
    STAMP_FORMAT,
    StoredRun,
    list_runs,
    process_alive,
    read_json,
    sweep_stale_staging,
    write_atomically,
)
from spark_ops.redact import Redactor, SecretScanner, StreamRedactor

MANIFEST = "manifest.json"
MANIFEST_SCHEMA = "spark-ops/evidence/v1"
LAST_EXPORT = ".last-export.json"  # in the evidence folder: when the last export ran and what it took
CHUNK = 1024 * 1024
LEVEL = 6  # deflate's level, as `zip -6`
PARALLEL_FROM = 4 * CHUNK  # members this big are deflated on every core
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True, slots=True)
class Source:
    """One archive member to be: where its bytes come from and what to keep of them."""

    member: str  # the path inside the archive
    path: Path | None = None
    data: bytes | None = None
    tail_bytes: int | None = None  # keep only the last N bytes (whole lines) of a large log


@dataclass(frozen=True, slots=True)
class Written:
    """What the manifest says about one member."""

    path: str
    size: int
    sha256: str
    truncated_from: int | None = None

    def to_dict(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"path": self.path, "size": self.size, "sha256": self.sha256}
        if self.truncated_from is not None:
            entry["truncated_from"] = self.truncated_from
        return entry


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


# --- choosing what to export ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _LastExport:
    """When the last export ran and what it took: later runs and reports are "new"."""

    stamp: str  # YYYYMMDD_HHMMSS of the export
    names: frozenset[str]  # run IDs and report file names of that same second that already existed

    def is_new(self, name: str) -> bool:
        return name[: len(self.stamp)] >= self.stamp and name not in self.names


def _last_export(base_dir: Path) -> _LastExport | None:
    try:
        marker = read_json(base_dir / LAST_EXPORT)
        return _LastExport(stamp=str(marker["stamp"]), names=frozenset(map(str, marker["names"])))
    except (ValueError, KeyError, TypeError):
        return None


def _remember_export(base_dir: Path, archive: Path, when: datetime) -> None:
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
    last = _last_export(base_dir)
    latest: dict[str, StoredRun] = {}
    for run in runs:  # oldest first, so the last one seen per command is the latest
        if last is None or last.is_new(run.id):
            latest[run.command] = run
    return sorted(latest.values(), key=lambda run: run.id)


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


def export_redactor(
    runs: Iterable[StoredRun], profile: str | None, sets: Iterable[str], *, note: Callable[[str], None]
) -> Redactor:
    """The secrets an export keeps out: the environment's and those of ``profile`` (else the runs' profiles).

    A run's profile that no longer loads is noted and skipped: its bodies were redacted when it was kept.
    """
    from spark_ops.config import load_profile
    from spark_ops.errors import SparkOpsError
    from spark_ops.redact import environment_secrets

    secrets = set(environment_secrets())
    references = [profile] if profile else sorted({run.profile for run in runs if run.profile != "?"})
    for reference in references:
        try:
            secrets |= load_profile(reference, sets).secrets
        except SparkOpsError as exc:
            if profile:  # named by the user: its errors are theirs to fix
                raise
            note(f"note: profile {reference!r} not loaded ({exc}); runs were redacted when kept")
    return Redactor(secrets)


def pm2_source(command: str = "pm2") -> Source | None:
    """``system/pm2_status.json`` when ``command`` is on PATH: the trimmed process list, or why it failed.

    Trimmed because a raw ``pm2 jlist`` holds every process's environment, secrets included.
    """
    import shutil

    from spark_ops.checks.pm2 import pm2_status
    from spark_ops.errors import SparkOpsError

    if shutil.which(command) is None:
        return None
    document: Any
    if not _pm2_daemon_running():  # `pm2 jlist` would start a daemon; an export must not leave one behind
        document = {"error": "the PM2 daemon is not running (no live pid in $PM2_HOME/pm2.pid)"}
    else:
        try:
            document = {"processes": pm2_status(command)}
        except SparkOpsError as exc:  # kept as evidence too: "pm2 did not answer" is worth knowing
            document = {"error": str(exc)}
    return Source(member="system/pm2_status.json", data=(json.dumps(document, indent=2) + "\n").encode())


def _pm2_daemon_running() -> bool:
    home = Path(os.environ.get("PM2_HOME") or Path.home() / ".pm2")
    try:
        pid = int((home / "pm2.pid").read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return False
    return process_alive(pid)


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
        last = None if all_runs else _last_export(base_dir)
        reports = base_dir / "reports"
        for path in sorted(reports.glob("*")) if reports.is_dir() else []:
            if path.is_file() and not path.name.startswith(".") and (last is None or last.is_new(path.name)):
                sources.append(Source(member=f"reports/{path.name}", path=path))
    sources.extend(expand_includes(includes, max_log_bytes))
    sources.extend(extra)
    if not runs and not any(s.member.startswith("reports/") for s in sources):
        hint = "use --all, --run ID, or run `spark gate` first"
        if _last_export(base_dir) is not None and list_runs(base_dir):
            raise ConfigError(f"no new runs in {base_dir} since the last export ({hint})")
        raise ConfigError(f"no runs in {base_dir / 'runs'} to export ({hint})")
    profiles: dict[str, Any] = {}
    for run in runs:
        view = run.path / "profile.json"
        if view.is_file() and run.profile not in profiles:
            with contextlib.suppress(ValueError):
                profiles[run.profile] = read_json(view)
    return ExportPlan(runs=runs, sources=sources, profiles=profiles, explicit=bool(run_ids))


# --- writing the archive ---------------------------------------------------------------------------


def _read_source(source: Source) -> tuple[Iterator[bytes], int, int | None]:
    """The bytes of ``source`` in chunks, its size, and the original size when only the tail is kept."""
    if source.data is not None:
        return iter([source.data]), len(source.data), None
    assert source.path is not None
    handle = source.path.open("rb")
    size = os.fstat(handle.fileno()).st_size
    truncated_from = None
    if source.tail_bytes is not None and size > source.tail_bytes:
        handle.seek(size - source.tail_bytes - 1)
        if handle.read(1) != b"\n":
            handle.readline()  # start at a whole line
        truncated_from = size

    def chunks() -> Iterator[bytes]:
        with handle:
            while chunk := handle.read(CHUNK):
                yield chunk

    return chunks(), size, truncated_from


def _zip_time(source: Source) -> tuple[int, int, int, int, int, int]:
    moment = datetime.now(UTC)
    if source.path is not None:
        with contextlib.suppress(OSError):
            moment = datetime.fromtimestamp(source.path.stat().st_mtime, UTC)
    stamp = moment.timetuple()[:6]
    return max(stamp, _ZIP_EPOCH)


class _ArchiveWriter:
    """Writes members into an open zip: redacted, scanned for secrets, hashed, streamed."""

    def __init__(self, archive: zipfile.ZipFile, redactor: Redactor, on_bytes: Callable[[int], None]) -> None:
        self._zip = archive
        self._redactor = redactor
        self._scanner = SecretScanner(redactor.secrets)
        self._on_bytes = on_bytes
        self.written: list[Written] = []

    def add(self, source: Source) -> None:
        name = self._redactor.text(source.member)  # a file name can hold a secret too
        self._scanner.reset()
        if form := self._scanner.feed(name.encode()):
            raise EvidenceRefused(
                f"refusing to finish the archive: a member's name holds a secret ({form} form)"
            )
        chunks, source_size, truncated_from = _read_source(source)
        info = zipfile.ZipInfo(name, date_time=_zip_time(source))
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        big = source_size > zipfile.ZIP64_LIMIT // 2  # redaction only shortens, so this bounds the member
        digest, size = hashlib.sha256(), 0
        # Two stages side by side: reading, redaction, the scan and sha256 in a thread; crc32 and
        # deflate here. Redaction and the scan hold the GIL, the rest releases it for big buffers.
        with (
            _in_background(self._clean(name, chunks, digest)) as cleaned,
            self._zip.open(info, "w", force_zip64=big) as member,
        ):
            if source_size >= PARALLEL_FROM:
                _deflate_in_parallel(member)
            for data in cleaned:
                member.write(data)
                size += len(data)
        self.written.append(Written(name, size, digest.hexdigest(), truncated_from))

    def _clean(self, name: str, chunks: Iterator[bytes], digest: hashlib._Hash) -> Iterator[bytes]:
        """The member's bytes redacted and hashed; EvidenceRefused as soon as a known secret shows through."""
        stream = StreamRedactor(self._redactor)
        self._scanner.reset()
        for chunk in chunks:
            self._on_bytes(len(chunk))
            yield from self._checked(name, stream.feed(chunk), digest)
        yield from self._checked(name, stream.close(), digest)

    def _checked(self, name: str, data: bytes, digest: hashlib._Hash) -> Iterator[bytes]:
        if form := self._scanner.feed(data):
            raise EvidenceRefused(
                f"refusing to finish the archive: member {name} still holds a secret ({form} form); "
                "nothing was written"
            )
        if data:
            digest.update(data)
            yield data


_DEFLATE_WINDOW = 32 * 1024  # how far back deflate's matches reach
_DEFLATE_BLOCK = 256 * 1024  # the least a block is deflated apart: smaller pieces are gathered


class _ParallelDeflate:
    """Raw deflate in worker threads, pigz-style: what zipfile needs of ``zlib.compressobj``.

    Each block is deflated on its own, primed with the 32 KiB before it (so its matches reach as far
    back as in one stream) and ended by a sync flush at a byte boundary; the blocks in order, then an
    empty final block, are one valid deflate stream, the same whatever the timing. zlib releases the
    GIL, so blocks are deflated on every core; at most ``workers`` of them wait (bounded memory).
    """

    def __init__(self, level: int, workers: int) -> None:
        from collections import deque
        from concurrent.futures import Future, ThreadPoolExecutor

        self._level = level
        self._workers = workers
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="spark-export-deflate")
        self._pending: deque[Future[bytes]] = deque()
        self._window = b""
        self._gathered: list[bytes] = []  # small pieces, until they make a block worth a thread
        self._gathered_size = 0

    def compress(self, data: bytes) -> bytes:
        if self._gathered or len(data) < _DEFLATE_BLOCK:
            self._gathered.append(data)
            self._gathered_size += len(data)
            if self._gathered_size < _DEFLATE_BLOCK:
                return b""
            data = b"".join(self._gathered)
            self._gathered, self._gathered_size = [], 0
        self._submit(data)
        ready = []
        while len(self._pending) > self._workers:
            ready.append(self._pending.popleft().result())
        return b"".join(ready)

    def flush(self) -> bytes:
        try:
            if self._gathered:
                self._submit(b"".join(self._gathered))
            ready = [future.result() for future in self._pending]
        finally:
            self._pending.clear()
            self._pool.shutdown(cancel_futures=True)
        return b"".join([*ready, zlib.compressobj(self._level, zlib.DEFLATED, -15).flush()])

    def _submit(self, data: bytes) -> None:
        self._pending.append(self._pool.submit(self._deflate, data, self._window))
        joined = self._window + data if len(data) < _DEFLATE_WINDOW else data
        self._window = joined[-_DEFLATE_WINDOW:]

    def _deflate(self, data: bytes, window: bytes) -> bytes:
        if window:
            compressor = zlib.compressobj(self._level, zlib.DEFLATED, -15, zdict=window)
        else:
            compressor = zlib.compressobj(self._level, zlib.DEFLATED, -15)
        return compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)


def _deflate_in_parallel(member: IO[bytes]) -> None:
    """Give zipfile's ``member`` a _ParallelDeflate for its compressor, where there are cores to use.

    zipfile calls only ``compress`` and ``flush`` of its (private) ``_compressor``; where that is not a
    zlib compressor (another Python), the member is deflated as zipfile does it.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if cores > 1 and isinstance(getattr(member, "_compressor", None), type(zlib.compressobj())):
        setattr(member, "_compressor", _ParallelDeflate(LEVEL, min(cores, 4)))  # noqa: B010


_DONE = object()


@contextlib.contextmanager
def _in_background(items: Iterator[bytes], depth: int = 4) -> Iterator[Iterator[bytes]]:
    """Produce ``items`` in a thread, at most ``depth`` ahead (bounded memory); errors re-raised here."""
    import queue
    import threading

    handoff: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: object) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not offer(item):
                    return
        except BaseException as exc:  # handed to the consumer, which re-raises it
            offer(exc)
            return
        offer(_DONE)

    def consume() -> Iterator[bytes]:
        while True:
            item = handoff.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]

    worker = threading.Thread(target=produce, name="spark-export-reader", daemon=True)
    worker.start()
    try:
        yield consume()
    finally:
        stop.set()
        worker.join()


@contextlib.contextmanager
def _nameless_file(folder: Path) -> Iterator[tuple[IO[bytes], Callable[[Path], None]]]:
    """A file in ``folder`` with no name until ``publish(final)``; it disappears on any failure.

    With ``O_TMPFILE`` even SIGKILL leaves nothing behind. Where the kernel or filesystem cannot give
    such a file a name later, a hidden ``.tmp-<pid>-*.zip`` is used and removed on failure, or by the
    next export if this process was killed.
    """
    sweep_stale_staging(folder)
    descriptor = _anonymous_file(folder)
    named: Path | None = None
    if descriptor is None:
        descriptor, name = _named_temporary(folder)
        named = Path(name)
    handle = os.fdopen(descriptor, "w+b")

    def publish(final: Path) -> None:
        handle.flush()
        os.fsync(handle.fileno())
        if named is not None:
            os.link(named, final)  # never replaces: FileExistsError
        else:
            _link_anonymous(handle.fileno(), final)
        _fsync_folder(folder)

    try:
        with handle:
            yield handle, publish
    finally:
        if named is not None:
            named.unlink(missing_ok=True)


def _link_anonymous(descriptor: int, final: Path) -> None:
    """Give an ``O_TMPFILE`` file its name: linkat through /proc, else with AT_EMPTY_PATH (sandboxes)."""
    try:
        os.link(f"/proc/self/fd/{descriptor}", final, follow_symlinks=True)
        return
    except FileExistsError:
        raise
    except OSError:
        pass
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    at_fdcwd, at_empty_path = -100, 0x1000
    if libc.linkat(descriptor, b"", at_fdcwd, os.fsencode(final), at_empty_path) != 0:
        error = ctypes.get_errno()
        raise (
            FileExistsError(error, os.strerror(error), str(final))
            if error == errno.EEXIST
            else OSError(error, os.strerror(error), str(final))
        )


def _anonymous_file(folder: Path) -> int | None:
    """An ``O_TMPFILE`` descriptor in ``folder`` that can later be named, or None where that fails."""
    flag = getattr(os, "O_TMPFILE", None)
    if flag is None:
        return None
    try:
        probe = os.open(folder, flag | os.O_RDWR, 0o644)
    except OSError:
        return None
    trial = folder / f"{STAGING_PREFIX}{os.getpid()}-probe"
    try:
        _link_anonymous(probe, trial)  # learn now, not after writing a gigabyte, whether naming works
    except OSError:
        os.close(probe)
        return None
    trial.unlink()
    os.close(probe)
    try:
        return os.open(folder, flag | os.O_RDWR, 0o644)
    except OSError:
        return None


def _named_temporary(folder: Path) -> tuple[int, str]:
    import tempfile

    return tempfile.mkstemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-", suffix=".zip", dir=folder)


def _fsync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def archive_name(prefix: str, when: datetime) -> str:
    return f"{prefix}_{when.strftime(STAMP_FORMAT)}.zip"


def check_prefix(prefix: str) -> str:
    if not prefix or not all(c.isalnum() or c in "._-" for c in prefix) or prefix.startswith("."):
        raise ConfigError(f"--name {prefix!r}: use letters, digits, '.', '_' or '-'")
    return prefix


def _run_summary(run: StoredRun) -> dict[str, Any]:
    result = run.result or {}
    return {
        "id": run.id,
        "command": run.command,
        "profile": result.get("profile"),
        "suite": result.get("suite"),
        "started_at": result.get("started_at"),
        "risk": run.risk,
        "summary": result.get("summary"),
        "exit_code": result.get("exit_code"),
    }


def export(
    plan: ExportPlan,
    *,
    base_dir: Path,
    out_dir: Path,
    prefix: str,
    redactor: Redactor,
    on_bytes: Callable[[int], None] = lambda n: None,
) -> Exported:
    """Write ``plan`` as ``out_dir/<prefix>_<stamp>.zip``; the archive appears whole or not at all."""
    check_prefix(prefix)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--out {out_dir}: cannot create: {exc.strerror or exc}") from None
    created = datetime.now(UTC)
    with _nameless_file(out_dir) as (handle, publish):
        with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=LEVEL) as archive:
            writer = _ArchiveWriter(archive, redactor, on_bytes)
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
            body = (json.dumps(manifest, indent=2, sort_keys=False) + "\n").encode()
            writer.add(Source(member=MANIFEST, data=body))
        final = _publish_unique(publish, out_dir, prefix, created)
    if not plan.explicit:
        _remember_export(base_dir, final, created)
    return Exported(path=final, members=writer.written[:-1], runs=plan.runs)


def _publish_unique(publish: Callable[[Path], None], out_dir: Path, prefix: str, when: datetime) -> Path:
    base = archive_name(prefix, when)
    for attempt in range(1, 1000):
        final = out_dir / (base if attempt == 1 else base.replace(".zip", f"-{attempt}.zip"))
        try:
            publish(final)
            return final
        except FileExistsError:
            continue
    raise ConfigError(f"no free archive name for {base} in {out_dir}")


# --- verifying an archive ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Verification:
    members: int
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def _unsafe(name: str) -> bool:
    """A member name that would land outside the folder it is extracted into."""
    if name.startswith(("/", "\\")) or "\\" in name or (len(name) > 1 and name[1] == ":"):
        return True
    return any(part == ".." for part in PurePosixPath(name).parts)


# How zipfile refuses a member it cannot read: corrupt data (per compressor), an encrypted flag,
# a compression method it does not implement, a truncated file.
_UNREADABLE_MEMBER = (
    zipfile.BadZipFile,
    zlib.error,
    lzma.LZMAError,
    OSError,
    EOFError,
    NotImplementedError,
    RuntimeError,
)


def _shown(name: str) -> str:
    """A member name fit for one output line: as it is, or quoted with escapes when it holds a line break."""
    shown = name if name.isprintable() else repr(name)
    return shown if len(shown) <= 200 else shown[:199] + "…"


def _read_manifest_document(archive: zipfile.ZipFile) -> Any:
    """The manifest's JSON; ValueError saying why when it cannot be read or decoded."""
    try:
        with archive.open(MANIFEST) as handle:
            return json.loads(handle.read(64 * 1024 * 1024))
    except RecursionError:
        raise ValueError("nested too deeply") from None
    except _UNREADABLE_MEMBER as exc:
        raise ValueError(one_line(exc, 160)) from None


def _hash_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    with archive.open(info) as member:
        while chunk := member.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _manifest_entries(document: Any) -> dict[str, tuple[int, str]]:
    """``path -> (size, sha256)`` from a manifest; EvidenceRefused when it is malformed."""
    if not isinstance(document, dict) or document.get("schema") != MANIFEST_SCHEMA:
        raise EvidenceRefused(f"{MANIFEST}: not a {MANIFEST_SCHEMA} manifest")
    members = document.get("members")
    if not isinstance(members, list):
        raise EvidenceRefused(f"{MANIFEST}: 'members' is not a list")
    entries: dict[str, tuple[int, str]] = {}
    for position, entry in enumerate(members):
        if not isinstance(entry, dict):
            raise EvidenceRefused(f"{MANIFEST}: members[{position}] is not an object")
        path, size, sha = entry.get("path"), entry.get("size"), entry.get("sha256")
        if (
            not isinstance(path, str)
            or isinstance(size, bool)
            or not isinstance(size, int)
            or not isinstance(sha, str)
            or len(sha) != 64
        ):
            raise EvidenceRefused(f"{MANIFEST}: members[{position}] needs path, size and a sha256")
        if path in entries:
            raise EvidenceRefused(f"{MANIFEST}: {_shown(path)} is listed twice")
        entries[path] = (size, sha.lower())
    return entries


def verify(path: Path) -> Verification:
    """Check every member of ``path`` against its manifest, reading (never extracting) the archive.

    Raises ConfigError (exit 2) when ``path`` is not a readable zip.
    """
    try:
        archive = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, not a zip archive") from None
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
        raise ConfigError(f"{path}: not a readable zip archive ({one_line(exc, 160)})") from None
    problems: list[str] = []
    with archive:
        infos = archive.infolist()
        names = [info.filename for info in infos]
        problems += [
            f"unsafe member name (climbs out of the archive): {n!r}"[:240] for n in names if _unsafe(n)
        ]
        twice = sorted({name for name, count in Counter(names).items() if count > 1})
        problems += [f"member stored twice: {_shown(name)}" for name in twice]
        if MANIFEST not in names:
            return Verification(len(infos), [*problems, f"{MANIFEST} is missing"])
        try:
            entries = _manifest_entries(_read_manifest_document(archive))
        except EvidenceRefused as exc:
            return Verification(len(infos), [*problems, str(exc)])
        except ValueError as exc:
            return Verification(len(infos), [*problems, f"{MANIFEST}: unreadable ({exc})"])
        present = {info.filename: info for info in infos}
        for name, (size, sha) in entries.items():
            info = present.get(name)
            if info is None:
                problems.append(f"removed: {_shown(name)}")
                continue
            try:
                actual_size, actual_sha = _hash_member(archive, info)
            except _UNREADABLE_MEMBER as exc:
                problems.append(f"changed: {_shown(name)} (unreadable: {one_line(exc, 160)})")
                continue
            if (actual_size, actual_sha) != (size, sha):
                problems.append(f"changed: {_shown(name)} (sha256 or size differs from the manifest)")
        problems += [f"added: {_shown(n)}" for n in sorted(set(present) - set(entries) - {MANIFEST})]
    return Verification(len(entries), problems)


def read_manifest(path: Path) -> dict[str, Any] | None:
    """The manifest of an archive for listing, or None when it cannot be read."""
    try:
        with zipfile.ZipFile(path) as archive:
            document = _read_manifest_document(archive)
    except (*_UNREADABLE_MEMBER, ValueError, KeyError):
        return None
    return document if isinstance(document, dict) else None

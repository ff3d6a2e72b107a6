"""Files that appear whole or not at all, under names that never replace another file.

Every writer in spark-ops goes through here: ``write_atomically`` (a hidden staging file renamed into
place), ``write_durably`` (fsynced), ``publish_unique`` (``NAME``, ``NAME-2``, ... the first free name),
and ``nameless_file`` (a file that has no name until it is complete). Staging entries are named
``.tmp-<pid>-...`` so that the next writer can remove those whose process is gone.

Portable: ``O_TMPFILE`` + ``linkat`` (Linux) are used when the kernel and filesystem allow them, found
by one trial (``anonymous_file``); elsewhere a hidden named temporary file is used instead. Whether a
pid is alive is asked with signal 0 on POSIX only (on Windows ``os.kill(pid, 0)`` would send Ctrl-C).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from spark_ops import clock

STAGING_PREFIX = ".tmp-"
MAX_NAME_ATTEMPTS = 999
# Without a way to ask whether a pid lives, a staging entry untouched this long is taken as abandoned.
STALE_AFTER_S = 24 * 3600
# os.kill(pid, 0) probes a pid on POSIX; on Windows it would send CTRL_C_EVENT to the process group.
CAN_PROBE_PIDS = os.name == "posix"


def write_durably(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` and fsync it (parents created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` whole or not at all (hidden ``.tmp-<pid>-`` file, fsynced, renamed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"{STAGING_PREFIX}{os.getpid()}-{path.name}")
    try:
        write_durably(temporary, data)
        temporary.replace(path)
    finally:
        with contextlib.suppress(OSError):  # gone after the rename; or the write failed and says why
            temporary.unlink(missing_ok=True)


def fsync_folder(folder: Path) -> None:
    """Make a rename or link in ``folder`` durable; a no-op where folders cannot be opened (Windows)."""
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def publish_unique(publish: Callable[[Path], None], folder: Path, stem: str, suffix: str = "") -> Path:
    """Call ``publish`` with ``folder/<stem><suffix>``, then ``<stem>-2<suffix>``, ... until one is free.

    ``publish`` must never replace a file: it raises FileExistsError when the name is taken. Raises
    FileExistsError when all MAX_NAME_ATTEMPTS names are taken.
    """
    for attempt in range(1, MAX_NAME_ATTEMPTS + 1):
        final = folder / (f"{stem}{suffix}" if attempt == 1 else f"{stem}-{attempt}{suffix}")
        try:
            publish(final)
            return final
        except FileExistsError:
            continue
    raise FileExistsError(f"no free name for {stem}{suffix} in {folder}")


def publish_folder(staging: Path, parent: Path, stem: str) -> Path:
    """Rename ``staging`` to ``parent/stem`` (or ``stem-2``, ``stem-3``...): atomic, never over another."""

    def rename(final: Path) -> None:
        try:
            staging.rename(final)  # atomic; fails if a run of the same second already took the name
        except OSError:
            if final.exists():  # POSIX says ENOTEMPTY or EEXIST, Windows FileExistsError
                raise FileExistsError(errno.EEXIST, "taken", str(final)) from None
            raise

    return publish_unique(rename, parent, stem)


def process_alive(pid: int) -> bool:
    """Whether ``pid`` runs; True when that cannot be asked (never sweep a live writer's files)."""
    if not CAN_PROBE_PIDS:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _abandoned(entry: Path, pid: int) -> bool:
    if pid == os.getpid():
        return False
    if CAN_PROBE_PIDS:
        return not process_alive(pid)
    try:
        return clock.unix() - entry.stat().st_mtime > STALE_AFTER_S
    except OSError:
        return False


def sweep_stale_staging(folder: Path) -> None:
    """Remove ``.tmp-<pid>-*`` entries left by writers that were killed (their pid is gone).

    Where pids cannot be probed, entries untouched for STALE_AFTER_S are taken as abandoned.
    """
    if not folder.is_dir():
        return
    for entry in folder.iterdir():
        if not entry.name.startswith(STAGING_PREFIX):
            continue
        pid_text = entry.name[len(STAGING_PREFIX) :].split("-", 1)[0]
        if pid_text.isdigit() and _abandoned(entry, int(pid_text)):
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


# --- a file with no name until it is complete ------------------------------------------------------


@contextlib.contextmanager
def nameless_file(folder: Path, suffix: str = "") -> Iterator[tuple[IO[bytes], Callable[[Path], None]]]:
    """A file in ``folder`` with no name until ``publish(final)``; it disappears on any failure.

    ``publish`` fsyncs the file and links it as ``final``, never replacing a file (FileExistsError): call
    it again with another name. With ``O_TMPFILE`` even SIGKILL leaves nothing behind. Where the kernel
    or filesystem cannot name such a file later, a hidden ``.tmp-<pid>-*<suffix>`` is used and removed
    on failure, or by the next writer in ``folder`` if this process was killed.
    """
    sweep_stale_staging(folder)
    descriptor = anonymous_file(folder)
    named: Path | None = None
    if descriptor is None:
        descriptor, name = _named_temporary(folder, suffix)
        named = Path(name)
    handle = os.fdopen(descriptor, "w+b")

    def publish(final: Path) -> None:
        if not handle.closed:
            handle.flush()
            os.fsync(handle.fileno())
        if named is None:
            _link_anonymous(handle.fileno(), final)
        else:
            handle.close()  # Windows renames no file that is open
            _link_named(named, final)
        fsync_folder(folder)

    try:
        with handle:
            yield handle, publish
    finally:
        if named is not None:
            named.unlink(missing_ok=True)


def anonymous_file(folder: Path) -> int | None:
    """An ``O_TMPFILE`` descriptor in ``folder`` that can later be named, or None where that fails.

    The one place the choice is made: tests force the named fallback by replacing this function.
    """
    flag = getattr(os, "O_TMPFILE", None)  # Linux only
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


def _link_named(named: Path, final: Path) -> None:
    """Give the finished temporary file the name ``final`` without replacing a file there.

    A hard link where the filesystem has them; else (FAT, some network shares) the name is claimed
    with O_EXCL first and the file renamed over that empty claim, which is ours.
    """
    try:
        os.link(named, final)
        return
    except FileExistsError:
        raise
    except OSError:
        pass
    os.close(os.open(final, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))  # FileExistsError when taken
    try:
        os.replace(named, final)
    except OSError:
        final.unlink(missing_ok=True)
        raise


def _named_temporary(folder: Path, suffix: str) -> tuple[int, str]:
    import tempfile

    return tempfile.mkstemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-", suffix=suffix, dir=folder)

"""Zip I/O for evidence archives: members streamed through the redactor, a secret scanner and sha256.

Memory stays bounded whatever the size of a log: each member is read in chunks on a thread while this
thread deflates; members of PARALLEL_FROM bytes or more are deflated on every core (pigz-style blocks
that form one valid deflate stream).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from spark_ops import clock
from spark_ops.errors import EvidenceRefused
from spark_ops.redact import Redactor, SecretScanner, StreamRedactor

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


def read_source(source: Source) -> tuple[Iterator[bytes], int, int | None]:
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
    moment = clock.now()
    if source.path is not None:
        with contextlib.suppress(OSError):
            moment = datetime.fromtimestamp(source.path.stat().st_mtime, UTC)
    stamp = moment.timetuple()[:6]
    return max(stamp, _ZIP_EPOCH)


class ArchiveWriter:
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
        chunks, source_size, truncated_from = read_source(source)
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

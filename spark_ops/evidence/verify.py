"""Verify an evidence archive against its manifest, and read a manifest for listing.

The archive is read, never extracted: every member's size and sha256 are compared with ``manifest.json``,
and unsafe names (climbing out of the folder), members stored twice, added or removed are all reported.
"""

from __future__ import annotations

import hashlib
import json
import lzma
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from spark_ops.errors import ConfigError, EvidenceRefused, clip, one_line
from spark_ops.evidence.zipio import CHUNK

MANIFEST = "manifest.json"
MANIFEST_SCHEMA = "spark-ops/evidence/v1"


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
    return clip(shown, 200)


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

"""Verify an evidence archive against its manifest, and read a manifest for listing.

The archive is read, never extracted: every member's size and sha256 are compared with ``manifest.json``,
and unsafe names (climbing out of the folder), members stored twice, added or removed are all reported.
With a public key, ``manifest.json.sig`` must verify over the manifest's exact bytes and every run's
``attestation.dsse.json`` must verify and name the files of the run it sits in.
"""

from __future__ import annotations

import hashlib
import json
import lzma
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from spark_ops.errors import ConfigError, EvidenceRefused, clip, one_line
from spark_ops.evidence.zipio import CHUNK

if TYPE_CHECKING:
    from spark_ops.signing import PublicKey

MANIFEST = "manifest.json"
MANIFEST_SCHEMA = "spark-ops/evidence/v1"
SIGNATURE = "manifest.json.sig"  # not in the manifest: it is made from the manifest's bytes
_MAX_MANIFEST_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Verification:
    members: int
    problems: list[str]
    signed: bool = False  # manifest.json.sig is present
    signer: str | None = None  # the fingerprint the manifest names (unverified unless ``verified``)
    verified: bool = False  # checked with a key: the signature and every attestation hold
    attestations: int = 0

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
    return _decode_manifest(_read_member(archive, MANIFEST))


def _read_member(archive: zipfile.ZipFile, name: str) -> bytes:
    """A small member's bytes (at most 64 MiB are read); ValueError saying why when it cannot be read."""
    try:
        with archive.open(name) as handle:
            return handle.read(_MAX_MANIFEST_BYTES)
    except _UNREADABLE_MEMBER as exc:
        raise ValueError(one_line(exc, 160)) from None


def _decode_manifest(data: bytes) -> Any:
    try:
        return json.loads(data)
    except RecursionError:
        raise ValueError("nested too deeply") from None


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


def verify(path: Path, key: PublicKey | None = None) -> Verification:
    """Check every member of ``path`` against its manifest, reading (never extracting) the archive.

    With ``key``, the manifest's signature and the runs' attestations must verify with it too. Raises
    ConfigError (exit 2) when ``path`` is not a readable zip.
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
            missing = [*problems, f"{MANIFEST} is missing"]
            return Verification(len(infos), missing + (_unsigned_problem() if key else []))
        try:
            manifest_bytes = _read_member(archive, MANIFEST)
            document = _decode_manifest(manifest_bytes)
            entries = _manifest_entries(document)
        except EvidenceRefused as exc:
            return Verification(len(infos), [*problems, str(exc)])
        except ValueError as exc:
            return Verification(len(infos), [*problems, f"{MANIFEST}: unreadable ({exc})"])
        present = {info.filename: info for info in infos}
        digests: dict[str, str] = {}  # what each member really holds, for the attestations
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
            digests[name] = actual_sha
            if (actual_size, actual_sha) != (size, sha):
                problems.append(f"changed: {_shown(name)} (sha256 or size differs from the manifest)")
        problems += [
            f"added: {_shown(n)}" for n in sorted(set(present) - set(entries) - {MANIFEST, SIGNATURE})
        ]
        signature = document.get("signature")
        signer = signature.get("keyid") if isinstance(signature, dict) else None
        attestations = sorted(name for name in digests if _is_attestation(name))
        outcome = Verification(
            len(entries),
            problems,
            signed=SIGNATURE in present,
            signer=signer if isinstance(signer, str) else None,
            attestations=len(attestations),
        )
        if key is None:
            return outcome
        trust = _signature_problems(archive, present, manifest_bytes, key, outcome.signer)
        for name in attestations:
            trust += [
                f"attestation {_shown(name)} {problem}"
                for problem in _attestation_problems(archive, name, digests, key)
            ]
    signer_of = key.fingerprint if not trust else outcome.signer
    return replace(outcome, problems=[*problems, *trust], verified=not trust, signer=signer_of)


def describe_signing(result: Verification) -> str:
    """How an archive that matched its manifest is signed, for the line ``evidence verify`` ends with."""
    count = result.attestations
    attestations = f"{count} run attestation{'' if count == 1 else 's'}"
    if result.verified:
        return f"signature and {attestations} verified with the key {result.signer or '?'}"
    if not result.signed:
        return f"unsigned ({attestations}, unverified)"
    signer = clip(result.signer, 64) if result.signer else "an unnamed key"
    return f"signed by fingerprint {signer}, unverified ({attestations}; give --key PUB to verify)"


def _unsigned_problem() -> list[str]:
    return [f"{SIGNATURE} is missing: the archive is not signed"]


def _signature_problems(
    archive: zipfile.ZipFile,
    present: dict[str, zipfile.ZipInfo],
    manifest_bytes: bytes,
    key: PublicKey,
    signer: str | None,
) -> list[str]:
    """Why ``manifest.json.sig`` does not prove the manifest came from ``key`` ([] when it does)."""
    from spark_ops.signing import SignatureRefused, decode_signature

    if SIGNATURE not in present:
        return _unsigned_problem()
    try:
        raw = decode_signature(_read_member(archive, SIGNATURE))
    except (ValueError, SignatureRefused) as exc:
        return [f"{SIGNATURE} is not a signature ({exc})"]
    if key.verifies(raw, manifest_bytes):
        return []
    named = f"; the manifest names signer {clip(signer, 64)}" if signer else ""
    return [f"{SIGNATURE} does not verify with the key {key.fingerprint}{named}"]


def _is_attestation(name: str) -> bool:
    from spark_ops.evidence.attest import ATTESTATION

    parts = PurePosixPath(name).parts
    return len(parts) == 3 and parts[0] == "runs" and parts[2] == ATTESTATION


def _attestation_problems(
    archive: zipfile.ZipFile, name: str, digests: dict[str, str], key: PublicKey
) -> list[str]:
    """Why the attestation member ``name`` does not hold for the run folder it sits in."""
    from spark_ops.evidence.attest import attestation_problems

    folder = name.rsplit("/", 1)[0]
    run_digests = {
        member.rsplit("/", 1)[1]: sha for member, sha in digests.items() if member.rsplit("/", 1)[0] == folder
    }
    try:
        return attestation_problems(_read_member(archive, name), key, run_digests)
    except ValueError as exc:
        return [f"is unreadable ({exc})"]


def read_manifest(path: Path) -> dict[str, Any] | None:
    """The manifest of an archive for listing, or None when it cannot be read."""
    try:
        with zipfile.ZipFile(path) as archive:
            document = _read_manifest_document(archive)
    except (*_UNREADABLE_MEMBER, ValueError, KeyError):
        return None
    return document if isinstance(document, dict) else None

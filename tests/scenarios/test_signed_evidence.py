"""Signed evidence end to end: sign runs and the archive, verify with the key, and catch every tampering.

The signatures are also checked with no spark-ops code: the detached manifest signature with Debian's
`openssl pkeyutl -verify -pubin -rawin`, the run attestations with securesystemslib's DSSE. Forgeries
are made with openssl too (an attacker's own Ed25519 key signs a rewritten manifest).
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import exported_path, openssl3
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from securesystemslib.dsse import Envelope
from securesystemslib.signer import SSlibKey

from spark_ops import signing
from spark_ops.signing import GeneratedKeys

Members = dict[str, bytes]
MANIFEST, SIGNATURE = "manifest.json", "manifest.json.sig"


@pytest.fixture(autouse=True)
def outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GITHUB_SHA", "CI_COMMIT_SHA", signing.KEY_FILE_ENV, signing.PASSPHRASE_ENV):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def keys(tmp_path: Path) -> GeneratedKeys:
    return signing.generate_keys(tmp_path / "keys")


@pytest.fixture
def attacker(tmp_path: Path) -> GeneratedKeys:
    return signing.generate_keys(tmp_path / "attacker")


def openssl(*args: str) -> subprocess.CompletedProcess[bytes]:
    binary = openssl3()
    return subprocess.run([binary, *args], capture_output=True, timeout=60, check=False)


def openssl_verifies(folder: Path, public: Path, manifest: bytes, signature_file: bytes) -> bool:
    """`openssl pkeyutl -verify -pubin -rawin` on the manifest and its decoded detached signature."""
    (folder / "manifest.json").write_bytes(manifest)
    (folder / "sig.bin").write_bytes(base64.b64decode(signature_file))
    checked = openssl(
        "pkeyutl", "-verify", "-pubin", "-inkey", str(public), "-rawin",
        "-in", str(folder / "manifest.json"), "-sigfile", str(folder / "sig.bin"),
    )  # fmt: skip
    return checked.returncode == 0 and b"Signature Verified Successfully" in checked.stdout


def openssl_sign(private: Path, data: bytes, folder: Path) -> bytes:
    """The detached signature file an attacker with ``private`` writes (base64 of openssl's raw signature)."""
    (folder / "to-sign").write_bytes(data)
    signed = openssl("pkeyutl", "-sign", "-rawin", "-inkey", str(private), "-in", str(folder / "to-sign"))
    assert signed.returncode == 0, signed.stderr
    return base64.b64encode(signed.stdout) + b"\n"


def securesystemslib_statement(envelope: bytes, public: Path, keyid: str) -> dict[str, Any]:
    key = SSlibKey.from_crypto(load_pem_public_key(public.read_bytes()), keyid=keyid)
    opened = Envelope.from_dict(json.loads(envelope))
    opened.verify([key], 1)
    document: dict[str, Any] = json.loads(opened.payload)
    return document


def members_of(path: Path) -> Members:
    with zipfile.ZipFile(path) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def write_zip(path: Path, members: Members) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0)), data)
    return path


def recompute_manifest(members: Members, signer: str | None = None) -> Members:
    """What someone who changed members does next: rewrite the manifest's sizes and digests."""
    manifest = json.loads(members[MANIFEST])
    manifest["members"] = [entry for entry in manifest["members"] if entry["path"] in members]
    for entry in manifest["members"]:
        data = members[entry["path"]]
        entry.update(size=len(data), sha256=hashlib.sha256(data).hexdigest())
    if signer is not None:
        manifest["signature"]["keyid"] = signer
    return {**members, MANIFEST: (json.dumps(manifest, indent=2) + "\n").encode()}


def verify(spark, archive: Path, *key: Path) -> Any:
    return spark("evidence", "verify", str(archive), *[arg for k in key for arg in ("--key", str(k))])


def test_signed_canary_export_and_verify_with_spark_openssl_and_securesystemslib(spark, keys, tmp_path):
    """canary --sign-key, export --sign-key, verify --key: 0; openssl and securesystemslib agree."""
    canary = spark("canary", "--mode", "mock", "--auto-ok", "--sign-key", str(keys.private))
    # The latency probe may judge a machine loaded by other work as slow (exit 1): signed all the same.
    assert canary.exit_code in (0, 1), canary.stdout + canary.stderr
    assert f"verdict signed by {keys.fingerprint}" in canary.stderr
    exported = spark("evidence", "export", "--sign-key", str(keys.private))
    archive = exported_path(exported, tmp_path)
    assert keys.fingerprint in exported.stderr

    verified = verify(spark, archive, keys.public)
    assert verified.exit_code == 0, verified.stdout + verified.stderr
    assert f"signature and 1 run attestation verified with the key {keys.fingerprint}" in verified.stdout

    members = members_of(archive)
    manifest = json.loads(members[MANIFEST])
    assert manifest["signature"] == {"algorithm": "ed25519", "keyid": keys.fingerprint, "file": SIGNATURE}
    assert SIGNATURE not in {entry["path"] for entry in manifest["members"]}  # made from the manifest
    assert openssl_verifies(tmp_path, keys.public, members[MANIFEST], members[SIGNATURE])
    assert not openssl_verifies(tmp_path, keys.public, members[MANIFEST] + b" ", members[SIGNATURE])

    (attestation,) = [name for name in members if name.endswith("/attestation.dsse.json")]
    statement = securesystemslib_statement(members[attestation], keys.public, keys.fingerprint)
    run = attestation.rsplit("/", 1)[0]
    predicate = statement["predicate"]
    assert predicate["result"] in (("FAILED",) if canary.exit_code else ("PASSED", "WARNED"))
    assert len(predicate["passedTests"] + predicate["warnedTests"] + predicate["failedTests"]) == 13
    result_digest = hashlib.sha256(members[f"{run}/result.json"]).hexdigest()
    assert statement["predicate"]["urn:spark-ops:run"]["resultJson"]["digest"]["sha256"] == result_digest


def two_signed_runs(spark, platform, keys: GeneratedKeys, tmp_path: Path) -> tuple[Path, Path]:
    """A passing and a failing signed gate, kept as two run folders (oldest first)."""
    assert spark("gate", "--sign-key", str(keys.private), *platform.sets()).exit_code == 0
    platform.health = {**platform.health, "status": "DOWN"}
    assert spark("gate", "--sign-key", str(keys.private), *platform.sets()).exit_code == 0  # report-only
    runs = sorted((tmp_path / "evidence" / "runs").iterdir())
    assert len(runs) == 2, runs
    return runs[0], runs[1]


def signed_export(spark, keys: GeneratedKeys, tmp_path: Path) -> Path:
    return exported_path(spark("evidence", "export", "--all", "--sign-key", str(keys.private)), tmp_path)


def change_a_log(members: Members) -> Members:
    name = sorted(n for n in members if n.endswith("/run.log"))[0]
    return {**members, name: members[name] + b"forged line\n"}


def change_a_result(members: Members) -> Members:
    (name,) = [n for n in members if n.endswith("result.json") and b'"LOW"' in members[n]]
    return {**members, name: members[name].replace(b'"LOW"', b'"LOx"')}


def flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def copy_an_attestation_from_another_run(members: Members) -> Members:
    first, second = sorted(n for n in members if n.endswith("/attestation.dsse.json"))
    return {**members, first: members[second]}


def remove_a_suite_json(members: Members) -> Members:
    name = min(n for n in members if n.endswith("/suite.json"))
    return {n: d for n, d in members.items() if n != name}


def corrupt_an_attestation_signature(members: Members) -> Members:
    name = sorted(n for n in members if n.endswith("/attestation.dsse.json"))[0]
    envelope = json.loads(members[name])
    raw = base64.b64decode(envelope["signatures"][0]["sig"])
    envelope["signatures"][0]["sig"] = base64.b64encode(flip(raw, 10)).decode()
    return {**members, name: json.dumps(envelope).encode()}


# Each tampering: how the archive is changed, how it is signed again (None: the signature is left as it
# was; "attacker": by another key; "owner": by the real key, so only the attestation check can catch it),
# and what the one TAMPERED line says.
Tamper = Callable[[Members], Members]
TAMPERINGS: dict[str, tuple[Tamper, str | None, str]] = {
    "changed member, manifest recomputed": (change_a_log, None, "manifest.json.sig does not verify"),
    "re-signed by another key": (change_a_log, "attacker", "manifest.json.sig does not verify"),
    "signature removed": (
        lambda m: {n: d for n, d in m.items() if n != SIGNATURE},
        None,
        "manifest.json.sig is missing: the archive is not signed",
    ),
    "signature byte flipped": (
        lambda m: {**m, SIGNATURE: base64.b64encode(flip(base64.b64decode(m[SIGNATURE]), 0)) + b"\n"},
        None,
        "manifest.json.sig does not verify",
    ),
    "attestation from another run, re-signed by the owner": (
        copy_an_attestation_from_another_run,
        "owner",
        "names another result.json than the run's (moved from another run?)",
    ),
    "result.json changed, re-signed by the owner": (
        change_a_result,
        "owner",
        "names another result.json than the run's",
    ),
    "a run's suite.json removed, re-signed by the owner": (
        remove_a_suite_json,
        "owner",
        "names a suite.json its run folder does not hold",
    ),
    "attestation signature byte flipped, re-signed by the owner": (
        corrupt_an_attestation_signature,
        "owner",
        "does not verify: no signature by the key",
    ),
}


@pytest.mark.parametrize("case", list(TAMPERINGS), ids=list(TAMPERINGS))
def test_every_tampering_is_exit_1_with_the_key(case, spark, platform, keys, attacker, tmp_path):
    """Each tampering: `verify --key` exits 1 with a TAMPERED line saying which check failed."""
    two_signed_runs(spark, platform, keys, tmp_path)
    original = members_of(signed_export(spark, keys, tmp_path))
    change, resign, fragment = TAMPERINGS[case]
    members = change(original)
    if resign is not None or case == "changed member, manifest recomputed":
        signer = {"attacker": attacker, "owner": keys}.get(resign or "")
        members = recompute_manifest(members, signer.fingerprint if signer else None)
        if signer is not None:
            members[SIGNATURE] = openssl_sign(signer.private, members[MANIFEST], tmp_path)
    tampered = write_zip(tmp_path / "tampered.zip", members)

    result = verify(spark, tampered, keys.public)
    assert result.exit_code == 1, result.stdout + result.stderr
    tampered_lines = [line for line in result.stdout.splitlines() if line.startswith("TAMPERED")]
    assert len(tampered_lines) == 1, result.stdout
    assert fragment in tampered_lines[0]
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stderr.count("\n") == 1 and ": 1 problem: the archive was altered" in result.stderr
    if resign == "attacker":  # the forgery is consistent: openssl verifies it with the attacker's key
        assert openssl_verifies(tmp_path, attacker.public, members[MANIFEST], members[SIGNATURE])


def test_without_the_key_a_recomputed_manifest_passes(spark, platform, keys, tmp_path):
    """Why signing matters: a changed member with a recomputed manifest passes a checksum-only verify."""
    two_signed_runs(spark, platform, keys, tmp_path)
    members = recompute_manifest(change_a_result(members_of(signed_export(spark, keys, tmp_path))))
    tampered = write_zip(tmp_path / "tampered.zip", members)
    unkeyed = verify(spark, tampered)
    assert unkeyed.exit_code == 0
    assert f"signed by fingerprint {keys.fingerprint}, unverified" in unkeyed.stdout
    assert verify(spark, tampered, keys.public).exit_code == 1


def test_attestations_swapped_on_disk_before_a_signed_export(spark, platform, keys, tmp_path):
    """Run folders whose attestations were swapped before export: the owner's signed archive still fails."""
    first, second = two_signed_runs(spark, platform, keys, tmp_path)
    a, b = (first / "attestation.dsse.json").read_bytes(), (second / "attestation.dsse.json").read_bytes()
    (first / "attestation.dsse.json").write_bytes(b)
    (second / "attestation.dsse.json").write_bytes(a)
    result = verify(spark, signed_export(spark, keys, tmp_path), keys.public)
    assert result.exit_code == 1, result.stdout
    for run in (first, second):
        assert (
            f"TAMPERED attestation runs/{run.name}/attestation.dsse.json names another result.json"
            in result.stdout
        )


def test_runs_signed_by_another_key_do_not_verify(spark, platform, keys, attacker, tmp_path):
    """An archive signed by the key, holding a run attestation signed by another key: exit 1."""
    assert spark("gate", "--sign-key", str(attacker.private), *platform.sets()).exit_code == 0
    result = verify(spark, signed_export(spark, keys, tmp_path), keys.public)
    assert result.exit_code == 1
    assert "attestation runs/" in result.stdout and "does not verify" in result.stdout


def test_verify_without_a_key_tells_unsigned_from_signed(spark, platform, keys, tmp_path):
    """Without --key: 'unsigned', or 'signed by fingerprint X, unverified'; members judged as before."""
    assert spark("gate", *platform.sets()).exit_code == 0
    unsigned = exported_path(spark("evidence", "export", "--all"), tmp_path)
    said = verify(spark, unsigned)
    assert said.exit_code == 0 and "; unsigned (0 run attestations, unverified)" in said.stdout
    assert SIGNATURE not in members_of(unsigned)
    assert "signature" not in json.loads(members_of(unsigned)[MANIFEST])
    keyed = verify(spark, unsigned, keys.public)
    assert keyed.exit_code == 1
    assert "TAMPERED manifest.json.sig is missing: the archive is not signed" in keyed.stdout

    signed = signed_export(spark, keys, tmp_path)
    said = verify(spark, signed)
    assert said.exit_code == 0
    assert f"signed by fingerprint {keys.fingerprint}, unverified (0 run attestations" in said.stdout


def test_export_with_the_signing_key_masks_the_key_itself(spark, platform, keys, tmp_path):
    """--include of the key's own file with --sign-key: the member is packed with the key masked."""
    assert spark("gate", *platform.sets()).exit_code == 0
    result = spark(
        "evidence", "export", "--all", "--sign-key", str(keys.private), "--include", str(keys.private)
    )
    archive = exported_path(result, tmp_path)
    packed = members_of(archive)["include/spark-signing.key"]
    body = [line for line in keys.private.read_text().splitlines() if not line.startswith("-----")]
    assert body and not any(line.encode() in packed for line in body)
    assert b"***" in packed
    assert verify(spark, archive, keys.public).exit_code == 0


def test_statement_started_at_is_the_runs(spark, platform, keys, tmp_path):
    """The Statement's startedAt is the run's UTC start, as result.json says."""
    assert spark("gate", "--sign-key", str(keys.private), *platform.sets()).exit_code == 0
    (run,) = (tmp_path / "evidence" / "runs").iterdir()
    envelope = (run / "attestation.dsse.json").read_bytes()
    statement = securesystemslib_statement(envelope, keys.public, keys.fingerprint)
    started = statement["predicate"]["urn:spark-ops:run"]["startedAt"]
    assert started == json.loads((run / "result.json").read_bytes())["started_at"]
    assert (
        abs(
            (
                datetime.now(UTC) - datetime.strptime(started, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
            ).total_seconds()
        )
        < 600
    )

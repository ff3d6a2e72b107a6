"""Signing keys and signatures: `spark keys generate`, keys that cannot be used (exit 2), DSSE envelopes.

Keys are checked against Debian's openssl 3, which reads what spark-ops writes with no spark-ops code.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import assert_config_error, free_port, openssl3

from spark_ops import signing
from spark_ops.signing import SignatureRefused

PASSPHRASE = "correct horse/battery+staple="


def openssl(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    binary = openssl3()
    return subprocess.run([binary, *args], capture_output=True, timeout=60, env=env, check=False)


def openssl_fingerprint(public: Path) -> str:
    """sha256 of the public key's DER, as openssl sees the file."""
    der = openssl("pkey", "-pubin", "-in", str(public), "-outform", "DER")
    assert der.returncode == 0, der.stderr
    import hashlib

    return hashlib.sha256(der.stdout).hexdigest()


def test_generate_writes_a_pkcs8_key_0600_and_its_public_key(spark, tmp_path, monkeypatch):
    """`keys generate` writes an Ed25519 PKCS#8 key (0600) and SPKI public key; prints the DER's sha256."""
    monkeypatch.delenv(signing.PASSPHRASE_ENV, raising=False)
    result = spark("keys", "generate", "--out", "keys")
    assert result.exit_code == 0, result.stderr
    private, public = tmp_path / "keys" / "spark-signing.key", tmp_path / "keys" / "spark-signing.pub"
    if os.name == "posix":  # Windows keeps no such mode bits
        assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert private.read_text().startswith("-----BEGIN PRIVATE KEY-----\n")
    assert public.read_text().startswith("-----BEGIN PUBLIC KEY-----\n")
    described = openssl("pkey", "-in", str(private), "-noout", "-text")
    assert described.returncode == 0 and b"ED25519 Private-Key" in described.stdout, described.stderr
    derived = openssl("pkey", "-in", str(private), "-pubout")
    assert derived.stdout == public.read_bytes()  # the pair belongs together
    assert result.stdout.strip() == openssl_fingerprint(public)
    assert "not encrypted" in result.stderr


def test_generate_encrypts_with_the_passphrase_and_never_prints_it(spark, tmp_path, monkeypatch):
    """With SPARK_SIGNING_KEY_PASSPHRASE the key is encrypted PKCS#8 that openssl opens with it."""
    monkeypatch.setenv(signing.PASSPHRASE_ENV, PASSPHRASE)
    result = spark("keys", "generate", "--out", "keys")
    assert result.exit_code == 0, result.stderr
    private = tmp_path / "keys" / "spark-signing.key"
    assert private.read_text().startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----\n")
    env = {**os.environ, "PASS": PASSPHRASE}
    opened = openssl("pkey", "-in", str(private), "-passin", "env:PASS", "-pubout", env=env)
    assert opened.returncode == 0, opened.stderr
    assert opened.stdout == (tmp_path / "keys" / "spark-signing.pub").read_bytes()
    assert openssl("pkey", "-in", str(private), "-passin", "pass:wrong", "-pubout").returncode != 0
    assert PASSPHRASE not in result.stdout + result.stderr


def test_generate_never_replaces_a_key(spark, tmp_path):
    """A second `keys generate` into the same folder exits 2 and leaves the first key as it was."""
    assert spark("keys", "generate", "--out", "keys").exit_code == 0
    before = (tmp_path / "keys" / "spark-signing.key").read_bytes()
    assert_config_error(spark("keys", "generate", "--out", "keys"), "spark-signing.key exists")
    assert (tmp_path / "keys" / "spark-signing.key").read_bytes() == before


def test_fingerprint_command_matches_openssl(spark, tmp_path):
    """`spark keys fingerprint PUB` prints what openssl's DER digest says."""
    generated = signing.generate_keys(tmp_path / "k")
    result = spark("keys", "fingerprint", str(generated.public))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == openssl_fingerprint(generated.public) == generated.fingerprint


def _write_openssl_key(path: Path, *algorithm: str) -> Path:
    made = openssl("genpkey", *algorithm, "-out", str(path))
    assert made.returncode == 0, made.stderr
    return path


UNUSABLE = {
    "missing file": (lambda folder: folder / "nope.key", "cannot read"),
    "a folder": (lambda folder: folder, "cannot read"),
    "not PEM": (
        lambda folder: _text(folder / "junk.key", "hello\n"),
        "not a PEM private key",
    ),
    "the public key": (lambda folder: signing.generate_keys(folder / "g").public, "a public key"),
    "RSA": (
        lambda folder: _write_openssl_key(
            folder / "rsa.key", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"
        ),
        "key type RSA",
    ),
    "EC P-256": (
        lambda folder: _write_openssl_key(
            folder / "ec.key", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"
        ),
        "key type EC",
    ),
}


def _text(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("case", list(UNUSABLE), ids=list(UNUSABLE))
def test_unusable_signing_key_is_one_line_and_exit_2(case, spark, tmp_path, monkeypatch):
    """A key that is missing, a folder, not PEM, public, RSA or EC: exit 2, one line, nothing run or kept."""
    monkeypatch.delenv(signing.PASSPHRASE_ENV, raising=False)
    make, fragment = UNUSABLE[case]
    folder = tmp_path / "bad"
    folder.mkdir()
    key = make(folder)
    result = spark(
        "gate", "--sign-key", str(key), "--set", f"services.web.url=http://127.0.0.1:{free_port()}"
    )
    assert_config_error(result, "--sign-key", fragment)
    assert not (tmp_path / "evidence").exists()


def test_export_with_an_unusable_key_is_exit_2_before_packing(spark, tmp_path):
    """`evidence export --sign-key` with an RSA key: exit 2, one line, no archive."""
    from datetime import UTC, datetime

    from conftest import write_run

    write_run(tmp_path / "evidence", datetime.now(UTC), "gate")
    rsa = _write_openssl_key(tmp_path / "rsa.key", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024")
    assert_config_error(spark("evidence", "export", "--sign-key", str(rsa)), "--sign-key", "key type RSA")
    assert not list((tmp_path / "evidence").glob("*.zip"))


@pytest.fixture
def encrypted_key(tmp_path) -> Path:
    return signing.generate_keys(tmp_path / "enc", PASSPHRASE).private


@pytest.mark.parametrize(
    ("passphrase", "fragment"),
    [
        (None, "the key is encrypted: set SPARK_SIGNING_KEY_PASSPHRASE"),
        ("not-the-one", "cannot decrypt the key"),
    ],
    ids=["no-passphrase", "wrong-passphrase"],
)
def test_encrypted_key_without_the_right_passphrase_is_exit_2(
    passphrase, fragment, encrypted_key, spark, monkeypatch
):
    """An encrypted key without its passphrase, or with another one: exit 2, one line, no passphrase shown."""
    if passphrase is None:
        monkeypatch.delenv(signing.PASSPHRASE_ENV, raising=False)
    else:
        monkeypatch.setenv(signing.PASSPHRASE_ENV, passphrase)
    line = assert_config_error(spark("gate", "--sign-key", str(encrypted_key)), fragment)
    assert PASSPHRASE not in line


def test_encrypted_key_loads_with_its_passphrase(encrypted_key):
    """The right passphrase opens the key; its forms and the passphrase are secrets to mask."""
    key = signing.load_signing_key(encrypted_key, passphrase=PASSPHRASE)
    assert PASSPHRASE in key.secrets
    body = [line for line in encrypted_key.read_text().splitlines() if not line.startswith("-----")]
    assert set(body) <= set(key.secrets)  # every line of the file on disk


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_key_readable_by_others_warns_and_still_signs(tmp_path):
    """A key file with mode 0644 is loaded, with a warning that says so."""
    key = signing.generate_keys(tmp_path / "k").private
    key.chmod(0o644)
    warnings: list[str] = []
    loaded = signing.load_signing_key(key, warn=warnings.append)
    assert len(warnings) == 1 and "readable by others (mode 0644)" in warnings[0]
    assert loaded.fingerprint == signing.fingerprint_of(loaded.key.public_key())
    key.chmod(0o600)
    warnings.clear()
    signing.load_signing_key(key, warn=warnings.append)
    assert warnings == []


@pytest.mark.parametrize("which", ["private", "rsa-public"])
def test_verify_key_must_be_an_ed25519_public_key(which, spark, tmp_path):
    """`evidence verify --key` refuses a private key or an RSA public key (exit 2, one line)."""
    if which == "private":
        key, fragment = signing.generate_keys(tmp_path / "k").private, "a private key"
    else:
        rsa = _write_openssl_key(
            tmp_path / "rsa.key", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"
        )
        public = openssl("pkey", "-in", str(rsa), "-pubout")
        key, fragment = _text(tmp_path / "rsa.pub", public.stdout.decode()), "key type RSA"
    (tmp_path / "a.zip").write_bytes(b"PK")
    line = assert_config_error(spark("evidence", "verify", "a.zip", "--key", str(key)), "--key", fragment)
    assert "PRIVATE" not in line


def test_pae_is_the_dsse_spec_encoding():
    """PAE as the DSSE protocol's own example spells it."""
    assert (
        signing.pae("http://example.com/HelloWorld", b"hello world")
        == b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


def test_envelope_opens_only_with_its_key_type_and_payload(tmp_path):
    """An envelope verifies with its key; another key, another payload or payload type do not."""
    key = signing.load_signing_key(signing.generate_keys(tmp_path / "a").private)
    other = signing.load_public_key(signing.generate_keys(tmp_path / "b").public)
    envelope = signing.sign_envelope(b'{"hello": 1}', key)
    data = json.dumps(envelope).encode()
    assert signing.open_envelope(data, key.public) == b'{"hello": 1}'
    assert envelope["signatures"][0]["keyid"] == key.fingerprint
    with pytest.raises(SignatureRefused, match="no signature by the key"):
        signing.open_envelope(data, other)
    import base64

    changed = {**envelope, "payload": base64.b64encode(b'{"hello": 2}').decode()}
    with pytest.raises(SignatureRefused, match="no signature by the key"):
        signing.open_envelope(json.dumps(changed).encode(), key.public)
    retyped = {**envelope, "payloadType": "application/json"}
    with pytest.raises(SignatureRefused, match="payloadType"):
        signing.open_envelope(json.dumps(retyped).encode(), key.public)
    with pytest.raises(SignatureRefused, match="not a JSON DSSE envelope"):
        signing.open_envelope(b"garbage", key.public)


def test_detached_signature_decoding_refuses_what_is_not_64_bytes():
    """A detached signature file must be base64 of exactly 64 bytes."""
    import base64

    assert signing.decode_signature(signing.encode_signature(bytes(64))) == bytes(64)
    with pytest.raises(SignatureRefused, match="not base64"):
        signing.decode_signature(b"not base64!")
    with pytest.raises(SignatureRefused, match="63 bytes"):
        signing.decode_signature(base64.b64encode(bytes(63)))


PROBE = """
import json, sys
from spark_ops.cli import app
try:
    app(sys.argv[1:], prog_name="spark", standalone_mode=False)
except SystemExit:
    pass
print(json.dumps({"crypto": sorted(m for m in sys.modules if m.split(".")[0] == "cryptography")[:3],
                  "ran": "spark_ops.pipeline" in sys.modules}))
"""


@pytest.mark.parametrize(
    "args",
    [["--help"], ["keys", "--help"], ["gate", "--no-evidence"], ["gate"]],
    ids=["help", "keys-help", "gate-no-evidence", "gate-kept"],
)
def test_cold_start_without_sign_key_never_imports_cryptography(args, tmp_path):
    """`spark --help` and a gate without --sign-key (kept or not) do not load `cryptography`."""
    down = f"http://127.0.0.1:{free_port()}"
    sets = (
        [f"--set=services.{name}.url={down}" for name in ("web", "executor-1")] if args[0] == "gate" else []
    )
    env = {k: v for k, v in os.environ.items() if k != signing.KEY_FILE_ENV}
    completed = subprocess.run(
        [sys.executable, "-c", PROBE, *args, *sets],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
    )
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert report["crypto"] == [], completed.stderr
    assert report["ran"] is (args[0] == "gate")  # the probe saw the gate run

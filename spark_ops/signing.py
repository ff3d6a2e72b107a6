"""Ed25519 keys, detached signatures and DSSE envelopes: the one module that touches ``cryptography``.

``cryptography`` is imported inside the functions that need it, so a run without ``--sign-key`` (and
``spark --help``) never loads it. The key pair is PKCS#8 PEM (private, optionally encrypted with
``SPARK_SIGNING_KEY_PASSPHRASE``) and SubjectPublicKeyInfo PEM (public); a key's fingerprint is the
sha256 of its public key's DER, in hex (``openssl pkey -pubin -outform DER | sha256sum``).

DSSE (https://github.com/secure-systems-lab/dsse, protocol.md) is an encoding, written here from its
spec: a signature covers ``PAE(payloadType, payload)``, never the JSON around it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spark_ops.errors import ConfigError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

PRIVATE_KEY_NAME = "spark-signing.key"
PUBLIC_KEY_NAME = "spark-signing.pub"
PASSPHRASE_ENV = "SPARK_SIGNING_KEY_PASSPHRASE"
KEY_FILE_ENV = "SPARK_SIGNING_KEY_FILE"
SIGNATURE_BYTES = 64  # an Ed25519 signature
IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
_MAX_KEY_FILE_BYTES = 64 * 1024


class SignatureRefused(ValueError):
    """A signature or envelope that does not verify; the message says why in one line."""


@dataclass(frozen=True, slots=True)
class PublicKey:
    """An Ed25519 public key and its fingerprint (sha256 of the SubjectPublicKeyInfo DER, hex)."""

    key: Ed25519PublicKey
    fingerprint: str

    def verifies(self, signature: bytes, data: bytes) -> bool:
        """Whether ``signature`` is this key's over ``data``."""
        from cryptography.exceptions import InvalidSignature

        try:
            self.key.verify(signature, data)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A loaded private key, its public half, and every form of it a redactor must keep out of output."""

    key: Ed25519PrivateKey
    public: PublicKey
    secrets: tuple[str, ...]  # the key file's PEM lines, the raw key (hex, base64), the passphrase

    @property
    def fingerprint(self) -> str:
        return self.public.fingerprint

    def sign(self, data: bytes) -> bytes:
        """The raw 64-byte Ed25519 signature over ``data``."""
        return self.key.sign(data)


@dataclass(frozen=True, slots=True)
class GeneratedKeys:
    private: Path
    public: Path
    fingerprint: str
    encrypted: bool


def fingerprint_of(public: Ed25519PublicKey) -> str:
    from cryptography.hazmat.primitives import serialization

    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def passphrase_from_env() -> str | None:
    """``$SPARK_SIGNING_KEY_PASSPHRASE``, None when unset or empty."""
    return os.environ.get(PASSPHRASE_ENV) or None


def generate_keys(folder: Path, passphrase: str | None = None) -> GeneratedKeys:
    """Write a new pair as ``folder/spark-signing.key`` (mode 0600) and ``.pub``; never over a file."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from spark_ops.fsio import nameless_file

    private_path, public_path = folder / PRIVATE_KEY_NAME, folder / PUBLIC_KEY_NAME
    for path in (private_path, public_path):
        if path.exists():
            raise ConfigError(f"--out {folder}: {path.name} exists already; remove it or pick another folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--out {folder}: cannot create: {exc.strerror or exc}") from None
    key = Ed25519PrivateKey.generate()
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase.encode())
        if passphrase
        else serialization.NoEncryption()
    )
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for path, data, mode in ((private_path, private_pem, 0o600), (public_path, public_pem, 0o644)):
        try:
            with nameless_file(folder) as (handle, publish):
                if hasattr(os, "fchmod"):
                    os.fchmod(handle.fileno(), mode)  # before a byte of the key is written
                handle.write(data)
                publish(path)
        except FileExistsError:
            raise ConfigError(
                f"--out {folder}: {path.name} appeared while writing; nothing replaced"
            ) from None
        except OSError as exc:
            raise ConfigError(f"--out {folder}: cannot write {path.name}: {exc.strerror or exc}") from None
    return GeneratedKeys(private_path, public_path, fingerprint_of(key.public_key()), bool(passphrase))


def _read_key_file(path: Path, option: str) -> bytes:
    try:
        with path.open("rb") as handle:
            data = handle.read(_MAX_KEY_FILE_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{option} {path}: cannot read: {exc.strerror or exc}") from None
    if len(data) > _MAX_KEY_FILE_BYTES:
        raise ConfigError(f"{option} {path}: too large for a key file")
    return data


def _key_type(key: object) -> str:
    name = type(key).__name__.replace("PrivateKey", "").replace("PublicKey", "").lstrip("_")
    return name or "unknown"


def load_signing_key(
    path: Path,
    *,
    option: str = "--sign-key",
    passphrase: str | None = None,
    warn: Callable[[str], None] = lambda message: None,
) -> SigningKey:
    """The Ed25519 private key in ``path``; ConfigError (exit 2, one line) when it cannot be used.

    ``warn`` hears that the file is readable by group or others (the key is loaded all the same).
    """
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    data = _read_key_file(path, option)
    if b"PRIVATE KEY-----" not in data and b"PUBLIC KEY-----" in data:
        raise ConfigError(
            f"{option} {path}: a public key; {option} takes the private key ({PRIVATE_KEY_NAME})"
        )
    try:
        try:
            key = serialization.load_pem_private_key(data, passphrase.encode() if passphrase else None)
        except TypeError:  # encrypted without a passphrase, or a passphrase for a plain key
            if passphrase is None:
                raise ConfigError(f"{option} {path}: the key is encrypted: set {PASSPHRASE_ENV}") from None
            key = serialization.load_pem_private_key(data, None)
    except ValueError:
        if passphrase and b"ENCRYPTED" in data:
            raise ConfigError(
                f"{option} {path}: cannot decrypt the key with {PASSPHRASE_ENV} (wrong passphrase?)"
            ) from None
        raise ConfigError(
            f"{option} {path}: not a PEM private key (PKCS#8); make one with `spark keys generate`"
        ) from None
    except UnsupportedAlgorithm:
        raise ConfigError(
            f"{option} {path}: a key of a type spark-ops cannot read; it signs with Ed25519"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(
            f"{option} {path}: key type {_key_type(key)}; spark-ops signs with Ed25519 (spark keys generate)"
        )
    if os.name == "posix":
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            warn(f"warning: {option} {path} is readable by others (mode {mode:04o}): chmod 600 it")
    public = key.public_key()
    return SigningKey(
        key=key,
        public=PublicKey(public, fingerprint_of(public)),
        secrets=_secret_forms(key, data, passphrase),
    )


def _secret_forms(key: Ed25519PrivateKey, pem: bytes, passphrase: str | None) -> tuple[str, ...]:
    """What would betray the key: its file's base64 lines, the raw key in hex and base64, the passphrase."""
    from cryptography.hazmat.primitives import serialization

    raw = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    plain = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    lines = {
        line.strip()
        for text in (pem, plain)
        for line in text.decode("ascii", "replace").splitlines()
        if line.strip() and not line.startswith("-----") and ":" not in line
    }
    forms = {raw.hex(), base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode().rstrip("=")}
    return tuple(sorted(lines | forms | ({passphrase} if passphrase else set())))


def load_public_key(path: Path, *, option: str = "--key") -> PublicKey:
    """The Ed25519 public key in ``path`` (SubjectPublicKeyInfo PEM); ConfigError when it is not one."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    data = _read_key_file(path, option)
    if b"PRIVATE KEY-----" in data:
        raise ConfigError(
            f"{option} {path}: a private key; {option} takes the public key ({PUBLIC_KEY_NAME})"
        )
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm):
        raise ConfigError(f"{option} {path}: not a PEM public key (SubjectPublicKeyInfo)") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigError(
            f"{option} {path}: key type {_key_type(key)}; spark-ops verifies Ed25519 signatures"
        )
    return PublicKey(key, fingerprint_of(key))


# --- detached signatures (manifest.json.sig) ---------------------------------------------------------


def encode_signature(signature: bytes) -> bytes:
    """A detached signature as its file holds it: standard base64 and a line feed."""
    return base64.b64encode(signature) + b"\n"


def decode_signature(text: bytes) -> bytes:
    """The raw signature in a detached signature file; SignatureRefused when it is not base64 of 64 bytes."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise SignatureRefused("not base64") from None
    if len(raw) != SIGNATURE_BYTES:
        raise SignatureRefused(f"{len(raw)} bytes, not a {SIGNATURE_BYTES}-byte Ed25519 signature")
    return raw


# --- DSSE envelopes ----------------------------------------------------------------------------------


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding: what a signature covers."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %b %d %b" % (len(kind), kind, len(payload), payload)


def sign_envelope(
    payload: bytes, key: SigningKey, payload_type: str = IN_TOTO_PAYLOAD_TYPE
) -> dict[str, Any]:
    """A DSSE envelope around ``payload``, signed by ``key`` (its keyid: the key's fingerprint)."""
    signature = key.sign(pae(payload_type, payload))
    return {
        "payloadType": payload_type,
        "payload": base64.b64encode(payload).decode(),
        "signatures": [{"keyid": key.fingerprint, "sig": base64.b64encode(signature).decode()}],
    }


def envelope_signers(data: bytes) -> list[str]:
    """The keyids an envelope names (unverified), for saying who signed; [] when it is no envelope."""
    try:
        document = json.loads(data)
        return [str(s.get("keyid", "")) for s in document["signatures"] if isinstance(s, dict)]
    except (ValueError, KeyError, TypeError, RecursionError):
        return []


def open_envelope(data: bytes, key: PublicKey, payload_type: str = IN_TOTO_PAYLOAD_TYPE) -> bytes:
    """The payload of the DSSE envelope ``data`` once one of its signatures verifies with ``key``.

    Raises SignatureRefused saying why: not an envelope, another payload type, no signature by the key.
    """
    try:
        document = json.loads(data)
    except (ValueError, RecursionError):
        raise SignatureRefused("not a JSON DSSE envelope") from None
    if not isinstance(document, dict):
        raise SignatureRefused("not a DSSE envelope")
    kind, payload_text, signatures = (document.get(k) for k in ("payloadType", "payload", "signatures"))
    if kind != payload_type:
        raise SignatureRefused(f"payloadType is {kind!r}, not {payload_type!r}")
    if not isinstance(payload_text, str) or not isinstance(signatures, list) or not signatures:
        raise SignatureRefused("a DSSE envelope needs a payload and signatures")
    try:
        payload = base64.b64decode(payload_text, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureRefused("its payload is not base64") from None
    signed = pae(kind, payload)
    for entry in signatures:
        sig = entry.get("sig") if isinstance(entry, dict) else None
        try:
            raw = base64.b64decode(sig, validate=True) if isinstance(sig, str) else b""
        except (binascii.Error, ValueError):
            continue
        if len(raw) == SIGNATURE_BYTES and key.verifies(raw, signed):
            return payload
    raise SignatureRefused(f"no signature by the key {key.fingerprint[:16]}… verifies")

"""Certificates made in the tests with the ``cryptography`` package: a root, intermediates and leaves with the
dates a case needs (expiring in 3 days, expired, not yet valid), and a server context presenting a chain.

trustme makes the everyday chains; these cases need dates on intermediates and leaves it does not offer.
"""

from __future__ import annotations

import ipaddress
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class Issued:
    """A certificate and its private key."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )


def _window(days_valid: tuple[float, float]) -> tuple[datetime, datetime]:
    """(not_before, not_after) as days from now: (-1, 90) was valid yesterday, expires in 90 days."""
    now = datetime.now(UTC)
    return now + timedelta(days=days_valid[0]), now + timedelta(days=days_valid[1])


def certificate_authority(
    name: str, *, days: tuple[float, float] = (-1, 3650), issuer: Issued | None = None
) -> Issued:
    """A CA certificate: a self-signed root, or an intermediate signed by ``issuer``."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    not_before, not_after = _window(days)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False
        )
    return Issued(builder.sign(issuer.key if issuer else key, hashes.SHA256()), key)


def leaf(host: str, issuer: Issued, *, days: tuple[float, float] = (-1, 90)) -> Issued:
    """A server certificate for ``host`` (a name or an IP address) signed by ``issuer``."""
    key = ec.generate_private_key(ec.SECP256R1())
    try:
        alt: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        alt = x509.DNSName(host)
    not_before, not_after = _window(days)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
        .issuer_name(issuer.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([alt]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False
        )
        .sign(issuer.key, hashes.SHA256())
    )
    return Issued(cert, key)


def self_signed(host: str, *, days: tuple[float, float] = (-1, 90)) -> Issued:
    """A server certificate for ``host`` that signs itself (no CA at all)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    not_before, not_after = _window(days)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    return Issued(cert, key)


def server_context(folder: Path, served: Issued, *chain: Issued) -> ssl.SSLContext:
    """A server context presenting ``served`` and then ``chain`` (intermediates, leaf's issuer first)."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{served.cert.serial_number:x}"
    cert_file, key_file = folder / f"{stem}.pem", folder / f"{stem}.key"
    cert_file.write_bytes(served.pem + b"".join(issued.pem for issued in chain))
    key_file.write_bytes(served.key_pem)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context


def write_ca_file(path: Path, *roots: Issued) -> Path:
    """``path`` holding ``roots`` as PEM: what SSL_CERT_FILE names as the client's only trust."""
    path.write_bytes(b"".join(root.pem for root in roots))
    return path

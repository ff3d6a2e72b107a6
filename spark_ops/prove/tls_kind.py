"""The ``tls`` kind's breakages: loopback TLS servers presenting certificates made in-process.

Each breakage brings up a TLS server on 127.0.0.1 with a certificate the prover issued itself (EC P-256:
a key takes about a millisecond, where RSA takes tens) and hands back the same check pointed at it. The
stand-in check trusts only the prover's own CA, so a breakage fails the check for the one fault it plants
(a date, a host name, a missing trust path), not because the CA is unknown to the run's trust store.

Breakages (from the served certificate's side, never from ``warn_days``/``fail_days``):
    expired yesterday; expiring in 1 day; issued for another host; self-signed (no trust path); down.
"Expiring in 1 day" is one a tls check exists to catch: every client breaks tomorrow, and renewal tools
act weeks before (certbot at 30 days left). A check with ``fail_days`` below 1 lets it through (PASS, or
WARN, which a pipeline also lets through): it then catches only what every client's handshake already
refuses, an expired certificate, and is reported vacuous.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import ssl
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import msgspec

from spark_ops import clock
from spark_ops.checks.tls import TlsCheck, TlsOptions
from spark_ops.prove.breakage import Breakage

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey
    from cryptography.x509 import Certificate

    from spark_ops.config import Profile

LOOPBACK = "127.0.0.1"
OTHER_HOST = "another-host.invalid"  # .invalid never resolves (RFC 6761): no real host is named
HOLD_S = (
    5.0  # a stand-in keeps a connection at most this long after the handshake: bounded if a client stalls
)
DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class _Issued:
    """What a stand-in serves: the leaf (and its key), as PEM, and the CA the stand-in check trusts."""

    chain_pem: bytes
    key_pem: bytes
    trusted_ca_pem: bytes


def breakages(check: TlsCheck, profile: Profile) -> list[Breakage]:
    serve = partial(_serving, check, profile)
    return [
        Breakage(
            "the certificate expired yesterday",
            "clients refuse an expired certificate: the service is unreachable over TLS",
            stand_in=partial(serve, lambda: _issue(not_after=clock.now() - DAY)),
        ),
        Breakage(
            "the certificate expires in 1 day",
            "every client refuses it tomorrow; a deploy gate is where a renewal that failed gets caught",
            stand_in=partial(serve, lambda: _issue(not_after=clock.now() + DAY)),
        ),
        Breakage(
            f"the certificate is for another host ({OTHER_HOST})",
            "clients refuse a certificate issued to another name",
            stand_in=partial(serve, lambda: _issue(not_after=clock.now() + 90 * DAY, host=OTHER_HOST)),
        ),
        Breakage(
            "the certificate is self-signed (untrusted)",
            "no client trusts a certificate no CA vouches for",
            stand_in=partial(serve, lambda: _issue(not_after=clock.now() + 90 * DAY, self_signed=True)),
        ),
        Breakage(
            "service down (connection refused)",
            "a check that passes while its service is down would wave a deploy through an outage",
            stand_in=partial(_refusing, check, profile),
        ),
    ]


@contextlib.asynccontextmanager
async def _serving(
    check: TlsCheck, profile: Profile, issue: Callable[[], _Issued]
) -> AsyncIterator[TlsCheck]:
    """A loopback TLS server presenting what ``issue`` makes; the check pointed at it, trusting its CA."""
    issued = issue()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory(prefix="spark-prove-tls-") as folder:
        # ssl loads a certificate chain from files only; the folder is gone once the server is up.
        chain, key = Path(folder, "chain.pem"), Path(folder, "key.pem")
        chain.write_bytes(issued.chain_pem)
        key.write_bytes(issued.key_pem)
        context.load_cert_chain(chain, key)
    server = await asyncio.start_server(_hold, LOOPBACK, 0, ssl=context)
    try:
        port = server.sockets[0].getsockname()[1]
        yield _pointed_at(check, profile, port, issued.trusted_ca_pem)
    finally:
        server.close()
        await server.wait_closed()


@contextlib.asynccontextmanager
async def _refusing(check: TlsCheck, profile: Profile) -> AsyncIterator[TlsCheck]:
    """The check pointed at a loopback port just freed: connecting is refused."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind((LOOPBACK, 0))
        port = listener.getsockname()[1]
    yield _pointed_at(check, profile, port, None)


async def _hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Keep the connection until the client leaves (it reads the chain and hangs up), at most ``HOLD_S``."""
    with contextlib.suppress(OSError, TimeoutError, ssl.SSLError):
        async with asyncio.timeout(HOLD_S):
            await reader.read()
    writer.transport.abort()


def _pointed_at(check: TlsCheck, profile: Profile, port: int, ca_pem: bytes | None) -> TlsCheck:
    """The same check (its warn_days and fail_days as configured) against ``127.0.0.1:port``."""
    path = urlsplit(check.target.url).path or "/"
    options = msgspec.structs.replace(
        check.options, url=f"https://{LOOPBACK}:{port}{path}", service=None, path=None
    )
    return _StandInCheck(options, profile, ca_pem)


class _StandInCheck(TlsCheck):
    """A tls check trusting only the prover's CA (``ca_pem``; None: the run's CAs, as configured)."""

    def __init__(self, options: TlsOptions, profile: Profile, ca_pem: bytes | None) -> None:
        super().__init__(options, profile)
        self.ca_pem = ca_pem

    def trust(self) -> ssl.SSLContext:
        if self.ca_pem is None:
            return super().trust()
        return ssl.create_default_context(cadata=self.ca_pem.decode())


# --- certificates ---------------------------------------------------------------------------------------


def _issue(*, not_after: datetime, host: str = LOOPBACK, self_signed: bool = False) -> _Issued:
    """A leaf for ``host`` valid until ``not_after`` (from 30 days before it, or now if sooner), signed by
    a fresh CA, or by itself; the CA is what the stand-in check trusts either way."""
    from cryptography.hazmat.primitives import serialization

    ca_key = _key()
    ca = _certificate("spark-ops prove CA", ca_key, ca_key, None, clock.now() + 365 * DAY, ca=True)
    leaf_key = _key()
    not_before = min(clock.now(), not_after) - 30 * DAY
    if self_signed:
        leaf = _certificate(host, leaf_key, leaf_key, None, not_after, host=host, not_before=not_before)
    else:
        leaf = _certificate(host, leaf_key, ca_key, ca, not_after, host=host, not_before=not_before)
    pem = serialization.Encoding.PEM
    key_pem = leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return _Issued(leaf.public_bytes(pem), key_pem, ca.public_bytes(pem))


def _key() -> EllipticCurvePrivateKey:
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


def _certificate(
    name: str,
    key: EllipticCurvePrivateKey,
    signer: EllipticCurvePrivateKey,
    issuer: Certificate | None,
    not_after: datetime,
    *,
    ca: bool = False,
    host: str | None = None,
    not_before: datetime | None = None,
) -> Certificate:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject if issuer is not None else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or clock.now() - DAY)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), critical=False
        )
    )
    if host is not None:
        try:
            alt: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
        except ValueError:
            alt = x509.DNSName(host)
        builder = builder.add_extension(x509.SubjectAlternativeName([alt]), critical=False)
    if ca:
        builder = builder.add_extension(
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
    return builder.sign(signer, hashes.SHA256())

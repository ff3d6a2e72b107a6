"""The hostile servers the fault matrix runs against, started once per session on free loopback ports."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import tlscerts
import trustme

from faults._matrix import HTML, Serve
from faults.hostile import HostileServer

UNRESOLVABLE = "spark-ops-fault.invalid"  # RFC 6761: .invalid never resolves
OTHER_HOST = "127.0.0.2"  # another origin than 127.0.0.1, still loopback
LOGIN_PAGE = Serve(headers=HTML, body=b"<html><body><form>Sign in</form></body></html>\n")


def ipv6_loopback() -> bool:
    """Whether this machine can listen on [::1]."""
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


def free_port_on(host: str) -> int:
    """A port of ``host`` nothing listens on (bound, read, released)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _self_signed(folder: Path) -> ssl.SSLContext:
    """A server context whose certificate signs itself (no CA at all)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "self-signed.pem", folder / "self-signed.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context


def _dated_chains(folder: Path, ca_file: Path) -> dict[str, ssl.SSLContext]:
    """The tls kind's origins: chains under a second trusted root (added to ``ca_file``) with the dates
    trustme cannot set on an intermediate."""
    root = tlscerts.certificate_authority("Spark Fault Root")
    ca_file.write_bytes(ca_file.read_bytes() + root.pem)
    fresh = tlscerts.certificate_authority("Spark Fault Intermediate", issuer=root)
    short = tlscerts.certificate_authority("Spark Short Intermediate", issuer=root, days=(-300, 10))
    chains = {
        "tls-good": (tlscerts.leaf("127.0.0.1", fresh), fresh),
        "tls-expiring-leaf": (tlscerts.leaf("127.0.0.1", fresh, days=(-80, 3)), fresh),
        "tls-expiring-intermediate": (tlscerts.leaf("127.0.0.1", short), short),
        "tls-not-yet-valid": (tlscerts.leaf("127.0.0.1", fresh, days=(1, 90)), fresh),
    }
    return {
        origin: tlscerts.server_context(folder / origin, served, intermediate)
        for origin, (served, intermediate) in chains.items()
    }


@dataclass
class Origins:
    """Every hostile server of the session, and the CA file the client is told to trust."""

    plain: HostileServer
    other_host: HostileServer
    ipv6: HostileServer | None
    tls: dict[str, HostileServer]
    ca_file: Path


@pytest.fixture(scope="session")
def origins(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Origins]:
    """Start the hostile servers once; every row points one of them at its answer."""
    folder = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    ca_file = folder / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    now = datetime.datetime.now(datetime.UTC)
    expired = ca.issue_cert(
        "127.0.0.1",
        not_before=now - datetime.timedelta(days=60),
        not_after=now - datetime.timedelta(days=1),
    )
    wrong_host = ca.issue_cert("spark-elsewhere.example")
    contexts: dict[str, ssl.SSLContext] = {"tls-self-signed": _self_signed(folder)}
    for origin, leaf in (("tls-expired", expired), ("tls-wrong-host", wrong_host)):
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        leaf.configure_cert(context)
        contexts[origin] = context
    contexts.update(_dated_chains(folder, ca_file))
    started: list[HostileServer] = []

    def start(server: HostileServer) -> HostileServer:
        started.append(server.start())
        return server

    try:
        other_host = start(HostileServer(OTHER_HOST, serve=LOGIN_PAGE))
        plain = start(HostileServer("127.0.0.1", redirect_origin=other_host.origin))
        ipv6 = start(HostileServer("::1")) if ipv6_loopback() else None
        tls = {origin: start(HostileServer("127.0.0.1", ssl_context=c)) for origin, c in contexts.items()}
        yield Origins(plain, other_host, ipv6, tls, ca_file)
    finally:
        for server in started:
            server.stop()

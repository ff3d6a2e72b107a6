"""``tls``: the certificate chain a server presents, judged on trust, host name and days to expiry.

One verifying handshake (the run's CAs: certifi's, or SSL_CERT_FILE / SSL_CERT_DIR) says whether the
chain is trusted for the host; when it is refused, a second, non-verifying handshake reads the chain
anyway so the reason can name the certificate at fault. Every certificate the server sends is judged,
not only the leaf: an intermediate that expires first takes the whole chain down with it.
"""

from __future__ import annotations

import asyncio
import math
import ssl
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar
from urllib.parse import urlsplit

from spark_ops import clock
from spark_ops.checks._common import TargetOptions, Threshold
from spark_ops.config import Profile
from spark_ops.errors import CheckError, ConfigError, TargetError, one_line
from spark_ops.model import Judgement, Status
from spark_ops.registry import CheckBase

if TYPE_CHECKING:  # cryptography loads only when a tls check runs
    from cryptography.x509 import Certificate

    from spark_ops.prove.breakage import Breakage
    from spark_ops.transport import Probe

SECONDS_PER_DAY = 86_400
# OpenSSL's verify codes for a certificate issued to another name (X509_V_ERR_HOSTNAME_MISMATCH,
# X509_V_ERR_IP_ADDRESS_MISMATCH, X509_V_ERR_EMAIL_MISMATCH).
_WRONG_HOST_CODES = frozenset({62, 63, 64})
# OpenSSL's own time checks (X509_V_ERR_CERT_NOT_YET_VALID, X509_V_ERR_CERT_HAS_EXPIRED): the chain's dates
# judged here say the same with the certificate named.
_DATE_CODES = frozenset({9, 10})


class TlsOptions(TargetOptions, frozen=True, kw_only=True):
    warn_days: Threshold = 30  # WARN when a certificate of the chain expires within this many days
    fail_days: Threshold = 7  # FAIL when one expires within this many days (or is expired, untrusted)


@dataclass(frozen=True, slots=True)
class _Served:
    """One certificate of the served chain, with what a reason names."""

    position: str  # "leaf", "intermediate 1", ...
    subject: str
    issuer: str
    not_before: datetime
    not_after: datetime

    def named(self) -> str:
        expiry = self.not_after.strftime("%Y-%m-%d %H:%M UTC")
        return f"{self.position} subject {self.subject!r} issuer {self.issuer!r} expires {expiry}"


class TlsCheck(CheckBase):
    kind: ClassVar[str] = "tls"
    summary: ClassVar[str] = "the served certificate chain: trusted, for this host, days until it expires"
    Options: ClassVar[type[TlsOptions]] = TlsOptions

    def __init__(self, options: TlsOptions, profile: Profile) -> None:
        self.options = options
        self.target = profile.target(service=options.service, path=options.path, url=options.url)
        parts = urlsplit(self.target.url)
        if parts.scheme != "https":
            key = "url" if options.url is not None else "service"
            raise ConfigError(f"the tls kind needs an https URL, got {self.target.display!r}", key=key)
        self.host = parts.hostname or ""
        self.port = parts.port or 443
        self.warn_days = _days(profile, options.warn_days, "warn_days")
        self.fail_days = _days(profile, options.fail_days, "fail_days")
        if self.fail_days > self.warn_days:
            raise ConfigError(
                f"fail_days {self.fail_days:g} is above warn_days {self.warn_days:g}", key="fail_days"
            )

    @property
    def threshold(self) -> dict[str, float]:
        return {"warn_days": self.warn_days, "fail_days": self.fail_days}

    @property
    def planned_load(self) -> str:
        return f"1 TLS handshake with {self.host}:{self.port}"

    def breakages(self, profile: Profile) -> list[Breakage]:
        from spark_ops.prove import tls_kind  # loaded by `spark suite prove` only

        return tls_kind.breakages(self, profile)

    def trust(self) -> ssl.SSLContext:
        """The verifying context: the run's CAs (a proof's stand-in trusts its own CA instead)."""
        from spark_ops.transport import verifying_tls_context

        return verifying_tls_context()

    async def judge(self, probe: Probe) -> Judgement:
        refusal: ssl.SSLCertVerificationError | None = None
        try:
            chain = await self._handshake(probe, self.trust())
        except ssl.SSLCertVerificationError as exc:
            refusal = exc
            chain = await self._handshake(probe, _reading_context())
        served = [_describe(certificate, index) for index, certificate in enumerate(chain)]
        if not served:
            raise TargetError(f"{self._where()}: the server sent no certificate")
        return self._judge_chain(served, refusal)

    def _where(self) -> str:
        return f"TLS {self.host}:{self.port}"

    async def _handshake(self, probe: Probe, context: ssl.SSLContext) -> list[Certificate]:
        """The chain the server sends, leaf first, read in one handshake with ``context`` (a refused or
        unreachable connection is retried as the run's requests are; a TLS failure is an answer)."""
        from cryptography import x509

        from spark_ops.transport import os_error_reason

        def before_any_answer(exc: BaseException) -> bool:
            return isinstance(exc, OSError) and not isinstance(exc, ssl.SSLError)

        try:
            _, writer = await probe.connect(
                lambda: asyncio.open_connection(self.host, self.port, ssl=context, server_hostname=self.host),
                before_any_answer,
            )
        except ssl.SSLCertVerificationError:
            raise
        except ssl.SSLError as exc:
            raise TargetError(f"{self._where()}: handshake failed: {one_line(exc)}") from None
        except OSError as exc:
            raise TargetError(f"{self._where()}: {os_error_reason(exc)}") from None
        try:
            ssl_object = writer.get_extra_info("ssl_object")
            return [x509.load_der_x509_certificate(der) for der in _served_chain_der(ssl_object)]
        except ValueError as exc:  # cryptography refuses what does not parse as X.509 DER
            raise TargetError(
                f"{self._where()}: a served certificate does not parse: {one_line(exc)}"
            ) from None
        finally:
            writer.transport.abort()  # nothing more to say over it; no close_notify round trip to wait for

    def _judge_chain(self, served: list[_Served], refusal: ssl.SSLCertVerificationError | None) -> Judgement:
        now = clock.now()
        threshold = self.threshold
        for certificate in served:
            if now >= certificate.not_after:
                days_left = round((certificate.not_after - now).total_seconds() / SECONDS_PER_DAY, 3)
                return Judgement(
                    Status.FAIL, f"{self._where()}: expired: {certificate.named()}", days_left, threshold
                )
            if now < certificate.not_before:
                since = certificate.not_before.strftime("%Y-%m-%d %H:%M UTC")
                return Judgement(
                    Status.FAIL,
                    f"{self._where()}: not yet valid (from {since}): {certificate.named()}",
                    None,
                    threshold,
                )
        if refusal is not None:
            code = refusal.verify_code
            why = refusal.verify_message or one_line(refusal)
            if code in _WRONG_HOST_CODES:
                reason = f"for another host ({why})"
            elif code in _DATE_CODES:
                reason = f"refused by the verifier's clock ({why})"
            else:
                reason = f"untrusted ({why})"
            return Judgement(Status.FAIL, f"{self._where()}: {reason}: {served[0].named()}", None, threshold)
        first = min(served, key=lambda certificate: certificate.not_after)
        days_left = (first.not_after - now).total_seconds() / SECONDS_PER_DAY
        readings = {"days_left": round(days_left, 3), "chain_length": len(served)}
        shown = f"{self._where()}: {days_left:.1f} days left, the first to expire is the {first.named()}"
        if days_left <= self.fail_days:
            status, shown = Status.FAIL, f"{shown}, within fail_days {self.fail_days:g}"
        elif days_left <= self.warn_days:
            status, shown = Status.WARN, f"{shown}, within warn_days {self.warn_days:g}"
        else:
            status, shown = Status.PASS, f"{shown}; chain of {len(served)} trusted for {self.host}"
        return Judgement(status, shown, round(days_left, 3), threshold, readings=readings)


def _days(profile: Profile, value: Threshold, key: str) -> float:
    days = profile.number(value, key=key)
    if not math.isfinite(days) or days < 0:
        raise ConfigError(f"must be a finite number of days >= 0, got {days:g}", key=key)
    return days


def _reading_context() -> ssl.SSLContext:
    """A context that completes the handshake whatever the chain, only to read it for the reason."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _served_chain_der(ssl_object: ssl.SSLObject | None) -> list[bytes]:
    """The certificates the peer sent, leaf first, as DER.

    ``SSLObject.get_unverified_chain`` is public from Python 3.13; 3.10 to 3.12 have it on the C object.
    """
    if ssl_object is None:
        raise CheckError("the connection has no TLS layer to read a chain from")
    public = getattr(ssl_object, "get_unverified_chain", None)
    if public is not None:
        return [bytes(der) for der in public()]
    inner = getattr(ssl_object, "_sslobj", None)
    read = getattr(inner, "get_unverified_chain", None)
    if read is None:
        raise CheckError("this Python cannot read a served certificate chain (needs 3.10 or later)")
    return [certificate.public_bytes(ssl._ssl.ENCODING_DER) for certificate in read() or []]  # type: ignore[attr-defined]


def _describe(certificate: Certificate, index: int) -> _Served:
    position = "leaf" if index == 0 else ("root" if _self_issued(certificate) else f"intermediate {index}")
    return _Served(
        position=position,
        subject=certificate.subject.rfc4514_string() or "(empty subject)",
        issuer=certificate.issuer.rfc4514_string() or "(empty issuer)",
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
    )


def _self_issued(certificate: Certificate) -> bool:
    return bool(certificate.subject == certificate.issuer)

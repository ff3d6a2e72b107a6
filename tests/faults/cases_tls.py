"""The ``tls`` kind's rows: the served chain judged on trust, host name and the days until it expires."""

from __future__ import annotations

from faults._matrix import Expect, Fault, Serve
from spark_ops.model import Status

FAIL, WARN = Status.FAIL, Status.WARN
EXPIRES = r"expires \d{4}-\d\d-\d\d \d\d:\d\d UTC"
FAULT_LEAF = r"leaf subject 'CN=127\.0\.0\.1' issuer 'CN=Spark Fault Intermediate' " + EXPIRES


def tls(status: Status, reason: str, **options: object) -> dict[str, Expect]:
    return {"tls": Expect(status, reason, dict(options))}


FAULTS = [
    Fault(
        "tls-leaf-expires-in-3-days",
        "Certificates",
        "a trusted leaf that expires in 3 days (`fail_days` 7)",
        "FAIL `3.0 days left, the first to expire is the leaf subject ... issuer ... expires ...`",
        tls(
            FAIL, r"(2\.9|3\.0) days left, the first to expire is the " + FAULT_LEAF + ", within fail_days 7"
        ),
        serve=Serve(origin="tls-expiring-leaf"),
    ),
    Fault(
        "tls-leaf-expires-inside-warn-days",
        "Certificates",
        "the same leaf under `warn_days` 30, `fail_days` 2",
        "WARN `... within warn_days 30`",
        tls(WARN, FAULT_LEAF + ", within warn_days 30", fail_days=2),
        exit_code=0,
        serve=Serve(origin="tls-expiring-leaf"),
    ),
    Fault(
        "tls-intermediate-expires-first",
        "Certificates",
        "a fresh leaf under an intermediate that expires in 10 days",
        "WARN naming the intermediate: `intermediate 1 subject ... expires ...`",
        tls(
            WARN,
            r"(9\.9|10\.0) days left, the first to expire is the intermediate 1 subject "
            r"'CN=Spark Short Intermediate' issuer 'CN=Spark Fault Root' " + EXPIRES,
        ),
        exit_code=0,
        serve=Serve(origin="tls-expiring-intermediate"),
    ),
    Fault(
        "tls-leaf-expired",
        "Certificates",
        "a leaf from a trusted CA that expired yesterday",
        "FAIL `expired: leaf subject ... issuer ... expires ...`",
        tls(FAIL, r"expired: leaf subject '[^']+' issuer '[^']*trustme[^']*' " + EXPIRES),
        serve=Serve(origin="tls-expired"),
    ),
    Fault(
        "tls-leaf-not-yet-valid",
        "Certificates",
        "a trusted leaf valid only from tomorrow",
        "FAIL `not yet valid (from ...): leaf subject ...`",
        tls(FAIL, r"not yet valid \(from \d{4}-\d\d-\d\d \d\d:\d\d UTC\): " + FAULT_LEAF),
        serve=Serve(origin="tls-not-yet-valid"),
    ),
    Fault(
        "tls-kind-wrong-host",
        "Certificates",
        "a trusted certificate for another host name",
        "FAIL `for another host (IP address mismatch ...): leaf subject ...`",
        tls(
            FAIL,
            r"for another host \(IP address mismatch.*\): leaf subject '[^']+' issuer '[^']+' " + EXPIRES,
        ),
        serve=Serve(origin="tls-wrong-host"),
    ),
    Fault(
        "tls-kind-self-signed",
        "Certificates",
        "a self-signed certificate",
        "FAIL `untrusted (self-signed certificate): leaf subject ...`",
        tls(
            FAIL,
            r"untrusted \(self-signed certificate\): leaf subject 'CN=127\.0\.0\.1' "
            + r"issuer 'CN=127\.0\.0\.1' "
            + EXPIRES,
        ),
        serve=Serve(origin="tls-self-signed"),
    ),
    Fault(
        "tls-kind-plain-http",
        "Certificates",
        "an https URL whose server answers the ClientHello in plain HTTP",
        "FAIL `handshake failed: ...`",
        tls(FAIL, r"handshake failed: "),
        serve=Serve("plain-http", origin="plain-for-https"),
    ),
    Fault(
        "tls-kind-never-handshakes",
        "Certificates",
        "accepts the connection and never answers the ClientHello",
        "FAIL at the check's deadline",
        tls(FAIL, r"no complete answer within the 1\.5 s deadline"),
        serve=Serve("silent", origin="plain-for-https"),
        deadline=True,
    ),
]

"""Transport faults and TLS and name faults: deadlines, broken framing, redirects, certificates, names."""

from __future__ import annotations

from faults._matrix import ROOMY, ROOMY_LATENCY, Expect, Fault, Serve
from spark_ops.model import Status

FAIL, ERROR = Status.FAIL, Status.ERROR
DEADLINE = r"no complete answer within the 1\.5 s deadline"
ALL_ERRORS = r"error rate 100\.00% above 0\.00%"  # the latency probe: every request failed


def every_kind(reason: str, roomy: bool = False) -> dict[str, Expect]:
    """FAIL with ``reason`` from every HTTP-reading kind (the latency probe counts failed requests)."""
    options = ROOMY if roomy else {}
    kinds = {kind: Expect(FAIL, reason, options) for kind in ("http", "slo", "metrics", "pm2", "promql")}
    kinds["latency"] = Expect(FAIL, ALL_ERRORS, ROOMY_LATENCY if roomy else {})
    return kinds


FAULTS = [
    Fault(
        "drip-body",
        "Transport",
        "headers at once, then the body one byte a second",
        "FAIL at the check's deadline (`no complete answer within the 1.5 s deadline`)",
        every_kind(DEADLINE),
        serve=Serve("drip-body"),
        deadline=True,
    ),
    Fault(
        "drip-headers",
        "Transport",
        "the status line and headers one byte a second",
        "FAIL at the check's deadline",
        every_kind(DEADLINE),
        serve=Serve("drip-head"),
        deadline=True,
    ),
    Fault(
        "never-answers",
        "Transport",
        "accepts the connection, reads the request, never answers",
        "FAIL at the check's deadline",
        every_kind(DEADLINE),
        serve=Serve("silent"),
        deadline=True,
    ),
    Fault(
        "reset-mid-body",
        "Transport",
        "half the declared body, then a TCP reset (SO_LINGER 0)",
        "FAIL `answer broke off after N bytes`",
        every_kind(r"answer broke off after \d+ bytes"),
        serve=Serve("reset-mid-body"),
    ),
    Fault(
        "body-shorter-than-content-length",
        "Transport",
        "a body 100 bytes shorter than its Content-Length, then a hang-up",
        "FAIL `answer broke off after N bytes`",
        every_kind(r"answer broke off after \d+ bytes"),
        serve=Serve(length_delta=100),
    ),
    Fault(
        "body-longer-than-content-length",
        "Transport",
        "7 bytes more than its Content-Length, then `Connection: close`",
        "FAIL `not a valid HTTP answer: ... Data after Connection: close`",
        every_kind(r"not a valid HTTP answer: .*Data after `?Connection: close"),
        serve=Serve(length_delta=-7),
    ),
    Fault(
        "not-http",
        "Transport",
        "another protocol on the port (an SSH banner instead of HTTP)",
        "FAIL `not a valid HTTP answer: ... Bad status line`",
        every_kind(r"not a valid HTTP answer: 400, message=.Bad status line"),
        serve=Serve("not-http"),
    ),
    Fault(
        "header-line-of-1-mib",
        "Transport",
        "a 1 MiB header line before a healthy body",
        "FAIL `not a valid HTTP answer: ... Got more than 8190 bytes`",
        every_kind(r"not a valid HTTP answer: .*Got more than 8190 bytes"),
        serve=Serve("huge-header"),
    ),
    Fault(
        "redirect-loop",
        "Transport",
        "302 to itself, forever",
        "FAIL `too many redirects`",
        every_kind(r"too many redirects", roomy=True),
        serve=Serve("redirect"),
    ),
    Fault(
        "redirect-with-a-gzip-bomb-body",
        "Transport",
        "302 to itself, each redirect's own body a gzip bomb (1 MB inflating to 1 GiB)",
        "FAIL `too many redirects`; redirect bodies are never read, memory stays bounded",
        every_kind(r"too many redirects", roomy=True),
        serve=Serve("redirect-bomb"),
        memory=True,
    ),
    Fault(
        "redirect-to-another-host",
        "Transport",
        "302 to another origin (127.0.0.2) that answers a 200 sign-in page",
        "FAIL (ERROR for promql) on the page; no Authorization or Cookie reaches the other host",
        {
            "http": Expect(FAIL, r"127\.0\.0\.1.*body is not JSON \(text/html\)"),
            "slo": Expect(FAIL, r"body is not JSON \(text/html\)"),
            "metrics": Expect(FAIL, r"exposition does not parse"),
            "pm2": Expect(FAIL, r"not a PM2 process list"),
            "promql": Expect(ERROR, r"not a Prometheus answer \(text/html\)"),
        },
        serve=Serve("redirect", location="other-host"),
        credentials=True,
    ),
    Fault(
        "ipv6-never-answers",
        "Transport",
        "IPv6 loopback `[::1]`: accepts, never answers",
        "FAIL at the check's deadline",
        every_kind(DEADLINE),
        serve=Serve("silent", origin="ipv6"),
        deadline=True,
    ),
    Fault(
        "ipv6-reset-mid-body",
        "Transport",
        "IPv6 loopback `[::1]`: half the body, then a reset",
        "FAIL `answer broke off after N bytes`",
        every_kind(r"answer broke off after \d+ bytes"),
        serve=Serve("reset-mid-body", origin="ipv6"),
    ),
    Fault(
        "tls-self-signed",
        "TLS and names",
        "https with a self-signed certificate",
        "FAIL `TLS failed: ... self-signed certificate`",
        every_kind(r"TLS failed: .*self[- ]signed certificate"),
        serve=Serve(origin="tls-self-signed"),
    ),
    Fault(
        "tls-expired",
        "TLS and names",
        "https with an expired certificate from a trusted CA",
        "FAIL `TLS failed: ... certificate has expired`",
        every_kind(r"TLS failed: .*certificate has expired"),
        serve=Serve(origin="tls-expired"),
    ),
    Fault(
        "tls-wrong-host",
        "TLS and names",
        "https with a trusted certificate for another host name",
        "FAIL `TLS failed: ... mismatch`",
        every_kind(r"TLS failed: .*mismatch"),
        serve=Serve(origin="tls-wrong-host"),
    ),
    Fault(
        "https-to-plain-http",
        "TLS and names",
        "an https URL whose server answers plain http",
        "FAIL `TLS failed: ...`",
        every_kind(r"TLS failed: "),
        serve=Serve("plain-http", origin="plain-for-https"),
    ),
    Fault(
        "dns-unresolvable",
        "TLS and names",
        "a host name that does not resolve (`.invalid`)",
        "FAIL `cannot resolve the host name`",
        every_kind(r"cannot resolve the host name"),
        serve=Serve(origin="unresolvable"),
    ),
    Fault(
        "refused-port",
        "TLS and names",
        "a loopback port nothing listens on",
        "FAIL `cannot connect: connection refused`",
        every_kind(r"cannot connect: connection refused"),
        serve=Serve(origin="refused"),
    ),
    Fault(
        "ipv6-refused-port",
        "TLS and names",
        "a port nothing listens on at IPv6 loopback `[::1]`",
        "FAIL `cannot connect: connection refused`",
        every_kind(r"cannot connect: connection refused"),
        serve=Serve(origin="ipv6-refused"),
    ),
]

"""The fault matrix's row type, shared by every table in tests/faults/ and by the README generator.

Each row is one hostile answer; the tests run it through every listed check kind over a real socket and
assert the status, the reason and the exit code of `spark gate --exit-on-fail`. The README section "How
spark-ops fails closed" is rendered from these rows (tests/faults/render_readme.py), and a test fails
when the README and the rows drift apart.

A row says what the hostile server does (``Serve``), which check kinds meet it and what each must
report (``Expect``). ``check_for`` turns a kind into the suite entry the tests run: one template per
kind, aimed at the hostile server, with the row's own keys on top.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from spark_ops import clock
from spark_ops.model import Status

# Where a row's answer comes from (tests/faults/test_matrix.py resolves each to a base URL).
ORIGINS = (
    "plain",  # the hostile server on http://127.0.0.1
    "ipv6",  # the hostile server on http://[::1]
    "tls-self-signed",  # https, a self-signed certificate
    "tls-expired",  # https, a certificate from a trusted CA that expired
    "tls-wrong-host",  # https, a trusted certificate for another host name
    "tls-good",  # https, a trusted chain (root, intermediate, leaf) far from expiry: the tls control
    "tls-expiring-leaf",  # https, a trusted leaf that expires in 3 days
    "tls-expiring-intermediate",  # https, a fresh leaf under an intermediate that expires in 10 days
    "tls-not-yet-valid",  # https, a trusted leaf valid only from tomorrow
    "plain-for-https",  # an https URL whose server answers plain http
    "unresolvable",  # a host name under the reserved .invalid TLD
    "refused",  # a loopback port nothing listens on
    "ipv6-refused",  # the same on [::1]
)
DEADLINE_S = 1.5  # every check's timeout_s in the matrix, so the deadline rows end fast
LATENCY_TIMEOUT_S = 3.0  # a latency check needs its schedule + request_timeout_s + 1 s (registry rule)
# Rows whose answers are heavy to serve (10 MiB bodies, 21 hops of redirects, for six kinds at once from
# one Python server thread) can outlast DEADLINE_S on a loaded CI machine: they give the fault, not the
# deadline, the time to show.
ROOMY = {"timeout_s": 10.0}
ROOMY_LATENCY = {"timeout_s": 10.0, "request_timeout_s": 5.0}
JSON = (("Content-Type", "application/json"),)
TEXT = (("Content-Type", "text/plain; version=0.0.4"),)
HTML = (("Content-Type", "text/html"),)


@dataclass(frozen=True)
class Serve:
    """What the hostile server does with every request of a row."""

    behaviour: str = "static"  # a key of tests/faults/hostile.py BEHAVIOURS (or "plain-http")
    status: int = 200
    # None: each path's healthy answer (HEALTHY); bytes: that body on every path; a dict: per path
    body: bytes | dict[str, bytes] | None = None
    headers: tuple[tuple[str, str], ...] | None = None  # None: the content type of the path's answer
    length_delta: int = 0  # Content-Length declared this many bytes over (> 0) or under the body
    encoding: str | None = None  # a static answer's coding (tests/faults/hostile.py encode)
    location: str | None = None  # for redirects: a path here, or "other-host"
    origin: str = "plain"  # one of ORIGINS

    def __post_init__(self) -> None:
        assert self.origin in ORIGINS, self.origin


@dataclass(frozen=True)
class Expect:
    """What one check kind must report for a fault: never PASS."""

    status: Status
    reason: str  # a regular expression searched in the check's message
    options: dict[str, Any] = field(default_factory=dict)  # suite keys over the kind's template

    def __post_init__(self) -> None:
        assert self.status is not Status.PASS, "a hostile answer must never pass"


@dataclass(frozen=True)
class Fault:
    id: str  # a slug, also the pytest id
    group: str  # README sub-heading: "Transport", "TLS and names", "Bodies", "JSON", "Expositions", "PromQL"
    hostile: str  # README: the hostile input, in one short line
    sees: str  # README: what the user sees, in one short line (status and the gist of the reason)
    expect: dict[str, Expect] = field(default_factory=dict)  # check kind -> expectation
    exit_code: int = 1  # `spark gate --exit-on-fail` (default --fail-on high, checks of severity critical)
    serve: Serve = field(default_factory=Serve)
    deadline: bool = False  # the check must end at its deadline (within 10 %), not later
    memory: bool = False  # peak memory growth must stay under the body limit plus a chunk
    credentials: bool = False  # send Authorization and Cookie (the cross-host redirect row)


QUERY = "/api/v1/query"
PM2 = "/api/tools/pm2"
HEALTHZ = "/api/healthz"
METRICS = "/metrics"


# Replaced by the time of serving (answer()), so a healthy answer is current whenever the test runs.
NOW_ISO = b"@now-rfc3339@"
NOW_UNIX = b"@now-unix@"


def health(timestamp: bytes | None = b'"' + NOW_ISO + b'"', **slo: object) -> bytes:
    """A health answer with ``slo`` values written as raw JSON text (so NaN and strings can be planted),
    made now unless ``timestamp`` (raw JSON; None leaves it out) says otherwise."""
    values = {"latencyP95": "14", "errorRate": "0.0", "staleness": "0", **slo}
    fields = ", ".join(f'"{key}": {value}' for key, value in values.items() if value is not None)
    dated = b"" if timestamp is None else b', "timestamp": ' + timestamp
    return b'{"status": "UP", "slo": {' + fields.encode() + b"}" + dated + b"}"


def jlist(restart_time: str = "0", memory: str = "104857600", status: str = '"online"') -> bytes:
    """A one-process ``pm2 jlist`` with raw JSON text for the fields a hostile answer plants."""
    env = f'"status": {status}, ' if status else ""
    env += f'"restart_time": {restart_time}' if restart_time else '"pm_uptime": 1'
    return (
        '[{"name": "spark-web", "pm_id": 0, "pm2_env": {'
        + env
        + '}, "monit": {"memory": '
        + memory
        + ', "cpu": 1}}]'
    ).encode()


def vector(value: str = '"1"', warnings: str | None = None, result_type: str = "vector") -> bytes:
    """A Prometheus instant-query answer with one series (or the given ``result_type`` shape)."""
    sample = f"[{NOW_UNIX.decode()}, {value}]"
    result = f'[{{"metric": {{"__name__": "up", "job": "spark"}}, "value": {sample}}}]'
    if result_type == "scalar":
        result = sample
    warned = f', "warnings": {warnings}' if warnings is not None else ""
    return (
        f'{{"status": "success", "data": {{"resultType": "{result_type}", "result": {result}}}{warned}}}'
    ).encode()


EXPOSITION = (
    b"# HELP up Whether the target is up.\n# TYPE up gauge\nup 1\n"
    b'# TYPE http_requests_total counter\nhttp_requests_total{code="200"} 1027\n'
)
# The healthy answer of every path the templates ask; a hostile row replaces or breaks them.
HEALTHY: dict[str, tuple[bytes, tuple[tuple[str, str], ...]]] = {
    HEALTHZ: (health(), JSON),
    METRICS: (EXPOSITION, TEXT),
    PM2: (jlist(), JSON),
    QUERY: (vector(), JSON),
}


def answer(serve: Serve, path: str) -> tuple[bytes, tuple[tuple[str, str], ...]]:
    """The body and headers ``serve`` gives for ``path`` (the query string ignored)."""
    path = path.split("?", 1)[0]
    healthy, content_type = HEALTHY.get(path, (b"", HTML))
    if serve.body is None:
        body = healthy
    elif isinstance(serve.body, bytes):
        body = serve.body
    else:
        body = serve.body.get(path, healthy)
    body = body.replace(NOW_ISO, clock.iso_now().encode()).replace(NOW_UNIX, f"{clock.unix():.3f}".encode())
    return body, serve.headers if serve.headers is not None else content_type


# One template per kind: the healthy suite entry a hostile answer then breaks. Paths are cosmetic
# (the hostile server answers every path alike) but keep the messages readable.
TEMPLATES: dict[str, dict[str, Any]] = {
    "http": {
        "path": "/api/healthz",
        "expect_status": [200],
        "expect_json": [{"field": "status", "op": "==", "value": "UP"}],
    },
    "slo": {"path": "/api/healthz", "field": "slo.latencyP95", "max": 150},
    "metrics": {"path": "/metrics", "require": ["up"], "values": [{"metric": "up", "min": 1}]},
    "pm2": {"path": "/api/tools/pm2"},
    "promql": {"query": "up", "min": 1},  # the server comes from --set prometheus.url=...
    "latency": {
        "path": "/api/healthz",
        "count": 5,
        "rate_rps": 50.0,
        "request_timeout_s": 1.0,
        "max_p95_ms": 1000,
        "max_error_rate": 0,
        "min_samples": 5,
    },
    "tls": {"path": "/"},  # warn_days 30, fail_days 7
    "websocket": {
        "path": "/ws/ticks",
        "min_messages": 3,
        "max_gap_ms": 500,
        "expect_json": [{"field": "type", "op": "==", "value": "tick"}],
    },
}


def check_for(kind: str, base_url: str, options: dict[str, Any]) -> dict[str, Any]:
    """The suite entry for ``kind`` against ``base_url``: critical, with the matrix's short deadline."""
    keys = {**TEMPLATES[kind], **options}
    entry: dict[str, Any] = {
        "name": f"fault.{kind}",
        "kind": kind,
        "severity": "critical",
        "timeout_s": LATENCY_TIMEOUT_S if kind == "latency" else DEADLINE_S,
    }
    if kind != "promql":
        entry["url"] = base_url + keys.pop("path")
    entry.update(keys)
    return entry


def deadline_s(check: dict[str, Any]) -> float:
    """When ``check`` must have ended against a target that never completes an answer.

    A latency probe's requests each end at ``request_timeout_s``; its last one starts on the last slot.
    """
    if check["kind"] == "latency":
        return float((check["count"] - 1) / check["rate_rps"] + check["request_timeout_s"])
    return float(check["timeout_s"])

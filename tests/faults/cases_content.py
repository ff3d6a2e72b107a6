"""Hostile bodies (empty, not JSON, not UTF-8, too deep, too big) and hostile JSON values."""

from __future__ import annotations

from faults._matrix import (
    HEALTHZ,
    HTML,
    METRICS,
    NOW_UNIX,
    PM2,
    QUERY,
    ROOMY,
    ROOMY_LATENCY,
    Expect,
    Fault,
    Serve,
    health,
    jlist,
    vector,
)
from spark_ops.model import Status

FAIL, ERROR = Status.FAIL, Status.ERROR
NOT_PROMETHEUS = r"not a Prometheus answer"
TOO_BIG = r"body larger than the 10485760-byte limit"
NO_VALUE = r'lacks its metric labels or its \[timestamp, "number"\] value'
# The http kind judges the same field the slo kind reads.
LATENCY_AT_MOST_150 = {"expect_json": [{"field": "slo.latencyP95", "op": "<=", "value": 150}]}
DEEP = 100_000


def empty_everywhere(status: int) -> dict[str, Expect]:
    http = r"-> 204 in \d+ ms, expected 200" if status == 204 else r"empty body where JSON was expected"
    return {
        "http": Expect(FAIL, http),
        "slo": Expect(FAIL, r"empty body where JSON was expected"),
        "metrics": Expect(FAIL, r"empty exposition"),
        "pm2": Expect(FAIL, r"empty answer where the PM2 process list was expected"),
        "promql": Expect(ERROR, rf"HTTP {status}, {NOT_PROMETHEUS}"),
    }


def every_kind(reason: str, roomy: bool = False) -> dict[str, Expect]:
    """FAIL with ``reason`` from every kind that reads a body (the latency probe: every request failed)."""
    options = ROOMY if roomy else {}
    kinds = {kind: Expect(FAIL, reason, options) for kind in ("http", "slo", "metrics", "pm2", "promql")}
    kinds["latency"] = Expect(FAIL, r"error rate 100\.00% above 0\.00%", ROOMY_LATENCY if roomy else {})
    return kinds


def json_row(
    slug: str, hostile: str, sees: str, raw: str | None, promql_raw: str, slo: str, http: str, pm2: str
) -> Fault:
    """One hostile JSON value (``raw`` as JSON text; None leaves the field out) planted in the health
    answer (``slo.latencyP95``), the PM2 list (``pm2_env.restart_time``) and the Prometheus answer."""
    query = (
        vector(promql_raw) if promql_raw else vector().replace(b', "value": [' + NOW_UNIX + b', "1"]', b"")
    )
    return Fault(
        slug,
        "JSON",
        hostile,
        sees,
        {
            "http": Expect(FAIL, http, LATENCY_AT_MOST_150),
            "slo": Expect(FAIL, slo),
            "pm2": Expect(FAIL, pm2),
            "promql": Expect(ERROR, NO_VALUE),
        },
        serve=Serve(body={HEALTHZ: health(latencyP95=raw), PM2: jlist(restart_time=raw or ""), QUERY: query}),
    )


def not_finite(slug: str, raw: str, shown: str) -> Fault:
    return json_row(
        slug,
        f"`{raw}` where a number belongs",
        f"FAIL `= {shown}, not a finite number`; promql ERROR (its values are strings)",
        raw,
        raw,
        slo=rf"slo\.latencyP95 = {shown}, not a finite number",
        http=rf"JSON field 'slo\.latencyP95' is {shown}, not a finite number",
        pm2=rf"pm2_env\.restart_time is {shown}, not a count",
    )


FAULTS = [
    Fault(
        "status-204",
        "Bodies",
        "204 No Content where a body was expected",
        "FAIL `-> 204, expected 200` / `empty body`; ERROR for promql",
        empty_everywhere(204),
        serve=Serve(status=204, body=b""),
    ),
    Fault(
        "empty-body",
        "Bodies",
        "200 with an empty body",
        "FAIL `empty body where JSON was expected` / `empty exposition`; ERROR for promql",
        empty_everywhere(200),
        serve=Serve(body=b""),
    ),
    Fault(
        "html-for-json",
        "Bodies",
        "200 text/html (an error page) where JSON or an exposition was expected",
        "FAIL `body is not JSON (text/html)` / `exposition does not parse`; ERROR for promql",
        {
            "http": Expect(FAIL, r"body is not JSON \(text/html\)"),
            "slo": Expect(FAIL, r"body is not JSON \(text/html\)"),
            "metrics": Expect(FAIL, r"exposition does not parse: line 1: invalid metric name"),
            "pm2": Expect(FAIL, r"not a PM2 process list"),
            "promql": Expect(ERROR, rf"{NOT_PROMETHEUS} \(text/html\)"),
        },
        serve=Serve(body=b"<html><body><h1>502 Bad Gateway</h1></body></html>\n", headers=HTML),
    ),
    Fault(
        "invalid-utf8",
        "Bodies",
        "bytes that are not UTF-8 inside the JSON, the exposition and the PM2 list",
        "FAIL `body is not JSON` / `does not parse` / `not valid UTF-8`; ERROR for promql",
        {
            "http": Expect(FAIL, r"body is not JSON \(application/json\): 'utf-8' codec can't decode"),
            "slo": Expect(FAIL, r"body is not JSON \(application/json\): 'utf-8' codec can't decode"),
            "metrics": Expect(FAIL, r"exposition does not parse: line \d+: invalid label value"),
            "pm2": Expect(FAIL, r"not valid UTF-8 \(byte \d+\)"),
            "promql": Expect(ERROR, NOT_PROMETHEUS),
        },
        serve=Serve(
            body={
                HEALTHZ: health().replace(b'"UP"', b'"U\xff\xfeP"'),
                METRICS: b'up{job="sp\xffark"} 1\n',
                PM2: jlist().replace(b"spark-web", b"spark-\xffweb"),
                QUERY: vector().replace(b'"spark"', b'"sp\xffark"'),
            }
        ),
    ),
    Fault(
        "deeply-nested-json",
        "Bodies",
        f"JSON nested {DEEP:,} levels deep",
        "FAIL `body is not JSON: nested too deeply` / `not a PM2 process list`; ERROR for promql",
        {
            "http": Expect(FAIL, r"body is not JSON \(application/json\): nested too deeply"),
            "slo": Expect(FAIL, r"body is not JSON \(application/json\): nested too deeply"),
            "metrics": Expect(FAIL, r"exposition does not parse"),
            "pm2": Expect(FAIL, r"not a PM2 process list"),
            "promql": Expect(ERROR, NOT_PROMETHEUS),
        },
        serve=Serve(body=b'{"status": "UP", "slo": ' + b"[" * DEEP + b"]" * DEEP + b"}\n"),
    ),
    Fault(
        "gzip-cut-short",
        "Bodies",
        "a gzip body whose stream stops before its end (Content-Length matches what was sent)",
        "FAIL `the gzip body ends before its stream does`",
        every_kind(r"the gzip body ends before its stream does"),
        serve=Serve(encoding="gzip-cut"),
    ),
    Fault(
        "gzip-corrupt",
        "Bodies",
        "`Content-Encoding: gzip` over bytes that do not inflate",
        "FAIL `body does not decode as gzip`",
        every_kind(r"body does not decode as gzip: Error -3"),
        serve=Serve(encoding="gzip-corrupt"),
    ),
    Fault(
        "unasked-content-encoding",
        "Bodies",
        "`Content-Encoding: br`, which spark-ops never asks for",
        "FAIL `Content-Encoding 'br' is not supported`",
        every_kind(r"Content-Encoding 'br' is not supported"),
        serve=Serve(encoding="br"),
    ),
    Fault(
        "gzip-bomb",
        "Bodies",
        "`Content-Encoding: gzip`, 1 MB that inflates to 1 GiB",
        "FAIL `body larger than the 10485760-byte limit` (counted after decompression); memory stays bounded",
        every_kind(TOO_BIG, roomy=True),
        serve=Serve("gzip-bomb"),
        memory=True,
    ),
    Fault(
        "plain-512-mib",
        "Bodies",
        "a plain 512 MiB body",
        "FAIL `body larger than the 10485760-byte limit`; memory stays bounded",
        every_kind(TOO_BIG, roomy=True),
        serve=Serve("huge-plain"),
        memory=True,
    ),
    not_finite("json-nan", "NaN", "nan"),
    not_finite("json-infinity", "Infinity", "inf"),
    not_finite("json-minus-infinity", "-Infinity", "-inf"),
    json_row(
        "json-null",
        "`null` where a number belongs",
        "FAIL `is null, not a number`; promql ERROR",
        "null",
        "null",
        slo=r"slo\.latencyP95 is null, not a number",
        http=r"JSON field 'slo\.latencyP95' is null",
        pm2=r"pm2_env\.restart_time is null, not a count",
    ),
    json_row(
        "json-string-for-number",
        'a string where a number belongs (`"14"`; promql `"fourteen"`)',
        "FAIL `is str '14', not a number` / `cannot be compared`; promql ERROR",
        '"14"',
        '"fourteen"',
        slo=r"slo\.latencyP95 is str '14', not a number",
        http=r"JSON field 'slo\.latencyP95' = '14' cannot be compared with <= 150",
        pm2=r"pm2_env\.restart_time is the string '14', not a count",
    ),
    json_row(
        "json-missing-field",
        "the judged field is missing",
        "FAIL `field ... is missing`; promql ERROR",
        None,
        "",
        slo=r"field 'slo\.latencyP95' is missing",
        http=r"JSON field 'slo\.latencyP95' is missing",
        pm2=r"pm2_env\.restart_time missing",
    ),
    *[
        Fault(
            f"health-{slug}",
            "JSON",
            hostile,
            sees,
            {
                "http": Expect(FAIL, reason, {"timestamp_field": "timestamp"}),
                "slo": Expect(FAIL, reason),
            },
            serve=Serve(body={HEALTHZ: health(timestamp)}),
        )
        for slug, hostile, sees, timestamp, reason in (
            (
                "stale",
                "a well-formed health answer made long ago (`2025-10-16T12:00:00Z`)",
                "FAIL `the document (timestamp) is ... days old (max_document_age_s 60 + max_clock_skew_s"
                " 5)`",
                b'"2025-10-16T12:00:00Z"',
                r"the document \(timestamp\) is [\d.]+ days old \(max_document_age_s 60 \+"
                r" max_clock_skew_s 5\)",
            ),
            (
                "from-the-future",
                "a health answer dated in 2099",
                "FAIL `is dated ... s in the future (max_clock_skew_s 5): the clocks disagree`",
                b'"2099-01-01T00:00:00Z"',
                r"is dated \d+ s in the future \(max_clock_skew_s 5\): the clocks disagree",
            ),
            (
                "undated",
                "a health answer without `timestamp`",
                "FAIL `carries no time: its age is unknown (slo.undated = 'fail')`",
                None,
                r"carries no time: its age is unknown \(slo\.undated = 'fail'\)",
            ),
            (
                "local-time",
                "a `timestamp` without a time zone (`2026-12-02T07:00:00`)",
                "FAIL `is not an RFC 3339 time with a zone`",
                b'"2026-12-02T07:00:00"',
                r"time '2026-12-02T07:00:00' is not an RFC 3339 time with a zone",
            ),
        )
    ],
    Fault(
        "latency-below-zero",
        "JSON",
        "`slo.latencyP95` = -5 (a latency below zero, under any max)",
        "FAIL `slo.latencyP95 = -5, outside its domain >= 0 (ms)`",
        {"slo": Expect(FAIL, r"slo\.latencyP95 = -5, outside its domain >= 0 \(ms\)", {"unit": "ms"})},
        serve=Serve(body={HEALTHZ: health(latencyP95="-5")}),
    ),
    Fault(
        "error-rate-above-one",
        "JSON",
        "`slo.errorRate` = 1.5 (judged with max = 2: only its domain can refuse it)",
        "FAIL `slo.errorRate = 1.5, outside its domain [0, 1] (ratio)`",
        {
            "slo": Expect(
                FAIL,
                r"slo\.errorRate = 1\.5, outside its domain \[0, 1\] \(ratio\)",
                {"field": "slo.errorRate", "unit": "ratio", "max": 2},
            )
        },
        serve=Serve(body={HEALTHZ: health(errorRate="1.5")}),
    ),
    Fault(
        "duplicate-key",
        "JSON",
        'a key written twice (`"status": "DOWN", "status": "UP"`) in the health answer, the PM2 list'
        " and the Prometheus answer",
        "FAIL `ambiguous JSON: key 'status' appears twice in one object`",
        {
            kind: Expect(FAIL, r"ambiguous JSON: key 'status' appears twice in one object")
            for kind in ("http", "slo", "pm2", "promql")
        },
        serve=Serve(
            body={
                HEALTHZ: health().replace(b'{"status": "UP"', b'{"status": "DOWN", "status": "UP"'),
                PM2: jlist().replace(b'"status": "online"', b'"status": "errored", "status": "online"'),
                QUERY: vector().replace(b'{"status": "success"', b'{"status": "error", "status": "success"'),
            }
        ),
    ),
    Fault(
        "duplicate-nested-key",
        "JSON",
        'a key written twice inside `slo` (`"latencyP95": 900, "latencyP95": 14`)',
        "FAIL `ambiguous JSON: key 'latencyP95' appears twice in one object`",
        {
            kind: Expect(FAIL, r"ambiguous JSON: key 'latencyP95' appears twice in one object")
            for kind in ("http", "slo")
        },
        serve=Serve(body={HEALTHZ: health(latencyP95='900, "latencyP95": 14')}),
    ),
]

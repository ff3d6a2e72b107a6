"""Hostile Prometheus expositions (for ``metrics``) and hostile PromQL answers (for ``promql``)."""

from __future__ import annotations

from faults._matrix import JSON, METRICS, NOW_UNIX, QUERY, Expect, Fault, Serve, vector
from spark_ops.model import Status

FAIL, ERROR = Status.FAIL, Status.ERROR
HEAD = b"# HELP up Whether the target is up.\n# TYPE up gauge\n"
REQUESTS = b'# TYPE http_requests_total counter\nhttp_requests_total{code="200"} 1027\n'


def exposition(slug: str, hostile: str, sees: str, body: bytes, reason: str) -> Fault:
    """A metrics row: ``body`` served as the exposition; the check requires ``up`` >= 1."""
    return Fault(
        slug,
        "Expositions",
        hostile,
        sees,
        {"metrics": Expect(FAIL, reason)},
        serve=Serve(body={METRICS: body}),
    )


OPENMETRICS = (("Content-Type", "application/openmetrics-text; version=1.0.0; charset=utf-8"),)
# A valid OpenMetrics 1.0 answer with what the text format lacks: exemplars, _created, UNIT, info, stateset.
VALID_OPENMETRICS = (
    HEAD
    + b"up 1\n"
    + b"# HELP jobs Jobs done.\n# TYPE jobs counter\n"
    + b'jobs_total{queue="a"} 1027 # {trace_id="4bf92f3577b34da6"} 1 1764658800.5\n'
    + b'jobs_created{queue="a"} 1764600000\n'
    + b"# TYPE fill_seconds histogram\n# UNIT fill_seconds seconds\n"
    + b'fill_seconds_bucket{le="0.1"} 900 # {trace_id="a1"} 0.05\nfill_seconds_bucket{le="+Inf"} 1027\n'
    + b"fill_seconds_count 1027\nfill_seconds_sum 61.5\n"
    + b'# TYPE build info\nbuild_info{version="1.2.0"} 1\n'
    + b'# TYPE feed stateset\nfeed{feed="live"} 1\nfeed{feed="stale"} 0\n'
    + b"# EOF\n"
)


def openmetrics(slug: str, hostile: str, sees: str, body: bytes, reason: str) -> Fault:
    """A metrics row answered as OpenMetrics (its Content-Type), judged by OpenMetrics' rules."""
    return Fault(
        slug,
        "Expositions",
        hostile,
        sees,
        {"metrics": Expect(FAIL, reason)},
        serve=Serve(body={METRICS: body}, headers=OPENMETRICS),
    )


def promql(
    slug: str,
    hostile: str,
    sees: str,
    body: bytes,
    expect: Expect,
    status: int = 200,
    exit_code: int = 1,
    headers: tuple[tuple[str, str], ...] = JSON,
) -> Fault:
    """A PromQL row: ``body`` is the answer to ``up`` (judged ``min = 1``)."""
    return Fault(
        slug,
        "PromQL",
        hostile,
        sees,
        {"promql": expect},
        exit_code=exit_code,
        serve=Serve(status=status, body={QUERY: body}, headers=headers),
    )


FAULTS = [
    exposition(
        "exposition-nan",
        "a sample whose value is `NaN`",
        "FAIL `up = nan, not a finite number`",
        HEAD + b"up NaN\n" + REQUESTS,
        r"up = nan, not a finite number",
    ),
    exposition(
        "exposition-plus-inf",
        "a sample whose value is `+Inf`",
        "FAIL `up = inf, not a finite number`",
        HEAD + b"up +Inf\n" + REQUESTS,
        r"up = inf, not a finite number",
    ),
    exposition(
        "exposition-minus-inf",
        "a sample whose value is `-Inf`",
        "FAIL `up = -inf, not a finite number`",
        HEAD + b"up -Inf\n" + REQUESTS,
        r"up = -inf, not a finite number",
    ),
    exposition(
        "exposition-duplicate-series",
        "the same series twice (Prometheus rejects such a scrape)",
        "FAIL `duplicate series ... (Prometheus rejects such a scrape)`",
        HEAD + b"up 1\n" + REQUESTS + b'http_requests_total{code="200"} 1027\n',
        r'duplicate series http_requests_total\{code="200"\} \(Prometheus rejects such a scrape\)',
    ),
    exposition(
        "exposition-invalid-line",
        "a line that is not a sample",
        "FAIL `exposition does not parse`",
        HEAD + b"up 1\nthis line is not a sample\n" + REQUESTS,
        r"exposition does not parse: line 4: expected float as value",
    ),
    exposition(
        "exposition-truncated-last-line",
        "the last line cut inside its labels",
        "FAIL `exposition does not parse`",
        HEAD + b'up 1\n# TYPE http_requests_total counter\nhttp_requests_total{code="2',
        r"exposition does not parse: line 5: .*the last line does not end with a line feed",
    ),
    exposition(
        "exposition-cut-inside-a-number",
        "the last line cut inside its value (`1027` sent as `10`, no final line feed)",
        "FAIL `the last line does not end with a line feed (cut short?)`",
        HEAD + b'up 1\n# TYPE http_requests_total counter\nhttp_requests_total{code="200"} 10',
        r"the last line does not end with a line feed \(cut short\?\)",
    ),
    exposition(
        "exposition-no-series",
        "comments only, no sample",
        "FAIL `exposition holds no series`",
        HEAD,
        r"exposition holds no series",
    ),
    promql(
        "promql-503",
        "HTTP 503 with Prometheus' JSON error",
        "ERROR `HTTP 503: unavailable: ...` (Prometheus' own words)",
        b'{"status": "error", "errorType": "unavailable", "error": "too many concurrent queries"}',
        Expect(ERROR, r"HTTP 503: unavailable: too many concurrent queries"),
        status=503,
    ),
    promql(
        "promql-503-html",
        "HTTP 503 from a proxy, as HTML",
        "ERROR `HTTP 503, not a Prometheus answer (text/html)`",
        b"<html><body>503 Service Unavailable</body></html>",
        Expect(ERROR, r"HTTP 503, not a Prometheus answer \(text/html\)"),
        status=503,
        headers=(("Content-Type", "text/html"),),
    ),
    promql(
        "promql-200-status-error",
        'HTTP 200 with `"status": "error"`',
        "ERROR `bad_data: ...`",
        b'{"status": "error", "errorType": "bad_data", "error": "1:3: parse error: unexpected"}',
        Expect(ERROR, r"HTTP 200: bad_data: 1:3: parse error"),
    ),
    promql(
        "promql-200-warnings",
        "HTTP 200, a value in bounds, and `warnings`",
        "WARN `Prometheus warns: ...` (exit 0 under `--fail-on high`)",
        vector(warnings='["partial response: store gateway 2 unreachable"]'),
        Expect(Status.WARN, r"up\{job=\"spark\"\} = 1 .*Prometheus warns: partial response"),
        exit_code=0,
    ),
    promql(
        "promql-empty-vector",
        "an empty vector",
        "INCONCLUSIVE `no series (empty result ...)` (exit 3)",
        b'{"status": "success", "data": {"resultType": "vector", "result": []}}',
        Expect(Status.INCONCLUSIVE, r"no series \(empty result"),
        exit_code=3,
    ),
    Fault(
        "promql-scalar-for-vector",
        "PromQL",
        'a scalar where the check expects a vector (`result_type = "vector"`)',
        "ERROR `result type 'scalar' where the check expects a vector`",
        {
            "promql": Expect(
                ERROR, r"result type 'scalar' where the check expects a vector", {"result_type": "vector"}
            )
        },
        serve=Serve(body={QUERY: vector(result_type="scalar")}),
    ),
    promql(
        "promql-nan-value",
        'a series whose value is `"NaN"`',
        "FAIL `= nan, not a finite number`",
        vector('"NaN"'),
        Expect(FAIL, r"up\{job=\"spark\"\} = nan, not a finite number"),
    ),
    promql(
        "promql-inf-value",
        'a series whose value is `"+Inf"`',
        "FAIL `= inf, not a finite number`",
        vector('"+Inf"'),
        Expect(FAIL, r"up\{job=\"spark\"\} = inf, not a finite number"),
    ),
    promql(
        "promql-minus-inf-value",
        'a series whose value is `"-Inf"`',
        "FAIL `= -inf, not a finite number`",
        vector('"-Inf"'),
        Expect(FAIL, r"up\{job=\"spark\"\} = -inf, not a finite number"),
    ),
    promql(
        "promql-ratio-above-one",
        '`unit = "ratio"` and a series of `"1.5"` (judged with min = 1: only its domain can refuse it)',
        "FAIL `= 1.5, outside its domain [0, 1] (ratio)`",
        vector('"1.5"'),
        Expect(FAIL, r"up\{job=\"spark\"\} = 1\.5, outside its domain \[0, 1\] \(ratio\)", {"unit": "ratio"}),
    ),
    promql(
        "promql-range-vector",
        "a range vector (matrix) for an instant check",
        "ERROR `the query returns a range vector (matrix)`",
        b'{"status": "success", "data": {"resultType": "matrix", "result": []}}',
        Expect(ERROR, r"the query returns a range vector \(matrix\)"),
    ),
    promql(
        "promql-answer-from-long-ago",
        "an answer evaluated long ago (a cache or a replay: its sample time is 2025-12-01)",
        "FAIL `the answer is ... days old (max_document_age_s 60 + max_clock_skew_s 5)`",
        vector().replace(NOW_UNIX, b"1764590400"),
        Expect(FAIL, r"the answer is [\d.]+ days old \(max_document_age_s 60"),
    ),
    openmetrics(
        "openmetrics-truncated",
        "an OpenMetrics answer cut before its `# EOF` line",
        "FAIL `OpenMetrics exposition truncated: no '# EOF' line`",
        VALID_OPENMETRICS.removesuffix(b"# EOF\n"),
        r"OpenMetrics exposition truncated: no '# EOF' line at the end",
    ),
    openmetrics(
        "openmetrics-counter-without-total",
        "an OpenMetrics counter whose sample lacks `_total` (`# TYPE jobs counter` then `jobs 3`)",
        "FAIL `OpenMetrics exposition does not parse: ... written in two places`",
        HEAD + b"up 1\n# TYPE jobs counter\njobs 3\n# EOF\n",
        r"OpenMetrics exposition does not parse: family 'jobs' is written in two places",
    ),
    openmetrics(
        "openmetrics-exemplar-on-gauge",
        "an OpenMetrics exemplar on a gauge (only counters' `_total` and histograms' `_bucket` carry them)",
        "FAIL `only counters' _total and histograms' _bucket carry exemplars`; the control, exemplars on"
        " a counter and a bucket, PASSes",
        HEAD + b'up 1 # {trace_id="a1"} 1\n# EOF\n',
        r"line 3: only counters' _total and histograms' _bucket carry exemplars",
    ),
    openmetrics(
        "openmetrics-interleaved",
        "an OpenMetrics family resumed after another (`up`, `jobs_total`, `up` again)",
        "FAIL `family 'up' is written in two places`",
        HEAD + b'up{a="1"} 1\n# TYPE jobs counter\njobs_total 3\nup{a="2"} 1\n# EOF\n',
        r"family 'up' is written in two places",
    ),
]

# The false-alarm side (tests/faults/test_openmetrics_control.py): what must PASS.
CONTROLS = {"valid-openmetrics-with-exemplars": VALID_OPENMETRICS}

"""The ``spark-ops/result/v1`` document: the one encoder and the one decoder of a ``RunResult``.

Every reader (reports, the run store, the daily report, the export, the monitor) goes through these, so
nothing reads a stored result with guesses. v1 grows only by keys an older reader ignores: per check
``readings`` and ``measurements`` (``{"at", "status", "readings"}``, one per interval of an analysis
window, one for a single shot), ``histograms`` (``{"latency_ms": [[low, high, count], ...]}``, only on a
check that measured one), per run ``fail_on``/``enforce`` and ``window`` (null for a single shot);
a document without them still decodes.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

from spark_ops import strict_json
from spark_ops.errors import SparkOpsError
from spark_ops.model import (
    CheckResult,
    Judgement,
    Measurement,
    Risk,
    RiskLevel,
    RunResult,
    Severity,
    Status,
    Window,
    finite_histograms,
    finite_readings,
)

RESULT_SCHEMA = "spark-ops/result/v1"


class ResultRefused(SparkOpsError):
    """A result document that is not ours, or not whole: the message says why in one line."""


class _Measurement(msgspec.Struct, frozen=True):
    at: str
    status: Status
    readings: dict[str, float] = {}


class _Window(msgspec.Struct, frozen=True):
    planned: int
    taken: int
    interval_s: float
    ended: str


class _Check(msgspec.Struct, frozen=True):
    name: str
    kind: str
    status: Status
    severity: Severity
    message: str
    observed: Any = None
    threshold: Any = None
    duration_ms: int = 0
    retries: int = 0
    readings: dict[str, float] = {}
    measurements: list[_Measurement] = []
    histograms: dict[str, Any] = {}  # checked by finite_histograms


class _Risk(msgspec.Struct, frozen=True):
    level: RiskLevel
    score: float
    recommendation: str


class _Document(msgspec.Struct, frozen=True):
    schema: str
    command: str
    profile: str
    suite: str
    started_at: str
    duration_ms: int
    risk: _Risk
    checks: list[_Check]
    exit_code: int
    fail_on: RiskLevel | None = None
    enforce: bool | None = None
    window: _Window | None = None


def encode(run: RunResult) -> dict[str, Any]:
    """The document as plain JSON values (the SPEC's shape, plus ``readings``, ``fail_on``, ``enforce``)."""
    summary = run.summary
    return {
        "schema": RESULT_SCHEMA,
        "command": run.command,
        "profile": run.profile,
        "suite": run.suite,
        "started_at": run.started_at,
        "duration_ms": run.duration_ms,
        "risk": {
            "level": run.risk.level.value,
            "score": run.risk.score,
            "recommendation": run.risk.recommendation,
        },
        "summary": {
            "total": summary.total,
            "passed": summary.passed,
            "warned": summary.warned,
            "failed": summary.failed,
            "errors": summary.errors,
            "inconclusive": summary.inconclusive,
            "skipped": summary.skipped,
        },
        "checks": [encode_check(result) for result in run.results],
        "fail_on": run.fail_on.value,
        "enforce": run.enforce,
        "window": None
        if run.window is None
        else {
            "planned": run.window.planned,
            "taken": run.window.taken,
            "interval_s": run.window.interval_s,
            "ended": run.window.ended,
        },
        "exit_code": run.exit_code,
    }


def encode_check(result: CheckResult) -> dict[str, Any]:
    document = {
        "name": result.name,
        "kind": result.kind,
        "status": result.status.value,
        "severity": result.severity.value,
        "observed": result.observed,
        "threshold": result.threshold,
        "message": result.message,
        "duration_ms": result.duration_ms,
        "retries": result.retries,
        "readings": dict(result.readings),
        "measurements": [
            {"at": m.at, "status": m.status.value, "readings": dict(m.readings)} for m in result.measurements
        ],
    }
    histograms = {name: [list(b) for b in bins] for name, bins in result.histograms.items() if bins}
    if histograms:  # left out when there is none, so most checks' documents stay as they were
        document["histograms"] = histograms
    return document


def render(run: RunResult) -> str:
    """The document as JSON text; a NaN that slipped through must crash loudly, not write invalid JSON."""
    return json.dumps(encode(run), indent=2, allow_nan=False) + "\n"


def decode(data: bytes | str) -> RunResult:
    """The run a document records; ``ResultRefused`` when it is not a whole ``spark-ops/result/v1``."""
    try:
        document = msgspec.json.decode(data, type=_Document)
    except msgspec.ValidationError as exc:
        schema = _schema_of(data)
        if schema is not None and schema != RESULT_SCHEMA:
            raise ResultRefused(f"not a {RESULT_SCHEMA} document (schema {schema!r})") from None
        raise ResultRefused(f"not a {RESULT_SCHEMA} document: {exc}") from None
    except msgspec.DecodeError as exc:
        raise ResultRefused(f"not JSON: {exc}") from None
    if document.schema != RESULT_SCHEMA:
        raise ResultRefused(f"not a {RESULT_SCHEMA} document (schema {document.schema!r})")
    try:  # msgspec lets the last of two equal keys win: a record saying two things is refused
        strict_json.loads(data)
    except strict_json.AmbiguousJson as exc:
        raise ResultRefused(f"ambiguous JSON: {exc}") from None
    results = [_decode_check(index, check) for index, check in enumerate(document.checks)]
    risk = Risk(document.risk.level, document.risk.score, document.risk.recommendation)
    window = None if document.window is None else Window(**msgspec.structs.asdict(document.window))
    fail_on, enforce = _options(document, results, risk, window)
    return RunResult(
        command=document.command,
        profile=document.profile,
        suite=document.suite,
        started_at=document.started_at,
        duration_ms=document.duration_ms,
        results=results,
        risk=risk,
        fail_on=fail_on,
        enforce=enforce,
        window=window,
    )


def _decode_check(index: int, check: _Check) -> CheckResult:
    from spark_ops.config.suite import CheckSpec

    measurements = tuple(Measurement(m.at, m.status, finite_readings(m.readings)) for m in check.measurements)
    spec = CheckSpec(name=check.name, kind=check.kind, severity=check.severity, index=index)
    judgement = Judgement(
        check.status,
        check.message,
        observed=check.observed,
        threshold=check.threshold,
        readings=finite_readings(check.readings),
        histograms=finite_histograms(check.histograms),
    )
    return CheckResult(
        spec=spec,
        judgement=judgement,
        duration_ms=check.duration_ms,
        retries=check.retries,
        measurements=measurements,
    )


def _options(
    document: _Document, results: list[CheckResult], risk: Risk, window: Window | None
) -> tuple[RiskLevel, bool]:
    """The options the exit code was reduced from; an older document's are found from its exit code.

    A document whose recorded exit code no options reproduce was not written by a run: refused.
    """
    from spark_ops.risk import final_reduce

    if document.fail_on is not None and document.enforce is not None:
        candidates = [(document.fail_on, document.enforce)]
    else:  # written before the options were recorded: the likeliest options that give the recorded code
        candidates = _OLDER_OPTIONS
    for fail_on, enforce in candidates:
        finished = window is None or window.finished
        code = final_reduce(results, risk, fail_on=fail_on, enforce=enforce, finished=finished)
        if int(code) == document.exit_code:
            return fail_on, enforce
    raise ResultRefused(f"exit_code {document.exit_code} does not follow from the checks and the risk")


# The defaults first (fail on HIGH, enforced or report-only), so an older document decodes to the options
# most runs had; report-only exits 0 whatever the level, so one report-only entry covers them all.
_OLDER_OPTIONS = [
    (RiskLevel.HIGH, True),
    (RiskLevel.HIGH, False),
    (RiskLevel.MEDIUM, True),
    (RiskLevel.CRITICAL, True),
]


def _schema_of(data: bytes | str) -> str | None:
    try:
        document = json.loads(data)
    except (ValueError, RecursionError):
        return None
    schema = document.get("schema") if isinstance(document, dict) else None
    return schema if isinstance(schema, str) else None

"""The result/v1 document: one encoder, one decoder, and what the decoder refuses (result_json.py)."""

from __future__ import annotations

import json

import pytest
from conftest import RESULT_KEYS, check_result, gate_run

from spark_ops.model import RiskLevel, Severity, Status
from spark_ops.result_json import ResultRefused, decode, encode, render


def test_a_printed_result_decodes_to_the_same_document(platform, spark):
    """What ``--format json`` prints decodes, and encoding the decoded run gives the same document back."""
    platform.health["slo"]["latencyP95"] = 400
    printed = spark("gate", "--no-evidence", "--format", "json", "--exit-on-fail", *platform.sets())
    document = json.loads(printed.stdout)
    run = decode(printed.stdout)
    assert encode(run) == document
    assert run.exit_code == printed.exit_code == 1
    assert (run.fail_on, run.enforce) == (RiskLevel.HIGH, True)
    slo = next(r for r in run.results if r.name == "healthz.slo.latencyP95")
    assert (slo.status, slo.severity, dict(slo.readings)) == (
        Status.FAIL,
        Severity.MAJOR,
        {"slo.latencyP95": 400},
    )


def old_document(**changes: object) -> dict[str, object]:
    """A result.json as spark-ops wrote it before readings and the run's options were recorded."""
    run = gate_run([check_result("ui.up", "http", Severity.MAJOR, Status.FAIL, "GET / -> 500")], score=0.0)
    document = encode(run)
    del document["fail_on"], document["enforce"], document["window"]
    for check in document["checks"]:
        del check["readings"], check["measurements"]
    document.update(changes)
    return document


@pytest.mark.parametrize(
    ("exit_code", "enforce", "fail_on"),
    [(1, True, RiskLevel.HIGH), (0, False, RiskLevel.HIGH)],
    ids=["enforced", "report-only"],
)
def test_an_older_v1_document_still_decodes(exit_code, enforce, fail_on):
    """A v1 document without readings, fail_on or enforce decodes; its options are those of its exit code."""
    run = decode(json.dumps(old_document(exit_code=exit_code)))
    assert (run.exit_code, run.enforce, run.fail_on) == (exit_code, enforce, fail_on)
    assert set(encode(run)) == RESULT_KEYS


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "not JSON"),
        ("[1, 2]", "not a spark-ops/result/v1 document"),
        (json.dumps(old_document(schema="spark-ops/result/v2")), "schema 'spark-ops/result/v2'"),
        (json.dumps({"schema": "other/tool"}), "schema 'other/tool'"),
        (json.dumps(old_document(checks=[{"name": "x"}])), "$.checks[0]"),
        (json.dumps(old_document(risk={"level": "FINE", "score": 1, "recommendation": ""})), "$.risk.level"),
        (json.dumps(old_document(exit_code=3)), "exit_code 3 does not follow"),
    ],
    ids=["empty", "array", "newer-schema", "foreign", "check-without-fields", "unknown-level", "wrong-exit"],
)
def test_a_document_that_is_not_a_whole_result_is_refused_with_one_line(text, words):
    """Foreign, newer, torn or inconsistent documents are refused, naming what is wrong on one line."""
    with pytest.raises(ResultRefused) as refused:
        decode(text)
    assert words in str(refused.value)
    assert "\n" not in str(refused.value)


def test_render_refuses_to_write_nan():
    """A NaN that slipped into a result crashes the writer instead of writing invalid JSON."""
    run = gate_run([check_result("odd", "slo", Severity.MAJOR, Status.FAIL, "x", observed=float("nan"))], 0.0)
    with pytest.raises(ValueError, match="not JSON compliant"):
        render(run)


def test_histograms_round_trip_and_are_left_out_when_empty():
    """A check's histograms survive encode/decode; a check without one has no ``histograms`` key; bins a
    chart cannot place (bounds not numbers, negative or fractional counts, torn entries) are dropped."""
    bins = ((1.0, 2.0, 3), (2.0, 4.0, 0))
    probe = check_result(
        "latency.web", "latency", Severity.MAJOR, Status.PASS, "ok", histograms={"latency_ms": bins}
    )
    plain = check_result("ui.up", "http", Severity.CRITICAL, Status.PASS, "ok")
    document = encode(gate_run([probe, plain], score=100.0))
    assert document["checks"][0]["histograms"] == {"latency_ms": [[1.0, 2.0, 3], [2.0, 4.0, 0]]}
    assert "histograms" not in document["checks"][1]
    assert decode(json.dumps(document)).results[0].histograms == {"latency_ms": bins}
    document["checks"][0]["histograms"]["latency_ms"] += [["a", 2, 1], [5, 6, -1], [6, 7, 1.5], [1, 2], "x"]
    assert decode(json.dumps(document)).results[0].histograms == {"latency_ms": bins}


def test_a_record_with_a_repeated_key_is_refused():
    """A result.json saying two risk levels (a key twice) is refused naming the key, not read as the last."""
    failing = check_result("healthz.status", "http", Severity.CRITICAL, Status.FAIL, "GET / -> 503")
    text = render(gate_run([failing], 0.0))
    doctored = text.replace('"risk": {', '"risk": {"level": "LOW", ', 1)
    assert doctored != text
    with pytest.raises(ResultRefused, match="ambiguous JSON: key 'level' appears twice"):
        decode(doctored)

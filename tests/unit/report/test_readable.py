"""Values as a person writes them: units from the names the checks use, never from the kind."""

from __future__ import annotations

import pytest

from spark_ops.report import readable


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (4.6, "4.6"),
        (32.44, "32.4"),
        (105.83, "106"),
        (0.01723, "0.0172"),
        (200.0, "200"),
        (7, "7"),
        (True, "true"),
        (float("nan"), "nan"),
    ],
    ids=["small", "tens", "hundreds", "fraction", "whole-float", "int", "bool", "nan"],
)
def test_number(value, shown):
    """Three significant digits, whole numbers from 100 up; a NaN is shown as what it is, never as 0."""
    assert readable.number(value) == shown


@pytest.mark.parametrize(
    ("name", "value", "shown"),
    [
        ("p95_ms", 4.6, "p95 4.6 ms"),
        ("error_rate", 0.05, "error rate 5%"),
        ("exposition_bytes", 8637, "exposition 8.43 KiB"),
        ("uptime_s", 30.0, "uptime 30 s"),
        ("samples", 50, "50 samples"),
        ("late_slots", 1, "1 late slot"),
        ("bad", ["web: errored"], "bad: web: errored"),
    ],
    ids=["ms", "rate", "bytes", "seconds", "count", "one-of-a-count", "list"],
)
def test_a_named_figure(name, value, shown):
    """A reading's name gives its label and unit."""
    assert readable.observed({name: value}) == shown


def test_the_latency_probe_reads_as_percentiles_and_errors():
    """Figures first, then rates, then counts; counts of zero are left out except errors."""
    observed = {
        "samples": 50,
        "scheduled": 50,
        "errors": 0,
        "missed_slots": 0,
        "late_slots": 0,
        "error_rate": 0.0,
        "p50_ms": 2.23,
        "p95_ms": 4.6,
        "p99_ms": 64.2,
    }
    assert readable.observed(observed) == (
        "p50 2.23 ms · p95 4.6 ms · p99 64.2 ms · error rate 0% · 50 samples · 50 scheduled · 0 errors"
    )
    threshold = {"max_p95_ms": 150.0, "max_error_rate": 0.05}
    assert readable.versus(observed, threshold) == "p95 4.6 ms (max 150 ms) · error rate 0% (max 5%)"


def test_a_baseline_reads_as_a_labelled_group_after_the_checks_own_figures():
    """With --baseline the probe's observed holds the baseline's figures and the comparisons: each reads
    as one labelled group, so no figure of the baseline is taken for the canary's; no sample at all is
    shown (it is why a comparison could not be made)."""
    observed = {
        "samples": 50,
        "errors": 0,
        "error_rate": 0.0,
        "p95_ms": 4.3,
        "baseline": {"url": "http://b/", "samples": 0, "errors": 50, "late_slots": 0, "error_rate": 1.0},
        "comparison": {"verdict": "inconclusive", "p_value": None},
    }
    assert readable.observed(observed) == (
        "p95 4.3 ms · error rate 0% · 50 samples · 0 errors"
        " · baseline (url http://b/, error rate 100%, 0 samples, 50 errors)"
        " · comparison (verdict inconclusive, p value -)"
    )


@pytest.mark.parametrize(
    ("seen", "wanted", "readings", "shown"),
    [
        (200, [200], {"status_code": 200}, "200 (want 200)"),
        (503, [200, "3xx"], None, "503 (want 200, 3xx)"),
        (8637, {"min": 1024.0, "max": 262144.0}, {"exposition_bytes": 8637.0}, "8.43 KiB (1 KiB..256 KiB)"),
        (202.4, {"max": 150.0}, {"slo.latencyP95": 202.4}, "202 (max 150)"),
        (0.5, {"min": 1, "warn_min": 2}, None, "0.5 (min 1, warn below 2)"),
        ("DOWN", {"field": "status", "op": "==", "value": "UP"}, None, "DOWN (status == 'UP')"),
        (None, {"max": 150.0}, None, "- (max 150)"),
        (
            {"processes": 3, "bad": []},
            {"max_restarts": 10},
            None,
            "3 processes · bad: none (restarts max 10)",
        ),
    ],
    ids=["status", "status-ranges", "bytes-bounds", "slo", "warn-band", "json-assertion", "no-answer", "pm2"],
)
def test_observed_versus_threshold(seen, wanted, readings, shown):
    """One short text of what a check saw against what it wanted."""
    assert readable.versus(seen, wanted, readings) == shown

"""Durations and sizes as typed on a command line: parse_duration and parse_size, valid and invalid."""

from __future__ import annotations

from datetime import timedelta

import pytest

from spark_ops.errors import ConfigError, ExitCode
from spark_ops.units import DOMAINS, outside_domain, parse_duration, parse_size


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("90s", timedelta(seconds=90), id="seconds"),
        pytest.param("15m", timedelta(minutes=15), id="minutes"),
        pytest.param("24h", timedelta(hours=24), id="hours"),
        pytest.param("7d", timedelta(days=7), id="days"),
        pytest.param("2w", timedelta(weeks=2), id="weeks"),
        pytest.param("1h30m", timedelta(hours=1, minutes=30), id="hours-and-minutes"),
        pytest.param(
            "1w2d3h4m5s", timedelta(weeks=1, days=2, hours=3, minutes=4, seconds=5), id="every-unit"
        ),
        pytest.param("1.5h", timedelta(minutes=90), id="fraction"),
        pytest.param("0.5s", timedelta(milliseconds=500), id="half-a-second"),
        pytest.param("24H", timedelta(hours=24), id="upper-case"),
        pytest.param("  7d\n", timedelta(days=7), id="surrounding-space"),
        pytest.param("0h30m", timedelta(minutes=30), id="zero-part-and-positive-part"),
        pytest.param("1h1h", timedelta(hours=2), id="repeated-unit-adds-up"),
        pytest.param("3650d", timedelta(days=3650), id="ten-years"),
    ],
)
def test_parse_duration_reads_what_people_type(text, expected):
    """Durations in s, m, h, d, w (combined, fractional, any case) become the matching timedelta."""
    assert parse_duration(text, option="--since") == expected


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("   ", id="blank"),
        pytest.param("24", id="no-unit"),
        pytest.param("h", id="unit-only"),
        pytest.param("0s", id="zero"),
        pytest.param("0h0m", id="zero-parts"),
        pytest.param("-1h", id="negative"),
        pytest.param("+1h", id="plus-sign"),
        pytest.param("1x", id="unknown-unit"),
        pytest.param("1y", id="years"),
        pytest.param("1ms", id="milliseconds"),
        pytest.param("1h 30m", id="space-between-parts"),
        pytest.param("24 h", id="space-before-unit"),
        pytest.param("1.h", id="dot-without-decimals"),
        pytest.param(".5h", id="decimals-without-integer"),
        pytest.param("1,5h", id="decimal-comma"),
        pytest.param("1e3s", id="exponent"),
        pytest.param("24hours", id="unit-spelled-out"),
        pytest.param("7d ago", id="trailing-words"),
        pytest.param("P1D", id="iso-8601"),
        pytest.param("inf", id="infinity"),
        pytest.param("nan", id="nan"),
        pytest.param("1h-30m", id="dash-between-parts"),
    ],
)
def test_parse_duration_rejects_anything_else_as_a_usage_error(text):
    """Anything that is not a positive duration is a ConfigError (exit 2) naming the option and the text."""
    with pytest.raises(ConfigError) as caught:
        parse_duration(text, option="--older-than")
    assert caught.value.exit_code == ExitCode.USAGE_ERROR
    assert str(caught.value).startswith(f"--older-than: {text!r} is not a duration")


@pytest.mark.parametrize("text", ["9999999999d", "1000000000000000000000s"], ids=["days", "seconds"])
def test_parse_duration_of_an_absurd_length_is_a_usage_error(text):
    """A duration too large for a timedelta is a usage error (exit 2), not an OverflowError (exit 4)."""
    with pytest.raises(ConfigError):
        parse_duration(text, option="--since")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("4096", 4096, id="plain-bytes"),
        pytest.param("1", 1, id="one-byte"),
        pytest.param("64K", 64 * 1024, id="kibibytes"),
        pytest.param("64k", 64 * 1024, id="lower-case"),
        pytest.param("100M", 100 * 1024**2, id="mebibytes"),
        pytest.param("1G", 1024**3, id="gibibytes"),
        pytest.param("2T", 2 * 1024**4, id="tebibytes"),
        pytest.param("1KB", 1024, id="kb-suffix"),
        pytest.param("1KiB", 1024, id="kib-suffix"),
        pytest.param("100MB", 100 * 1024**2, id="mb-suffix"),
        pytest.param("512B", 512, id="b-suffix"),
        pytest.param("1 M", 1024**2, id="space-before-unit"),
        pytest.param("  2m  ", 2 * 1024**2, id="surrounding-space"),
        pytest.param("007K", 7 * 1024, id="leading-zeros"),
    ],
)
def test_parse_size_reads_what_people_type(text, expected):
    """Sizes in bytes or K, M, G, T (powers of 1024, with an optional B or iB) become a byte count."""
    assert parse_size(text, option="--max-log-bytes") == expected


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("0", id="zero"),
        pytest.param("0M", id="zero-with-unit"),
        pytest.param("-1", id="negative"),
        pytest.param("1.5G", id="fraction"),
        pytest.param("M", id="unit-only"),
        pytest.param("1P", id="petabytes"),
        pytest.param("1 2", id="two-numbers"),
        pytest.param("10MBs", id="trailing-letter"),
        pytest.param("1e6", id="exponent"),
        pytest.param("one", id="word"),
        pytest.param("1KK", id="unit-twice"),
        pytest.param("0x10", id="hexadecimal"),
        pytest.param("1_000", id="underscore"),
        pytest.param("100 megabytes", id="unit-spelled-out"),
    ],
)
def test_parse_size_rejects_anything_else_as_a_usage_error(text):
    """Anything that is not a positive whole size is a ConfigError (exit 2) naming the option and the text."""
    with pytest.raises(ConfigError) as caught:
        parse_size(text, option="--max-log-bytes")
    assert caught.value.exit_code == ExitCode.USAGE_ERROR
    assert str(caught.value).startswith(f"--max-log-bytes: {text!r} is not a size in bytes")


@pytest.mark.parametrize(
    ("value", "unit", "reason"),
    [
        (0, "ms", None),
        (1e9, "s", None),
        (-0.001, "ms", "outside its domain >= 0 (ms)"),
        (-1, "s", "outside its domain >= 0 (s)"),
        (0, "ratio", None),
        (1, "ratio", None),
        (1.0000001, "ratio", "outside its domain [0, 1] (ratio)"),
        (-0.5, "ratio", "outside its domain [0, 1] (ratio)"),
        (100, "percent", None),
        (100.5, "percent", "outside its domain [0, 100] (percent)"),
        (-3, "count", "outside its domain >= 0 (count)"),
        (-1e300, "number", None),
    ],
)
def test_a_figure_is_judged_against_the_domain_of_its_unit(value, unit, reason):
    """Latencies, staleness and counts are >= 0, ratios in [0, 1], percentages in [0, 100], bounds in."""
    assert outside_domain(value, unit) == reason


def test_every_unit_has_a_domain():
    """The units the slo kind accepts are exactly the ones with a domain."""
    from typing import get_args

    from spark_ops.checks.slo import Unit

    assert set(get_args(Unit)) == set(DOMAINS)

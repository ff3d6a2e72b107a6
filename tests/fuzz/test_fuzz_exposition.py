"""Fuzzing the exposition parser (``metrics`` checks) with generated, mutated and garbage expositions.

Well-formed expositions are generated from a list of samples (names, escaped label values, NaN and
infinities, timestamps): the parser reads back exactly those samples and agrees with
prometheus_client's own parser. Garbage and mutated expositions parse or raise ValueError, and a
``metrics`` check over a real socket judges them (FAIL, or PASS only when the text really holds the
series it asserts on) without a bare exception.
"""

from __future__ import annotations

import math
import string
from dataclasses import dataclass
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from spark_ops.errors import ConfigError
from spark_ops.exposition import Exposition, Sample, parse_exposition
from spark_ops.model import Status

from . import FUZZ, FUZZ_IO
from .conftest import Served, assert_not_crashed
from .test_fuzz_profile import mutate

LETTERS = string.ascii_letters
METRIC_NAMES = st.builds(
    str.__add__, st.sampled_from(LETTERS + "_:"), st.text(LETTERS + string.digits + "_:", max_size=12)
)
LABEL_NAMES = st.builds(
    str.__add__, st.sampled_from(LETTERS), st.text(LETTERS + string.digits + "_", max_size=8)
)
LABEL_VALUES = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(2**53), 2**53),
    st.sampled_from([0.0, -0.0, 1e-300, 1.7976931348623157e308]),
)


@dataclass(frozen=True)
class Written:
    """One sample as the exposition writes it."""

    name: str
    labels: dict[str, str]
    value: float | int
    timestamp_ms: int | None


def escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def format_value(value: float | int) -> str:
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, float) and math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)


def render(sample: Written) -> str:
    labels = ",".join(f'{k}="{escape_label(v)}"' for k, v in sample.labels.items())
    stamp = f" {sample.timestamp_ms}" if sample.timestamp_ms is not None else ""
    return (
        f"{sample.name}{{{labels}}} {format_value(sample.value)}{stamp}"
        if labels
        else (f"{sample.name} {format_value(sample.value)}{stamp}")
    )


@st.composite
def expositions(draw: st.DrawFn) -> tuple[str, list[Written]]:
    """A well-formed exposition (HELP, TYPE, samples of gauges, counters and untyped families)."""
    names = draw(st.lists(METRIC_NAMES, min_size=1, max_size=5, unique=True))
    lines: list[str] = []
    written: list[Written] = []
    for name in names:
        kind = draw(st.sampled_from(["gauge", "counter", "untyped", None]))
        if kind == "counter" and draw(st.booleans()):
            name = name.removesuffix("_total") + "_total"  # the convention (without it: renamed_by_client)
        if {name, f"{name}_total", name.removesuffix("_total")} & {w.name for w in written}:
            continue  # distinct families, also where prometheus_client adds "_total" to a counter
        if draw(st.booleans()):
            doc = draw(st.text(st.characters(exclude_categories=("Cs", "Cc", "Zl", "Zp")), max_size=20))
            lines.append(f"# HELP {name} {doc.replace(chr(92), chr(92) * 2)}")
        if kind is not None:
            lines.append(f"# TYPE {name} {kind}")
        for _ in range(draw(st.integers(1, 3))):
            labels = draw(st.dictionaries(LABEL_NAMES, LABEL_VALUES, max_size=3))
            stamp = draw(st.none() | st.integers(0, 2**42))
            sample = Written(name, labels, draw(VALUES), stamp)
            written.append(sample)
            lines.append(render(sample))
        if draw(st.booleans()):
            lines.append("")
    return "\n".join(lines) + "\n", written


def same_value(left: float, right: float) -> bool:
    return (math.isnan(left) and math.isnan(right)) or left == right


def renamed_by_client(text: str, name: str) -> str:
    """The name prometheus_client gives a sample: a counter declared without `_total` gets the suffix."""
    plain_counter = f"# TYPE {name} counter" in text.splitlines() and not name.endswith("_total")
    return f"{name}_total" if plain_counter else name


def read_back(parsed: Exposition) -> list[Sample]:
    """Every sample, family by family in the order the text names them (each family's in text order)."""
    order = [line.split("{")[0].split(" ")[0] for line in parsed.text.splitlines() if line[:1] not in "#"]
    return [sample for name in dict.fromkeys(order) for sample in parsed.samples(name)]


def client_samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    return [
        (s.name, dict(s.labels), float(s.value))
        for family in text_string_to_metric_families(text)
        for s in family.samples
    ]


@FUZZ
@given(generated=expositions())
@example(generated=('x{a="\\\\n\\""} NaN\n', [Written("x", {"a": '\\n"'}, math.nan, None)]))
def test_a_well_formed_exposition_reads_back_its_samples(generated: tuple[str, list[Written]]) -> None:
    """Every sample written comes back with its name, labels and value, as prometheus_client reads it;
    a series written twice (labels in any order) is reported as the duplicate."""
    text, written = generated
    parsed = parse_exposition(text)
    got = [(s.name, s.labels, s.value) for s in read_back(parsed)]
    assert [(n, labels) for n, labels, _ in got] == [(w.name, w.labels) for w in written]
    assert all(same_value(value, float(w.value)) for (_, _, value), w in zip(got, written, strict=True))
    reference = client_samples(text)
    assert [(n, labels) for n, labels, _ in reference] == [
        (renamed_by_client(text, n), labels) for n, labels, _ in got
    ]
    assert all(same_value(a, b) for (_, _, a), (_, _, b) in zip(reference, got, strict=True))
    assert {w.name for w in written} <= parsed.names
    identities = [(w.name, frozenset(w.labels.items())) for w in written]
    assert (parsed.duplicate is not None) == (len(set(identities)) < len(identities)), parsed.duplicate


GARBAGE = st.one_of(
    st.text(max_size=200),
    st.text(st.sampled_from('a_:{}=",\\ \n\t#0123456789.eE+-NaInf'), max_size=80),
    st.sampled_from(
        [
            "# TYPE x nonsense\nx 1\n",
            "# TYPE x\n",
            "x 1" + "0" * 400 + "\n",
            "x{a=1} 2\n",
            'x{a="1",a="2"} 3\n',
            'x{a="1"',
            "x 1 2 3 4\n",
            "x 1_000\n",
            "{} 1\n",
            '{__name__="x"} 1\n',
            "x NaNx\n",
            "\x00 1\n",
        ]
    ),
)


@FUZZ
@given(text=GARBAGE)
def test_garbage_parses_or_is_a_value_error(text: str) -> None:
    """Any text gives an exposition or a ValueError with a reason, never another exception."""
    try:
        parsed = parse_exposition(text)
    except ValueError as exc:
        assert str(exc).strip(), f"a {type(exc).__name__} without a reason"
        return
    assert all(isinstance(s.value, float) for s in read_back(parsed))


EDITS = st.lists(
    st.tuples(
        st.integers(0, 2000),
        st.integers(0, 10),
        st.binary(max_size=6)
        | st.sampled_from([b"{", b"}", b'"', b"\\", b"\n", b"#", b" ", b"\xff", b"NaN"]),
    ),
    min_size=1,
    max_size=4,
)


def would_pass(body: bytes, metric: str, low: float, high: float) -> bool:
    """The documented PASS: it parses, has series, none twice, and every ``metric`` is in bounds."""
    try:
        parsed = parse_exposition(body.decode("utf-8", "surrogateescape"))
    except ValueError:
        return False
    matching = list(parsed.samples(metric))
    no_duplicate = parsed.duplicate is None
    return (
        parsed.series > 0
        and no_duplicate
        and bool(matching)
        and all(low <= s.value <= high for s in matching)
    )


@FUZZ_IO
@given(generated=expositions(), edits=EDITS | st.just([]), low=st.floats(-1e6, 0), high=st.floats(0, 1e6))
@example(generated=("x 1" + "0" * 400 + "\n", []), edits=[], low=0.0, high=1.0)
@example(generated=("x 1\n", []), edits=[(3, 0, b"\xff")], low=0.0, high=1.0)
@example(generated=("x 1\n", []), edits=[], low=0.0, high=1.0)
def test_a_metrics_check_judges_any_exposition(
    served: Served,
    generated: tuple[str, list[Any]],
    edits: list[tuple[int, int, bytes]],
    low: float,
    high: float,
) -> None:
    """A metrics check on a mutated exposition PASSes only when the asserted series are in bounds."""
    text, written = generated
    body = mutate(text.encode(), edits)
    metric = written[0].name if written else "x"
    served.answer(body, content_type="text/plain; version=0.0.4")
    result = served.run(
        "metrics", {"path": "/metrics", "values": [{"metric": metric, "min": low, "max": high}]}
    )
    assert not isinstance(result, ConfigError), result
    assert_not_crashed(result)
    assert (result.status is Status.PASS) == would_pass(body, metric, low, high), result.message
    if result.status is not Status.PASS:
        assert result.status in (Status.FAIL, Status.INCONCLUSIVE), result.message


def test_a_counter_without_total_keeps_its_name() -> None:
    """A counter declared without `_total` is read under the name it was written with, as Prometheus does."""
    parsed = parse_exposition("# TYPE jobs counter\njobs 3\n# TYPE runs_total counter\nruns_total 4\n")
    assert [(s.name, s.value) for s in read_back(parsed)] == [("jobs", 3.0), ("runs_total", 4.0)]

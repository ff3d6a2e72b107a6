"""Differential test: the ``metrics`` kind's OpenMetrics parser says "parses" where prometheus-client's
strict ``prometheus_client.openmetrics.parser`` does (as test_metrics_promtool.py holds the text format
beside promtool).

prometheus-client's parser is independent of ours (another code base) and strict about OpenMetrics:
``# EOF``, metric grouping, histogram buckets, exemplars. Where it is laxer than the OpenMetrics 1.0
grammar, we refuse and it accepts; those divergences are listed (``STRICTER``) and every one met must be
one of them: anything prometheus-client refuses, we refuse too.
"""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from spark_ops import openmetrics
from spark_ops.exposition import ExpositionError
from spark_ops.openmetrics import Truncated, parse_openmetrics

COUNTER = (
    "# HELP req Requests.\n# TYPE req counter\n"
    'req_total{code="200",path="/a\\"b"} 1027 # {trace_id="abc"} 1 1700000000.5\n'
    'req_created{code="200",path="/a\\"b"} 1700000000\n'
)
HISTOGRAM = (
    "# TYPE lat_seconds histogram\n# UNIT lat_seconds seconds\n"
    'lat_seconds_bucket{le="0.1"} 3\nlat_seconds_bucket{le="1"} 5 # {trace_id="x"} 0.5\n'
    'lat_seconds_bucket{le="+Inf"} 6\nlat_seconds_count 6\nlat_seconds_sum 2.5\nlat_seconds_created 1.7e9\n'
)
INFO = '# TYPE build info\nbuild_info{version="1.2"} 1\n'
STATESET = '# TYPE mode stateset\nmode{mode="a"} 1\nmode{mode="b"} 0\n'
SUMMARY = '# TYPE q summary\nq{quantile="0.5"} 0.1\nq{quantile="0.99"} 0.9\nq_sum 3\nq_count 7\n'
GAUGEHISTOGRAM = '# TYPE g gaugehistogram\ng_bucket{le="1"} 2\ng_bucket{le="+Inf"} 3\ng_gcount 3\ng_gsum 4\n'
GAUGE = '# TYPE temp gauge\ntemp{room="x"} -1.5 1700000000\ntemp{room="y"} NaN\nmystery 3\n'
FULL = COUNTER + HISTOGRAM + INFO + STATESET + SUMMARY + GAUGEHISTOGRAM + GAUGE + "# EOF\n"

# Where prometheus-client accepts what OpenMetrics 1.0 (and so this parser) refuses: our reason for each.
STRICTER = {
    "a colon in a label name (label names are [a-zA-Z_][a-zA-Z0-9_]*)": r"invalid label name '[^']*:",
    "a backslash in a label name (it unescapes names as it does values)": r"invalid label name '[^']*\\",
    "a doubled space before an exemplar's # (its scanner skips it)": r"invalid value or timestamp '[^']* '",
    "a timestamp whose fraction starts with a sign, 5.+1 (int() reads '+1000000')": (
        r"invalid timestamp '[^']*\.[+-]"
    ),
    "a timestamp's fraction beyond nine digits (it reads the first nine)": (
        r"invalid timestamp '[+-]?[0-9]*\.[0-9]{9}"
    ),
    "a space between a name and its label set (it keeps the space in the name)": r"invalid value '\{",
    "a quote in a timestamp (its scanner skips text between quotes)": r"invalid timestamp '[^']*\"",
    "a tab in a name or a number, a space in an exemplar's (Python's strip() and int() drop them)": (
        r"invalid (metric name|label name|value|timestamp) '[^']*\\t|invalid exemplar '\{.*\}( \S+){3,}'"
    ),
    "a metric name in quotes or in __name__ (UTF-8 names come after 1.0)": r"quoted names are not Open",
    "digits that are not ASCII (Python's int() reads them)": r"invalid (value|timestamp) '[^']*[^\x00-\x7f]",
    "any character where the space after a label set belongs (it skips one)": (
        r"expected a space before the value"
    ),
    "a # line whose first word is not # alone (it reads any first word)": r"not a HELP, TYPE or UNIT line",
    "doubled spaces between a metadata line's words (its splitter collapses them)": r"doubled spaces in a",
}

# (id, exposition, parses): every row is also run through prometheus-client, which must agree.
CORPUS: list[tuple[str, str, bool]] = [
    ("every-type", FULL, True),
    ("only-eof", "# EOF\n", True),
    ("eof-without-newline", "up 1\n# EOF", True),
    ("counter-family-without-total", "# TYPE a counter\na_total 1\n# EOF\n", True),
    ("counter-created", "# TYPE a counter\na_total 1\na_created 1.7e9\n# EOF\n", True),
    ("unit-matches-name", "# TYPE a_seconds gauge\n# UNIT a_seconds seconds\na_seconds 1\n# EOF\n", True),
    ("help-empty", "# HELP a \na 1\n# EOF\n", True),
    ("exemplar-on-counter", '# TYPE a counter\na_total 1 # {t="x"} 1\n# EOF\n', True),
    ("exemplar-with-timestamp", '# TYPE a counter\na_total 1 5 # {t="x"} 1 5.5\n# EOF\n', True),
    ("float-timestamps", "a 1 1.5\na 2 2.5\n# EOF\n", True),
    ("same-timestamp-twice", "a 1 5\na 1 5\n# EOF\n", True),
    ("label-escapes", 'a{p="x\\"y\\\\z\\n"} 1\n# EOF\n', True),
    ("empty-label-set", "a{} 1\n# EOF\n", True),
    ("unknown-type", "# TYPE a unknown\na 1\n# EOF\n", True),
    ("nan-inf-values", "a NaN\nb +Inf\nc -Inf\n# EOF\n", True),
    ("no-eof", "up 1\n", False),
    ("empty", "", False),
    ("cut-mid-line", 'up{a="1"} 1\nup{a="2', False),
    ("line-after-eof", "up 1\n# EOF\nup 2\n", False),
    ("blank-line-after-eof", "up 1\n# EOF\n\n", False),
    ("blank-line", "a 1\n\n# EOF\n", False),
    ("plain-comment", "# hello\na 1\n# EOF\n", False),
    ("untyped", "# TYPE a untyped\na 1\n# EOF\n", False),
    ("type-upper-case", "# TYPE a GAUGE\na 1\n# EOF\n", False),
    ("counter-sample-without-total", "# TYPE a counter\na 1\n# EOF\n", False),
    ("counter-family-named-total", "# TYPE a_total counter\na_total 1\n# EOF\n", False),
    ("unit-does-not-match", "# TYPE a counter\n# UNIT a seconds\na_total 1\n# EOF\n", False),
    ("unit-on-info", "# TYPE i_x info\n# UNIT i_x x\ni_x_info 1\n# EOF\n", False),
    ("info-value-not-1", "# TYPE i info\ni_info 2\n# EOF\n", False),
    ("stateset-without-its-label", '# TYPE m stateset\nm{x="a"} 1\n# EOF\n', False),
    ("stateset-value-2", '# TYPE m stateset\nm{m="a"} 2\n# EOF\n', False),
    ("exemplar-on-gauge", '# TYPE a gauge\na 1 # {t="x"} 1\n# EOF\n', False),
    ("exemplar-too-long", f'# TYPE a counter\na_total 1 # {{t="{"x" * 128}"}} 1\n# EOF\n', False),
    ("interleaved-families", "a 1\nb 1\na 2\n# EOF\n", False),
    ("split-group", 'a{x="1"} 1\na{x="2"} 1\na{x="1"} 2\n# EOF\n', False),
    ("timestamps-backwards", "a 1 5\na 2 4\n# EOF\n", False),
    ("timestamp-on-some", "a 1 5\na 2\n# EOF\n", False),
    ("metadata-after-samples", "a 1\n# HELP a x\n# EOF\n", False),
    ("second-type", "# TYPE a gauge\n# TYPE a gauge\na 1\n# EOF\n", False),
    ("negative-counter", "# TYPE a counter\na_total -1\n# EOF\n", False),
    ("nan-counter", "# TYPE a counter\na_total NaN\n# EOF\n", False),
    ("histogram-without-inf", '# TYPE h histogram\nh_bucket{le="1"} 1\n# EOF\n', False),
    (
        "histogram-inf-spelt-inf",
        '# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="Inf"} 1\n# EOF\n',
        False,
    ),
    (
        "histogram-buckets-go-down",
        '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\n# EOF\n',
        False,
    ),
    (
        "histogram-count-mismatch",
        '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_count 3\nh_sum 1\n# EOF\n',
        False,
    ),
    ("histogram-count-without-sum", '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_count 2\n# EOF\n', False),
    ("histogram-fractional-bucket", '# TYPE h histogram\nh_bucket{le="+Inf"} 1.5\n# EOF\n', False),
    ("quantile-out-of-range", '# TYPE s summary\ns{quantile="1.5"} 1\n# EOF\n', False),
    ("negative-quantile-value", '# TYPE s summary\ns{quantile="0.5"} -1\n# EOF\n', False),
    ("trailing-space", "a 1 \n# EOF\n", False),
    ("double-space", "a  1\n# EOF\n", False),
    ("trailing-comma-in-labels", 'a{b="1",} 1\n# EOF\n', False),
    ("duplicate-label", 'a{b="1",b="2"} 1\n# EOF\n', False),
    ("reserved-label", 'a{__b="1"} 1\n# EOF\n', False),
    ("crlf", "a 1\r\n# EOF\n", False),
    ("underscore-in-value", "a 1_0\n# EOF\n", False),
    ("hex-value", "a 0x10\n# EOF\n", False),
    ("infinite-timestamp", "a 1 Inf\n# EOF\n", False),
]


def theirs(text: str) -> str | None:
    """prometheus-client's verdict: None when it parses, else its error."""
    try:
        list(text_string_to_metric_families(text))
    except Exception as exc:  # it raises ValueError, KeyError, IndexError... on malformed text
        return f"{type(exc).__name__}: {exc}"
    return None


def ours(text: str) -> str | None:
    try:
        parse_openmetrics(text)
    except ExpositionError as exc:
        return str(exc)
    return None


def stricter(reason: str) -> str | None:
    """Which listed divergence ``reason`` is, or None."""
    return next((what for what, pattern in STRICTER.items() if re.search(pattern, reason)), None)


@pytest.mark.parametrize(("text", "parses"), [c[1:] for c in CORPUS], ids=[c[0] for c in CORPUS])
def test_same_verdict_as_prometheus_client(text, parses):
    """Each corpus exposition parses for us exactly when prometheus-client's does (and as the row says)."""
    assert (theirs(text) is None) is parses, (
        f"the corpus row disagrees with prometheus-client: {theirs(text)}"
    )
    assert (ours(text) is None) is parses, ours(text)


@pytest.mark.parametrize(
    "text",
    [
        'a{b:c="1"} 1\n# EOF\n',
        '{__name__="a"} 1\n# EOF\n',
        "a \u0661\n# EOF\n",
        'q{quantile="0.5"}a0.1\n# EOF\n',
        "#7 TYPE a gauge\na 1\n# EOF\n",
        "#  HELP  a  x\n# EOF\n",
        "# TYPE  a gauge\na 1\n# EOF\n",
        'a{b\\n="1"} 1\n# EOF\n',
        'a 1 170000"000\n# EOF\n',
        "# HELP \ta x\na 1\n# EOF\n",
        "a 1 17\t.5\n# EOF\n",
        '# TYPE a counter\na_total 1 # {t="x"} 1 17 .5\n# EOF\n',
        '# TYPE a counter\na_total 1  # {t="x"} 1\n# EOF\n',
        '# TYPE a counter\na_total 1 # {t="x"} 1 17.+\n# EOF\n',
        "a 1 1.700000000.5\n# EOF\n",
        'a {b="1"} 1\n# EOF\n',
    ],
    ids=[
        "colon-label",
        "name-label",
        "arabic-digit",
        "skipped-space",
        "hash-word",
        "double-spaces",
        "space-name",
        "escaped-label-name",
        "quoted-timestamp",
        "tab-in-name",
        "tab-in-timestamp",
        "space-in-exemplar-timestamp",
        "double-space-before-exemplar",
        "sign-as-fraction",
        "two-dots-in-timestamp",
        "space-before-labels",
    ],
)
def test_each_listed_divergence_is_real(text):
    """Every STRICTER entry is a case prometheus-client accepts and we refuse, for the listed reason."""
    assert theirs(text) is None
    reason = ours(text)
    assert reason is not None and stricter(reason) is not None, reason


def test_no_eof_is_truncated():
    """Without ``# EOF`` the error is Truncated (the metrics kind says "truncated")."""
    with pytest.raises(Truncated, match="truncated"):
        parse_openmetrics(FULL.removesuffix("# EOF\n"))


# Edits that matter to the grammar, where they hurt: characters; whole lines doubled, dropped, swapped.
PIECES = [
    *'abc_{}="\\, #.0123456789+-eEInfaN\n\t:',
    *("# EOF\n", "_total", "_bucket", 'le="+Inf"', ' # {a="b"} 1'),
]


def edit(text: str, rng: random.Random) -> str:
    for _ in range(rng.randint(1, 3)):
        action, at = rng.randrange(6), rng.randrange(len(text) + 1)
        if action == 0:
            text = text[:at] + rng.choice(PIECES) + text[at:]
        elif action == 1:
            text = text[:at] + text[at + 1 :]
        elif action == 2:
            text = text[:at] + rng.choice(PIECES) + text[at + 1 :]
        else:
            lines = text.split("\n")
            one, other = rng.randrange(len(lines)), rng.randrange(len(lines))
            if action == 3:
                lines.insert(other, lines[one])
            elif action == 4:
                del lines[one]
            else:
                lines[one], lines[other] = lines[other], lines[one]
            text = "\n".join(lines)
    return text


def assert_agree(text: str) -> bool:
    """Both parse, both refuse, or we refuse for a listed divergence; True when ours parses."""
    them, us = theirs(text), ours(text)
    if them is not None:
        assert us is not None, f"prometheus-client refuses ({them}) what we accept: {text!r}"
    elif us is not None:
        assert stricter(us) is not None, f"we refuse ({us}) what prometheus-client accepts: {text!r}"
    return us is None


def test_same_verdict_on_edited_expositions():
    """On 3000 random edits of a valid exposition of every type, we agree with prometheus-client on each
    (or refuse for a listed divergence), and the edits make both kinds of exposition."""
    rng = random.Random(14)
    verdicts = {assert_agree(edit(FULL, rng)) for _ in range(3000)}
    assert verdicts == {True, False}


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.randoms(use_true_random=False))
@example(random.Random(0))
def test_same_verdict_on_edits_hypothesis_picks(rng):
    """The same, with hypothesis choosing the edits (and shrinking any disagreement to a small one)."""
    assert_agree(edit(FULL, rng))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([*PIECES, " ", "a", "1", "# TYPE a counter\n", "# EOF"]), max_size=30))
def test_same_verdict_on_generated_text(pieces):
    """Texts built from the grammar's pieces: never accepted where prometheus-client refuses."""
    assert_agree("".join(pieces))


def test_samples_and_families_match_prometheus_client():
    """Families, sample names and every sample's labels and value equal prometheus-client's parse."""
    parsed = parse_openmetrics(FULL)
    families = list(text_string_to_metric_families(FULL))
    assert parsed.families == {family.name for family in families}
    expected = {
        (s.name, tuple(sorted(s.labels.items())), repr(float(s.value))) for f in families for s in f.samples
    }
    got = {
        (s.name, tuple(sorted(s.labels.items())), repr(s.value))
        for name in parsed.sample_names
        for s in parsed.samples(name)
    }
    assert got == expected
    assert parsed.series == len(expected)


def fleet(instances: int) -> str:
    """A fleet-like OpenMetrics exposition whose shapes repeat (most lines take the compiled-shape path)."""
    lines = ["# HELP rpc Calls.\n# TYPE rpc counter\n"]
    for pod in range(instances):
        for code in (200, 500):
            exemplar = f' # {{trace_id="t{pod}"}} 1' if pod % 3 == 0 else ""
            lines.append(f'rpc_total{{pod="p{pod}",code="{code}",path="/a\\"b"}} {pod * code}{exemplar}\n')
    lines.append("# TYPE rpc_seconds histogram\n")
    for pod in range(instances):
        for le, count in (("0.1", pod), ("1", pod + 1), ("+Inf", pod + 2)):
            exemplar = ' # {trace_id="x"} 0.5' if le == "1" and pod % 4 == 0 else ""
            lines.append(f'rpc_seconds_bucket{{pod="p{pod}",le="{le}"}} {count}{exemplar}\n')
        lines += [f'rpc_seconds_sum{{pod="p{pod}"}} 1.5\n', f'rpc_seconds_count{{pod="p{pod}"}} {pod + 2}\n']
    lines.append("# TYPE queue gauge\n")
    for pod in range(instances):
        lines.append(f'queue{{pod="p{pod}"}} {"NaN" if pod % 7 else pod}\n')
    lines.append("# TYPE seen gauge\n")
    for pod in range(instances):
        lines.append(f'seen{{pod="p{pod}"}} {pod} {1700000000 + pod}\n')
    return "".join(lines) + "# EOF\n"


def test_same_verdict_on_edited_fleet_expositions():
    """600 random edits of a fleet exposition (long runs of one shape, read the short way): we agree with
    prometheus-client on each (or refuse for a listed divergence)."""
    rng = random.Random(7)
    base = fleet(12)
    assert ours(base) is None and theirs(base) is None
    verdicts = {assert_agree(edit(base, rng)) for _ in range(600)}
    assert verdicts == {True, False}


def outcome(text: str) -> tuple[str, int, frozenset[str], str | None]:
    """What parse_openmetrics makes of ``text``: its error, or its series, families and first duplicate."""
    try:
        parsed = parse_openmetrics(text)
    except ExpositionError as exc:
        return str(exc), -1, frozenset(), None
    return "", parsed.series, parsed.families, parsed.duplicate


def test_compiled_shapes_change_nothing_on_edited_fleet_expositions(monkeypatch):
    """With line shapes compiled or not (every line through the exact reader), 400 edits of a fleet
    exposition get the same error (line and reason) or the same series, families and duplicate."""
    rng = random.Random(5)
    base = fleet(8)
    texts = [edit(base, rng) for _ in range(400)] + [base.replace('queue{pod="p3"}', 'queue{pod="p2"}')]
    fast = [outcome(text) for text in texts]
    monkeypatch.setattr(openmetrics, "_MAX_SHAPES_PER_NAME", 0)
    assert [outcome(text) for text in texts] == fast
    assert {message == "" for message, *_ in fast} == {True, False}
    assert fast[-1][:1] + fast[-1][3:] == ("", 'queue{pod="p2"}')  # a series twice in a row: a duplicate

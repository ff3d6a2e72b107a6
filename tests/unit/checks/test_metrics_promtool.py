"""Differential test: the ``metrics`` kind's parser says "parses" exactly when ``promtool check metrics``
does.

``promtool check metrics`` (Prometheus 2.x) parses stdin with the Go text parser of prometheus/common, then
lints what parsed. Its exit code: 1 when the exposition does not parse ("error while linting: text format
parsing error ..."), 3 when it parses but has lint problems (no HELP, counter not named _total, ...), 0
when it parses clean. Lint is advice, not validity, so the verdict compared is "exit 1" against our
ExpositionError. Without promtool these tests skip, except under ``SPARK_REQUIRE_TOOLS=1``, where they fail.
"""

from __future__ import annotations

import random
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import promtool

from spark_ops import exposition
from spark_ops.exposition import ExpositionError, parse_exposition

HIST = '# TYPE h histogram\nh_bucket{le="0.5"} 1\nh_bucket{le="+Inf"} 2\nh_sum 1.5\nh_count 2\n'
SUMMARY = '# TYPE s summary\ns{quantile="0.5"} 1\ns_sum 3\ns_count 2\n'
GOOD = '# HELP up Whether up.\n# TYPE up gauge\nup{job="a",instance="x:1"} 1\n'

# (id, exposition, parses): every row is also run through promtool, which must agree.
CORPUS: list[tuple[str, bytes | str, bool]] = [
    ("plain", GOOD, True),
    ("no-labels", "up 1\n", True),
    ("empty", "", True),
    ("blank-lines", "\n\n  \n\t\n", True),
    ("comments-only", "# just a comment\n#\n# HELP up\n", True),
    ("histogram", HIST, True),
    ("summary", SUMMARY, True),
    ("timestamp", "up 1 1764600000000\n", True),
    ("negative-timestamp", "up 1 -5\n", True),
    ("nan-inf-values", "a NaN\nb +Inf\nc -Inf\nd nan\ne Infinity\nf -inf\n", True),
    ("float-forms", "a .5\nb 5.\nc 1E+5\nd -0\ne 00001\nf 1e-400\n", True),
    ("escapes-in-labels", 'up{p="a\\"b\\\\c\\nd"} 1\n', True),
    ("escapes-in-help", "# HELP up a\\nb\\\\c\nup 1\n", True),
    ("spaces-and-tabs", 'up { a = "1" ,\tb="2" , }\t1\n', True),
    ("no-space-after-labels", 'up{a="1"}1\n', True),
    ("empty-label-set", "up{} 1\n", True),
    ("leading-blanks", "   up 1\n", True),
    ("trailing-blank-line-without-newline", "up 1\n  \t", True),
    ("type-any-case", "# TYPE up GAUGE\nup 1\n", True),
    # Parses for both; the metrics check then FAILs it (test_metrics.py::test_a_series_written_twice_fails).
    ("duplicate-series", 'up{a="1"} 1\nup{a="1"} 2\n', True),
    ("family-split-across-text", "a 1\nb 1\na 2\n", True),
    ("help-after-samples", "up 1\n# HELP up Whether up.\n", True),
    ("hash-help-without-space", "#HELP up x\nup 1\n", True),
    ("le-twice-in-histogram", '# TYPE h histogram\nh_bucket{le="1",le="2"} 1\n', True),
    ("le-is-any-label-outside-histograms", 'up{le="x"} 1\n', True),
    ("not-utf8-in-comment", b"# caf\xe9\nup 1\n", True),
    ("not-utf8-in-help", b"# HELP up caf\xe9\nup 1\n", True),
    ("utf8-label-value", 'up{city="Z\u00fcrich \u6771\u4eac"} 1\n', True),
    ("value-glued-to-name", "up-1\n", True),
    ("no-final-newline", "up 1", False),
    ("comment-without-final-newline", "up 1\n# end", False),
    ("truncated-label-value", 'up{a="1', False),
    ("crlf-line-endings", "up 1\r\n", False),
    ("crlf-after-type", "# TYPE up gauge\r\nup 1\n", False),
    ("trailing-space-after-value", "up 1 \n", False),
    ("trailing-space-after-timestamp", "up 1 5 \n", False),
    ("float-timestamp", "up 1 1.5\n", False),
    ("timestamp-beyond-int64", "up 1 99999999999999999999\n", False),
    ("word-as-value", "up lots\n", False),
    ("no-value", "up\n", False),
    ("no-value-after-labels", 'up{a="1"}\n', False),
    ("signed-nan", "up +NaN\n", False),
    ("float-overflow", "up 1e400\n", False),
    ("hex-value", "up 0x10\n", False),
    ("underscore-in-value", "up 1_000\n", False),
    ("bad-escape-in-label", 'up{a="x\\ty"} 1\n', False),
    ("quote-escape-in-help", '# HELP up a \\"b\\"\nup 1\n', False),
    ("backslash-ending-help", "# HELP up a\\\nup 1\n", False),
    ("unquoted-label-value", "up{a=x} 1\n", False),
    ("unclosed-label-set", 'up{a="1" 1\n', False),
    ("label-without-value", "up{a} 1\n", False),
    ("empty-label-name", "up{,} 1\n", False),
    ("label-name-starts-with-digit", 'up{1a="x"} 1\n', False),
    ("reserved-label-name", 'up{__name__="x"} 1\n', False),
    ("duplicate-label-name", 'up{a="1",a="2"} 1\n', False),
    ("not-utf8-in-label-value", b'up{a="caf\xe9"} 1\n', False),
    ("not-utf8-name", b"\xff\xfe garbage\n", False),
    ("byte-order-mark", "\ufeffup 1\n", False),
    ("name-starts-with-digit", "1up 1\n", False),
    ("unicode-name", "caf\u00e9 1\n", False),
    ("html", "<html><body>Bad Gateway</body></html>\n", False),
    ("json", '{"status": "UP"}\n', False),
    ("second-type", "# TYPE up gauge\n# TYPE up gauge\nup 1\n", False),
    ("type-after-samples", "up 1\n# TYPE up gauge\n", False),
    ("second-help", "# HELP up a\n# HELP up b\nup 1\n", False),
    ("unknown-type", "# TYPE up gaugehistogram\nup 1\n", False),
    ("type-with-trailing-word", "# TYPE up gauge extra\nup 1\n", False),
    ("type-with-trailing-space", "# TYPE up gauge \nup 1\n", False),
    ("bad-name-in-help", "# HELP up-time x\nup 1\n", False),
    ("help-of-summary-count-is-the-summary-s", "# TYPE s summary\n# HELP s_count x\n# HELP s y\n", False),
    ("type-of-summary-count", "# TYPE s summary\n# TYPE s_count counter\ns_count 1\n", False),
    ("bad-quantile", '# TYPE s summary\ns{quantile="high"} 1\n', False),
    ("quantile-on-summary-sum", '# TYPE s summary\ns_sum{quantile="x"} 1\n', False),
    # A plain line first, then one of the same shape that breaks: the second goes through the fast path.
    ("bad-le-after-good", '# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="1e400"} 2\n', False),
    ("overflow-after-good", 'up{a="1"} 1\nup{a="2"} 1e999\n', False),
    ("bad-escape-after-good", 'up{a="1"} 1\nup{a="\\x"} 1\n', False),
    ("not-utf8-after-good", b'up{a="1"} 1\nup{a="\xff"} 1\n', False),
    ("timestamp-after-good", "up 1 5\nup 1 5.5\n", False),
    ("duplicate-label-after-good", 'up{a="1",b="2"} 1\nup{a="1",a="2"} 1\n', False),
]


def test_missing_promtool_skips_locally_and_fails_in_ci(monkeypatch, tmp_path):
    """Without promtool on PATH these tests skip (GitHub's CI=true too), but fail under .ci/run's
    SPARK_REQUIRE_TOOLS=1: CI never skips them."""
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("SPARK_REQUIRE_TOOLS", raising=False)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.skip.Exception):
        promtool()
    monkeypatch.setenv("SPARK_REQUIRE_TOOLS", "1")
    with pytest.raises(pytest.fail.Exception, match="promtool is missing"):
        promtool()


def promtool_parses(body: bytes) -> bool:
    """promtool's verdict: exit 1 is a parse error; 0 (clean) and 3 (lint problems) both parsed."""
    done = subprocess.run(
        [promtool(), "check", "metrics"], input=body, capture_output=True, timeout=60, check=False
    )
    assert done.returncode in (0, 1, 3), done.stderr.decode(errors="replace")
    if done.returncode == 1:
        assert b"parsing error" in done.stderr or b"error while linting" in done.stderr, done.stderr
    return done.returncode != 1


def we_parse(body: bytes) -> bool:
    """Our verdict, decoding as the kind does."""
    try:
        parse_exposition(body.decode("utf-8", "surrogateescape"))
    except ExpositionError:
        return False
    return True


def as_bytes(text: bytes | str) -> bytes:
    return text if isinstance(text, bytes) else text.encode()


@pytest.mark.parametrize(("text", "parses"), [c[1:] for c in CORPUS], ids=[c[0] for c in CORPUS])
def test_same_verdict_as_promtool(text, parses):
    """Each exposition of the corpus parses for us exactly when it does for promtool (and as the row says)."""
    body = as_bytes(text)
    assert promtool_parses(body) is parses, "the corpus row disagrees with promtool"
    assert we_parse(body) is parses


# Mutations of a realistic exposition: characters that matter to the grammar, put where they hurt.
MUTATIONS = (" ", "\t", "\n", '"', "\\", "{", "}", ",", "=", "#", "e", "+", "-", ".", "_", "\r", "\xe9", "p")


def mutants(count: int, seed: int = 11) -> list[bytes]:
    base = GOOD + HIST + SUMMARY + 'up{job="b",instance="y:2"} NaN 1764600000000\n'
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        text = base
        for _ in range(rng.randint(1, 2)):
            at = rng.randrange(len(text))
            action = rng.random()
            if action < 0.4:
                text = text[:at] + rng.choice(MUTATIONS) + text[at:]
            elif action < 0.7:
                text = text[:at] + text[at + 1 :]
            else:
                text = text[:at] + rng.choice(MUTATIONS) + text[at + 1 :]
        out.append(text.encode())
    return out


def test_same_verdict_as_promtool_on_mutated_expositions():
    """On 200 random one- or two-character edits of a valid exposition, we and promtool agree on each."""
    bodies = mutants(200)
    with ThreadPoolExecutor(4) as pool:  # promtool is a process per exposition
        theirs = list(pool.map(promtool_parses, bodies))
    ours = [we_parse(body) for body in bodies]
    disagreements = [body for body, a, b in zip(bodies, ours, theirs, strict=True) if a is not b]
    assert not disagreements, disagreements[:3]
    assert set(ours) == {True, False}  # the edits make both kinds of exposition


def fleet(instances: int) -> str:
    """A fleet-like exposition where each shape repeats (so most lines take the compiled-shape path)."""
    lines = ["# HELP rpc_total Calls.\n# TYPE rpc_total counter\n"]
    for pod in range(instances):
        for code in (200, 500):
            lines.append(f'rpc_total{{pod="p{pod}",code="{code}",path="/a\\"b"}} {pod * code}\n')
    lines.append("# TYPE rpc_seconds histogram\n")
    for pod in range(instances):
        for le in ("0.1", "1", "+Inf"):
            lines.append(f'rpc_seconds_bucket{{pod="p{pod}",le="{le}"}} {pod}\n')
        lines += [f'rpc_seconds_sum{{pod="p{pod}"}} 1.5\n', f'rpc_seconds_count{{pod="p{pod}"}} {pod}\n']
    lines.append("# TYPE queue gauge\n")
    for pod in range(instances):
        lines.append(f'queue{{pod="p{pod}"}} {"NaN" if pod % 7 else pod} 1764600000000\n')
    return "".join(lines)


def test_series_and_families_match_prometheus_client_on_a_fleet_exposition():
    """Series count, family names and every sample's labels and value equal prometheus-client's parse."""
    from prometheus_client.parser import text_string_to_metric_families

    text = fleet(300)
    ours = parse_exposition(text)
    theirs = list(text_string_to_metric_families(text))
    assert ours.series == sum(len(family.samples) for family in theirs) == 300 * 8
    assert ours.families == {"rpc_total", "rpc_seconds", "queue"}
    for name in ("rpc_total", "rpc_seconds_bucket", "rpc_seconds_count", "queue"):
        expected = [(s.labels, s.value) for f in theirs for s in f.samples if s.name == name]
        got = [(s.labels, s.value) for s in ours.samples(name)]
        assert [(labels, repr(value)) for labels, value in got] == [
            (labels, repr(float(value))) for labels, value in expected
        ]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('rpc_total{pod="p1",code="200",path="/a\\"b"} 1e999', "expected float as value"),
        ('rpc_total{pod="p1",code="200",path="/a\\q"} 1', "invalid escape sequence"),
        ('rpc_seconds_bucket{pod="p1",le="many"} 1', "for 'le' label"),
        ('queue{pod="p1"} 1 1.5', "expected integer as timestamp"),
        ('queue{pod="p1",pod="p2"} 1', "duplicate label names"),
        ("queue 1 ", "expected integer as timestamp"),
    ],
    ids=["overflow", "bad-escape", "bad-le", "float-timestamp", "duplicate-label", "trailing-blank"],
)
def test_a_bad_line_among_many_of_its_shape_is_found_with_its_line_number(line, reason):
    """A broken line after hundreds of good ones of the same shape still fails, naming that line."""
    text = fleet(100)
    at = text.count("\n") + 1
    with pytest.raises(ExpositionError, match=rf"^line {at}: .*{reason}"):
        parse_exposition(text + line + "\n")


def outcome(text: str) -> tuple[str, int, frozenset[str]]:
    """What parse_exposition makes of ``text``: its error message, or its series and families."""
    try:
        parsed = parse_exposition(text)
    except ExpositionError as exc:
        return str(exc), -1, frozenset()
    return "", parsed.series, parsed.families


def test_compiled_shapes_change_nothing_on_edited_fleet_expositions(monkeypatch):
    """With line shapes compiled or not (every line through the exact parser), 400 edits of a fleet
    exposition get the same error (line and reason) or the same series and families."""
    rng = random.Random(5)
    base = fleet(8)
    texts = []
    for _ in range(400):
        at = rng.randrange(len(base))
        texts.append(base[:at] + rng.choice(MUTATIONS) + base[at + rng.randint(0, 1) :])
    fast = [outcome(text) for text in texts]
    monkeypatch.setattr(exposition, "_MAX_SHAPES_PER_NAME", 0)
    assert [outcome(text) for text in texts] == fast
    assert {message == "" for message, _, _ in fast} == {True, False}

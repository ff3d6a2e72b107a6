"""The Prometheus text exposition format, judged as ``promtool check metrics`` judges it.

``promtool check metrics`` parses with the Go text parser of ``prometheus/common`` (expfmt); this module
accepts and refuses what that parser does (the differential test
``tests/unit/checks/test_metrics_promtool.py`` holds the two side by side), line by line:

- a sample is ``name[{label="value",...}] value [timestamp]``; only spaces and tabs are blanks; the value
  is a Go float (no ``_``, no hex, no ``+NaN``, no overflow), the timestamp an int64; nothing may follow;
- label values escape only ``\\\\``, ``\\"`` and ``\\n`` and must be UTF-8; ``__name__`` is reserved; a
  label name appears once per sample (``le`` of a histogram and ``quantile`` of a summary aside, which
  must be floats instead);
- ``# HELP`` (escapes ``\\\\`` and ``\\n`` only) and ``# TYPE`` (counter, gauge, histogram, summary,
  untyped, gauge_histogram; any case) at most once per family, and TYPE before the family's samples;
  ``foo_sum``/``foo_count`` (and ``foo_bucket``) belong to a summary (histogram) ``foo`` declared before;
- every line ends with a newline (a last line without one is a truncated exposition);
- duplicate series and families split across the text are accepted, as promtool accepts them; the first
  duplicated series is reported beside the result (``Exposition.duplicate``), since Prometheus' scraper
  rejects such a scrape and the ``metrics`` kind fails it.

Speed: every line is parsed exactly once by the exact parser below, which then compiles the line's
*shape* (its name, label names and, for ``le``/``quantile``, a float pattern) into a regular expression;
the following lines of the same shape are accepted by one C-level ``fullmatch`` each. A shape's
expression accepts only lines the exact parser would accept with the same family and no new state.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

_BLANK = " \t"
_NAME_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_:")
_NAME_CONT = _NAME_START | frozenset("0123456789")
_LABEL_START = _NAME_START - {":"}
_LABEL_CONT = _NAME_CONT - {":"}
TYPES = frozenset({"COUNTER", "GAUGE", "HISTOGRAM", "SUMMARY", "UNTYPED", "GAUGE_HISTOGRAM"})
# Go's strconv.ParseFloat after expfmt refused p, P and _: decimal, inf/infinity (signed), nan (unsigned).
_GO_FLOAT = re.compile(
    r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?)"
    r"|[nN][aA][nN]"
)
_GO_INT = re.compile(r"[+-]?[0-9]+")
_INT64 = 2**63
# Bytes that were not UTF-8 (decoded with surrogateescape) may not appear in a label value.
_NOT_UTF8 = re.compile("[\udc80-\udcff]")
_HELP_ESCAPE = re.compile(r"\\(.?)")
# What a shape's expression accepts: floats that cannot overflow, int64 timestamps, plain label values.
_FAST_FLOAT = r"[+-]?+(?:[0-9]{1,200}+(?:\.[0-9]*+)?+|\.[0-9]++)(?:[eE][+-]?+[0-9]{1,2}+)?+|[+-]?+Inf|NaN"
_FAST_VALUE = '[^"\\\\\n\udc80-\udcff]*+(?:\\\\[\\\\"n][^"\\\\\n\udc80-\udcff]*+)*+'
_FAST_TAIL = rf" (?:{_FAST_FLOAT})(?: -?[0-9]{{1,18}})?+"
_SAMPLE_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*").match
_MAX_SHAPES_PER_NAME = 16


class ExpositionError(ValueError):
    """The exposition does not parse; the message names the line and the reason."""


class _LineError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Sample:
    name: str
    labels: dict[str, str]
    value: float


class _Family:
    __slots__ = ("help", "name", "samples", "type")

    def __init__(self, name: str) -> None:
        self.name = name
        self.type: str | None = None
        self.help = False
        self.samples = 0


@dataclass(frozen=True, slots=True)
class Exposition:
    """What parsed: family names (families with samples), sample names, the series count, the text."""

    families: frozenset[str]
    sample_names: frozenset[str]
    series: int
    text: str
    duplicate: str | None = None  # the first series written twice, as ``name{label="value",...}``
    # How a sample line of the text reads (name, labels, value): the OpenMetrics parser gives its own.
    read_line: Callable[[str], tuple[str, dict[str, str], str]] | None = None

    @property
    def names(self) -> frozenset[str]:
        """Family and sample names; a counter ``foo_total`` is found as ``foo`` too."""
        counters = {name[: -len("_total")] for name in self.families if name.endswith("_total")}
        return self.families | self.sample_names | counters

    def samples(self, name: str) -> Iterator[Sample]:
        """Every sample named ``name`` (labels include ``le``/``quantile``), in the order of the text."""
        if name not in self.sample_names:
            return
        line = re.compile(rf"\n[ \t]*{re.escape(name)}(?![a-zA-Z0-9_:])[^\n]*")
        for found in line.finditer("\n" + self.text):
            text = found.group().lstrip("\n")
            if self.read_line is not None:
                sample_name, read, value = self.read_line(text)
                yield Sample(sample_name, read, float(value))
                continue
            sample_name, labels, value = _scan_sample(text, len(text) - len(text.lstrip(_BLANK)))
            yield Sample(sample_name, dict(labels), float(value))


def parse_float(text: str) -> float:
    """A float as expfmt reads one (Go's ParseFloat without ``p``/``_``); ValueError otherwise."""
    if _GO_FLOAT.fullmatch(text) is None:
        raise ValueError(text)
    value = float(text)
    if math.isinf(value) and "n" not in text.lower():  # 1e400: Go reports a range error
        raise ValueError(text)
    return value


def _skip_blanks(line: str, i: int) -> int:
    n = len(line)
    while i < n and line[i] in _BLANK:
        i += 1
    return i


def _token(line: str, i: int, chars: frozenset[str], start: frozenset[str]) -> int:
    """End of the name starting at ``i`` (``i`` itself when none starts there)."""
    n = len(line)
    if i >= n or line[i] not in start:
        return i
    i += 1
    while i < n and line[i] in chars:
        i += 1
    return i


def _until_blank(line: str, i: int) -> int:
    n = len(line)
    while i < n and line[i] not in _BLANK:
        i += 1
    return i


def _char(line: str, i: int) -> str:
    """The character at ``i`` as the Go parser names it (the line's newline past the end)."""
    return repr(line[i]) if i < len(line) else "'\\n'"


def _scan_sample(line: str, i: int) -> tuple[str, list[tuple[str, str]], str]:
    """The name, labels (in order) and value token of the sample line at ``i``; _LineError if malformed."""
    end = _token(line, i, _NAME_CONT, _NAME_START)
    if end == i:
        raise _LineError("invalid metric name")
    name = line[i:end]
    i = _skip_blanks(line, end)
    labels: list[tuple[str, str]] = []
    n = len(line)
    if i < n and line[i] == "{":
        i = _skip_blanks(line, i + 1)
        while True:
            if i < n and line[i] == "}":
                i = _skip_blanks(line, i + 1)
                break
            end = _token(line, i, _LABEL_CONT, _LABEL_START)
            if end == i:
                raise _LineError(f"invalid label name for metric {name!r}")
            label = line[i:end]
            if label == "__name__":
                raise _LineError('label name "__name__" is reserved')
            i = _skip_blanks(line, end)
            if i >= n or line[i] != "=":
                raise _LineError(f"expected '=' after label name, found {_char(line, i)}")
            i = _skip_blanks(line, i + 1)
            if i >= n or line[i] != '"':
                raise _LineError(f"expected '\"' at start of label value, found {_char(line, i)}")
            value, i = _label_value(line, i + 1)
            labels.append((label, value))
            i = _skip_blanks(line, i)
            if i < n and line[i] == ",":
                i = _skip_blanks(line, i + 1)
                continue
            if i < n and line[i] == "}":
                i = _skip_blanks(line, i + 1)
                break
            raise _LineError(f"unexpected end of label value {value!r}")
    end = _until_blank(line, i)
    token = line[i:end]
    try:
        parse_float(token)
    except ValueError:
        raise _LineError(f"expected float as value, got {token!r}") from None
    if end < n:  # a blank follows the value: a timestamp must, and then nothing
        i = _skip_blanks(line, end)
        end = _until_blank(line, i)
        stamp = line[i:end]
        if _GO_INT.fullmatch(stamp) is None or not -_INT64 <= int(stamp) < _INT64:
            raise _LineError(f"expected integer as timestamp, got {stamp!r}")
        if end < n:
            raise _LineError(f"spurious string after timestamp: {line[end:]!r}")
    return name, labels, token


def _label_value(line: str, i: int) -> tuple[str, int]:
    """The unescaped label value starting after its opening quote at ``i``, and the index past it."""
    closing = line.find('"', i)
    raw = line[i:] if closing < 0 else line[i:closing]
    if "\\" not in raw:  # the common case: nothing to unescape
        if closing < 0:
            raise _LineError(f"label value {raw!r} contains unescaped new-line")
        value, i = raw, closing + 1
    else:
        out: list[str] = []
        n = len(line)
        while True:
            if i >= n:
                raise _LineError(f"label value {''.join(out)!r} contains unescaped new-line")
            char = line[i]
            if char == '"':
                i += 1
                break
            if char == "\\":
                escaped = line[i + 1] if i + 1 < n else "\n"
                if escaped not in '"\\n':
                    raise _LineError(f"invalid escape sequence '\\{escaped}'")
                out.append("\n" if escaped == "n" else escaped)
                i += 2
                continue
            out.append(char)
            i += 1
        value = "".join(out)
    if _NOT_UTF8.search(value):
        raise _LineError(f"invalid label value {value!r}")
    return value, i


class _Parser:
    def __init__(self) -> None:
        self.families: dict[str, _Family] = {}
        self.sample_names: set[str] = set()
        self.shapes: dict[str, list[_Shape]] = {}
        self.series = 0
        # Hashes of every series identity seen (``name{label="value",...}`` as written): 8 bytes a series,
        # not the strings. A 64-bit collision (about 1 in 10^9 at 135,000 series) reads as a duplicate:
        # a false FAIL, never a false PASS.
        self.seen: set[int] = set()
        # The label order a name's label set was first written in: a series is named in that order, so
        # one written again with its labels in another order is still found.
        self.label_orders: dict[tuple[str, frozenset[str]], tuple[str, ...]] = {}
        self.duplicate: str | None = None

    def resolve(self, name: str) -> _Family:
        """expfmt's setOrCreateCurrentMF: the family a name belongs to, created when there is none."""
        family = self.families.get(name)
        if family is not None:
            return family
        for suffixes, kind in ((("_count", "_sum"), "SUMMARY"), (("_count", "_sum", "_bucket"), "HISTOGRAM")):
            for suffix in suffixes:
                if name.endswith(suffix) and len(name) > len(suffix):
                    base = self.families.get(name[: -len(suffix)])
                    if base is not None and base.type == kind:
                        return base
        family = self.families[name] = _Family(name)
        return family

    def parse(self, text: str) -> None:
        """Walk the text: runs of lines of a known shape in one C call each, other lines one by one."""
        shapes = self.shapes
        run: _Shape | None = None  # the shape of the last run: the next line most likely has it too
        count = text.count
        series = 0
        number = 1  # the line number at ``at``
        at, size = 0, len(text)
        while at < size:
            shape = run
            matched = shape.lines(text, at) if shape is not None else None
            if matched is None:
                named = _SAMPLE_NAME(text, at)
                for shape in shapes.get(named.group(), ()) if named is not None else ():
                    matched = shape.lines(text, at)
                    if matched is not None:
                        break
            if matched is not None and shape is not None:
                run = shape
                end = matched.end()
                shape.note(self, text, at, end)
                lines = count("\n", at, end)
                series += lines
                number += lines
                at = end
                continue
            newline = text.find("\n", at)
            if newline < 0:
                break
            self.line(text[at:newline], number)
            at = newline + 1
            number += 1
        self.series += series
        if text[at:].strip(_BLANK):
            raise ExpositionError(
                f"line {number}: unexpected end of input stream: "
                "the last line does not end with a line feed (cut short?)"
            )

    def seen_before(self, identity: int) -> bool:
        """Note a series identity; True when it was noted before (the series is written twice)."""
        if identity in self.seen:
            return True
        self.seen.add(identity)
        return False

    def line(self, line: str, number: int) -> None:
        """One line through the exact parser (raising ExpositionError), learning its shape."""
        try:
            i = _skip_blanks(line, 0)
            if i == len(line):
                return
            if line[i] == "#":
                self.comment(line, i + 1)
                return
            name, labels, _ = _scan_sample(line, i)
            family = self.sample(name, labels)
        except _LineError as exc:
            raise ExpositionError(f"line {number}: {exc}") from None
        self.series += 1
        identity = self.series_name(name, [(label, _escape(value)) for label, value in labels])
        if self.seen_before(hash(identity)) and self.duplicate is None:
            self.duplicate = identity
        self.learn(line, name, [label for label, _ in labels], family)

    def label_order(self, name: str, label_names: list[str]) -> tuple[str, ...]:
        """The order in which ``name``'s series with these label names were first written."""
        order = tuple(label_names)
        return self.label_orders.setdefault((name, frozenset(order)), order)

    def series_name(self, name: str, labels: list[tuple[str, str]]) -> str:
        """A series' identity: ``name{label="value",...}`` in the label order first seen for it."""
        if not labels:
            return name
        values = dict(labels)
        if len(values) != len(labels):  # a repeated le/quantile label: keep what was written
            return name + "{" + ",".join(f'{label}="{value}"' for label, value in labels) + "}"
        order = self.label_order(name, [label for label, _ in labels])
        return name + "{" + ",".join(f'{label}="{values[label]}"' for label in order) + "}"

    def sample(self, name: str, labels: list[tuple[str, str]]) -> _Family:
        family = self.resolve(name)
        if family.type is None:
            family.type = "UNTYPED"
        special = {"HISTOGRAM": "le", "SUMMARY": "quantile"}.get(family.type)
        seen: set[str] = set()
        for label, value in labels:
            if label == special:
                try:
                    parse_float(value)
                except ValueError:
                    raise _LineError(f"expected float as value for {label!r} label, got {value!r}") from None
                continue
            if label in seen:
                raise _LineError(f"duplicate label names for metric {family.name!r}")
            seen.add(label)
        family.samples += 1
        self.sample_names.add(name)
        return family

    def learn(self, line: str, name: str, labels: list[str], family: _Family) -> None:
        """Compile the shape of a sample line just accepted, if its later lines can be matched in C."""
        known = self.shapes.setdefault(name, [])
        if len(known) >= _MAX_SHAPES_PER_NAME:
            return
        special = {"HISTOGRAM": "le", "SUMMARY": "quantile"}.get(family.type or "")
        values = [f"(?:{_FAST_FLOAT})" if label == special else _FAST_VALUE for label in labels]
        shape = _Shape(name, labels, values, reorder=self.label_order(name, labels) != tuple(labels))
        if shape.lines(line + "\n", 0) is not None:  # the line is in the plain form the shape describes
            known.append(shape)

    def comment(self, line: str, i: int) -> None:
        """expfmt's startComment: ``# HELP name text``, ``# TYPE name type`` or any other comment."""
        i = _skip_blanks(line, i)
        end = _until_blank(line, i)
        if end >= len(line):
            return
        keyword = line[i:end]
        if keyword not in ("HELP", "TYPE"):
            return
        i = _skip_blanks(line, end)
        end = _token(line, i, _NAME_CONT, _NAME_START)
        if end >= len(line):
            return
        if line[end] not in _BLANK:
            raise _LineError("invalid metric name in comment")
        family = self.resolve(line[i:end])
        i = _skip_blanks(line, end)
        if i >= len(line):
            return
        rest = line[i:]
        if keyword == "HELP":
            if family.help:
                raise _LineError(f"second HELP line for metric name {family.name!r}")
            for escape in _HELP_ESCAPE.finditer(rest):  # left to right, as Go reads them
                if escape.group(1) not in ("\\", "n"):
                    raise _LineError(f"invalid escape sequence '\\{escape.group(1) or chr(10)}'")
            family.help = True
            return
        if family.type is not None:
            raise _LineError(
                f"second TYPE line for metric name {family.name!r}, or TYPE reported after samples"
            )
        kind = rest.replace("\\", "").upper()  # expfmt drops backslashes: TYPE g\\auge is a gauge
        if kind not in TYPES:
            raise _LineError(f"unknown metric type {rest!r}")
        family.type = kind


def _escape(value: str) -> str:
    """A label value written as the exposition writes it (the fast path sees values only so)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


# What follows a sample's labels (its value and timestamp), and what follows the name of one without.
_AFTER_LABELS = re.compile(r"\}[^}\n]*+$", re.M)
_AFTER_NAME = re.compile(r" [^\n]*+$", re.M)


class _Shape:
    """One line shape: a matcher for runs of such lines, and the identities of the series in a run."""

    __slots__ = ("label_names", "lines", "name", "one_line", "reorder")

    def __init__(
        self, name: str, label_names: list[str], value_patterns: list[str], *, reorder: bool
    ) -> None:
        self.name = name
        self.label_names = label_names
        self.reorder = reorder  # its labels come in another order than the name's first series of that set

        def body(capture: bool) -> str:
            if not label_names:
                return ""
            values = [f"({value})" if capture else value for value in value_patterns]
            pairs = zip(label_names, values, strict=True)
            return "\\{" + ",".join(f'{label}="{value}"' for label, value in pairs) + "\\}"

        self.lines: Callable[[str, int], re.Match[str] | None] = re.compile(
            f"(?:{re.escape(name)}{body(False)}{_FAST_TAIL}\\n)++"
        ).match
        # One line of the shape, its label values captured: read only where identities need reordering.
        self.one_line = re.compile(f"{re.escape(name)}{body(True)}{_FAST_TAIL}\\n")

    def note(self, parser: _Parser, text: str, start: int, end: int) -> None:
        """Remember the identity of every series in ``text[start:end]`` (a run this shape matched)."""
        if self.reorder:
            names = self.label_names
            identities = [
                parser.series_name(self.name, list(zip(names, line.groups(), strict=True)))
                for line in self.one_line.finditer(text, start, end)
            ]
        else:  # a run's lines are in the plain form: the identity is the line without its tail (in C)
            tail = _AFTER_LABELS if self.label_names else _AFTER_NAME
            identities = tail.sub("}" if self.label_names else "", text[start : end - 1]).split("\n")
        keys = list(map(hash, identities))
        seen = parser.seen
        if parser.duplicate is None and not (seen.isdisjoint(keys) and len(set(keys)) == len(keys)):
            in_run: set[int] = set()
            for identity, key in zip(identities, keys, strict=True):
                if key in seen or key in in_run:
                    parser.duplicate = identity
                    break
                in_run.add(key)
        seen.update(keys)


def parse_exposition(text: str) -> Exposition:
    """Parse a text exposition as promtool does; raises ExpositionError naming the line and the reason.

    Decode the body with ``errors="surrogateescape"``: bytes that are not UTF-8 are then refused where
    promtool refuses them (label values) and kept where it keeps them (comments, HELP text).
    """
    parser = _Parser()
    parser.parse(text)
    families = frozenset(name for name, family in parser.families.items() if family.samples)
    return Exposition(families, frozenset(parser.sample_names), parser.series, text, parser.duplicate)

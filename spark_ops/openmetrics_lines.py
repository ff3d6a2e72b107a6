"""How one OpenMetrics 1.0 line reads (``spark_ops/openmetrics.py`` judges the exposition): a sample's
name, labels, value, timestamp and exemplar, the numbers as OpenMetrics writes them, and the compiled
line shapes that read runs of plain lines in one C call each.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from typing import Any

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_VALUE = r'"(?:[^"\\\n]|\\.)*"'
_PAIR = re.compile(rf"\s*([^=,{{}}\"\s]*)\s*=\s*({_VALUE})\s*(,?)")
# The plain form of a sample line (no blanks inside braces): the fast path of nearly every line.
_PLAIN = re.compile(
    rf"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{{((?:[a-zA-Z_][a-zA-Z0-9_]*={_VALUE}(?:,[a-zA-Z_][a-zA-Z0-9_]*={_VALUE})*)?)\}})?"
    r" ([^ #]+)(?: ([^ #]+))?(?: # (.*))?"
)
_PLAIN_PAIR = re.compile(rf"([a-zA-Z_][a-zA-Z0-9_]*)=({_VALUE})")
_ESCAPE = re.compile(r"\\([\\n\"])")
_EXEMPLAR_LIMIT = 128


class LineError(Exception):
    pass


def number(token: str) -> float:
    """A sample value or exemplar value: a decimal or integer, ``NaN``, ``+Inf``/``-Inf`` (ASCII only)."""
    if not token or not token.isascii() or "_" in token or token != token.strip():
        raise LineError(f"invalid value {token!r}")
    try:
        whole = int(token)
    except ValueError:
        try:
            return float(token)
        except ValueError:
            raise LineError(f"invalid value {token!r}") from None
    try:
        return float(whole)
    except OverflowError:  # an integer beyond any float: valid, and as large as a float gets
        return math.copysign(math.inf, whole)


_PLAIN_STAMP = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?").fullmatch


def timestamp(token: str) -> float:
    """A timestamp in seconds (integer or decimal); NaN and the infinities are none."""
    if _PLAIN_STAMP(token) is not None:  # the usual form, valid as written
        return float(token)
    if not token.isascii() or "_" in token or token != token.strip():
        raise LineError(f"invalid timestamp {token!r}")
    try:
        return float(int(token))
    except ValueError:
        pass
    whole, dot, fraction = token.partition(".")
    if dot and whole.lstrip("+-").isdigit() and fraction.isdigit():
        return float(token)
    try:
        value = float(token)
    except ValueError:
        raise LineError(f"invalid timestamp {token!r}") from None
    if not math.isfinite(value):
        raise LineError(f"invalid timestamp {token!r}")
    return value


@functools.lru_cache(maxsize=1024)
def bound(text: str, label: str) -> float:
    """An ``le`` or ``quantile`` label value as a float: not NaN, +Inf spelt so (as Go writes it)."""
    try:
        bound = float(text)
    except ValueError:
        bound = math.nan
    if math.isnan(bound) or not _canonical(text):
        raise LineError(f"invalid {label} label {text!r}")
    return bound


def _canonical(text: str) -> bool:
    """``le``/``quantile`` as Go writes them: only +Inf must be spelt so (``Inf``, ``inf`` are not)."""
    return float(text) != math.inf or text == "+Inf"


def escape(value: str) -> str:
    """A label value as the plain form writes it (the keys of series and groups are in that form)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _unescape(quoted: str) -> str:
    inner = quoted[1:-1]
    return _ESCAPE.sub(lambda m: "\n" if m[1] == "n" else m[1], inner) if "\\" in inner else inner


def _labels(text: str) -> dict[str, str]:
    """The label set between braces (blanks around terms allowed, as prometheus-client allows them)."""
    labels: dict[str, str] = {}
    rest = text.strip()
    if rest.startswith(","):
        raise LineError(f"invalid labels {{{text}}}")
    at = 0
    while at < len(rest):
        pair = _PAIR.match(rest, at)
        if pair is None or pair.end() == at:
            raise LineError(f"invalid labels {{{text}}}")
        name, value, comma = pair.groups()
        if not _LABEL_NAME.fullmatch(name):
            raise LineError(f"invalid label name {name!r}")
        if name.startswith("__"):
            raise LineError(f"label name {name!r} is reserved")
        if name in labels:
            raise LineError(f"duplicate label name {name!r}")
        labels[name] = _unescape(value)
        at = pair.end()
        if not comma and at < len(rest):
            raise LineError(f"invalid labels {{{text}}}")
        if comma and at == len(rest):
            raise LineError(f"trailing comma in labels {{{text}}}")
    return labels


def split_sample(line: str) -> tuple[str, dict[str, str], str, str | None, str | None]:
    """Name, labels, value token, timestamp token and exemplar text of a sample line."""
    plain = _PLAIN.fullmatch(line)
    if plain is not None:
        name, labels_text, value, stamp, exemplar = plain.groups()
        if labels_text:
            labels: dict[str, str] = {}
            for label, quoted in _PLAIN_PAIR.findall(labels_text):
                if label in labels:
                    raise LineError(f"duplicate label name {label!r}")
                if label.startswith("__"):
                    raise LineError(f"label name {label!r} is reserved")
                labels[label] = _unescape(quoted)
        else:
            labels = {}
        return name, labels, value, stamp, exemplar
    named = NAME.match(line)
    if named is None:
        raise LineError("invalid metric name (quoted names are not OpenMetrics 1.0)")
    name, at = named.group(), named.end()
    labels = {}
    if line.startswith("{", at):
        close = _closing_brace(line, at + 1)
        labels = _labels(line[at + 1 : close])
        at = close + 1
    if not line.startswith(" ", at):
        raise LineError("expected a space before the value")
    rest, exemplar = line[at + 1 :], None
    if " # " in rest:
        rest, _, exemplar = rest.partition(" # ")
    tokens = rest.split(" ")
    if len(tokens) > 2 or "" in tokens:
        raise LineError(f"invalid value or timestamp {rest!r}")
    return name, labels, tokens[0], tokens[1] if len(tokens) == 2 else None, exemplar


def _closing_brace(line: str, at: int) -> int:
    quoted = False
    while at < len(line):
        char = line[at]
        if char == "\\" and quoted:
            at += 2
            continue
        if char == '"':
            quoted = not quoted
        elif char == "}" and not quoted:
            return at
        at += 1
    raise LineError("unclosed label set")


def check_exemplar(text: str) -> None:
    """``{labels} value [timestamp]``: checked, then dropped (the check judges samples)."""
    plain = _PLAIN_EXEMPLAR(text)
    if plain is not None:  # the common form, read in one C call
        labels = plain[1]  # its length as written bounds the names and values it holds
        if len(labels) <= _EXEMPLAR_LIMIT or _exemplar_length(labels):
            if plain[3] is not None:
                timestamp(plain[3])
            return
    if not text.startswith("{"):
        raise LineError("an exemplar starts with its label set")
    close = _closing_brace(text, 1)
    labels = _labels(text[1:close])
    if sum(len(k) + len(v) for k, v in labels.items()) > _EXEMPLAR_LIMIT:
        raise LineError(f"exemplar labels longer than {_EXEMPLAR_LIMIT} characters")
    if not text.startswith(" ", close + 1):
        raise LineError("expected a space before the exemplar's value")
    tokens = text[close + 2 :].split(" ")
    if len(tokens) > 2 or "" in tokens:
        raise LineError(f"invalid exemplar {text!r}")
    number(tokens[0])
    if len(tokens) == 2:
        timestamp(tokens[1])


_PLAIN_EXEMPLAR = re.compile(
    rf"\{{((?:[a-zA-Z_][a-zA-Z0-9_]*={_VALUE}(?:,[a-zA-Z_][a-zA-Z0-9_]*={_VALUE})*)?)\}}"
    r" ([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?Inf|NaN)(?: ([^ ]+))?"
).fullmatch


def _exemplar_length(labels: str) -> bool:
    """Whether the plain label set ``labels`` is within the exemplar limit (names and unescaped values)."""
    return sum(len(k) + len(_unescape(v)) for k, v in _PLAIN_PAIR.findall(labels)) <= _EXEMPLAR_LIMIT


# What a shape's expression accepts: floats Python reads alike with int() and float() (ASCII, no _),
# decimal timestamps, label values with the three escapes, anything after " # " (an exemplar, checked
# by the exact reader). Anything else goes through the exact reader.
_FAST_NUMBER = r"[+-]?+(?:[0-9]++(?:\.[0-9]*+)?+|\.[0-9]++)(?:[eE][+-]?+[0-9]++)?+|[+-]?+Inf|NaN"
_FAST_STAMP = r"[+-]?+[0-9]++(?:\.[0-9]++)?+"
_FAST_LABEL_VALUE = r'[^"\\\n]*+(?:\\[\\"n][^"\\\n]*+)*+'
_FAST_TAIL = rf" ({_FAST_NUMBER})(?: ({_FAST_STAMP}))?+(?: # ([^\n]++))?+\n"
_FAST_PLAIN = rf" (?:{_FAST_NUMBER})(?: (?:{_FAST_STAMP}))?+(?: # [^\n]++)?+\n"


class Shape:
    """One line shape: a matcher for runs of such lines and a reader of their label values and value."""

    __slots__ = ("label_names", "name", "rows", "run")

    def __init__(self, name: str, label_names: tuple[str, ...]) -> None:
        self.name, self.label_names = name, label_names

        def line(capture: bool) -> str:
            value, tail = (
                (f"({_FAST_LABEL_VALUE})", _FAST_TAIL) if capture else (_FAST_LABEL_VALUE, _FAST_PLAIN)
            )
            pairs = ",".join(f'{label}="{value}"' for label in label_names)
            return re.escape(name) + (f"\\{{{pairs}\\}}" if label_names else "") + tail

        # Rows of (label values..., value, timestamp, exemplar): at least three groups, so always tuples.
        self.rows: Callable[[str, int, int], list[Any]] = re.compile(line(capture=True)).findall
        self.run: Callable[[str, int], re.Match[str] | None] = re.compile(
            f"(?:{line(capture=False)})++"
        ).match

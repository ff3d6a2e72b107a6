"""The OpenMetrics 1.0 text format, judged by its own rules (Prometheus asks for it first).

What an OpenMetrics answer must be, beyond the text format (the differential test
``tests/unit/checks/test_openmetrics_differential.py`` holds this parser beside prometheus-client's strict
``prometheus_client.openmetrics.parser``):

- it ends with a ``# EOF`` line and nothing after it; without one the scrape was cut short (``Truncated``);
- no blank lines; a ``#`` line is ``# HELP``, ``# TYPE`` or ``# UNIT`` (``name`` then a space and the
  text, possibly empty), each once per family and before its samples; types are ``counter``, ``gauge``,
  ``histogram``, ``gaugehistogram``, ``stateset``, ``info``, ``summary`` and ``unknown`` (lower case);
- a family's samples carry its type's names: a counter ``foo`` has ``foo_total`` and ``foo_created``
  (the family is named without ``_total``); an info ``foo`` has ``foo_info`` (value 1); a stateset ``foo``
  has a label ``foo`` (values 0 or 1); a histogram ``_bucket`` (canonical ``le``, ascending, cumulative,
  ending at ``+Inf``, integral), ``_count`` (= the ``+Inf`` bucket) with ``_sum``, ``_created``; a
  gaugehistogram ``_bucket``, ``_gcount``, ``_gsum``; a summary ``foo{quantile}`` (in [0, 1]), ``_sum``,
  ``_count``, ``_created``; anything else is a sample of its own ``unknown`` family;
- a family is written in one piece (never resumed later) and a ``# UNIT u`` family is named ``..._u``
  (not for info and stateset); counter-like samples are neither negative nor NaN;
- exemplars (`` # {labels} value [timestamp]``, labels at most 128 characters) only on a counter's
  ``_total`` and a histogram's ``_bucket``; timestamps are seconds, within a series never going back.

Stricter than prometheus-client, on purpose (OpenMetrics 1.0's grammar): numbers in ASCII digits only;
no quoted (UTF-8) metric names, no ``__name__`` label, no native histograms, no ``:`` in label names, one
space between tokens. The test lists these divergences.

How a line reads is ``spark_ops/openmetrics_lines.py``. Speed: runs of lines of one shape are read in
one C call (as in ``exposition.py``); the rules across lines (groups, buckets, duplicates) are then
checked row by row, or for a run of gauges or counters with a few set operations.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Sequence
from itertools import repeat
from operator import itemgetter
from typing import Any

from spark_ops.exposition import Exposition, ExpositionError
from spark_ops.openmetrics_lines import (
    NAME,
    LineError,
    Shape,
    bound,
    check_exemplar,
    escape,
    number,
    split_sample,
    timestamp,
)

CONTENT_TYPE = "application/openmetrics-text"
TYPES = frozenset(
    {"counter", "gauge", "histogram", "gaugehistogram", "stateset", "info", "summary", "unknown"}
)
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
    "histogram": ("_count", "_sum", "_bucket", "_created"),
    "gaugehistogram": ("_gcount", "_gsum", "_bucket"),
    "info": ("_info",),
}
_COUNTER_LIKE = ("_total", "_sum", "_count", "_bucket", "_gcount", "_gsum")
_NOT_UTF8 = re.compile("[\udc80-\udcff]")  # bytes that were not UTF-8, decoded with surrogateescape


class Truncated(ExpositionError):
    """No ``# EOF`` line: the exposition was cut short."""


class _Histogram:
    """One run of a histogram's samples with the same labels and timestamp (prometheus-client's rules)."""

    __slots__ = ("bucket", "count", "has_gsum", "has_sum", "negative_buckets", "negative_gsum", "value")

    def __init__(self) -> None:
        self.bucket: float | None = None
        self.count: float | None = None
        self.value = 0.0
        self.has_sum = self.has_gsum = self.negative_buckets = self.negative_gsum = False

    def add(self, suffix: str, le: float | None, value: float, family: str) -> None:
        if suffix == "_bucket" and le is not None:
            if le < 0:
                self.negative_buckets = True
            if self.bucket is not None and le <= self.bucket:
                raise LineError(f"buckets of {family} out of order")
            if value < self.value:
                raise LineError(f"bucket values of {family} go down")
            self.bucket, self.value = le, value
        elif suffix in ("_count", "_gcount"):
            self.count = value
        elif suffix == "_sum":
            self.has_sum = True
        elif suffix == "_gsum":
            self.has_gsum = True
            self.negative_gsum = self.negative_gsum or value < 0

    def close(self, family: str) -> None:
        if self.bucket != math.inf:
            raise ExpositionError(f"histogram {family}: the +Inf bucket is missing")
        if self.count is not None and self.value != self.count:
            raise ExpositionError(f"histogram {family}: _count does not match the +Inf bucket")
        if (self.has_sum or self.has_gsum) != (self.count is not None):
            raise ExpositionError(f"histogram {family}: _count and _sum (_gcount and _gsum) come together")
        if self.negative_buckets and self.has_sum:
            raise ExpositionError(f"histogram {family}: _sum with negative buckets")
        if not self.negative_buckets and self.negative_gsum:
            raise ExpositionError(f"histogram {family}: negative _gsum with non-negative buckets")


class _Context:
    """What the samples of one line shape (a name and its label names, in order) need to be judged in
    their family: computed once per shape and family, used for every line of that shape."""

    __slots__ = (
        "bucket",
        "counter_like",
        "exemplars",
        "group",
        "histogram",
        "integral",
        "kind",
        "le",
        "quantile",
        "sample_name",
        "series",
        "suffix",
    )

    def __init__(self, sample_name: str, label_names: tuple[str, ...], family: str, kind: str) -> None:
        self.sample_name, self.kind = sample_name, kind
        suffix = self.suffix = sample_name[len(family) :]
        self.histogram = kind in ("histogram", "gaugehistogram") and suffix != ""
        self.bucket = kind in ("histogram", "gaugehistogram") and suffix == "_bucket"
        self.integral = suffix in ("_bucket", "_count", "_gcount") and kind != "unknown"
        self.counter_like = suffix in _COUNTER_LIKE and kind != "unknown"
        self.exemplars = self.bucket or (kind == "counter" and sample_name.endswith("_total"))
        if kind == "stateset" and family not in label_names:
            raise LineError(f"stateset {family!r} without its label {family!r}")
        drop = {"summary": "quantile" if suffix == "" else None, "stateset": family}.get(kind)
        if self.bucket:
            drop = "le"
        order = sorted(range(len(label_names)), key=label_names.__getitem__)
        kept = [i for i in order if label_names[i] != drop]
        # Keys are (label names, label values as written): escapes are canonical, so equal means equal.
        self.series = (tuple(label_names[i] for i in order), _getter(order))
        self.group = (
            () if kind == "info" else tuple(label_names[i] for i in kept),
            _getter([] if kind == "info" else kept),
        )
        self.le = label_names.index("le") if self.bucket and "le" in label_names else None
        self.quantile = label_names.index("quantile") if "quantile" in label_names else None
        if self.bucket and self.le is None:
            raise LineError("invalid le label 'NaN' (a bucket without le)")
        if kind == "summary" and suffix == "" and self.quantile is None:
            raise LineError("invalid quantile label (a quantile without one)")


def _getter(positions: list[int]) -> Callable[[Sequence[str]], tuple[str, ...]]:
    """The values at ``positions`` of a row, as a tuple (itemgetter gives a bare item for one)."""
    if not positions:
        return lambda row: ()
    if len(positions) == 1:
        at = positions[0]
        return lambda row: (row[at],)
    return itemgetter(*positions)


class _Parser:
    def __init__(self) -> None:
        self.families: set[str] = set()
        self.sample_names: set[str] = set()
        self.series = 0
        self.seen_names: set[str] = set()
        self.duplicate: str | None = None
        self.name: str | None = None
        self.shapes: dict[str, list[Shape]] = {}
        self.contexts: dict[tuple[str, tuple[str, ...]], _Context] = {}
        self.open_family(None, None)

    def open_family(self, name: str | None, kind: str | None) -> None:
        """Close the current family and start ``name`` (metadata or a sample of a new name)."""
        self.close_family()
        self.name, self.type, self.help = name, kind, False
        self.unit: str | None = None
        self.samples = 0
        self.allowed: tuple[str, ...] = (name,) if name is not None else ()
        self.group: object = None
        self.group_stamp: float | None = None
        self.group_series: set[object] = set()
        self.seen_groups: set[object] = set()
        self.histogram: _Histogram | None = None
        self.histogram_key: tuple[object, float | None] | None = None
        self.contexts = {}

    def close_family(self) -> None:
        name = self.name
        if name is None:
            return
        kind = self.type or "unknown"
        for suffix in {"", *_SUFFIXES.get(kind, ())}:
            if name + suffix in self.seen_names:
                raise ExpositionError(
                    f"family {name!r} is written in two places (or clashes with {name + suffix!r})"
                )
            self.seen_names.add(name + suffix)
        if self.unit and not name.endswith("_" + self.unit):
            raise ExpositionError(f"family {name!r} has UNIT {self.unit!r} but is not named ..._{self.unit}")
        if self.unit and kind in ("info", "stateset"):
            raise ExpositionError(f"family {name!r}: a {kind} has no unit")
        if self.histogram is not None:
            self.histogram.close(name)
        if self.samples:
            self.families.add(name)
        self.name = None

    def metadata(self, line: str) -> None:
        parts = line.split(" ", 3)
        if len(parts) < 4 or parts[0] != "#" or parts[1] not in ("HELP", "TYPE", "UNIT"):
            raise LineError(f"not a HELP, TYPE or UNIT line, nor # EOF: {line[:60]!r}")
        _, keyword, name, text = parts
        if not name or (keyword != "HELP" and text.startswith(" ")):
            raise LineError(f"doubled spaces in a {keyword} line (one space between its words)")
        if not NAME.fullmatch(name):
            raise LineError(f"invalid metric name {name!r}")
        if name == self.name and self.samples:
            raise LineError(f"{keyword} of {name!r} after its samples")
        if name != self.name:
            self.open_family(name, None)
        if keyword == "HELP":
            if self.help:
                raise LineError(f"second HELP of {name!r}")
            self.help = True
        elif keyword == "TYPE":
            if self.type is not None:
                raise LineError(f"second TYPE of {name!r}")
            if text not in TYPES:
                raise LineError(f"unknown type {text!r}")
            self.type = text
            self.allowed = tuple(name + suffix for suffix in _SUFFIXES.get(text, ("",)))
        else:
            if self.unit is not None:
                raise LineError(f"second UNIT of {name!r}")
            self.unit = text

    def context(self, sample_name: str, label_names: tuple[str, ...]) -> _Context:
        """The context of a shape in the current family (a new ``unknown`` family for a name it lacks)."""
        if sample_name not in self.allowed:
            self.open_family(sample_name, "unknown")
        key = (sample_name, label_names)
        found = self.contexts.get(key)
        if found is None:
            assert self.name is not None
            found = self.contexts[key] = _Context(sample_name, label_names, self.name, self.type or "unknown")
        return found

    def line(self, line: str) -> None:
        """One sample line through the exact reader, and its shape learnt for the lines that follow."""
        sample_name, labels, value_token, stamp_token, exemplar = split_sample(line)
        names = tuple(labels)
        values = tuple(escape(value) for value in labels.values())
        context = self.context(sample_name, names)
        self.accept(context, values, number(value_token), stamp_token, exemplar)
        self.learn(sample_name, names, line)

    def accept(
        self,
        context: _Context,
        values: Sequence[str],
        value: float,
        stamp_token: str | None,
        exemplar: str | None,
    ) -> None:
        """One sample, judged by its family's rules (values are label values as written, escaped)."""
        stamp = timestamp(stamp_token) if stamp_token is not None else None
        kind = context.kind
        le = bound(values[context.le], "le") if context.le is not None else None
        if context.integral and not value.is_integer():
            raise LineError(f"{context.sample_name} must be an integer, not {value!r}")
        if context.quantile is not None and kind == "summary" and context.suffix == "":
            if not 0 <= bound(values[context.quantile], "quantile") <= 1:
                raise LineError(f"invalid quantile label {values[context.quantile]!r}")
            if value < 0:
                raise LineError("a quantile's value cannot be negative")
        group_names, group_of = context.group
        group = (group_names, group_of(values))
        series_names, series_of = context.series
        series = (context.sample_name, series_names, series_of(values))
        repeated = False
        if group != self.group:
            if self.group is not None and group in self.seen_groups:
                raise LineError(
                    f"the samples of {self.name!r} with labels {group} are split (metric grouping)"
                )
            self.seen_groups.add(group)
            self.group_series = {series}
        else:
            if (stamp is None) != (self.group_stamp is None):
                raise LineError("timestamps on some samples of a group but not all")
            if (
                stamp is not None
                and self.group_stamp is not None
                and self.group_stamp > stamp
                and kind != "info"
            ):
                raise LineError("timestamps went backwards within a group")
            repeated = stamp == self.group_stamp and series in self.group_series
            if repeated and self.duplicate is None:
                pairs = ",".join(f'{k}="{v}"' for k, v in zip(series[1], series[2], strict=True))
                self.duplicate = f"{context.sample_name}{{{pairs}}}" if pairs else context.sample_name
            self.group_series.add(series)
        if context.histogram and not repeated:
            key = (group, stamp)
            if self.histogram is None or key != self.histogram_key:
                if self.histogram is not None:
                    self.histogram.close(self.name or "")
                self.histogram, self.histogram_key = _Histogram(), key
            self.histogram.add(context.suffix, le, value, self.name or "")
        self.group, self.group_stamp = group, stamp
        if kind == "stateset" and value not in (0, 1):
            raise LineError("a stateset's values are 0 or 1")
        if kind == "info" and value != 1:
            raise LineError("an info's value is 1")
        if context.counter_like and (value < 0 or value != value):  # value != value: NaN
            if value != value:
                raise LineError(f"{context.sample_name} cannot be NaN")
            if context.suffix != "_gsum":
                raise LineError(f"{context.sample_name} cannot be negative")
        if exemplar is not None:
            if not context.exemplars:
                raise LineError("only counters' _total and histograms' _bucket carry exemplars")
            check_exemplar(exemplar)
        self.samples += 1
        self.series += 1

    def learn(self, sample_name: str, label_names: tuple[str, ...], line: str) -> None:
        """Compile the shape of a line just accepted, if it is in the plain form a shape matches."""
        self.sample_names.add(sample_name)
        known = self.shapes.setdefault(sample_name, [])
        if len(known) < _MAX_SHAPES_PER_NAME and all(shape.label_names != label_names for shape in known):
            shape = Shape(sample_name, label_names)
            if shape.run(line + "\n", 0) is not None:
                known.append(shape)

    def alone_at_once(self, context: _Context, rows: list[Any], width: int) -> bool:
        """Rows of series each alone in its group (a gauge's, a counter's), judged together in C calls:
        untimed, new groups all different, values within the counter rules, exemplars valid. False (and
        nothing noted) when any row needs the rules one by one, which then say which line and why."""
        if any(map(itemgetter(width + 1), rows)):
            return False
        exemplars = [exemplar for exemplar in map(itemgetter(width + 2), rows) if exemplar]
        if exemplars:
            if not context.exemplars:
                return False
            try:
                for exemplar in exemplars:
                    check_exemplar(exemplar)
            except (LineError, ValueError):
                return False
        values = list(map(float, map(itemgetter(width), rows)))
        if context.counter_like and not all(map(operator.ge, values, repeat(0.0))):  # negative or NaN
            return False
        group_names, group_of = context.group
        groups = list(zip(repeat(group_names), map(group_of, rows), strict=False))
        if not self.seen_groups.isdisjoint(groups) or len(set(groups)) != len(groups):
            return False
        self.seen_groups.update(groups)
        self.group = groups[-1]
        series_names, series_of = context.series
        self.group_series = {(context.sample_name, series_names, series_of(rows[-1]))}
        self.samples += len(rows)
        self.series += len(rows)
        return True

    def buckets_at_once(self, context: _Context, rows: list[Any], width: int) -> bool:
        """The next buckets of the current histogram group, judged together in C calls: same group,
        untimed, ``le`` new and ascending, counts whole, cumulative and not negative, exemplars valid.
        False (and nothing noted) when any row needs the rules one by one."""
        histogram, group = self.histogram, self.group
        if (
            histogram is None
            or self.histogram_key != (group, None)
            or self.group_stamp is not None
            or len(self.group_series) != 1
            or any(map(itemgetter(width + 1), rows))
            or histogram.bucket is None
        ):
            return False
        group_names, group_of = context.group
        groups: list[object] = list(zip(repeat(group_names), map(group_of, rows), strict=False))
        if groups.count(group) != len(rows):
            return False
        try:
            for exemplar in filter(None, map(itemgetter(width + 2), rows)):
                check_exemplar(exemplar)
            bounds = [bound(le, "le") for le in map(itemgetter(context.le), rows)]
        except (LineError, ValueError):
            return False
        counts = list(map(float, map(itemgetter(width), rows)))
        if not (
            all(map(float.is_integer, counts))
            and histogram.bucket < bounds[0]
            and all(map(operator.lt, bounds, bounds[1:]))
            and histogram.value <= counts[0]
            and all(map(operator.le, counts, counts[1:]))
        ):
            return False
        histogram.bucket, histogram.value = bounds[-1], counts[-1]
        histogram.negative_buckets = histogram.negative_buckets or bounds[0] < 0
        series_names, series_of = context.series
        self.group_series.update(
            zip(repeat(context.sample_name), repeat(series_names), map(series_of, rows), strict=False)
        )
        return True

    def run(self, shape: Shape, text: str, start: int, end: int, first_line: int) -> None:
        """The lines of ``shape`` in ``text[start:end]`` (one C call reads them all), judged one by one.

        Untimed lines without exemplar take a short way where the rules reduce to a few tests: a series
        alone in its group (a gauge's, a counter's) that starts a new group, or the next sample of the
        current group (a histogram's buckets); anything else goes through ``accept``, which says why.
        """
        accept, line = self.accept, first_line
        try:
            context = self.context(shape.name, shape.label_names)
            (group_names, group_of), (series_names, series_of) = context.group, context.series
            sample_name, le_at, histogram = context.sample_name, context.le, context.histogram
            alone = group_names == series_names and not histogram and context.kind not in ("info", "stateset")
            plain = context.kind not in ("info", "stateset") and (
                context.quantile is None or context.suffix != ""
            )
            width, seen_groups, guard, fast = (
                len(shape.label_names),
                self.seen_groups,
                context.counter_like,
                0,
            )
            rows = shape.rows(text, start, end)
            if alone and self.group_stamp is None and self.alone_at_once(context, rows, width):
                return
            at_once = context.bucket and len(rows) > 2  # the first row opens the group, then all at once
            for line, row in enumerate(rows, first_line):
                if at_once and line == first_line + 1 and self.buckets_at_once(context, rows[1:], width):
                    fast += len(rows) - 1
                    break
                # A row is (label values..., value, timestamp, exemplar): label positions index it as is.
                value = float(row[width])
                if row[width + 2]:  # an exemplar: where one may be, checked on its own
                    if not context.exemplars:
                        accept(context, row, value, row[width + 1] or None, row[width + 2])
                        continue
                    check_exemplar(row[width + 2])
                if (
                    row[width + 1]
                    or self.group_stamp is not None
                    or not plain
                    or (
                        guard and not value >= 0  # negative or NaN
                    )
                ):
                    accept(context, row, value, row[width + 1] or None, row[width + 2] or None)
                    continue
                group = (group_names, group_of(row))
                if group != self.group:
                    if not alone or group in seen_groups:
                        accept(context, row, value, None, None)
                        continue
                    seen_groups.add(group)
                    self.group = group
                    self.group_series = {(sample_name, series_names, series_of(row))}
                else:
                    series = (sample_name, series_names, series_of(row))
                    known = self.histogram_key
                    if (
                        series in self.group_series
                        or (context.integral and not value.is_integer())
                        or (histogram and (known is None or known[1] is not None or known[0] != group))
                    ):
                        accept(context, row, value, None, None)
                        continue
                    self.group_series.add(series)
                    if histogram:
                        le = bound(row[le_at], "le") if le_at is not None else None
                        self.histogram.add(context.suffix, le, value, self.name or "")  # type: ignore[union-attr]
                fast += 1
            self.samples += fast
            self.series += fast
        except (LineError, ValueError) as exc:
            raise ExpositionError(f"line {line}: {exc}") from None


_MAX_SHAPES_PER_NAME = 16


def parse_openmetrics(text: str) -> Exposition:
    """Parse an OpenMetrics 1.0 exposition; Truncated without ``# EOF``, ExpositionError naming the line
    and the reason for anything else. Decode the body as UTF-8 (``surrogateescape`` refuses the rest)."""
    if not text.isascii() and (bad := _NOT_UTF8.search(text)) is not None:  # isascii: one fast C pass
        raise ExpositionError(f"line {text.count(chr(10), 0, bad.start()) + 1}: not UTF-8")
    ending = text.removesuffix("\n")
    if ending != "# EOF" and not ending.endswith("\n# EOF"):
        if ("\n" + text).find("\n# EOF\n") >= 0:
            at = ("\n" + text).find("\n# EOF\n")
            raise ExpositionError(f"line {text.count(chr(10), 0, at) + 2}: a line after # EOF")
        raise Truncated("no '# EOF' line at the end: the exposition was cut short (truncated)")
    body = ending[: -len("# EOF")]
    parser = _Parser()
    shapes = parser.shapes
    last: Shape | None = None  # the shape of the last run: the next line most likely has it too
    at, size, number = 0, len(body), 1
    while at < size:
        if body[at] not in "#\n":
            matched, shape = (last.run(body, at), last) if last is not None else (None, None)
            if matched is None:
                named = NAME.match(body, at)
                for shape in shapes.get(named.group(), ()) if named is not None else ():
                    if (matched := shape.run(body, at)) is not None:
                        break
            if matched is not None and shape is not None:
                end = matched.end()
                parser.run(shape, body, at, end, number)
                number += body.count("\n", at, end)
                at, last = end, shape
                continue
        newline = body.find("\n", at)
        line = body[at:newline]
        try:
            if not line:
                raise LineError("blank line")
            if line[0] == "#":
                if line == "# EOF":
                    raise LineError("a line after # EOF")
                parser.metadata(line)
            else:
                parser.line(line)
        except (LineError, ValueError) as exc:
            raise ExpositionError(f"line {number}: {exc}") from None
        at, number = newline + 1, number + 1
    parser.close_family()
    return Exposition(
        frozenset(parser.families),
        frozenset(parser.sample_names),
        parser.series,
        text,
        parser.duplicate,
        read_line=_read_line,
    )


def _read_line(line: str) -> tuple[str, dict[str, str], str]:
    """A sample line of a parsed exposition as ``Exposition.samples`` reads it (exemplar dropped)."""
    name, labels, value, _, _ = split_sample(line)
    return name, labels, value

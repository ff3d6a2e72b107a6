"""A live progress display on a terminal while checks run; nothing at all when stderr is not one."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TextIO

from spark_ops.model import CheckResult


@contextmanager
def live_progress(total: int, label: str) -> Iterator[Callable[[CheckResult], None] | None]:
    """Yields the callback the runner calls after each check (None when there is no terminal)."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[last]}"),
        console=Console(stderr=True),
        transient=True,
    ) as progress:
        task = progress.add_task(label, total=total, last="")

        def advance(result: CheckResult) -> None:
            progress.update(task, advance=1, last=f"{result.status.value} {result.name}")

        yield advance


@contextmanager
def byte_progress(total_bytes: int, label: str) -> Iterator[Callable[[int], None]]:
    """Yields a callback taking bytes done; draws a transfer bar on a terminal, does nothing otherwise."""
    if not sys.stderr.isatty():
        yield lambda done: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as progress:
        task = progress.add_task(label, total=total_bytes)
        yield lambda done: progress.update(task, advance=done)


@contextmanager
def window_progress(
    planned: int, interval_s: float, label: str, *, stream: TextIO | None = None
) -> Iterator[Callable[[int, Sequence[CheckResult]], None]]:
    """Yields the callback an analysis window calls after each interval.

    On a terminal: one live line with the interval, the time left, each check's status this interval and
    the failures so far. Elsewhere (a CI log): one plain line per interval.
    """
    out = sys.stderr if stream is None else stream
    failures: dict[str, int] = {}

    def line(index: int, results: Sequence[CheckResult]) -> str:
        for result in results:
            if result.status.is_failure:
                failures[result.name] = failures.get(result.name, 0) + 1
        left_s = max(0.0, (planned - index - 1) * interval_s)
        by_status = Counter(result.status.value for result in results)
        counts = ", ".join(f"{count} {status}" for status, count in sorted(by_status.items()))
        odd = ", ".join(f"{r.name} {r.status.value}" for r in results if r.status.needs_attention)
        failed = ", ".join(f"{name} x{count}" for name, count in failures.items()) or "none"
        return (
            f"{label}: interval {index + 1}/{planned}, {left_s:.0f} s left: {counts}"
            f"{f' ({odd})' if odd else ''}; failures so far: {failed}"
        )

    if not out.isatty():

        def plain(index: int, results: Sequence[CheckResult]) -> None:
            print(line(index, results), file=out, flush=True)

        yield plain
        return
    from rich.console import Console
    from rich.live import Live
    from rich.text import Text

    with Live(Text(f"{label}: first interval…"), console=Console(file=out), transient=True) as live:
        yield lambda index, results: live.update(
            Text(line(index, results), overflow="ellipsis", no_wrap=True)
        )

"""A live progress display on a terminal while checks run; nothing at all when stderr is not one."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

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

"""One module per output format; each turns a finished, redacted ``RunResult`` into text."""

from __future__ import annotations

from collections.abc import Callable

from spark_ops.model import RunResult

FORMATS = ("table", "json", "junit", "markdown")


def renderer(format_name: str, *, colour: bool | None = None) -> Callable[[RunResult], str]:
    """The render function for ``format_name`` (imported only when asked for); ``colour=False`` turns the
    terminal table's colour off (``--no-color``; the other formats have none)."""
    if format_name == "json":
        from spark_ops.report.json import render
    elif format_name == "junit":
        from spark_ops.report.junit import render
    elif format_name == "markdown":
        from spark_ops.report.markdown import render
    elif format_name == "table":
        from spark_ops.report import table

        return lambda run: table.render(run, colour=colour)
    elif format_name == "html":
        from spark_ops.report.html import render
    else:
        raise ValueError(f"unknown format {format_name!r}")
    return render

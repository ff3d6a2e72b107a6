"""How every command ends: library errors become one line and the documented exit code, bugs exit 4."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import typer

from spark_ops.errors import ConfigError, ExitCode, SparkOpsError

if TYPE_CHECKING:
    from spark_ops.redact import Redactor


def say(message: str) -> None:
    """One line on stderr: control characters from a file or an option (a key holding "\\r") are escaped."""
    print(f"spark: {escape_controls(message)}", file=sys.stderr)


def escape_controls(text: str) -> str:
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


class ReaderMayLeave:
    """Standard output for ``spark ... | head``: once the reader has closed the pipe, the rest of the output
    goes nowhere and the command goes on (a gate still keeps its evidence) to exit with its own code.

    Without it the first write after the reader left raised BrokenPipeError: exit 4, a crash report, and
    for a gate no evidence (it is kept after the table is printed).
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._discard_the_rest()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._discard_the_rest()

    def _discard_the_rest(self) -> None:
        # What is still buffered, and every later write, goes to /dev/null instead of the closed pipe.
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, self._stream.fileno())
        finally:
            os.close(devnull)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class Guard:
    """What the error handler knows: the redactor of the work under way, for anything it prints or
    writes (until a command has one, the secret-named environment variables')."""

    def __init__(self) -> None:
        from spark_ops.redact import Redactor, environment_secrets

        self.redactor = Redactor(environment_secrets())

    def use(self, redactor: Redactor) -> None:
        """Mask what ``redactor`` masks (a run's or an export's, built once by the library)."""
        self.redactor = redactor


@contextmanager
def exit_codes() -> Iterator[Guard]:
    """Turn library errors into one line and the documented exit code; bugs into exit 4."""
    guard = Guard()
    try:
        yield guard
    except typer.Exit:
        raise
    except SparkOpsError as exc:
        say(guard.redactor.text(f"error: {exc}"))
        raise typer.Exit(int(exc.exit_code)) from None
    except KeyboardInterrupt:
        say("interrupted")
        raise typer.Exit(130) from None
    except (Exception, SystemExit) as exc:  # library code never exits on its own: a sys.exit() is a bug too
        from spark_ops.crash import write_crash_report

        details = write_crash_report(guard.redactor)
        say(guard.redactor.text(f"internal error: {type(exc).__name__}: {exc} ({details})"))
        raise typer.Exit(int(ExitCode.INTERNAL_ERROR)) from None


def write_file(path: Path, text: str, option: str) -> None:
    """Write a file a user asked for whole or not at all; an unwritable path is a usage error (exit 2)."""
    if path.is_dir() or not path.name:
        raise ConfigError(f"{option} {path}: is a folder; give a file name")
    from spark_ops.fsio import write_atomically

    try:
        write_atomically(path, text.encode())
    except OSError as exc:
        raise ConfigError(f"{option} {path}: cannot write: {exc.strerror or exc}") from None


def write_or_print(text: str, out: Path | None, what: str) -> None:
    """Print a rendered file on stdout, or write it whole to --out."""
    if out is None:
        sys.stdout.write(text)
        return
    write_file(out, text, "--out")
    say(f"{what} written to {out}")

"""The one exception tree of spark-ops, and the exit codes every command uses.

    SparkOpsError            anything spark-ops reports on purpose (exit 4 unless a subclass says otherwise)
    +-- ConfigError          bad option, unreadable or invalid profile or suite, unknown kind (exit 2)
    +-- CheckError           a check could not judge its target (becomes ERROR inside the runner)
    +-- TargetError          the target answered badly or not at all (becomes FAIL inside the runner)
    +-- EvidenceRefused      an export found a secret in a member, or verify found tampering (exit 1)

Only the CLI (``spark_ops.cli``) turns these into output and an exit code; library code raises them
with a readable, one-line message.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes of every ``spark`` command (SPEC: Exit codes)."""

    OK = 0
    """Pass, or report-only mode."""
    VERDICT_FAILED = 1
    """The verdict failed: risk at or above ``--fail-on``."""
    USAGE_ERROR = 2
    """Usage or configuration error."""
    INCONCLUSIVE = 3
    """Not enough data to judge, and nothing failed outright."""
    INTERNAL_ERROR = 4
    """A bug in spark-ops; never reported as 0."""


class SparkOpsError(Exception):
    """Base of every error spark-ops raises on purpose."""

    exit_code: ExitCode = ExitCode.INTERNAL_ERROR


class ConfigError(SparkOpsError):
    """A profile, suite, option or plug-in is wrong; the message names the file and the key."""

    exit_code = ExitCode.USAGE_ERROR

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None) -> None:
        self.file = file
        self.key = key
        self.reason = message
        where = ": ".join(part for part in (file, key) if part)
        super().__init__(_visible(f"{where}: {message}" if where else message))


def one_line(exc: BaseException, limit: int = 300) -> str:
    """``exc``'s message on one line of at most ``limit`` characters (its type's name when it has none).

    Third-party messages may span lines or quote a whole mangled header; a reason is one short line.
    """
    return clip(" ".join(str(exc).split()) or type(exc).__name__, limit)


# A key or value quoted in an error may carry control characters (``--set $'a\\n.b=1'``): an error is one
# line on a terminal, so they are shown escaped, as Python writes them.
_CONTROL = {code: repr(chr(code))[1:-1] for code in (*range(32), 127)}


def _visible(text: str) -> str:
    """``text`` with control characters escaped (``\\n``, ``\\x1b``), so it stays one line."""
    return text.translate(_CONTROL)


def plural(count: int, noun: str, suffix: str = "s") -> str:
    """``1 problem``, ``3 problems`` (``suffix`` for a noun such as process: ``es``)."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}{suffix}"


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


class CheckError(SparkOpsError):
    """A check could not judge its target (the runner records it as ERROR with this message)."""


class TargetError(SparkOpsError):
    """The target answered badly or not at all (refused, reset, timed out, too large): the check FAILs."""


class EvidenceRefused(SparkOpsError):
    """Evidence that cannot be trusted: an export that would leak a secret, an archive that was altered."""

    exit_code = ExitCode.VERDICT_FAILED

"""The crash report: what a bug left behind, written where a user can send it in.

Exit 4 prints one line; the traceback, the version and the command line go to a file named in that line.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import traceback
from pathlib import Path

from spark_ops import __version__, clock
from spark_ops.redact import Redactor


def write_crash_report(redactor: Redactor) -> str:
    """Write the exception being handled to a file and say where: the temp folder, else the working folder.

    The text goes through ``redactor`` first. Never raises: a crash report that cannot be written must not
    turn exit 4 into a traceback; the answer then says why nothing was written.
    """
    stamp = clock.now().strftime("%Y%m%d_%H%M%S")
    text = redactor.text(f"spark-ops {__version__}\n{' '.join(sys.argv)}\n\n{traceback.format_exc()}")
    reason = ""
    for folder in (None, "."):
        name = None
        try:
            handle, name = tempfile.mkstemp(prefix=f"spark-ops-crash-{stamp}-", suffix=".log", dir=folder)
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(text)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            if name is not None:
                with contextlib.suppress(OSError):
                    os.unlink(name)
            continue
        return f"details in {Path(name).absolute()}"
    return f"no details file could be written: {reason}"

"""The ``spark`` console script and ``python -m spark_ops``.

``spark --version`` alone answers here, before Typer and the command tree load: pipelines ask it in
every step, and building the CLI would double its cost (bench/cold_start.py). Everything else, including
``--version`` among other arguments, goes through the Typer app in ``spark_ops.cli``.
"""

import sys

from spark_ops import version_line

# httpx imports its own command-line client (click, rich, pygments) on ``import httpx`` whenever click is
# installed, and falls back to a stub when that import fails: about 40 ms of every gate on a machine with
# click (encode/httpx discussion #3523, PR #3547). This process never runs httpx's CLI.
_UNUSED_MODULES = ("httpx._main",)


def main() -> None:
    if sys.argv[1:] == ["--version"]:
        print(version_line())
        return
    # What holds for the whole process, set once here: the modules it never runs, and a stdout whose
    # reader may leave (`spark gate | head`).
    for name in _UNUSED_MODULES:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]  # None: "import fails", per importlib
    from spark_ops.cli import main as cli_main
    from spark_ops.cli._errors import ReaderMayLeave

    if sys.stdout is not None:
        sys.stdout = ReaderMayLeave(sys.stdout)
    cli_main()


if __name__ == "__main__":
    main()

"""The ``spark`` console script and ``python -m spark_ops``.

``spark --version`` alone answers here, before Typer and the command tree load: pipelines ask it in
every step, and building the CLI would double its cost (bench/cold_start.py). Everything else, including
``--version`` among other arguments, goes through the Typer app in ``spark_ops.cli``.
"""

import sys

from spark_ops import version_line


def main() -> None:
    if sys.argv[1:] == ["--version"]:
        print(version_line())
        return
    from spark_ops.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()

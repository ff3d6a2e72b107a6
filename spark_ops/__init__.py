"""spark-ops: decide whether the Spark trading platform is safe to deploy to."""

# The one place the version is written (pyproject reads it through hatch): importing
# importlib.metadata to look it up would cost `spark --version` about 40 ms.
__version__ = "0.1.0"


def version_line() -> str:
    """What ``spark --version`` prints."""
    return f"spark-ops {__version__}"

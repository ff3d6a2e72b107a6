"""spark-ops: decide whether the Spark trading platform is safe to deploy to."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("spark-ops")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

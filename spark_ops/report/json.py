"""The ``spark-ops/result/v1`` JSON document."""

from __future__ import annotations

import json

from spark_ops.model import RunResult


def render(run: RunResult) -> str:
    # allow_nan=False: a NaN that slipped through must crash loudly, not write invalid JSON.
    return json.dumps(run.to_dict(), indent=2, allow_nan=False) + "\n"

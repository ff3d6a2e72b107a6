"""The ``spark-ops/result/v1`` JSON document (written by the one encoder in ``result_json``)."""

from __future__ import annotations

from spark_ops import result_json
from spark_ops.model import RunResult


def render(run: RunResult) -> str:
    return result_json.render(run)

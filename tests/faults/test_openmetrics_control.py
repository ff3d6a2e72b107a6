"""The fault matrix's false-alarm side for OpenMetrics: a valid OpenMetrics answer (exemplars, _created,
UNIT, info, stateset) served by the hostile server PASSes the metrics template, exit 0."""

from __future__ import annotations

from typing import Any

import pytest

from faults._matrix import METRICS, Serve, check_for
from faults.cases_expositions import CONTROLS, OPENMETRICS
from faults.conftest import Origins
from faults.test_matrix import aim, run_gate


@pytest.mark.parametrize("slug", sorted(CONTROLS))
def test_valid_openmetrics_passes(slug: str, origins: Origins, spark: Any, tmp_path: Any) -> None:
    """A control answer PASSes the metrics kind (it asks for OpenMetrics and reads it by its rules)."""
    base, server = aim(origins, Serve(body={METRICS: CONTROLS[slug]}, headers=OPENMETRICS))
    result, document, _ = run_gate(spark, tmp_path, [check_for("metrics", base, {})], base)
    (check,) = document["checks"]
    assert check["status"] == "PASS", check
    assert result.exit_code == 0
    assert server is not None and server.requests
    assert server.requests[-1].headers["accept"].startswith("application/openmetrics-text;version=1.0.0")

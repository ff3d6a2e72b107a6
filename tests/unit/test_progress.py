"""Progress of an analysis window: one plain line per interval where there is no terminal (progress.py)."""

from __future__ import annotations

import io

from conftest import check_result

from spark_ops.model import Severity, Status
from spark_ops.progress import window_progress


def test_without_a_terminal_each_interval_is_one_line_with_time_left_and_failures_so_far():
    """A CI log gets one line per interval: which interval, time left, statuses, failures so far."""
    out = io.StringIO()
    ok = check_result("page", "http", Severity.MAJOR, Status.PASS, "ok")
    down = check_result("healthz.status", "http", Severity.CRITICAL, Status.FAIL, "DOWN")
    with window_progress(3, 10.0, "spark canary", stream=out) as on_interval:
        on_interval(0, [ok, down])
        on_interval(1, [ok, ok])
    first, second = out.getvalue().splitlines()
    assert first == (
        "spark canary: interval 1/3, 20 s left: 1 FAIL, 1 PASS (healthz.status FAIL); "
        "failures so far: healthz.status x1"
    )
    assert second == "spark canary: interval 2/3, 10 s left: 2 PASS; failures so far: healthz.status x1"

"""The ``compare`` kind against a stand-in Prometheus on a real loopback socket (range queries)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from conftest import run_one_check
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from spark_ops.errors import ConfigError
from spark_ops.model import CheckResult, Status
from spark_ops.result_json import encode_check

RANGE_PATH = "/api/v1/query_range"
TEMPLATE = 'spark_metric{role="{role}"}'

# Fixed sample sets (20 each): the ids below say how they differ.
LOW = [0.010 + 0.0001 * i for i in range(20)]  # ~0.011
HIGH = [0.200 + 0.001 * i for i in range(20)]  # ~0.21: twenty times LOW
EVENS = [1.0 + 0.01 * i for i in range(0, 40, 2)]  # 1.00 .. 1.38
ODDS = [1.0 + 0.01 * i for i in range(1, 40, 2)]  # 1.01 .. 1.39: interleaved with EVENS, same spread
PLUS_15 = [1.15 * value for value in EVENS]
PLUS_5 = [1.05 + 0.001 * i for i in range(20)]  # tight, and 5 % above ONE
ONE = [1.0 + 0.001 * i for i in range(20)]
HALF = [0.5 * value for value in EVENS]


def compare(**options: Any) -> dict[str, Any]:
    """One ``compare`` check (as suite keys): canary role ``canary``, baseline role ``baseline``."""
    return {
        "name": "cmp",
        "kind": "compare",
        "query": TEMPLATE,
        "canary": "canary",
        "baseline": "baseline",
        **options,
    }


def matrix(*series: list[float | str], **extra: Any) -> dict[str, Any]:
    """A successful range-vector answer; each argument is one series' values (numbers or raw strings)."""
    result = [
        {
            "metric": {"__name__": "spark_metric", "series": str(index)},
            "values": [[1760616000 + step, str(value)] for step, value in enumerate(values)],
        }
        for index, values in enumerate(series)
    ]
    return {"status": "success", "data": {"resultType": "matrix", "result": result}, **extra}


class StandIn:
    """Answers a range query per role (the label value in the query) and keeps what was asked."""

    def __init__(self, httpserver: HTTPServer) -> None:
        self.answers: dict[str, tuple[Any, int]] = {}
        self.asked: list[dict[str, str]] = []
        httpserver.expect_request(RANGE_PATH).respond_with_handler(self.handle)

    def set(self, role: str, body: Any, status: int = 200) -> None:
        self.answers[role] = (body, status)

    def handle(self, request: Request) -> Response:
        params = {key: values[0] for key, values in parse_qs(request.query_string.decode()).items()}
        self.asked.append(params)
        role = "canary" if 'role="canary"' in params["query"] else "baseline"
        body, status = self.answers[role]
        data = body if isinstance(body, str) else json.dumps(body)
        return Response(data, status=status, content_type="application/json")


@pytest.fixture
def prometheus(httpserver: HTTPServer) -> StandIn:
    return StandIn(httpserver)


@pytest.fixture
def judge(
    tmp_path: Path, httpserver: HTTPServer, prometheus: StandIn, monkeypatch: pytest.MonkeyPatch
) -> Any:
    """Serve ``canary`` and ``baseline`` answers, run one compare check under dev, return its result."""
    monkeypatch.chdir(tmp_path)

    def run(
        canary_answer: Any,
        baseline_answer: Any,
        sets: tuple[str, ...] = (),
        status: int = 200,
        **options: Any,
    ) -> CheckResult:
        prometheus.set("canary", canary_answer, status)
        prometheus.set("baseline", baseline_answer, status)
        url = httpserver.url_for("").rstrip("/")
        return run_one_check(tmp_path, compare(**options), "dev", [f"prometheus.url={url}", *sets])

    return run


JUDGED = [
    # (id, canary answer, baseline answer, options, status, fragments of the reason)
    (
        "twenty-times-higher-fails",
        matrix(HIGH),
        matrix(LOW),
        {},
        Status.FAIL,
        [
            "canary median 0.2095 (n=20) vs baseline 0.01095 (n=20)",
            "+1813 %",
            "< alpha 0.05",
            "beyond max_effect 20 % (an increase is bad): FAIL",
        ],
    ),
    (
        "same-spread-passes",
        matrix(ODDS),
        matrix(EVENS),
        {},
        Status.PASS,
        [">= alpha 0.05, no significant change: PASS"],
    ),
    (
        "15-percent-is-marginal",
        matrix(PLUS_15),
        matrix(EVENS),
        {"max_effect": 0.2},
        Status.WARN,
        ["beyond marginal_effect 10 % but within max_effect 20 %"],
    ),
    (
        "significant-but-small-passes",
        matrix(PLUS_5),
        matrix(ONE),
        {},
        Status.PASS,
        ["< alpha 0.05, but within marginal_effect 10 %"],
    ),
    ("lower-is-fine-for-increase", matrix(LOW), matrix(HIGH), {}, Status.PASS, ["no significant change"]),
    (
        "lower-fails-for-decrease",
        matrix(HALF),
        matrix(EVENS),
        {"direction": "decrease"},
        Status.FAIL,
        ["-50 %", "(a decrease is bad): FAIL"],
    ),
    (
        "either-fails-higher",
        matrix(HIGH),
        matrix(LOW),
        {"direction": "either"},
        Status.FAIL,
        ["(any change is bad): FAIL"],
    ),
    (
        "either-fails-lower",
        matrix(LOW),
        matrix(HIGH),
        {"direction": "either"},
        Status.FAIL,
        ["-94.8 %", "(any change is bad): FAIL"],
    ),
    (
        "from-zero-baseline-fails",
        matrix(HIGH),
        matrix([0.0] * 20),
        {},
        Status.FAIL,
        ["+inf % (from a zero baseline)", "beyond max_effect"],
    ),
    ("both-zero-passes", matrix([0.0] * 20), matrix([0.0] * 20), {}, Status.PASS, ["p=1 >= alpha", "+0 %"]),
    (
        "series-are-pooled",
        matrix(HIGH[:10], HIGH[10:]),
        matrix(LOW[:5], LOW[5:]),
        {},
        Status.FAIL,
        ["(n=20 in 2 series) vs baseline", "(n=20 in 2 series)"],
    ),
    (
        "nan-fails",
        matrix([*HIGH[:19], "NaN"]),
        matrix(LOW),
        {},
        Status.FAIL,
        ["canary has 1 of 20 samples not a finite number (nan)"],
    ),
    (
        "inf-fails-even-if-equal",
        matrix(LOW),
        matrix([*LOW[:18], "+Inf", "-Inf"]),
        {},
        Status.FAIL,
        ["baseline has 2 of 20 samples not a finite number (-inf, inf)"],
    ),
    (
        "no-canary-series-fails",
        matrix(),
        matrix(LOW),
        {},
        Status.FAIL,
        ["no data for canary over the last 300 s (must_have_data = true): FAIL"],
    ),
    ("no-data-either-side-fails", matrix([]), matrix(), {}, Status.FAIL, ["no data for canary and baseline"]),
    (
        "no-data-inconclusive-if-allowed",
        matrix(),
        matrix(LOW),
        {"must_have_data": False},
        Status.INCONCLUSIVE,
        ["(must_have_data = false): INCONCLUSIVE"],
    ),
    (
        "few-samples-inconclusive",
        matrix(HIGH[:5]),
        matrix(LOW),
        {},
        Status.INCONCLUSIVE,
        ["(n=5)", "fewer than min_samples 10 on a side: INCONCLUSIVE"],
    ),
    (
        "vector-is-error",
        {"status": "success", "data": {"resultType": "vector", "result": []}},
        matrix(LOW),
        {},
        Status.ERROR,
        ["canary: Prometheus", "not a range vector (matrix)"],
    ),
    (
        "bad-value-pair-is-error",
        matrix(LOW),
        matrix([[1, 2]]),
        {},
        Status.ERROR,  # type: ignore[list-item]
        ["baseline: Prometheus", 'not a [time, "number"] pair'],
    ),
    (
        "warnings-make-a-pass-warn",
        matrix(ODDS, warnings=["partial answer"]),
        matrix(EVENS),
        {},
        Status.WARN,
        ["no significant change: WARN; Prometheus warns: partial answer"],
    ),
]


@pytest.mark.parametrize(
    ("canary", "baseline", "options", "status", "fragments"),
    [pytest.param(*case[1:], id=case[0]) for case in JUDGED],
)
def test_judgement(judge, canary, baseline, options, status, fragments):
    """Each verdict, with both sides' counts and medians, the effect, the p-value and the deciding rule."""
    result = judge(canary, baseline, **options)
    assert result.status is status, result.message
    for fragment in fragments:
        assert fragment in result.message, (fragment, result.message)
    assert "\n" not in result.message
    json.dumps(encode_check(result), allow_nan=False)  # observed and threshold are JSON-safe
    assert all(math.isfinite(value) for value in result.judgement.readings.values())


@pytest.mark.parametrize(
    ("status", "body", "fragment"),
    [
        pytest.param(
            400,
            {"status": "error", "errorType": "bad_data", "error": "parse error"},
            "HTTP 400: bad_data: parse error",
            id="prometheus-error",
        ),
        pytest.param(502, "<html>bad gateway</html>", "not a Prometheus answer", id="not-json"),
        pytest.param(200, {"status": "error"}, "no error message", id="error-without-words"),
    ],
)
def test_an_answer_that_cannot_be_judged_is_error(judge, status, body, fragment):
    """An HTTP or Prometheus error on either side is ERROR (never PASS), in Prometheus' words."""
    result = judge(body, body, status=status)
    assert result.status is Status.ERROR
    assert fragment in result.message


def test_readings_and_observed_of_a_verdict(judge):
    """The readings a window or report uses: both medians, sample counts, effect and p-value."""
    result = judge(matrix(HIGH), matrix(LOW))
    readings = result.judgement.readings
    assert set(readings) == {
        "canary_median",
        "baseline_median",
        "effect",
        "p_value",
        "canary_samples",
        "baseline_samples",
    }
    assert readings["canary_samples"] == readings["baseline_samples"] == 20
    assert readings["effect"] == pytest.approx(0.2095 / 0.01095 - 1, rel=1e-3)
    assert readings["p_value"] < 1e-6
    assert result.threshold == {
        "direction": "increase",
        "max_effect": 0.2,
        "marginal_effect": 0.1,
        "alpha": 0.05,
        "min_samples": 10,
    }
    assert set(result.artifacts) == {"canary.json", "baseline.json"}


def test_range_queries_ask_each_role_over_the_lookback(judge, prometheus):
    """One range query per role, the template's {role} replaced, over [now - lookback_s, now] at step_s."""
    judge(matrix(LOW), matrix(LOW), lookback_s=120, step_s=5)
    asked = sorted(prometheus.asked, key=lambda params: params["query"])
    assert [params["query"] for params in asked] == [
        'spark_metric{role="baseline"}',
        'spark_metric{role="canary"}',
    ]
    for params in asked:
        assert float(params["end"]) - float(params["start"]) == pytest.approx(120)
        assert params["step"] == "5"


def test_alpha_defaults_to_the_profiles(judge):
    """Without its own alpha the check uses the profile's ``[canary] alpha``."""
    result = judge(matrix(LOW), matrix(LOW), sets=("canary.alpha=0.01",))
    assert result.threshold["alpha"] == 0.01


@pytest.mark.parametrize(
    ("options", "key", "fragment"),
    [
        pytest.param({"query": "spark_metric"}, "query", "{role} placeholder", id="no-placeholder"),
        pytest.param({"baseline": "canary"}, "canary", "both 'canary'", id="same-roles"),
        pytest.param(
            {"max_effect": 0.1, "marginal_effect": 0.2},
            "marginal_effect",
            "above max_effect",
            id="marginal-above-max",
        ),
        pytest.param({"lookback_s": 86400, "step_s": 1}, "step_s", "11000 points", id="too-many-points"),
        pytest.param({"direction": "up"}, "direction", "", id="bad-direction"),
        pytest.param({"critical": True}, "critical", "", id="critical-is-severity"),
    ],
)
def test_config_errors_name_the_key(judge, options, key, fragment):
    """A compare check that cannot be judged as written is refused (exit 2) naming its key."""
    with pytest.raises(ConfigError) as caught:
        judge(matrix(LOW), matrix(LOW), **options)
    assert key in str(caught.value)
    assert fragment in str(caught.value)

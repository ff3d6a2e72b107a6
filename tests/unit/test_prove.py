"""spark_ops.prove: the breakages, the in-process replay, the verdicts and the lint, without the CLI."""

from __future__ import annotations

import asyncio
import json
import math
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from conftest import free_port, spec_of

from spark_ops.api import (
    Answer,
    Breakage,
    CheckBase,
    Judgement,
    Options,
    Profile,
    Status,
    Target,
    TargetError,
)
from spark_ops.config import Suite, load_profile
from spark_ops.exposition import parse_exposition
from spark_ops.model import RiskLevel
from spark_ops.pipeline import PreparedRun
from spark_ops.prove import breakage as b
from spark_ops.prove.kinds import _without_family
from spark_ops.prove.lint import duplicate_names, lint
from spark_ops.prove.prover import Verdict, prove
from spark_ops.prove.render import encode, text
from spark_ops.prove.replay import Recorded, Replay
from spark_ops.redact import Redactor
from spark_ops.registry import PreparedCheck

HEALTH = {"status": "UP", "slo": {"latencyP95": 14, "errorRate": 0.0, "staleness": 0}}
HEALTH_ANSWER = Answer(200, json.dumps(HEALTH).encode(), {"content-type": "application/json"})
REPO = Path(__file__).resolve().parents[2]


def _rewritten(breakage: Breakage, answer: Answer = HEALTH_ANSWER) -> Answer | None:
    assert breakage.answer is not None
    return breakage.answer(answer)


def _field(answer: Answer | None, path: str) -> Any:
    assert answer is not None
    from spark_ops.jsonpath import lookup

    return lookup(json.loads(answer.body), path)


# --- breakages ----------------------------------------------------------------------------------------


def test_json_field_sets_removes_and_leaves_the_rest() -> None:
    """A field breakage changes exactly that field of the recorded JSON; other keys stay as recorded."""
    broken = _rewritten(b.json_field("slo.latencyP95", 1500.0, "= 1500", "why"))
    assert _field(broken, "slo.latencyP95") == 1500.0
    assert _field(broken, "status") == "UP"
    removed = _rewritten(b.json_field("slo.latencyP95", b.REMOVED, "removed", "why"))
    assert removed is not None and "latencyP95" not in json.loads(removed.body)["slo"]
    nan = _rewritten(b.json_field("slo.latencyP95", math.nan, "= NaN", "why"))
    assert nan is not None and b"NaN" in nan.body


def test_cut_body_breaks_mid_line() -> None:
    """The cut keeps the first half up to a few bytes into a line: the result is no whole document."""
    exposition = b"".join(b"metric_%d 1\n" % i for i in range(40))
    cut = _rewritten(b.cut_body(), Answer(200, exposition))
    assert cut is not None and 0 < len(cut.body) < len(exposition)
    assert not cut.body.endswith(b"\n")
    with pytest.raises(ValueError):
        json.loads(_rewritten(b.cut_body()).body)  # type: ignore[union-attr]


def test_family_removed_from_an_exposition() -> None:
    """Every line of the family goes (HELP, TYPE, samples); the rest still parses."""
    exposition = (
        b"# HELP process_resident_memory_bytes RSS\n# TYPE process_resident_memory_bytes gauge\n"
        b"process_resident_memory_bytes 1.5e7\nup 1\n"
    )
    left = _without_family(exposition, "process_resident_memory_bytes")
    assert b"process_resident_memory_bytes" not in left
    assert "up" in parse_exposition(left.decode()).names


@pytest.mark.parametrize(
    ("healthy", "broken"),
    [("UP", "DOWN"), ("ok", "error"), ("Healthy", "Unhealthy"), ("MAINTENANCE", "DOWN"), ("v1.2", "down")],
    ids=["UP", "ok", "Healthy", "unknown-upper", "unknown-lower"],
)
def test_broken_word(healthy: str, broken: str) -> None:
    """Another plausible value of the same type: the broken counterpart of a health word, in its case."""
    assert b.broken_word(healthy) == broken


def test_far_past_the_target_comes_from_the_profile() -> None:
    """Latency breaks at 10x the profile's target and at 10 s; error rate at 0.5; staleness at 1 h."""
    dev, production = load_profile("dev"), load_profile("production")
    assert [v for v, _ in b.QUANTITIES["latency"].bad_values(dev)] == [1500.0, 10_000.0]
    assert [v for v, _ in b.QUANTITIES["latency"].bad_values(production)] == [1200.0, 10_000.0]
    assert [v for v, _ in b.QUANTITIES["error rate"].bad_values(dev)] == [0.5]
    assert [v for v, _ in b.QUANTITIES["staleness"].bad_values(dev)] == [3600.0]


@pytest.mark.parametrize(
    ("unit", "values"),
    [("ms", [-1.0]), ("s", [-1.0]), ("count", [-1.0]), ("ratio", [-1.0, 2.0]), ("percent", [-1.0, 101.0])],
)
def test_impossible_values_lie_one_past_each_end_of_the_domain(unit: str, values: list[float]) -> None:
    """Below zero for every unit, above 1 for a ratio and 100 for a percentage: each named as outside."""
    planted = b.impossible_values(unit)
    assert [value for value, _ in planted] == values
    assert all(why.startswith("outside its domain ") and f"({unit})" in why for _, why in planted)


def test_a_plain_number_has_no_impossible_value() -> None:
    """``number`` spans every finite value: nothing lies outside it to plant."""
    assert b.impossible_values("number") == []


PROMQL_PLANTED = [
    # (unit, the values planted beside the empty, NaN and error answers, how many are far past a target)
    ("ms", ["1500", "10000", "-1"], 2),  # a latency: 10x the dev profile's 150 ms target, 10 s; below zero
    ("ratio", ["0.5", "-1", "2"], 1),  # an error rate: half of all requests failing; outside [0, 1]
    ("s", ["-1"], 0),  # seconds name no quantity (an uptime is healthy when large)
    ("percent", ["-1", "101"], 0),
    ("count", ["-1"], 0),
    ("number", [], 0),  # the default: nothing says which value is bad
]


@pytest.mark.parametrize(
    ("unit", "values", "far_past"), PROMQL_PLANTED, ids=[row[0] for row in PROMQL_PLANTED]
)
def test_a_promql_checks_unit_chooses_the_values_planted(unit: str, values: list[str], far_past: int) -> None:
    """A numeric bound names no quantity: the declared unit does, and fixes which values are impossible."""
    from spark_ops.checks.promql import PromqlCheck, PromqlOptions

    dev = load_profile("dev")
    check = PromqlCheck(
        PromqlOptions(query="x", unit=unit, max=1e9, prometheus_url="http://127.0.0.1:9"), dev
    )
    names = [breakage.name for breakage in check.breakages(dev)]
    prefix = "Prometheus answers a value of "
    assert [name.removeprefix(prefix).split(" ")[0] for name in names if name.startswith(prefix)] == values
    assert sum(name.endswith("far past the target)") for name in names) == far_past, names


@pytest.mark.parametrize(
    ("unit", "values"),
    [("ms", ["-1"]), ("ratio", ["-1", "2"]), ("number", [])],
    ids=["ms", "ratio", "number"],
)
def test_an_slo_checks_unit_plants_the_values_it_cannot_take(unit: str, values: list[str]) -> None:
    """Beside the far-past values, an slo field is set to each value outside its unit's domain."""
    from spark_ops.checks.slo import SloCheck, SloOptions

    dev = load_profile("dev")
    check = SloCheck(SloOptions(service="web", path="/h", field="x.y", unit=unit, max=1e9), dev)
    names = [breakage.name for breakage in check.breakages(dev)]
    planted = [
        name.split(" ")[2] for name in names if name.startswith("x.y = ") and "outside its domain" in name
    ]
    assert planted == values, names


def test_a_breakage_has_exactly_one_way_to_break() -> None:
    """Neither or both of answer and stand_in is a plug-in author's mistake, refused at once."""
    with pytest.raises(ValueError, match="exactly one"):
        Breakage("nothing", "why")


# --- the replay transport -----------------------------------------------------------------------------


def _fetch_all(transport: Replay, urls: Sequence[str]) -> list[httpx.Response | Exception]:
    async def go() -> list[httpx.Response | Exception]:
        out: list[httpx.Response | Exception] = []
        async with httpx.AsyncClient(transport=transport) as client:
            for url in urls:
                try:
                    response = await client.get(url)
                    await response.aread()
                    out.append(response)
                except httpx.HTTPError as exc:
                    out.append(exc)
        return out

    return asyncio.run(go())


def test_replay_serves_recorded_answers_and_refuses_the_rest() -> None:
    """A recorded request gets its answer back; one never recorded is a service that is down."""
    recorded = Recorded({("GET", "http://web/api/healthz"): HEALTH_ANSWER})
    replay = Replay(recorded)
    answered, refused = _fetch_all(replay, ["http://web/api/healthz", "http://web/other"])
    assert isinstance(answered, httpx.Response) and answered.json() == HEALTH
    assert isinstance(refused, httpx.ConnectError)
    assert replay.unrecorded == {("GET", "http://web/other")}


def test_replay_spreads_injected_errors_evenly() -> None:
    """error_fraction 0.5: every second request answers 500, the others as recorded."""
    recorded = Recorded({("GET", "http://web/"): Answer(200, b"ok")})
    replay = Replay(recorded, b.failing_requests(0.5, "half").answer)
    statuses = [r.status_code for r in _fetch_all(replay, ["http://web/"] * 10)]  # type: ignore[union-attr]
    assert statuses == [500, 200] * 5 or statuses == [200, 500] * 5


# --- verdicts, through the prover with kinds defined here ---------------------------------------------


class AlwaysOptions(Options, frozen=True, kw_only=True):
    breaks: bool = True  # whether it declares a breakage


class AlwaysPasses(CheckBase):
    """A plug-in kind that never looks at the platform: whatever breaks, it passes."""

    kind: ClassVar[str] = "always"
    Options: ClassVar[type[AlwaysOptions]] = AlwaysOptions

    def __init__(self, options: AlwaysOptions, profile: Profile) -> None:
        self.options = options

    def breakages(self, profile: Profile) -> list[Breakage]:
        return [b.down()] if self.options.breaks else []

    async def judge(self, probe: Any) -> Judgement:
        return Judgement(Status.PASS, "all good, always")


class Refuses(CheckBase):
    """A kind whose stand-in breakage makes it fail: proven through ``stand_in``."""

    kind: ClassVar[str] = "refuses"
    Options: ClassVar[type[AlwaysOptions]] = AlwaysOptions

    def __init__(self, options: AlwaysOptions, profile: Profile, broken: bool = False) -> None:
        self.broken = broken

    def breakages(self, profile: Profile) -> list[Breakage]:
        @asynccontextmanager
        async def stand_in() -> AsyncIterator[Refuses]:
            yield Refuses(AlwaysOptions(), profile, broken=True)

        return [Breakage("the port closed", "an outage", stand_in=stand_in)]

    async def judge(self, probe: Any) -> Judgement:
        if self.broken:
            raise TargetError("connection refused")
        return Judgement(Status.PASS, "connected")


def _run(*checks: Any) -> PreparedRun:
    profile = load_profile("dev")
    prepared = [
        PreparedCheck(spec_of(f"c{i}", check.kind), timeout_s=5.0, retries=0, check=check)
        for i, check in enumerate(checks)
    ]
    suite = Suite("test", "test.toml", "", tuple(p.spec for p in prepared))
    return PreparedRun("prove", profile, suite, prepared, RiskLevel.HIGH, None, Redactor([]))


@pytest.mark.parametrize(
    ("check", "verdict", "exit_code"),
    [
        (AlwaysPasses(AlwaysOptions(), load_profile("dev")), Verdict.VACUOUS, 1),
        (AlwaysPasses(AlwaysOptions(breaks=False), load_profile("dev")), Verdict.NOT_PROVABLE, 3),
        (Refuses(AlwaysOptions(), load_profile("dev")), Verdict.PROVEN, 0),
    ],
    ids=["passes-a-breakage", "declares-none", "stand-in-fails-it"],
)
def test_verdicts_and_exit_codes(check: Any, verdict: Verdict, exit_code: int) -> None:
    """Vacuous when a breakage passes (exit 1), not provable when the kind declares none (exit 3),
    proven when every breakage fails it (exit 0)."""
    report = prove(_run(check), source="test")
    [proof] = report.checks
    assert proof.verdict is verdict, proof.reason
    assert report.exit_code == exit_code
    if verdict is Verdict.VACUOUS:
        assert [t.breakage for t in proof.passed_breakages] == ["service down (connection refused)"]
        assert "let through: service down" in text(report)
        assert encode(report)["checks"][0]["breakages"][0]["let_through"] is True


def test_vacuous_wins_over_not_provable() -> None:
    """One vacuous check and one not provable: exit 1, the worse of the two."""
    profile = load_profile("dev")
    report = prove(
        _run(AlwaysPasses(AlwaysOptions(), profile), AlwaysPasses(AlwaysOptions(breaks=False), profile)),
        source="test",
    )
    assert [p.verdict for p in report.checks] == [Verdict.VACUOUS, Verdict.NOT_PROVABLE]
    assert report.exit_code == 1


def test_a_failing_hook_is_not_provable_never_proven() -> None:
    """A plug-in whose breakages() raises: not provable, with the reason."""

    class Broken(AlwaysPasses):
        def breakages(self, profile: Profile) -> list[Breakage]:
            raise RuntimeError("oops")

    report = prove(_run(Broken(AlwaysOptions(), load_profile("dev"))), source="test")
    assert report.checks[0].verdict is Verdict.NOT_PROVABLE
    assert "breakages() failed: RuntimeError: oops" in report.checks[0].reason


@pytest.mark.parametrize("where", ["answer", "stand_in"])
def test_a_breakage_that_fails_to_apply_proves_nothing(where: str) -> None:
    """A rewrite or a stand-in that raises is skipped, never counted as the check catching it."""

    def explode(*_: Any) -> Any:
        raise RuntimeError("boom")

    class Fragile(Refuses):
        def breakages(self, profile: Profile) -> list[Breakage]:
            return [Breakage("fragile", "why", **{where: explode})]

        async def judge(self, probe: Any) -> Judgement:
            await probe.fetch(Target(url=f"http://127.0.0.1:{free_port()}/", headers={}))
            return Judgement(Status.PASS, "fetched")

    report = prove(_run(Fragile(AlwaysOptions(), load_profile("dev"))), source="test")
    [proof] = report.checks
    assert proof.verdict is Verdict.NOT_PROVABLE, proof.reason
    assert (
        proof.trials[0].status is None
        and "the breakage failed: RuntimeError: boom" in proof.trials[0].message
    )
    assert report.exit_code == 3


def test_the_tcp_plugin_is_proven(monkeypatch: pytest.MonkeyPatch) -> None:
    """examples/plugin's tcp kind declares its breakage (the port closed) through spark_ops.api."""
    monkeypatch.syspath_prepend(str(REPO / "examples" / "plugin"))
    monkeypatch.delitem(sys.modules, "spark_tcp", raising=False)
    import socket

    import spark_tcp

    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        check = spark_tcp.TcpCheck(spark_tcp.TcpOptions(host="127.0.0.1", port=port), load_profile("dev"))
        report = prove(_run(check), source="test")
    [proof] = report.checks
    assert proof.baseline.status is Status.PASS
    assert proof.verdict is Verdict.PROVEN, proof.reason
    assert proof.trials[0].status is Status.FAIL and "connection refused" in proof.trials[0].message


# --- lint ---------------------------------------------------------------------------------------------


def _lint(*entries: dict[str, Any], profile: str = "dev") -> list[Any]:
    from spark_ops.registry import prepare

    loaded = load_profile(profile)
    specs = tuple(
        spec_of(e["name"], e["kind"], **{k: v for k, v in e.items() if k not in ("name", "kind")})
        for e in entries
    )
    suite = Suite("test", "test.toml", "", specs)
    return list(lint(suite, prepare(suite, loaded), loaded))


def test_lint_threshold_above_the_profile_target() -> None:
    """max = 1e9 on slo.latencyP95 contradicts the profile's 150 ms target; max = the key does not."""
    [finding] = _lint(
        {
            "name": "lax",
            "kind": "slo",
            "service": "web",
            "path": "/api/healthz",
            "field": "slo.latencyP95",
            "max": 1e9,
        },
        {
            "name": "ok",
            "kind": "slo",
            "service": "web",
            "path": "/api/healthz",
            "field": "slo.latencyP95",
            "max": "slo.latency_p95_ms",
        },
    )
    assert (finding.check, finding.rule, finding.blocking) == ("lax", "contradicts-profile", True)
    assert "slo.latency_p95_ms = 150" in finding.message


def test_lint_latency_probe_above_the_profile_target() -> None:
    """A probe's max_error_rate above the profile's error-rate target is a contradiction too."""
    [finding] = _lint(
        {
            "name": "probe",
            "kind": "latency",
            "service": "web",
            "path": "/",
            "count": 20,
            "max_error_rate": 0.5,
        }
    )
    assert finding.rule == "contradicts-profile" and "max_error_rate = 0.5" in finding.message


def test_lint_a_declared_unit_names_the_quantity_a_bound_contradicts() -> None:
    """A plain bound on a reading declared in ms or as a ratio is held to the profile's latency or
    error-rate target, for slo and promql alike; a plain number names no target."""
    findings = _lint(
        {"name": "q.errors", "kind": "promql", "query": "rate(x[5m])", "unit": "ratio", "max": 1e9},
        {"name": "q.fine", "kind": "promql", "query": "rate(x[5m])", "unit": "ratio", "max": 0.01},
        {"name": "q.any", "kind": "promql", "query": "up", "max": 1e9},
        {
            "name": "s.p99",
            "kind": "slo",
            "service": "web",
            "path": "/api/healthz",
            "field": "slo.latencyP99",
            "unit": "ms",
            "max": 900,
        },
    )
    assert [(f.check, f.rule) for f in findings] == [
        ("q.errors", "contradicts-profile"),
        ("s.p99", "contradicts-profile"),
    ]
    assert "error rate target" in findings[0].message and "slo.error_rate = 0.05" in findings[0].message
    assert "max = 900" in findings[1].message and "slo.latency_p95_ms = 150" in findings[1].message


def test_lint_no_assertion() -> None:
    """An HTTP check accepting every status and asserting nothing else asserts nothing."""
    findings = _lint(
        {
            "name": "any",
            "kind": "http",
            "service": "web",
            "path": "/",
            "expect_status": ["1xx", "2xx", "3xx", "4xx", "5xx"],
        }
    )
    assert [f.rule for f in findings] == ["no-assertion"]


def test_lint_profile_key_missing_from_a_shipped_profile(tmp_path: Path) -> None:
    """A threshold naming a key only the user's profile has: the shipped profiles cannot load the suite."""
    own = tmp_path / "own.toml"
    own.write_text('extends = "dev"\n[pm2]\nmax_memory_mb = 512\n', encoding="utf-8")
    findings = _lint(
        {
            "name": "mem",
            "kind": "slo",
            "service": "web",
            "path": "/api/healthz",
            "field": "memory",
            "max": "pm2.max_memory_mb",
        },
        profile=str(own),
    )
    assert [(f.rule, f.blocking) for f in findings] == [("unknown-profile-key", False)]
    assert "base, dev, production" in findings[0].message


def test_duplicate_names_are_all_named() -> None:
    """Every shared name is reported, not just the first the loader stops at."""
    entries = [{"name": "a"}, {"name": "b"}, {"name": "a"}, {"name": "b"}, {"name": "c"}]
    assert [f.check for f in duplicate_names(entries)] == ["a", "b"]

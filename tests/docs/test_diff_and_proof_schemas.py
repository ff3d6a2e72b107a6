"""docs/schemas/diff.schema.json and proof.schema.json hold what spark-ops prints: `spark evidence diff
--format json` on real runs (regressions of every kind, the same runs the other way round, no change at
all; from run IDs, run folders and an exported archive) and `spark suite prove --format json` (the gate
on the simulator, a suite with vacuous and not provable checks and every lint rule, --from-live on a
healthy and a sick platform). The schemas can fail: broken copies of real documents are refused."""

from __future__ import annotations

import copy
import json
import re
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, CliResult, FakePlatform, exported_path, free_port, write_suite
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner

from spark_ops.cli import app

from .conftest import errors_of, schema_validator

Spark = Callable[..., CliResult]


def strict_json(text: str) -> Any:
    """``text`` parsed as JSON proper: NaN and Infinity, which json.dumps writes by default, are refused."""

    def refuse(constant: str) -> Any:
        raise AssertionError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One working directory for the module (the runs and archives the diffs read are kept here)."""
    folder = tmp_path_factory.mktemp("schemas")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        patch.delenv("GITHUB_ACTIONS", raising=False)
        patch.delenv("SPARK_EXIT_ON_FAIL", raising=False)
        yield folder


@pytest.fixture(scope="module")
def spark_here(workdir: Path) -> Spark:
    """conftest's ``spark``, for the whole module: the runs are made once and every test reads them."""
    runner = CliRunner()

    def invoke(*args: str) -> CliResult:
        result = runner.invoke(app, list(args), catch_exceptions=False)
        return CliResult(result.exit_code, result.stdout, result.stderr)

    return invoke


@pytest.fixture(scope="module")
def module_platform() -> Iterator[FakePlatform]:
    """conftest's ``platform`` on a loopback server of the module's own."""
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    fake = FakePlatform(server)
    server.expect_request(re.compile(".*")).respond_with_handler(fake._handle)
    try:
        yield fake
    finally:
        server.clear()
        server.stop()


def printed(result: CliResult, exit_code: int = 0) -> dict[str, Any]:
    assert result.exit_code == exit_code, result.stdout + result.stderr
    document: dict[str, Any] = strict_json(result.stdout)
    return document


# --- spark evidence diff -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def diffs(spark_here: Spark, module_platform: FakePlatform, workdir: Path) -> dict[str, dict[str, Any]]:
    """Two real gate runs, then their diffs. The second drops executor.up, adds a failing page check and
    sees the p95 SLO at 400 ms (14 before): checks added and removed, a new failure, a reading past the
    bound, a higher risk."""
    sets = module_platform.sets()
    assert spark_here("gate", *sets).exit_code == 0
    shipped = tomllib.loads((ROOT / "checks" / "gate.toml").read_text(encoding="utf-8"))["checks"]
    later = [check for check in shipped if check["name"] != "executor.up"]
    later.append({"name": "ui.dashboard", "kind": "http", "service": "web", "path": "/dashboard"})
    (workdir / "later").mkdir()
    suite = write_suite(workdir / "later", *later)
    module_platform.health["slo"]["latencyP95"] = 400
    module_platform.page_status["/dashboard"] = 500
    try:
        assert spark_here("gate", "--suite", str(suite), *sets).exit_code == 0
    finally:
        module_platform.health["slo"]["latencyP95"] = 14
        module_platform.page_status.clear()
    before, after = sorted(path.name for path in (workdir / "evidence" / "runs").iterdir())
    folders = [str(workdir / "evidence" / "runs" / name) for name in (before, after)]
    archive = exported_path(spark_here("evidence", "export", "--all", "--name", "both"), workdir)

    def diff(*args: str) -> dict[str, Any]:
        return printed(spark_here("evidence", "diff", *args, "--format", "json"))

    return {
        "run-ids": diff(before, after),
        "other-way-round": diff(after, before),
        "no-change": diff(before, before),
        "run-folders": diff(*folders),
        "archive": diff(f"{archive}#{before}", f"{archive}#{after}"),
        "bound-3000": diff(before, after, "--max-rise", "3000"),
    }


def test_the_diffs_are_the_changes_the_schema_is_tested_on(diffs):
    """The diffs hold what the schema has to describe: every list filled, and an empty diff."""
    worse = diffs["run-ids"]
    assert [c["name"] for c in worse["checks_added"]] == ["ui.dashboard"]
    assert [c["name"] for c in worse["checks_removed"]] == ["executor.up"]
    assert [(c["check"], c["change"]) for c in worse["status_changes"]] == [
        ("healthz.slo.latencyP95", "new failure")
    ]
    assert any(r["worse"] and r["reading"] == "slo.latencyP95" for r in worse["readings"]), worse["readings"]
    assert (worse["before"]["risk"], worse["after"]["risk"]) == ("LOW", "HIGH")
    assert len(worse["regressions"]) >= 4
    assert [c["change"] for c in diffs["other-way-round"]["status_changes"]] == ["better"]
    assert diffs["other-way-round"]["regressions"] == []
    empty = diffs["no-change"]
    assert [empty[key] for key in ("checks_added", "checks_removed", "status_changes", "readings")] == [
        []
    ] * 4
    assert empty["regressions"] == []
    assert diffs["archive"]["before"]["run"].startswith("both_")
    assert diffs["bound-3000"]["max_rise"] == 30


@pytest.mark.parametrize(
    "name", ["run-ids", "other-way-round", "no-change", "run-folders", "archive", "bound-3000"]
)
def test_real_diffs_match_the_schema(diffs, name):
    """Every diff of real runs, from run IDs, run folders and an archive, matches diff.schema.json."""
    assert errors_of(schema_validator("diff.schema.json"), diffs[name]) == [], json.dumps(diffs[name])[:2000]


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A change setting ``a/0/b`` (as the validator names a place) to ``value``."""

    def change(document: dict[str, Any]) -> None:
        *parents, last = path.split("/")
        target: Any = document
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        target[int(last) if isinstance(target, list) else last] = value

    return change


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda d: d.pop("regressions"), "'regressions' is a required property"),
        (lambda d: d["after"].pop("exit_code"), "'exit_code' is a required property"),
        (_set("schema", "spark-ops/diff/v2"), "schema"),
        (_set("before/risk", "SEVERE"), "before/risk"),
        (_set("after/started_at", "yesterday"), "after/started_at"),
        (_set("checks_added/0/status", "OK"), "checks_added/0/status"),
        (_set("status_changes/0/change", "regressed"), "status_changes/0/change"),
        (_set("readings/0/before", "14"), "readings/0/before"),
        (_set("readings/0/worse", "yes"), "readings/0/worse"),
        (_set("max_rise", -0.5), "max_rise"),
        (lambda d: d["regressions"].append("got slower"), "regressions/"),
        (_set("surprise", 1), "surprise"),
        (_set("checks_removed/0/severity", "critical"), "checks_removed/0"),
        (_set("readings/0/unit", "ms"), "readings/0"),
    ],
    ids=[
        "no-regressions",
        "no-exit-code",
        "other-schema",
        "unknown-risk",
        "not-a-utc-time",
        "unknown-status",
        "unknown-change",
        "reading-not-a-number",
        "worse-not-a-boolean",
        "negative-bound",
        "unknown-regression",
        "unknown-key",
        "unknown-key-in-a-check",
        "unknown-key-in-a-reading",
    ],
)
def test_the_diff_schema_refuses_broken_documents(diffs, change, fragment):
    """The schema can fail: each broken copy of the real regression diff is refused, naming where."""
    document = copy.deepcopy(diffs["run-ids"])
    assert errors_of(schema_validator("diff.schema.json"), document) == []
    change(document)
    errors = errors_of(schema_validator("diff.schema.json"), document)
    assert any(fragment in error for error in errors), errors


# --- spark suite prove -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def proofs(spark_here: Spark, module_platform: FakePlatform, workdir: Path) -> dict[str, dict[str, Any]]:
    """Real proofs: the gate on the simulator; a planted suite (vacuous checks, one that cannot pass, one
    nothing answers, every lint rule); --from-live on a healthy platform and on one already DOWN."""
    (workdir / "planted").mkdir()
    own = workdir / "planted" / "own.toml"  # a profile key the shipped profiles lack (unknown-profile-key)
    own.write_text('extends = "dev"\n[pm2]\nmax_memory_mb = 512\n', encoding="utf-8")
    healthz = {"service": "web", "path": "/api/healthz"}
    suite = write_suite(
        workdir / "planted",
        {"name": "ui.up", "kind": "http", "service": "web"},
        {"name": "lax", "kind": "slo", **healthz, "field": "slo.latencyP95", "max": 1e9},
        {
            "name": "anything",
            "kind": "http",
            "service": "web",
            "expect_status": ["1xx", "2xx", "3xx", "4xx", "5xx"],
        },
        {"name": "memory", "kind": "slo", **healthz, "field": "memory", "max": "pm2.max_memory_mb"},
        {
            "name": "nobody",  # never answers: its NaN breakage has nothing recorded to break (skipped)
            "kind": "metrics",
            "url": f"http://127.0.0.1:{free_port()}/metrics",
            "values": [{"metric": "up", "min": 1}],
        },
    )
    prove = ("suite", "prove", "--format", "json")
    documents = {
        "gate": printed(spark_here(*prove)),
        "planted": printed(spark_here(*prove, "--suite", str(suite), "--profile", str(own)), exit_code=1),
        "from-live": printed(spark_here(*prove, "--from-live", *module_platform.sets())),
    }
    module_platform.health["status"] = "DOWN"
    try:
        documents["from-live-down"] = printed(
            spark_here(*prove, "--from-live", *module_platform.sets()), exit_code=3
        )
    finally:
        module_platform.health["status"] = "UP"
    return documents


def test_the_proofs_are_the_verdicts_the_schema_is_tested_on(proofs):
    """The proofs hold every verdict, every lint rule, a skipped breakage and both recordings."""
    planted = proofs["planted"]
    verdicts = {check["name"]: check["verdict"] for check in planted["checks"]}
    assert verdicts == {
        "ui.up": "proven",
        "lax": "vacuous",
        "anything": "vacuous",
        "memory": "not_provable",
        "nobody": "proven",
    }
    assert planted["summary"] == {"proven": 2, "vacuous": 2, "not_provable": 1}
    assert {(f["rule"], f["blocking"]) for f in planted["lint"]} == {
        ("contradicts-profile", True),
        ("no-assertion", True),
        ("unknown-profile-key", False),
    }
    nobody = next(check for check in planted["checks"] if check["name"] == "nobody")
    assert None in [b["status"] for b in nobody["breakages"]]
    assert {d["recorded_from"] for d in proofs.values()} == {"simulator", "live"}
    assert [d["exit_code"] for d in proofs.values()] == [0, 1, 0, 3]


@pytest.mark.parametrize("name", ["gate", "planted", "from-live", "from-live-down"])
def test_real_proofs_match_the_schema(proofs, name):
    """Every proof printed by a real `spark suite prove` matches proof.schema.json."""
    assert errors_of(schema_validator("proof.schema.json"), proofs[name]) == [], json.dumps(proofs[name])[
        :2000
    ]


def _check(name: str, change: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    """A change to the planted proof's check ``name``."""

    def apply(document: dict[str, Any]) -> None:
        change(next(check for check in document["checks"] if check["name"] == name))

    return apply


def _index(name: str) -> int:
    return ["ui.up", "lax", "anything", "memory", "nobody"].index(name)


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda d: d.pop("lint"), "'lint' is a required property"),
        (_set("schema", "spark-ops/proof/v2"), "schema"),
        (_set("recorded_from", "cache"), "recorded_from"),
        (_set("summary/proven", "2"), "summary/proven"),
        (_set("exit_code", 2), "exit_code"),
        (_set("lint/0/rule", "duplicate-name"), "lint/0/rule"),
        (_set("checks/0/verdict", "maybe"), "checks/0/verdict"),
        (_set("checks/0/baseline/status", None), "checks/0/baseline/status"),
        (_set("checks/0/baseline/let_through", False), "checks/0/baseline"),
        (_set("checks/0/breakages/0/status", "OK"), "checks/0/breakages/0/status"),
        (_set("checks/0/breakages/0/let_through", True), "checks/0/breakages/0/let_through"),
        (_check("lax", lambda c: c.update(verdict="proven")), f"checks/{_index('lax')}/breakages/"),
        (_check("ui.up", lambda c: c.update(verdict="vacuous")), f"checks/{_index('ui.up')}/breakages"),
        (
            _check("nobody", lambda c: c.update(verdict="not_provable")),
            f"checks/{_index('nobody')}/breakages/",
        ),
        (_set("surprise", 1), "surprise"),
        (_set("checks/0/matters", "why"), "checks/0"),
    ],
    ids=[
        "no-lint",
        "other-schema",
        "unknown-recording",
        "count-not-a-number",
        "unknown-exit-code",
        "duplicate-name-is-no-finding",
        "unknown-verdict",
        "baseline-without-status",
        "baseline-let-through",
        "unknown-status",
        "fail-let-through",
        "proven-yet-let-through",
        "vacuous-yet-nothing-let-through",
        "not-provable-yet-judged",
        "unknown-key",
        "unknown-key-in-a-check",
    ],
)
def test_the_proof_schema_refuses_broken_documents(proofs, change, fragment):
    """The schema can fail: each broken copy of the planted suite's real proof is refused, naming where."""
    document = copy.deepcopy(proofs["planted"])
    assert [check["name"] for check in document["checks"]] == ["ui.up", "lax", "anything", "memory", "nobody"]
    change(document)
    errors = errors_of(schema_validator("proof.schema.json"), document)
    assert any(fragment in error for error in errors), errors

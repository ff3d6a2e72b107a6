"""Prove a suite: record the platform's answers once, then run every check against each breakage it
declares, in-process, and say per check whether it is proven, vacuous or not provable."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from spark_ops.errors import one_line
from spark_ops.model import CheckResult, Status
from spark_ops.prove.breakage import Breakage
from spark_ops.prove.lint import Finding, lint

if TYPE_CHECKING:
    from spark_ops.pipeline import PreparedRun
    from spark_ops.prove.replay import Recorded
    from spark_ops.redact import Redactor
    from spark_ops.registry import PreparedCheck

# A breakage is caught when the check would stop a pipeline: FAIL, ERROR or INCONCLUSIVE (exit 1 or 3).
# PASS and WARN both let a deploy through (a warning is risk MEDIUM, below the default fail_on).
LET_THROUGH = frozenset({Status.PASS, Status.WARN, Status.SKIP})


class Verdict(StrEnum):
    PROVEN = "proven"
    VACUOUS = "vacuous"
    NOT_PROVABLE = "not_provable"


@dataclass(frozen=True, slots=True)
class Trial:
    """One run of a check: against the healthy recording (the baseline) or under one breakage."""

    breakage: str
    matters: str
    status: Status | None  # None: skipped (the breakage starts from a recording there is none of)
    message: str
    observed: Any = None

    @property
    def let_through(self) -> bool:
        return self.status is not None and self.status in LET_THROUGH


@dataclass(frozen=True, slots=True)
class CheckProof:
    name: str
    kind: str
    verdict: Verdict
    reason: str
    baseline: Trial
    trials: tuple[Trial, ...]

    @property
    def passed_breakages(self) -> list[Trial]:
        return [trial for trial in self.trials if trial.let_through]


@dataclass(frozen=True, slots=True)
class ProofReport:
    suite: str
    profile: str
    source: str  # "simulator" or "live"
    duration_ms: int
    checks: tuple[CheckProof, ...]
    lint: tuple[Finding, ...] = field(default_factory=tuple)

    def count(self, verdict: Verdict) -> int:
        return sum(1 for proof in self.checks if proof.verdict is verdict)

    @property
    def exit_code(self) -> int:
        """1 when a check is vacuous (or lint found a defect), 3 when some are not provable, else 0."""
        if self.count(Verdict.VACUOUS) or any(finding.blocking for finding in self.lint):
            return 1
        if self.count(Verdict.NOT_PROVABLE):
            return 3
        return 0


def prove(run: PreparedRun, *, source: str) -> ProofReport:
    """Record ``run``'s platform once, then prove every check of its suite against its breakages."""
    started = time.perf_counter()
    proofs = asyncio.run(_prove_all(run))
    return ProofReport(
        suite=run.suite.name,
        profile=run.profile.name,
        source=source,
        duration_ms=round((time.perf_counter() - started) * 1000),
        checks=tuple(proofs),
        lint=tuple(lint(run.suite, run.checks, run.profile)),
    )


async def _prove_all(run: PreparedRun) -> list[CheckProof]:
    from spark_ops.prove.replay import Recorded

    recorded = Recorded()
    await _record(run, recorded)
    # A check that runs alone (a load probe timing its requests) is proven after the others are done,
    # so their work on this event loop does not delay its sends and fail its healthy baseline.
    together = [check for check in run.checks if not check.check.runs_alone]
    proofs = await asyncio.gather(*(_prove_one(check, run, recorded) for check in together))
    by_name = {proof.name: proof for proof in proofs}
    for check in run.checks:
        if check.check.runs_alone:
            by_name[check.name] = await _prove_one(check, run, recorded)
    return [by_name[check.name] for check in run.checks]


async def _record(run: PreparedRun, recorded: Recorded) -> None:
    """Run the suite once against the platform, keeping every answer."""
    import httpx

    from spark_ops.prove.replay import ClientTransport, Recording
    from spark_ops.runner import run_checks
    from spark_ops.transport import ACCEPT_ENCODING, USER_AGENT, make_client

    defaults = run.profile.config.defaults
    async with make_client(defaults.concurrency) as real:
        recording = Recording(ClientTransport(real), recorded, defaults.max_body_bytes)
        headers = {"User-Agent": USER_AGENT, "Accept-Encoding": ACCEPT_ENCODING}
        async with httpx.AsyncClient(transport=recording, headers=headers) as client:
            await run_checks(
                run.checks,
                client=client,
                concurrency=defaults.concurrency,
                max_body_bytes=defaults.max_body_bytes,
                backoff=False,
            )


async def _prove_one(check: PreparedCheck, run: PreparedRun, recorded: Recorded) -> CheckProof:
    name, kind = check.name, check.spec.kind
    redactor = run.redactor
    try:
        breakages = list(check.check.breakages(run.profile))
        failed_hook = ""
    except Exception as exc:  # a plug-in's hook may fail in any way: never a proof
        breakages, failed_hook = [], f"its kind's breakages() failed: {type(exc).__name__}: {one_line(exc)}"
    # The baseline and every breakage at once: a load probe's schedule is then waited out once.
    (baseline, unrecorded, _), *ran = await asyncio.gather(
        *(_trial(check, run, recorded, breakage) for breakage in [None, *breakages])
    )
    assert baseline is not None  # only a breakage's stand-in can fail to come up
    baseline_trial = _as_trial("the platform as recorded", "", baseline, redactor)
    if failed_hook or not breakages:
        reason = failed_hook or f"kind {kind!r} declares no breakages, so nothing shows this check can fail"
        return CheckProof(name, kind, Verdict.NOT_PROVABLE, reason, baseline_trial, ())
    if baseline.status not in LET_THROUGH - {Status.SKIP} and not unrecorded:
        # It fails on the healthy platform: its failures under breakage would prove nothing.
        reason = f"it does not pass on the platform as recorded ({baseline.status}: {baseline_trial.message})"
        return CheckProof(name, kind, Verdict.NOT_PROVABLE, reason, baseline_trial, ())
    trials = tuple(
        _as_trial(b.name, b.matters, result, redactor, skipped=b.needs_recording and missing, failed=failed)
        for b, (result, missing, failed) in zip(breakages, ran, strict=True)
    )
    passed = [trial for trial in trials if trial.let_through]
    judged = [trial for trial in trials if trial.status is not None]
    if passed:
        verdict = Verdict.VACUOUS
        reason = f"{trial_word(len(passed))} of {len(judged)} let through: " + "; ".join(
            f"{trial.breakage} -> {trial.status}" for trial in passed
        )
    elif not judged:
        verdict, reason = Verdict.NOT_PROVABLE, "nothing was recorded for it to break"
    else:
        verdict = Verdict.PROVEN
        reason = (
            "failed under its one breakage"
            if len(judged) == 1
            else f"failed under all {len(judged)} breakages"
        )
    if unrecorded and verdict is not Verdict.VACUOUS:
        reason += " (never seen passing: nothing answered it while recording)"
    return CheckProof(name, kind, verdict, reason, baseline_trial, trials)


def trial_word(count: int) -> str:
    return f"{count} breakage" if count == 1 else f"{count} breakages"


async def _trial(
    check: PreparedCheck, run: PreparedRun, recorded: Recorded, breakage: Breakage | None
) -> tuple[CheckResult | None, bool, str]:
    """The check's result against the recording (rewritten by ``breakage``), whether it asked for an
    answer that was never recorded, and why the breakage itself failed (then the result is None or
    proves nothing: a breakage that could not be applied never counts as caught)."""
    import httpx

    from spark_ops.prove.replay import Replay
    from spark_ops.registry import PreparedCheck
    from spark_ops.runner import run_checks

    defaults = run.profile.config.defaults
    replay = Replay(recorded, breakage.answer if breakage is not None else None)
    async with contextlib.AsyncExitStack() as stack:
        if breakage is not None and breakage.stand_in is not None:
            try:
                broken = await stack.enter_async_context(breakage.stand_in())
            except Exception as exc:  # a plug-in's stand-in may fail in any way
                return None, False, f"{type(exc).__name__}: {one_line(exc)}"
            check = PreparedCheck(check.spec, check.timeout_s, check.retries, broken)
        client = await stack.enter_async_context(httpx.AsyncClient(transport=replay))
        [result] = await run_checks(
            [check],
            client=client,
            concurrency=1,
            max_body_bytes=defaults.max_body_bytes,
            backoff=False,
        )
    return result, bool(replay.unrecorded), replay.failed


def _as_trial(
    name: str,
    matters: str,
    result: CheckResult | None,
    redactor: Redactor,
    *,
    skipped: bool = False,
    failed: str = "",
) -> Trial:
    if failed or result is None:
        return Trial(name, matters, None, redactor.text(f"skipped: the breakage failed: {failed}"))
    if skipped:
        return Trial(name, matters, None, "skipped: nothing was recorded to break")
    return Trial(
        name,
        matters,
        result.status,
        redactor.text(result.message),
        redactor.value(result.observed),
    )

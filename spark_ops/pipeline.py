"""One run from start to verdict: load the profile and suite, run the checks, judge, redact.

The CLI calls ``prepare_run`` and ``execute``; reporting and the evidence store come after, on the
returned ``RunResult`` (already redacted: nothing secret leaves this module).
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, TypeVar

import msgspec

from spark_ops import clock
from spark_ops import risk as risk_rules
from spark_ops.analysis import AnalysisPlan, IntervalCallback, analyse
from spark_ops.config import Profile, Suite, load_profile, load_suite
from spark_ops.config.schema import AnalysisConfig, convert
from spark_ops.errors import ConfigError
from spark_ops.loop_thread import ClientLoop
from spark_ops.model import CheckResult, RiskLevel, RunResult, Window
from spark_ops.redact import Redactor, environment_secrets
from spark_ops.registry import PreparedCheck, prepare

if TYPE_CHECKING:
    pass

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PreparedRun:
    """Everything a run needs, validated: any configuration error has been raised by now."""

    command: str
    profile: Profile
    suite: Suite
    checks: list[PreparedCheck]
    fail_on: RiskLevel
    plan: AnalysisPlan | None  # None: a single shot
    # Masks every secret of the run (profile, suite, secret-named environment variables): built once.
    redactor: Redactor


def prepare_run(
    command: str,
    *,
    profile_ref: str,
    suite_ref: str,
    sets: Sequence[str] = (),
    fail_on: str | None = None,
    duration_s: float | None = None,
    interval_s: float | None = None,
    extra_secrets: Sequence[str] = (),
) -> PreparedRun:
    """Load and validate profile and suite; raises ConfigError naming file and key.

    ``extra_secrets`` are masked like the profile's (a signing key's forms and its passphrase).

    The analysis window is the profile's ``[analysis]``, then the suite's, then ``duration_s`` and
    ``interval_s`` (the command line), each winning over the one before.
    """
    profile = load_profile(profile_ref, sets)
    suite = load_suite(suite_ref)
    checks = prepare(suite, profile)
    level = RiskLevel((fail_on or profile.config.risk.fail_on).upper())
    redactor = Redactor([*profile.secrets, *suite.secrets, *environment_secrets(), *extra_secrets])
    plan = AnalysisPlan.of(_analysis(profile, suite, duration_s, interval_s))
    unknown = sorted(set(plan.overrides) - {check.name for check in checks}) if plan else []
    if unknown:
        raise ConfigError(f"no check named {unknown[0]!r} in suite {suite.name!r}", key="analysis.checks")
    return PreparedRun(
        command=command,
        profile=profile,
        suite=suite,
        checks=checks,
        fail_on=level,
        plan=plan,
        redactor=redactor,
    )


def _analysis(
    profile: Profile, suite: Suite, duration_s: float | None, interval_s: float | None
) -> AnalysisConfig:
    merged = {**msgspec.to_builtins(profile.config.analysis), **suite.analysis}
    if duration_s is not None:
        merged.update(duration_s=duration_s, count=None)  # the command line's duration wins over a count
    if interval_s is not None:
        merged["interval_s"] = interval_s
    config: AnalysisConfig = convert(merged, AnalysisConfig, file="--duration/--interval", prefix="analysis")
    return config


def describe_load(run: PreparedRun) -> list[str]:
    """What a run will send, one line per check, for the confirmation a real canary asks."""
    return [f"{check.name}: {check.check.planned_load}" for check in run.checks]


def execute(
    run: PreparedRun,
    *,
    enforce: bool,
    on_result: Callable[[CheckResult], None] | None = None,
    backoff: bool = True,
    session: ClientLoop | None = None,
    on_interval: IntervalCallback | None = None,
    stop: threading.Event | None = None,
) -> RunResult:
    """Run every check and assess the risk; the result is already redacted (its exit code follows from it).

    With an analysis plan the checks are measured every interval of an analysis window and judged from their
    measurements (``on_interval`` hears of each interval; setting ``stop`` ends the window early, judged
    on what was measured). Without ``session`` the run has an event loop and a client of its own; with
    one it runs on the session's (a caller running suites again and again).
    """
    from spark_ops.runner import run_checks
    from spark_ops.transport import make_client

    defaults = run.profile.config.defaults
    redactor = run.redactor
    redacted: dict[str, CheckResult] = {}  # by check name (unique in a suite): each redacted once

    def report(result: CheckResult) -> None:
        redacted[result.name] = _redact_result(result, redactor)
        if on_result is not None:
            on_result(redacted[result.name])

    # A probe runs on a loop and client of its own, so the other checks' work does not delay its sends.
    apart = (
        ClientLoop(defaults.concurrency, "spark-probe")
        if any(c.check.runs_alone for c in run.checks)
        else None
    )

    async def once(client: Any, checks: Sequence[PreparedCheck], slot_s: float | None) -> list[CheckResult]:
        raw = await run_checks(
            checks,
            client=client,
            concurrency=defaults.concurrency,
            max_body_bytes=defaults.max_body_bytes,
            on_result=report,
            backoff=backoff,
            slot_s=slot_s,
            apart=apart,
        )
        return [redacted[r.name] for r in raw]

    async def go(client: Any) -> tuple[list[CheckResult], Window | None]:
        plan = run.plan
        if plan is None:
            return await once(client, run.checks, None), None
        stopping = asyncio.Event()
        watcher = asyncio.ensure_future(_watch(stop, stopping))
        try:
            return await analyse(
                run.checks,
                plan,
                fail_on=run.fail_on,
                stop=stopping,
                measure=lambda checks, slot_s: once(client, checks, slot_s),
                on_interval=on_interval,
            )
        finally:
            watcher.cancel()

    async def alone() -> tuple[list[CheckResult], Window | None]:
        async with make_client(defaults.concurrency) as client:
            return await go(client)

    started_at = clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    started = time.perf_counter()
    # The probe's thread waits for the GIL at most this long when another thread holds it (5 ms by
    # default: a send time 5 ms late is 5 ms of latency the server never caused).
    switch_interval_s = sys.getswitchinterval()
    if apart is not None:
        sys.setswitchinterval(PROBE_SWITCH_INTERVAL_S)
    try:
        results, window = asyncio.run(alone()) if session is None else session.run(lambda: go(session.client))
    finally:
        sys.setswitchinterval(switch_interval_s)
        if apart is not None:
            apart.close()
    return RunResult(
        command=run.command,
        profile=run.profile.name,
        suite=run.suite.name,
        started_at=started_at,
        duration_ms=round((time.perf_counter() - started) * 1000),
        results=results,
        risk=risk_rules.assess(results),
        fail_on=run.fail_on,
        enforce=enforce,
        window=window,
    )


async def _watch(stop: threading.Event | None, stopping: asyncio.Event) -> None:
    """Set ``stopping`` (this loop's) once ``stop`` (set from a signal handler or another thread) is set."""
    while stop is not None and not stop.is_set():
        await asyncio.sleep(_STOP_POLL_S)
    if stop is not None:
        stopping.set()


_STOP_POLL_S = 0.1  # how soon a stop request ends an analysis window
PROBE_SWITCH_INTERVAL_S = 0.0005


def _redact_result(result: CheckResult, redactor: Redactor) -> CheckResult:
    judgement = result.judgement
    return replace(
        result,
        judgement=replace(
            judgement,
            message=redactor.text(judgement.message),
            observed=redactor.value(judgement.observed),
            threshold=redactor.value(judgement.threshold),
            artifacts={name: redactor.bytes(body) for name, body in judgement.artifacts.items()},
        ),
    )

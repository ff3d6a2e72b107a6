"""One run from start to verdict: load the profile and suite, run the checks, judge, redact.

The CLI calls ``prepare_run`` and ``execute``; reporting and the evidence store come after, on the
returned ``RunResult`` (already redacted: nothing secret leaves this module).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from spark_ops import risk as risk_rules
from spark_ops.config import Profile, Suite, load_profile, load_suite
from spark_ops.model import CheckResult, RiskLevel, RunResult
from spark_ops.redact import Redactor, environment_secrets
from spark_ops.registry import PreparedCheck, prepare

if TYPE_CHECKING:
    import httpx

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PreparedRun:
    """Everything a run needs, validated: any configuration error has been raised by now."""

    command: str
    profile: Profile
    suite: Suite
    checks: list[PreparedCheck]
    fail_on: RiskLevel

    @property
    def secrets(self) -> frozenset[str]:
        """The profile's secrets and those written into the suite's checks."""
        return self.profile.secrets | self.suite.secrets

    @property
    def redactor(self) -> Redactor:
        """Masks every secret of the run and the secret-named environment variables."""
        return Redactor([*self.secrets, *environment_secrets()])


def prepare_run(
    command: str,
    *,
    profile_ref: str,
    suite_ref: str,
    sets: Sequence[str] = (),
    fail_on: str | None = None,
) -> PreparedRun:
    """Load and validate profile and suite; raises ConfigError naming file and key."""
    profile = load_profile(profile_ref, sets)
    suite = load_suite(suite_ref)
    checks = prepare(suite, profile)
    level = RiskLevel((fail_on or profile.config.risk.fail_on).upper())
    return PreparedRun(command=command, profile=profile, suite=suite, checks=checks, fail_on=level)


def describe_load(run: PreparedRun) -> list[str]:
    """What a run will send, one line per check, for the confirmation a real canary asks."""
    # A kind that sends more than one request (a load probe) says so in ``planned_load``.
    return [
        f"{check.name}: {getattr(check.check, 'planned_load', 'requests of a plug-in kind')}"
        for check in run.checks
    ]


class RunSession:
    """One event loop, on a thread of its own, and one HTTP client for many runs in a row (the monitor's
    cycles): connections stay open between runs and nothing is set up again per run. Against the
    simulator a fresh loop, client and connections per cycle were about half of a cycle's CPU time.
    """

    def __init__(self, max_connections: int) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="spark-run-session", daemon=True)
        self._thread.start()
        self.client: httpx.AsyncClient = self.run(lambda: self._open(max_connections))

    async def _open(self, max_connections: int) -> httpx.AsyncClient:
        from spark_ops.transport import make_client

        return await make_client(max_connections).__aenter__()

    def run(self, coroutine: Callable[[], Awaitable[T]]) -> T:
        """Run ``coroutine()`` on the session's loop and wait for its result (from any other thread)."""

        async def wrapped() -> T:
            return await coroutine()

        return asyncio.run_coroutine_threadsafe(wrapped(), self._loop).result()

    def close(self) -> None:
        """Cancel whatever still runs (an abandoned run), close the client, stop the loop."""

        async def shut() -> None:
            current = asyncio.current_task()
            pending = [task for task in asyncio.all_tasks() if task is not current]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            await self.client.aclose()

        if not self._thread.is_alive():
            return
        try:
            asyncio.run_coroutine_threadsafe(shut(), self._loop).result(timeout=10)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            if not self._thread.is_alive():
                self._loop.close()


def execute(
    run: PreparedRun,
    *,
    enforce: bool,
    on_result: Callable[[CheckResult], None] | None = None,
    backoff: bool = True,
    session: RunSession | None = None,
) -> RunResult:
    """Run every check, assess the risk and pick the exit code; the result is already redacted.

    Without ``session`` the run has an event loop and a client of its own; with one it runs on the
    session's (a caller running suites again and again).
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

    async def go(client: Any) -> list[CheckResult]:
        return await run_checks(
            run.checks,
            client=client,
            concurrency=defaults.concurrency,
            max_body_bytes=defaults.max_body_bytes,
            on_result=report,
            backoff=backoff,
        )

    async def alone() -> list[CheckResult]:
        async with make_client(defaults.concurrency) as client:
            return await go(client)

    started_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    started = time.perf_counter()
    raw = asyncio.run(alone()) if session is None else session.run(lambda: go(session.client))
    results = [redacted[r.name] for r in raw]
    risk = risk_rules.assess(results)
    code = risk_rules.exit_code(results, risk, fail_on=run.fail_on, enforce=enforce)
    return RunResult(
        command=run.command,
        profile=run.profile.name,
        suite=run.suite.name,
        started_at=started_at,
        duration_ms=round((time.perf_counter() - started) * 1000),
        results=results,
        risk=risk,
        exit_code=int(code),
    )


def _redact_result(result: CheckResult, redactor: Redactor) -> CheckResult:
    return replace(
        result,
        message=redactor.text(result.message),
        observed=redactor.value(result.observed),
        threshold=redactor.value(result.threshold),
        artifacts={name: redactor.bytes(body) for name, body in result.artifacts.items()},
    )

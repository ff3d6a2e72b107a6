"""The async runner: runs prepared checks concurrently and is the ONLY place an exception becomes a Status.

It owns what checks must not: one deadline per check covering the whole request (connect, headers,
body), retries (tenacity, only for failures before any response arrived), timing, and the mapping

    TargetError, httpx transport errors, the deadline  ->  FAIL  (the target failed the check)
    CheckError, any other exception, sys.exit()         ->  ERROR (the check could not judge)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import httpx

from spark_ops import clock
from spark_ops.errors import CheckError, TargetError, one_line
from spark_ops.loop_thread import ClientLoop
from spark_ops.model import CheckResult, Judgement, Measurement, Status, finite_histograms, finite_readings
from spark_ops.registry import PreparedCheck
from spark_ops.transport import Probe, SharedFetches

ResultCallback = Callable[[CheckResult], Awaitable[None] | None]


async def run_checks(
    checks: Sequence[PreparedCheck],
    *,
    client: httpx.AsyncClient,
    concurrency: int,
    max_body_bytes: int,
    on_result: ResultCallback | None = None,
    backoff: bool = True,
    slot_s: float | None = None,
    apart: ClientLoop | None = None,
) -> list[CheckResult]:
    """Run ``checks`` with at most ``concurrency`` in flight; results come back in suite order.

    ``slot_s`` is how long one measurement may take in an analysis window (None: a single shot). Checks
    that run alone (the latency probe) run on ``apart``'s loop and client, when given, after the others,
    one at a time.

    Checks that read the same URL with the same method, headers and body share one response (one
    snapshot judged, one request sent); a check that must send its own requests opts out.
    """
    gate = asyncio.Semaphore(concurrency)
    shared = SharedFetches()
    started = time.perf_counter()

    async def run_one(check: PreparedCheck) -> CheckResult:
        if apart is not None and check.check.runs_alone:
            # Its slot is what the interval has left once the others are done.
            left_s = None if slot_s is None else max(slot_s - (time.perf_counter() - started), slot_s / 10)
            result = await apart.run_here(
                lambda: _judge_within_deadline(check, apart.client, max_body_bytes, backoff, None, left_s)
            )
        else:
            sharing = shared if check.check.shares_fetches else None
            async with gate:  # the deadline starts when the check starts, not while it queues
                result = await _judge_within_deadline(check, client, max_body_bytes, backoff, sharing, slot_s)
        if on_result is not None:
            maybe = on_result(result)
            if maybe is not None:
                await maybe
        return result

    # Checks that run alone start once the others are done: no other check's work delays their sends.
    alone = [check for check in checks if apart is not None and check.check.runs_alone]
    together = [check for check in checks if not (apart is not None and check.check.runs_alone)]
    done: dict[int, CheckResult] = {}
    try:
        for check, result in zip(together, await asyncio.gather(*map(run_one, together)), strict=True):
            done[id(check)] = result
        for check in alone:
            done[id(check)] = await run_one(check)
    finally:
        await shared.close()
    return [done[id(check)] for check in checks]


async def _judge_within_deadline(
    check: PreparedCheck,
    client: httpx.AsyncClient,
    max_body_bytes: int,
    backoff: bool,
    shared: SharedFetches | None,
    slot_s: float | None,
) -> CheckResult:
    probe = Probe(
        client=client,
        max_attempts=check.retries + 1,
        max_body_bytes=max_body_bytes,
        timeout_s=check.timeout_s,
        backoff=backoff,
        shared=shared,
        slot_s=slot_s,
    )
    deadline_s = check.timeout_s
    if slot_s is not None and check.check.minimum_timeout_s > 0:
        deadline_s += slot_s  # a kind that runs for a while by design fills the slot in a window
    at, started = clock.iso_now(), time.perf_counter()
    try:
        async with asyncio.timeout(deadline_s):
            judgement = await check.check.judge(probe)
    except TimeoutError:
        judgement = Judgement(Status.FAIL, f"no complete answer within the {deadline_s:g} s deadline")
    except TargetError as exc:
        judgement = Judgement(Status.FAIL, one_line(exc))
    except CheckError as exc:
        judgement = Judgement(Status.ERROR, one_line(exc))
    except (Exception, SystemExit) as exc:  # a check's bug (sys.exit too) must never pass, nor end the run
        judgement = Judgement(Status.ERROR, f"check crashed: {type(exc).__name__}: {one_line(exc)}")
    if not isinstance(judgement, Judgement):
        judgement = Judgement(Status.ERROR, f"check returned {type(judgement).__name__}, not a Judgement")
    readings = finite_readings(judgement.readings)
    return CheckResult(
        spec=check.spec,
        judgement=Judgement(
            judgement.status,
            judgement.message,
            observed=_plain(judgement.observed),
            # A target that never answered still shows what it would have been judged against.
            threshold=_plain(
                judgement.threshold if judgement.threshold is not None else check.check.threshold
            ),
            readings=readings,
            histograms=finite_histograms(judgement.histograms),
            artifacts=dict(judgement.artifacts),
        ),
        duration_ms=round((time.perf_counter() - started) * 1000),
        retries=probe.retries,
        measurements=(Measurement(at, judgement.status, readings),),
    )


def _plain(value: Any) -> Any:
    """A JSON-safe copy: NaN and infinities become strings, so the result JSON stays valid."""
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return str(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value

"""``Probe.connect``: the run's retries for kinds that reach their target other than by HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx
import pytest

from spark_ops.transport import Probe


def probe(max_attempts: int) -> Probe:
    return Probe(
        client=httpx.AsyncClient(), max_attempts=max_attempts, max_body_bytes=1, timeout_s=5, backoff=False
    )


def flaky(failures: list[BaseException]) -> tuple[Callable[[], Awaitable[str]], list[int]]:
    """An opener that raises ``failures`` one by one, then answers "open"; it records its calls."""
    calls: list[int] = []

    async def open_once() -> str:
        calls.append(len(calls))
        if failures:
            raise failures.pop(0)
        return "open"

    return open_once, calls


def refused(exc: BaseException) -> bool:
    return isinstance(exc, ConnectionRefusedError)


def test_a_refusal_is_retried_and_counted() -> None:
    opener, calls = flaky([ConnectionRefusedError()])
    checked = probe(max_attempts=2)
    assert asyncio.run(checked.connect(opener, refused)) == "open"
    assert len(calls) == 2 and checked.retries == 1


def test_the_last_attempts_failure_is_raised() -> None:
    opener, calls = flaky([ConnectionRefusedError(), ConnectionRefusedError(), ConnectionRefusedError()])
    checked = probe(max_attempts=3)
    with pytest.raises(ConnectionRefusedError):
        asyncio.run(checked.connect(opener, refused))
    assert len(calls) == 3 and checked.retries == 2


def test_a_failure_after_an_answer_is_never_retried() -> None:
    opener, calls = flaky([ValueError("the peer answered badly")])
    checked = probe(max_attempts=3)
    with pytest.raises(ValueError):
        asyncio.run(checked.connect(opener, refused))
    assert len(calls) == 1 and checked.retries == 0

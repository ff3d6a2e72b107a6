"""The breakages of the built-in kinds: each kind's ``breakages(profile)`` calls its function here, so a
kind module stays about judging and the breakages of every kind read side by side.

Which breakages apply follows from what the configured check judges: a status-only HTTP check is broken by
a down service and a 500, a JSON assertion also by its field going bad, a metrics check also by each
required family going missing.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any

from spark_ops import clock
from spark_ops.prove.breakage import (
    Answer,
    Breakage,
    Quantity,
    broken_word,
    cut_body,
    down,
    empty_body,
    failing_requests,
    garbage_body,
    html_in_place,
    impossible_values,
    json_field,
    quantity_of,
    server_error,
    slowed,
    unreadable_values,
)

if TYPE_CHECKING:
    from spark_ops.checks.compare import CompareCheck
    from spark_ops.checks.http import HttpCheck
    from spark_ops.checks.latency import LatencyCheck
    from spark_ops.checks.metrics import MetricsCheck
    from spark_ops.checks.pm2 import Pm2Check
    from spark_ops.checks.promql import PromqlCheck
    from spark_ops.checks.slo import SloCheck
    from spark_ops.config import Profile
    from spark_ops.registry import Check

BROKEN = "far past the target"


def http(check: HttpCheck, profile: Profile) -> list[Breakage]:
    options = check.options
    found = [down(), server_error(500)]
    if check.max_latency_ms is not None:
        found += _slowed(profile)
    if options.body_contains:
        found += [empty_body(), html_in_place()]
    if options.expect_json:
        found += [empty_body(), cut_body(), html_in_place()]
        for assertion in options.expect_json:
            found += json_assertion(assertion.field, assertion.op, assertion.value, profile)
    return _unique(found)


def slo(check: SloCheck, profile: Profile) -> list[Breakage]:
    found = [down(), server_error(500), empty_body(), cut_body(), html_in_place()]
    found += unreadable_values(check.field, numeric=True)
    # The field names its quantity, else its declared unit.
    quantity = quantity_of(check.field, unit=check.unit)
    if quantity is not None:
        found += _far_past(check.field, quantity, profile)
    found += [
        json_field(
            check.field, value, f"= {value:g} ({why})", "a figure its unit cannot take is no measurement"
        )
        for value, why in impossible_values(check.unit)
    ]
    return found


def metrics(check: MetricsCheck, profile: Profile) -> list[Breakage]:
    found = [down(), server_error(500), empty_body(), cut_body(), garbage_body(), html_in_place()]
    for family in check.options.require:
        found.append(
            Breakage(
                f"family {family} missing from the exposition",
                "a required family gone means the service stopped reporting it",
                answer=partial(_family_removed, family),
                needs_recording=True,
            )
        )
    for assertion, _bounds in check.values:
        found.append(
            Breakage(
                f"{assertion.metric} = NaN",
                "a NaN sample is no healthy value",
                answer=partial(_samples_nan, assertion.metric),
                needs_recording=True,
            )
        )
    return found


def latency(check: LatencyCheck, profile: Profile) -> list[Breakage]:
    found = [down(), server_error(500)]
    if check.max_ms:
        found += _slowed(profile)[:1]  # one slow run: each takes the schedule's time plus the delay
    if check.max_error_rate is not None:
        found.append(failing_requests(0.5, "half of all requests"))
    return found


def pm2(check: Pm2Check, profile: Profile) -> list[Breakage]:
    names = check.processes or ["spark-web"]
    lists = [
        (f"{name} errored and crash-looping (49 restarts)", _jlist(names, broken=name)) for name in names
    ]
    lists.append(("PM2 lists no processes", b"[]"))
    lists.append(("pm2 jlist prints garbage", b"[PM2] Spawning daemon\nnot a list"))
    matters = "a process that is not serving must stop the deploy"
    if check.target is None:  # read from a file or `pm2 jlist`: a saved list stands in for it
        return [
            Breakage(name, matters, stand_in=partial(_pm2_from_file, check, profile, body))
            for name, body in lists
        ]
    # Over HTTP the recorded list is broken in place: the named processes (or the first) crash-looping.
    crashing = [
        Breakage(
            f"{name or 'the first process'} errored and crash-looping (49 restarts)",
            matters,
            answer=partial(_crash_looping, name),
            needs_recording=True,
        )
        for name in ([*check.processes] if check.processes else [None])
    ]
    others = [Breakage(name, matters, answer=partial(_answering, body)) for name, body in lists[-2:]]
    return [down(), server_error(500), *crashing, *others]


def promql(check: PromqlCheck, profile: Profile) -> list[Breakage]:
    found = [down(), server_error(500), html_in_place()]
    found += [
        _prometheus("an empty result", _vector([])),
        _prometheus("a NaN value", _vector(["NaN"])),
        Breakage(
            "Prometheus answers an error",
            "a query Prometheus refused measured nothing",
            answer=lambda recorded: _json_answer(
                recorded,
                json.dumps(
                    {"status": "error", "errorType": "bad_data", "error": "parse error: unexpected"}
                ).encode(),
                status=400,
            ),
        ),
    ]
    # A bound naming an SLO key names its quantity, else the declared unit ("number" names none).
    quantity = quantity_of(None, check.options.max, check.options.min, unit=check.options.unit)
    if quantity is not None:
        for value, why in quantity.bad_values(profile):
            found.append(_prometheus(f"a value of {value:g} ({why}: {BROKEN})", _vector([repr(value)])))
    for value, why in impossible_values(check.options.unit):
        found.append(_prometheus(f"a value of {value:g} ({why})", _vector([repr(value)])))
    return found


def compare(check: CompareCheck, profile: Profile) -> list[Breakage]:
    return [
        down(),
        server_error(500),
        html_in_place(),
        _prometheus("an empty result for both roles", _matrix([])),
        _prometheus("NaN samples", _matrix(["NaN"] * 30)),
    ]


# --- helpers ------------------------------------------------------------------------------------------


def _slowed(profile: Profile) -> list[Breakage]:
    quantity = quantity_of(None, "slo.latency_p95_ms")
    assert quantity is not None
    return [slowed(value / 1000, why) for value, why in quantity.bad_values(profile)]


def _far_past(path: str, quantity: Quantity, profile: Profile) -> list[Breakage]:
    matters = f"a {quantity.name} {BROKEN} must fail the check that judges it"
    return [
        json_field(path, value, f"= {value:g} {quantity.unit} ({why})", matters)
        for value, why in quantity.bad_values(profile)
    ]


def json_assertion(path: str, op: str, wanted: Any, profile: Profile) -> list[Breakage]:
    """The field removed and null, and other plausible values of the same type as the one asserted."""
    sample = wanted[0] if op == "in" and isinstance(wanted, list) and wanted else wanted
    numeric = isinstance(sample, int | float) and not isinstance(sample, bool)
    found = unreadable_values(path, numeric=numeric)
    matters = f"{path} reading broken means the platform says it is broken"
    if isinstance(sample, str):
        bad = broken_word(sample)
        matters = f"a platform reporting {path} = {bad!r} says it is broken"
        found.append(json_field(path, bad, f"= {bad!r} (another value of the same type)", matters))
    elif isinstance(sample, bool):
        flipped = not sample if op in ("==", "in") else sample
        found.append(json_field(path, flipped, f"= {json.dumps(flipped)}", matters))
    elif numeric:
        quantity = quantity_of(path)
        if quantity is not None:
            found += _far_past(path, quantity, profile)
    return found


def _unique(breakages: Sequence[Breakage]) -> list[Breakage]:
    by_name: dict[str, Breakage] = {}
    for breakage in breakages:
        by_name.setdefault(breakage.name, breakage)
    return list(by_name.values())


def _without_family(body: bytes, family: str) -> bytes:
    """The exposition without any line of ``family`` (its samples, _total/_bucket/... and its comments)."""
    kept = []
    for line in body.split(b"\n"):
        words = line.split()
        if line.startswith(b"#") and len(words) >= 3 and words[1] in (b"HELP", b"TYPE", b"UNIT"):
            name = words[2]
        else:
            name = line.split(b"{", 1)[0].split(b" ", 1)[0]
        if name == family.encode() or name.startswith(family.encode() + b"_"):
            continue
        kept.append(line)
    return b"\n".join(kept)


def _family_removed(family: str, recorded: Answer) -> Answer:
    return recorded.with_body(_without_family(recorded.body, family))


def _samples_nan(metric: str, recorded: Answer) -> Answer:
    return recorded.with_body(_sample_values(recorded.body, metric, "NaN"))


def _crash_looping(name: str | None, recorded: Answer) -> Answer:
    """The recorded jlist with process ``name`` (None: the first) errored after 49 restarts."""
    try:
        processes = json.loads(recorded.body)
    except (ValueError, RecursionError):
        return recorded
    for process in processes if isinstance(processes, list) else []:
        if isinstance(process, dict) and (name is None or process.get("name") == name):
            environment = process.setdefault("pm2_env", {})
            if isinstance(environment, dict):
                environment.update(status="errored", restart_time=49)
            break
    return recorded.with_body(json.dumps(processes).encode())


def _answering(body: bytes, recorded: Answer) -> Answer:
    return _json_answer(recorded, body)


def _sample_values(body: bytes, metric: str, value: str) -> bytes:
    lines = []
    for line in body.split(b"\n"):
        name = line.split(b"{", 1)[0].split(b" ", 1)[0]
        if name == metric.encode() and not line.startswith(b"#"):
            head, _, _ = line.rpartition(b" ")
            line = head + b" " + value.encode()
        lines.append(line)
    return b"\n".join(lines)


def _json_answer(recorded: Answer, body: bytes, status: int = 200) -> Answer:
    return replace(recorded.with_body(body, "application/json"), status=status)


def _prometheus(what: str, document: dict[str, Any]) -> Breakage:
    return Breakage(
        f"Prometheus answers {what}",
        "no data, or bad data, must never read as a healthy metric",
        answer=lambda recorded: _json_answer(recorded, json.dumps(document).encode()),
    )


def _vector(values: list[str]) -> dict[str, Any]:
    # Evaluated now: an old evaluation time would fail the check as stale, not for the value it plants.
    result = [{"metric": {"__name__": "spark_value"}, "value": [clock.unix(), v]} for v in values]
    return {"status": "success", "data": {"resultType": "vector", "result": result}}


def _matrix(values: list[str]) -> dict[str, Any]:
    start = clock.unix() - 15 * len(values)
    points = [[start + 15 * i, v] for i, v in enumerate(values)]
    result = [{"metric": {"__name__": "spark_value"}, "values": points}] if points else []
    return {"status": "success", "data": {"resultType": "matrix", "result": result}}


def _jlist(names: Sequence[str], *, broken: str) -> bytes:
    processes = []
    for pm_id, name in enumerate(names):
        bad = name == broken
        processes.append(
            {
                "name": name,
                "pm_id": pm_id,
                "pid": 0 if bad else 4242 + pm_id,
                "monit": {"memory": 0 if bad else 60_000_000, "cpu": 0 if bad else 0.5},
                "pm2_env": {
                    "status": "errored" if bad else "online",
                    "restart_time": 49 if bad else 0,
                    "pm_uptime": 0 if bad else 1_700_000_000_000,
                },
            }
        )
    return json.dumps(processes).encode()


@asynccontextmanager
async def _pm2_from_file(check: Pm2Check, profile: Profile, body: bytes) -> AsyncIterator[Check]:
    """The same check reading a saved jlist instead of its file or `pm2 jlist`."""
    from spark_ops.checks.pm2 import Pm2Check, Pm2Options

    handle, path = tempfile.mkstemp(prefix="spark-prove-", suffix=".json")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(body)
        options = Pm2Options(
            file=path,
            processes=check.processes,
            max_restarts=check.max_restarts,
            max_memory_mb=check.max_memory_mb,
            min_uptime_s=check.min_uptime_s,
        )
        yield Pm2Check(options, profile)
    finally:
        os.unlink(path)

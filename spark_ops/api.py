"""The public API for writing a check kind: the one module a plug-in imports.

Everything a kind needs is here; every other module of spark-ops (and any name with a leading underscore)
is private and may change in any release.

A kind
------
A kind is a class, usually a subclass of ``CheckBase``, that

- sets ``kind`` (its name in suites), ``summary`` (one line for ``spark checks list``) and ``Options``
  (a subclass of ``Options`` or ``TargetOptions``: a frozen ``msgspec.Struct`` of the kind's own keys;
  unknown keys, wrong types and missing required keys are configuration errors naming the suite file and
  the key);
- takes ``(options, profile)`` in ``__init__`` and resolves everything there: targets with
  ``profile.target(service=, path=, url=)``, thresholds (options typed ``Threshold``: a number or a
  dotted profile key such as ``"slo.latency_p95_ms"``) with ``Bounds.resolve`` or
  ``profile.number(value, key=)``; a bad value raises ``ConfigError(reason, key="the_key")`` (exit 2);
- implements ``async judge(probe) -> Judgement``: reach the target, judge what came back, return.

``CheckBase`` gives the optional attributes their defaults; override a property only when its default is
wrong for the kind:

- ``threshold`` (None): what it judges against, shown even when the target never answered;
- ``planned_load`` ("requests of a plug-in kind"): what it sends, for the real canary's confirmation;
- ``minimum_timeout_s`` (0): the shortest deadline it can work in (a suite asking less is refused);
- ``shares_fetches`` (True): whether ``probe.fetch`` may answer with the run's one response to the same
  request (same method, URL, headers, body and limits) another check sent; a kind that must send its own
  requests (a load probe, anything that times each request) returns False;
- ``runs_alone`` (False): whether it runs on an event loop and HTTP client of its own, so the other
  checks' work never delays it (the latency probe: its send times are its measurement).

In an analysis window (``spark canary --duration``) every check is judged once per interval;
``probe.slot_s`` is then the interval's length (None for a single shot), and a kind that runs for a
while by design (``minimum_timeout_s`` > 0) may fill it, as the latency probe does.

Proving it can fail
-------------------
``spark suite prove`` breaks the platform in each way a check exists to catch and runs the check against
it; a check still passing is reported vacuous. A kind declares its breakages with
``breakages(profile) -> Sequence[Breakage]`` (``CheckBase``'s declares none: its checks are reported
"not provable", never "proven"). A ``Breakage(name, matters, ...)`` either rewrites the HTTP answers the
check reads (``answer=``: the recorded healthy ``Answer`` in, the broken one out, None for a service that
is down; ``needs_recording=True`` when it starts from the recorded body), or, for a kind that reaches
its target other than over HTTP, brings up a broken stand-in (``stand_in=``: an async context manager
yielding the check pointed at it). Breakages come from the platform's side (the service down, an answer
cut or wrong, a value far past the profile's target), never from the check's own thresholds.

A class that does not subclass ``CheckBase`` still loads (the defaults are mixed in) as long as it has
``Options`` and ``judge``.

What the runner owns
--------------------
A kind only judges. The runner gives each check one deadline (the suite's ``timeout_s``, else the
profile's ``defaults.timeout_s``) covering all of ``judge``, retries requests that failed before any answer
arrived (``defaults.retries``), measures the duration, runs checks concurrently, and turns what ``judge``
raises into a status:

    TargetError, a transport failure, the deadline   ->  FAIL   (the target failed the check)
    CheckError, any other exception                   ->  ERROR  (the check could not judge)

so a kind never catches to pass: it raises ``TargetError`` with a one-line reason when the target
answered badly or not at all, and ``CheckError`` when it cannot judge what it got. Nothing that crashed,
timed out, or read NaN, an empty body or a missing field ever counts as passing.

``Probe`` is how a kind reaches an HTTP target: ``await probe.fetch(target, ...) -> Fetched`` (status,
headers, the whole body within a size limit, ``elapsed_ms``; ``describe()`` for messages), with the
deadline and retries already applied. ``probe.timeout_s`` is the check's deadline, for a kind that waits
on something other than HTTP; ``await probe.connect(open_once, retryable)`` gives such a kind's own
connection the run's retries (the tls and websocket kinds use it). ``require_2xx``, ``parse_json``,
``lookup``/``MISSING`` and ``number_from`` turn an answer into a number, failing closed (each raises
``TargetError``); ``one_line(exc)`` puts an exception's message on one short line for a reason.

The judgement
-------------
``Judgement(status, message, observed=, threshold=, readings=, histograms=, artifacts=)``: ``Status``
(PASS, WARN, FAIL, ERROR, INCONCLUSIVE, SKIP), a one-line ``message``, what it saw against what it
wanted. How much a failure weighs (``Severity``) is the suite's ``severity`` key, never the kind's.
``readings`` are named finite numbers (``{"connect_ms": 1.8}``, ``{"p95_ms": 14.0}``): the result JSON
carries them, and the monitor and the reports read them by name, never by kind (the runner drops NaN,
infinities and non-numbers). ``artifacts`` maps a file name to the raw bytes judged
(``{"body.json": fetched.body}``): the run's evidence keeps them, redacted, under the check's name (a
name with a ``/``, such as ``metrics/web.prom``, is a path in the run); a body several checks judged is
kept once.
``histograms`` (optional) maps a name to a distribution as contiguous bins ``(low, high, count)``, e.g.
``{"latency_ms": histogram.bins()}``: the result JSON carries it and the HTML report charts it.

Registering
-----------
A plug-in is a distribution that names its class in the ``spark_ops.checks`` entry-point group, exactly
as the built-in kinds do::

    [project.entry-points."spark_ops.checks"]
    tcp = "spark_tcp:TcpCheck"

``pip install`` it next to spark-ops and ``spark checks list`` shows it. Two plug-ins naming the same
kind are a configuration error. ``examples/plugin/`` in the repository is a complete one.

Start-up
--------
``Probe`` and ``Fetched`` load the HTTP transport (httpx, aiohttp) the first time they are accessed here;
a kind that only annotates with them imports them under ``typing.TYPE_CHECKING`` so that loading it
(``spark checks list`` loads every kind) stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from spark_ops.checks._common import (
    Bounds,
    Options,
    TargetOptions,
    Threshold,
    number_from,
    parse_json,
    require_2xx,
)
from spark_ops.config.profile import Profile
from spark_ops.config.target import Target
from spark_ops.errors import CheckError, ConfigError, TargetError, one_line
from spark_ops.jsonpath import MISSING, lookup
from spark_ops.model import Judgement, Readings, Severity, Status
from spark_ops.prove.breakage import Answer, Breakage
from spark_ops.registry import Check, CheckBase, CheckKind

if TYPE_CHECKING:
    from spark_ops.transport import Fetched, Probe

__all__ = [
    "MISSING",
    "Answer",
    "Bounds",
    "Breakage",
    "Check",
    "CheckBase",
    "CheckError",
    "CheckKind",
    "ConfigError",
    "Fetched",
    "Judgement",
    "Options",
    "Probe",
    "Profile",
    "Readings",
    "Severity",
    "Status",
    "Target",
    "TargetError",
    "TargetOptions",
    "Threshold",
    "lookup",
    "number_from",
    "one_line",
    "parse_json",
    "require_2xx",
]

# Loaded on first access: the transport imports httpx and aiohttp, which most commands never need.
_FROM_TRANSPORT = frozenset({"Fetched", "Probe"})


if not TYPE_CHECKING:  # hidden from type checkers, which would then type every unknown name as Any

    def __getattr__(name: str) -> Any:
        if name in _FROM_TRANSPORT:
            from spark_ops import transport

            value = getattr(transport, name)
            globals()[name] = value
            return value
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted({*globals(), *__all__})

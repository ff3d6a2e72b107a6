"""The fault matrix's row type, shared by every table in tests/faults/ and by the README generator.

Each row is one hostile answer; the tests run it through every listed check kind over a real socket and
assert the status, the reason and the exit code of `spark gate --exit-on-fail`. The README section "How
spark-ops fails closed" is rendered from these rows (tests/faults/render_readme.py), and a test fails
when the README and the rows drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from spark_ops.model import Status


@dataclass(frozen=True)
class Expect:
    """What one check kind must report for a fault: never PASS."""

    status: Status
    reason: str  # a regular expression searched in the check's message

    def __post_init__(self) -> None:
        assert self.status is not Status.PASS, "a hostile answer must never pass"


@dataclass(frozen=True)
class Fault:
    id: str  # a slug, also the pytest id
    group: str  # README sub-heading: "Transport", "TLS and names", "Bodies", "JSON", "Expositions", "PromQL"
    hostile: str  # README: the hostile input, in one short line
    sees: str  # README: what the user sees, in one short line (status and the gist of the reason)
    expect: dict[str, Expect] = field(default_factory=dict)  # check kind -> expectation
    exit_code: int = 1  # `spark gate --exit-on-fail` (default --fail-on high, checks of severity critical)

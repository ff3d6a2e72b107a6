"""``spark suite prove``: show that every check of a suite can fail.

For every check, the platform is broken in each way the check exists to catch (its kind's
``breakages(profile)``), and the check is run against the broken platform. A check that still passes
under a breakage is *vacuous*; one that fails under every breakage is *proven*; one whose kind declares
no breakages, or that does not pass on the healthy platform, is *not provable*.

    breakage   Answer, Breakage and the breakages HTTP-reading kinds share (public via spark_ops.api)
    kinds      the built-in kinds' breakages (HTTP answers rewritten)
    tls_kind   the tls kind's: loopback TLS servers with certificates made in-process
    websocket_kind  the websocket kind's: loopback feeds, broken or relaying the check's own
    replay     recording the platform's answers once, serving them broken in-process
    prover     the proof: record, baseline, breakages, verdicts (ProofReport)
    lint       what is wrong in a suite without breaking anything
    render     the report as text or JSON
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from spark_ops.errors import ConfigError

if TYPE_CHECKING:
    from spark_ops.prove.prover import ProofReport


def prove_suite(
    *, suite_ref: str, profile_ref: str, sets: Sequence[str] = (), from_live: bool = False
) -> ProofReport:
    """Prove ``suite_ref``: against the embedded simulator (started on free loopback ports for the
    recording, then stopped), or with ``from_live`` against the profile's own services."""
    from spark_ops import pipeline
    from spark_ops.config.files import locate, read_toml
    from spark_ops.prove.lint import duplicate_names
    from spark_ops.prove.prover import prove

    path = locate("checks", suite_ref)
    duplicates = duplicate_names(read_toml(path).get("checks"))
    if duplicates:
        names = ", ".join(repr(finding.check) for finding in duplicates)
        raise ConfigError(
            f"duplicate check names {names}: every check needs a name of its own",
            file=str(path),
            key="checks",
        )
    if from_live:
        run = pipeline.prepare_run("prove", profile_ref=profile_ref, suite_ref=suite_ref, sets=sets)
        return prove(run, source="live")
    from spark_ops.sim import Simulator

    with Simulator(ports="auto") as simulator:
        # The simulator's URLs win over the profile's: its SLO targets and thresholds are kept.
        run = pipeline.prepare_run(
            "prove", profile_ref=profile_ref, suite_ref=suite_ref, sets=[*sets, *simulator.profile_sets()]
        )
        return prove(run, source="simulator")

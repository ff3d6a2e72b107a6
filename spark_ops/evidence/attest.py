"""Signed verdicts: an in-toto Statement (test-result predicate) about one run, in a DSSE envelope.

A signed run keeps, beside ``result.json`` and ``profile.json``, ``suite.json`` (the resolved suite,
secrets masked) and ``attestation.dsse.json``. The Statement binds the verdict to those files by sha256:
its ``configuration`` is profile.json and suite.json, its ``urn:spark-ops:run`` extension names
result.json (and its ``urn:spark-ops:risk`` the risk level and score), so an
attestation moved into another run's folder no longer matches the run it sits in.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from spark_ops import __version__, result_json
from spark_ops.errors import ConfigError, ExitCode
from spark_ops.evidence.store import view_document
from spark_ops.model import RiskLevel, RunResult, Status

if TYPE_CHECKING:
    from spark_ops.config import Suite
    from spark_ops.pipeline import PreparedRun
    from spark_ops.redact import Redactor
    from spark_ops.signing import PublicKey, SigningKey

ATTESTATION = "attestation.dsse.json"
RESULT_FILE = "result.json"
PROFILE_FILE = "profile.json"
SUITE_FILE = "suite.json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://in-toto.io/attestation/test-result/v0.1"
# The predicate's own fields cannot carry the risk or bind the run; in-toto's parsing rules let a producer
# add extension fields whose names are URIs (consumers ignore what they do not know).
RISK_FIELD = "urn:spark-ops:risk"
RUN_FIELD = "urn:spark-ops:run"
_SHA256 = re.compile(r"[0-9a-f]{64}")
_COMMIT = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")  # SHA-1 or SHA-256 git object names


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- subjects: what was tested ------------------------------------------------------------------------


def parse_subjects(texts: Iterable[str]) -> list[dict[str, Any]]:
    """``--subject NAME=sha256:HEX`` values as in-toto ResourceDescriptors; ConfigError when malformed."""
    subjects = []
    for text in texts:
        name, equals, digest = text.rpartition("=")
        algorithm, colon, value = digest.partition(":")
        value = value.lower()
        if (
            not equals
            or not name
            or algorithm.lower() != "sha256"
            or not colon
            or not _SHA256.fullmatch(value)
        ):
            raise ConfigError(f"--subject {text!r}: write NAME=sha256:HEX (64 hex digits)")
        subjects.append({"name": name, "digest": {"sha256": value}})
    return subjects


def ci_subjects(environ: Mapping[str, str]) -> list[dict[str, Any]]:
    """The commit a CI job builds (GitHub Actions, GitLab CI) with its repository, or [] outside CI."""
    for sha_var, repository in (
        ("GITHUB_SHA", _github_repository(environ)),
        ("CI_COMMIT_SHA", environ.get("CI_PROJECT_URL")),
    ):
        sha = environ.get(sha_var, "").strip().lower()
        if not sha:
            continue
        if not _COMMIT.fullmatch(sha):
            raise ConfigError(f"${sha_var} is not a git commit id; name the subject with --subject")
        return [{"name": repository or "git commit", "digest": {"gitCommit": sha}}]
    return []


def _github_repository(environ: Mapping[str, str]) -> str | None:
    repository = environ.get("GITHUB_REPOSITORY")
    server = environ.get("GITHUB_SERVER_URL") or "https://github.com"
    return f"{server.rstrip('/')}/{repository}" if repository else None


def ci_run_url(environ: Mapping[str, str]) -> str | None:
    """A link to the CI job that ran this, for the predicate's ``url``."""
    repository, run_id = _github_repository(environ), environ.get("GITHUB_RUN_ID")
    if repository and run_id:
        return f"{repository}/actions/runs/{run_id}"
    return environ.get("CI_JOB_URL") or None


# --- the Statement ------------------------------------------------------------------------------------


def suite_view(suite: Suite, redactor: Redactor) -> dict[str, Any]:
    """The suite as it was run, secrets masked: what suite.json holds and the attestation names."""
    checks = [
        {
            "name": spec.name,
            "kind": spec.kind,
            "severity": spec.severity.value,
            "timeout_s": spec.timeout_s,
            "retries": spec.retries,
            "description": spec.description,
            **spec.options,
        }
        for spec in suite.checks
    ]
    view = {
        "name": suite.name,
        "description": suite.description,
        "checks": checks,
        "analysis": suite.analysis,
    }
    # to_builtins: a TOML date in a check's options (an expected JSON value) becomes text JSON can hold.
    masked: dict[str, Any] = redactor.value(msgspec.to_builtins(view))
    return masked


def verdict_result(run: RunResult) -> str:
    """PASSED (all passed), WARNED (the verdict passes, with warnings), FAILED (it fails, or cannot judge).

    The verdict, not the exit code: a report-only run that failed is FAILED though it exited 0.
    """
    from spark_ops.risk import final_reduce

    finished = run.window is None or run.window.finished
    verdict = final_reduce(run.results, run.risk, fail_on=run.fail_on, enforce=True, finished=finished)
    if verdict is not ExitCode.OK:
        return "FAILED"
    return "PASSED" if run.risk.level is RiskLevel.LOW else "WARNED"


def _descriptor(name: str, data: bytes, **annotations: str) -> dict[str, Any]:
    descriptor: dict[str, Any] = {"name": name, "digest": {"sha256": sha256_hex(data)}}
    if annotations:
        descriptor["annotations"] = annotations
    return descriptor


def statement(
    run: RunResult,
    *,
    subjects: list[dict[str, Any]],
    profile_json: bytes,
    suite_json: bytes,
    url: str | None = None,
) -> dict[str, Any]:
    """The in-toto Statement v1 about ``run``; without ``subjects``, about result.json itself."""
    result = result_json.render(run).encode()
    names = {
        status: [r.name for r in run.results if r.status in statuses]
        for status, statuses in (
            ("passedTests", {Status.PASS}),
            ("warnedTests", {Status.WARN}),
            # Fail closed: a check that could not judge (ERROR) or had no data is not a pass.
            ("failedTests", {Status.FAIL, Status.ERROR, Status.INCONCLUSIVE}),
        )
    }
    predicate: dict[str, Any] = {
        "result": verdict_result(run),
        "configuration": [
            _descriptor(PROFILE_FILE, profile_json, profile=run.profile),
            _descriptor(SUITE_FILE, suite_json, suite=run.suite),
        ],
        **({"url": url} if url else {}),
        **names,
        RISK_FIELD: {"level": run.risk.level.value, "score": run.risk.score, "failOn": run.fail_on.value},
        RUN_FIELD: {
            "tool": f"spark-ops {__version__}",
            "command": run.command,
            "startedAt": run.started_at,
            "exitCode": run.exit_code,
            "resultJson": _descriptor(RESULT_FILE, result),
        },
    }
    return {
        "_type": STATEMENT_TYPE,
        "subject": subjects or [_descriptor(RESULT_FILE, result)],
        "predicateType": PREDICATE_TYPE,
        "predicate": predicate,
    }


def signed_run_files(
    run: RunResult,
    key: SigningKey,
    *,
    profile_view: Mapping[str, Any],
    suite: Mapping[str, Any],
    subjects: list[dict[str, Any]],
    environ: Mapping[str, str],
) -> dict[str, bytes]:
    """The files a signed run keeps beyond an unsigned one: suite.json and attestation.dsse.json.

    ``subjects`` from ``--subject``; else the CI commit from ``environ``; else result.json.
    """
    from spark_ops.signing import sign_envelope

    suite_json = view_document(suite)
    document = statement(
        run,
        subjects=subjects or ci_subjects(environ),
        profile_json=view_document(profile_view),
        suite_json=suite_json,
        url=ci_run_url(environ),
    )
    payload = json.dumps(document, separators=(",", ":"), sort_keys=True).encode()
    envelope = sign_envelope(payload, key)
    return {SUITE_FILE: suite_json, ATTESTATION: (json.dumps(envelope, indent=2) + "\n").encode()}


@dataclass(frozen=True, slots=True)
class RunSigning:
    """What ``--sign-key`` and ``--subject`` asked of a run, checked before the run sends anything."""

    key: SigningKey
    subjects: list[dict[str, Any]]

    def files(
        self, run: RunResult, prepared: PreparedRun, profile_view: Mapping[str, Any]
    ) -> dict[str, bytes]:
        """suite.json and attestation.dsse.json for ``run`` (subjects default to the CI environment's)."""
        return signed_run_files(
            run,
            self.key,
            profile_view=profile_view,
            suite=suite_view(prepared.suite, prepared.redactor),
            subjects=self.subjects,
            environ=os.environ,
        )


def prepare_signing(
    key_path: Path | None, subjects: Sequence[str], *, keeps_evidence: bool, warn: Callable[[str], None]
) -> RunSigning | None:
    """The signing a run was asked for, or None; ConfigError (exit 2) for a key or subject it cannot use."""
    from spark_ops.signing import load_signing_key, passphrase_from_env

    if key_path is None:
        if subjects:
            raise ConfigError("--subject names what a signed verdict is about: add --sign-key")
        return None
    if not keeps_evidence:
        raise ConfigError(
            "--sign-key writes attestation.dsse.json into the run's evidence: drop --no-evidence"
        )
    parsed = parse_subjects(subjects)
    key = load_signing_key(key_path, option="--sign-key", passphrase=passphrase_from_env(), warn=warn)
    return RunSigning(key, parsed)


# --- checking one against the run it sits in ---------------------------------------------------------


def attestation_problems(envelope: bytes, key: PublicKey, run_digests: Mapping[str, str]) -> list[str]:
    """Why the attestation ``envelope`` does not hold for its run ([] when it does).

    ``run_digests`` are the sha256 of the files of the run folder it sits in, by name (result.json...).
    """
    from spark_ops.signing import SignatureRefused, open_envelope

    try:
        payload = open_envelope(envelope, key)
    except SignatureRefused as exc:
        return [f"does not verify: {exc}"]
    try:
        document = json.loads(payload)
        predicate = document["predicate"]
        result_digest = predicate[RUN_FIELD]["resultJson"]["digest"]["sha256"]
        configuration = predicate["configuration"]
        if document["_type"] != STATEMENT_TYPE or document["predicateType"] != PREDICATE_TYPE:
            return ["is not an in-toto test-result Statement"]
        named = {entry["name"]: entry["digest"]["sha256"] for entry in configuration}
    except (ValueError, KeyError, TypeError, RecursionError):
        return ["signed, but its payload is not the Statement spark-ops writes"]
    problems = []
    for name, digest in (
        (RESULT_FILE, result_digest),
        (PROFILE_FILE, named.get(PROFILE_FILE)),
        (SUITE_FILE, named.get(SUITE_FILE)),
    ):
        if name not in run_digests:
            problems.append(f"names a {name} its run folder does not hold")
        elif run_digests[name] != digest:
            moved = " (moved from another run?)" if name == RESULT_FILE else ""
            problems.append(f"names another {name} than the run's{moved}")
    return problems

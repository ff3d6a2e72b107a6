"""Signed verdicts: `--sign-key` on a run writes an in-toto test-result Statement in a DSSE envelope.

Envelopes are opened with securesystemslib's DSSE (an independent implementation), never with spark-ops.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest
from conftest import FRESH, GATE_CHECKS, assert_config_error
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from securesystemslib.dsse import Envelope
from securesystemslib.exceptions import VerificationError
from securesystemslib.signer import SSlibKey

from spark_ops import signing
from spark_ops.signing import GeneratedKeys

PREDICATE_TYPE = "https://in-toto.io/attestation/test-result/v0.1"
CI_VARIABLES = (
    "GITHUB_SHA",
    "GITHUB_REPOSITORY",
    "GITHUB_SERVER_URL",
    "GITHUB_RUN_ID",
    "CI_COMMIT_SHA",
    "CI_PROJECT_URL",
    "CI_JOB_URL",
)
DIGEST = "ab" * 32


@pytest.fixture(autouse=True)
def outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    """No CI variables unless a test sets them (the subjects depend on them)."""
    for name in CI_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv(signing.KEY_FILE_ENV, raising=False)
    monkeypatch.delenv(signing.PASSPHRASE_ENV, raising=False)


@pytest.fixture
def keys(tmp_path: Path) -> GeneratedKeys:
    return signing.generate_keys(tmp_path / "keys")


def open_with_securesystemslib(envelope_path: Path, public: Path, keyid: str) -> dict[str, Any]:
    """The Statement of an envelope, verified by securesystemslib with the public key file."""
    key = SSlibKey.from_crypto(load_pem_public_key(public.read_bytes()), keyid=keyid)
    envelope = Envelope.from_dict(json.loads(envelope_path.read_bytes()))
    assert envelope.payload_type == "application/vnd.in-toto+json"
    envelope.verify([key], 1)  # raises VerificationError unless the signature holds
    statement: dict[str, Any] = json.loads(envelope.payload)
    return statement


def only_run(tmp_path: Path) -> Path:
    (folder,) = (tmp_path / "evidence" / "runs").iterdir()
    return folder


def signed_gate(spark, platform, keys: GeneratedKeys, *args: str) -> tuple[Any, Path]:
    result = spark("gate", "--sign-key", str(keys.private), *platform.sets(), *args)
    assert result.exit_code in (0, 1), result.stderr
    return result, only_run(Path.cwd())


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_signed_gate_keeps_an_attestation_securesystemslib_verifies(spark, platform, keys, tmp_path):
    """A signed gate's attestation verifies independently and names its verdict, checks and files."""
    result, folder = signed_gate(spark, platform, keys)
    assert result.exit_code == 0
    assert keys.fingerprint in result.stderr
    statement = open_with_securesystemslib(folder / "attestation.dsse.json", keys.public, keys.fingerprint)
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == PREDICATE_TYPE
    predicate = statement["predicate"]
    assert predicate["result"] == "PASSED"
    assert predicate["passedTests"] == list(GATE_CHECKS)
    assert predicate["warnedTests"] == predicate["failedTests"] == []
    assert predicate["urn:spark-ops:risk"] == {"level": "LOW", "score": 100.0, "failOn": "HIGH"}
    # The configuration is the run's own profile.json and suite.json, by sha256 of their bytes.
    assert {c["name"]: c["digest"]["sha256"] for c in predicate["configuration"]} == {
        "profile.json": sha256_of(folder / "profile.json"),
        "suite.json": sha256_of(folder / "suite.json"),
    }
    suite = json.loads((folder / "suite.json").read_bytes())
    assert [check["name"] for check in suite["checks"]] == list(GATE_CHECKS)
    assert predicate["urn:spark-ops:run"]["resultJson"]["digest"]["sha256"] == sha256_of(
        folder / "result.json"
    )
    # Outside CI and without --subject, the Statement is about result.json itself.
    assert statement["subject"] == [
        {"name": "result.json", "digest": {"sha256": sha256_of(folder / "result.json")}}
    ]
    assert "url" not in predicate


def test_another_key_does_not_verify_the_attestation(spark, platform, keys, tmp_path):
    """securesystemslib refuses the envelope with any other key (the check above can fail)."""
    _, folder = signed_gate(spark, platform, keys)
    other = signing.generate_keys(tmp_path / "other")
    with pytest.raises(VerificationError):
        open_with_securesystemslib(folder / "attestation.dsse.json", other.public, keys.fingerprint)


def statement_of(folder: Path) -> dict[str, Any]:
    envelope = json.loads((folder / "attestation.dsse.json").read_bytes())
    document: dict[str, Any] = json.loads(base64.b64decode(envelope["payload"]))
    return document


@pytest.mark.parametrize(
    ("latency_ms", "status", "args", "expected", "failed"),
    [
        (14, "UP", [], "PASSED", []),
        # A major check fails: HIGH; judged with --fail-on critical the verdict passes, with a failure.
        (500, "UP", ["--fail-on", "critical"], "WARNED", ["healthz.slo.latencyP95"]),
        # Report-only (exit 0) does not make a failed verdict pass.
        (14, "DOWN", [], "FAILED", ["healthz.status"]),
        (14, "DOWN", ["--exit-on-fail"], "FAILED", ["healthz.status"]),
    ],
    ids=["passed", "warned-below-fail-on", "failed-report-only", "failed-enforced"],
)
def test_result_follows_the_verdict_not_the_exit_code(
    latency_ms, status, args, expected, failed, spark, platform, keys
):
    """PASSED all passed; WARNED the verdict passes with trouble; FAILED the verdict fails, exit 0 or not."""
    platform.health = {
        "status": status,
        "timestamp": FRESH,
        "slo": {"latencyP95": latency_ms, "errorRate": 0.0, "staleness": 0},
    }
    result, folder = signed_gate(spark, platform, keys, *args)
    predicate = statement_of(folder)["predicate"]
    assert predicate["result"] == expected
    assert predicate["failedTests"] == failed
    assert predicate["urn:spark-ops:run"]["exitCode"] == result.exit_code
    assert sorted(predicate["passedTests"] + failed) == sorted(GATE_CHECKS)


def test_subjects_from_the_command_line(spark, platform, keys):
    """Each --subject NAME=sha256:HEX becomes a subject, in order."""
    _, folder = signed_gate(
        spark,
        platform,
        keys,
        "--subject",
        f"app.tar.gz=sha256:{DIGEST}",
        "--subject",
        f"image=SHA256:{DIGEST.upper()}",
    )
    assert statement_of(folder)["subject"] == [
        {"name": "app.tar.gz", "digest": {"sha256": DIGEST}},
        {"name": "image", "digest": {"sha256": DIGEST}},
    ]


@pytest.mark.parametrize(
    ("environment", "subject", "url"),
    [
        (
            {"GITHUB_SHA": "a" * 40, "GITHUB_REPOSITORY": "acme/spark", "GITHUB_RUN_ID": "42"},
            {"name": "https://github.com/acme/spark", "digest": {"gitCommit": "a" * 40}},
            "https://github.com/acme/spark/actions/runs/42",
        ),
        (
            {
                "CI_COMMIT_SHA": "b" * 40,
                "CI_PROJECT_URL": "https://gitlab.example/acme/spark",
                "CI_JOB_URL": "https://gitlab.example/j/7",
            },
            {"name": "https://gitlab.example/acme/spark", "digest": {"gitCommit": "b" * 40}},
            "https://gitlab.example/j/7",
        ),
    ],
    ids=["github", "gitlab"],
)
def test_subject_is_the_ci_commit_with_its_repository(
    environment, subject, url, spark, platform, keys, monkeypatch
):
    """In CI without --subject, the Statement is about the commit built, and links the job."""
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    _, folder = signed_gate(spark, platform, keys)
    statement = statement_of(folder)
    assert statement["subject"] == [subject]
    assert statement["predicate"]["url"] == url


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--subject", "app=sha1:" + "a" * 40], "NAME=sha256:HEX"),
        (["--subject", "app"], "NAME=sha256:HEX"),
        (["--subject", f"=sha256:{DIGEST}"], "NAME=sha256:HEX"),
        (["--subject", "app=sha256:xyz"], "NAME=sha256:HEX"),
        (["--no-evidence"], "drop --no-evidence"),
    ],
    ids=["sha1", "no-digest", "no-name", "not-hex", "no-evidence"],
)
def test_bad_signing_options_are_exit_2(args, fragment, spark, platform, keys, tmp_path):
    """Malformed subjects, or signing a run that keeps no evidence: exit 2 with one line, nothing sent."""
    assert_config_error(spark("gate", "--sign-key", str(keys.private), *platform.sets(), *args), fragment)
    assert not (tmp_path / "evidence").exists()
    assert platform.server.log == []


def test_subject_without_a_key_is_exit_2(spark, platform, tmp_path):
    """--subject alone would sign nothing: exit 2."""
    assert_config_error(spark("gate", "--subject", f"a=sha256:{DIGEST}", *platform.sets()), "add --sign-key")


def test_malformed_ci_commit_is_exit_2(spark, platform, keys, monkeypatch):
    """A $GITHUB_SHA that is no commit id is not silently signed as one."""
    monkeypatch.setenv("GITHUB_SHA", "main")
    assert_config_error(spark("gate", "--sign-key", str(keys.private), *platform.sets()), "$GITHUB_SHA")


def test_sign_key_from_the_environment(spark, platform, keys, monkeypatch):
    """SPARK_SIGNING_KEY_FILE signs like --sign-key."""
    monkeypatch.setenv(signing.KEY_FILE_ENV, str(keys.private))
    result = spark("gate", *platform.sets())
    assert result.exit_code == 0, result.stderr
    assert (only_run(Path.cwd()) / "attestation.dsse.json").is_file()


def test_unsigned_run_keeps_no_attestation(spark, platform):
    """Without a key nothing signed is kept (and no suite.json beside it)."""
    assert spark("gate", *platform.sets()).exit_code == 0
    names = {p.name for p in only_run(Path.cwd()).iterdir()}
    assert "attestation.dsse.json" not in names and "suite.json" not in names


def test_key_readable_by_others_is_a_warning_not_an_error(spark, platform, keys):
    """A signing key with mode 0644 signs the run, and stderr says to chmod it."""
    if os.name != "posix":
        pytest.skip("file modes are POSIX")
    keys.private.chmod(0o644)
    result = spark("gate", "--sign-key", str(keys.private), *platform.sets())
    assert result.exit_code == 0, result.stderr
    assert f"spark: warning: --sign-key {keys.private} is readable by others (mode 0644)" in result.stderr
    assert (only_run(Path.cwd()) / "attestation.dsse.json").is_file()


def test_suite_json_masks_a_checks_secret(spark, platform, keys, tmp_path):
    """suite.json is the suite as run, with a check's secret header masked."""
    (tmp_path / "secret.toml").write_text(
        "[[checks]]\n"
        'name = "health"\n'
        'kind = "http"\n'
        f'url = "{platform.url}/api/healthz"\n'
        'headers = { Authorization = "Bearer s3cr3t-token-value" }\n',
        encoding="utf-8",
    )
    result = spark("gate", "--suite", "secret.toml", "--sign-key", str(keys.private), *platform.sets())
    assert result.exit_code == 0, result.stderr
    kept = (only_run(tmp_path) / "suite.json").read_text(encoding="utf-8")
    assert "s3cr3t-token-value" not in kept
    assert json.loads(kept)["checks"][0]["headers"]["Authorization"] == "***"


def test_suite_view_holds_a_toml_date_as_text(tmp_path):
    """A TOML date in a check's options (an expected JSON value) is kept as ISO text, not a crash."""
    from spark_ops.config import load_suite
    from spark_ops.evidence.attest import suite_view
    from spark_ops.redact import Redactor

    path = tmp_path / "dated.toml"
    path.write_text(
        '[[checks]]\nname = "d"\nkind = "http"\nurl = "http://127.0.0.1:1/"\n'
        'expect_json = [{ field = "day", value = 2025-10-16 }]\n',
        encoding="utf-8",
    )
    view = suite_view(load_suite(str(path)), Redactor())
    assert json.loads(json.dumps(view))["checks"][0]["expect_json"] == [
        {"field": "day", "value": "2025-10-16"}
    ]

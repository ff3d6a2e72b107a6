"""Fuzzing the evidence readers: archive verify and manifest reading, and the run store's readers.

Archives are generated member by member (any compression zipfile reads, an encrypted flag, an
unsupported method), with a true manifest, a hostile one or a true one with an entry changed, and then
byte-mutated. ``verify`` gives a Verification (ok exactly when an independent reading of the archive
matches its manifest) or a ConfigError, never another exception; ``spark evidence verify`` exits 0, 1 or
2 with one line on stderr. Evidence folders with hostile run names, result.json, profile.json, export
markers and archive names are listed, reported on and planned for export without a bare exception.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import shutil
import struct
import warnings
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import event, example, given
from hypothesis import strategies as st

from spark_ops import daily_report
from spark_ops.errors import ConfigError
from spark_ops.evidence import catalog, export, selection, verify
from spark_ops.evidence.verify import MANIFEST, MANIFEST_SCHEMA

from . import FUZZ, FUZZ_CLI, FUZZ_IO, TEXT
from .test_fuzz_json_fields import JSON
from .test_fuzz_profile import mutate

METHODS = [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA]
MEMBER_NAMES = st.one_of(
    st.sampled_from(["runs/a/result.json", "runs/a/run.log", "reports/x.md", "metrics/web.prom", MANIFEST]),
    st.sampled_from(["../escape", "/abs", "C:\\x", "a\\b", "", "dir/", "a/../../b"]),
    TEXT.filter(lambda name: "\x00" not in name),
)


@st.composite
def members(draw: st.DrawFn) -> list[tuple[str, bytes, int]]:
    """Archive members: (name, data, compression), names possibly repeated or hostile."""
    return draw(
        st.lists(
            st.tuples(
                MEMBER_NAMES.filter(lambda name: name != MANIFEST).map(lambda name: name or "_"),
                st.binary(max_size=300),
                st.sampled_from(METHODS),
            ),
            max_size=4,
        )
    )


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def true_manifest(entries: list[tuple[str, bytes, int]]) -> dict[str, Any]:
    return {
        "schema": MANIFEST_SCHEMA,
        "members": [{"path": name, "size": len(data), "sha256": sha(data)} for name, data, _ in entries],
    }


@st.composite
def manifests(draw: st.DrawFn, entries: list[tuple[str, bytes, int]]) -> tuple[Any, bool]:
    """A manifest for ``entries`` and whether it is true: true, true with one entry changed, or hostile."""
    document = true_manifest(entries)
    choice = draw(st.sampled_from(["true", "changed", "hostile", "hostile-members"]))
    if choice == "true":
        return document, True
    if choice == "changed" and document["members"]:
        entry = draw(st.sampled_from(document["members"]))
        key = draw(st.sampled_from(["path", "size", "sha256", "drop", "twice"]))
        if key == "drop":
            document["members"].remove(entry)
        elif key == "twice":
            document["members"].append(dict(entry))
        else:
            entry[key] = draw(JSON.filter(lambda value: value != entry[key]))
        return document, False
    if choice == "hostile-members":
        document["members"] = draw(
            st.lists(st.dictionaries(st.sampled_from(["path", "size", "sha256"]), JSON))
        )
        return document, False
    return draw(JSON), False


def encode_manifest(document: Any, form: str) -> bytes:
    if form == "json":
        return json.dumps(document).encode()
    if form == "deep":
        return b'{"schema": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    if form == "not-utf8":
        return b"\xff\xfe" + json.dumps(document).encode()
    return json.dumps(document).encode()[: len(form)]  # truncated


def build_zip(entries: list[tuple[str, bytes, int]], manifest: bytes | None, manifest_method: int) -> bytes:
    buffer = io.BytesIO()
    # Duplicate member names are one of the hostile inputs; zipfile warns when it writes them.
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w") as out:
        warnings.filterwarnings("ignore", "Duplicate name", UserWarning)
        for name, data, method in entries:
            out.writestr(zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0)), data, compress_type=method)
        if manifest is not None:
            out.writestr(
                zipfile.ZipInfo(MANIFEST, (1980, 1, 1, 0, 0, 0)), manifest, compress_type=manifest_method
            )
    return buffer.getvalue()


def patch_headers(data: bytes, *, flags: int = 0, method: int | None = None) -> bytes:
    """``data`` with every local and central header's flag bits or-ed with ``flags`` and ``method`` set."""
    out = bytearray(data)
    for signature, flag_at, method_at in ((b"PK\x03\x04", 6, 8), (b"PK\x01\x02", 8, 10)):
        start = 0
        while (at := out.find(signature, start)) != -1 and at + method_at + 2 <= len(out):
            (old_flags,) = struct.unpack_from("<H", out, at + flag_at)
            struct.pack_into("<H", out, at + flag_at, old_flags | flags)
            if method is not None:
                struct.pack_into("<H", out, at + method_at, method)
            start = at + 4
    return bytes(out)


def unsafe(name: str) -> bool:
    """A member name that would land outside the folder it is extracted into."""
    return name.startswith(("/", "\\")) or "\\" in name or ".." in name.split("/") or name[1:2] == ":"


def needs_version(data: bytes, version: int) -> bytes:
    """``data`` with every central header asking for zip ``version`` (64: 6.4) to extract."""
    out = bytearray(data)
    at = 0
    while (at := out.find(b"PK\x01\x02", at)) != -1:
        struct.pack_into("<H", out, at + 6, version)
        at += 4
    return bytes(out)


def independent_verdict(data: bytes) -> bool:
    """Whether the archive holds exactly its manifest's members, each with the listed size and sha256."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zipped:
            names = zipped.namelist()
            if len(names) != len(set(names)) or MANIFEST not in names:
                return False
            if any(map(unsafe, names)):
                return False
            document = json.loads(zipped.read(MANIFEST))
            if not isinstance(document, dict) or document.get("schema") != MANIFEST_SCHEMA:
                return False
            listed = document["members"]
            paths = [entry["path"] for entry in listed]
            if len(paths) != len(set(paths)) or set(paths) != set(names) - {MANIFEST}:
                return False
            for entry in listed:
                content = zipped.read(entry["path"])
                size = entry["size"]
                if isinstance(size, bool) or size != len(content) or entry["sha256"].lower() != sha(content):
                    return False
            return True
    except Exception:  # the oracle may fail in any way on a broken archive: then it is not intact
        return False


ZIP_EDITS = st.lists(st.tuples(st.integers(0, 5000), st.integers(0, 8), st.binary(max_size=4)), max_size=3)


@st.composite
def archives(draw: st.DrawFn) -> tuple[bytes, bool]:
    """Zip bytes and whether they are an untouched, true archive."""
    entries = draw(members())
    document, true = draw(manifests(entries))
    form = draw(st.sampled_from(["json", "json", "json", "deep", "not-utf8", "trunc"]))
    manifest = None if draw(st.integers(0, 9)) == 0 else encode_manifest(document, form)
    data = build_zip(entries, manifest, draw(st.sampled_from(METHODS)))
    patch = draw(st.sampled_from(["none", "none", "none", "encrypted", "deflate64", "unknown"]))
    if patch != "none":
        data = patch_headers(
            data, flags=1 if patch == "encrypted" else 0, method={"deflate64": 9, "unknown": 99}.get(patch)
        )
    edits = draw(ZIP_EDITS)
    data = mutate(data, edits)
    names = [name for name, _, _ in entries]
    clean = len(set(names)) == len(names) and not any(map(unsafe, names))
    intact = true and clean and manifest is not None and form == "json" and patch == "none" and not edits
    return data, intact


def verify_or_config_error(path: Path) -> verify.Verification | ConfigError:
    try:
        return verify.verify(path)
    except ConfigError as exc:
        assert str(exc)
        return exc


@FUZZ
@given(generated=archives())
@example(generated=(build_zip([("a", b"x", zipfile.ZIP_LZMA)], None, 0), False))
@example(generated=(build_zip([("a\nok: 9 members match", b"x", 0)], b"{}", 0), False))
@example(
    generated=(
        build_zip([("a\u2028b", b"x", 0)] * 2, json.dumps(true_manifest([("c\rd", b"", 0)])).encode(), 0),
        False,
    )
)
@example(generated=(patch_headers(build_zip([], b"{}", zipfile.ZIP_STORED), flags=1), False))
@example(generated=(patch_headers(build_zip([("a", b"x", 0)], b"{}", 0), method=99), False))
def test_verify_is_ok_exactly_for_an_intact_archive(tmp_path: Path, generated: tuple[bytes, bool]) -> None:
    """verify() on any bytes: ok exactly when the archive matches its manifest, else problems or exit 2."""
    data, intact = generated
    path = tmp_path / "fuzzed.zip"
    path.write_bytes(data)
    outcome = verify_or_config_error(path)
    if isinstance(outcome, ConfigError):
        assert not intact, outcome
        return
    assert outcome.ok == independent_verdict(data), outcome.problems
    if intact:
        assert outcome.ok, outcome.problems
    assert all(isinstance(problem, str) and "\n" not in problem for problem in outcome.problems)
    assert all(len(problem) <= 300 for problem in outcome.problems), outcome.problems
    manifest = verify.read_manifest(path)
    assert manifest is None or isinstance(manifest, dict)
    written = (tmp_path / "canary_20261121_120000.zip").write_bytes(data)  # not inside assert: -O drops it
    assert written == len(data) > 0
    (entry,) = catalog.archives(tmp_path)  # the listing reads the same manifest
    assert entry.command.endswith(" runs") or entry.command == "(no manifest)"


LZMA_MEMBER = build_zip(
    [("a", b"x" * 200, zipfile.ZIP_LZMA)], json.dumps(true_manifest([("a", b"x" * 200, 0)])).encode(), 0
)


@pytest.mark.parametrize(
    ("data", "outcome"),
    [
        (
            patch_headers(
                build_zip([("a", b"x", 0)], json.dumps(true_manifest([("a", b"x", 0)])).encode(), 0), flags=1
            ),
            "problems",
        ),
        (patch_headers(build_zip([("a", b"x", 0)], b"{}", 0), method=9), "problems"),
        (LZMA_MEMBER, "ok"),
        (mutate(LZMA_MEMBER, [(40, 6, b"\xff" * 6)]), "problems"),  # lzma.LZMAError
        (
            build_zip([], b'{"schema": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", zipfile.ZIP_DEFLATED),
            "problems",
        ),
        (needs_version(build_zip([], b"{}", zipfile.ZIP_STORED), 64), "exit 2"),
    ],
    ids=[
        "encrypted-flag",
        "deflate64-method",
        "lzma-member",
        "corrupt-lzma",
        "deep-manifest",
        "zip-version-6.4",
    ],
)
def test_hostile_archives_verify_without_a_traceback(tmp_path: Path, data: bytes, outcome: str) -> None:
    """Encrypted, unsupported or absurd archives are problems (or exit 2), never an exception."""
    path = tmp_path / "hostile.zip"
    path.write_bytes(data)
    verified = verify_or_config_error(path)
    if isinstance(verified, ConfigError):
        assert outcome == "exit 2", verified
    else:
        assert ("ok" if verified.ok else "problems") == outcome, verified.problems
        assert all(len(problem) <= 300 for problem in verified.problems), verified.problems


@FUZZ_CLI
@given(generated=archives())
def test_spark_evidence_verify_exits_0_1_or_2_with_one_line(
    spark: Any, generated: tuple[bytes, bool]
) -> None:
    """`spark evidence verify` on any bytes: 0 when intact, 1 when altered, 2 when no zip; one stderr line."""
    data, intact = generated
    Path("fuzzed.zip").write_bytes(data)
    result = spark("evidence", "verify", "fuzzed.zip")
    event(f"verify exit {result.exit_code}")
    assert "Traceback" not in result.stdout + result.stderr
    assert result.exit_code in (0, 1, 2), result.stderr
    assert (result.exit_code == 0) == independent_verdict(data), result.stdout + result.stderr
    if intact:
        assert result.exit_code == 0, result.stdout + result.stderr
    stderr = result.stderr.strip().splitlines()
    if result.exit_code == 0:
        assert stderr == [] and result.stdout.startswith("ok:"), result.stdout + result.stderr
    else:
        assert len(stderr) == 1 and stderr[0].startswith("spark: error:"), result.stderr


# --- the run store's readers ------------------------------------------------------------------------


RUN_NAMES = st.one_of(
    st.sampled_from(
        [
            "20261121_120000_gate",
            "20261121_120000_gate-2",
            "20261399_999999_gate",  # looks like a run, is no date
            "00000000_000000_smoke",
            "20261121_120000_canary",
            ".tmp-1-x",
            "stray",
        ]
    ),
    st.from_regex(r"\A\d{8}_\d{6}_[a-z][a-z0-9-]{0,6}\Z"),
)
RESULTS = st.one_of(
    JSON.map(lambda value: json.dumps(value).encode()),
    st.fixed_dictionaries(
        {},
        optional={
            "profile": JSON | st.sampled_from(["dev", "production", "a" * 300, "nope/x.toml"]),
            "risk": JSON | st.fixed_dictionaries({}, optional={"level": JSON, "score": JSON}),
            "checks": JSON
            | st.lists(st.dictionaries(st.sampled_from(["name", "status", "severity", "message"]), JSON)),
            "summary": JSON,
        },
    ).map(lambda value: json.dumps(value).encode()),
    st.binary(max_size=40),
    st.just(b"[" * 100_000),
)
ARCHIVE_NAMES = st.sampled_from(
    ["canary_20261121_120000.zip", "canary_20261399_999999.zip", "x_00000000_000000-2.zip", "junk.zip"]
)
REPORT_NAMES = st.sampled_from(["20261121_120000_report.json", "20261399_999999_report.json", "x.md"])


@st.composite
def evidence_folders(draw: st.DrawFn) -> dict[str, bytes | None]:
    """Relative path -> bytes (None: an empty folder) of a hostile evidence folder."""
    files: dict[str, bytes | None] = {}
    for name in draw(st.lists(RUN_NAMES, max_size=4, unique=True)):
        result = draw(st.none() | RESULTS)
        files[f"runs/{name}/run.log"] = b"log\n"
        if result is not None:
            files[f"runs/{name}/result.json"] = result
        if draw(st.booleans()):
            files[f"runs/{name}/profile.json"] = draw(RESULTS)
    for name in draw(st.lists(REPORT_NAMES, max_size=2, unique=True)):
        files[f"reports/{name}"] = draw(RESULTS)
    for name in draw(st.lists(ARCHIVE_NAMES, max_size=2, unique=True)):
        files[name] = draw(archives())[0]
    if draw(st.booleans()):
        files[selection.LAST_EXPORT] = draw(
            RESULTS
            | st.fixed_dictionaries({"stamp": JSON, "names": JSON}).map(
                lambda value: json.dumps(value).encode()
            )
        )
    return files


def write_folder(base: Path, files: dict[str, bytes | None]) -> None:
    for relative, data in files.items():
        path = base / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if data is not None:
            path.write_bytes(data)


@FUZZ_IO
@given(files=evidence_folders())
@example(files={"runs/20261399_999999_gate/result.json": b"{}"})
@example(files={"canary_20261399_999999.zip": b"PK"})
@example(files={"reports/20261399_999999_report.json": b"{}"})
@example(files={"runs/20261121_120000_gate/result.json": b"[" * 100_000})
@example(files={"runs/20261121_120000_gate/result.json": b'{"risk": {"score": 1' + b"0" * 400 + b"}}"})
@example(files={"runs/20261121_120000_gate/result.json": b'{"risk": {"score": NaN, "level": "LOW"}}'})
@example(files={selection.LAST_EXPORT: b"[" * 100_000, "runs/20261121_120000_gate/run.log": b""})
def test_hostile_evidence_folders_list_report_and_plan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: dict[str, bytes | None]
) -> None:
    """Listing, the daily report and export planning read any evidence folder: results, or a ConfigError."""
    monkeypatch.chdir(tmp_path)  # profiles named by a result.json resolve here, not in the repository
    base = tmp_path / "evidence"
    shutil.rmtree(base, ignore_errors=True)  # the folder is reused across examples
    write_folder(base, files)
    base.mkdir(exist_ok=True)
    entries = catalog.catalog(base)
    assert all(isinstance(entry, catalog.Entry) for entry in entries)
    report = daily_report.build(base, since=timedelta(days=3650), now=datetime(2027, 1, 1, tzinfo=UTC))
    assert report["risk"]["level"] is None or isinstance(report["risk"]["level"], str)
    mean = report["runs"]["mean_score"]
    assert mean is None or math.isfinite(mean), mean  # no NaN or infinity read from a result.json
    daily_report.render_markdown(report)
    try:
        plan = export.plan_export(base, all_runs=True)
    except ConfigError:
        return
    notes: list[str] = []  # profiles a run names that do not load are noted and skipped, never raised
    export.export_redactor(plan.runs, None, (), note=notes.append)


@FUZZ_CLI
@given(files=evidence_folders())
@example(files={"runs/20261121_120000_gate/result.json": b'{"profile": "' + b"a" * 300 + b'.toml"}'})
@example(files={"runs/20261121_120000_gate/profile.json": b"[" * 900 + b"]" * 900})
@example(files={"runs/20261121_120000_gate/result.json": b'{"summary": ' + b"[" * 900 + b"]" * 900 + b"}"})
def test_spark_evidence_export_of_any_folder_verifies(
    spark: Any, monkeypatch: pytest.MonkeyPatch, files: dict[str, bytes | None]
) -> None:
    """`spark evidence export --all` of any folder: an archive that verifies, or exit 1/2 with one line."""
    monkeypatch.setenv("PM2_HOME", str(Path.cwd() / "no-pm2"))  # no `pm2 jlist` per example
    base = Path.cwd() / "evidence"
    shutil.rmtree(base, ignore_errors=True)
    write_folder(base, files)
    result = spark("evidence", "export", "--all", "--out", "exported")
    event(f"export exit {result.exit_code}")  # --hypothesis-show-statistics: both outcomes occur
    assert "Traceback" not in result.stdout + result.stderr
    assert result.exit_code in (0, 1, 2), result.stderr
    stderr = result.stderr.strip().splitlines()
    assert all(line.startswith("spark: ") for line in stderr), (
        result.stderr
    )  # notes and errors, one line each
    if result.exit_code != 0:
        assert stderr and stderr[-1].startswith("spark: error:"), result.stderr
        return
    archive_path = result.stdout.strip().splitlines()[-1]
    verified = spark("evidence", "verify", archive_path)
    assert verified.exit_code == 0, verified.stdout + verified.stderr
    shutil.rmtree("exported")

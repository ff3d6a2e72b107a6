"""spark evidence verify: 0 for an archive as exported, 1 for any change, 2 when it is no readable zip."""

from __future__ import annotations

import hashlib
import json
import struct
import warnings
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import archive_members, assert_config_error, exported_path, write_run

Members = list[tuple[str, bytes]]
MANIFEST = "manifest.json"


@pytest.fixture
def fresh(spark, tmp_path) -> Path:
    """An archive as `spark evidence export` wrote it (a run and an included log), in tmp_path/archives."""
    base = tmp_path / "evidence"
    write_run(base, datetime.now(UTC) - timedelta(minutes=3), "gate")
    write_run(base, datetime.now(UTC) - timedelta(minutes=2), "smoke")
    Path("app.log").write_text("".join(f"line {n} of the app log\n" for n in range(500)), encoding="utf-8")
    path = exported_path(spark("evidence", "export", "--include", "app.log", "--out", "archives"), tmp_path)
    assert path.parent == tmp_path / "archives"
    return path


def tree(folder: Path) -> set[Path]:
    return set(folder.rglob("*"))


def rewrite(source: Path, target: Path, change: Callable[[Members], Members]) -> Path:
    """Copy the zip ``source`` to ``target`` with its (name, content) list passed through ``change``."""
    with zipfile.ZipFile(source) as archive:
        members = [(info.filename, archive.read(info)) for info in archive.infolist()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate names some cases write
        with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, data in change(members):
                archive.writestr(zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0)), data)
    return target


def first(members: Members, suffix: str) -> str:
    return next(name for name, _ in members if name.endswith(suffix))


def with_manifest(edit: Callable[[dict[str, Any]], Any]) -> Callable[[Members], Members]:
    """A change that replaces the manifest by ``edit(manifest)`` (a document, or bytes as they are)."""

    def change(members: Members) -> Members:
        out = []
        for name, data in members:
            if name == MANIFEST:
                edited = edit(json.loads(data))
                data = edited if isinstance(edited, bytes) else json.dumps(edited).encode()
            out.append((name, data))
        return out

    return change


def entry_for(name: str, data: bytes) -> dict[str, Any]:
    return {"path": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def flip_byte(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def change_result(members: Members) -> tuple[Members, str]:
    target = first(members, "/result.json")
    out = [(n, d.replace(b'"LOW"', b'"LOx"') if n == target else d) for n, d in members]
    return out, f"changed: {target}"


def change_one_byte_same_size(members: Members) -> tuple[Members, str]:
    out = [(n, flip_byte(d, 3) if n == "include/app.log" else d) for n, d in members]
    return out, "changed: include/app.log"


def truncate_member(members: Members) -> tuple[Members, str]:
    target = first(members, "/run.log")
    return [(n, d[:-1] if n == target else d) for n, d in members], f"changed: {target}"


def add_member(members: Members) -> tuple[Members, str]:
    return [*members, ("runs/extra/notes.txt", b"slipped in later\n")], "added: runs/extra/notes.txt"


def add_folder_entry(members: Members) -> tuple[Members, str]:
    return [*members, ("hidden/", b"")], "added: hidden/"


def remove_member(members: Members) -> tuple[Members, str]:
    return [(n, d) for n, d in members if n != "include/app.log"], "removed: include/app.log"


def store_member_twice(members: Members) -> tuple[Members, str]:
    name, data = next((n, d) for n, d in members if n == "include/app.log")
    return [*members, (name, data + b"another version\n")], "member stored twice: include/app.log"


def drop_manifest(members: Members) -> tuple[Members, str]:
    return [(n, d) for n, d in members if n != MANIFEST], f"{MANIFEST} is missing"


def manifest_case(
    edit: Callable[[dict[str, Any]], Any], fragment: str
) -> Callable[[Members], tuple[Members, str]]:
    return lambda members: (with_manifest(edit)(members), fragment)


def list_first_member_twice(manifest: dict[str, Any]) -> dict[str, Any]:
    manifest["members"].append(dict(manifest["members"][0]))
    return manifest


def member_without(key: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def edit(manifest: dict[str, Any]) -> dict[str, Any]:
        del manifest["members"][0][key]
        return manifest

    return edit


def member_field(key: str, value: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def edit(manifest: dict[str, Any]) -> dict[str, Any]:
        manifest["members"][0][key] = value
        return manifest

    return edit


def unsafe_member(name: str, *, listed: bool) -> Callable[[Members], tuple[Members, str]]:
    """A member whose name climbs out of the extraction folder; ``listed``: in the manifest too."""
    payload = b"#!/bin/sh\necho owned\n"

    def change(members: Members) -> tuple[Members, str]:
        out = [*members, (name, payload)]
        if listed:
            out = with_manifest(lambda m: {**m, "members": [*m["members"], entry_for(name, payload)]})(out)
        return out, f"climbs out of the archive): {name!r}"

    return change


TAMPERING = [
    pytest.param(change_result, id="member-content-changed"),
    pytest.param(change_one_byte_same_size, id="one-byte-changed-same-size"),
    pytest.param(truncate_member, id="member-shortened"),
    pytest.param(add_member, id="member-added"),
    pytest.param(add_folder_entry, id="folder-entry-added"),
    pytest.param(remove_member, id="member-removed"),
    pytest.param(store_member_twice, id="member-stored-twice"),
    pytest.param(drop_manifest, id="manifest-missing"),
    pytest.param(manifest_case(lambda m: b"{not json", f"{MANIFEST}: unreadable"), id="manifest-not-json"),
    pytest.param(manifest_case(lambda m: b"\xff\xfe\x00", f"{MANIFEST}: unreadable"), id="manifest-binary"),
    pytest.param(
        manifest_case(lambda m: {**m, "schema": "other/v9"}, "not a spark-ops/evidence/v1 manifest"),
        id="manifest-wrong-schema",
    ),
    pytest.param(
        manifest_case(lambda m: [m], "not a spark-ops/evidence/v1 manifest"), id="manifest-is-a-list"
    ),
    pytest.param(
        manifest_case(lambda m: {k: v for k, v in m.items() if k != "members"}, "'members' is not a list"),
        id="manifest-without-members",
    ),
    pytest.param(
        manifest_case(lambda m: {**m, "members": {"a": 1}}, "'members' is not a list"),
        id="manifest-members-not-a-list",
    ),
    pytest.param(
        manifest_case(lambda m: {**m, "members": ["x", *m["members"]]}, "members[0] is not an object"),
        id="manifest-entry-not-an-object",
    ),
    pytest.param(manifest_case(member_without("sha256"), "members[0] needs path"), id="entry-without-sha256"),
    pytest.param(manifest_case(member_without("size"), "members[0] needs path"), id="entry-without-size"),
    pytest.param(manifest_case(member_without("path"), "members[0] needs path"), id="entry-without-path"),
    pytest.param(manifest_case(member_field("size", "12"), "members[0] needs path"), id="size-is-a-string"),
    pytest.param(manifest_case(member_field("size", True), "members[0] needs path"), id="size-is-a-bool"),
    pytest.param(
        manifest_case(member_field("sha256", "ab" * 10), "members[0] needs path"), id="sha-too-short"
    ),
    pytest.param(manifest_case(list_first_member_twice, "is listed twice"), id="member-listed-twice"),
    pytest.param(manifest_case(member_field("sha256", "0" * 64), "changed: "), id="manifest-hash-changed"),
    pytest.param(unsafe_member("../evil", listed=False), id="dotdot-member"),
    pytest.param(unsafe_member("../evil", listed=True), id="dotdot-member-listed-with-its-hash"),
    pytest.param(unsafe_member("/etc/x", listed=False), id="absolute-member"),
    pytest.param(unsafe_member("/etc/x", listed=True), id="absolute-member-listed-with-its-hash"),
    pytest.param(unsafe_member("runs/../../evil", listed=True), id="dotdot-in-the-middle"),
    pytest.param(unsafe_member("..\\evil", listed=True), id="backslash-dotdot"),
    pytest.param(unsafe_member("C:evil", listed=True), id="drive-letter"),
]


def assert_tampered(result: Any, fragment: str) -> None:
    """Exit 1: a TAMPERED line holding ``fragment`` on stdout, one error line on stderr, no traceback."""
    assert result.exit_code == 1, result.stdout + result.stderr
    problems = [line for line in result.stdout.splitlines() if line.startswith("TAMPERED ")]
    assert any(fragment in line for line in problems), (fragment, result.stdout)
    (error,) = result.stderr.strip().splitlines()
    assert error.startswith("spark: error:") and "altered" in error, error
    assert "Traceback" not in result.stdout + result.stderr


def test_a_fresh_archive_verifies(fresh, spark, tmp_path):
    """An archive as exported verifies: exit 0 and a line counting the members that match."""
    before = tree(tmp_path)
    result = spark("evidence", "verify", str(fresh))
    assert result.exit_code == 0, result.stdout + result.stderr
    members = len(archive_members(fresh)) - 1
    assert f"ok: {members} members match {MANIFEST}" in result.stdout
    assert result.stderr == ""
    assert tree(tmp_path) == before  # read, never extracted


@pytest.mark.parametrize("tamper", TAMPERING)
def test_any_change_to_the_archive_exits_1_naming_it(fresh, spark, tmp_path, tamper):
    """A changed, added, removed or unsafe member, or a malformed manifest, fails verify with exit 1."""
    with zipfile.ZipFile(fresh) as archive:
        members = [(info.filename, archive.read(info)) for info in archive.infolist()]
    _, fragment = tamper(members)
    altered = rewrite(fresh, tmp_path / "archives" / "altered.zip", lambda m: tamper(m)[0])
    before = tree(tmp_path)
    assert_tampered(spark("evidence", "verify", str(altered)), fragment)
    assert tree(tmp_path) == before  # nothing extracted, not even the member that climbs out
    assert not (tmp_path.parent / "evil").exists()


def test_an_unaltered_rewrite_still_verifies(fresh, spark, tmp_path):
    """Rewriting the zip with identical members (other compression, dates) is no tampering: exit 0."""
    copy = rewrite(fresh, tmp_path / "archives" / "copy.zip", lambda members: members)
    assert spark("evidence", "verify", str(copy)).exit_code == 0


def data_offset(path: Path, name: str) -> tuple[int, int]:
    """Where the compressed bytes of member ``name`` start in the file at ``path``, and how many there are."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(name)
    with path.open("rb") as handle:
        handle.seek(info.header_offset)
        header = handle.read(30)
    signature, *_, name_length, extra_length = struct.unpack("<IHHHHHIIIHH", header)
    assert signature == 0x04034B50
    return info.header_offset + 30 + name_length + extra_length, info.compress_size


MEMBER_SUFFIXES = {
    "manifest": MANIFEST,
    "result": "/result.json",
    "run-log": "/run.log",
    "app-log": "app.log",
}


@pytest.mark.parametrize("spot", [0.25, 0.5, 0.75], ids=["quarter", "middle", "three-quarters"])
@pytest.mark.parametrize("suffix", list(MEMBER_SUFFIXES.values()), ids=list(MEMBER_SUFFIXES))
def test_a_flipped_byte_in_a_members_compressed_data_exits_1(fresh, spark, tmp_path, suffix, spot):
    """One bit flipped inside a member's compressed bytes in the file fails verify (exit 1) naming it."""
    name = next(n for n in archive_members(fresh) if n.endswith(suffix))
    start, length = data_offset(fresh, name)
    assert length >= 4
    damaged = tmp_path / "archives" / "damaged.zip"
    damaged.write_bytes(flip_byte(fresh.read_bytes(), start + int(length * spot)))
    before = tree(tmp_path)
    assert_tampered(spark("evidence", "verify", str(damaged)), name)
    assert tree(tmp_path) == before


def central_directory(path: Path) -> int:
    with zipfile.ZipFile(path) as archive:
        return int(archive.start_dir)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "where",
    [
        pytest.param(central_directory, id="central-directory-signature"),
        pytest.param(lambda path: path.read_bytes().rindex(b"PK\x05\x06"), id="end-record-signature"),
    ],
)
def test_a_flipped_byte_in_the_zip_structure_exits_2(fresh, spark, tmp_path, where):
    """A bit flipped in the central directory or end record makes the file no readable zip: exit 2."""
    damaged = tmp_path / "archives" / "damaged.zip"
    damaged.write_bytes(flip_byte(fresh.read_bytes(), where(fresh)))
    assert_config_error(spark("evidence", "verify", str(damaged)), "not a readable zip", "damaged.zip")


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        pytest.param(
            lambda p: p.write_text("just some notes\n", encoding="utf-8"), "not a readable zip", id="text"
        ),
        pytest.param(lambda p: p.write_bytes(b""), "not a readable zip", id="empty"),
        pytest.param(
            lambda p: p.write_bytes(b"PK\x03\x04" + b"\x00" * 40), "not a readable zip", id="zip-magic-only"
        ),
        pytest.param(lambda p: p.mkdir(), "is a folder", id="folder"),
        pytest.param(lambda p: None, "no such file", id="missing"),
    ],
)
def test_a_file_that_is_no_zip_exits_2_with_one_line(spark, tmp_path, make, fragment):
    """A missing file, a folder or a file that is no zip is a usage error: exit 2, one line, no traceback."""
    target = tmp_path / "evidence.zip"
    make(target)
    line = assert_config_error(spark("evidence", "verify", str(target)), fragment, "evidence.zip")
    assert "\n" not in line
    assert spark("evidence", "verify", str(target)).stdout == ""


def test_a_truncated_archive_exits_2(fresh, spark, tmp_path):
    """An archive cut short (a copy that stopped half-way) is no readable zip: exit 2."""
    cut = tmp_path / "archives" / "cut.zip"
    cut.write_bytes(fresh.read_bytes()[: fresh.stat().st_size // 2])
    assert_config_error(spark("evidence", "verify", str(cut)), "not a readable zip")

"""spark evidence export: what it selects, how it names the archive, and that no secret ever gets in."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
import zlib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from conftest import (
    PM2_DATA,
    archive_members,
    assert_config_error,
    drop_secret_env,
    exported_path,
    manifest_of,
    result_doc,
    stamp_of,
    write_run,
    write_stack_profile,
    write_suite,
)

import spark_ops.evidence.export
import spark_ops.evidence.zipio

ARCHIVE_NAME = re.compile(r"^(?P<prefix>.+)_(?P<stamp>\d{8}_\d{6})(?:-(?P<n>\d+))?\.zip$")
WEB_TOKEN = "tok-9f8e/7d6c+5b4a=3210"  # '/', '+' and '=' make its URL-encoded forms differ from it
URL_USER, URL_PASSWORD = "admin", "S3cretPw"


# --- helpers shared by the evidence and report tests ---------------------------------------------


@pytest.fixture(autouse=True)
def no_inherited_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Secret-looking variables of the machine running the tests must not change what an export does."""
    drop_secret_env(monkeypatch)


def final_archives(folder: Path) -> list[Path]:
    """Archives published under a final (not hidden, not temporary) name in ``folder``."""
    return sorted(p for p in folder.glob("*.zip") if not p.name.startswith("."))


def temporary_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.name.startswith(".tmp-"))


def run_ids_of(path: Path) -> list[str]:
    return [run["id"] for run in manifest_of(path)["runs"]]


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment for a ``python -m spark_ops`` child (after the autouse secret clean-up)."""
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_ACTIONS"}
    env.update(extra)
    return env


# --- the secrets a gate run used never reach the archive ----------------------------------------


def secret_profile(platform: Any, folder: Path) -> str:
    """profiles/secure.toml: a bearer token header on web, a password in executor-1's URL."""
    return write_stack_profile(
        folder,
        "secure",
        platform.url,
        description="a stack that needs credentials",
        web_headers='{ Authorization = "Bearer ${SPARK_WEB_TOKEN}" }',
        executor_1_url=f"http://{URL_USER}:{URL_PASSWORD}@127.0.0.1:{platform.server.port}",
    )


def base64_cores(secret: bytes) -> set[bytes]:
    """The base64 text that betrays ``secret`` at each of the three alignments inside a longer string.

    Worked out independently of the code under test: a character depends only on the secret when it is
    the same whatever bytes surround the secret.
    """
    cores: set[bytes] = set()
    for offset in range(3):
        low = base64.b64encode(b"\x00" * offset + secret + b"\x00" * 3)
        high = base64.b64encode(b"\xff" * offset + secret + b"\xff" * 3)
        same = [i for i in range(len(low)) if low[i] == high[i]]
        core = low[same[0] : same[-1] + 1]
        assert len(core) >= 4
        cores |= {core, core.replace(b"+", b"-").replace(b"/", b"_")}
    return cores


def betraying_forms(secrets: Iterable[str]) -> dict[bytes, str]:
    """Every byte string that would betray one of ``secrets``: raw, URL-encoded, base64 (any alignment)."""
    forms: dict[bytes, str] = {}
    for secret in secrets:
        forms[secret.encode()] = f"raw {secret!r}"
        forms[quote(secret, safe="").encode()] = f"URL-encoded {secret!r}"
        forms[quote_plus(secret).encode()] = f"form-encoded {secret!r}"
        forms[base64.b64encode(secret.encode())] = f"base64 {secret!r}"
        for core in base64_cores(secret.encode()):
            forms[core] = f"base64 fragment {core!r} of {secret!r}"
    return forms


def assert_nothing_betrays(forms: Mapping[bytes, str], where: str, data: bytes) -> None:
    found = [label for needle, label in forms.items() if needle in data]
    assert not found, f"{where} holds {found}"


def test_export_after_a_gate_with_credentials_holds_no_secret_in_any_form(
    platform, spark, tmp_path, monkeypatch
):
    """A gate run with a bearer token and a URL password exports a verified archive free of both secrets."""
    monkeypatch.setenv("SPARK_WEB_TOKEN", WEB_TOKEN)
    profile = secret_profile(platform, tmp_path)
    gate = spark("gate", "--profile", profile, "--format", "json")
    assert gate.exit_code == 0, gate.stderr
    sent = [request.headers.get("Authorization", "") for request, _ in platform.server.log]
    basic = "Basic " + base64.b64encode(f"{URL_USER}:{URL_PASSWORD}".encode()).decode()
    assert f"Bearer {WEB_TOKEN}" in sent and basic in sent  # both secrets really were in play
    # A PM2 log of the same stack, holding both secrets as the platform would print them.
    Path("web.log").write_text(
        f"GET http://{URL_USER}:{URL_PASSWORD}@127.0.0.1:4001/healthz -> 200\n"
        f"request headers: Authorization: Bearer {WEB_TOKEN}\n"
        f"redirect /login?next=%2F&access_token={quote(WEB_TOKEN, safe='')}\n"
        f"form: password={quote_plus(URL_PASSWORD)}&token={quote_plus(WEB_TOKEN)}\n",
        encoding="utf-8",
    )

    export = spark("evidence", "export", "--include", "web.log")
    path = exported_path(export, tmp_path)
    members = archive_members(path)
    manifest = json.loads(members["manifest.json"])
    (run_id,) = run_ids_of(path)
    assert f"runs/{run_id}/result.json" in members
    assert json.loads(members[f"runs/{run_id}/result.json"])["profile"] == "secure"
    listed = {entry["path"]: entry for entry in manifest["members"]}
    assert set(listed) == set(members) - {"manifest.json"}
    for name, entry in listed.items():
        assert entry["size"] == len(members[name]), name
        assert entry["sha256"] == hashlib.sha256(members[name]).hexdigest(), name
    assert "***" in members["include/web.log"].decode()
    web = manifest["profiles"]["secure"]["services"]
    assert web["web"]["headers"] == {"Authorization": "***"}
    assert URL_PASSWORD not in web["executor-1"]["url"]

    forms = betraying_forms([WEB_TOKEN, f"Bearer {WEB_TOKEN}", URL_PASSWORD, f"{URL_USER}:{URL_PASSWORD}"])
    for name, data in members.items():
        assert_nothing_betrays(forms, f"member {name}", name.encode() + b"\n" + data)
    for label, stream in [("gate", gate), ("export", export)]:
        assert_nothing_betrays(forms, f"{label} stdout", stream.stdout.encode())
        assert_nothing_betrays(forms, f"{label} stderr", stream.stderr.encode())
    assert_nothing_betrays(forms, "the manifest", members["manifest.json"])
    assert temporary_files(tmp_path / "evidence") == []


# --- which runs an export takes ------------------------------------------------------------------


@pytest.fixture
def three_runs(platform, spark, tmp_path) -> dict[str, list[str]]:
    """Two gate runs and one smoke run, kept by the real commands; their IDs by command, oldest first."""
    for command in ("gate", "smoke", "gate"):
        result = spark(command, *platform.sets())
        assert result.exit_code == 0, result.stderr
    ids: dict[str, list[str]] = {}
    for folder in sorted((tmp_path / "evidence" / "runs").iterdir()):  # stamp order, then -2, -3...
        ids.setdefault(folder.name.split("_")[2].split("-")[0], []).append(folder.name)
    assert [len(ids["gate"]), len(ids["smoke"])] == [2, 1]
    return ids


def test_default_export_takes_the_latest_run_of_each_command(three_runs, spark, tmp_path):
    """By default the archive holds the latest run of each command: two gates and a smoke give two runs."""
    path = exported_path(spark("evidence", "export"), tmp_path)
    assert sorted(run_ids_of(path)) == sorted([three_runs["gate"][-1], three_runs["smoke"][-1]])
    runs_in_archive = {name.split("/")[1] for name in archive_members(path) if name.startswith("runs/")}
    assert runs_in_archive == set(run_ids_of(path))
    assert path.parent == tmp_path / "evidence"


def test_a_second_default_export_with_nothing_new_exits_2(spark, tmp_path):
    """Exporting again with no run since the last export is a usage error saying so; a new run is taken."""
    base, earlier = tmp_path / "evidence", datetime.now(UTC) - timedelta(minutes=10)
    for minutes, command in [(0, "gate"), (1, "smoke"), (2, "gate")]:
        write_run(base, earlier + timedelta(minutes=minutes), command)
    assert len(run_ids_of(exported_path(spark("evidence", "export"), tmp_path))) == 2
    again = spark("evidence", "export")
    assert_config_error(again, "no new runs")
    assert len(final_archives(base)) == 1
    write_run(base, datetime.now(UTC) + timedelta(seconds=1), "canary")
    path = exported_path(spark("evidence", "export"), tmp_path)
    assert [run.split("_", 2)[2] for run in run_ids_of(path)] == ["canary"]


def test_runs_of_the_same_second_as_the_export_are_not_new_afterwards(spark, tmp_path, frozen_clock):
    """A run older than the last export is not "new" even when it shares the export's second."""
    base, second = tmp_path / "evidence", frozen_clock.now()
    write_run(base, second, "gate")
    write_run(base, second, "gate", suffix="-2")
    first = exported_path(spark("evidence", "export"), tmp_path)
    assert run_ids_of(first) == [f"{stamp_of(second)}_gate-2"]
    assert_config_error(spark("evidence", "export"), "no new runs")


def test_run_option_exports_exactly_that_run_and_leaves_the_mark(three_runs, spark, tmp_path):
    """--run ID exports that run only (even an older one) and does not count as "the last export"."""
    older = three_runs["gate"][0]
    path = exported_path(spark("evidence", "export", "--run", older), tmp_path)
    assert run_ids_of(path) == [older]
    assert not (tmp_path / "evidence" / ".last-export.json").exists()
    default = exported_path(spark("evidence", "export"), tmp_path)
    assert len(run_ids_of(default)) == 2


def test_run_option_repeated_exports_each_run_once(three_runs, spark, tmp_path):
    """Repeating --run exports every named run, a run named twice only once."""
    gate, smoke = three_runs["gate"][0], three_runs["smoke"][0]
    path = exported_path(spark("evidence", "export", "--run", gate, "--run", smoke, "--run", gate), tmp_path)
    assert run_ids_of(path) == [gate, smoke]


def test_unknown_run_id_exits_2_naming_it(three_runs, spark, tmp_path):
    """An unknown --run ID is a usage error that names it; no archive is written."""
    result = spark("evidence", "export", "--run", "20000101_000000_gate")
    assert_config_error(result, "20000101_000000_gate")
    assert final_archives(tmp_path / "evidence") == []


def test_all_exports_every_run(three_runs, spark, tmp_path):
    """--all exports every kept run, even right after a default export."""
    exported_path(spark("evidence", "export"), tmp_path)
    path = exported_path(spark("evidence", "export", "--all"), tmp_path)
    assert sorted(run_ids_of(path)) == sorted(three_runs["gate"] + three_runs["smoke"])


def test_nothing_kept_exits_2(spark, tmp_path):
    """With no run at all an export is a usage error that says how to get one."""
    assert_config_error(spark("evidence", "export"), "no runs")
    assert not list(tmp_path.rglob("*.zip"))


# --- --include and --max-log-bytes ---------------------------------------------------------------


@pytest.fixture
def logs(tmp_path) -> Path:
    """A kept run and a folder of logs: logs/web.log, logs/executor.log, logs/old/web.log, logs/notes.txt."""
    write_run(tmp_path / "evidence", datetime.now(UTC) - timedelta(minutes=1))
    folder = tmp_path / "logs"
    (folder / "old").mkdir(parents=True)
    for relative in ("web.log", "executor.log", "old/web.log", "notes.txt"):
        (folder / relative).write_text(f"contents of {relative}\n", encoding="utf-8")
    return folder


@pytest.mark.parametrize(
    ("includes", "expected"),
    [
        pytest.param(["logs/web.log"], {"include/web.log": "web.log"}, id="one-file"),
        pytest.param(
            ["logs/*.log"], {"include/executor.log": "executor.log", "include/web.log": "web.log"}, id="glob"
        ),
        pytest.param(
            ["logs/**/web.log"],
            {"include/web.log": "old/web.log", "include/web-2.log": "web.log"},  # in sorted path order
            id="recursive-glob-same-name-twice",
        ),
        pytest.param(
            ["logs"],
            {
                "include/logs/executor.log": "executor.log",
                "include/logs/notes.txt": "notes.txt",
                "include/logs/old/web.log": "old/web.log",
                "include/logs/web.log": "web.log",
            },
            id="folder",
        ),
        pytest.param(
            ["logs/web.log", "logs/executor.log"],
            {"include/web.log": "web.log", "include/executor.log": "executor.log"},
            id="repeated",
        ),
    ],
)
def test_include_adds_files_globs_and_folders(logs, spark, tmp_path, includes, expected):
    """--include takes a path, a glob or a folder; each file becomes an include/ member, byte for byte."""
    args = [arg for pattern in includes for arg in ("--include", pattern)]
    path = exported_path(spark("evidence", "export", *args), tmp_path)
    members = archive_members(path)
    included = {name: data for name, data in members.items() if name.startswith("include/")}
    assert set(included) == set(expected)
    for member, relative in expected.items():
        assert included[member] == (logs / relative).read_bytes()


@pytest.mark.parametrize(
    "pattern", ["logs/missing.log", "logs/*.gz", "nowhere/"], ids=["file", "glob", "folder"]
)
def test_include_that_matches_nothing_exits_2(logs, spark, tmp_path, pattern):
    """An --include that matches no file is a usage error naming it; nothing is written."""
    assert_config_error(spark("evidence", "export", "--include", pattern), pattern)
    assert final_archives(tmp_path / "evidence") == []
    assert temporary_files(tmp_path / "evidence") == []


def numbered_log(lines: int) -> bytes:
    return b"".join(b"2026-01-01T00:00:00Z line %05d of the web log\n" % n for n in range(lines))


@pytest.mark.parametrize(
    ("limit", "limit_bytes"),
    [("100", 100), ("1000", 1000), ("4K", 4096), ("1M", None)],
    ids=["100-bytes", "1000-bytes", "4K", "larger-than-the-log"],
)
def test_max_log_bytes_keeps_the_tail_from_a_whole_line(logs, spark, tmp_path, limit, limit_bytes):
    """--max-log-bytes keeps at most that many bytes of the log's end, from a line start, and says so."""
    original = numbered_log(2000)
    (logs / "big.log").write_bytes(original)
    result = spark("evidence", "export", "--include", "logs/big.log", "--max-log-bytes", limit)
    path = exported_path(result, tmp_path)
    kept = archive_members(path)["include/big.log"]
    (entry,) = [m for m in manifest_of(path)["members"] if m["path"] == "include/big.log"]
    if limit_bytes is None:
        assert kept == original
        assert "truncated_from" not in entry
        return
    assert original.endswith(kept)
    assert 0 < len(kept) <= limit_bytes
    assert original[: len(original) - len(kept)].endswith(b"\n")  # it starts at a whole line
    assert len(kept) > limit_bytes - len(original.splitlines()[-1]) - 1  # and drops no more than one line
    assert entry["truncated_from"] == len(original)
    assert entry["size"] == len(kept)


def test_max_log_bytes_keeps_a_line_that_starts_exactly_at_the_cut(logs, spark, tmp_path):
    """When the last N bytes are whole lines, --max-log-bytes N keeps exactly them."""
    (logs / "two.log").write_bytes(b"aaaa\nbbbb\n")
    path = exported_path(
        spark("evidence", "export", "--include", "logs/two.log", "--max-log-bytes", "5"), tmp_path
    )
    assert archive_members(path)["include/two.log"] == b"bbbb\n"


@pytest.mark.parametrize("limit", ["0", "1.5M", "lots", "-1"], ids=["zero", "fraction", "word", "negative"])
def test_bad_max_log_bytes_exits_2(logs, spark, tmp_path, limit):
    """A --max-log-bytes that is not a positive size is a usage error naming the option."""
    assert_config_error(
        spark("evidence", "export", "--include", "logs/web.log", "--max-log-bytes", limit), "--max-log-bytes"
    )


# --- names, folders, never overwriting -----------------------------------------------------------


def test_name_and_out_choose_where_the_archive_goes(logs, spark, tmp_path):
    """--name sets the prefix and --out the folder: <out>/<name>_<UTC stamp>.zip, printed on stdout."""
    before = datetime.now(UTC).replace(microsecond=0)
    path = exported_path(spark("evidence", "export", "--name", "release-1.2", "--out", "shipped/a"), tmp_path)
    after = datetime.now(UTC)
    assert path.parent == tmp_path / "shipped" / "a"
    match = ARCHIVE_NAME.match(path.name)
    assert match and match["prefix"] == "release-1.2" and match["n"] is None, path.name
    assert before <= datetime.strptime(match["stamp"], "%Y%m%d_%H%M%S").replace(tzinfo=UTC) <= after
    assert final_archives(tmp_path / "evidence") == []
    assert temporary_files(tmp_path) == []


def test_default_name_is_canary_in_the_evidence_folder(logs, spark, tmp_path):
    """Without --name and --out the archive is evidence/canary_<stamp>.zip."""
    path = exported_path(spark("evidence", "export"), tmp_path)
    match = ARCHIVE_NAME.match(path.name)
    assert path.parent == tmp_path / "evidence" and match and match["prefix"] == "canary"


@pytest.mark.parametrize(
    "name",
    ["a/b", "../up", "", ".hidden", "two words", "x\\y"],
    ids=["slash", "dotdot", "empty", "hidden", "space", "backslash"],
)
def test_invalid_name_exits_2_and_writes_nothing(logs, spark, tmp_path, name):
    """A --name that is not a plain file-name prefix is a usage error; no archive or folder appears."""
    assert_config_error(spark("evidence", "export", "--name", name, "--out", "out"), "--name")
    assert not (tmp_path / "out").exists()
    assert not list(tmp_path.rglob("*.zip"))


def test_out_that_is_a_file_exits_2(logs, spark, tmp_path):
    """An --out that names an existing file is a usage error naming it."""
    Path("taken").write_text("not a folder\n", encoding="utf-8")
    assert_config_error(spark("evidence", "export", "--out", "taken"), "--out", "taken")
    assert Path("taken").read_text(encoding="utf-8") == "not a folder\n"


def test_exports_in_the_same_second_get_distinct_names(logs, spark, tmp_path, frozen_clock):
    """Three exports stamped with the same second are all kept, as <stamp>, <stamp>-2 and <stamp>-3."""
    paths = [exported_path(spark("evidence", "export", "--all"), tmp_path) for _ in range(3)]
    assert [p.name for p in paths] == [
        "canary_20260304_050607.zip",
        "canary_20260304_050607-2.zip",
        "canary_20260304_050607-3.zip",
    ]
    assert all(zipfile.is_zipfile(p) for p in paths)


def test_an_existing_file_is_never_overwritten(logs, spark, tmp_path, frozen_clock):
    """A file already holding the archive's name is left alone; the export takes the next free name."""
    taken = tmp_path / "evidence" / "canary_20260304_050607.zip"
    taken.write_bytes(b"someone else's archive")
    path = exported_path(spark("evidence", "export"), tmp_path)
    assert path.name == "canary_20260304_050607-2.zip"
    assert taken.read_bytes() == b"someone else's archive"
    assert zipfile.is_zipfile(path)


# --- refusing to pack a secret the redactor cannot mask ------------------------------------------

API_TOKEN = "api-T0ken?>0123456789~~abcdef"  # its base64 holds '+' and '/' at two of the alignments


@pytest.mark.parametrize(
    ("line", "form"),
    [
        pytest.param(
            b"Authorization: Basic " + base64.b64encode(API_TOKEN.encode()), "base64", id="base64-aligned"
        ),
        pytest.param(
            b"Authorization: Basic " + base64.b64encode(b"svc:" + API_TOKEN.encode()),
            "base64",
            id="base64-after-user-offset-1",
        ),
        pytest.param(
            b"cookie=" + base64.b64encode(b"user=ops;k=" + API_TOKEN.encode() + b";x=1"),
            "base64",
            id="base64-inside-offset-2",
        ),
        pytest.param(
            b"jwt=" + base64.urlsafe_b64encode(b"k:" + API_TOKEN.encode()), "base64url", id="base64url"
        ),
    ],
)
def test_export_refuses_a_log_holding_a_secret_it_cannot_mask(logs, spark, tmp_path, monkeypatch, line, form):
    """A log holding an environment secret in base64 refuses the export: exit 1, one line, nothing left."""
    monkeypatch.setenv("SPARK_API_TOKEN", API_TOKEN)
    (logs / "app.log").write_bytes(b"starting\n" * 3 + line + b"\nready\n")
    result = spark("evidence", "export", "--include", "logs/app.log")
    assert result.exit_code == 1, result.stdout + result.stderr
    (message,) = result.stderr.strip().splitlines()
    assert message.startswith("spark: error:") and "include/app.log" in message
    assert f"({form} form)" in message
    assert result.stdout == ""
    assert_nothing_betrays(
        betraying_forms([API_TOKEN]), "the output", (result.stdout + result.stderr).encode()
    )
    assert final_archives(tmp_path / "evidence") == []
    assert temporary_files(tmp_path / "evidence") == []
    assert not (tmp_path / "evidence" / ".last-export.json").exists()


def test_a_secret_written_into_a_runs_suite_is_kept_out_too(tmp_path, spark, monkeypatch):
    """A token in a suite check's own headers (not in any profile or variable) is known to the export's
    final scan: a log holding it in base64 refuses the archive; a suite that no longer loads is noted."""
    monkeypatch.chdir(tmp_path)
    suite = write_suite(
        tmp_path,
        {
            "name": "api.up",
            "kind": "http",
            "url": "http://127.0.0.1:9/api",
            "headers": {"Authorization": f"Bearer {API_TOKEN}"},
        },
    )
    document = {**result_doc("gate", "LOW"), "suite": str(suite)}
    write_run(tmp_path / "evidence", datetime.now(UTC) - timedelta(minutes=2), document=document)
    gone = {**result_doc("gate", "LOW"), "suite": str(tmp_path / "deleted.toml")}
    write_run(tmp_path / "evidence", datetime.now(UTC) - timedelta(minutes=1), document=gone)
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "app.log").write_bytes(
        b"Authorization: Basic " + base64.b64encode(API_TOKEN.encode())
    )
    result = spark("evidence", "export", "--all", "--include", "logs/app.log")
    assert result.exit_code == 1, result.stdout + result.stderr
    assert "deleted.toml' not loaded" in result.stderr
    assert "include/app.log" in result.stderr and "(base64 form)" in result.stderr
    assert_nothing_betrays(
        betraying_forms([API_TOKEN]), "the output", (result.stdout + result.stderr).encode()
    )
    assert final_archives(tmp_path / "evidence") == []


def test_a_secret_written_plainly_in_a_log_is_masked_not_refused(logs, spark, tmp_path, monkeypatch):
    """The raw and URL-encoded forms of an environment secret are masked in the archive, which is kept."""
    monkeypatch.setenv("SPARK_API_TOKEN", API_TOKEN)
    (logs / "app.log").write_text(
        f"token {API_TOKEN}\nquery ?k={quote(API_TOKEN, safe='')}\nform k={quote_plus(API_TOKEN)}\n",
        encoding="utf-8",
    )
    path = exported_path(spark("evidence", "export", "--include", "logs/app.log"), tmp_path)
    kept = archive_members(path)["include/app.log"]
    assert kept == b"token ***\nquery ?k=***\nform k=***\n"


def test_a_secret_in_an_included_file_name_stays_out_of_the_archive(logs, spark, tmp_path, monkeypatch):
    """An included file whose name holds a secret gives no member name holding it; the archive verifies."""
    monkeypatch.setenv("SPARK_API_TOKEN", API_TOKEN)
    (logs / f"dump-{API_TOKEN}.log").write_text("hello\n", encoding="utf-8")
    path = exported_path(spark("evidence", "export", "--include", "logs/dump-*.log"), tmp_path)
    assert_nothing_betrays(
        betraying_forms([API_TOKEN]), "member names", "\n".join(archive_members(path)).encode()
    )
    assert spark("evidence", "verify", str(path)).exit_code == 0


def test_a_secret_sharing_a_prefix_with_another_is_masked_whole_in_a_long_line(
    logs, spark, tmp_path, monkeypatch
):
    """Two environment secrets, one the start of the other, leave no part of the longer in a >2 MiB line."""
    monkeypatch.setenv("SPARK_OLD_TOKEN", "abc123")
    monkeypatch.setenv("SPARK_NEW_TOKEN", "abc123456789xyz")
    (logs / "long.log").write_bytes(b"x" * (2 * 1024 * 1024 - 8) + b"abc123456789xyz" + b"y" * 100 + b"\n")
    path = exported_path(spark("evidence", "export", "--include", "logs/long.log"), tmp_path)
    assert b"456789xyz" not in archive_members(path)["include/long.log"]


# --- SIGKILL half-way through a large export -----------------------------------------------------

EXPORT_WITHOUT_O_TMPFILE = (
    "import sys, spark_ops.fsio as f; f.anonymous_file = lambda folder: None; "
    "from spark_ops.cli import main; sys.argv[0] = 'spark'; main()"
)


def write_big_log(path: Path, size_bytes: int) -> None:
    line = b"2026-01-01T00:00:00Z web GET /api/healthz 200 14ms upstream=executor-1 ok\n"
    block = line * (1024 * 1024 // len(line))
    with path.open("wb") as handle:
        for _ in range(size_bytes // len(block)):
            handle.write(block)


def bytes_read(pid: int) -> int:
    fields = dict(line.split(": ") for line in Path(f"/proc/{pid}/io").read_text().splitlines())
    return int(fields["rchar"])


def kill_mid_way(command: list[str], cwd: Path, *, after_bytes: int) -> None:
    """Start ``command``, SIGKILL it once it has read ``after_bytes``; fail if it finished first."""
    child = subprocess.Popen(
        command, cwd=cwd, env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 20
    try:
        while bytes_read(child.pid) < after_bytes:
            assert child.poll() is None, "the export finished before it could be killed"
            assert time.monotonic() < deadline, "the export never got going"
            time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.communicate()
    assert child.returncode == -signal.SIGKILL


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/io").exists(), reason="watches the export's progress in /proc")
@pytest.mark.parametrize(
    ("launcher", "leftover_expected"),
    [
        pytest.param(["-m", "spark_ops"], False, id="o-tmpfile"),
        pytest.param(["-c", EXPORT_WITHOUT_O_TMPFILE], True, id="named-temporary-fallback"),
    ],
)
def test_sigkill_mid_export_leaves_no_archive_and_the_next_export_works(
    tmp_path, launcher, leftover_expected
):
    """A SIGKILL half-way through never leaves an archive under its final name; the next export succeeds."""
    base = tmp_path / "evidence"
    run = write_run(base, datetime.now(UTC) - timedelta(minutes=5))
    write_big_log(tmp_path / "big.log", 320 * 1024 * 1024)
    spark_command = [sys.executable, *launcher, "evidence", "export"]
    kill_mid_way([*spark_command, "--include", "big.log"], tmp_path, after_bytes=64 * 1024 * 1024)

    assert final_archives(base) == []
    leftovers = [p for p in base.iterdir() if p.name.startswith(".tmp-")]
    if leftover_expected:  # without O_TMPFILE a hidden, dead-pid temporary remains until the next export
        assert [p.suffix for p in leftovers] == [".zip"]
    else:
        assert leftovers == []
    assert not (base / ".last-export.json").exists()

    second = subprocess.run(
        [sys.executable, "-m", "spark_ops", "evidence", "export"],
        cwd=tmp_path,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert second.returncode == 0, second.stderr
    archive = tmp_path / second.stdout.strip()
    assert final_archives(base) == [archive]
    assert run_ids_of(archive) == [run.name]
    assert [p for p in base.iterdir() if p.name.startswith(".tmp-")] == []
    verify = subprocess.run(
        [sys.executable, "-m", "spark_ops", "evidence", "verify", str(archive)],
        cwd=tmp_path,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr


# --- big members are deflated on every core, as one valid deflate stream ----------------------------

MIB = 1024 * 1024
LOG_TEXT = b"".join(
    f"2026-01-01T00:00:{i % 60:02d}Z web GET /api/orders?id={i * 7919 % 100003} 200 {i % 97}ms\n".encode()
    for i in range(40_000)
)
SYNC_FLUSH = b"\x00\x00\xff\xff"  # the empty stored block that ends every block deflated apart


def parallel_deflate(data: bytes, piece: int, workers: int) -> bytes:
    deflater = spark_ops.evidence.zipio._ParallelDeflate(6, workers)
    return (
        b"".join(deflater.compress(data[i : i + piece]) for i in range(0, len(data), piece))
        + deflater.flush()
    )


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(LOG_TEXT, id="log-text"),
        pytest.param(os.urandom(3 * MIB + 17), id="incompressible"),
        pytest.param(b"abcdefgh" * (MIB // 2) + b"tail", id="matches-across-every-block-edge"),
    ],
)
@pytest.mark.parametrize(
    ("piece", "workers"),
    [(MIB, 2), (MIB + 5, 3), (777_777, 2), (4096, 2), (100, 4)],
    ids=["1MiB-2-workers", "odd-3-workers", "777777-2-workers", "4KiB-2-workers", "100B-4-workers"],
)
def test_parallel_deflate_is_one_deflate_stream_of_the_input(data, piece, workers):
    """Deflated in blocks on worker threads, however zipfile hands the data over, it inflates back whole."""
    assert zlib.decompress(parallel_deflate(data, piece, workers), -15) == data


def test_parallel_deflate_compresses_as_well_as_one_stream_and_the_same_every_time():
    """Blocks primed with the 32 KiB before them cost < 0.1 %; the output never depends on the threads."""
    data = LOG_TEXT * 4
    one = zlib.compressobj(6, zlib.DEFLATED, -15)
    single = len(one.compress(data) + one.flush())
    parallel = parallel_deflate(data, MIB, 2)
    assert len(parallel) <= single * 1.001
    assert parallel == parallel_deflate(data, MIB, 3) == parallel_deflate(data, MIB, 2)


def test_a_big_log_is_deflated_in_blocks_and_its_archive_verifies(logs, spark, tmp_path):
    """A log above the parallel threshold is deflated in blocks; zipfile, unzip and verify all accept it."""
    size = spark_ops.evidence.zipio.PARALLEL_FROM + 3 * MIB
    (logs / "big.log").write_bytes((LOG_TEXT * (size // len(LOG_TEXT) + 1))[:size])
    path = exported_path(spark("evidence", "export", "--include", "logs/big.log"), tmp_path)
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("include/big.log")
        assert archive.read(info) == (logs / "big.log").read_bytes()
        with path.open("rb") as raw:  # the member's deflate data starts after its local header
            raw.seek(info.header_offset + 30 + len(info.filename) + len(info.extra))
            assert raw.read(info.compress_size).count(SYNC_FLUSH) >= size // MIB - 1
    assert spark("evidence", "verify", str(path)).exit_code == 0
    if shutil.which("unzip"):
        tested = subprocess.run(["unzip", "-tq", str(path)], capture_output=True, text=True, check=False)
        assert tested.returncode == 0, tested.stdout + tested.stderr


def test_a_secret_at_the_end_of_a_big_log_still_refuses_the_export(logs, spark, tmp_path, monkeypatch):
    """Deflate threads or not, a base64 secret in the last line refuses the export and leaves nothing."""
    monkeypatch.setenv("SPARK_API_TOKEN", API_TOKEN)
    size = spark_ops.evidence.zipio.PARALLEL_FROM + MIB
    body = (LOG_TEXT * (size // len(LOG_TEXT) + 1))[:size]
    (logs / "big.log").write_bytes(
        body + b"Authorization: Basic " + base64.b64encode(API_TOKEN.encode()) + b"\n"
    )
    result = spark("evidence", "export", "--include", "logs/big.log")
    assert result.exit_code == 1, result.stdout + result.stderr
    assert "(base64 form)" in result.stderr
    assert final_archives(tmp_path / "evidence") == []
    assert temporary_files(tmp_path / "evidence") == []


# --- system/pm2_status.json: PM2's process list, trimmed ---------------------------------------------

PM2_PLANTED = ("pm2-planted-token-7f3c9e", "pm2-planted-dbpass-41d2")  # in every recorded environment


@pytest.fixture
def pm2_home(tmp_path, monkeypatch) -> Path:
    """An empty $PM2_HOME: no daemon until a test writes a live pid into pm2.pid."""
    home = tmp_path / "pm2-home"
    home.mkdir()
    monkeypatch.setenv("PM2_HOME", str(home))
    return home


def test_export_keeps_the_trimmed_pm2_list_when_a_daemon_runs(logs, spark, tmp_path, fake_pm2, pm2_home):
    """With pm2 on PATH and its daemon alive, the archive holds system/pm2_status.json: the trimmed
    process list, no process environment (no planted secret), and it verifies."""
    (pm2_home / "pm2.pid").write_text(f"{os.getpid()}\n", encoding="utf-8")
    fake_pm2(f'cat "{PM2_DATA / "banner_then_seed_crashloop.txt"}"')
    path = exported_path(spark("evidence", "export"), tmp_path)
    members = archive_members(path)
    document = json.loads(members["system/pm2_status.json"])
    assert [process["name"] for process in document["processes"]] == [
        "spark-executor-1",
        "spark-executor-2",
        "spark-marketdata",
        "spark-web-next",
    ]
    assert not any(secret.encode() in data for data in members.values() for secret in PM2_PLANTED)
    assert spark("evidence", "verify", str(path)).exit_code == 0


def test_pm2_source_never_starts_a_daemon_and_says_why(tmp_path, fake_pm2, pm2_home):
    """Without a live daemon pm2 is not run (`pm2 jlist` would start one): the member says so."""
    ran = tmp_path / "pm2-ran"
    fake_pm2(f'touch "{ran}"; echo "[]"')
    (pm2_home / "pm2.pid").write_text("not a pid\n", encoding="utf-8")
    source = spark_ops.evidence.export.pm2_source()
    assert source is not None and source.member == "system/pm2_status.json"
    assert source.data is not None
    assert "daemon is not running" in json.loads(source.data)["error"]
    assert not ran.exists()


def test_pm2_source_keeps_why_pm2_failed(fake_pm2, pm2_home):
    """A pm2 that fails is kept as the reason (its stderr line), not as an export failure."""
    (pm2_home / "pm2.pid").write_text(f"{os.getpid()}\n", encoding="utf-8")
    fake_pm2("echo 'connect EACCES /pm2/rpc.sock: error' >&2; exit 3")
    source = spark_ops.evidence.export.pm2_source()
    assert source is not None and source.data is not None
    assert json.loads(source.data)["error"] == "pm2 jlist exited 3: connect EACCES /pm2/rpc.sock: error"


def test_without_pm2_on_path_there_is_no_pm2_member(tmp_path, monkeypatch):
    """No pm2 on PATH: no system/pm2_status.json at all."""
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert spark_ops.evidence.export.pm2_source() is None

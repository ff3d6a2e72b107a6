"""spark_ops/fsio.py: whole-or-nothing writes, names that never replace a file, the staging sweep, and
the nameless file an archive is written into. Each portable fallback (no O_TMPFILE, no hard links, no
way to probe a pid) is forced on Linux by switching the capability off."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from spark_ops import fsio

DAY_S = 24 * 3600


def dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_publish_unique_takes_the_first_free_name(tmp_path):
    """NAME, then NAME-2, NAME-3...: the first name publish can take without replacing a file."""
    for taken in ("canary_1.zip", "canary_1-2.zip"):
        (tmp_path / taken).write_bytes(b"someone else's")
    tried: list[str] = []

    def publish(final: Path) -> None:
        tried.append(final.name)
        if final.exists():
            raise FileExistsError(final)
        final.write_bytes(b"ours")

    assert fsio.publish_unique(publish, tmp_path, "canary_1", ".zip") == tmp_path / "canary_1-3.zip"
    assert tried == ["canary_1.zip", "canary_1-2.zip", "canary_1-3.zip"]
    assert (tmp_path / "canary_1.zip").read_bytes() == b"someone else's"


def test_publish_unique_gives_up_after_the_last_name(tmp_path, monkeypatch):
    """When every name is taken it raises FileExistsError naming the stem, after trying each once."""
    monkeypatch.setattr(fsio, "MAX_NAME_ATTEMPTS", 3)
    tried: list[str] = []

    def taken(final: Path) -> None:
        tried.append(final.name)
        raise FileExistsError(final)

    with pytest.raises(FileExistsError, match=r"no free name for report\.md"):
        fsio.publish_unique(taken, tmp_path, "report", ".md")
    assert tried == ["report.md", "report-2.md", "report-3.md"]


def test_publish_folder_never_lands_on_a_folder_that_holds_files(tmp_path):
    """A staging folder renamed to a stem whose folder exists (with a file) takes stem-2 instead."""
    (tmp_path / "run" / "result.json").parent.mkdir()
    (tmp_path / "run" / "result.json").write_text("theirs", encoding="utf-8")
    staging = tmp_path / ".tmp-1-x"
    staging.mkdir()
    (staging / "result.json").write_text("ours", encoding="utf-8")
    assert fsio.publish_folder(staging, tmp_path, "run") == tmp_path / "run-2"
    assert (tmp_path / "run" / "result.json").read_text(encoding="utf-8") == "theirs"
    assert (tmp_path / "run-2" / "result.json").read_text(encoding="utf-8") == "ours"


def test_write_atomically_replaces_whole_or_leaves_the_old_file(tmp_path, monkeypatch):
    """A failed write leaves the previous content and no staging file; a good one replaces it."""
    target = tmp_path / "out" / "report.json"
    fsio.write_atomically(target, b"first")
    assert target.read_bytes() == b"first"

    def full(_descriptor: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match="No space"):
        fsio.write_atomically(target, b"second")
    assert target.read_bytes() == b"first"
    assert sorted(p.name for p in target.parent.iterdir()) == ["report.json"]
    monkeypatch.undo()
    fsio.write_atomically(target, b"second")
    assert target.read_bytes() == b"second"


@pytest.mark.skipif(os.name != "posix", reason="probes pids with signal 0")
def test_the_sweep_removes_only_entries_of_dead_writers(tmp_path):
    """A staging entry whose pid is gone is removed; this process's, a live one's and other files stay."""
    gone = dead_pid()
    for name in (f".tmp-{gone}-a.zip", f".tmp-{os.getpid()}-b.zip", f".tmp-{os.getppid()}-c.zip", "keep.zip"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / f".tmp-{gone}-run").mkdir()
    (tmp_path / f".tmp-{gone}-run" / "result.json").write_bytes(b"{}")
    fsio.sweep_stale_staging(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f".tmp-{os.getpid()}-b.zip", f".tmp-{os.getppid()}-c.zip", "keep.zip"]
    )


def test_without_a_pid_probe_the_sweep_goes_by_age(tmp_path, monkeypatch):
    """Where pids cannot be probed (Windows), a staging entry untouched for a day is removed, a fresh one
    (maybe a live writer's) is kept, and no pid is ever signalled."""
    monkeypatch.setattr(fsio, "CAN_PROBE_PIDS", False)
    signalled: list[int] = []
    monkeypatch.setattr(os, "kill", lambda pid, sig: signalled.append(pid))
    gone = dead_pid()
    old, fresh = tmp_path / f".tmp-{gone}-old.zip", tmp_path / f".tmp-{gone}-fresh.zip"
    old.write_bytes(b"x")
    fresh.write_bytes(b"x")
    long_ago = time.time() - DAY_S - 60
    os.utime(old, (long_ago, long_ago))
    fsio.sweep_stale_staging(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [fresh.name]
    assert fsio.process_alive(gone) is True
    assert signalled == []


# --- the nameless file ------------------------------------------------------------------------------


def no_o_tmpfile(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fsio, "anonymous_file", lambda folder: None)


def no_hard_links(monkeypatch: pytest.MonkeyPatch) -> None:
    """As on FAT or some network shares: os.link fails with EPERM."""

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise PermissionError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", refuse)


MODES = {
    "o-tmpfile": [],
    "named-temporary": [no_o_tmpfile],
    "named-temporary-without-hard-links": [no_o_tmpfile, no_hard_links],
}


@pytest.fixture(params=list(MODES))
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each way a nameless file is made; the O_TMPFILE one only where this system offers it."""
    if request.param == "o-tmpfile" and getattr(os, "O_TMPFILE", None) is None:
        pytest.skip("no O_TMPFILE here")
    for force in MODES[request.param]:
        force(monkeypatch)
    return str(request.param)


def test_a_nameless_file_appears_only_when_published_and_never_replaces(tmp_path, mode):
    """Until publish the folder shows no final name; publish onto a taken name raises FileExistsError
    and leaves that file alone; the next name takes the whole content; no staging file remains."""
    (tmp_path / "a.zip").write_bytes(b"theirs")
    with fsio.nameless_file(tmp_path, suffix=".zip") as (handle, publish):
        handle.write(b"ours " * 1000)
        hidden = [p.name for p in tmp_path.iterdir() if p.name.startswith(fsio.STAGING_PREFIX)]
        assert len(hidden) == (0 if mode == "o-tmpfile" else 1)
        assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".zip") == sorted(["a.zip", *hidden])
        with pytest.raises(FileExistsError):
            publish(tmp_path / "a.zip")
        publish(tmp_path / "b.zip")
    assert (tmp_path / "a.zip").read_bytes() == b"theirs"
    assert (tmp_path / "b.zip").read_bytes() == b"ours " * 1000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.zip", "b.zip"]


def test_a_failed_write_leaves_nothing(tmp_path, mode):
    """An error before publish leaves neither a final name nor a staging file."""
    with pytest.raises(RuntimeError, match="disk gone"), fsio.nameless_file(tmp_path, ".zip") as (handle, _):
        handle.write(b"half")
        raise RuntimeError("disk gone")
    assert list(tmp_path.iterdir()) == []


def test_o_tmpfile_is_chosen_where_it_works(tmp_path):
    """On Linux the anonymous file is used (a killed export leaves nothing); elsewhere it says None."""
    descriptor = fsio.anonymous_file(tmp_path)
    if getattr(os, "O_TMPFILE", None) is None:
        assert descriptor is None
        return
    assert descriptor is not None
    os.close(descriptor)
    assert list(tmp_path.iterdir()) == []  # its naming trial cleaned up after itself

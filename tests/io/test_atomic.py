"""Atomic writes: a failed write leaves the previous output intact and no temporary file."""

from __future__ import annotations

import errno
import json
import os
import re
import stat
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from assetflow.errors import WriteError
from assetflow.io import atomic, read_output, write_output
from assetflow.io.atomic import atomic_path
from tests.unprivileged import reachable_directory, unprivileged

# Run again in CI against the oldest supported pandas (see .ci/run).
pytestmark = pytest.mark.oldest_pandas

GOOD = pd.DataFrame({"id": [1, 2, 3], "name": ["a", "b", "c"]})


@pytest.fixture
def previous(tmp_path: Path) -> Path:
    """A directory holding a good earlier output, daily.parquet."""
    write_output("daily", GOOD, "parquet", tmp_path)
    return tmp_path


def assert_previous_output_intact(directory: Path) -> None:
    assert sorted(path.name for path in directory.iterdir()) == ["daily.parquet"]  # no temp
    pd.testing.assert_frame_equal(read_output("parquet", directory / "daily.parquet"), GOOD)


def test_a_value_whose_conversion_fails_writes_nothing(previous: Path) -> None:
    bad = pd.DataFrame({"id": pd.Series([1, "two"], dtype=object)})
    with pytest.raises(WriteError, match="column 'id'"):
        write_output("daily", bad, "parquet", previous)
    assert_previous_output_intact(previous)


def test_a_failing_rename_leaves_the_previous_file(
    previous: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(source: object, target: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied", str(target))

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(WriteError, match=r"cannot write the output of asset 'daily'"):
        write_output("daily", pd.DataFrame({"id": [9]}), "parquet", previous)
    monkeypatch.undo()
    assert_previous_output_intact(previous)


def _write_half(where: object) -> None:
    """Write the start of a Parquet file where `pq.write_table` was told to: an open
    file (as assetflow passes it) or a path."""
    if hasattr(where, "write"):
        where.write(b"PAR1 half a file")
    else:
        Path(str(where)).write_bytes(b"PAR1 half a file")


def test_ctrl_c_during_the_write_leaves_the_previous_file(
    previous: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(table: object, path: object, **options: object) -> None:
        _write_half(path)
        raise KeyboardInterrupt

    monkeypatch.setattr(pq, "write_table", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_output("daily", pd.DataFrame({"id": [9]}), "parquet", previous)
    monkeypatch.undo()
    assert_previous_output_intact(previous)


def test_a_full_disk_midway_says_so_and_cleans_up(
    previous: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(table: object, path: object, **options: object) -> None:
        _write_half(path)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pq, "write_table", disk_full)
    with pytest.raises(WriteError, match=r"the disk holding '.*' is full(.|\n)*state_dir"):
        write_output("daily", pd.DataFrame({"id": [9]}), "parquet", previous)
    monkeypatch.undo()
    assert_previous_output_intact(previous)


def test_an_unstorable_json_value_leaves_the_previous_json(tmp_path: Path) -> None:
    write_output("settings", {"a": 1}, "json", tmp_path)
    with pytest.raises(WriteError, match=r"containing a set at \$\['b'\]"):
        write_output("settings", {"a": 2, "b": {1}}, "json", tmp_path)
    assert [path.name for path in tmp_path.iterdir()] == ["settings.json"]
    assert read_output("json", tmp_path / "settings.json") == {"a": 1}


def test_a_successful_write_leaves_only_the_target(tmp_path: Path) -> None:
    for round_number in range(3):
        write_output("daily", GOOD.head(round_number + 1), "parquet", tmp_path)
        write_output("settings", {"round": round_number}, "json", tmp_path)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["daily.parquet", "settings.json"]


def test_an_unwritable_directory_names_it_and_the_fix(tmp_path: Path) -> None:
    # As root (CI), the write is made by an unprivileged user: root ignores chmod.
    write_output("daily", GOOD, "parquet", tmp_path)  # what the write imports
    with reachable_directory() as reachable:
        locked = reachable / "state"
        locked.mkdir()
        locked.chmod(0o555)

        def write_it() -> str | None:
            try:
                write_output("daily", GOOD, "parquet", locked)
            except WriteError as error:
                return str(error)
            return None

        refused = unprivileged(write_it)
        assert refused is not None, "the output was written to a directory it cannot write"
        assert re.search(
            rf"the directory '{locked}' is not writable(.|\n)*chmod u\+w(.|\n)*state_dir",
            refused,
        ), refused
        assert list(locked.iterdir()) == []


def test_a_file_in_the_way_of_the_directory_names_it_and_the_fix(tmp_path: Path) -> None:
    # Works as root too: no permission bit makes a regular file a directory.
    blocker = tmp_path / "state"
    blocker.write_text("not a directory")
    with pytest.raises(
        WriteError,
        match=rf"'{blocker}' is a file, so the directory '{blocker / 'data'}' cannot be "
        r"created there(.|\n)*Move or delete the file(.|\n)*state_dir",
    ):
        write_output("daily", GOOD, "parquet", blocker / "data")
    with pytest.raises(WriteError, match=rf"'{blocker}' is a file"):
        write_output("settings", {"a": 1}, "json", blocker)
    assert blocker.read_text() == "not a directory"


@pytest.fixture
def previous_json(tmp_path: Path) -> Path:
    """A directory holding a good earlier JSON output, report.json."""
    write_output("report", {"total": 1}, "json", tmp_path)
    return tmp_path


def assert_previous_json_intact(directory: Path) -> None:
    assert sorted(path.name for path in directory.iterdir()) == ["report.json"]  # no temp
    assert read_output("json", directory / "report.json") == {"total": 1}


def test_a_failing_json_rename_leaves_the_previous_file(
    previous_json: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(source: object, target: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied", str(target))

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(WriteError, match=r"cannot write the output of asset 'report'"):
        write_output("report", {"total": 2}, "json", previous_json)
    monkeypatch.undo()
    assert_previous_json_intact(previous_json)


def test_a_full_disk_during_a_json_write_cleans_up(
    previous_json: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(descriptor: int, data: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", disk_full)
    with pytest.raises(WriteError, match="report"):
        write_output("report", {"total": 2}, "json", previous_json)
    monkeypatch.undo()
    assert_previous_json_intact(previous_json)


def test_ctrl_c_during_a_json_sync_leaves_the_new_file_whole(
    previous_json: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The sync comes after the rename (one journal commit for both): the new file is
    # whole in place, and the write did not return, so nothing records it.
    def interrupted(descriptor: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(atomic, "_sync_data", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_output("report", {"total": 2}, "json", previous_json)
    monkeypatch.undo()
    assert sorted(path.name for path in previous_json.iterdir()) == ["report.json"]  # no temp
    assert read_output("json", previous_json / "report.json") == {"total": 2}


def test_a_failing_sync_is_a_write_error(
    previous_json: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(descriptor: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(atomic, "_sync_data", failing)
    with pytest.raises(WriteError, match=r"asset 'report'.*Input/output error"):
        write_output("report", {"total": 2}, "json", previous_json)


@pytest.mark.parametrize(("kind", "value"), [("json", {"total": 2}), ("parquet", GOOD)])
def test_the_data_and_the_rename_are_synced_before_the_write_returns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str, value: object
) -> None:
    """What the coordinator records must be durable: the file's data after its rename,
    then its directory's entry."""
    synced: list[tuple[str, bool]] = []
    sync_data, fsync = atomic._sync_data, os.fsync

    def spy_data(descriptor: int) -> None:
        entries = sorted(path.name for path in (tmp_path / "data").iterdir())
        synced.append(("data", entries == [f"daily.{kind}"]))  # renamed, no temp left
        sync_data(descriptor)

    def spy_fsync(descriptor: int) -> None:
        synced.append(("directory", stat.S_ISDIR(os.fstat(descriptor).st_mode)))
        fsync(descriptor)

    monkeypatch.setattr(atomic, "_sync_data", spy_data)
    monkeypatch.setattr(os, "fsync", spy_fsync)
    write_output("daily", value, kind, tmp_path / "data")
    assert synced == [("data", True), ("directory", True)]


def note_calls(
    monkeypatch: pytest.MonkeyPatch,
    calls: list[tuple[str, str]],
    owner: object,
    name: str,
    label: str,
) -> None:
    """Replace ``owner.name``, a call on a file descriptor, by one that notes ``(label, the
    file's path)`` in ``calls`` and then makes the call."""
    real = getattr(owner, name)

    def spy(descriptor: int) -> None:
        calls.append((label, os.readlink(f"/proc/self/fd/{descriptor}")))
        real(descriptor)

    monkeypatch.setattr(owner, name, spy)


@pytest.mark.parametrize(("kind", "value"), [("json", {"total": 2}), ("parquet", GOOD)])
def test_deferred_writes_rename_without_syncing_and_sync_outputs_syncs_them_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str, value: object
) -> None:
    """Inside deferring_syncs the file is in place, whole, and unsynced; sync_outputs then
    syncs each file's data and, after all of them, each directory once."""
    synced: list[tuple[str, str]] = []
    note_calls(monkeypatch, synced, atomic, "_sync_data", "data")
    note_calls(monkeypatch, synced, os, "fsync", "directory")
    data = tmp_path / "data"
    with atomic.deferring_syncs() as unsynced:
        first = write_output("daily", value, kind, data)
        second = write_output("weekly", value, kind, data)
    assert synced == []
    assert unsynced == [first.path, second.path]
    assert sorted(path.name for path in data.iterdir()) == [f"daily.{kind}", f"weekly.{kind}"]
    assert str(read_output(kind, first.path)) == str(value)
    atomic.sync_outputs(unsynced)
    assert synced == [
        ("data", str(first.path)),
        ("data", str(second.path)),
        ("directory", str(data)),
    ]
    # Outside the block, a write syncs before it returns, as it always did.
    synced.clear()
    write_output("monthly", value, kind, data)
    assert [what for what, _ in synced] == ["data", "directory"]


def test_sync_outputs_starts_every_files_writeback_before_the_first_sync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One journal commit then serves the whole group: the writeback of each file is
    started (a hint) before any file is synced."""
    calls: list[tuple[str, str]] = []
    note_calls(monkeypatch, calls, atomic, "_start_writeback", "writeback")
    note_calls(monkeypatch, calls, atomic, "_sync_data", "data")
    monkeypatch.setattr(atomic, "_SYNC_BATCH", 2)  # two batches of two, then one
    with atomic.deferring_syncs() as unsynced:
        paths = [write_output(f"day{n}", {"n": n}, "json", tmp_path).path for n in range(5)]
    atomic.sync_outputs(unsynced)
    names = [str(path) for path in paths]
    assert calls == [
        ("writeback", names[0]),
        ("writeback", names[1]),
        ("data", names[0]),
        ("data", names[1]),
        ("writeback", names[2]),
        ("writeback", names[3]),
        ("data", names[2]),
        ("data", names[3]),
        ("writeback", names[4]),
        ("data", names[4]),
    ]
    assert [json.loads(Path(name).read_text()) for name in names] == [{"n": n} for n in range(5)]


def test_sync_outputs_syncs_without_the_writeback_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the system has no way to start a writeback, each file is still synced."""
    if sys.platform.startswith("linux"):
        assert atomic._writeback_call() is not None  # the C library has sync_file_range
    synced: list[int] = []
    sync_data = atomic._sync_data

    def spy_data(descriptor: int) -> None:
        synced.append(descriptor)
        sync_data(descriptor)

    monkeypatch.setattr(atomic, "_writeback_call", lambda: None)
    monkeypatch.setattr(atomic, "_sync_data", spy_data)
    with atomic.deferring_syncs() as unsynced:
        write_output("daily", {"total": 2}, "json", tmp_path)
        write_output("weekly", {"total": 3}, "json", tmp_path)
    atomic.sync_outputs(unsynced)
    assert len(synced) == 2


def test_syncing_a_file_removed_since_its_write_is_an_os_error(tmp_path: Path) -> None:
    with atomic.deferring_syncs() as unsynced:
        stored = write_output("daily", {"total": 2}, "json", tmp_path)
    assert stored.path is not None
    stored.path.unlink()
    with pytest.raises(FileNotFoundError):
        atomic.sync_outputs(unsynced)


def test_a_json_write_reports_the_files_own_time_and_digest(tmp_path: Path) -> None:
    from assetflow.io.files import quick_digest

    stored = write_output("report", {"total": 2, "names": ["a", "b"]}, "json", tmp_path)
    assert stored.path is not None
    assert stored.modified_at == stored.path.stat().st_mtime
    assert stored.digest == quick_digest(stored.path)


def test_temp_files_of_dead_writers_are_removed_and_live_ones_kept(tmp_path: Path) -> None:
    from assetflow.io.atomic import remove_orphaned_temp_files

    nested = tmp_path / "orders"
    nested.mkdir()
    dead = nested / ".2026-03-01.parquet.4242.0a1b.tmp"
    live = tmp_path / f".summary.json.{os.getpid()}.9f9f.tmp"
    output = tmp_path / "summary.json"
    unrelated = tmp_path / ".notes.tmp"  # not ours: no pid in the name
    for path in (dead, live, output, unrelated):
        path.write_text("x")
    removed = remove_orphaned_temp_files(tmp_path, lambda pid: pid == os.getpid())
    assert removed == 1
    assert not dead.exists()
    assert live.exists()
    assert output.exists()
    assert unrelated.exists()


def test_temp_files_are_named_after_their_writer(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    with atomic_path(target, asset="out") as temp:
        assert temp.name.startswith(f".out.json.{os.getpid()}.")
        temp.write_text("{}")

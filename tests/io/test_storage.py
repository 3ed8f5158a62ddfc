"""Outputs on a shared directory or object storage (a real S3-compatible server): the
setting's checks, where outputs go, the atomic-write guarantee on object storage, and a
look at many outputs in one listing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from assetflow.errors import ProjectError, StoreError, WriteError
from assetflow.io import IOSettings, OutputRef, WriteTarget, io_manager
from assetflow.io.base import StorageSettings
from assetflow.io.stats import stat_assets
from assetflow.io.storage import (
    local_directory,
    remote_storage,
    storage_problem,
    storage_settings,
)


@pytest.mark.parametrize(
    "url",
    [
        "/mnt/shared/outputs",
        "../shared",
        "file:///mnt/shared",
        "s3://bucket/prefix",
        "gs://b",
        "az://c/p",
    ],
)
def test_a_usable_storage_setting_has_no_problem(url: str) -> None:
    assert storage_problem(url) is None


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("", "`storage` in [tool.assetflow] is empty"),
        ("hdfs://namenode/data", "uses the protocol 'hdfs', which assetflow does not store"),
        ("s3://", "names no bucket: write it as s3://BUCKET/prefix"),
        ("s3://key:secret@bucket/p", "holds credentials or a port in its URL (s3://...@...)"),
    ],
)
def test_a_bad_storage_setting_is_refused_before_any_output_is_touched(
    url: str, said: str, tmp_path: Path
) -> None:
    problem = storage_problem(url)
    assert problem is not None
    assert said in problem
    assert "secret" not in problem
    with pytest.raises(ProjectError, match="storage"):
        storage_settings(url, tmp_path, tmp_path / ".assetflow")


def test_settings_resolve_a_relative_directory_against_the_project(tmp_path: Path) -> None:
    state = tmp_path / "proj" / ".assetflow"
    local = storage_settings("../shared", tmp_path / "proj", state)
    assert Path(local.url) == (tmp_path / "shared").resolve()
    assert storage_settings("file:///mnt/x", tmp_path, state).url == "/mnt/x"
    assert storage_settings("s3://bucket/prefix/", tmp_path, state).url == "s3://bucket/prefix"
    settings = IOSettings(storage=local)
    assert local_directory(settings, state / "data") == Path(local.url) / "data"
    assert local_directory(settings, tmp_path / "elsewhere") == tmp_path / "elsewhere"
    assert remote_storage(settings) is None


def test_a_shared_directory_is_written_beside_and_renamed(tmp_path: Path) -> None:
    state, shared = tmp_path / "state", tmp_path / "shared"
    settings = IOSettings(storage=StorageSettings(str(shared), state))
    manager = io_manager("parquet", settings)
    stored = manager.write(pd.DataFrame({"id": [1, 2]}), WriteTarget("orders", "k", state / "data"))
    assert stored.path == shared / "data" / "orders" / "partition=k" / "part.parquet"
    assert [p.name for p in stored.path.parent.iterdir()] == ["part.parquet"]  # no temp left
    assert not (state / "data").exists()
    back = manager.read(OutputRef("orders", "k", stored.path))
    assert isinstance(back, pd.DataFrame)
    assert back["id"].tolist() == [1, 2]


@pytest.fixture
def on_s3(s3_bucket: str, tmp_path: Path) -> tuple[IOSettings, Path]:
    state = tmp_path / "state"
    return IOSettings(storage=StorageSettings(f"s3://{s3_bucket}/shop", state)), state


def _objects(settings: IOSettings) -> list[str]:
    remote = remote_storage(settings)
    assert remote is not None
    found: list[str] = remote.filesystem().find(remote.root)
    return sorted(found)


@pytest.mark.parametrize("kind", ["parquet", "json"])
def test_each_write_goes_to_a_new_key_and_the_record_decides_which_is_current(
    kind: str, on_s3: tuple[IOSettings, Path]
) -> None:
    """A second write that is never recorded (the run died before its commit) leaves an
    orphan beside the current object; the recorded one still reads back whole."""
    settings, state = on_s3
    manager = io_manager(kind, settings)
    first: Any = pd.DataFrame({"id": [1]}) if kind == "parquet" else {"id": 1}
    second: Any = pd.DataFrame({"id": [2, 3]}) if kind == "parquet" else {"id": 2}
    recorded = manager.write(first, WriteTarget("orders", None, state / "data"))
    orphan = manager.write(second, WriteTarget("orders", None, state / "data"))
    assert recorded.path != orphan.path
    assert recorded.path is not None
    assert recorded.data_version is not None
    assert recorded.data_version[:16] in recorded.path.name
    assert len(_objects(settings)) == 2
    back = manager.read(OutputRef("orders", None, recorded.path))
    if kind == "parquet":
        assert isinstance(back, pd.DataFrame)
        assert back["id"].tolist() == [1]
    else:
        assert back == {"id": 1}
    # The same data written again still gets a key of its own: nothing is overwritten.
    again = manager.write(first, WriteTarget("orders", None, state / "data"))
    assert again.path != recorded.path
    assert again.data_version == recorded.data_version


def test_a_write_that_fails_leaves_no_object(on_s3: tuple[IOSettings, Path]) -> None:
    """The table is made into bytes before the one request that stores it."""
    settings, state = on_s3
    manager = io_manager("parquet", settings)
    frame = pd.DataFrame({"when": [pd.Timestamp("2026-01-01")]}).astype(object)
    frame["when"] = [object()]
    with pytest.raises(WriteError, match="asset 'orders'"):
        manager.write(frame, WriteTarget("orders", None, state / "data"))
    assert _objects(settings) == []


def test_an_output_recorded_outside_the_state_directory_is_read_from_local_disk(
    on_s3: tuple[IOSettings, Path], tmp_path: Path
) -> None:
    """An output written before `storage` was set, at an absolute path, is still read."""
    settings, _ = on_s3
    local = io_manager("json").write([1, 2], WriteTarget("notes", None, tmp_path / "old"))
    manager = io_manager("json", settings)
    assert manager.read(OutputRef("notes", None, local.path)) == [1, 2]
    assert manager.stat(OutputRef("notes", None, local.path)) is not None


def test_many_outputs_are_looked_at_with_one_listing(on_s3: tuple[IOSettings, Path]) -> None:
    settings, state = on_s3
    manager = io_manager("parquet", settings)
    stored = {
        asset: [
            manager.write(pd.DataFrame({"id": [n]}), WriteTarget(asset, f"k{n}", state / "data"))
            for n in range(3)
        ]
        for asset in ("orders", "refunds")
    }
    gone = OutputRef("orders", "k9", state / "data" / "orders" / "partition=k9" / "part.x.parquet")
    remote = remote_storage(settings)
    assert remote is not None
    filesystem = remote.filesystem()
    calls: list[str] = []
    real = filesystem._call_s3

    async def counted(method: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(method)
        return await real(method, *args, **kwargs)

    filesystem._call_s3 = counted
    try:
        found = stat_assets(
            manager,
            {
                "orders": (
                    ["k0", "k1", "k2", "k9"],
                    [*(str(s.path) for s in stored["orders"]), str(gone.path)],
                ),
                "refunds": (["k0", "k1", "k2"], [str(s.path) for s in stored["refunds"]]),
            },
        )
    finally:
        del filesystem._call_s3
    assert calls == ["list_objects_v2"]
    assert [stat is not None for stat in found["orders"]] == [True, True, True, False]
    assert [stat.bytes for stat in found["refunds"] if stat] == [s.bytes for s in stored["refunds"]]
    calls.clear()
    filesystem._call_s3 = counted
    try:
        one = manager.stat(OutputRef("orders", "k0", stored["orders"][0].path))
    finally:
        del filesystem._call_s3
    assert calls == ["head_object"]  # one request for one output
    assert one is not None
    assert one.bytes == stored["orders"][0].bytes
    assert one.modified_at is not None


def test_a_missing_partition_is_named_with_its_url(on_s3: tuple[IOSettings, Path]) -> None:
    settings, state = on_s3
    manager = io_manager("parquet", settings)
    kept = manager.write(pd.DataFrame({"id": [1]}), WriteTarget("orders", "a", state / "data"))
    refs = [
        OutputRef("orders", "a", kept.path),
        *(
            OutputRef(
                "orders", key, state / "data" / "orders" / f"partition={key}" / "part.p.parquet"
            )
            for key in ("b", "c", "d", "e")
        ),
    ]
    with pytest.raises(StoreError) as raised:
        manager.read_partitions("orders", refs)
    message = raised.value.format_message()
    assert "4 partition(s) whose stored output is missing: 'b', 'c', 'd', 'e'" in message
    assert "s3://" in message


def test_json_partitions_are_fetched_together_and_the_missing_ones_named(
    on_s3: tuple[IOSettings, Path],
) -> None:
    settings, state = on_s3
    manager = io_manager("json", settings)
    stored = [
        manager.write({"day": n}, WriteTarget("notes", f"d{n}", state / "data")) for n in range(6)
    ]
    refs = [OutputRef("notes", f"d{n}", s.path) for n, s in enumerate(stored)]
    assert manager.read_partitions("notes", refs) == {f"d{n}": {"day": n} for n in range(6)}
    remote = remote_storage(settings)
    assert remote is not None
    remote.filesystem().rm(remote.key(stored[4].path))
    with pytest.raises(StoreError) as raised:
        manager.read_partitions("notes", refs)
    message = raised.value.format_message()
    assert "1 partition(s) whose stored output is missing: 'd4'" in message
    assert f"s3://{remote.key(stored[4].path)}" in message

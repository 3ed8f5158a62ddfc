"""The registry of storage kinds: built-in kinds, kinds from installed packages, and errors."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pandas as pd
import pytest

from assetflow import asset
from assetflow.errors import DefinitionError, ProjectError, StoreError
from assetflow.graph import build_graph
from assetflow.io import (
    ENTRY_POINT_GROUP,
    IOManager,
    OutputRef,
    WriteTarget,
    io_manager,
    is_io_kind,
    known_kinds,
    read_output,
    write_output,
)
from assetflow.io.registry import BUILTIN_KINDS

# Run again in CI against the oldest supported pandas (see .ci/run).
pytestmark = pytest.mark.oldest_pandas

#: A storage kind as a package would ship it: Arrow IPC ("Feather") files, one per
#: partition, written with assetflow's atomic writer.
FEATHER_MODULE = '''
"""A third-party storage kind: tables as Feather files."""

from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.feather as feather

from assetflow.datahash import table_version
from assetflow.errors import StoreError
from assetflow.io import (
    IOSettings,
    OutputHead,
    OutputRef,
    OutputStat,
    StoredOutput,
    WriteTarget,
)
from assetflow.io.atomic import write_atomically
from assetflow.io.parquet import column_types, to_arrow_table


class FeatherIO:
    kind = "{kind}"
    holds = "tables"
    partitions_share_path = False

    def __init__(self, settings: IOSettings) -> None:
        self.settings = settings

    def write(self, value: object, target: WriteTarget) -> StoredOutput:
        table = to_arrow_table(value, asset=target.asset)
        name = target.partition or "all"
        path = Path(target.directory) / target.asset / f"{{name}}.feather"
        size = write_atomically(
            path, lambda handle: feather.write_feather(table, handle), asset=target.asset
        )
        return StoredOutput(
            self.kind, path, table.num_rows, size, column_types(table), table_version(table)
        )

    def read(self, ref: OutputRef, as_type: object = None) -> object:
        if ref.path is None or not Path(ref.path).is_file():
            raise StoreError(f"the stored output '{{ref.path}}' is missing.")
        return feather.read_table(ref.path).to_pandas()

    def read_partitions(
        self, asset: str, refs: Sequence[OutputRef], as_type: object = None
    ) -> object:
        tables = [feather.read_table(ref.path) for ref in refs]
        return pa.concat_tables(tables).to_pandas()

    def stat(self, ref: OutputRef) -> OutputStat | None:
        path = Path(ref.path) if ref.path is not None else None
        if path is None or not path.is_file():
            return None
        status = path.stat()
        return OutputStat(bytes=status.st_size, modified_at=status.st_mtime)

    def head(self, ref: OutputRef, limit: int) -> OutputHead:
        table = feather.read_table(ref.path)
        return OutputHead(table.slice(0, limit), table.num_rows)
'''


def install_package(
    root: Path, monkeypatch: pytest.MonkeyPatch, name: str, entry_points: str, module: str
) -> None:
    """Make ``root`` hold an installed distribution (a dist-info with entry points) and its
    module, and put it on sys.path, as pip would."""
    dist_info = root / f"{name.replace('-', '_')}-0.3.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.3\n")
    (dist_info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{entry_points}\n")
    module_name = entry_points.split("=")[1].strip().split(":")[0]
    (root / f"{module_name}.py").write_text(module)
    monkeypatch.syspath_prepend(str(root))


def test_the_built_in_kinds_are_known() -> None:
    assert tuple(BUILTIN_KINDS) == ("parquet", "duckdb", "json", "none", "postgres")
    for kind in BUILTIN_KINDS:
        manager = io_manager(kind)
        assert isinstance(manager, IOManager)
        assert manager.kind == kind
        assert is_io_kind(kind)
    assert not is_io_kind("parqet")


def test_an_unknown_kind_in_an_asset_suggests_and_says_how_to_register_one() -> None:
    @asset(io="parqet")
    def orders() -> int:
        return 1

    with pytest.raises(
        DefinitionError,
        match=r"io='parqet', which is not a storage kind(.|\n)*Did you mean 'parquet'\?"
        r"(.|\n)*The storage kinds are: auto, parquet, duckdb, json, none"
        r"(.|\n)*register it under the entry-point group 'assetflow.io'"
        r"(.|\n)*docs/io-kinds.md",
    ):
        build_graph([orders])


def test_an_unknown_kind_at_read_time_is_a_store_error() -> None:
    with pytest.raises(
        StoreError, match=r"there is no storage kind 'jsn'(.|\n)*Did you mean 'json'\?"
    ):
        io_manager("jsn")


def test_a_registered_kind_round_trips_a_frame(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_package(
        tmp_path / "site",
        monkeypatch,
        "assetflow-feather",
        "feather_rt = assetflow_feather_rt:FeatherIO",
        FEATHER_MODULE.format(kind="feather_rt"),
    )
    assert is_io_kind("feather_rt")
    assert "feather_rt" in known_kinds()
    frame = pd.DataFrame({"id": [1, 2], "name": pd.Series(["a", None], dtype="str").array})
    stored = write_output("orders", frame, "feather_rt", tmp_path / "data", partition="p1")
    assert stored.kind == "feather_rt"
    assert stored.rows == 2
    back = read_output("feather_rt", stored.path, asset="orders")
    pd.testing.assert_frame_equal(back, frame)
    manager = io_manager("feather_rt")
    assert manager.stat(OutputRef("orders", "p1", stored.path)) is not None
    assert manager.write(frame, WriteTarget("orders", "p2", tmp_path / "data")).rows == 2


def test_an_asset_can_use_a_registered_kind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_package(
        tmp_path / "site",
        monkeypatch,
        "assetflow-feather",
        "feather_asset = assetflow_feather_asset:FeatherIO",
        FEATHER_MODULE.format(kind="feather_asset"),
    )

    @asset(io="feather_asset")
    def orders() -> pd.DataFrame:
        return pd.DataFrame({"id": [1]})

    assert build_graph([orders]).spec("orders").kind == "feather_asset"


def test_a_kind_whose_package_fails_to_import_names_the_package_and_the_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_package(
        tmp_path / "site",
        monkeypatch,
        "assetflow-postgres",
        "pg_broken = assetflow_pg_broken:PostgresIO",
        textwrap.dedent(
            """
            raise ImportError("No module named 'psycopg'")
            """
        ),
    )
    assert is_io_kind("pg_broken")  # found without importing it
    with pytest.raises(
        ProjectError,
        match=r"the storage kind 'pg_broken' is registered by the package 'assetflow-postgres' "
        r"0.3 \(module 'assetflow_pg_broken'\) as 'assetflow_pg_broken:PostgresIO', but "
        r"loading it failed: ImportError: No module named 'psycopg'",
    ) as caught:
        io_manager("pg_broken")
    assert "Install what that package needs" in caught.value.format_message()
    with pytest.raises(ProjectError, match="pg_broken"):  # failures are not cached
        write_output("orders", pd.DataFrame({"id": [1]}), "pg_broken", tmp_path / "data")


def test_a_registered_object_that_is_no_io_manager_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_package(
        tmp_path / "site",
        monkeypatch,
        "assetflow-half",
        "half = assetflow_half:HalfIO",
        "class HalfIO:\n    def __init__(self, settings):\n        self.kind = 'half'\n",
    )
    with pytest.raises(
        ProjectError,
        match=r"'half' registered by the package 'assetflow-half' 0.3 .* does not satisfy "
        r"assetflow.io.IOManager",
    ):
        io_manager("half")

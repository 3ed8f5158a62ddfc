"""Recorded output paths: relative to the state directory, resolved against the reader's own."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from assetflow.io.base import OutputRef
from assetflow.io.locations import output_ref, recorded_path, resolved_path

ROOT = Path("/projects/shop/.assetflow")


def test_an_output_in_the_state_dir_is_recorded_relative_to_it():
    path = ROOT / "data" / "orders" / "partition=2026-03-01" / "part.parquet"
    assert recorded_path(path, ROOT) == "data/orders/partition=2026-03-01/part.parquet"
    assert recorded_path(ROOT / "warehouse.duckdb", ROOT) == "warehouse.duckdb"
    assert recorded_path(None, ROOT) is None


def test_an_output_outside_the_state_dir_is_recorded_as_it_is():
    assert recorded_path(Path("/mnt/lake/orders.bin"), ROOT) == "/mnt/lake/orders.bin"


def test_a_recorded_path_is_resolved_against_the_readers_state_dir():
    moved = Path("/srv/shop-2026/.assetflow")
    assert resolved_path("data/orders.parquet", moved) == moved / "data" / "orders.parquet"
    assert resolved_path("/mnt/lake/orders.bin", moved) == Path("/mnt/lake/orders.bin")
    assert resolved_path(None, moved) is None
    assert output_ref("orders", "2026-03-01", "warehouse.duckdb", moved) == OutputRef(
        "orders", "2026-03-01", moved / "warehouse.duckdb"
    )


_NAME = st.text(alphabet="abcxyz_0123456789=%-.", min_size=1, max_size=12).filter(
    lambda name: name not in (".", "..")
)


@given(parts=st.lists(_NAME, min_size=1, max_size=4))
def test_recording_then_resolving_in_another_place_finds_the_same_file(parts):
    written = ROOT.joinpath(*parts)
    recorded = recorded_path(written, ROOT)
    assert recorded is not None
    assert not Path(recorded).is_absolute()
    elsewhere = Path("/other/checkout/state")
    assert resolved_path(recorded, elsewhere) == elsewhere.joinpath(*parts)
    assert resolved_path(recorded, ROOT) == written

"""End to end: a project that is moved or copied reads its own files, and an output that was
deleted or changed since it was recorded is missing or damaged, never fresh."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import duckdb
from click.testing import CliRunner

from assetflow.cli import cli

DAYS = ("2026-03-01", "2026-03-02", "2026-03-03")

ASSETS = f"""
import pandas as pd

from assetflow import DailyPartitions, asset

days = DailyPartitions(start="{DAYS[0]}", end="2026-03-04")


@asset(partitions=days)
def orders(context) -> pd.DataFrame:
    day = context.partition_key
    return pd.DataFrame({{"day": [day] * 3, "amount": [1.0, 2.0, float(day[-1])]}})


@asset(partitions=days, io="duckdb")
def clean_orders(orders: pd.DataFrame) -> pd.DataFrame:
    return orders[orders["amount"] > 0]


@asset
def totals(clean_orders: pd.DataFrame) -> dict:
    return {{"amount": float(clean_orders["amount"].sum())}}
"""


def run(project, *args):
    return CliRunner().invoke(cli, ["--project", str(project), *args])


def status_json(project, *args):
    result = run(project, "status", "--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def states(project, *args):
    return {
        (entry["asset"], entry["partition"]): entry["state"]
        for entry in status_json(project, *args)["assets"]
    }


def part(project, asset, day):
    return project / ".assetflow" / "data" / asset / f"partition={day}" / "part.parquet"


def built(make_project):
    root = make_project(textwrap.dedent(ASSETS), name="shop")
    result = run(root, "materialize")
    assert result.exit_code == 0, result.output
    return root


def test_a_moved_project_is_fresh_and_a_materialize_runs_nothing(make_project, tmp_path):
    root = built(make_project)
    moved = tmp_path / "elsewhere" / "shop-2026"
    moved.parent.mkdir()
    shutil.move(root, moved)
    assert set(states(moved).values()) == {"fresh"}
    again = run(moved, "materialize")
    assert again.exit_code == 0, again.output
    assert "Nothing to do: 3 assets (6 partitions) fresh." in again.output
    # It reads its inputs from where it is now: a rebuild of the reader works.
    forced = run(moved, "materialize", "totals", "--force")
    assert forced.exit_code == 0, forced.output
    assert "1 materialized" in forced.output


def test_a_copy_reads_and_writes_only_its_own_files(make_project, tmp_path):
    root = built(make_project)
    copy = tmp_path / "shop-copy"
    # `cp -r` as a user types it: every copied file gets a new modification time.
    subprocess.run(["cp", "-r", str(root), str(copy)], check=True)
    assert set(states(copy).values()) == {"fresh"}
    original = part(root, "orders", DAYS[1])
    before = (original.stat().st_size, original.stat().st_mtime_ns)

    damaged = part(copy, "orders", DAYS[1])
    damaged.write_bytes(damaged.read_bytes()[:100])
    assert states(copy, "orders")[("orders", DAYS[1])] == "damaged"
    assert set(states(root).values()) == {"fresh"}  # only the copy notices

    rebuilt = run(copy, "materialize")
    assert rebuilt.exit_code == 0, rebuilt.output
    assert f"orders[{DAYS[1]}]" in rebuilt.output
    assert set(states(copy).values()) == {"fresh"}
    assert (original.stat().st_size, original.stat().st_mtime_ns) == before
    assert set(states(root).values()) == {"fresh"}
    # The original still reads its own files: rebuilding a reader there works.
    assert run(root, "materialize", "totals", "--force").exit_code == 0


def test_a_deleted_output_is_missing_and_a_plain_materialize_rebuilds_exactly_it(make_project):
    root = built(make_project)
    part(root, "orders", DAYS[2]).unlink()
    status = status_json(root, "orders", "--partition", DAYS[2])
    (entry,) = status["assets"]
    assert entry["state"] == "missing"
    (reason,) = entry["reasons"]
    assert reason["kind"] == "output missing"
    assert reason["run_id"] == entry["last_run_id"]
    text = run(root, "status", "orders", "--partition", DAYS[2])
    assert "missing" in text.output
    assert "deleted or moved since it was written" in text.output
    assert f"by run {entry['last_run_id'][:8]}" in text.output
    why = run(root, "why", "orders", "--partition", DAYS[2])
    assert why.exit_code == 0, why.output
    assert "output missing: deleted or moved since it was written" in why.output

    plan = run(root, "plan")
    assert f"orders[{DAYS[2]}]" in plan.output
    assert "1 stale" in plan.output
    result = run(root, "materialize")
    assert result.exit_code == 0, result.output
    assert "1 materialized" in result.output  # the same data again: its readers are cut off
    assert part(root, "orders", DAYS[2]).is_file()
    assert set(states(root).values()) == {"fresh"}


def test_a_changed_duckdb_partition_is_damaged_by_its_row_count(make_project):
    root = built(make_project)
    with duckdb.connect(str(root / ".assetflow" / "warehouse.duckdb")) as connection:
        connection.execute(
            "DELETE FROM clean_orders WHERE partition_key = ? AND amount = 1.0", [DAYS[1]]
        )
    status = status_json(root, "clean_orders")
    by_key = {entry["partition"]: entry for entry in status["assets"]}
    assert by_key[DAYS[1]]["state"] == "damaged"
    assert by_key[DAYS[1]]["reasons"][0]["old"] == "3 rows"
    assert by_key[DAYS[1]]["reasons"][0]["new"] == "2 rows"
    assert {by_key[day]["state"] for day in (DAYS[0], DAYS[2])} == {"fresh"}
    result = run(root, "materialize")
    assert result.exit_code == 0, result.output
    assert f"clean_orders[{DAYS[1]}]" in result.output
    assert set(states(root).values()) == {"fresh"}


def test_a_touched_file_with_the_same_bytes_stays_fresh(make_project):
    root = built(make_project)
    path = part(root, "orders", DAYS[0])
    os.utime(path, (path.stat().st_atime + 3600, path.stat().st_mtime + 3600))
    assert states(root, "orders")[("orders", DAYS[0])] == "fresh"
    # Same size, other bytes, new time: damaged.
    data = bytearray(path.read_bytes())
    data[10] ^= 0xFF
    path.write_bytes(bytes(data))
    assert states(root, "orders")[("orders", DAYS[0])] == "damaged"


def test_status_of_a_moved_project_in_a_new_process(make_project, tmp_path):
    root = built(make_project)
    moved = tmp_path / "mounted"
    shutil.move(root, moved)
    done = subprocess.run(
        [sys.executable, "-m", "assetflow", "--project", str(moved), "materialize"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Nothing to do" in done.stdout

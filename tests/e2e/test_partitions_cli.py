"""End to end: dynamic partitions, one per file landing in a folder, driven by the CLI."""

from __future__ import annotations

import json
import subprocess
import textwrap

from click.testing import CliRunner

from assetflow.cli import cli
from tests.e2e.processes import assetflow

ASSETS = """
    from pathlib import Path

    import pandas as pd

    from assetflow import DynamicPartitions, asset

    uploads = DynamicPartitions("uploads")

    @asset(partitions=uploads)
    def parsed_upload(context) -> pd.DataFrame:
        return pd.read_csv(Path(context.project_dir) / "landing" / f"{context.partition_key}.csv")

    @asset(partitions=uploads)
    def upload_totals(parsed_upload: pd.DataFrame) -> dict:
        return {"rows": len(parsed_upload), "amount": float(parsed_upload["amount"].sum())}

    @asset
    def all_uploads(upload_totals: dict) -> dict:
        return {"uploads": sorted(upload_totals)}

    @asset
    def unpartitioned() -> dict:
        return {}
"""


def run(project, *args):
    return CliRunner().invoke(cli, ["--project", str(project), *args])


def make(tmp_path):
    root = tmp_path / "landing_zone"
    (root / "landing").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[tool.assetflow]\nmodules = ["assets"]\n')
    (root / "assets.py").write_text(textwrap.dedent(ASSETS))
    return root


def land(root, key, amount):
    (root / "landing" / f"{key}.csv").write_text(f"id,amount\n1,{amount}\n")


def test_keys_are_added_materialized_removed_and_pruned(tmp_path):
    root = make(tmp_path)
    for key, amount in [("batch-1", 1.0), ("batch-2", 2.0), ("batch-3", 4.0)]:
        land(root, key, amount)

    empty = run(root, "partitions", "list", "parsed_upload")
    assert empty.exit_code == 0, empty.output
    assert "'uploads' has no keys yet" in empty.output

    added = run(root, "partitions", "add", "parsed_upload", "batch-1", "batch-2")
    assert added.exit_code == 0, added.output
    assert "Added 2 keys to 'uploads' (of parsed_upload, upload_totals): 'batch-1', 'batch-2'." in (
        added.output
    )
    assert "Materialize them with: assetflow materialize '+parsed_upload+'" in added.output
    again = run(root, "partitions", "add", "upload_totals", "batch-2", "batch-3")
    assert again.exit_code == 0, again.output
    assert "Added 1 key to 'uploads'" in again.output
    assert "Already in 'uploads', nothing to add: 'batch-2'." in again.output

    listed = run(root, "partitions", "list", "upload_totals", "--json")
    assert json.loads(listed.output) == {
        "asset": "upload_totals",
        "definition": "uploads",
        "keys": ["batch-1", "batch-2", "batch-3"],
    }
    assert run(root, "partitions", "list", "parsed_upload").output.split() == [
        "batch-1",
        "batch-2",
        "batch-3",
    ]

    first = run(root, "materialize")
    assert first.exit_code == 0, first.output
    assert "8 materialized" in first.output
    status = run(root, "status", "--json")
    rows = json.loads(status.output)["assets"]
    states = {(row["asset"], row["partition"]): row["state"] for row in rows}
    assert states[("upload_totals", "batch-3")] == "fresh"
    assert len(states) == 8

    land(root, "batch-4", 8.0)
    run(root, "partitions", "add", "parsed_upload", "batch-4")
    plan = run(root, "plan")
    assert "parsed_upload[batch-4]  stale    never materialized" in plan.output
    assert "Fresh (will not run): parsed_upload[batch-1..batch-3 (3)]" in plan.output
    latest = run(root, "materialize", "+upload_totals", "--partition", "latest")
    assert latest.exit_code == 0, latest.output
    assert "upload_totals[batch-4]" in latest.output

    removed = run(root, "partitions", "remove", "parsed_upload", "batch-1", "nope")
    assert removed.exit_code == 0, removed.output
    assert "Removed 1 key from 'uploads' (of parsed_upload, upload_totals): 'batch-1'." in (
        removed.output
    )
    assert "Not in 'uploads', nothing to remove: 'nope'." in removed.output
    assert (
        "Kept 2 stored outputs of these keys. Delete them with: "
        "assetflow partitions remove parsed_upload batch-1 --prune"
    ) in removed.output
    kept = root / ".assetflow" / "data" / "parsed_upload" / "partition=batch-1"
    assert kept.is_dir()
    status = run(root, "status", "parsed_upload")
    assert "batch-2..batch-4 fresh (3)" in status.output
    # all_uploads read batch-1's totals: with the key gone, it is stale, and says why.
    reader = run(root, "plan", "all_uploads")
    assert "upstream changed: upload_totals[batch-1]: removed" in reader.output
    why = run(root, "why", "all_uploads")
    assert "input 'upload_totals[batch-1]' is gone (its partition key was removed)" in why.output

    pruned = run(root, "partitions", "remove", "parsed_upload", "batch-1", "--prune")
    assert pruned.exit_code == 0, pruned.output
    assert "Deleted 2 stored outputs of these keys; their history stays." in pruned.output
    assert not kept.exists()
    assert (root / ".assetflow" / "data" / "parsed_upload" / "partition=batch-2").is_dir()
    history = run(root, "history", "parsed_upload")
    assert "batch-1" in history.output  # the records stay

    # Re-adding the key brings it back as never materialized (its output is gone).
    run(root, "partitions", "add", "parsed_upload", "batch-1")
    back = run(root, "plan", "parsed_upload")
    assert "parsed_upload[batch-1]" in back.output


def test_a_range_of_keys_is_backfilled(tmp_path):
    root = make(tmp_path)
    keys = [f"file-{n}" for n in range(1, 6)]
    for n, key in enumerate(keys):
        land(root, key, float(n))
    assert run(root, "partitions", "add", "parsed_upload", *keys).exit_code == 0

    backfill = run(root, "materialize", "parsed_upload", "--from", "file-2", "--to", "file-4")
    assert backfill.exit_code == 0, backfill.output
    assert "3 materialized" in backfill.output
    runs = run(root, "runs", "--partition", "file-3")
    assert "success" in runs.output
    status = run(root, "status", "parsed_upload")
    assert "file-2..file-4 fresh (3)" in status.output
    assert "file-1 missing" in status.output
    reversed_range = run(root, "plan", "--from", "file-4", "--to", "file-2")
    assert reversed_range.exit_code == 2
    assert "is reversed" in reversed_range.output
    unknown = run(root, "plan", "--partition", "file-9")
    assert unknown.exit_code == 2
    assert "not a key of the dynamic partitions 'uploads'" in unknown.output
    assert "Did you mean" in unknown.output


def test_bad_keys_and_assets_are_refused_with_exit_2(tmp_path):
    root = make(tmp_path)
    bad = run(root, "partitions", "add", "parsed_upload", "ok", "../etc")
    assert bad.exit_code == 2
    assert "the partition key '../etc' is not a valid key" in bad.output
    assert "Traceback" not in bad.output
    assert "has no keys yet" in run(root, "partitions", "list", "parsed_upload").output

    long_key = run(root, "partitions", "add", "parsed_upload", "k" * 201)
    assert long_key.exit_code == 2
    assert "201 characters long, over the 200 allowed" in long_key.output

    plain = run(root, "partitions", "add", "unpartitioned", "x")
    assert plain.exit_code == 2
    assert "asset 'unpartitioned' is not partitioned" in plain.output

    typo = run(root, "partitions", "remove", "parsed_uplod", "x")
    assert typo.exit_code == 2
    assert "Did you mean 'parsed_upload'?" in typo.output

    nothing_yet = run(root, "materialize", "--partition", "latest")
    assert nothing_yet.exit_code == 2
    assert "have no keys yet" in nothing_yet.output


def test_the_installed_command_adds_keys_in_its_own_process(tmp_path):
    root = make(tmp_path)
    land(root, "one", 1.0)
    done = subprocess.run(
        assetflow(root, "partitions", "add", "parsed_upload", "one"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Added 1 key" in done.stdout
    built = subprocess.run(
        assetflow(root, "materialize", "+upload_totals"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    assert "2 materialized" in built.stdout


def test_the_stored_keys_complete_after_partition_options(tmp_path):
    from tests.cli.test_complete import offered

    root = make(tmp_path)
    assert offered(root, "status", "parsed_upload", "--partition", "") == ["latest"]
    assert run(root, "partitions", "add", "parsed_upload", "batch-1", "batch-2").exit_code == 0
    assert offered(root, "why", "parsed_upload", "--partition", "batch") == ["batch-1", "batch-2"]

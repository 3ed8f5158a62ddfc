"""End to end: a metadata file that is empty or truncated is a clear error for every
command that reads it, never an empty history."""

from __future__ import annotations

import subprocess
import sys

import pytest

ASSETS = """
from assetflow import asset


@asset
def numbers() -> list:
    return [1, 2, 3]


@asset
def total(numbers: list) -> dict:
    return {"total": sum(numbers)}
"""

COMMANDS = (("status",), ("runs",), ("history", "total"), ("materialize",))


def assetflow(root, *args):
    return subprocess.run(
        [sys.executable, "-m", "assetflow", "--project", str(root), *args],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("built") / "proj"
    root.mkdir()
    (root / "pyproject.toml").write_text('[tool.assetflow]\nmodules = ["assets"]\n')
    (root / "assets.py").write_text(ASSETS)
    done = assetflow(root, "materialize")
    assert done.returncode == 0, done.stderr
    return root


def damaged_copy(built, tmp_path, keep):
    """A copy of the built project whose metadata file keeps `keep(size)` bytes."""
    import shutil

    root = tmp_path / "copy"
    shutil.copytree(built, root)
    store = root / ".assetflow" / "metadata.sqlite"
    for suffix in ("-wal", "-shm"):
        (store.parent / f"{store.name}{suffix}").unlink(missing_ok=True)
    size = store.stat().st_size
    with open(store, "r+b") as handle:
        handle.truncate(keep(size))
    return root, store


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_an_empty_metadata_file_is_an_error_not_an_empty_history(built, tmp_path, command):
    root, store = damaged_copy(built, tmp_path, lambda size: 0)
    done = assetflow(root, *command)
    assert done.returncode == 1, done.stdout
    assert done.stderr.startswith(
        f"Error: the metadata store {store} is empty (0 bytes). assetflow does not take an "
        "empty file for a new store: a failed copy, a full disk or a truncation leaves a "
        "store empty, and its run history would silently start over"
    )
    assert f"mv {store} {store}.empty" in done.stderr
    assert "Traceback" not in done.stderr
    assert store.stat().st_size == 0  # nothing was written over it


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_a_truncated_metadata_file_is_an_error(built, tmp_path, command):
    root, store = damaged_copy(built, tmp_path, lambda size: size - 1000)
    done = assetflow(root, *command)
    assert done.returncode == 1, done.stdout
    assert f"Error: the metadata store {store} is corrupt or is not a SQLite database (the " in (
        done.stderr
    )
    assert "the file is truncated: its header counts" in done.stderr
    assert f"mv {store} {store}.corrupt" in done.stderr
    assert "Traceback" not in done.stderr

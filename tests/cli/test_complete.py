"""Shell completion: asset names, selections and partition keys, through click's machinery
in a real `python -m assetflow` process, as the shell runs it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent.parent

ASSETS = """
    from assetflow import StaticPartitions, asset

    print("a project that prints when imported")
    regions = StaticPartitions(["eu-west", "eu-north", "us-east"])

    @asset(group="ingest", tags=["nightly"])
    def raw_orders() -> dict:
        return {}

    @asset(group="ingest", partitions=regions)
    def regional_orders(raw_orders: dict) -> dict:
        return raw_orders

    @asset(group="reporting", tags=["finance"])
    def revenue(raw_orders: dict) -> dict:
        return raw_orders
"""


def complete(root: Path | None, *words: str, shell: str = "bash") -> subprocess.CompletedProcess:
    """What `assetflow [--project ROOT] WORDS...<TAB>` offers (the last word is incomplete)."""
    line = ["assetflow", *(["--project", str(root)] if root else []), *words]
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "_ASSETFLOW_COMPLETE": f"{shell}_complete",
        "COMP_WORDS": " ".join(line),
        # fish passes the word being completed, bash and zsh its position
        "COMP_CWORD": line[-1] if shell == "fish" else str(len(line) - 1),
    }
    return subprocess.run(
        [sys.executable, "-m", "assetflow"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        cwd=REPO,
    )


def offered(root: Path | None, *words: str) -> list[str]:
    result = complete(root, *words)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return [line.split(",", 1)[1] for line in result.stdout.splitlines() if line]


@pytest.fixture
def project(make_project) -> Path:
    return make_project(ASSETS)


def test_asset_names_complete(project):
    assert offered(project, "history", "r") == ["raw_orders", "regional_orders", "revenue"]
    assert offered(project, "why", "rev") == ["revenue"]
    assert offered(project, "logs", "run-1", "--asset", "reg") == ["regional_orders"]


def test_selections_complete_after_their_operators_and_methods(project):
    assert offered(project, "materialize", "+reg") == ["+regional_orders"]
    assert offered(project, "plan", "2+raw") == ["2+raw_orders"]
    assert offered(project, "list", "@raw") == ["@raw_orders"]
    assert offered(project, "list", "ta") == ["tag:"]
    assert offered(project, "status", "tag:") == ["tag:finance", "tag:nightly"]
    assert offered(project, "list", "group:r") == ["group:reporting"]
    assert offered(project, "plan", "tag:nightly,rev") == ["tag:nightly,revenue"]
    assert offered(project, "plan", "--exclude", "kind:") == ["kind:json"]


def test_partition_keys_complete_for_the_asset_named(project):
    assert offered(project, "why", "regional_orders", "--partition", "eu") == [
        "eu-north",
        "eu-west",
    ]
    assert offered(project, "materialize", "regional_orders", "--from", "u") == ["us-east"]
    assert offered(project, "status", "--partition", "l") == ["latest"]
    assert offered(project, "history", "raw_orders", "--partition", "") == []


def test_a_broken_or_missing_project_completes_nothing_quietly(tmp_path, make_project):
    assert offered(tmp_path / "nowhere", "history", "r") == []
    broken = make_project("raise RuntimeError('broken at import')\n", name="broken")
    assert offered(broken, "materialize", "r") == []
    assert offered(broken, "status", "--partition", "") == []


def test_zsh_and_fish_get_the_same_names(project):
    zsh = complete(project, "why", "rev", shell="zsh")
    assert zsh.stdout.splitlines()[:2] == ["plain", "revenue"]
    fish = complete(project, "why", "rev", shell="fish")
    # click writes "plain,revenue" or "plain\nrevenue\n_" for fish, by version
    assert fish.stdout.replace(",", "\n").splitlines()[:2] == ["plain", "revenue"]


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_the_documented_bash_line_completes_in_bash(project, tmp_path):
    # A command named `assetflow` on PATH that runs this checkout, as an install would.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    command = bin_dir / "assetflow"
    command.write_text(f'#!/bin/sh\nexec {sys.executable} -m assetflow "$@"\n')
    command.chmod(0o755)
    script = (
        'eval "$(_ASSETFLOW_COMPLETE=bash_source assetflow)"\n'
        f"COMP_WORDS=(assetflow --project {project} why rev)\n"
        "COMP_CWORD=4\n"
        "_assetflow_completion assetflow\n"  # bash passes the command's name
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    result = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["revenue"]

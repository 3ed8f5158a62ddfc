"""Without an extra (its package made unimportable in the child process): a project that
does not use it runs as before, and one that does is told which extra to install, without
a traceback. The postgres extra for the store and the io kind, the openlineage extra for
lineage events."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

BLOCKER = textwrap.dedent(
    """
    import sys

    class Blocker:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("psycopg", "psycopg_pool", "openlineage"):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, Blocker())
    """
)
ASSETS = textwrap.dedent(
    """
    import pandas as pd
    from assetflow import asset

    @asset(io="warehouse")
    def orders() -> pd.DataFrame:
        return pd.DataFrame({"id": [1, 2]})
    """
)


@pytest.fixture
def without_psycopg(tmp_path: Path) -> dict[str, str]:
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(BLOCKER)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(blocker), env.get("PYTHONPATH")]))
    return env


def _run(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "assetflow", "--project", str(root), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_postgresql_store_without_the_driver_names_the_extra(
    make_project: Callable[..., Path], without_psycopg: dict[str, str]
) -> None:
    root = make_project(ASSETS.replace('io="warehouse"', 'io="parquet"'))
    config = root / "pyproject.toml"
    config.write_text(
        config.read_text().replace(
            "[tool.assetflow]",
            '[tool.assetflow]\nstore = "postgresql://app:s3cret@db.internal/meta"',
        )
    )
    result = _run(root, without_psycopg, "status")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "is a PostgreSQL database, and the PostgreSQL driver is not installed" in result.stderr
    assert "pip install 'assetflow[postgres]'" in result.stderr
    assert "s3cret" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_a_postgres_output_without_the_driver_names_the_extra(
    make_project: Callable[..., Path], without_psycopg: dict[str, str]
) -> None:
    root = make_project(ASSETS)
    config = root / "pyproject.toml"
    config.write_text(
        config.read_text()
        + '\n[tool.assetflow.io.warehouse]\nkind = "postgres"\n'
        + 'url = "postgresql://loader:s3cret@db.internal/warehouse"\n'
    )
    result = _run(root, without_psycopg, "materialize")
    assert result.returncode == 1, result.stdout + result.stderr
    output = result.stdout + result.stderr
    assert "the PostgreSQL driver is not installed" in output
    assert "pip install 'assetflow[postgres]'" in output
    assert "s3cret" not in output
    assert "Traceback" not in output


LINEAGE = """
[tool.assetflow.openlineage]
transport = "file"
path = "lineage.ndjson"
"""


def test_a_project_without_extras_runs_without_their_packages(
    make_project: Callable[..., Path], without_psycopg: dict[str, str]
) -> None:
    root = make_project(ASSETS.replace('io="warehouse"', 'io="parquet"'))
    result = _run(root, without_psycopg, "materialize")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 materialized" in result.stdout


def test_lineage_settings_without_the_client_name_the_extra(
    make_project: Callable[..., Path], without_psycopg: dict[str, str]
) -> None:
    root = make_project(ASSETS.replace('io="warehouse"', 'io="parquet"'))
    config = root / "pyproject.toml"
    config.write_text(config.read_text() + LINEAGE)
    result = _run(root, without_psycopg, "materialize")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "asks for lineage events, and the OpenLineage client is not installed" in (result.stderr)
    assert "pip install 'assetflow[openlineage]'" in result.stderr
    assert "Traceback" not in result.stderr
    sent = _run(root, without_psycopg, "openlineage", "send")
    assert sent.returncode == 2, sent.stdout + sent.stderr
    assert "pip install 'assetflow[openlineage]'" in sent.stderr

"""Which store a project opens: `store`, `store_env`, else `<state_dir>/metadata.sqlite`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from assetflow.api import load
from assetflow.errors import ProjectError, StoreError
from assetflow.project import find_project
from assetflow.services.stores import METADATA_FILE, open_project_store
from assetflow.store import MemoryStore, SqliteStore

ASSETS = """
from assetflow import asset

@asset
def numbers() -> list[int]:
    return [1, 2, 3]
"""
SECRET_URL = "postgresql://deploy:secret@db.example.com/assetflow"


def _config(*lines: str) -> str:
    return '[tool.assetflow]\nmodules = ["assets"]\n' + "".join(f"{line}\n" for line in lines)


def test_the_default_store_is_the_sqlite_file_in_the_state_dir(
    make_project: Callable[..., Path],
) -> None:
    root = make_project(ASSETS)
    with open_project_store(load(root), environ={}) as store:
        assert isinstance(store, SqliteStore)
        assert store.path == root / ".assetflow" / METADATA_FILE


def test_store_names_a_sqlite_file_relative_to_the_project(
    make_project: Callable[..., Path],
) -> None:
    root = make_project(ASSETS, config=_config('store = "sqlite:shared/meta.sqlite"'))
    with open_project_store(load(root), environ={}) as store:
        assert isinstance(store, SqliteStore)
        assert store.path == root / "shared" / "meta.sqlite"


def test_store_env_reads_the_url_from_that_variable(
    make_project: Callable[..., Path], tmp_path: Path
) -> None:
    root = make_project(ASSETS, config=_config('store_env = "ASSETFLOW_STORE"'))
    with open_project_store(load(root), environ={"ASSETFLOW_STORE": "memory://"}) as store:
        assert isinstance(store, MemoryStore)
    url = f"sqlite://{tmp_path}/elsewhere.sqlite"
    with open_project_store(load(root), environ={"ASSETFLOW_STORE": url}) as store:
        assert isinstance(store, SqliteStore)
        assert store.path == tmp_path / "elsewhere.sqlite"


def test_store_env_naming_an_unset_variable_says_which(
    make_project: Callable[..., Path],
) -> None:
    root = make_project(ASSETS, config=_config('store_env = "ASSETFLOW_STORE"'))
    with pytest.raises(
        ProjectError,
        match=r"comes from the environment variable ASSETFLOW_STORE \(`store_env` in the "
        r"project configuration\), which is not set\.",
    ) as caught:
        open_project_store(load(root), environ={})
    assert "export ASSETFLOW_STORE=sqlite:///" in caught.value.hint
    with pytest.raises(ProjectError, match=r"ASSETFLOW_STORE .*, which is empty\."):
        open_project_store(load(root), environ={"ASSETFLOW_STORE": "  "})


def test_store_and_store_env_together_are_refused_without_the_url(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        _config(f'store = "{SECRET_URL}"', 'store_env = "ASSETFLOW_STORE"')
    )
    with pytest.raises(
        ProjectError, match=r"`store` and `store_env` are both set; set one"
    ) as caught:
        find_project(tmp_path)
    assert "secret" not in str(caught.value)


def test_an_empty_store_is_refused(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(_config('store = ""'))
    with pytest.raises(ProjectError, match=r"store: String should have at least 1 character"):
        find_project(tmp_path)


def test_a_configured_postgresql_store_is_not_available_and_hides_its_password(
    make_project: Callable[..., Path],
) -> None:
    root = make_project(ASSETS, config=_config('store_env = "ASSETFLOW_STORE"'))
    with pytest.raises(StoreError, match=r"PostgreSQL metadata store .* is not available yet") as e:
        open_project_store(load(root), environ={"ASSETFLOW_STORE": SECRET_URL})
    assert "secret" not in str(e.value)
    assert "postgresql://deploy:***@db.example.com/assetflow" in str(e.value)


def test_a_mistyped_store_key_is_suggested(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(_config('store_evn = "X"'))
    with pytest.raises(ProjectError, match=r"store_evn: not a setting assetflow knows\. Did you"):
        find_project(tmp_path)

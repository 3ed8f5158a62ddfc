"""Which store a project opens: `store`, `store_env`, else `<state_dir>/metadata.sqlite`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from assetflow.api import load
from assetflow.errors import ProjectError, StoreError
from assetflow.project import find_project
from assetflow.services.stores import (
    METADATA_FILE,
    _same_store,
    migrate_store,
    open_project_store,
    store_info,
)
from assetflow.store import MemoryStore, SqliteStore, open_store, sqlite_url
from assetflow.store.postgres import PostgresStore
from assetflow.store.sqlite.schema import MIGRATIONS

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
    with pytest.raises(ProjectError, match=r"store: must not be empty"):
        find_project(tmp_path)


def test_a_configured_postgresql_store_that_cannot_be_reached_hides_its_password(
    make_project: Callable[..., Path],
) -> None:
    root = make_project(ASSETS, config=_config('store_env = "ASSETFLOW_STORE"'))
    url = "postgresql://deploy:secret@127.0.0.1:1/assetflow"
    with pytest.raises(StoreError, match=r"cannot connect to the PostgreSQL metadata store") as e:
        open_project_store(load(root), environ={"ASSETFLOW_STORE": url})
    assert "secret" not in str(e.value)
    assert "postgresql://deploy:***@127.0.0.1:1/assetflow" in str(e.value)


def test_a_configured_postgresql_store_is_opened_once_migrated(
    make_project: Callable[..., Path], postgres_url: str
) -> None:
    root = make_project(ASSETS, config=_config('store_env = "ASSETFLOW_STORE"'))
    environ = {"ASSETFLOW_STORE": postgres_url}
    with pytest.raises(StoreError, match=r"has no assetflow schema yet: run `assetflow store"):
        open_project_store(load(root), environ=environ)
    assert migrate_store(postgres_url).message.startswith("Created the schema of postgresql://")
    with open_project_store(load(root), environ=environ) as store:
        assert isinstance(store, PostgresStore)
        assert store.list_runs() == []


def test_two_postgresql_urls_of_one_database_are_the_same_store(postgres_url: str) -> None:
    migrate_store(postgres_url)
    other_spelling = postgres_url.replace("postgresql://", "postgres://") + "?sslmode=disable"
    with open_store(postgres_url) as first, open_store(other_spelling) as second:
        assert _same_store(first, second)
    with open_store(postgres_url) as first, SqliteStore(Path("/tmp") / "x" / "m.sqlite") as other:
        assert not _same_store(first, other)


def test_two_paths_of_one_sqlite_file_are_the_same_store(tmp_path: Path) -> None:
    with (
        open_store(sqlite_url(tmp_path / "m.sqlite")) as first,
        open_store("sqlite:m.sqlite", root=tmp_path) as second,
        open_store("sqlite:n.sqlite", root=tmp_path) as third,
    ):
        assert _same_store(first, second)
        assert not _same_store(first, third)


def test_migrating_a_new_sqlite_store_says_it_created_it(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "new" / "m.sqlite")
    assert migrate_store(url).message == f"Created the schema of {url} at v{len(MIGRATIONS)}."
    assert migrate_store(url).message == (
        f"{url} is already at schema v{len(MIGRATIONS)} (nothing to do)."
    )
    described = store_info(url)
    assert (described.backend, described.schema_version) == ("sqlite", len(MIGRATIONS))
    assert described.rows["runs"] == 0


def test_memory_has_nothing_to_migrate() -> None:
    with pytest.raises(StoreError, match="keeps nothing on disk"):
        migrate_store("memory://")


def test_a_mistyped_store_key_is_suggested(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(_config('store_evn = "X"'))
    with pytest.raises(ProjectError, match=r"store_evn: not a setting assetflow knows\. Did you"):
        find_project(tmp_path)


def test_a_watcher_that_fails_leaves_the_crash_marked_and_says_so(
    make_project: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import logging
    from datetime import UTC, datetime

    from assetflow.services import stores
    from assetflow.store.records import RunRecord, RunStatus

    project = load(make_project(ASSETS))
    told: list[str] = []

    def broken(project):
        raise ProjectError("[tool.assetflow.openlineage] is wrong")

    def listening(project):
        return lambda run, events, store: told.append(run.run_id)

    monkeypatch.setattr(stores, "_CRASH_WATCHERS", [])
    stores.watch_crashes(broken)
    stores.watch_crashes(listening)
    stores.watch_crashes(listening)  # once is enough
    started = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
    with MemoryStore() as store:
        store.create_run(RunRecord(run_id="gone", started_at=started, pid=2**22 + 7))
        with caplog.at_level(logging.WARNING, logger="assetflow.services.stores"):
            stores.sweep_crashed(store, project)
        assert store.get_run("gone").status is RunStatus.CRASHED  # type: ignore[union-attr]
    assert told == ["gone"]
    assert "cannot tell of crashed runs: [tool.assetflow.openlineage] is wrong" in caplog.text

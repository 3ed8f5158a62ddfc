"""open_store(): the one way to build a metadata store, from a URL."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from assetflow.errors import StoreError
from assetflow.store import (
    OPENERS,
    MemoryStore,
    MetadataStore,
    SqliteStore,
    open_store,
    redact_url,
    sqlite_url,
)
from tests.store.builders import run


def test_an_absolute_sqlite_url_opens_that_file(tmp_path: Path) -> None:
    path = tmp_path / "state" / "metadata.sqlite"
    with open_store(f"sqlite://{path}") as store:
        assert isinstance(store, SqliteStore)
        assert isinstance(store, MetadataStore)
        assert store.path == path
        store.create_run(run("r-1"))
    with open_store(f"sqlite://localhost{path}") as store:
        assert store.get_run("r-1") is not None


def test_a_relative_sqlite_url_starts_at_the_root(tmp_path: Path) -> None:
    with open_store("sqlite:state/meta.sqlite", root=tmp_path) as store:
        assert isinstance(store, SqliteStore)
        assert store.path == tmp_path / "state" / "meta.sqlite"
    assert (tmp_path / "state" / "meta.sqlite").is_file()


def test_sqlite_url_round_trips_awkward_paths(tmp_path: Path) -> None:
    path = tmp_path / "a dir %20 with?odd#chars" / "m.sqlite"
    with open_store(sqlite_url(path)) as store:
        assert isinstance(store, SqliteStore)
        assert store.path == path


def test_memory_urls_open_a_memory_store() -> None:
    for url in ("memory://", "memory:", "MEMORY://"):
        with open_store(url) as store:
            assert isinstance(store, MemoryStore)


def test_the_older_kind_and_location_form_still_works(tmp_path: Path) -> None:
    with open_store("memory") as memory, open_store("sqlite", tmp_path / "m.sqlite") as sqlite:
        assert isinstance(memory, MemoryStore)
        assert isinstance(sqlite, SqliteStore)
    with open_store("sqlite", str(tmp_path / "n.sqlite")) as store:
        assert isinstance(store, SqliteStore)
        assert store.path == tmp_path / "n.sqlite"
    with open_store("memory", tmp_path / "ignored.sqlite"):
        pass
    assert not (tmp_path / "ignored.sqlite").exists()


def test_an_unknown_scheme_offers_the_known_ones() -> None:
    with pytest.raises(
        StoreError,
        match=r"unknown metadata store scheme 'sqlit' in 'sqlit:///x.sqlite'; the known "
        r"schemes are 'memory', 'postgres', 'postgresql', 'sqlite'\.",
    ) as caught:
        open_store("sqlit:///x.sqlite")
    assert caught.value.hint.startswith("Did you mean 'sqlite'?")
    assert "sqlite:///abs/path/metadata.sqlite" in caught.value.hint


def test_every_known_scheme_has_an_opener() -> None:
    assert set(OPENERS) == {"sqlite", "memory", "postgresql", "postgres"}


def test_a_url_without_a_scheme_says_how_to_write_one() -> None:
    with pytest.raises(StoreError, match=r"the metadata store '/tmp/x.sqlite' is not a URL"):
        open_store("/tmp/x.sqlite")


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_postgresql_urls_open_the_postgresql_store(scheme: str) -> None:
    # Port 1 on this machine refuses at once: the store connects when it is opened.
    with pytest.raises(StoreError) as caught:
        open_store(f"{scheme}://deploy:secret@127.0.0.1:1/meta")
    message = str(caught.value)
    assert message.startswith(
        "cannot connect to the PostgreSQL metadata store "
        "(host 127.0.0.1:1, database meta, user deploy): "
    )
    assert "secret" not in message


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://deploy:secret@db.example.com:5432/assetflow",
        "postgress://deploy:secret@db.example.com/assetflow",
        "postgresql://db.example.com/assetflow?user=deploy&password=secret",
        "sqlite://deploy:secret@host/x.sqlite",
        "deploy:secret@db.example.com/assetflow",
    ],
)
def test_no_message_shows_a_password(url: str) -> None:
    with pytest.raises(StoreError) as caught:
        open_store(url)
    assert "secret" not in str(caught.value)
    assert "***" in str(caught.value)


def test_redact_url_keeps_all_but_the_password() -> None:
    assert (
        redact_url("postgresql://deploy:s3cr:et@db:5432/af?sslmode=require")
        == "postgresql://deploy:***@db:5432/af?sslmode=require"
    )
    assert redact_url("postgresql://deploy@db/af") == "postgresql://deploy@db/af"
    assert redact_url("sqlite:///a/b.sqlite") == "sqlite:///a/b.sqlite"
    assert redact_url("postgresql://db:5432/af") == "postgresql://db:5432/af"
    assert redact_url("deploy:pw@db/af") == "deploy:***@db/af"
    assert redact_url("postgresql://db/af?Password=x&a=1") == "postgresql://db/af?Password=***&a=1"


def test_a_sqlite_url_naming_a_host_is_refused() -> None:
    with pytest.raises(StoreError, match=r"names a host \('server'\); a SQLite store is a file"):
        open_store("sqlite://server/x.sqlite")


def test_a_sqlite_url_with_options_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"has options \('\?' or '#'\); a sqlite URL is only"):
        open_store(f"sqlite://{tmp_path}/x.sqlite?mode=ro")


def test_a_sqlite_url_without_a_file_is_refused() -> None:
    with pytest.raises(StoreError, match=r"the SQLite metadata store 'sqlite:' names no file"):
        open_store("sqlite:")


def test_a_memory_url_with_a_location_is_refused() -> None:
    with pytest.raises(StoreError, match=r"'memory://x' takes no location"):
        open_store("memory://x")


def test_an_unknown_kind_in_the_older_form_names_the_known_ones() -> None:
    with pytest.raises(
        StoreError, match="unknown metadata store kind 'sqlite3'; the known kinds are 'memory', "
    ) as caught:
        open_store("sqlite3", "x")
    assert caught.value.hint == "Did you mean 'sqlite'?"


def test_sqlite_needs_a_location() -> None:
    with pytest.raises(StoreError, match="the sqlite metadata store needs a location"):
        open_store("sqlite")


def test_sqlite_users_and_help_never_import_psycopg(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from assetflow.cli import cli\n"
        "from assetflow.store import open_store\n"
        "assert CliRunner().invoke(cli, ['--help']).exit_code == 0\n"
        f"open_store('sqlite:{tmp_path}/m.sqlite').close()\n"
        "print(sorted(name for name in sys.modules if name.startswith('psycopg')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


def test_the_store_writes_and_reads_its_records_without_pydantic(tmp_path: Path) -> None:
    """The records are plain dataclasses: writing and reading them imports no pydantic."""
    script = (
        "import sys\n"
        "from datetime import UTC, datetime\n"
        "from assetflow.store import EventKind, EventRecord, RunRecord, open_store\n"
        "now = datetime.now(UTC)\n"
        f"with open_store('sqlite:{tmp_path}/m.sqlite') as store:\n"
        "    store.create_run(RunRecord(run_id='r1', started_at=now))\n"
        "    store.record(events=[EventRecord(run_id='r1', kind=EventKind.STARTED, at=now)])\n"
        "    assert store.list_runs() and store.run_events('r1')\n"
        "print('pydantic' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "False"

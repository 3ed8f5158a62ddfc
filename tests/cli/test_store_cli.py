"""`assetflow store migrate` and `store info` end to end, on SQLite and on a throwaway
PostgreSQL database: what they print, their errors (no password, no traceback)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from urllib.parse import urlsplit

from click.testing import CliRunner, Result

from assetflow.cli import cli
from assetflow.store import open_store
from assetflow.store.copying import TABLES
from assetflow.store.postgres.schema import LATEST_VERSION
from assetflow.store.sqlite.schema import MIGRATIONS

CONFIG = "[tool.assetflow]\nmodules = []\n"


def project(tmp_path: Path, *lines: str) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "pyproject.toml").write_text(CONFIG + "".join(f"{line}\n" for line in lines))
    return root


def run(root: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, ["--project", str(root), "store", *args], env=env)


def shown(url: str) -> str:
    """``url`` as assetflow prints it: the password as ***."""
    password = urlsplit(url).password
    assert password
    return url.replace(f":{password}@", ":***@")


def test_migrate_creates_then_has_nothing_to_do(tmp_path: Path, postgres_url: str) -> None:
    root = project(tmp_path)
    first = run(root, "migrate", "--url", postgres_url)
    assert first.exit_code == 0, first.output
    assert first.output == f"Created the schema of {shown(postgres_url)} at v{LATEST_VERSION}.\n"
    again = run(root, "migrate", "--url", postgres_url)
    assert again.exit_code == 0, again.output
    assert again.output == (
        f"{shown(postgres_url)} is already at schema v{LATEST_VERSION} (nothing to do).\n"
    )


def test_migrate_reads_the_projects_store_env(tmp_path: Path, postgres_url: str) -> None:
    root = project(tmp_path, 'store_env = "ASSETFLOW_STORE"')
    result = run(root, "migrate", env={"ASSETFLOW_STORE": postgres_url})
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Created the schema of postgresql://assetflow:***@")
    with open_store(postgres_url) as store:
        assert store.list_runs() == []


def test_migrate_refuses_while_the_store_is_open_and_waits_with_wait(
    tmp_path: Path, postgres_url: str
) -> None:
    root = project(tmp_path)
    assert run(root, "migrate", "--url", postgres_url).exit_code == 0
    store = open_store(f"{postgres_url}?application_name=nightly")
    try:
        refused = run(root, "migrate", "--url", postgres_url)
    finally:
        closer = threading.Timer(0.5, store.close)
        closer.start()
    assert refused.exit_code == 1
    assert "Traceback" not in refused.output
    assert refused.output.startswith(
        f"Error: cannot migrate the PostgreSQL metadata store {shown(postgres_url)}: "
        "1 other session has it open (pid "
    )
    assert "(nightly)" in refused.output
    assert "or pass --wait to wait until they close the store." in refused.output
    waited = run(root, "migrate", "--url", postgres_url, "--wait")
    closer.join()
    assert waited.exit_code == 0, waited.output
    assert "(nothing to do)" in waited.output


def test_migrate_of_a_server_that_is_down_fails_without_the_password(tmp_path: Path) -> None:
    result = run(project(tmp_path), "migrate", "--url", "postgresql://app:secret@127.0.0.1:1/m")
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.output.startswith(
        "Error: cannot connect to the PostgreSQL metadata store (host 127.0.0.1:1, "
        "database m, user app): "
    )
    assert "secret" not in result.output
    assert "postgresql://app:***@127.0.0.1:1/m" in result.output


def test_migrate_a_new_sqlite_store_says_it_created_it(tmp_path: Path) -> None:
    root = project(tmp_path)
    url = f"sqlite:{tmp_path}/meta.sqlite"
    created = run(root, "migrate", "--url", url)
    assert created.output == f"Created the schema of {url} at v{len(MIGRATIONS)}.\n"
    again = run(root, "migrate")  # the project's own store, in its state directory
    assert again.output.startswith("Created the schema of sqlite:///")
    assert run(root, "migrate").output.endswith(
        f"/proj/.assetflow/metadata.sqlite is already at schema v{len(MIGRATIONS)} "
        "(nothing to do).\n"
    )


def test_info_shows_the_schema_size_and_rows(tmp_path: Path, postgres_url: str) -> None:
    root = project(tmp_path)
    before = run(root, "info", "--url", postgres_url)
    assert before.exit_code == 0, before.output
    assert before.output.splitlines()[:3] == [
        "backend  postgresql",
        f"url      {shown(postgres_url)}",
        "schema   none yet (run `assetflow store migrate`)",
    ]
    run(root, "migrate", "--url", postgres_url)
    text = run(root, "info", "--url", postgres_url).output.splitlines()
    assert text[2] == f"schema   v{LATEST_VERSION} (the newest this assetflow knows)"
    assert text[3].startswith("size     ")
    assert text[3].endswith("MiB")
    assert text[4] == "rows"
    assert text[5].split() == ["runs", "0"]
    document = json.loads(run(root, "info", "--url", postgres_url, "--json").output)
    assert document["backend"] == "postgresql"
    assert document["url"] == shown(postgres_url)
    assert document["schema_version"] == document["latest_schema_version"] == LATEST_VERSION
    assert document["size_bytes"] > 0
    assert list(document["rows"]) == list(TABLES)


def test_info_on_sqlite(tmp_path: Path) -> None:
    root = project(tmp_path)
    missing = run(root, "info")
    assert missing.exit_code == 1
    assert "there is no metadata store at" in missing.output
    run(root, "migrate")
    document = json.loads(run(root, "info", "--json").output)
    assert document["backend"] == "sqlite"
    assert document["schema_version"] == len(MIGRATIONS)
    assert document["rows"]["materializations"] == 0


def test_info_with_an_unknown_option_names_the_known_ones(tmp_path: Path) -> None:
    result = run(project(tmp_path), "info", "--url", "postgresql://a:secret@h/d?pool=2")
    assert result.exit_code == 1
    assert "has the option 'pool', which neither assetflow nor libpq knows" in result.output
    assert "secret" not in result.output

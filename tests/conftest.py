"""Shared fixtures: the story graph, project directories written into tmp_path."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest

from assetflow.asset import asset
from assetflow.graph import AssetGraph, build_graph
from tests.postgres_server import PostgresServer, start_server
from tests.s3_server import S3Server
from tests.s3_server import start_server as start_s3_server

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_PROJECT = REPO / "example_project"


@asset(group="ingest", tags=["nightly"])
def raw_records() -> pd.DataFrame:
    """Records from the source."""
    return pd.DataFrame({"id": [1, 2, 2], "amount": [1.0, None, 3.0]})


@asset(group="ingest")
def clean_records(raw_records: pd.DataFrame) -> pd.DataFrame:
    return raw_records.dropna().drop_duplicates("id")


@asset(group="reporting")
def daily_totals(clean_records: pd.DataFrame) -> pd.DataFrame:
    return clean_records.agg({"amount": "sum"}).to_frame("total")


@pytest.fixture
def story_graph() -> AssetGraph:
    """raw_records -> clean_records -> daily_totals."""
    return build_graph([raw_records, clean_records, daily_totals])


@pytest.fixture
def make_project(tmp_path: Path) -> Callable[..., Path]:
    """Write a project: `make_project(assets="...python...", config=..., extra_files={...})`."""

    def make(
        assets: str,
        *,
        config: str = '[tool.assetflow]\nmodules = ["assets"]\n',
        name: str = "proj",
        extra_files: dict[str, str] | None = None,
    ) -> Path:
        root = tmp_path / name
        root.mkdir()
        (root / "pyproject.toml").write_text(config)
        (root / "assets.py").write_text(textwrap.dedent(assets))
        for filename, text in (extra_files or {}).items():
            (root / filename).write_text(textwrap.dedent(text))
        return root

    return make


@pytest.fixture
def example_copy(tmp_path: Path) -> Path:
    """A fresh copy of example_project/ (without any state) in tmp_path."""
    target = tmp_path / "example_project"
    shutil.copytree(
        EXAMPLE_PROJECT, target, ignore=shutil.ignore_patterns(".assetflow", "__pycache__")
    )
    return target


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL server for the whole session (see tests/postgres_server.py)."""
    server = start_server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """The URL of a fresh, empty database on the test server, dropped after the test."""
    name = postgres_server.create_database()
    try:
        yield postgres_server.url(name)
    finally:
        postgres_server.drop_database(name)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """A real S3-compatible server (moto's) on 127.0.0.1 for the whole session."""
    server = start_s3_server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh bucket on the test S3 server, with AWS_* pointing this process at it."""
    for name, value in s3_server.environ().items():
        monkeypatch.setenv(name, value)
    return s3_server.create_bucket()

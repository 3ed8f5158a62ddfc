"""Any valid record comes back from every store exactly as it went in (hypothesis)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assetflow.store import (
    Column,
    EventKind,
    EventRecord,
    MaterializationRecord,
    MetadataStore,
    RunRecord,
    RunStatus,
)
from tests.store.conftest import BACKENDS, open_empty_store

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
# Any valid text: every plane, control characters, NUL, quotes, JSON syntax (lone
# surrogates are not valid text; test_store_contract covers them).
TEXT = st.text(st.characters(codec="utf-8"), max_size=30)
# Asset names are identifiers in practice; the store takes anything but NUL.
NAMES = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=30)
# A partition key is never empty (the partition definitions refuse ''): SQL backends keep
# an unpartitioned asset's latest state under '', so '' and None would be one key there.
PARTITIONS = st.none() | st.text(st.characters(codec="utf-8"), min_size=1, max_size=30)
# Aware times in UTC and in other offsets, from year 1 to 9999.
TIMES = st.datetimes(
    min_value=datetime(1, 1, 2),
    max_value=datetime(9999, 12, 30),
    timezones=st.sampled_from(
        [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))]
    ),
)
DURATIONS = st.floats(allow_nan=False)

MATERIALIZATIONS = st.builds(
    MaterializationRecord,
    run_id=TEXT,
    asset=NAMES,
    partition=PARTITIONS,
    io=TEXT,
    path=st.none() | TEXT,
    rows=st.none() | INT64,
    bytes=st.none() | INT64,
    columns=st.lists(st.builds(Column, name=TEXT, type=TEXT), max_size=4).map(tuple),
    started_at=TIMES,
    finished_at=TIMES,
    duration_s=DURATIONS,
    code_version=st.none() | TEXT,
    data_version=st.none() | TEXT,
    input_versions=st.dictionaries(TEXT, TEXT, max_size=4),
)
EVENTS = st.builds(
    EventRecord,
    run_id=TEXT,
    kind=st.sampled_from(EventKind),
    at=TIMES,
    asset=st.none() | NAMES,
    partition=PARTITIONS,
    message=st.text(st.characters(codec="utf-8"), max_size=200),
    attempt=INT64,
    duration_s=st.none() | DURATIONS,
)
RUNS = st.builds(
    RunRecord,
    run_id=TEXT,
    trigger=TEXT,
    selection=TEXT,
    status=st.sampled_from(RunStatus),
    started_at=TIMES,
    finished_at=st.none() | TIMES,
    pid=st.none() | INT64,
    host=st.none() | TEXT,
    run_key=st.none() | TEXT,
    tags=st.dictionaries(TEXT, TEXT, max_size=3),
)


#: Hypothesis runs many examples per test, each on a fresh store; the fixtures a store
#: needs (`request`, and the PostgreSQL server through it) last the whole test.
_EXAMPLES = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@contextmanager
def _empty_store(kind: str, request: pytest.FixtureRequest) -> Iterator[MetadataStore]:
    # A fresh store per example (SQLite in a new directory, PostgreSQL emptied).
    with (
        tempfile.TemporaryDirectory() as directory,
        open_empty_store(kind, request, Path(directory)) as store,
    ):
        yield store


@pytest.mark.parametrize("kind", BACKENDS)
@settings(_EXAMPLES, max_examples=60)
@given(materialization=MATERIALIZATIONS, failure=EVENTS)
def test_materializations_and_events_round_trip(
    kind: str,
    request: pytest.FixtureRequest,
    materialization: MaterializationRecord,
    failure: EventRecord,
) -> None:
    with _empty_store(kind, request) as store:
        store.record([materialization], [failure])
        key = (materialization.asset, materialization.partition)
        assert store.asset_history(materialization.asset) == [materialization]
        assert store.asset_history(*key) == [materialization]
        assert store.latest_materializations() == {key: materialization}
        assert store.latest_materializations([materialization.asset]) == {key: materialization}
        assert store.run_events(failure.run_id) == [failure]
        # Equal as text is not enough: a kind read back is the enum member.
        assert type(store.run_events(failure.run_id)[0].kind) is EventKind
        is_asset_failure = failure.kind == EventKind.FAILED and failure.asset is not None
        expected = {(failure.asset, failure.partition): failure} if is_asset_failure else {}
        assert store.latest_failures() == expected
        if failure.asset is not None:
            assert store.latest_failures([failure.asset]) == expected


@pytest.mark.parametrize("kind", BACKENDS)
@settings(_EXAMPLES, max_examples=60)
@given(run=RUNS, code_version=TEXT, source=st.text(st.characters(codec="utf-8")))
def test_runs_and_code_round_trip(
    kind: str, request: pytest.FixtureRequest, run: RunRecord, code_version: str, source: str
) -> None:
    with _empty_store(kind, request) as store:
        store.create_run(run)
        assert store.get_run(run.run_id) == run
        assert type(store.get_run(run.run_id).status) is RunStatus  # type: ignore[union-attr]
        assert store.list_runs() == [run]
        assert store.list_runs(status=run.status) == [run]
        store.save_code(code_version, source)
        assert store.get_code(code_version) == source


@pytest.mark.parametrize("kind", BACKENDS)
@settings(_EXAMPLES, max_examples=30)
@given(materializations=st.lists(MATERIALIZATIONS, max_size=8), in_one_batch=st.booleans())
def test_latest_is_the_newest_of_each_asset_partition(
    kind: str,
    request: pytest.FixtureRequest,
    materializations: list[MaterializationRecord],
    in_one_batch: bool,
) -> None:
    with _empty_store(kind, request) as store:
        if in_one_batch:
            store.record(materializations)
        else:
            for materialization in materializations:
                store.record([materialization])
        # The model: the last written of the latest finish time, per key.
        expected: dict[tuple[str, str | None], MaterializationRecord] = {}
        for materialization in materializations:
            key = (materialization.asset, materialization.partition)
            if key not in expected or materialization.finished_at >= expected[key].finished_at:
                expected[key] = materialization
        assert store.latest_materializations() == expected
        states = store.latest_states_of(expected)
        assert {key: state.run_id for key, state in states.items()} == {
            key: one.run_id for key, one in expected.items()
        }

"""RunRequest: validation, conveniences, and its JSON round trip."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assetflow import RunRequest
from assetflow.errors import SelectionError, UsageError
from assetflow.request import LATEST, REDO_CHOICES, PartitionRequest


def test_defaults_ask_for_everything():
    request = RunRequest()
    assert request.selection == "*"
    assert request.partitions is None
    assert request.redo is None
    assert request.trigger == "api"
    assert request.selection_text == "*"


def test_the_request_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        RunRequest().force = True  # type: ignore[misc]


def test_an_unknown_redo_choice_says_what_is_accepted():
    with pytest.raises(SelectionError, match=r"--redo 'stael' is not one of missing, stale"):
        RunRequest.of(redo=["stael"])
    with pytest.raises(SelectionError, match="Did you mean 'stale'"):
        RunRequest.of(redo=["stael"])


def test_an_empty_redo_means_the_default():
    assert RunRequest.of(redo=[]).redo is None
    assert RunRequest.of(redo=["failed", "failed"]).redo == frozenset({"failed"})


def test_workers_below_one_is_a_usage_error():
    with pytest.raises(UsageError, match="--workers must be 1 or more, not 0"):
        RunRequest(workers=0)


def test_tags_are_kept_sorted_and_read_back_as_a_dict():
    request = RunRequest.of(tags={"team": "data", "env": "prod"})
    assert request.tags == (("env", "prod"), ("team", "data"))
    assert request.tag_map == {"env": "prod", "team": "data"}
    assert hash(request) == hash(RunRequest.of(tags=[("team", "data"), ("env", "prod")]))


def test_the_selection_text_names_the_exclusion():
    assert RunRequest("a+", exclude="b").selection_text == "a+ --exclude b"


def test_a_range_needs_its_start():
    assert PartitionRequest.between(None, None) is None
    assert PartitionRequest.between("2026-03-01", None) == PartitionRequest("2026-03-01", LATEST)
    with pytest.raises(UsageError, match="--to needs --from"):
        PartitionRequest.between(None, "2026-03-02")


def test_assets_pinned_to_their_own_key_are_shown_after_the_main_key():
    pinned = PartitionRequest("2026-03-01", "2026-03-01", (("by_month", "2026-02"),))
    assert pinned.labels() == ("2026-03-01", "2026-02")
    assert pinned.render() == "2026-03-01, 2026-02"
    assert pinned.json() == {
        "first": "2026-03-01",
        "last": "2026-03-01",
        "each": {"by_month": "2026-02"},
    }
    # Without pins the JSON layout is the one older releases wrote.
    assert PartitionRequest.one("2026-03-01").json() == {
        "first": "2026-03-01",
        "last": "2026-03-01",
    }


def test_a_request_of_another_layout_version_is_refused():
    with pytest.raises(UsageError, match="layout version 9; this assetflow reads version 1"):
        RunRequest.from_json({"version": 9})
    with pytest.raises(UsageError, match="unknown fields: colour"):
        RunRequest.from_json({"version": 1, "colour": "red"})


_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
_pins = st.dictionaries(_text, _text, max_size=3).map(lambda d: tuple(sorted(d.items())))
_partitions = st.none() | st.builds(PartitionRequest, _text, _text, _pins)


@given(
    selection=_text,
    exclude=st.none() | _text,
    partitions=_partitions,
    redo=st.none() | st.frozensets(st.sampled_from(REDO_CHOICES), min_size=1),
    force=st.booleans(),
    trigger=st.sampled_from(["api", "cli", "schedule", "sensor", "ui"]),
    run_key=st.none() | _text,
    tags=st.dictionaries(_text, _text, max_size=3),
    executor=st.none() | st.sampled_from(["inprocess", "multiprocess"]),
    workers=st.none() | st.integers(1, 64),
    fail_fast=st.booleans(),
    newest_first=st.booleans(),
)
def test_a_request_round_trips_through_json(**fields):
    import json

    request = RunRequest.of(**fields)
    document = json.loads(json.dumps(request.to_json()))
    assert RunRequest.from_json(document) == request

"""DynamicPartitions: keys bound from the store, key validation, mappings, binding and the API."""

from __future__ import annotations

import pickle
import re
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

import assetflow
from assetflow.errors import EXIT_USAGE, DefinitionError, SelectionError, UsageError
from assetflow.partitions import (
    AllPartitions,
    DynamicPartitions,
    Identity,
    PartitionError,
    StaticPartitions,
    Window,
    check_partition_key,
    compact,
    downstream_keys,
    resolve_mapping,
    upstream_keys,
)
from assetflow.partitions.dynamic import MAX_KEY_LENGTH, UnboundPartitionsError
from assetflow.store import MemoryStore

NOW = datetime(2026, 3, 7, 12, tzinfo=UTC)
UPLOADS = DynamicPartitions("uploads")


def bound(*keys: str) -> DynamicPartitions:
    return UPLOADS.bind(keys)


# -- the definition ---------------------------------------------------------------------


def test_a_bound_definition_is_an_ordered_key_set_in_the_order_added() -> None:
    uploads = bound("b", "a", "c")
    assert uploads.keys(NOW) == ["b", "a", "c"]
    assert uploads.count(NOW) == 3
    assert uploads.latest(NOW) == "c"
    assert (uploads.index("a"), uploads.key_at(2)) == (1, "c")
    assert uploads.key_range("b", "a", NOW) == ["b", "a"]
    assert uploads.keys_between(-3, 2) == ["b", "a"]
    assert uploads.window("a") is None
    assert [part.render() for part in compact(["c", "b", "a"], uploads)] == ["b..c (3)"]


def test_an_unbound_definition_fails_loudly_rather_than_look_empty() -> None:
    for question in (
        lambda: UPLOADS.keys(NOW),
        lambda: UPLOADS.count(NOW),
        lambda: UPLOADS.latest(NOW),
        lambda: UPLOADS.index("a"),
        lambda: UPLOADS.key_at(0),
        lambda: UPLOADS.validate("a", NOW),
    ):
        with pytest.raises(UnboundPartitionsError, match="before they were read from the"):
            question()
    assert not UPLOADS.is_bound
    assert UPLOADS.window("a") is None  # no time windows, bound or not


def test_the_keys_are_not_part_of_the_definition() -> None:
    assert bound("a") == bound("b") == UPLOADS
    assert hash(bound("a")) == hash(UPLOADS)
    assert DynamicPartitions("batches") != UPLOADS
    assert bound("a", "b").describe() == UPLOADS.describe() == "dynamic: uploads"
    assert repr(bound("a")) == "DynamicPartitions('uploads')"


def test_a_definition_pickles_with_its_keys() -> None:
    assert pickle.loads(pickle.dumps(bound("a", "b"))).keys(NOW) == ["a", "b"]
    assert not pickle.loads(pickle.dumps(UPLOADS)).is_bound


def test_an_unknown_key_is_refused_with_did_you_mean_and_how_to_add_it() -> None:
    with pytest.raises(PartitionError, match="not a key of the dynamic partitions 'uploads'") as e:
        bound("batch-1", "batch-2").validate("batch-3", NOW)
    assert e.value.exit_code == EXIT_USAGE
    assert "batch-1" in e.value.suggestions
    assert "assetflow partitions add ASSET batch-3" in str(e.value)


def test_no_keys_yet_means_no_latest_partition() -> None:
    empty = bound()
    assert empty.keys(NOW) == []
    with pytest.raises(PartitionError, match="'uploads' have no keys yet") as e:
        empty.latest(NOW)
    assert "assetflow partitions add" in str(e.value)
    with pytest.raises(PartitionError, match="It has no keys yet"):
        empty.validate("a", NOW)


@pytest.mark.parametrize("name", ["", "  ", " uploads", 3])
def test_a_definition_needs_a_name(name: object) -> None:
    with pytest.raises(DefinitionError, match="needs a name"):
        DynamicPartitions(name)  # type: ignore[arg-type]


def test_it_is_exported_from_the_package() -> None:
    assert assetflow.DynamicPartitions is DynamicPartitions


# -- key validation ---------------------------------------------------------------------

_SAFE = st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="/\\.").filter(
    lambda char: not char.isspace()
)
valid_keys = st.text(_SAFE, min_size=1, max_size=MAX_KEY_LENGTH)


@given(valid_keys)
def test_keys_without_a_forbidden_part_are_accepted(key: str) -> None:
    assert check_partition_key(key) == key


@given(
    valid_keys,
    st.sampled_from(["/", "\\", "..", "\n", "\t", "\x00", "\x7f"]),
    st.integers(min_value=0, max_value=MAX_KEY_LENGTH),
)
def test_a_key_with_a_forbidden_part_anywhere_is_refused(key: str, bad: str, at: int) -> None:
    spoiled = key[:at] + bad + key[at:]
    with pytest.raises(UsageError, match=re.escape(f"the partition key {spoiled!r}")) as e:
        check_partition_key(spoiled)
    assert e.value.exit_code == EXIT_USAGE
    assert "1 to 200 characters" in e.value.hint


@given(valid_keys, st.sampled_from([" ", "\u00a0", "\u3000"]), st.booleans())
def test_a_key_with_surrounding_whitespace_is_refused(key: str, space: str, front: bool) -> None:
    spoiled = space + key if front else key + space
    with pytest.raises(UsageError, match="starts or ends with whitespace"):
        check_partition_key(spoiled)


@pytest.mark.parametrize(
    ("key", "rule"),
    [
        ("", "it is empty"),
        ("x" * 201, "201 characters long, over the 200 allowed"),
        ("2026/03", r"path separator \('/' or '\\'\)"),
        ("a\\b", "path separator"),
        ("a..b", "contains '..', which reads as a range"),
        ("a\nb", "control character"),
        (" a", "starts or ends with whitespace"),
        (7, "is a int, not a string"),
    ],
)
def test_each_rule_is_named_in_the_error(key: object, rule: str) -> None:
    with pytest.raises(UsageError, match=rule):
        check_partition_key(key)


def test_a_key_of_200_characters_is_accepted() -> None:
    assert check_partition_key("k" * 200) == "k" * 200


# -- mappings ---------------------------------------------------------------------------


def test_assets_sharing_a_definition_map_key_to_key() -> None:
    mapping = resolve_mapping(UPLOADS, DynamicPartitions("uploads"), None, asset="b", param="a")
    assert mapping == Identity()
    keys = bound("x", "y")
    assert upstream_keys(mapping, keys, "y", keys, NOW) == ["y"]
    assert downstream_keys(mapping, keys, "x", keys, NOW) == ["x"]


def test_two_dynamic_definitions_are_not_mapped_by_themselves() -> None:
    with pytest.raises(DefinitionError, match="only assets sharing one dynamic definition"):
        resolve_mapping(UPLOADS, DynamicPartitions("batches"), None, asset="b", param="a")


def test_a_declared_identity_joins_dynamic_and_static_keys() -> None:
    regions = StaticPartitions(["eu", "us"])
    assert resolve_mapping(UPLOADS, regions, Identity(), asset="b", param="a") == Identity()
    keys = bound("eu", "apac")
    assert upstream_keys(Identity(), keys, "eu", regions, NOW) == ["eu"]
    assert upstream_keys(Identity(), keys, "apac", regions, NOW) == []


def test_window_and_all_partitions_follow_the_order_added() -> None:
    keys = bound("a", "b", "c")
    assert resolve_mapping(UPLOADS, UPLOADS, Window(2), asset="b", param="a") == Window(2)
    assert upstream_keys(Window(2), keys, "c", keys, NOW) == ["b", "c"]
    assert upstream_keys(AllPartitions(), None, None, keys, NOW) == ["a", "b", "c"]


# -- binding and the Python API ---------------------------------------------------------

ASSETS = """
    from assetflow import DynamicPartitions, StaticPartitions, asset

    uploads = DynamicPartitions("uploads")

    @asset(partitions=uploads)
    def parsed(context) -> dict:
        return {"key": context.partition_key}

    @asset(partitions=uploads)
    def checked(parsed: dict) -> dict:
        return parsed

    @asset
    def summary(checked: dict) -> dict:
        return {"keys": sorted(checked)}

    @asset(partitions=StaticPartitions(["eu"]))
    def regional() -> dict:
        return {}
"""


def test_binding_reads_every_dynamic_definition_in_one_query(make_project) -> None:
    from assetflow.services.planning import bind_partitions

    project = assetflow.load(make_project(ASSETS))
    store = MemoryStore()
    store.add_partition_keys("uploads", ["b", "a"], NOW)
    asked: list[list[str]] = []
    reader = store.partition_keys
    store.partition_keys = lambda names: asked.append(sorted(names)) or reader(names)  # type: ignore[method-assign]
    bound_project = bind_partitions(project, store)
    assert asked == [["uploads"]]
    assert bound_project.graph.spec("checked").partitions.keys(NOW) == ["b", "a"]  # type: ignore[union-attr]
    assert not project.graph.spec("checked").partitions.is_bound  # type: ignore[union-attr]
    assert bound_project.graph.mapping("checked", "parsed") == Identity()


def test_the_api_adds_lists_plans_and_removes_keys(make_project) -> None:
    root = make_project(ASSETS)
    assert assetflow.add_partitions("parsed", ["a", "b"], project=root) == ["a", "b"]
    assert assetflow.add_partitions("checked", ["b", "c"], project=root) == ["c"]
    assert assetflow.partition_keys("parsed", project=root) == ["a", "b", "c"]
    planned = assetflow.plan(project=root)
    assert sorted(step.key for step in planned.steps if step.asset == "checked") == [
        ("checked", "a"),
        ("checked", "b"),
        ("checked", "c"),
    ]
    assert assetflow.materialize(project=root).success
    assert assetflow.read_asset("summary", project=root) == {"keys": ["a", "b", "c"]}
    assert assetflow.remove_partitions("parsed", ["a", "zz"], project=root) == ["a"]
    assert assetflow.partition_keys("checked", project=root) == ["b", "c"]
    assert assetflow.read_asset("parsed", partition="b", project=root) == {"key": "b"}


def test_the_api_refuses_bad_keys_and_assets_without_dynamic_partitions(make_project) -> None:
    root = make_project(ASSETS)
    with pytest.raises(UsageError, match="'a/b' is not a valid key"):
        assetflow.add_partitions("parsed", ["ok", "a/b"], project=root)
    assert assetflow.partition_keys("parsed", project=root) == []  # nothing was added
    with pytest.raises(UsageError, match="'regional' has static: eu partitions, so it has no"):
        assetflow.add_partitions("regional", ["x"], project=root)
    with pytest.raises(UsageError, match="'summary' is not partitioned"):
        assetflow.partition_keys("summary", project=root)
    with pytest.raises(SelectionError, match="no asset is named 'parsd'") as e:
        assetflow.remove_partitions("parsd", ["x"], project=root)
    assert "parsed" in e.value.suggestions
    with pytest.raises(UsageError, match="no partition keys were given"):
        assetflow.add_partitions("parsed", [], project=root)

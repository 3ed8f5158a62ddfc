"""keys_by_asset: which partition keys of each selected asset a plan covers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from assetflow.asset import AssetSettings, make_spec
from assetflow.clock import FixedClock
from assetflow.errors import SelectionError
from assetflow.graph import AssetGraph, build_graph
from assetflow.partitions import (
    DailyPartitions,
    MonthlyPartitions,
    PartitionError,
    StaticPartitions,
    WeeklyPartitions,
)
from assetflow.planner.keys import LATEST, PartitionRequest, keys_by_asset

DAILY = DailyPartitions(start="2026-03-01")
MONTHLY = MonthlyPartitions(start="2026-01-01")
WEEKLY = WeeklyPartitions(start="2026-01-05")  # Mondays
REGIONS = StaticPartitions(["eu", "us", "apac"])
#: 10:00 on 2026-03-05: the days 2026-03-01 .. 2026-03-04 are complete.
NOW = FixedClock(datetime(2026, 3, 5, 10, tzinfo=UTC)).now()
#: 2026-04-10: March and the week of 2026-03-30 are complete, April is not.
APRIL = FixedClock(datetime(2026, 4, 10, tzinfo=UTC)).now()


def raw():
    return None


def clean(raw):
    return raw


def totals(clean):
    return clean


def by_month(clean):
    return clean


def by_week(clean):
    return clean


def per_region():
    return None


@pytest.fixture
def chain() -> AssetGraph:
    """raw[daily] -> clean[daily] -> totals (unpartitioned)."""
    return build_graph(
        [
            make_spec(raw, AssetSettings(partitions=DAILY)),
            make_spec(clean, AssetSettings(partitions=DAILY)),
            make_spec(totals),
        ]
    )


@pytest.fixture
def coarser() -> AssetGraph:
    """raw[daily] -> clean[daily] -> by_month[monthly] and by_week[weekly], by time overlap."""
    return build_graph(
        [
            make_spec(raw, AssetSettings(partitions=DAILY)),
            make_spec(clean, AssetSettings(partitions=DAILY)),
            make_spec(by_month, AssetSettings(partitions=MONTHLY)),
            make_spec(by_week, AssetSettings(partitions=WEEKLY)),
        ]
    )


@pytest.fixture
def mixed() -> AssetGraph:
    """raw[daily] and, beside it, per_region[eu, us, apac]."""
    return build_graph(
        [
            make_spec(raw, AssetSettings(partitions=DAILY)),
            make_spec(per_region, AssetSettings(partitions=REGIONS)),
        ]
    )


def test_no_request_plans_every_complete_key_and_none_for_unpartitioned(chain):
    days = ["2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04"]
    assert keys_by_asset(chain, chain.names, None, NOW) == {
        "raw": days,
        "clean": days,
        "totals": [None],
    }


def test_no_request_on_an_unpartitioned_selection():
    graph = build_graph([make_spec(raw), make_spec(clean)])
    assert keys_by_asset(graph, {"raw", "clean"}, None, NOW) == {"raw": [None], "clean": [None]}


def test_only_the_named_assets_are_planned(chain):
    assert keys_by_asset(chain, {"clean"}, None, NOW) == {
        "clean": ["2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04"]
    }


def test_one_partition(chain):
    request = PartitionRequest.one("2026-03-02")
    assert request.render() == "2026-03-02"
    assert keys_by_asset(chain, chain.names, request, NOW) == {
        "raw": ["2026-03-02"],
        "clean": ["2026-03-02"],
        "totals": [None],
    }


def test_a_range_includes_both_ends(chain):
    request = PartitionRequest("2026-03-02", "2026-03-04")
    assert request.render() == "2026-03-02..2026-03-04"
    keys = keys_by_asset(chain, chain.names, request, NOW)
    assert keys["raw"] == keys["clean"] == ["2026-03-02", "2026-03-03", "2026-03-04"]
    assert keys["totals"] == [None]


def test_latest_is_the_last_complete_partition(chain):
    keys = keys_by_asset(chain, chain.names, PartitionRequest.one(LATEST), NOW)
    assert keys == {"raw": ["2026-03-04"], "clean": ["2026-03-04"], "totals": [None]}


def test_a_range_up_to_latest(chain):
    keys = keys_by_asset(chain, {"raw"}, PartitionRequest("2026-03-03", LATEST), NOW)
    assert keys == {"raw": ["2026-03-03", "2026-03-04"]}


def test_a_request_without_partitioned_assets_is_a_selection_error(chain):
    request = PartitionRequest("2026-03-01", "2026-03-02")
    with pytest.raises(SelectionError) as caught:
        keys_by_asset(chain, {"totals"}, request, NOW)
    assert caught.value.message == (
        "--partition/--from/--to ask for partitions (2026-03-01..2026-03-02), but none "
        "of the selected assets is partitioned."
    )
    assert "`assetflow list` shows which are" in caught.value.format_message()
    assert caught.value.exit_code == 2


def test_days_map_onto_the_month_and_the_week_that_contain_them(coarser):
    keys = keys_by_asset(coarser, coarser.names, PartitionRequest.one("2026-03-11"), APRIL)
    assert keys == {
        "raw": ["2026-03-11"],
        "clean": ["2026-03-11"],
        "by_month": ["2026-03"],
        "by_week": ["2026-03-09"],  # Monday 2026-03-09 .. Sunday 2026-03-15
    }


def test_a_range_of_days_maps_onto_every_week_it_overlaps(coarser):
    request = PartitionRequest("2026-03-14", "2026-03-17")  # Saturday .. Tuesday
    keys = keys_by_asset(coarser, coarser.names, request, APRIL)
    assert keys["clean"] == ["2026-03-14", "2026-03-15", "2026-03-16", "2026-03-17"]
    assert keys["by_week"] == ["2026-03-09", "2026-03-16"]
    assert keys["by_month"] == ["2026-03"]


def test_an_asset_pinned_to_its_own_key_takes_it(coarser):
    # A nightly schedule's "previous" partition over a mixed selection: the day that
    # closed for the daily assets, the month that closed for the monthly one.
    request = PartitionRequest("2026-03-11", "2026-03-11", (("by_month", "2026-02"),))
    keys = keys_by_asset(coarser, coarser.names, request, APRIL)
    assert keys["clean"] == ["2026-03-11"]
    assert keys["by_month"] == ["2026-02"]
    assert keys["by_week"] == ["2026-03-09"]


def test_only_complete_coarser_partitions_are_planned(coarser):
    # The days 2026-03-30 .. 2026-04-02 overlap March and April, but April has not ended.
    request = PartitionRequest("2026-03-30", "2026-04-02")
    keys = keys_by_asset(coarser, coarser.names, request, APRIL)
    assert keys["by_month"] == ["2026-03"]
    assert keys["by_week"] == ["2026-03-30"]  # ended on 2026-04-06


def test_the_request_is_read_in_the_definition_that_has_its_keys(coarser):
    keys = keys_by_asset(coarser, coarser.names, PartitionRequest.one("2026-02"), APRIL)
    assert keys["by_month"] == ["2026-02"]
    assert keys["raw"] == keys["clean"] == []  # daily partitions start in March
    # Every week that overlaps February, including the ones that straddle its ends.
    assert keys["by_week"] == [
        "2026-01-26",
        "2026-02-02",
        "2026-02-09",
        "2026-02-16",
        "2026-02-23",
    ]


def test_a_key_before_the_start_names_the_nearest_key(chain):
    with pytest.raises(PartitionError) as caught:
        keys_by_asset(chain, chain.names, PartitionRequest.one("2026-02-20"), NOW)
    error = caught.value
    assert error.message == (
        "partition '2026-02-20' is before the start of daily from 2026-03-01 UTC: "
        "the first key is '2026-03-01'."
    )
    assert (error.key, error.nearest) == ("2026-02-20", "2026-03-01")
    assert error.definition == "daily from 2026-03-01 UTC"
    assert "Did you mean '2026-03-01'?" in error.format_message()
    assert isinstance(error, SelectionError)


def test_a_key_not_complete_yet_names_the_latest(chain):
    with pytest.raises(PartitionError, match="Did you mean '2026-03-04'") as caught:
        keys_by_asset(chain, chain.names, PartitionRequest("2026-03-02", "2026-03-05"), NOW)
    assert "partition '2026-03-05' of daily from 2026-03-01 UTC is not complete yet" in str(
        caught.value
    )
    assert caught.value.nearest == "2026-03-04"


def test_a_badly_written_key_says_the_expected_format(chain):
    with pytest.raises(PartitionError, match=r"expected a key like 2026-03-04 \(%Y-%m-%d\)"):
        keys_by_asset(chain, chain.names, PartitionRequest.one("2026/03/02"), NOW)


def test_a_static_asset_next_to_a_daily_one(mixed):
    assert keys_by_asset(mixed, mixed.names, None, NOW) == {
        "raw": ["2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04"],
        "per_region": ["eu", "us", "apac"],
    }
    # A day is no region and a region no day: each request plans only the asset that has it.
    assert keys_by_asset(mixed, mixed.names, PartitionRequest.one("2026-03-02"), NOW) == {
        "raw": ["2026-03-02"],
        "per_region": [],
    }
    assert keys_by_asset(mixed, mixed.names, PartitionRequest("eu", "us"), NOW) == {
        "raw": [],
        "per_region": ["eu", "us"],
    }


def test_a_static_key_that_no_asset_has_is_explained_by_the_first_definition():
    graph = build_graph(
        [
            make_spec(per_region, AssetSettings(partitions=REGIONS)),
            make_spec(raw, AssetSettings(partitions=DAILY)),
        ]
    )
    # 'per_region' comes first in dependency order (ties are broken by name).
    with pytest.raises(PartitionError, match="Did you mean 'us'"):
        keys_by_asset(graph, graph.names, PartitionRequest.one("uss"), NOW)


def test_a_range_beside_dynamic_partitions_without_keys_plans_none_of_them():
    from assetflow.partitions import DynamicPartitions

    graph = build_graph(
        [
            make_spec(raw, AssetSettings(partitions=DAILY)),
            make_spec(per_region, AssetSettings(partitions=DynamicPartitions("uploads").bind([]))),
        ]
    )
    keys = keys_by_asset(
        graph, ["raw", "per_region"], PartitionRequest("2026-03-02", "2026-03-03"), NOW
    )
    assert keys == {"raw": ["2026-03-02", "2026-03-03"], "per_region": []}

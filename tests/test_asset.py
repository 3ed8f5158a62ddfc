"""@asset keeps the function callable and records its settings."""

from __future__ import annotations

import inspect

import pandas as pd
import pytest

from assetflow.asset import MISSING, NO_SETTINGS, AssetSettings, asset, kind_for_annotation, source
from assetflow.checks import not_null
from assetflow.partitions import DailyPartitions, StaticPartitions, Window
from tests.conftest import clean_records, raw_records


def test_asset_is_still_a_plain_function_call():
    df = pd.DataFrame({"id": [1, 1, 2], "amount": [1.0, 1.0, None]})
    result = clean_records(raw_records=df)
    assert result.to_dict("list") == {"id": [1], "amount": [1.0]}


def test_bare_decorator_uses_function_name_and_docstring():
    assert raw_records.name == "raw_records"
    assert raw_records.description == "Records from the source."
    assert raw_records.group == "ingest"
    assert raw_records.tags == frozenset({"nightly"})


def test_decorated_object_looks_like_the_function():
    assert raw_records.__name__ == "raw_records"
    assert raw_records.__doc__ == "Records from the source."
    assert list(inspect.signature(clean_records).parameters) == ["raw_records"]


def test_settings_are_recorded():
    @asset(name="renamed", group="g", tags="one", description="d", io="json", code_version="7")
    def fn(context, upstream, limit: int = 3) -> dict:
        return {}

    assert fn.name == "renamed"
    assert fn.tags == frozenset({"one"})
    assert fn.code_version == "7"
    assert fn.kind == "json"
    assert fn.wants_context
    assert [p.name for p in fn.input_params()] == ["upstream", "limit"]
    assert fn.params[2].has_default
    assert fn.returns is dict


def test_kind_is_derived_from_the_return_annotation():
    import pyarrow as pa

    assert kind_for_annotation(pd.DataFrame) == "parquet"
    assert kind_for_annotation(pa.Table) == "parquet"
    assert kind_for_annotation(None) == "none"
    assert kind_for_annotation(dict[str, int]) == "json"
    assert kind_for_annotation(MISSING) == "auto"
    assert kind_for_annotation("pd.DataFrame") == "parquet"


def test_missing_annotation_is_auto():
    @asset
    def untyped(x):
        return x

    assert untyped.returns is MISSING
    assert untyped.kind == "auto"


def test_location_points_at_the_definition():
    assert clean_records.file.endswith("conftest.py")
    assert clean_records.line > 0


def test_the_decorator_builds_one_settings_record_the_spec_reads_through():
    daily = DailyPartitions(start="2026-01-01")
    email_present = not_null("email")

    @asset(
        group="finance",
        tags=["a", "b"],
        io="duckdb",
        code_version="2",
        partitions=daily,
        mappings={"raw": Window(3)},
        checks=[email_present],
        retries=2,
        retry_delay=1.5,
        timeout=30.0,
        pool="api",
    )
    def totals(raw: dict) -> dict:
        return raw

    assert totals.settings == AssetSettings(
        group="finance",
        tags=frozenset({"a", "b"}),
        io="duckdb",
        code_version="2",
        partitions=daily,
        mappings={"raw": Window(3)},
        checks=(email_present,),
        retry=totals.retry,
        timeout=30.0,
        pool="api",
    )
    assert (totals.group, totals.io, totals.partitions, totals.pool) == (
        "finance",
        "duckdb",
        daily,
        "api",
    )
    assert totals.retry is not None
    assert (totals.retry.retries, totals.retry.retry_delay) == (2, 1.5)
    assert dict(totals.mappings) == {"raw": Window(3)}
    assert totals.checks == (email_present,)


def test_an_asset_without_settings_has_the_defaults():
    @asset
    def plain() -> dict:
        return {}

    assert plain.settings == NO_SETTINGS
    assert (plain.group, plain.io, plain.partitions, plain.retry, plain.pool) == (
        "default",
        "auto",
        None,
        None,
        None,
    )
    assert dict(plain.mappings) == {}


def test_the_declared_mappings_cannot_be_changed_afterwards():
    given = {"raw": Window(2)}

    @asset(partitions=StaticPartitions(["eu"]), mappings=given)
    def rolled(raw: dict) -> dict:
        return raw

    given["raw"] = Window(9)
    assert rolled.mappings["raw"] == Window(2)
    with pytest.raises(TypeError):
        rolled.mappings["raw"] = Window(9)  # type: ignore[index]


def test_a_source_has_only_selection_settings():
    @source(group="outside", tags="etag")
    def feed() -> str:
        return "v1"

    assert feed.is_source
    assert feed.settings == AssetSettings(group="outside", tags=frozenset({"etag"}))
    assert feed.kind == "source"

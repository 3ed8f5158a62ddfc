"""@asset keeps the function callable and records its settings."""

from __future__ import annotations

import inspect

import pandas as pd

from assetflow.asset import MISSING, asset, kind_for_annotation
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

"""@asset keeps the function callable and records its settings."""

from __future__ import annotations

import functools
import inspect
from datetime import timedelta
from typing import Any

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from assetflow.asset import (
    MISSING,
    NO_SETTINGS,
    AssetSettings,
    asset,
    file_source,
    kind_for_annotation,
    make_spec,
    parameters,
    source,
)
from assetflow.checks import not_null
from assetflow.codecache import compute, output_settings
from assetflow.errors import DefinitionError
from assetflow.loader import load_project
from assetflow.partitions import DailyPartitions, StaticPartitions, Window
from assetflow.policies import Eager, Missing, OnCron, on_cron
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


# --- automation and source sensors -------------------------------------------------------


def test_automation_is_stored_as_a_policy():
    @asset(automation="eager")
    def eager_one() -> dict:
        return {}

    @asset(automation="missing")
    def missing_one() -> dict:
        return {}

    @asset(automation=on_cron("0 * * * *", "Europe/Berlin"))
    def hourly() -> dict:
        return {}

    assert eager_one.automation == Eager()
    assert missing_one.automation == Missing()
    assert hourly.automation == OnCron("0 * * * *", "Europe/Berlin")
    assert raw_records.automation is None


def test_a_misspelled_automation_names_the_asset_and_its_line():
    with pytest.raises(DefinitionError) as info:

        @asset(automation="eagr")
        def orders() -> dict:
            return {}

    message = str(info.value)
    assert message.startswith("asset 'orders' (")
    assert "test_asset.py:" in message
    assert "has automation='eagr', which is not an automation policy" in message
    assert "Did you mean 'eager'?" in message


def test_automation_leaves_the_output_settings_alone():
    def body() -> dict:
        return {}

    assert output_settings(asset(automation="eager")(body)) == output_settings(asset(body))


ORDERS = """
    from assetflow import asset, on_cron

    @asset{decorator}
    def orders() -> dict:
        return {{"n": 1}}
"""


@pytest.mark.parametrize("decorator", ['(automation="eager")', '(automation=on_cron("@daily"))'])
def test_automation_does_not_change_the_code_version(make_project, decorator):
    plain = load_project(make_project(ORDERS.format(decorator=""), name="plain"))
    automated = load_project(make_project(ORDERS.format(decorator=decorator), name="automated"))
    assert automated.graph.spec("orders").automation is not None
    before = compute(plain, ["orders"])["orders"].version
    assert compute(automated, ["orders"])["orders"].version == before


def test_a_source_sensor_and_its_interval():
    @source(sensor=True, sensor_interval="5m")
    def feed() -> str:
        return "etag"

    files = file_source("files", "data/x.csv", sensor=True, sensor_interval=90)
    assert (feed.sensor, feed.sensor_interval) == (True, timedelta(minutes=5))
    assert (files.sensor, files.sensor_interval) == (True, timedelta(seconds=90))


def test_a_source_is_no_sensor_by_default_and_observed_every_30_seconds_when_it_is():
    quiet = file_source("quiet", "data/x.csv")
    watched = file_source("watched", "data/x.csv", sensor=True)
    assert quiet.sensor is False
    assert watched.sensor_interval == timedelta(seconds=30)
    assert raw_records.sensor is False


def test_a_bad_sensor_interval_names_the_source():
    with pytest.raises(DefinitionError) as info:
        file_source("files", "data/x.csv", sensor=True, sensor_interval="often")
    message = str(info.value)
    assert message.startswith("file_source 'files' (")
    assert "test_asset.py:" in message
    assert "sensor_interval is 'often', which is not a duration" in message

    with pytest.raises(DefinitionError, match=r"source 'feed' \(.*\): sensor_interval is -1"):

        @source(sensor=True, sensor_interval=-1)
        def feed() -> str:
            return "x"


def test_a_non_source_cannot_be_a_source_sensor():
    def orders() -> dict:
        return {}

    with pytest.raises(DefinitionError) as info:
        make_spec(orders, AssetSettings(sensor=True))
    message = str(info.value)
    assert message.startswith("asset 'orders' (")
    assert "has sensor=True, but only a source is observed by a sensor" in message
    assert "@source(sensor=True)" in message


def test_a_source_cannot_carry_an_automation_policy():
    def feed() -> str:
        return "x"

    with pytest.raises(DefinitionError, match="has an automation policy, but a source is observed"):
        make_spec(feed, AssetSettings(automation=Eager()), is_source=True)


def _signature_of(fn: Any) -> list[tuple[str, bool, bool]]:
    return [
        (p.name, p.default is not p.empty, p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD))
        for p in inspect.signature(fn).parameters.values()
    ]


@st.composite
def function_sources(draw: st.DrawFn) -> str:
    """The text of a function with any mix of parameter kinds and defaults."""
    names = iter(f"p{i}" for i in range(20))
    parts: list[str] = []
    posonly = draw(st.integers(0, 2))
    positional = draw(st.integers(0, 3))
    defaults_from = draw(st.integers(0, posonly + positional))
    for index in range(posonly + positional):
        parts.append(next(names) + ("=1" if index >= defaults_from else ""))
        if posonly and index == posonly - 1:
            parts.append("/")
    varargs = draw(st.booleans())
    keyword_only = draw(st.lists(st.booleans(), max_size=3))
    if varargs:
        parts.append("*" + next(names))
    elif keyword_only:
        parts.append("*")
    parts += [next(names) + ("=2" if default else "") for default in keyword_only]
    if draw(st.booleans()):
        parts.append("**" + next(names))
    return f"def f({', '.join(parts)}):\n    return None\n"


@given(function_sources())
def test_parameters_are_read_as_the_signature_says(source: str) -> None:
    namespace: dict[str, Any] = {}
    exec(source, namespace)
    fn = namespace["f"]
    assert parameters(fn) == _signature_of(fn)


def test_parameters_of_wrappers_and_partials_follow_the_signature() -> None:
    def base(a: int, b: int = 2, *, c: int) -> int:
        return a + b + c

    @functools.wraps(base)
    def wrapper(*args: Any, **kwargs: Any) -> int:
        return base(*args, **kwargs)

    for fn in (wrapper, functools.partial(base, 1)):
        assert parameters(fn) == _signature_of(fn)

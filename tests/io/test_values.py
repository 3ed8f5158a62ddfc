"""Which kind a value is stored as, its JSON form, and the error for what cannot be stored."""

from __future__ import annotations

import enum
from collections.abc import Iterator
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from pydantic import BaseModel

from assetflow.errors import WriteError
from assetflow.io import io_kind_for_value
from assetflow.io.values import SUPPORTED, to_json_value

# Run again in CI against the oldest supported pandas (see .ci/run).
pytestmark = pytest.mark.oldest_pandas


class Order(BaseModel):
    id: int
    placed: date
    tags: tuple[str, ...] = ()


class Color(enum.StrEnum):
    RED = "red"


class Size(enum.IntEnum):
    LARGE = 3


class Thing:
    """A custom object, which assetflow cannot store."""


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (pd.DataFrame({"a": [1]}), "parquet"),
        (pa.table({"a": [1]}), "parquet"),
        (None, "none"),
        ({"a": [1, 2.5, None, True, "x"]}, "json"),
        ([1, 2], "json"),
        ((1, 2), "json"),
        ("text", "json"),
        (0, "json"),
        (1.5, "json"),
        (False, "json"),
        (Order(id=1, placed=date(2026, 3, 1)), "json"),
        ([Order(id=1, placed=date(2026, 3, 1))], "json"),
        ({"total": np.int64(3), "mean": np.float64(1.5)}, "json"),
    ],
)
def test_kind_for_value(value: object, kind: str) -> None:
    assert io_kind_for_value(value) == kind


def _generator() -> Iterator[int]:
    yield 1


@pytest.mark.parametrize(
    ("value", "message", "fix"),
    [
        ({1, 2}, r"returned a value of type set, which assetflow cannot store", "sorted("),
        (_generator(), r"returned a value of type generator,", "list(values)"),
        (np.arange(3), r"returned a value of type numpy\.ndarray,", 'pd.DataFrame({"value"'),
        (pd.Series([1, 2]), r"returned a value of type pandas\.Series,", "series.to_frame()"),
        (Thing(), r"returned a value of type tests\.io\.test_values\.Thing,", "pydantic model"),
        (b"raw", r"returned a value of type bytes,", "value.decode()"),
        (date(2026, 3, 1), r"returned a value of type datetime\.date,", "isoformat"),
        ({"tags": {"a"}}, r"returned a value containing a set at \$\['tags'\],", "sorted("),
        ([1, [2, np.zeros(2)]], r"containing a numpy\.ndarray at \$\[1\]\[1\],", "tolist()"),
    ],
)
def test_unsupported_values_name_their_type_and_the_fix(
    value: object, message: str, fix: str
) -> None:
    with pytest.raises(WriteError, match=message) as caught:
        io_kind_for_value(value, asset="daily_totals")
    error = caught.value
    assert error.message.startswith("asset 'daily_totals' returned a value")
    assert fix in error.hint
    assert SUPPORTED in error.hint  # every such error lists what is supported


def test_the_supported_list_names_every_kind() -> None:
    for supported in ("pandas.DataFrame", "pyarrow.Table", "Parquet", "pydantic", "-> None"):
        assert supported in SUPPORTED


def test_a_dict_key_that_is_not_a_string_is_refused() -> None:
    with pytest.raises(WriteError, match=r"the key 2026 \(of type int\) at \$\['by_year'\]"):
        io_kind_for_value({"by_year": {2026: 1.0}}, asset="totals")


@pytest.mark.parametrize("number", [float("nan"), float("inf"), np.float64("-inf")])
def test_nan_and_infinity_are_refused_in_json(number: float) -> None:
    with pytest.raises(
        WriteError, match=r"returned the float .* at \$\['ratio'\]; JSON has no NaN"
    ):
        io_kind_for_value({"ratio": number}, asset="stats")


def test_without_an_asset_name_the_message_still_reads() -> None:
    with pytest.raises(WriteError, match=r"^the asset returned a value of type set"):
        io_kind_for_value({3})


def test_json_form_is_plain_python() -> None:
    value = {
        "order": Order(id=1, placed=date(2026, 3, 1), tags=("a",)),
        "pair": (1, 2),
        "color": Color.RED,
        "size": Size.LARGE,
        "count": np.int64(7),
        "flag": np.bool_(True),
    }
    converted = to_json_value(value)
    assert converted == {
        "order": {"id": 1, "placed": "2026-03-01", "tags": ["a"]},
        "pair": [1, 2],
        "color": "red",
        "size": 3,
        "count": 7,
        "flag": True,
    }
    assert type(converted["color"]) is str
    assert type(converted["size"]) is int
    assert type(converted["count"]) is int
    assert type(converted["flag"]) is bool

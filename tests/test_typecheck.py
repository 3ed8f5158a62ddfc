"""Tests for assetflow.typecheck: return values against annotations and Schemas, conversions."""

from __future__ import annotations

import datetime as dt
import enum
import logging
import re
import subprocess
import sys
from decimal import Decimal
from typing import Annotated, Any, Literal, Optional, Union

import numpy as np
import pandas as pd
import pyarrow as pa
import pydantic
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import AwareDatetime, BaseModel, Field, NaiveDatetime

from assetflow.asset import MISSING
from assetflow.errors import DefinitionError
from assetflow.typecheck import (
    Schema,
    TypeCheckError,
    can_convert,
    check_annotation,
    check_output,
    conversion_problem,
    convert_input,
)
from tests.pandas_versions import DATETIME_UNIT, STR_DTYPE, STR_SHOWN

# Run again in CI against the oldest supported pandas (see .ci/run).
pytestmark = pytest.mark.oldest_pandas

ASSET = "clean_records"
DAY = "2026-03-01"


class Record(BaseModel):
    id: int
    amount: float


class Labelled(BaseModel):
    id: int
    label: str


class Status(enum.Enum):
    NEW = "new"
    DONE = "done"


def check(value: Any, annotation: Any, partition: str | None = DAY) -> None:
    check_output(value, annotation, asset=ASSET, partition=partition)


def frame_of(model: type[BaseModel], **kwargs: Any) -> Any:
    return Annotated[pd.DataFrame, Schema(model, **kwargs)]


def table_of(model: type[BaseModel], **kwargs: Any) -> Any:
    return Annotated[pa.Table, Schema(model, **kwargs)]


# -- top-level types ----------------------------------------------------------------------


def test_dict_for_a_dataframe_names_asset_partition_expected_and_found():
    with pytest.raises(TypeCheckError) as caught:
        check({"id": [1]}, pd.DataFrame)
    error = caught.value
    assert str(error).startswith(
        "asset 'clean_records' [2026-03-01] returned a dict, but its return annotation is "
        "pandas.DataFrame.\n\nThe return annotation is the asset's contract"
    )
    assert "nothing was written" in str(error)
    assert (error.asset, error.partition) == (ASSET, DAY)
    assert (error.expected, error.found) == ("pandas.DataFrame", "a dict")
    assert error.exit_code == 1
    assert error.rows == []


def test_unpartitioned_asset_has_no_partition_in_the_message():
    with pytest.raises(TypeCheckError, match=r"^asset 'clean_records' returned a dict, but"):
        check({}, pd.DataFrame, partition=None)


def test_a_dataframe_is_not_a_table_and_back():
    frame = pd.DataFrame({"id": [1]})
    with pytest.raises(
        TypeCheckError, match=r"returned a DataFrame, but its return annotation is pyarrow.Table"
    ):
        check(frame, pa.Table)
    with pytest.raises(
        TypeCheckError, match=r"returned a Table, but its return annotation is pandas.DataFrame"
    ):
        check(pa.Table.from_pandas(frame), pd.DataFrame)


def test_bool_is_not_an_int():
    with pytest.raises(
        TypeCheckError,
        match=re.escape(
            "returned a bool (True), but its return annotation is int "
            "(a bool is not accepted as a number)."
        ),
    ):
        check(True, int)
    with pytest.raises(
        TypeCheckError, match=r"returned a bool \(False\), but its return annotation is float"
    ):
        check(False, float)


@pytest.mark.parametrize(
    ("value", "annotation"),
    [
        (3, int),
        (np.int64(3), int),
        (3, float),  # every int is a float, as in PEP 484 and pydantic
        (3.5, float),
        (np.float32(1.5), float),
        (True, bool),
        (np.bool_(True), bool),
        ("x", str),
        (b"x", bytes),
        (None, None),
        (None, type(None)),
        ([1, 2], list),
        ({"a": 1}, dict),
    ],
)
def test_scalars_and_plain_containers_that_match(value, annotation):
    check(value, annotation)


@pytest.mark.parametrize(
    ("value", "annotation", "message"),
    [
        (1, bool, r"returned an int \(1\), but its return annotation is bool"),
        (1.5, int, r"returned a float \(1.5\), but its return annotation is int"),
        ("1", int, r"returned a str \('1'\), but its return annotation is int"),
        (0, None, r"returned an int \(0\), but its return annotation is None\."),
        (None, str, r"returned None, but its return annotation is str"),
        ((1, 2), list, r"returned a tuple, but its return annotation is list"),
    ],
)
def test_scalar_mismatches(value, annotation, message):
    with pytest.raises(TypeCheckError, match=message):
        check(value, annotation)


def test_optional_accepts_none_and_its_type_only():
    for annotation in (Optional[int], int | None, Union[int, None]):  # noqa: UP007, UP045
        check(None, annotation)
        check(4, annotation)
    with pytest.raises(
        TypeCheckError, match=r"returned a str \('4'\), but its return annotation is int \| None"
    ):
        check("4", int | None)
    with pytest.raises(TypeCheckError, match="a bool is not accepted as a number"):
        check(True, int | None)


def test_union_and_literal():
    check("a", int | str)
    check(2, int | str)
    with pytest.raises(
        TypeCheckError, match=r"returned a float \(2.5\), but its return annotation is int \| str"
    ):
        check(2.5, int | str)
    check("new", Literal["new", "done"])
    with pytest.raises(
        TypeCheckError, match=r"returned a str \('old'\), but .* is Literal\['new', 'done'\]"
    ):
        check("old", Literal["new", "done"])
    with pytest.raises(TypeCheckError, match=r"is Literal\[1\]"):
        check(True, Literal[1])  # True == 1, but a flag is not the number one


def test_pydantic_model_needs_an_instance_not_a_dict():
    check(Record(id=1, amount=2.0), Record)
    with pytest.raises(
        TypeCheckError,
        match=re.escape(
            "returned a dict, but its return annotation is Record "
            "(a dict is not converted to a model on output: return the model)."
        ),
    ):
        check({"id": 1, "amount": 2.0}, Record)


def test_list_of_models_names_the_bad_item():
    good = Record(id=1, amount=1.0)
    check([good, good], list[Record])
    with pytest.raises(
        TypeCheckError,
        match=re.escape(
            "returned a list whose item 1 is a dict, but its return annotation is "
            "list[Record]: items must be Record."
        ),
    ):
        check([good, {"id": 2, "amount": 1.0}], list[Record])
    with pytest.raises(TypeCheckError, match=re.escape("(2 of 3 items do not match: 1, 2)")):
        check([good, {}, None], list[Record])


def test_list_of_scalars_checks_every_item_one_level_deep():
    check([1, 2, 3], list[int])
    check([[1], ["not checked deeper"]], list[list[int]])
    with pytest.raises(
        TypeCheckError, match=r"whose item 2 is a bool \(True\), .* items must be int"
    ):
        check([1, 2, True], list[int])
    with pytest.raises(
        TypeCheckError, match=r"item 0 is an int \(1\), .* items must be list\[int\]"
    ):
        check([1], list[list[int]])


def test_dict_keys_and_values_are_checked():
    check({"a": 1, "b": 2}, dict[str, int])
    check({"a": None}, dict[str, int | None])
    with pytest.raises(
        TypeCheckError,
        match=re.escape(
            "returned a dict whose key 3 is an int (3), but its return annotation is "
            "dict[str, int]: keys must be str."
        ),
    ):
        check({"a": 1, 3: 2}, dict[str, int])
    with pytest.raises(
        TypeCheckError, match=r"whose value for key 'b' is a str \('x'\), .*: values must be int\."
    ):
        check({"a": 1, "b": "x"}, dict[str, int])


def test_tuples_and_sets():
    check((1, "a"), tuple[int, str])
    check((1, 2, 3), tuple[int, ...])
    check({1, 2}, set[int])
    with pytest.raises(
        TypeCheckError, match=r"returned a tuple of 3 items, but .* tuple\[int, str\]"
    ):
        check((1, "a", 2), tuple[int, str])
    with pytest.raises(
        TypeCheckError, match=r"whose item 1 is an int \(2\), .*: item 1 must be str\."
    ):
        check((1, 2), tuple[int, str])
    with pytest.raises(TypeCheckError, match=r"returned a set holding a str \('x'\)"):
        check({1, "x"}, set[int])


@pytest.mark.parametrize("annotation", [MISSING, Any, object])
def test_missing_any_and_object_accept_anything(annotation):
    check(object(), annotation)
    check(None, annotation)


def test_unresolved_text_annotation_is_not_checked_and_logged(caplog):
    with caplog.at_level(logging.DEBUG, logger="assetflow.typecheck"):
        check({"not": "a frame"}, "pd.DataFrame")
    assert "'pd.DataFrame' is unresolved text" in caplog.text


def test_other_classes_are_checked_with_isinstance():
    check(dt.date(2026, 1, 1), dt.date)
    with pytest.raises(TypeCheckError, match=r"returned a str .* its return annotation is date"):
        check("2026-01-01", dt.date)


# -- Schema: pandas -----------------------------------------------------------------------


def test_frame_matching_the_schema_passes_and_extra_columns_are_allowed():
    frame = pd.DataFrame({"id": [1, 2], "amount": [1.5, 2.5], "extra": ["x", "y"]})
    check(frame, frame_of(Record))


def test_schema_checks_the_type_first():
    with pytest.raises(
        TypeCheckError, match=r"returned a list, but its return annotation is pandas.DataFrame"
    ):
        check([{"id": 1, "amount": 1.0}], frame_of(Record))


def test_missing_columns_are_listed():
    frame = pd.DataFrame({"id": [1], "total": [2.0]})
    with pytest.raises(
        TypeCheckError,
        match=re.escape(
            "asset 'clean_records' [2026-03-01] returned a DataFrame that lacks the column "
            "'amount' that Record requires (its columns: 'id' and 'total')."
        ),
    ) as caught:
        check(frame, frame_of(Record))
    assert "rename columns to the model's field names" in caught.value.hint


def test_wrong_dtype_str_column_for_int_field():
    frame = pd.DataFrame({"id": ["1", "2"], "amount": [1.0, 2.0]})
    with pytest.raises(
        TypeCheckError,
        match=re.escape(
            f"returned a DataFrame whose column 'id' has dtype {STR_SHOWN}, but Record.id is int, "
            "which "
            "needs an integer dtype (int64, Int64, or Arrow int*)."
        ),
    ) as caught:
        check(frame, frame_of(Record))
    assert "df['id'] = df['id'].astype('int64')" in caught.value.hint


def test_float_column_for_int_field_suggests_nullable_int():
    frame = pd.DataFrame({"id": [1, None], "amount": [1.0, 2.0]})  # pandas makes it float64
    with pytest.raises(
        TypeCheckError, match=r"column 'id' has dtype float64, but Record.id is int"
    ) as caught:
        check(frame, frame_of(Record))
    assert "astype('Int64')" in caught.value.hint
    assert "int column with missing values into float64" in caught.value.hint


def test_int_dtypes_for_int_and_float_fields():
    for dtype in ("int8", "uint32", "int64", "Int64", "UInt8", pd.ArrowDtype(pa.int16())):
        frame = pd.DataFrame(
            {"id": pd.Series([1, 2], dtype=dtype), "amount": pd.Series([1, 2], dtype=dtype)}
        )
        check(frame, frame_of(Record))


def test_nulls_in_a_non_optional_column_show_the_first_rows():
    frame = pd.DataFrame({"id": range(10), "amount": [1.0, None, 2.0, None, 3.0, 4, None, 5, 6, 7]})
    with pytest.raises(
        TypeCheckError,
        match=re.escape(
            "asset 'clean_records' [2026-03-01] returned a DataFrame whose column 'amount' has "
            "3 nulls, but Record.amount is not Optional. First offending rows:\n\n"
            "    row 1: {'id': 1, 'amount': None}\n"
            "    row 3: {'id': 3, 'amount': None}\n"
            "    row 6: {'id': 6, 'amount': None}\n\n"
            "The Schema is the asset's contract"
        ),
    ) as caught:
        check(frame, frame_of(Record))
    error = caught.value
    assert error.rows == [
        {"id": 1, "amount": None},
        {"id": 3, "amount": None},
        {"id": 6, "amount": None},
    ]
    assert "df.dropna(subset=['amount'])" in error.hint
    assert "make Record.amount Optional (amount: float | None)" in error.hint


def test_at_most_five_rows_are_shown_and_index_labels_are_named():
    frame = pd.DataFrame({"id": range(8), "amount": [None] * 8}, index=list("abcdefgh"))
    with pytest.raises(TypeCheckError, match="has 8 nulls") as caught:
        check(frame, frame_of(Record))
    assert len(caught.value.rows) == 5
    assert "    row 0 (index 'a'): {'id': 0, 'amount': None}" in str(caught.value)


def test_optional_fields_allow_nulls():
    class Loose(BaseModel):
        id: int | None
        amount: Optional[float]  # noqa: UP045
        label: Any

    frame = pd.DataFrame(
        {"id": pd.array([1, None], dtype="Int64"), "amount": [None, 1.0], "label": [None, None]}
    )
    check(frame, frame_of(Loose))


def test_several_problems_are_reported_together():
    frame = pd.DataFrame({"id": ["a"], "label": [None]})
    with pytest.raises(
        TypeCheckError,
        match=re.escape(
            "returned a DataFrame that does not match Record in 2 ways: it lacks the column "
            "'amount' that Record requires (its columns: 'id' and 'label'); column 'id' has "
            f"dtype {STR_SHOWN}, but Record.id is int"
        ),
    ):
        check(frame, frame_of(Record))


# pandas 3: the default string dtype, object columns, and copy-on-write


@pytest.mark.parametrize(
    "column",
    [
        pd.Series(["a", "b"]),  # pandas 3's default: str (pyarrow storage, NaN as null)
        pd.Series(["a", "b"], dtype=object),
        pd.Series(["a", "b"], dtype="string[pyarrow]"),
        pd.Series(["a", "b"], dtype="string[python]"),
        pd.Series(["a", "b"], dtype="category"),
        pd.Series(["a", "b"], dtype=object).astype("category"),
        pd.Series(["a", "b"], dtype=pd.ArrowDtype(pa.string())),
        pd.Series(["a", "b"], dtype=pd.ArrowDtype(pa.large_string())),
    ],
    ids=[
        "str",
        "object",
        "string_pyarrow",
        "string_python",
        "category",
        "category_object",
        "arrow",
        "large",
    ],
)
def test_string_columns_of_every_kind_fit_a_str_field(column):
    check(pd.DataFrame({"id": [1, 2], "label": column}), frame_of(Labelled))


def test_pandas3_default_string_dtype_is_str():
    frame = pd.DataFrame({"id": [1], "label": ["x"]})
    assert str(frame["label"].dtype) == STR_DTYPE
    check(frame, frame_of(Labelled))


@pytest.mark.parametrize(
    "dtype",
    [None, object, "string[pyarrow]", "category"],
    ids=["str", "object", "string", "category"],
)
def test_missing_strings_are_nulls_in_every_string_dtype(dtype):
    frame = pd.DataFrame({"id": [1, 2, 3], "label": pd.Series(["a", None, np.nan], dtype=dtype)})
    with pytest.raises(
        TypeCheckError, match=r"column 'label' has 2 nulls, but Labelled.label is not Optional"
    ):
        check(frame, frame_of(Labelled))


def test_object_column_mixing_strings_and_numbers_is_not_str():
    frame = pd.DataFrame({"id": [1, 2], "label": pd.Series(["a", 3], dtype=object)})
    with pytest.raises(
        TypeCheckError,
        match=re.escape(
            "column 'label' has dtype object (mixed-integer values), but Labelled.label is str"
        ),
    ):
        check(frame, frame_of(Labelled))


def test_object_column_of_only_nulls_fits_an_optional_field_and_fails_a_required_one():
    class MaybeLabelled(BaseModel):
        label: str | None

    frame = pd.DataFrame({"label": pd.Series([None, None], dtype=object)})
    check(frame, frame_of(MaybeLabelled))
    with pytest.raises(TypeCheckError, match="column 'label' has 2 nulls"):
        check(frame.assign(id=[1, 2]), frame_of(Labelled))


def test_category_of_ints_is_not_a_str_column():
    frame = pd.DataFrame({"id": [1], "label": pd.Series([1], dtype="category")})
    with pytest.raises(
        TypeCheckError,
        match=r"column 'label' has dtype category of int64, but Labelled.label is str",
    ):
        check(frame, frame_of(Labelled))


def test_check_leaves_the_frame_alone_under_copy_on_write():
    frame = pd.DataFrame({"id": [1, 2, 3], "label": ["a", None, "c"], "other": [1.0, 2.0, 3.0]})
    before = frame.copy(deep=True)
    view = frame[frame["id"] > 1][["id", "label"]]  # a derived frame, copied lazily
    with pytest.raises(TypeCheckError, match="has 1 null"):
        check(view, frame_of(Labelled))
    check(frame.dropna(), frame_of(Labelled))
    pd.testing.assert_frame_equal(frame, before)
    assert view["label"].isna().sum() == 1


# Literal and Enum


def test_literal_values_outside_the_set_are_counted_with_examples():
    class Event(BaseModel):
        id: int
        status: Literal["new", "done"]

    frame = pd.DataFrame({"id": range(5), "status": ["new", "old", "done", "gone", "old"]})
    with pytest.raises(
        TypeCheckError,
        match=re.escape(
            "returned a DataFrame whose column 'status' has 3 values outside the allowed set "
            "(e.g. 'old', 'gone'), but Event.status is Literal['new', 'done']. First offending "
            "rows:\n\n    row 1: {'id': 1, 'status': 'old'}"
        ),
    ):
        check(frame, frame_of(Event))
    check(frame.iloc[[0, 2]], frame_of(Event))
    check(frame.iloc[[0, 2]].astype({"status": "category"}), frame_of(Event))


def test_literal_on_a_categorical_column_checks_its_categories():
    class Event(BaseModel):
        status: Literal["new", "done"]

    column = pd.Categorical(["new", "new"], categories=["new", "done", "old"])  # unused category
    check(pd.DataFrame({"status": column}), frame_of(Event))
    with pytest.raises(TypeCheckError, match=r"has 1 value outside the allowed set \(e.g. 'old'\)"):
        check(pd.DataFrame({"status": pd.Categorical(["new", "old"])}), frame_of(Event))


def test_enum_field_takes_its_values_and_optional_literal_allows_nulls():
    class Event(BaseModel):
        status: Status
        level: Literal[1, 2] | None

    frame = pd.DataFrame({"status": ["new", "done"], "level": pd.array([1, None], dtype="Int64")})
    check(frame, frame_of(Event))
    with pytest.raises(
        TypeCheckError, match=r"column 'level' has 1 value outside the allowed set \(e.g. 3\)"
    ):
        check(frame.assign(level=[1, 3]), frame_of(Event))
    with pytest.raises(
        TypeCheckError, match=r"column 'status' has 1 value outside .*\(e.g. 'NEW'\)"
    ):
        check(frame.assign(status=["NEW", "done"]), frame_of(Event))


# dates and times


class Stamped(BaseModel):
    at: dt.datetime


def test_datetime_field_takes_naive_and_tz_aware_columns():
    naive = pd.date_range("2026-01-01", periods=3, freq="h")
    check(pd.DataFrame({"at": naive}), frame_of(Stamped))
    check(pd.DataFrame({"at": naive.tz_localize("Europe/Paris")}), frame_of(Stamped))
    check(pd.DataFrame({"at": pd.Series(naive).astype("datetime64[s]")}), frame_of(Stamped))
    check(
        pd.DataFrame({"at": pd.Series(list(naive.to_pydatetime()), dtype=object)}),
        frame_of(Stamped),
    )
    with pytest.raises(
        TypeCheckError,
        match=re.escape(f"column 'at' has dtype {STR_SHOWN}, but Stamped.at is datetime"),
    ):
        check(pd.DataFrame({"at": ["2026-01-01"]}), frame_of(Stamped))


def test_aware_and_naive_datetime_fields_check_the_time_zone():
    class Aware(BaseModel):
        at: AwareDatetime

    class Naive(BaseModel):
        at: NaiveDatetime

    naive = pd.DataFrame({"at": pd.date_range("2026-01-01", periods=2)})
    aware = pd.DataFrame({"at": pd.date_range("2026-01-01", periods=2, tz="UTC")})
    check(aware, frame_of(Aware))
    check(naive, frame_of(Naive))
    with pytest.raises(
        TypeCheckError,
        match=re.escape(
            f"column 'at' has dtype datetime64[{DATETIME_UNIT}], but Aware.at is AwareDatetime, "
            "which needs a tz-aware"
        ),
    ):
        check(naive, frame_of(Aware))
    with pytest.raises(
        TypeCheckError,
        match=re.escape(
            f"has dtype datetime64[{DATETIME_UNIT}, UTC], but Naive.at is NaiveDatetime"
        ),
    ):
        check(aware, frame_of(Naive))


def test_nat_is_a_null():
    frame = pd.DataFrame({"at": pd.to_datetime(["2026-01-01", None])})
    with pytest.raises(TypeCheckError, match=r"has 1 null.*\n\n    row 1: \{'at': None\}"):
        check(frame, frame_of(Stamped))


class Daily(BaseModel):
    day: dt.date


@pytest.mark.parametrize(
    "column",
    [
        pd.Series([dt.date(2026, 1, 1), dt.date(2026, 1, 2)]),  # object of dates
        pd.Series([dt.date(2026, 1, 1), dt.date(2026, 1, 2)], dtype=pd.ArrowDtype(pa.date32())),
        pd.Series(pd.to_datetime(["2026-01-01", "2026-01-02"])),  # datetime64 at midnight
        pd.Series(pd.to_datetime(["2026-01-01", None])).astype("datetime64[s]"),
    ],
    ids=["object", "date32", "datetime64", "datetime64_s_with_nat"],
)
def test_date_columns(column):
    class MaybeDaily(BaseModel):
        day: dt.date | None

    check(pd.DataFrame({"day": column}), frame_of(MaybeDaily))


def test_datetimes_with_a_time_of_day_are_not_dates():
    frame = pd.DataFrame({"day": pd.to_datetime(["2026-01-01 00:00", "2026-01-01 12:30"])})
    with pytest.raises(
        TypeCheckError,
        match=re.escape(
            "whose column 'day' has 1 datetime with a time of day, but Daily.day is date"
        ),
    ) as caught:
        check(frame, frame_of(Daily))
    assert ".dt.normalize()" in caught.value.hint
    with pytest.raises(TypeCheckError, match=r"has dtype datetime64.*UTC.*but Daily.day is date"):
        check(
            pd.DataFrame({"day": pd.date_range("2026-01-01", periods=1, tz="UTC")}), frame_of(Daily)
        )


def test_decimal_bytes_time_and_timedelta_columns():
    class Misc(BaseModel):
        price: Decimal
        blob: bytes
        opens: dt.time
        took: dt.timedelta

    frame = pd.DataFrame(
        {
            "price": [Decimal("1.10")],
            "blob": [b"\x00"],
            "opens": [dt.time(9)],
            "took": pd.to_timedelta(["1h"]),
        }
    )
    check(frame, frame_of(Misc))
    check(pa.Table.from_pandas(frame), table_of(Misc))
    with pytest.raises(
        TypeCheckError, match=r"column 'price' has dtype float64, but Misc.price is Decimal"
    ):
        check(frame.assign(price=[1.1]), frame_of(Misc))


def test_field_alias_names_the_column():
    class Aliased(BaseModel):
        identifier: int = Field(alias="ID")

    check(pd.DataFrame({"ID": [1]}), frame_of(Aliased))
    with pytest.raises(TypeCheckError, match="lacks the column 'ID' that Aliased requires"):
        check(pd.DataFrame({"identifier": [1]}), frame_of(Aliased))


def test_duplicate_columns_are_reported():
    frame = pd.DataFrame([[1, 2, 1.0]], columns=["id", "id", "amount"])
    with pytest.raises(
        TypeCheckError, match=r"column 'id' appears as 2 columns, but Record.id needs one"
    ):
        check(frame, frame_of(Record))


def test_optional_schema_annotated_frame():
    annotation = Optional[frame_of(Record)]  # noqa: UP045
    check(None, annotation)
    with pytest.raises(TypeCheckError, match="whose column 'amount' has 1 null"):
        check(pd.DataFrame({"id": [1], "amount": [None]}), annotation)


# -- Schema: Arrow ------------------------------------------------------------------------


def test_arrow_table_with_the_same_checks():
    table = pa.table(
        {"id": pa.array([1, 2, 3]), "amount": pa.array([1.0, None, 3.0]), "x": ["a", "b", "c"]}
    )
    with pytest.raises(
        TypeCheckError,
        match=re.escape(
            "returned a Table whose column 'amount' has 1 null, but Record.amount is not Optional. "
            "First offending rows:\n\n    row 1: {'id': 2, 'amount': None}"
        ),
    ):
        check(table, table_of(Record))
    check(table.drop_null(), table_of(Record))
    with pytest.raises(TypeCheckError, match="returned a Table that lacks the column 'amount'"):
        check(table.select(["id"]), table_of(Record))
    with pytest.raises(TypeCheckError, match=r"column 'id' has dtype string, but Record.id is int"):
        check(pa.table({"id": ["1"], "amount": [1.0]}), table_of(Record))


def test_arrow_nan_is_a_value_not_a_null():
    check(pa.table({"id": [1], "amount": [float("nan")]}), table_of(Record))


@pytest.mark.parametrize(
    "column",
    [
        pa.array(["a", "b"]),
        pa.array(["a", "b"], type=pa.large_string()),
        pa.array(["a", "b"]).dictionary_encode(),
        pa.array(["a", "b"], type=pa.string_view()),
    ],
    ids=["string", "large_string", "dictionary", "string_view"],
)
def test_arrow_string_types_fit_a_str_field(column):
    check(pa.table({"id": [1, 2], "label": column}), table_of(Labelled))


def test_arrow_literal_dates_and_timestamps():
    class Event(BaseModel):
        status: Literal["new", "done"]
        day: dt.date
        at: AwareDatetime

    table = pa.table(
        {
            "status": pa.array(["new", "old"]).dictionary_encode(),
            "day": pa.array([dt.date(2026, 1, 1)] * 2, type=pa.date32()),
            "at": pa.array(
                [dt.datetime(2026, 1, 1, tzinfo=dt.UTC)] * 2, type=pa.timestamp("us", tz="UTC")
            ),
        }
    )
    with pytest.raises(
        TypeCheckError, match=r"column 'status' has 1 value outside the allowed set \(e.g. 'old'\)"
    ):
        check(table, table_of(Event))
    with pytest.raises(
        TypeCheckError,
        match=r"column 'at' has dtype timestamp\[us\], but Event.at is AwareDatetime",
    ):
        check(table.set_column(2, "at", table["at"].cast(pa.timestamp("us"))), table_of(Event))
    late = pa.array([dt.datetime(2026, 1, 1, 6)], type=pa.timestamp("s"))
    with pytest.raises(TypeCheckError, match="column 'day' has 1 datetime with a time of day"):
        check(pa.table({"day": late}), table_of(Daily))


# -- row validation -----------------------------------------------------------------------


class Positive(BaseModel):
    id: int
    amount: float = Field(ge=0)


def test_all_rows_are_validated_with_pydantic_messages():
    frame = pd.DataFrame({"id": range(10), "amount": [1.0, -1, 2, -3, 4, 5, 6, 7, 8, -9]})
    check(frame, frame_of(Positive))  # the vectorised checks know nothing of ge=0
    with pytest.raises(
        TypeCheckError,
        match=re.escape(
            "returned a DataFrame with 3 of 10 rows that do not validate as Positive. "
            "First offending rows:\n\n"
            "    row 1: {'id': 1, 'amount': -1.0}\n"
            "        amount: Input should be greater than or equal to 0\n"
            "    row 3: {'id': 3, 'amount': -3.0}"
        ),
    ) as caught:
        check(frame, frame_of(Positive, validate_rows="all"))
    assert caught.value.row_labels == ("row 1", "row 3", "row 9")


def test_sampled_rows_are_seeded_and_counted():
    amounts = np.ones(5000)
    amounts[::10] = -1.0  # 500 bad rows
    frame = pd.DataFrame({"id": np.arange(5000), "amount": amounts})
    annotation = frame_of(Positive, validate_rows="sample", sample=200)
    with pytest.raises(
        TypeCheckError, match=r"with \d+ of 200 sampled rows that do not validate"
    ) as first:
        check(frame, annotation)
    with pytest.raises(TypeCheckError) as second:
        check(frame, annotation)
    assert str(first.value) == str(second.value)  # the same rows, every time
    assert all(int(label.split()[1]) % 10 == 0 for label in first.value.row_labels)
    check(frame[frame["amount"] > 0], annotation)


def test_row_validation_runs_after_the_column_checks_and_on_tables():
    frame = pd.DataFrame({"id": [1, 2], "amount": [None, -1.0]})
    with pytest.raises(TypeCheckError, match="has 1 null"):
        check(frame, frame_of(Positive, validate_rows="all"))
    table = pa.table({"id": [1, 2], "amount": [1.0, -1.0]})
    with pytest.raises(
        TypeCheckError, match=r"returned a Table with 1 of 2 rows .*\n\n    row 1: \{'id': 2"
    ):
        check(table, table_of(Positive, validate_rows="all"))


def test_row_validation_sees_nulls_as_none_and_dates_as_dates():
    class Row(BaseModel):
        label: str | None
        day: dt.date
        amount: float | None = Field(default=None, ge=0)

    frame = pd.DataFrame(
        {
            "label": ["a", None],
            "day": pd.to_datetime(["2026-01-01", "2026-01-02"]),
            "amount": [np.nan, 1.0],
        }
    )
    check(frame, frame_of(Row, validate_rows="all"))


# -- load-time checks ---------------------------------------------------------------------


def test_check_annotation_reports_fields_no_column_can_hold():
    class Nested(BaseModel):
        id: int
        tags: list[str]
        owner: Record | None

    problem = check_annotation(
        Annotated[pd.DataFrame, Schema(Nested)],
        asset=ASSET,
        file="example_project/assets.py",
        line=12,
    )
    assert problem == (
        "asset 'clean_records' (example_project/assets.py:12) declares Schema(Nested), but Nested "
        "has fields no column type can hold: field 'tags' is list[str]; field 'owner' is "
        "Record | None. A Schema field maps to a column type, and it supports int, float, str, "
        "bool, bytes, datetime (and pydantic's AwareDatetime and NaiveDatetime), date, time, "
        "timedelta, Decimal, Literal[...] and Enum of str or int values, Any, and unions of "
        "these, with or without None.\n\nTo fix this, give the field one of those types, or "
        "annotate it Any to leave its column unchecked."
    )
    # at run time the unmappable columns are only required to be there
    check(pd.DataFrame({"id": [1], "tags": [["a"]], "owner": [None]}), frame_of(Nested))
    with pytest.raises(TypeCheckError, match="lacks the column 'tags' that Nested requires"):
        check(pd.DataFrame({"id": [1], "owner": [None]}), frame_of(Nested))


def test_check_annotation_reports_a_schema_on_a_non_table():
    problem = check_annotation(Annotated[dict, Schema(Record)], asset=ASSET, file="a.py", line=3)
    assert problem is not None
    assert problem.startswith(
        "asset 'clean_records' (a.py:3) annotates dict with Schema(Record), but a Schema "
        "declares the columns of a pandas.DataFrame or pyarrow.Table, and a dict has no columns."
    )
    assert check_annotation(
        Optional[Annotated[list, Schema(Record)]],  # noqa: UP045
        asset=ASSET,
    ).startswith("asset 'clean_records' annotates list with Schema(Record)")


def test_check_annotation_reports_two_schemas():
    annotation = Annotated[pd.DataFrame, Schema(Record), Schema(Labelled)]
    assert "with 2 schemas (Schema(Record), Schema(Labelled)), but a table has one Schema" in (
        check_annotation(annotation, asset=ASSET) or ""
    )


@pytest.mark.parametrize(
    "annotation",
    [
        MISSING,
        "pd.DataFrame",
        pd.DataFrame,
        frame_of(Record),
        table_of(Labelled, validate_rows="sample"),
        Optional[frame_of(Record)],  # noqa: UP045
        list[Record],
        dict[str, int],
    ],
)
def test_check_annotation_accepts_checkable_annotations(annotation):
    assert check_annotation(annotation, asset=ASSET, file="a.py", line=1) is None


def test_schema_arguments_are_validated_when_declared():
    with pytest.raises(
        DefinitionError, match=r"Schema\(<class 'dict'>\) needs a pydantic model class"
    ):
        Schema(dict)  # type: ignore[arg-type]
    with pytest.raises(DefinitionError, match="validate_rows is one of 'none', 'sample', 'all'"):
        Schema(Record, validate_rows="some")  # type: ignore[arg-type]
    with pytest.raises(DefinitionError, match="sample is the number of rows to validate"):
        Schema(Record, sample=0)
    assert repr(Schema(Record, validate_rows="sample", sample=10)) == (
        "Schema(Record, validate_rows='sample', sample=10)"
    )
    assert Schema(Record) == Schema(Record)
    assert hash(Schema(Record)) == hash(Schema(Record))


def test_supported_field_types_map_without_problems():
    class Everything(BaseModel):
        a: int
        b: float | None
        c: str
        d: bool
        e: bytes
        f: dt.datetime
        g: AwareDatetime
        h: dt.date
        i: dt.time
        j: dt.timedelta
        k: Decimal
        m: Literal["x", "y"]
        n: Status
        o: Any
        p: int | str
        q: Annotated[int, Field(ge=0)]

    assert check_annotation(frame_of(Everything), asset=ASSET) is None


# -- conversion ---------------------------------------------------------------------------


def test_convert_between_dataframe_and_table():
    frame = pd.DataFrame({"id": [1, 2], "label": ["a", "b"]})
    table = convert_input(frame, pa.Table)
    assert isinstance(table, pa.Table)
    assert table.column_names == ["id", "label"]
    back = convert_input(table, frame_of(Labelled))
    pd.testing.assert_frame_equal(back, frame)
    assert convert_input(frame, pd.DataFrame) is frame
    assert isinstance(convert_input(frame, Optional[pa.Table]), pa.Table)  # noqa: UP045


def test_convert_dicts_to_models_and_models_to_dicts():
    assert convert_input({"id": 1, "amount": 2}, Record) == Record(id=1, amount=2.0)
    assert convert_input([{"id": 1, "amount": 2}, Record(id=2, amount=3)], list[Record]) == [
        Record(id=1, amount=2.0),
        Record(id=2, amount=3.0),
    ]
    assert convert_input(Record(id=1, amount=2), dict[str, float]) == {"id": 1, "amount": 2.0}
    assert convert_input(None, Record | None) is None
    value = object()
    assert convert_input(value, MISSING) is value
    assert convert_input(value, "Record") is value
    assert convert_input([1, 2], list[int]) == [1, 2]


def test_convert_input_names_the_asset_and_parameter_when_a_dict_does_not_validate():
    with pytest.raises(
        TypeCheckError,
        match=re.escape(
            "asset 'daily_totals' [2026-03-01] reads 'clean_records' as Record, but its value "
            "does not validate: 1 error(s), the first at amount: Field required."
        ),
    ) as caught:
        convert_input(
            {"id": 1}, Record, asset="daily_totals", parameter="clean_records", partition=DAY
        )
    assert isinstance(caught.value.__cause__, pydantic.ValidationError)


def test_conversion_problem_names_both_sides():
    assert conversion_problem(
        dict, pd.DataFrame, asset="daily_totals", parameter="clean_records", file="a.py", line=9
    ) == (
        "asset 'daily_totals' (a.py:9) reads 'clean_records' as pandas.DataFrame, but "
        "'clean_records' returns dict, and assetflow converts a DataFrame to a pyarrow Table "
        "and back, a dict to a pydantic model, a list of dicts to list[Model], a model to a "
        "dict, and an int to a float; nothing else.\n\nTo fix this, annotate the parameter "
        "dict, or convert inside the asset."
    )
    assert conversion_problem(pd.DataFrame, pa.Table, asset="a", parameter="b") is None


@pytest.mark.parametrize(
    ("produced", "wanted", "expected"),
    [
        (pd.DataFrame, pa.Table, True),
        (frame_of(Record), table_of(Labelled), True),  # schemas are not compared
        (pa.Table, pd.DataFrame | None, True),
        (dict, pd.DataFrame, False),
        (pd.DataFrame, dict, False),
        (pd.DataFrame, list[Record], False),
        (dict, Record, True),
        (dict[str, Any], Record, True),
        (Record, Record, True),
        (Record, Labelled, False),
        (Record, dict, True),
        (list[dict[str, Any]], list[Record], True),
        (list[Record], list[Record], True),
        (list[int], list[Record], False),
        (list, list[Record], True),
        (int, float, True),
        (float, int, False),
        (bool, int, False),
        (int, str, False),
        (Literal["a", "b"], str, True),
        (int | None, int, True),
        (None, int, False),
        (MISSING, pd.DataFrame, True),
        (dict, MISSING, True),
        ("pd.DataFrame", dict, True),
        (Any, Record, True),
    ],
)
def test_can_convert(produced, wanted, expected):
    assert can_convert(produced, wanted) is expected


# -- packaging ----------------------------------------------------------------------------


def test_importing_typecheck_loads_no_data_library():
    code = (
        "import sys, assetflow.typecheck\n"
        "print(sorted(m for m in ('pandas', 'pyarrow', 'numpy', 'pydantic') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


# -- properties ---------------------------------------------------------------------------

#: Field kinds the property tests generate: (type, value strategy, dtypes that can hold nulls).
_KINDS: dict[str, tuple[Any, Any, list[Any]]] = {
    "int": (int, st.integers(-(2**40), 2**40), ["Int64", pd.ArrowDtype(pa.int64())]),
    "float": (float, st.floats(-1e9, 1e9, allow_nan=False), ["float64", "Float64"]),
    "str": (str, st.text(max_size=5), ["str", object, "string[pyarrow]"]),
    "bool": (bool, st.booleans(), ["boolean", object]),
    "datetime": (
        dt.datetime,
        st.datetimes(dt.datetime(2000, 1, 1), dt.datetime(2100, 1, 1)),
        ["datetime64[us]"],
    ),
    "date": (
        dt.date,
        st.dates(dt.date(2000, 1, 1), dt.date(2100, 1, 1)),
        [pd.ArrowDtype(pa.date32())],
    ),
}


@st.composite
def schema_and_frame(draw: st.DrawFn) -> tuple[type[BaseModel], pd.DataFrame, list[str]]:
    """A generated model, a frame of 1 to 8 rows matching it, and its non-Optional fields."""
    names = draw(st.lists(st.sampled_from("abcdefgh"), min_size=1, max_size=5, unique=True))
    rows = draw(st.integers(1, 8))
    fields: dict[str, Any] = {}
    columns: dict[str, pd.Series] = {}
    required = []
    for name in names:
        kind = draw(st.sampled_from(sorted(_KINDS)))
        field_type, values, dtypes = _KINDS[kind]
        is_optional = draw(st.booleans())
        items = st.one_of(st.none(), values) if is_optional else values
        data = draw(st.lists(items, min_size=rows, max_size=rows))
        fields[name] = (field_type | None if is_optional else field_type, ...)
        columns[name] = pd.Series(data, dtype=draw(st.sampled_from(dtypes)))
        if not is_optional:
            required.append(name)
    model = pydantic.create_model("Generated", **fields)
    return model, pd.DataFrame(columns), required


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=schema_and_frame())
def test_generated_frames_matching_a_generated_schema_pass(case):
    model, frame, _ = case
    check(frame, frame_of(model, validate_rows="all"))
    check(pa.Table.from_pandas(frame), table_of(model))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=schema_and_frame(), data=st.data())
def test_one_null_in_a_non_optional_column_fails(case, data):
    model, frame, required = case
    if not required:
        return
    column = data.draw(st.sampled_from(required))
    row = data.draw(st.integers(0, len(frame) - 1))
    values = frame[column].astype(object)
    values.iloc[row] = None
    broken = frame.assign(**{column: pd.Series(values, dtype=frame[column].dtype)})
    with pytest.raises(TypeCheckError, match=f"column '{column}' has 1 null") as caught:
        check(broken, frame_of(model))
    assert caught.value.row_labels == (f"row {row}",)

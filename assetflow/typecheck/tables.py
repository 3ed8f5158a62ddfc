"""Vectorised questions about a DataFrame's or an Arrow Table's columns, one adapter per library.

The schema check asks the same questions of both (what kind of values does
this column hold, which rows are null, which values fall outside a set) and
each adapter answers them with its library's vectorised operations; no
Python loop runs over rows. pandas, numpy and pyarrow are imported inside
the functions, so importing this module loads none of them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from assetflow.typecheck.columns import (
    AWARE_COLUMN,
    BOOL,
    BYTES,
    DATE,
    DECIMAL,
    DUPLICATE_COLUMN,
    FLOAT,
    INT,
    NAIVE_COLUMN,
    NULL_COLUMN,
    OBJECT_DATETIME_COLUMN,
    STR,
    TIME,
    TIMEDELTA,
)
from assetflow.typecheck.error import MAX_ROWS_SHOWN

OTHER = "other"
#: Kinds of pandas' `infer_dtype(..., skipna=True)` answers for an object column.
_KIND_BY_INFERRED = {
    "string": STR,
    "integer": INT,
    "floating": FLOAT,
    "mixed-integer-float": FLOAT,
    "boolean": BOOL,
    "datetime": OBJECT_DATETIME_COLUMN,
    "datetime64": OBJECT_DATETIME_COLUMN,
    "date": DATE,
    "time": TIME,
    "timedelta": TIMEDELTA,
    "timedelta64": TIMEDELTA,
    "decimal": DECIMAL,
    "bytes": BYTES,
    "empty": NULL_COLUMN,
}
#: Kinds of numpy dtypes, by `dtype.kind`.
_KIND_BY_NUMPY_KIND = {
    "i": INT,
    "u": INT,
    "f": FLOAT,
    "b": BOOL,
    "M": NAIVE_COLUMN,
    "m": TIMEDELTA,
    "U": STR,
    "S": BYTES,
}
#: numpy dtype kinds that cannot hold a null, so their null check costs nothing.
_NEVER_NULL_KINDS = frozenset("iubUS")


@dataclass(frozen=True, slots=True)
class Offenders:
    """How many rows break a rule, and the positions of the first few."""

    count: int
    positions: tuple[int, ...] = ()


NO_OFFENDERS = Offenders(0)


class TableColumns(Protocol):
    """The questions the schema check asks of a table, answered vectorised."""

    kind_name: str

    def names(self) -> list[str]: ...
    def row_count(self) -> int: ...
    def column_kind(self, name: str) -> tuple[str, str]: ...
    def nulls(self, name: str) -> Offenders: ...
    def outside(self, name: str, allowed: tuple[Any, ...]) -> Offenders: ...
    def not_at_midnight(self, name: str) -> Offenders: ...
    def records(self, positions: Sequence[int], columns: Sequence[str]) -> list[dict[str, Any]]: ...
    def row_label(self, position: int) -> str: ...


def columns_of(value: Any) -> TableColumns | None:
    """The adapter for a DataFrame or an Arrow Table, or None for any other value."""
    from assetflow.typecheck.annotations import is_arrow_table, is_frame

    if is_frame(value):
        return PandasColumns(value)
    if is_arrow_table(value):
        return ArrowColumns(value)
    return None


def _offenders(mask: Any) -> Offenders:
    """The offenders of a numpy boolean mask (True marks a row that breaks the rule)."""
    import numpy as np

    positions = np.flatnonzero(mask)
    return Offenders(len(positions), tuple(int(p) for p in positions[:MAX_ROWS_SHOWN]))


class PandasColumns:
    """A pandas DataFrame's columns. NaN, None, NaT and NA are all null (pandas' `isna`)."""

    kind_name = "DataFrame"

    def __init__(self, frame: Any) -> None:
        self.frame = frame
        self._counts = Counter(frame.columns)

    def names(self) -> list[str]:
        return list(self.frame.columns)

    def row_count(self) -> int:
        return len(self.frame)

    def column_kind(self, name: str) -> tuple[str, str]:
        """The column's kind and its dtype as text; an object column's values are inferred."""
        import pandas as pd

        count = self._counts[name]
        if count > 1:
            return DUPLICATE_COLUMN, f"{count} columns"
        series = self.frame[name]
        dtype = series.dtype
        if isinstance(dtype, pd.CategoricalDtype):
            kind, text = _pandas_dtype_kind(dtype.categories.dtype), str(dtype.categories.dtype)
            if kind == "object":
                inferred = pd.api.types.infer_dtype(dtype.categories, skipna=True)
                kind, text = _KIND_BY_INFERRED.get(inferred, OTHER), f"{inferred} values"
            return kind, f"category of {text}"
        kind = _pandas_dtype_kind(dtype)
        if kind == "object":
            # Only an object column costs a scan; a typed dtype answers on its own.
            inferred = pd.api.types.infer_dtype(series, skipna=True)
            return _KIND_BY_INFERRED.get(inferred, OTHER), f"object ({inferred} values)"
        return kind, str(dtype)

    def nulls(self, name: str) -> Offenders:
        series = self.frame[name]
        if getattr(series.dtype, "kind", "") in _NEVER_NULL_KINDS and _is_numpy(series.dtype):
            return NO_OFFENDERS
        if not series.hasnans:
            return NO_OFFENDERS
        return _offenders(series.isna().to_numpy())

    def outside(self, name: str, allowed: tuple[Any, ...]) -> Offenders:
        import pandas as pd

        series = self.frame[name]
        if isinstance(series.dtype, pd.CategoricalDtype):
            # Check the few categories, then scan only for those outside the set.
            outside = [value for value in series.cat.categories if value not in allowed]
            if not outside:
                return NO_OFFENDERS
            return _offenders(series.isin(outside).to_numpy(dtype=bool))
        mask = series.notna() & ~series.isin(list(allowed))
        return _offenders(mask.to_numpy(dtype=bool, na_value=False))

    def not_at_midnight(self, name: str) -> Offenders:
        series = self.frame[name]
        mask = series.notna() & (series != series.dt.normalize())
        return _offenders(mask.to_numpy(dtype=bool, na_value=False))

    def records(self, positions: Sequence[int], columns: Sequence[str]) -> list[dict[str, Any]]:
        """The rows at `positions` as dicts of Python values, with None for every kind of null."""
        rows = self.frame.iloc[list(positions)][list(columns)]
        boxed = rows.astype(object)
        records: list[dict[str, Any]] = boxed.where(rows.notna(), None).to_dict("records")
        return records

    def row_label(self, position: int) -> str:
        import pandas as pd

        index = self.frame.index
        if isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1:
            return f"row {position}"
        return f"row {position} (index {index[position]!r})"


def _is_numpy(dtype: Any) -> bool:
    return type(dtype).__module__ == "numpy" or type(dtype).__module__.startswith("numpy.")


def _pandas_dtype_kind(dtype: Any) -> str:
    """The column kind of a pandas or numpy dtype; "object" when the values must be inferred."""
    import pandas as pd

    if isinstance(dtype, pd.ArrowDtype):
        return arrow_type_kind(dtype.pyarrow_dtype)
    if isinstance(dtype, pd.StringDtype):
        return STR
    if isinstance(dtype, pd.DatetimeTZDtype):
        return AWARE_COLUMN
    if _is_numpy(dtype):
        if dtype.kind == "O":
            return "object"
        return _KIND_BY_NUMPY_KIND.get(dtype.kind, OTHER)
    # pandas' nullable extension dtypes (Int64, Float64, boolean)
    types = pd.api.types
    if types.is_bool_dtype(dtype):
        return BOOL
    if types.is_integer_dtype(dtype):
        return INT
    if types.is_float_dtype(dtype):
        return FLOAT
    return OTHER


def arrow_type_kind(arrow_type: Any) -> str:
    """The column kind of an Arrow type (a dictionary type by its values)."""
    import pyarrow as pa

    types = pa.types
    if types.is_dictionary(arrow_type):
        return arrow_type_kind(arrow_type.value_type)
    checks = (
        (types.is_integer, INT),
        (types.is_floating, FLOAT),
        (types.is_boolean, BOOL),
        (types.is_string, STR),
        (types.is_large_string, STR),
        (types.is_string_view, STR),
        (types.is_date, DATE),
        (types.is_time, TIME),
        (types.is_duration, TIMEDELTA),
        (types.is_decimal, DECIMAL),
        (types.is_binary, BYTES),
        (types.is_large_binary, BYTES),
        (types.is_fixed_size_binary, BYTES),
        (types.is_binary_view, BYTES),
        (types.is_null, NULL_COLUMN),
    )
    if types.is_timestamp(arrow_type):
        return AWARE_COLUMN if arrow_type.tz else NAIVE_COLUMN
    for check, kind in checks:
        if check(arrow_type):
            return kind
    return OTHER


class ArrowColumns:
    """A pyarrow Table's columns. Only Arrow nulls are null: a float NaN is a value."""

    kind_name = "Table"

    def __init__(self, table: Any) -> None:
        self.table = table

    def names(self) -> list[str]:
        return list(self.table.column_names)

    def row_count(self) -> int:
        return int(self.table.num_rows)

    def column_kind(self, name: str) -> tuple[str, str]:
        indices = self.table.schema.get_all_field_indices(name)
        if len(indices) > 1:
            return DUPLICATE_COLUMN, f"{len(indices)} columns"
        arrow_type = self.table.schema.field(indices[0]).type
        return arrow_type_kind(arrow_type), str(arrow_type)

    def nulls(self, name: str) -> Offenders:
        import pyarrow.compute as pc

        column = self.table.column(name)
        if column.null_count == 0:
            return NO_OFFENDERS
        return self._offenders(pc.is_null(column))

    def outside(self, name: str, allowed: tuple[Any, ...]) -> Offenders:
        import pyarrow as pa
        import pyarrow.compute as pc

        column = self.table.column(name)
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        try:
            value_set = pa.array(list(allowed), type=column.type)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            value_set = pa.array(list(allowed))
            column = column.cast(value_set.type)
        mask = pc.and_(pc.invert(pc.is_in(column, value_set=value_set)), pc.is_valid(column))
        return self._offenders(mask)

    def not_at_midnight(self, name: str) -> Offenders:
        import pyarrow.compute as pc

        column = self.table.column(name)
        mask = pc.not_equal(column, pc.floor_temporal(column, unit="day"))
        return self._offenders(pc.fill_null(mask, False))

    def records(self, positions: Sequence[int], columns: Sequence[str]) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = (
            self.table.select(list(columns)).take(list(positions)).to_pylist()
        )
        return records

    def row_label(self, position: int) -> str:
        return f"row {position}"

    @staticmethod
    def _offenders(mask: Any) -> Offenders:
        import pyarrow.compute as pc

        count = pc.sum(mask).as_py() or 0
        if not count:
            return NO_OFFENDERS
        positions = pc.indices_nonzero(mask).slice(0, MAX_ROWS_SHOWN).to_pylist()
        return Offenders(int(count), tuple(positions))

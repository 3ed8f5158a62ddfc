"""PostgreSQL column types for pandas columns, and the columns back as pandas, dtypes kept.

Each DataFrame column maps to one PostgreSQL type (``column_type``) and is turned
into the Python values psycopg's binary COPY takes (``copy_values``). The pandas
dtype is kept as the column's comment (``assetflow dtype: <dtype>``), so that
reading the table back (``to_series``) gives the dtype that was written: the
zone of a time zone aware timestamp, ``int64`` rather than ``Int64``, pandas 3's
``str`` rather than ``object``.

| pandas                                      | PostgreSQL         |
|---------------------------------------------|--------------------|
| int64, Int64 / int32, Int32 / int16, int8   | bigint / integer / smallint |
| uint8 / uint16 / uint32                     | smallint / integer / bigint |
| float64, Float64 / float32, Float32         | double precision / real |
| bool, boolean                               | boolean            |
| str, string, object of str                  | text               |
| object of decimal.Decimal                   | numeric            |
| object of datetime.date                     | date               |
| object of list / dict                       | jsonb              |
| datetime64[unit]                            | timestamp          |
| datetime64[unit, zone]                      | timestamptz        |

Anything else (uint64, timedelta, categories, periods, intervals, complex numbers,
an object column mixing kinds of values) is refused with the column and its dtype.
"""

from __future__ import annotations

import datetime
import decimal
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from assetflow.errors import WriteError

if TYPE_CHECKING:
    import pandas as pd

#: How a column's comment starts; the rest is the pandas dtype it was written with.
DTYPE_COMMENT = "assetflow dtype: "

_INTEGERS = {
    "int64": "bigint",
    "int32": "integer",
    "int16": "smallint",
    "int8": "smallint",
    "uint32": "bigint",
    "uint16": "integer",
    "uint8": "smallint",
}
_FLOATS = {"float64": "double precision", "float32": "real"}
#: The narrower type of each pair that widens without losing a value.
_WIDER = {
    "smallint": ("integer", "bigint", "double precision", "real"),
    "integer": ("bigint", "double precision"),
    "bigint": ("double precision",),
    "real": ("double precision",),
    "timestamp without time zone": ("timestamp with time zone",),
}
#: PostgreSQL's own spelling of the types above (information_schema's data_type).
CANONICAL = {
    "timestamp": "timestamp without time zone",
    "timestamptz": "timestamp with time zone",
}


@dataclass(frozen=True, slots=True)
class ColumnType:
    """How one DataFrame column is stored: its PostgreSQL type and its pandas dtype."""

    name: str
    #: the type as PostgreSQL spells it in the catalog (``format_type``)
    sql: str
    #: the type psycopg's COPY is told, one of its names (``int8``, ``timestamptz``...)
    copy: str
    #: the pandas dtype, as ``str(dtype)``
    dtype: str
    #: True when every value is missing: no value to judge the type by
    is_all_null: bool = False
    #: False when the column is copied into a stored column that keeps its own dtype
    is_commented: bool = True


def column_type(name: str, series: pd.Series, where: str) -> ColumnType:
    """The PostgreSQL type of one column.

    Raises:
        WriteError: Nothing maps the column's dtype (the message names both).
    """
    import pandas as pd

    dtype = series.dtype
    text = str(dtype)
    lowered = text.lower()
    is_all_null = bool(series.isna().all())
    if lowered in _INTEGERS:
        sql = _INTEGERS[lowered]
        return ColumnType(name, sql, copy_name(sql), text, is_all_null)
    if lowered in _FLOATS:
        sql = _FLOATS[lowered]
        return ColumnType(name, sql, copy_name(sql), text, is_all_null)
    if pd.api.types.is_bool_dtype(dtype):
        return ColumnType(name, "boolean", "bool", text, is_all_null)
    if isinstance(dtype, pd.DatetimeTZDtype):
        return ColumnType(name, "timestamp with time zone", "timestamptz", text, is_all_null)
    if lowered.startswith("datetime64["):
        return ColumnType(name, "timestamp without time zone", "timestamp", text, is_all_null)
    if isinstance(dtype, pd.StringDtype):
        _check_no_nul(name, series, where)
        return ColumnType(name, "text", "text", text, is_all_null)
    if str(dtype) == "object":
        sql = _object_type(name, series, where)
        if sql == "text":
            _check_no_nul(name, series, where)
        return ColumnType(name, sql, copy_name(sql), text, is_all_null)
    raise WriteError(
        f"{where} has the column {name!r} of dtype {text}, which no PostgreSQL type of the "
        "postgres io kind holds; nothing was written.",
        hint="Convert the column to a type in the table of docs/postgres.md (e.g. "
        f"df[{name!r}] = df[{name!r}].astype(str) for text), or store the asset as Parquet "
        '(io="parquet"), which keeps any Arrow type.',
    )


def _check_no_nul(name: str, series: pd.Series, where: str) -> None:
    """Refuse text with a NUL character, which PostgreSQL's text cannot hold."""
    if series.isna().all():
        return
    if bool(series.dropna().astype(str).str.contains("\x00", regex=False).any()):
        raise WriteError(
            f"{where} has the column {name!r} with a NUL character (\\x00) in its text, "
            "which a PostgreSQL text column cannot hold; nothing was written.",
            hint=f"Remove or replace it (e.g. df[{name!r}] = df[{name!r}].str.replace("
            "'\\x00', '')), or store the asset as Parquet (io=\"parquet\").",
        )


def copy_name(sql: str) -> str:
    return {
        "bigint": "int8",
        "integer": "int4",
        "smallint": "int2",
        "double precision": "float8",
        "real": "float4",
        "boolean": "bool",
        "timestamp with time zone": "timestamptz",
        "timestamp without time zone": "timestamp",
    }.get(sql, sql)


def _object_type(name: str, series: pd.Series, where: str) -> str:
    """The type of an object column, from the kinds of its values (all of one kind)."""
    kinds = set()
    for value in series.dropna():
        if isinstance(value, str):
            kinds.add("text")
        elif isinstance(value, bool):
            kinds.add("boolean")
        elif isinstance(value, decimal.Decimal):
            kinds.add("numeric")
        elif isinstance(value, datetime.datetime):
            kinds.add("datetime")
        elif isinstance(value, datetime.date):
            kinds.add("date")
        elif isinstance(value, list | dict):
            kinds.add("jsonb")
        else:
            kinds.add(type(value).__name__)
        if len(kinds) > 1:
            break
    if not kinds:
        return "text"
    if len(kinds) == 1 and next(iter(kinds)) in ("text", "boolean", "numeric", "date", "jsonb"):
        return next(iter(kinds))
    listed = ", ".join(sorted(kinds))
    raise WriteError(
        f"{where} has the column {name!r} of dtype object holding {listed} values, which no "
        "PostgreSQL type of the postgres io kind holds; nothing was written.",
        hint="An object column is stored when all its values are of one kind: str (text), "
        "decimal.Decimal (numeric), datetime.date (date), bool (boolean), or list and dict "
        f"(jsonb). Convert the column (e.g. df[{name!r}] = df[{name!r}].astype(str)), or "
        'store the asset as Parquet (io="parquet").',
    )


_UNITS = ("s", "ms", "us", "ns")


def with_finer_unit(column: ColumnType, stored_dtype: str | None) -> ColumnType:
    """``column`` with the finer of its timestamp unit and the stored column's: the
    other partitions' values keep their precision (an empty frame's timestamps are in
    seconds, say, when its rows are in microseconds)."""
    new, stored = _unit(column.dtype), _unit(stored_dtype or "")
    if new is None or stored is None or _UNITS.index(stored) <= _UNITS.index(new):
        return column
    dtype = column.dtype.replace(f"[{new}", f"[{stored}", 1)
    return ColumnType(column.name, column.sql, column.copy, dtype, column.is_all_null)


def _unit(dtype: str) -> str | None:
    if not dtype.startswith("datetime64["):
        return None
    unit = dtype[len("datetime64[") :].split(",")[0].rstrip("]")
    return unit if unit in _UNITS else None


def widens(source: str, target: str) -> bool:
    """Whether every value of the PostgreSQL type ``source`` fits ``target`` unchanged."""
    return source == target or target in _WIDER.get(source, ())


def copy_values(series: pd.Series, column: ColumnType) -> list[Any]:
    """The column's values as psycopg's binary COPY takes them, None for a missing one.

    Timestamps with a time zone are given as naive UTC datetimes: the binary form of
    ``timestamp`` and ``timestamptz`` is the same count of microseconds since
    2000-01-01 UTC, and naive values spare making an aware datetime per row.
    """
    import numpy as np
    import pandas as pd

    if column.copy in ("timestamp", "timestamptz"):
        values = series
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            values = values.dt.tz_convert("UTC").dt.tz_localize(None)
        array = values.to_numpy(dtype="datetime64[us]")
        listed: list[Any] = array.astype(object).tolist()
        return [None if value is None else value for value in listed]
    if column.is_all_null:
        return [None] * len(series)
    if column.sql in ("text", "numeric", "date", "jsonb") or str(series.dtype) == "object":
        if not series.hasnans:
            return series.tolist()
        return series.astype(object).where(series.notna(), None).tolist()
    if series.hasnans:
        if column.sql in ("double precision", "real") and not isinstance(
            series.dtype, pd.api.extensions.ExtensionDtype
        ):
            return series.tolist()  # NaN is a float8 value of its own
        return series.astype(object).where(series.notna(), None).tolist()
    plain: list[Any] = np.asarray(series).tolist()
    return plain


def comment(column: ColumnType) -> str:
    """The comment that keeps a column's pandas dtype."""
    return DTYPE_COMMENT + column.dtype


def dtype_of_comment(text: str | None) -> str | None:
    """The pandas dtype a column's comment keeps, or None without one."""
    if text is None or not text.startswith(DTYPE_COMMENT):
        return None
    return text[len(DTYPE_COMMENT) :]


_NULLABLE = {
    "int64": "Int64",
    "int32": "Int32",
    "int16": "Int16",
    "int8": "Int8",
    "uint32": "UInt32",
    "uint16": "UInt16",
    "uint8": "UInt8",
    "bool": "boolean",
}


def to_series(name: str, values: list[Any], sql: str, dtype: str | None) -> pd.Series:
    """A column read back: the dtype its comment keeps (a nullable one where a
    non-nullable integer or bool column holds NULL, from another partition say)."""
    import pandas as pd

    if sql in ("timestamp with time zone", "timestamp without time zone"):
        stamps = pd.Series(pd.to_datetime(values, utc=sql.endswith("with time zone")), name=name)
        if dtype is not None and dtype.startswith("datetime64["):
            target = pd.api.types.pandas_dtype(dtype)
            if isinstance(target, pd.DatetimeTZDtype):
                if not isinstance(stamps.dtype, pd.DatetimeTZDtype):
                    stamps = stamps.dt.tz_localize("UTC")
                return stamps.dt.tz_convert(target.tz).dt.as_unit(target.unit)
            if isinstance(stamps.dtype, pd.DatetimeTZDtype):
                stamps = stamps.dt.tz_localize(None)
            return stamps.astype(target)
        return stamps
    if dtype is None or dtype == "object":
        return pd.Series(values, name=name, dtype=object)
    has_nulls = any(value is None for value in values)
    if has_nulls and dtype in _NULLABLE:
        dtype = _NULLABLE[dtype]
    if has_nulls and dtype in ("float64", "float32"):
        values = [float("nan") if value is None else value for value in values]
    return pd.Series(values, name=name, dtype=dtype)


def default_dtype(sql: str) -> str | None:
    """The pandas dtype of a column without a comment (a column added by hand)."""
    return {
        "bigint": "Int64",
        "integer": "Int32",
        "smallint": "Int16",
        "double precision": "float64",
        "real": "float32",
        "boolean": "boolean",
        "text": "str",
    }.get(sql)

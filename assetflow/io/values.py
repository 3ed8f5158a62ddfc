"""Classify an asset's return value: its storage kind, and its canonical JSON form.

This module imports neither pandas nor pyarrow: a value can only be a DataFrame
or a Table if its library is already imported, so ``sys.modules`` answers
"is it a table?" without paying for the import.
"""

from __future__ import annotations

import logging
import math
import sys
import types
from collections.abc import Iterator
from datetime import date, time, timedelta
from decimal import Decimal
from typing import TypeAlias

from assetflow.errors import WriteError

logger = logging.getLogger(__name__)

PARQUET = "parquet"
#: A table in the project's DuckDB file (``io="duckdb"``); never chosen automatically.
DUCKDB = "duckdb"
JSON = "json"
NONE = "none"
#: A table in a PostgreSQL database (``io="postgres"`` or a named io of that kind).
POSTGRES = "postgres"

#: Libraries whose types are named by their public top-level name (pandas.Series,
#: not pandas.core.series.Series).
_SHORT_NAMED_PACKAGES = frozenset({"numpy", "pandas", "pyarrow", "polars"})

JsonValue: TypeAlias = bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"] | None

SUPPORTED = (
    "assetflow stores a pandas.DataFrame or a pyarrow.Table as Parquet; "
    "dict (with str keys), list, tuple, str, int, float, bool, None and pydantic models "
    "as JSON; and nothing for an asset annotated '-> None'."
)


def is_table(value: object) -> bool:
    """Whether ``value`` is a pandas DataFrame or a pyarrow Table (stored as Parquet)."""
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(value, pandas.DataFrame):
        return True
    pyarrow = sys.modules.get("pyarrow")
    return pyarrow is not None and isinstance(value, pyarrow.Table)


def io_kind_for_value(value: object, *, asset: str = "") -> str:
    """Return the storage kind of an asset's return value.

    Args:
        value: What the asset returned.
        asset: The asset's name, for the error message.

    Returns:
        ``"parquet"`` for a DataFrame or Table, ``"none"`` for None, and
        ``"json"`` for JSON values (checked all the way down).

    Raises:
        WriteError: The value (or something inside it) cannot be stored; the
            message names its type and where it is, and the hint how to convert it.
    """
    if value is None:
        return NONE
    if is_table(value):
        return PARQUET
    to_json_value(value, asset=asset)
    return JSON


def to_json_value(value: object, *, asset: str = "") -> JsonValue:
    """Return ``value`` as plain JSON data: the exact form that is stored and hashed.

    Pydantic models become ``model_dump(mode="json")``, tuples become lists,
    numpy scalars become Python numbers, and subclasses of str, int and float
    (enums, for example) become the plain type.

    Args:
        value: A JSON-able value.
        asset: The asset's name, for the error message.

    Returns:
        A tree of dict (str keys), list, str, int, float, bool and None.

    Raises:
        WriteError: Something in ``value`` cannot be stored as JSON: an
            unsupported type, a dict key that is not a str, or a NaN/infinite float.
    """
    return _to_json(value, "$", asset)


def _to_json(value: object, where: str, asset: str) -> JsonValue:
    if value is None or type(value) in (str, int, bool):
        return value  # type: ignore[return-value]  # exact JSON types, the common case
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _non_finite_error(value, where, asset)
        return float(value)
    if isinstance(value, dict):
        return _dict_to_json(value, where, asset)
    if isinstance(value, list | tuple):
        return [_to_json(item, f"{where}[{index}]", asset) for index, item in enumerate(value)]
    if _is_pydantic_model(value):
        return _to_json(value.model_dump(mode="json"), where, asset)  # type: ignore[attr-defined]
    if _is_numpy_scalar(value):
        return _to_json(value.item(), where, asset)  # type: ignore[attr-defined]
    raise unsupported_value_error(value, asset=asset, where=where)


def _dict_to_json(value: dict[object, object], where: str, asset: str) -> dict[str, JsonValue]:
    result: dict[str, JsonValue] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise WriteError(
                f"{_subject(asset)} returned a dict with the key {key!r} (of type "
                f"{type_name(key)}) at {where}; JSON object keys are strings, so the dict "
                "would not read back as it was written.",
                hint="Convert the keys to str, e.g. {str(key): item for key, item in "
                "mapping.items()}, or return a DataFrame.\n" + SUPPORTED,
            )
        result[str.__str__(key)] = _to_json(item, f"{where}[{key!r}]", asset)
    return result


def unsupported_value_error(
    value: object, *, asset: str = "", where: str = "$", stored_as: str = ""
) -> WriteError:
    """Build the WriteError for a value assetflow cannot store.

    Args:
        value: The offending value (the whole output, or a part of it).
        asset: The asset's name.
        where: Where ``value`` sits in the output, as a JSONPath ("$" is the top).
        stored_as: The kind the value was meant for (``"parquet"``), if one was set.

    Returns:
        The error, naming the type that came, with a hint on how to convert it.
    """
    if where == "$":
        what = f"{_subject(asset)} returned a value of type {type_name(value)}"
    else:
        what = f"{_subject(asset)} returned a value containing a {type_name(value)} at {where}"
    if stored_as == PARQUET:
        return WriteError(
            f"{what}, which cannot be stored as Parquet.",
            hint="Parquet stores a pandas.DataFrame or a pyarrow.Table: return one "
            '(e.g. pd.DataFrame(records)), or store the value as JSON (io="json").\n' + SUPPORTED,
        )
    return WriteError(
        f"{what}, which assetflow cannot store.",
        hint=f"{_conversion_hint(value)}\n{SUPPORTED}",
    )


def _non_finite_error(value: float, where: str, asset: str) -> WriteError:
    return WriteError(
        f"{_subject(asset)} returned the float {value!r} at {where}; JSON has no NaN or "
        "infinity, so other tools could not read the file.",
        hint="Use None for a missing number (Optional[float] in a pydantic model), "
        "or return a DataFrame, whose float columns hold NaN.",
    )


def _conversion_hint(value: object) -> str:
    """How to turn ``value`` into something storable, by what it is."""
    module = type(value).__module__.split(".")[0]
    name = type(value).__name__
    if module == "numpy" and name == "ndarray":
        return (
            "Wrap the array in a DataFrame to store it as Parquet, e.g. "
            'pd.DataFrame({"value": array}), or call array.tolist() to store it as JSON.'
        )
    if module == "pandas" and name == "Series":
        return "Turn the Series into a DataFrame to store it as Parquet: series.to_frame()."
    if module in _SHORT_NAMED_PACKAGES:
        return "Convert it to a pandas.DataFrame or a pyarrow.Table to store it as Parquet."
    if isinstance(value, set | frozenset):
        return "Return a list instead, e.g. sorted(values)."
    if isinstance(value, types.GeneratorType | Iterator | range):
        return "Collect it first, e.g. list(values)."
    if isinstance(value, bytes | bytearray | memoryview):
        return "Decode it to text (value.decode()) or store it in a DataFrame column."
    if isinstance(value, date | time | timedelta | Decimal):
        return (
            "Convert it to text or a number first (e.g. value.isoformat()), or return a "
            "DataFrame, whose columns keep the type."
        )
    return "Return a pydantic model or a dict of plain values, or a DataFrame."


def _is_pydantic_model(value: object) -> bool:
    pydantic = sys.modules.get("pydantic")
    return pydantic is not None and isinstance(value, pydantic.BaseModel)


def _is_numpy_scalar(value: object) -> bool:
    numpy = sys.modules.get("numpy")
    return numpy is not None and isinstance(value, numpy.bool_ | numpy.number | numpy.str_)


def type_name(value: object) -> str:
    """Name ``value``'s type for a message: ``set``, ``numpy.ndarray``, ``my_project.Thing``."""
    kind = type(value)
    if kind.__module__ == "builtins":
        return kind.__qualname__
    package = kind.__module__.split(".")[0]
    if package in _SHORT_NAMED_PACKAGES:
        return f"{package}.{kind.__qualname__}"
    return f"{kind.__module__}.{kind.__qualname__}"


def _subject(asset: str) -> str:
    return f"asset '{asset}'" if asset else "the asset"

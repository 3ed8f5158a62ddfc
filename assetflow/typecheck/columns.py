"""Map a schema model's fields to column rules: which column kinds each accepts, nulls, values.

A *field kind* is what a field's type asks for (`int`, `date`, ...); a
*column kind* is what a pandas dtype or Arrow type holds. `ACCEPTED` says
which column kinds each field kind accepts; it is the table in this
package's docstring. Pure: no pandas, no pyarrow.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import functools
import typing
from dataclasses import dataclass
from typing import Any

from assetflow.typecheck.annotations import (
    describe,
    is_none_type,
    is_union,
    strip_annotated,
)

# Field kinds.
INT = "int"
FLOAT = "float"
STR = "str"
BOOL = "bool"
DATETIME = "datetime"
AWARE_DATETIME = "aware datetime"
NAIVE_DATETIME = "naive datetime"
DATE = "date"
TIME = "time"
TIMEDELTA = "timedelta"
DECIMAL = "decimal"
BYTES = "bytes"
ANY = "any"

# Column kinds that are not field kinds.
NAIVE_COLUMN = "datetime-naive"
AWARE_COLUMN = "datetime-aware"
#: an object column of datetimes: time zones unknown without a scan
OBJECT_DATETIME_COLUMN = "datetime-object"
#: every value is null (object 'empty', Arrow null): fits any field; only the null rule applies
NULL_COLUMN = "null"
DUPLICATE_COLUMN = "duplicate"

#: Which column kinds each field kind accepts.
ACCEPTED: dict[str, frozenset[str]] = {
    INT: frozenset({INT}),
    FLOAT: frozenset({FLOAT, INT}),
    STR: frozenset({STR}),
    BOOL: frozenset({BOOL}),
    DATETIME: frozenset({NAIVE_COLUMN, AWARE_COLUMN, OBJECT_DATETIME_COLUMN}),
    AWARE_DATETIME: frozenset({AWARE_COLUMN}),
    NAIVE_DATETIME: frozenset({NAIVE_COLUMN}),
    # datetime64 without a time zone is a date column when every value is at midnight
    DATE: frozenset({DATE, NAIVE_COLUMN}),
    TIME: frozenset({TIME}),
    TIMEDELTA: frozenset({TIMEDELTA}),
    DECIMAL: frozenset({DECIMAL}),
    BYTES: frozenset({BYTES}),
}

#: What each field kind needs, as error messages say it.
WANTED: dict[str, str] = {
    INT: "an integer dtype (int64, Int64, or Arrow int*)",
    FLOAT: "a float or integer dtype",
    STR: "a string dtype (str, string[pyarrow], object of str, or category of str)",
    BOOL: "a bool dtype (bool or boolean)",
    DATETIME: "a datetime64 dtype (naive or tz-aware) or an Arrow timestamp",
    AWARE_DATETIME: "a tz-aware datetime64 dtype (e.g. datetime64[us, UTC])",
    NAIVE_DATETIME: "a datetime64 dtype without a time zone",
    DATE: "Arrow date32 (pd.ArrowDtype(pa.date32())), object of datetime.date, "
    "or datetime64 at midnight",
    TIME: "Arrow time64 or object of datetime.time",
    TIMEDELTA: "a timedelta64 dtype or Arrow duration",
    DECIMAL: "Arrow decimal128 or object of Decimal",
    BYTES: "Arrow binary or object of bytes",
}

#: The field types a Schema can check, as a load-time message lists them.
SUPPORTED_FIELD_TYPES = (
    "int, float, str, bool, bytes, datetime (and pydantic's AwareDatetime and "
    "NaiveDatetime), date, time, timedelta, Decimal, Literal[...] and Enum of str or int "
    "values, Any, and unions of these, with or without None"
)

# issubclass order matters: bool is an int, datetime is a date.
_KIND_BY_CLASS: tuple[tuple[type, str], ...] = (
    (bool, BOOL),
    (int, INT),
    (float, FLOAT),
    (str, STR),
    (bytes, BYTES),
    (datetime.datetime, DATETIME),
    (datetime.date, DATE),
    (datetime.time, TIME),
    (datetime.timedelta, TIMEDELTA),
    (decimal.Decimal, DECIMAL),
)
_PYDANTIC_DATETIMES = {"AwareDatetime": AWARE_DATETIME, "NaiveDatetime": NAIVE_DATETIME}


@dataclass(frozen=True, slots=True)
class ColumnRule:
    """What one field of a schema model asks of its column."""

    field: str
    column: str
    #: the field's type, as messages show it ("float | None")
    type_text: str
    kinds: frozenset[str]
    nullable: bool
    #: the values a Literal or Enum field allows, or None for any value
    allowed: tuple[Any, ...] | None = None

    def accepts(self, column_kind: str) -> bool:
        """Whether a column of this kind can hold the field (values aside)."""
        if ANY in self.kinds or column_kind == NULL_COLUMN:
            return True
        return any(column_kind in ACCEPTED[kind] for kind in self.kinds)

    def needs_midnight(self, column_kind: str) -> bool:
        """Whether the column is accepted only as dates, so its values must be at midnight."""
        return column_kind == NAIVE_COLUMN and not any(
            column_kind in ACCEPTED[kind] for kind in self.kinds if kind not in (DATE, ANY)
        )

    def wanted(self) -> str:
        """The dtypes the field accepts, as messages say them."""
        return " or ".join(WANTED[kind] for kind in sorted(self.kinds) if kind in WANTED)


@dataclass(frozen=True, slots=True)
class _Mapped:
    kinds: frozenset[str]
    nullable: bool
    allowed: tuple[Any, ...] | None = None


class _UnmappableError(Exception):
    """A field type that no column type can hold (a list, a nested model, ...)."""


@functools.lru_cache(maxsize=256)
def rules_for_model(model: type) -> tuple[tuple[ColumnRule, ...], tuple[str, ...]]:
    """The column rule of each field of a pydantic model, and the fields no column can hold.

    Returns:
        The rule of each field in declaration order (a field no column type can
        hold gets a rule that only asks for its column), and one text per such
        field ("field 'tags' is list[str]").
    """
    rules = []
    problems = []
    for name, info in model.model_fields.items():  # type: ignore[attr-defined]
        column = info.alias if isinstance(info.alias, str) else name
        try:
            mapped = _map(info.annotation)
        except _UnmappableError:
            # Reported at load time; at run time its column need only be there.
            problems.append(f"field '{name}' is {describe(info.annotation)}")
            mapped = _Mapped(frozenset({ANY}), nullable=True)
        rules.append(
            ColumnRule(
                field=name,
                column=column,
                type_text=describe(info.annotation),
                kinds=mapped.kinds,
                nullable=mapped.nullable,
                allowed=mapped.allowed,
            )
        )
    return tuple(rules), tuple(problems)


def _map(annotation: Any) -> _Mapped:
    annotation = strip_annotated(annotation)
    if annotation is Any or annotation is object:
        return _Mapped(frozenset({ANY}), nullable=True)
    if is_union(annotation):
        return _map_union(typing.get_args(annotation))
    if typing.get_origin(annotation) is typing.Literal:
        return _map_values(typing.get_args(annotation))
    supertype = getattr(annotation, "__supertype__", None)  # typing.NewType
    if supertype is not None:
        return _map(supertype)
    if not isinstance(annotation, type):
        raise _UnmappableError
    if issubclass(annotation, enum.Enum):
        return _map_values(tuple(member.value for member in annotation))
    if annotation.__module__.startswith("pydantic") and annotation.__name__ in _PYDANTIC_DATETIMES:
        return _Mapped(frozenset({_PYDANTIC_DATETIMES[annotation.__name__]}), nullable=False)
    for cls, kind in _KIND_BY_CLASS:
        if issubclass(annotation, cls):
            return _Mapped(frozenset({kind}), nullable=False)
    raise _UnmappableError


def _map_union(members: tuple[Any, ...]) -> _Mapped:
    nullable = any(is_none_type(member) for member in members)
    mapped = [_map(member) for member in members if not is_none_type(member)]
    if not mapped:
        raise _UnmappableError
    allowed: tuple[Any, ...] | None = None
    if all(item.allowed is not None for item in mapped):
        allowed = tuple(value for item in mapped for value in item.allowed or ())
    return _Mapped(
        frozenset().union(*(item.kinds for item in mapped)),
        nullable or any(item.nullable for item in mapped),
        allowed,
    )


def _map_values(values: tuple[Any, ...]) -> _Mapped:
    """A Literal's or an Enum's values: all str, all int or all bool, None allowed."""
    present = tuple(value for value in values if value is not None)
    kinds = {_value_kind(value) for value in present}
    kind = kinds.pop() if len(kinds) == 1 else None
    if kind is None:
        raise _UnmappableError
    return _Mapped(frozenset({kind}), nullable=len(present) < len(values), allowed=present)


def _value_kind(value: Any) -> str | None:
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int):
        return INT
    if isinstance(value, str):
        return STR
    return None

"""The built-in checks (not_null, unique, accepted_values, row_count, in_range, max_age)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from assetflow.checks.judges import (
    _duration,
    _judge_accepted,
    _judge_in_range,
    _judge_max_age,
    _judge_not_null,
    _judge_row_count,
    _judge_unique,
    _show,
)
from assetflow.checks.spec import CheckResult, CheckSpec, Severity
from assetflow.checks.tables import _CannotJudge, _open
from assetflow.errors import DefinitionError, Problem, display_path

# Each built-in's function is a `_Builtin` record over a module-level evaluator, not a
# closure, so that a CheckSpec pickles and can run in a worker process.


def not_null(
    *columns: str,
    blocking: bool = True,
    severity: Severity = "error",
    name: str | None = None,
    description: str | None = None,
) -> CheckSpec:
    """Check that no row has a null (NaN, None, pd.NA, NaT) in any of `columns`.

    Returns:
        A CheckSpec named like `not_null(email)`, to attach with `@asset(checks=[...])`.

    Raises:
        DefinitionError: No columns, or a column that is not a name.
    """
    where = _caller_location()
    columns = _column_names("not_null", columns, where)
    label = name or _label("not_null", *columns)
    return _builtin(label, _judge_not_null, (columns,), blocking, severity, description, where)


def unique(
    *columns: str,
    blocking: bool = True,
    severity: Severity = "error",
    name: str | None = None,
    description: str | None = None,
) -> CheckSpec:
    """Check that no two rows share a value of `columns` (their combination, when several).

    Nulls are compared like values: two rows with a null id are duplicates.

    Returns:
        A CheckSpec named like `unique(id)` or `unique(day, id)`.

    Raises:
        DefinitionError: No columns, or a column that is not a name.
    """
    where = _caller_location()
    columns = _column_names("unique", columns, where)
    label = name or _label("unique", *columns)
    return _builtin(label, _judge_unique, (columns,), blocking, severity, description, where)


def accepted_values(
    column: str,
    values: Iterable[Any],
    *,
    blocking: bool = True,
    severity: Severity = "error",
    name: str | None = None,
    description: str | None = None,
) -> CheckSpec:
    """Check that every non-null value of `column` is one of `values` (nulls: see `not_null`).

    Returns:
        A CheckSpec named like `accepted_values(status)`.

    Raises:
        DefinitionError: `column` is not a name, or `values` is a string or empty.
    """
    where = _caller_location()
    (column,) = _column_names("accepted_values", (column,), where)
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise _invalid(
            "accepted_values",
            where,
            f"takes a list of values, not {type(values).__name__} {values!r}; e.g. "
            f"accepted_values({column!r}, [{values!r}])",
        )
    accepted = tuple(dict.fromkeys(values))
    if not accepted:
        raise _invalid("accepted_values", where, "was given no accepted values")
    label = name or _label("accepted_values", column)
    arguments = (column, accepted)
    return _builtin(label, _judge_accepted, arguments, blocking, severity, description, where)


def row_count(
    min: int | None = None,
    max: int | None = None,
    *,
    blocking: bool = True,
    severity: Severity = "error",
    name: str | None = None,
    description: str | None = None,
) -> CheckSpec:
    """Check that the output has at least `min` and at most `max` rows.

    Returns:
        A CheckSpec named like `row_count(min=1)`.

    Raises:
        DefinitionError: No bound, a bound that is not a non-negative int, or min > max.
    """
    where = _caller_location()
    bounds = {"min": min, "max": max}
    if min is None and max is None:
        raise _invalid("row_count", where, "needs min=, max= or both, e.g. row_count(min=1)")
    for key, bound in bounds.items():
        if bound is not None and (type(bound) is not int or bound < 0):
            raise _invalid("row_count", where, f"has {key}={bound!r}; it must be an int >= 0")
    if min is not None and max is not None and min > max:
        raise _invalid("row_count", where, f"has min={min} above max={max}")
    label = name or _label("row_count", *(f"{k}={v}" for k, v in bounds.items() if v is not None))
    return _builtin(label, _judge_row_count, (min, max), blocking, severity, description, where)


def in_range(
    column: str,
    min: Any = None,
    max: Any = None,
    inclusive: bool = True,
    *,
    blocking: bool = True,
    severity: Severity = "error",
    name: str | None = None,
    description: str | None = None,
) -> CheckSpec:
    """Check that every non-null value of `column` is within [min, max] ((min, max) when
    not `inclusive`); either bound may be None. Nulls: see `not_null`.

    Returns:
        A CheckSpec named like `in_range(amount, min=0, max=100)`.

    Raises:
        DefinitionError: `column` is not a name, or no bound is given.
    """
    where = _caller_location()
    (column,) = _column_names("in_range", (column,), where)
    if min is None and max is None:
        raise _invalid(
            "in_range", where, f"needs min=, max= or both, e.g. in_range({column!r}, min=0)"
        )
    parts = [column] + [f"{k}={_show(v)}" for k, v in (("min", min), ("max", max)) if v is not None]
    label = name or _label("in_range", *parts, *([] if inclusive else ["inclusive=False"]))
    arguments = (column, min, max, bool(inclusive))
    return _builtin(label, _judge_in_range, arguments, blocking, severity, description, where)


def max_age(
    column: str,
    max_age: timedelta,
    *,
    now: datetime | None = None,
    blocking: bool = True,
    severity: Severity = "error",
    name: str | None = None,
    description: str | None = None,
) -> CheckSpec:
    """Check freshness: the newest timestamp in `column` is at most `max_age` before now.

    "Now" is `now` if given, else the `now` passed to `run_check` (the run's clock),
    else the current time. Naive timestamps (in the column or in `now`) are taken as
    UTC; aware ones are compared as the instants they are. Timestamps in the future
    pass. An empty or all-null column fails. Dates (e.g. Arrow date32) are midnight.

    Returns:
        A CheckSpec named like `max_age(updated_at, 1d)`.

    Raises:
        DefinitionError: `column` is not a name, or `max_age` is not a positive timedelta.
    """
    where = _caller_location()
    (column,) = _column_names("max_age", (column,), where)
    if not isinstance(max_age, timedelta) or max_age <= timedelta(0):
        raise _invalid(
            "max_age",
            where,
            f"has max_age={max_age!r}; it must be a positive timedelta, e.g. timedelta(days=1)",
        )
    label = name or _label("max_age", column, _duration(max_age))
    arguments = (column, max_age, now)
    return _builtin(label, _judge_max_age, arguments, blocking, severity, description, where)


@dataclass(frozen=True, slots=True)
class _Builtin:
    """The function of a built-in check: `(value, now=None) -> CheckResult`."""

    label: str
    evaluate: Callable[..., CheckResult]
    arguments: tuple[Any, ...]
    severity: Severity

    @property
    def __name__(self) -> str:
        return self.label

    def __call__(self, value: Any, now: datetime | None = None) -> CheckResult:
        try:
            found = self.evaluate(_open(value), now, *self.arguments)
        except _CannotJudge as problem:
            text = f"{self.label}: cannot run: {problem}"
            return CheckResult(False, "error", text, {"error": f"{self.label}: {problem}"})
        return replace(found, severity=self.severity, message=f"{self.label}: {found.message}")


def _builtin(
    label: str,
    evaluate: Callable[..., CheckResult],
    arguments: tuple[Any, ...],
    blocking: bool,
    severity: Severity,
    description: str | None,
    where: tuple[str, int],
) -> CheckSpec:
    return CheckSpec(
        name=label,
        asset="",
        fn=_Builtin(label, evaluate, arguments, severity),
        blocking=blocking,
        severity=severity,
        description=description or "",
        file=where[0],
        line=where[1],
        kind="builtin",
    )


def _caller_location() -> tuple[str, int]:
    """Where the user called a built-in (the `@asset(checks=[...])` line): two frames up."""
    frame = sys._getframe(2)
    return frame.f_code.co_filename, frame.f_lineno


def _invalid(check_name: str, where: tuple[str, int], text: str) -> DefinitionError:
    place = f"{display_path(where[0], None)}:{where[1]}"
    return DefinitionError([Problem(where[0], where[1], f"{check_name}() ({place}) {text}.")])


def _column_names(
    check_name: str, columns: Sequence[Any], where: tuple[str, int]
) -> tuple[str, ...]:
    if not columns:
        raise _invalid(check_name, where, f"needs a column, e.g. {check_name}('id')")
    for column in columns:
        if not isinstance(column, str) or not column:
            raise _invalid(check_name, where, f"takes column names, not {column!r}")
    return tuple(dict.fromkeys(columns))


def _label(check_name: str, *parts: str) -> str:
    return f"{check_name}({', '.join(parts)})"

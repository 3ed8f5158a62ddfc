"""The evaluators of the built-in checks: judge a table column-wise and word what they find."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from assetflow.checks.spec import SHOWN_VALUES, CheckResult, jsonable
from assetflow.checks.tables import _CannotJudge, _Table

# The evaluators: (table, the run's now, the built-in's arguments) -> CheckResult, with a
# message that the `_Builtin` prefixes with the check's name.


def _judge_not_null(table: _Table, now: datetime | None, columns: Sequence[str]) -> CheckResult:
    nulls = table.frame(columns).isna()
    mask = nulls.any(axis=1).to_numpy(dtype=bool)
    failing, rows = int(mask.sum()), table.rows
    metadata = {
        "rows": rows,
        "failing_rows": failing,
        "nulls_by_column": {str(c): int(n) for c, n in nulls.sum().items()},
    }
    if not failing:
        return CheckResult(True, message=f"no nulls in {rows:,} rows", metadata=metadata)
    what = f"a null {columns[0]}" if len(columns) == 1 else f"a null in {_either(columns)}"
    message = f"{failing:,} of {rows:,} rows have {what}"
    return CheckResult(False, message=message, metadata=metadata, sample=table.sample(mask))


def _judge_unique(table: _Table, now: datetime | None, columns: Sequence[str]) -> CheckResult:
    key = columns[0] if len(columns) == 1 else f"({', '.join(columns)})"
    frame = table.frame(columns)
    mask = frame.duplicated(keep=False).to_numpy(dtype=bool)
    failing, rows = int(mask.sum()), table.rows
    metadata: dict[str, Any] = {"rows": rows, "failing_rows": failing}
    if not failing:
        return CheckResult(True, message=f"no duplicated {key} in {rows:,} rows", metadata=metadata)
    counts = frame[mask].value_counts(dropna=False)
    # Most repeated first, ties by value: pandas versions order ties differently, and a
    # frame and its Arrow table (nulls as None or NaN) must list the same values.
    ordered = sorted(counts.items(), key=lambda item: (-int(item[1]), _tie_key(item[0])))
    shown = [
        (dict(zip(columns, _as_tuple(value), strict=True)), int(n))
        for value, n in ordered[:SHOWN_VALUES]
    ]
    metadata["duplicated_keys"] = len(counts)
    metadata["duplicates"] = [
        {"value": v[columns[0]] if len(columns) == 1 else v, "rows": n} for v, n in shown
    ]
    listed = ", ".join(f"{_show_key(v, columns)} ({n} rows)" for v, n in shown)
    listed += ", ..." if len(counts) > SHOWN_VALUES else ""
    message = (
        f"{failing:,} of {rows:,} rows share their {key} with another row; "
        f"{len(counts):,} {_plural(len(counts), 'value')} repeated: {listed}"
    )
    return CheckResult(False, message=message, metadata=metadata, sample=table.sample(mask))


def _judge_accepted(
    table: _Table, now: datetime | None, column: str, accepted: tuple[Any, ...]
) -> CheckResult:
    series = table.frame([column])[column]
    mask = (series.notna() & ~series.isin(list(accepted))).to_numpy(dtype=bool)
    failing, rows = int(mask.sum()), table.rows
    metadata: dict[str, Any] = {"rows": rows, "failing_rows": failing, "accepted": accepted}
    if not failing:
        message = f"every {column} of {rows:,} rows is accepted"
        return CheckResult(True, message=message, metadata=metadata)
    counts = series[mask].value_counts()
    shown = [(jsonable(v), int(n)) for v, n in counts.head(SHOWN_VALUES).items()]
    metadata["unexpected_values"] = len(counts)
    metadata["unexpected"] = [{"value": v, "rows": n} for v, n in shown]
    listed = ", ".join(f"{_show(v)} ({n} {_plural(n, 'row')})" for v, n in shown)
    listed += ", ..." if len(counts) > SHOWN_VALUES else ""
    message = f"{failing:,} of {rows:,} rows have an unaccepted {column}: {listed}"
    return CheckResult(False, message=message, metadata=metadata, sample=table.sample(mask))


def _judge_row_count(
    table: _Table, now: datetime | None, low: int | None, high: int | None
) -> CheckResult:
    rows = table.rows
    metadata = {"rows": rows, "min": low, "max": high}
    too_few = low is not None and rows < low
    too_many = high is not None and rows > high
    if not (too_few or too_many):
        return CheckResult(True, message=f"{rows:,} {_plural(rows, 'row')}", metadata=metadata)
    if low is not None and high is not None:
        expected = f"between {low:,} and {high:,}"
    else:
        expected = f"at least {low:,}" if low is not None else f"at most {high:,}"
    message = f"{rows:,} {_plural(rows, 'row')}, expected {expected}"
    return CheckResult(False, message=message, metadata=metadata)


def _judge_in_range(
    table: _Table, now: datetime | None, column: str, low: Any, high: Any, inclusive: bool
) -> CheckResult:
    import numpy as np

    series = table.frame([column])[column]
    present = series.notna().to_numpy(dtype=bool)
    values = series[present]
    outside = np.zeros(len(values), dtype=bool)
    if low is not None:
        outside |= (values < low if inclusive else values <= low).to_numpy(dtype=bool)
    if high is not None:
        outside |= (values > high if inclusive else values >= high).to_numpy(dtype=bool)
    mask = np.zeros(table.rows, dtype=bool)
    mask[present] = outside
    failing, rows = int(mask.sum()), table.rows
    observed = (values.min(), values.max()) if len(values) else (None, None)
    metadata = {
        "rows": rows,
        "failing_rows": failing,
        "min": low,
        "max": high,
        "inclusive": inclusive,
        "observed_min": observed[0],
        "observed_max": observed[1],
    }
    # (sign that passes, sign that fails, bound) for each given bound
    signs = (
        ((">=", "<", low), ("<=", ">", high))
        if inclusive
        else ((">", "<=", low), ("<", ">=", high))
    )
    if not failing:
        expected = " and ".join(f"{ok} {_show(v)}" for ok, _, v in signs if v is not None)
        return CheckResult(True, message=f"every {column} is {expected}", metadata=metadata)
    violated = " or ".join(f"{bad} {_show(v)}" for _, bad, v in signs if v is not None)
    seen = f"{_show(jsonable(observed[0]))} to {_show(jsonable(observed[1]))}"
    message = f"{failing:,} of {rows:,} rows have {column} {violated} (observed {seen})"
    return CheckResult(False, message=message, metadata=metadata, sample=table.sample(mask))


def _judge_max_age(
    table: _Table,
    run_now: datetime | None,
    column: str,
    limit: timedelta,
    fixed_now: datetime | None,
) -> CheckResult:
    newest = _newest(table.frame([column])[column], column)
    reference = fixed_now or run_now or datetime.now(UTC)
    metadata: dict[str, Any] = {
        "newest": None,
        "now": reference,
        "max_age_seconds": limit.total_seconds(),
    }
    if newest is None:
        message = f"no {column} to judge: the table is empty or every {column} is null"
        return CheckResult(False, message=message, metadata=metadata)
    reference_ts = _as_comparable(reference, newest)
    age = (reference_ts - newest).to_pytimedelta()
    metadata.update(newest=newest, now=reference_ts, age_seconds=age.total_seconds())
    if age < timedelta(0):
        message = f"the newest {column}, {newest.isoformat()}, is in the future"
        return CheckResult(True, message=message, metadata=metadata)
    if age <= limit:
        message = f"the newest {column}, {newest.isoformat()}, is {_duration(age)} old"
        return CheckResult(True, message=message, metadata=metadata)
    message = (
        f"the newest {column} is {newest.isoformat()}, {_duration(age)} before "
        f"{reference_ts.isoformat()}; at most {_duration(limit)} is allowed"
    )
    return CheckResult(False, message=message, metadata=metadata)


def _newest(series: Any, column: str) -> Any:
    """The latest timestamp of a column (a pandas Timestamp), or None when there is none."""
    import pandas as pd

    if not pd.api.types.is_datetime64_any_dtype(series.dtype):
        if series.dtype != object:
            raise _CannotJudge(
                f"column {column!r} holds {series.dtype}, not timestamps; convert it with "
                "pd.to_datetime() in the asset"
            )
        try:  # dates and datetimes in an object column (e.g. Arrow date32)
            series = pd.to_datetime(series)
        except (TypeError, ValueError) as error:
            raise _CannotJudge(f"column {column!r} does not hold timestamps: {error}") from error
    newest = series.max()
    return None if pd.isna(newest) else newest


def _as_comparable(reference: datetime, newest: Any) -> Any:
    """`reference` as a Timestamp comparable with `newest`: naive ones are UTC."""
    import pandas as pd

    stamp = pd.Timestamp(reference)
    if newest.tzinfo is None:
        return stamp.tz_convert("UTC").tz_localize(None) if stamp.tzinfo is not None else stamp
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp


def _either(names: Sequence[str]) -> str:
    return ", ".join(names[:-1]) + f" or {names[-1]}"


def _plural(count: int, word: str) -> str:
    return word if count == 1 else word + "s"


def _tie_key(value: Any) -> tuple[tuple[int, str], ...]:
    """An order for values of any types: nulls (None, NaN, NA) first, then by text."""
    import pandas as pd

    return tuple((0, "") if pd.isna(item) else (1, str(item)) for item in _as_tuple(value))


def _as_tuple(value: Any) -> tuple[Any, ...]:
    return value if isinstance(value, tuple) else (value,)


def _show(value: Any) -> str:
    """A value as a message shows it: strings quoted, times in ISO format."""
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(jsonable(value))


def _show_key(values: Mapping[str, Any], columns: Sequence[str]) -> str:
    shown = [_show(jsonable(values[c])) for c in columns]
    return shown[0] if len(shown) == 1 else f"({', '.join(shown)})"


def _duration(span: timedelta) -> str:
    """A duration in short units: 1d, 6h, 1d12h, 1m30s, 0.5s."""
    seconds = abs(span.total_seconds())
    if seconds < 1:
        return f"{seconds:g}s"
    parts = []
    rest = round(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)

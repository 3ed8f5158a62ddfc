"""Asset checks: built-ins judge tables column-wise, custom checks never crash a run, and
check definitions are validated at load with every problem reported."""

from __future__ import annotations

import inspect
import json
import pickle
import sys
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assetflow.checks import (
    CheckResult,
    CheckSpec,
    accepted_values,
    blocking_failures,
    check,
    check_problems,
    checks_for,
    describe_blocking,
    in_range,
    is_blocking_failure,
    jsonable,
    max_age,
    not_null,
    row_count,
    run_check,
    run_checks,
    unique,
)
from assetflow.errors import DefinitionError
from tests.pandas_versions import STR_DTYPE

#: The fixed "now" of these tests.
T0 = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
ASSETS = ("raw_records", "clean_records", "daily_totals")


@pytest.fixture
def records() -> pd.DataFrame:
    """Four records: a duplicated id, two null emails, an unaccepted status, two bad amounts."""
    return pd.DataFrame(
        {
            "id": [1, 2, 2, 3],
            "email": ["a@x.io", "b@x.io", None, float("nan")],
            "status": ["new", "paid", "void", "new"],
            "amount": [10.0, -5.0, 120.0, None],
        }
    )


# -- not_null ------------------------------------------------------------------------------


def test_not_null_passes_without_nulls(records):
    result = run_check(not_null("id", "status"), records)
    assert result.passed
    assert result.message == "not_null(id, status): no nulls in 4 rows"
    assert result.metadata == {
        "rows": 4,
        "failing_rows": 0,
        "nulls_by_column": {"id": 0, "status": 0},
    }
    assert result.sample == ()


def test_not_null_fails_with_count_metadata_and_sample(records):
    result = run_check(not_null("email"), records)
    assert not result.passed
    assert result.severity == "error"
    assert result.message == "not_null(email): 2 of 4 rows have a null email"
    assert result.metadata == {"rows": 4, "failing_rows": 2, "nulls_by_column": {"email": 2}}
    assert result.sample == (
        {"id": 2, "email": None, "status": "void", "amount": 120.0},
        {"id": 3, "email": None, "status": "new", "amount": None},
    )


def test_not_null_over_several_columns_counts_rows_once(records):
    result = run_check(not_null("email", "amount"), records)
    assert result.message == "not_null(email, amount): 2 of 4 rows have a null in email or amount"
    assert result.metadata["nulls_by_column"] == {"email": 2, "amount": 1}
    assert result.metadata["failing_rows"] == 2


def test_not_null_counts_nan_none_and_na_in_pandas3_str_dtype():
    frame = pd.DataFrame({"email": ["a", None, float("nan"), pd.NA, ""]})
    assert frame.dtypes["email"] == STR_DTYPE
    result = run_check(not_null("email"), frame)
    assert result.message == "not_null(email): 3 of 5 rows have a null email"


@pytest.mark.parametrize(
    "column",
    [
        pd.Series(["a", None], dtype=object),
        pd.Series([1, None], dtype="Int64"),
        pd.Series([1.0, np.nan]),
        pd.Series([pd.Timestamp("2026-01-01"), pd.NaT]),
        pd.Series(["a", pd.NA], dtype="string"),
    ],
    ids=["object", "Int64", "float", "datetime", "string"],
)
def test_not_null_finds_the_null_of_every_dtype(column):
    result = run_check(not_null("x"), pd.DataFrame({"x": column}))
    assert result.metadata["failing_rows"] == 1


def test_not_null_formats_large_counts_with_separators():
    frame = pd.DataFrame({"email": [None] * 3 + ["a"] * 4_493})
    assert run_check(not_null("email"), frame).message == (
        "not_null(email): 3 of 4,496 rows have a null email"
    )


# -- unique --------------------------------------------------------------------------------


def test_unique_passes(records):
    result = run_check(unique("id", "status"), records)
    assert result.passed
    assert result.message == "unique(id, status): no duplicated (id, status) in 4 rows"


def test_unique_fails_naming_the_repeated_values(records):
    result = run_check(unique("id"), records)
    assert not result.passed
    assert result.message == (
        "unique(id): 2 of 4 rows share their id with another row; 1 value repeated: 2 (2 rows)"
    )
    assert result.metadata == {
        "rows": 4,
        "failing_rows": 2,
        "duplicated_keys": 1,
        "duplicates": [{"value": 2, "rows": 2}],
    }
    assert [row["id"] for row in result.sample] == [2, 2]


def test_unique_over_several_columns_judges_the_combination():
    frame = pd.DataFrame({"day": ["d1", "d1", "d2", "d1"], "id": [1, 2, 1, 1]})
    result = run_check(unique("day", "id"), frame)
    assert result.message == (
        "unique(day, id): 2 of 4 rows share their (day, id) with another row; "
        "1 value repeated: ('d1', 1) (2 rows)"
    )
    assert result.metadata["duplicates"] == [{"value": {"day": "d1", "id": 1}, "rows": 2}]


def test_unique_compares_nulls_like_values():
    result = run_check(unique("id"), pd.DataFrame({"id": [1.0, None, None]}))
    assert result.metadata["duplicates"] == [{"value": None, "rows": 2}]


# -- accepted_values -----------------------------------------------------------------------


def test_accepted_values_passes_and_leaves_nulls_to_not_null():
    frame = pd.DataFrame({"status": ["new", None, "paid"]})
    result = run_check(accepted_values("status", ["new", "paid"]), frame)
    assert result.passed
    assert result.message == "accepted_values(status): every status of 3 rows is accepted"


def test_accepted_values_fails_naming_the_unaccepted_values():
    frame = pd.DataFrame({"status": ["new", "void", "pending", "void", "paid"]})
    result = run_check(accepted_values("status", ("new", "paid")), frame)
    assert result.message == (
        "accepted_values(status): 3 of 5 rows have an unaccepted status: "
        "'void' (2 rows), 'pending' (1 row)"
    )
    assert result.metadata == {
        "rows": 5,
        "failing_rows": 3,
        "accepted": ["new", "paid"],
        "unexpected_values": 2,
        "unexpected": [{"value": "void", "rows": 2}, {"value": "pending", "rows": 1}],
    }
    assert len(result.sample) == 3


def test_accepted_values_rejects_a_string_as_the_list():
    with pytest.raises(DefinitionError, match=r"takes a list of values, not str 'new'"):
        accepted_values("status", "new")


# -- row_count -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "rows", "message"),
    [
        (row_count(min=1), 4, "row_count(min=1): 4 rows"),
        (row_count(min=5), 4, "row_count(min=5): 4 rows, expected at least 5"),
        (row_count(max=3), 4, "row_count(max=3): 4 rows, expected at most 3"),
        (row_count(1, 3), 0, "row_count(min=1, max=3): 0 rows, expected between 1 and 3"),
        (row_count(min=1), 1, "row_count(min=1): 1 row"),
    ],
)
def test_row_count(spec, rows, message):
    result = run_check(spec, pd.DataFrame({"id": range(rows)}))
    assert result.message == message
    assert result.passed == ("expected" not in message)
    assert result.metadata["rows"] == rows


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({}, r"needs min=, max= or both"),
        ({"min": -1}, r"has min=-1; it must be an int >= 0"),
        ({"min": 1.5}, r"has min=1.5; it must be an int >= 0"),
        ({"min": 5, "max": 1}, r"has min=5 above max=1"),
    ],
)
def test_row_count_rejects_bad_bounds_where_it_is_called(kwargs, match):
    with pytest.raises(DefinitionError, match=match) as caught:
        row_count(**kwargs)
    assert "row_count() (" in str(caught.value)
    assert "test_checks.py:" in str(caught.value)


# -- in_range ------------------------------------------------------------------------------


def test_in_range_passes(records):
    result = run_check(in_range("amount", min=-10, max=200), records)
    assert result.passed
    assert result.message == "in_range(amount, min=-10, max=200): every amount is >= -10 and <= 200"


def test_in_range_fails_with_bounds_and_observed_range(records):
    result = run_check(in_range("amount", min=0, max=100), records)
    assert result.message == (
        "in_range(amount, min=0, max=100): 2 of 4 rows have amount < 0 or > 100 "
        "(observed -5.0 to 120.0)"
    )
    assert result.metadata == {
        "rows": 4,
        "failing_rows": 2,
        "min": 0,
        "max": 100,
        "inclusive": True,
        "observed_min": -5.0,
        "observed_max": 120.0,
    }
    assert [row["amount"] for row in result.sample] == [-5.0, 120.0]


def test_in_range_exclusive_fails_on_the_bound():
    frame = pd.DataFrame({"share": [0.0, 0.5, 1.0]})
    spec = in_range("share", min=0, max=1, inclusive=False)
    assert spec.name == "in_range(share, min=0, max=1, inclusive=False)"
    result = run_check(spec, frame)
    assert result.message.endswith("2 of 3 rows have share <= 0 or >= 1 (observed 0.0 to 1.0)")
    assert run_check(in_range("share", min=0, max=1), frame).passed


def test_in_range_skips_nullable_na_and_compares_timestamps():
    ints = pd.DataFrame({"n": pd.array([1, None, 7], dtype="Int64")})
    assert run_check(in_range("n", max=5), ints).metadata["failing_rows"] == 1
    days = pd.DataFrame({"day": pd.to_datetime(["2026-01-01", "2025-12-31"])})
    result = run_check(in_range("day", min=datetime(2026, 1, 1)), days)
    assert result.message == (
        "in_range(day, min=2026-01-01T00:00:00): 1 of 2 rows have day < 2026-01-01T00:00:00 "
        "(observed '2025-12-31T00:00:00' to '2026-01-01T00:00:00')"
    )


# -- max_age -------------------------------------------------------------------------------


def _stamps(*values: str, tz: str | None = None) -> pd.DataFrame:
    return pd.DataFrame(
        {"updated_at": pd.to_datetime(list(values), format="ISO8601").tz_localize(tz)}
    )


def test_max_age_passes_when_the_newest_is_recent_enough():
    frame = _stamps("2026-03-01", "2026-03-04 06:00")
    result = run_check(max_age("updated_at", timedelta(days=1)), frame, now=T0)
    assert result.passed
    assert result.message == (
        "max_age(updated_at, 1d): the newest updated_at, 2026-03-04T06:00:00, is 6h old"
    )


def test_max_age_fails_with_age_and_limit():
    frame = _stamps("2026-03-01", "2026-03-02 10:30")
    result = run_check(max_age("updated_at", timedelta(hours=36)), frame, now=T0)
    assert not result.passed
    assert result.message == (
        "max_age(updated_at, 1d12h): the newest updated_at is 2026-03-02T10:30:00, 2d1h30m "
        "before 2026-03-04T12:00:00; at most 1d12h is allowed"
    )
    assert result.metadata == {
        "newest": "2026-03-02T10:30:00",
        "now": "2026-03-04T12:00:00",
        "max_age_seconds": 129600.0,
        "age_seconds": 178200.0,
    }


def test_max_age_compares_aware_timestamps_as_instants():
    # 2026-03-04 08:00 in New York is 13:00 UTC: in the future of T0, so fresh.
    frame = _stamps("2026-03-04 08:00", tz="America/New_York")
    assert run_check(max_age("updated_at", timedelta(minutes=1)), frame, now=T0).passed
    # A naive now is taken as UTC: 12:00 UTC is 07:00 in New York, so 5h old.
    frame = _stamps("2026-03-04 02:00", tz="America/New_York")
    spec = max_age("updated_at", timedelta(hours=4))
    result = run_check(spec, frame, now=datetime(2026, 3, 4, 12, 0))
    assert result.metadata["age_seconds"] == 5 * 3600


def test_max_age_takes_naive_column_as_utc_against_an_aware_now():
    frame = _stamps("2026-03-04 10:00")
    now = datetime(2026, 3, 4, 13, 0, tzinfo=timezone(timedelta(hours=1)))  # 12:00 UTC
    result = run_check(max_age("updated_at", timedelta(hours=1)), frame, now=now)
    assert result.metadata["age_seconds"] == 2 * 3600
    assert not result.passed


def test_max_age_now_given_to_the_check_wins_over_the_run():
    frame = _stamps("2026-03-04 10:00")
    spec = max_age("updated_at", timedelta(hours=1), now=datetime(2026, 3, 4, 10, 30))
    assert run_check(spec, frame, now=T0).passed


def test_max_age_without_now_uses_the_current_time():
    frame = _stamps("2000-01-01")
    assert not run_check(max_age("updated_at", timedelta(days=1)), frame).passed


def test_max_age_fails_on_an_empty_or_all_null_column():
    frame = pd.DataFrame({"updated_at": pd.Series([pd.NaT, pd.NaT])})
    result = run_check(max_age("updated_at", timedelta(days=1)), frame, now=T0)
    assert result.message == (
        "max_age(updated_at, 1d): no updated_at to judge: the table is empty or every "
        "updated_at is null"
    )
    assert not result.is_check_error


def test_max_age_reads_arrow_dates_and_rejects_non_timestamps():
    days = pa.table({"day": pa.array([date(2026, 3, 3), date(2026, 3, 4)], pa.date32())})
    assert run_check(max_age("day", timedelta(days=1)), days, now=T0).passed
    numbers = pd.DataFrame({"day": [1, 2]})
    result = run_check(max_age("day", timedelta(days=1)), numbers, now=T0)
    assert result.is_check_error
    assert result.message == (
        "max_age(day, 1d): cannot run: column 'day' holds int64, not timestamps; convert it "
        "with pd.to_datetime() in the asset"
    )


def test_max_age_rejects_a_limit_that_is_not_a_timedelta():
    with pytest.raises(DefinitionError, match=r"has max_age=3600; it must be a positive timedelta"):
        max_age("updated_at", 3600)  # type: ignore[arg-type]


# -- every built-in ------------------------------------------------------------------------


def test_builtins_read_arrow_tables(records):
    table = pa.Table.from_pandas(records, preserve_index=False)
    assert run_check(not_null("email"), table).message == (
        "not_null(email): 2 of 4 rows have a null email"
    )
    assert (
        run_check(not_null("email"), table).sample == run_check(not_null("email"), records).sample
    )
    assert run_check(unique("id"), table).metadata["duplicates"] == [{"value": 2, "rows": 2}]
    assert (
        run_check(accepted_values("status", ["new", "paid"]), table).metadata["failing_rows"] == 1
    )
    assert run_check(row_count(max=3), table).message.endswith("4 rows, expected at most 3")
    assert run_check(in_range("amount", min=0), table).metadata["failing_rows"] == 1


def test_a_builtin_given_a_non_table_fails_clearly():
    result = run_check(unique("id"), [1, 2, 2])
    assert not result.passed
    assert result.severity == "error"
    assert result.is_check_error
    assert result.message == (
        "unique(id): cannot run: it tests a table (a pandas DataFrame or a pyarrow Table), "
        "but the asset's value is a list"
    )


def test_a_builtin_on_a_missing_column_suggests_the_close_one(records):
    result = run_check(not_null("emial"), records)
    assert result.message == (
        "not_null(emial): cannot run: the table has no column 'emial' (Did you mean 'email'?); "
        "its columns are: id, email, status, amount"
    )


def test_builtin_names_settings_and_location():
    spec, line = not_null("email", "email"), sys._getframe().f_lineno
    assert spec.name == "not_null(email)"
    assert (spec.kind, spec.asset, spec.blocking, spec.severity) == ("builtin", "", True, "error")
    assert spec.location == f"{__file__}:{line}"
    assert unique("day", "id").name == "unique(day, id)"
    assert accepted_values("status", ["a"]).name == "accepted_values(status)"
    assert max_age("at", timedelta(minutes=90)).name == "max_age(at, 1h30m)"
    assert in_range("x", max="z").name == "in_range(x, max='z')"
    assert row_count(min=1, name="has_rows").name == "has_rows"


def test_a_warn_builtin_fails_without_blocking(records):
    spec = not_null("email", severity="warn", blocking=True)
    result = run_check(spec, records)
    assert (result.passed, result.severity) == (False, "warn")
    assert not is_blocking_failure(spec, result)
    assert is_blocking_failure(not_null("email"), run_check(not_null("email"), records))
    unblocking = not_null("email", blocking=False)
    assert not is_blocking_failure(unblocking, run_check(unblocking, records))


def test_a_builtin_is_callable_on_a_frame(records):
    assert not_null("id")(records).passed


def test_a_builtin_pickles_for_worker_processes(records):
    spec = pickle.loads(pickle.dumps(in_range("amount", min=0, max=100)))
    assert run_check(spec, records).metadata["failing_rows"] == 2


def test_a_builtin_that_raises_is_an_error_located_where_it_was_attached(records):
    spec, line = in_range("status", min=0), sys._getframe().f_lineno
    result = run_check(checks_for("clean_records", [spec], [])[0], records)
    assert result.is_check_error
    assert result.metadata["error"].startswith("TypeError: ")
    assert result.message.startswith(
        "check 'in_range(status, min=0)' on asset 'clean_records' could not run: it raised "
        "TypeError: "
    )
    assert f"({__file__}:{line}).\n\nThis is an error in the check" in result.message


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: not_null(), r"not_null\(\) \(.*\) needs a column, e.g. not_null\('id'\)"),
        (lambda: unique("id", 3), r"unique\(\) \(.*\) takes column names, not 3"),
        (lambda: in_range("x"), r"in_range\(\) \(.*\) needs min=, max= or both"),
    ],
)
def test_builtins_reject_bad_arguments(make, match):
    with pytest.raises(DefinitionError, match=match):
        make()


# -- custom checks -------------------------------------------------------------------------


@check(asset="clean_records")
def emails_present(clean_records: pd.DataFrame) -> bool:
    """Every record has an email."""
    return bool(clean_records["email"].notna().all())


@check(asset="clean_records", name="emails_typo")
def emails_typo(clean_records: pd.DataFrame) -> bool:
    return bool(clean_records["emial"].notna().all())


def test_the_decorator_keeps_the_function_callable(records):
    assert isinstance(emails_present, CheckSpec)
    assert emails_present(records) is False
    assert emails_present.__name__ == "emails_present"
    assert list(inspect.signature(emails_present).parameters) == ["clean_records"]
    assert emails_present.name == "emails_present"
    assert emails_present.asset == "clean_records"
    assert emails_present.description == "Every record has an email."
    assert (emails_present.kind, emails_present.blocking, emails_present.severity) == (
        "custom",
        True,
        "error",
    )
    assert emails_present.file == __file__


def test_the_asset_defaults_to_the_parameter_name():
    @check
    def positive(daily_totals):
        return True

    assert (positive.asset, positive.name) == ("daily_totals", "positive")

    @check(blocking=False)
    def small(clean_records, limit=10):
        return len(clean_records) <= limit

    assert (small.asset, small.blocking) == ("clean_records", False)


def test_a_custom_check_returning_a_bool(records):
    result = run_check(emails_present, records)
    assert result == CheckResult(False, "error", "check 'emails_present' returned False")
    assert run_check(emails_present, records.dropna()).passed


def test_a_custom_check_returning_numpy_bool_and_warn_severity(records):
    @check(asset="clean_records", severity="warn")
    def ids_positive(clean_records):
        return (clean_records["id"] > 0).all()

    assert isinstance(ids_positive(records), np.bool_)
    assert run_check(ids_positive, records) == CheckResult(True, "warn", "")


def test_a_custom_check_returning_a_result_is_kept(records):
    @check(asset="clean_records")
    def few_nulls(clean_records):
        nulls = clean_records["email"].isna().sum()
        return CheckResult(nulls < 3, "warn", f"{nulls} nulls", {"nulls": nulls})

    result = run_check(few_nulls, records)
    assert result == CheckResult(True, "warn", "2 nulls", {"nulls": 2})
    assert type(result.metadata["nulls"]) is int


def test_a_check_that_raises_is_an_error_of_the_check_at_the_users_line(records):
    result = run_check(emails_typo, records, root=Path(__file__).parent)
    raise_line = emails_typo.line + 2
    assert not result.passed
    assert result.severity == "error"
    assert result.is_check_error
    assert result.metadata == {"error": "KeyError: 'emial'"}
    assert result.message.startswith(
        "check 'emails_typo' on asset 'clean_records' could not run: it raised "
        f"KeyError: 'emial' (tests/test_checks.py:{raise_line}).\n\n"
        "This is an error in the check, not a finding about the data."
    )
    assert "Traceback (your code):" in result.message
    assert is_blocking_failure(emails_typo, result)


def test_a_check_that_exits_or_returns_nonsense_is_an_error_of_the_check(records):
    @check(asset="clean_records")
    def exits(clean_records):
        sys.exit(3)

    @check(asset="clean_records")
    def forgets_to_return(clean_records):
        clean_records["id"].is_unique  # noqa: B018

    assert run_check(exits, records).metadata == {"error": "SystemExit: 3"}
    result = run_check(forgets_to_return, records)
    assert result.metadata == {"error": "TypeError: returned NoneType, not a bool or a CheckResult"}
    assert result.message.startswith(
        f"check 'forgets_to_return' on asset 'clean_records' ({__file__}:"
        f"{forgets_to_return.line}) returned NoneType, not a bool or a CheckResult."
    )


def test_a_result_with_an_unknown_severity_is_an_error_of_the_check(records):
    @check(asset="clean_records")
    def odd(clean_records):
        return CheckResult(False, "fatal")  # type: ignore[arg-type]

    result = run_check(odd, records)
    assert result.is_check_error
    assert "severity='fatal', but severity must be 'warn' or 'error'" in result.message


def test_results_are_json_able_and_samples_capped():
    result = CheckResult(
        False,
        metadata={"n": np.int64(3), "share": np.float64(0.5), "when": pd.Timestamp("2026-01-01")},
        sample=tuple({"x": np.nan, "t": "y" * 500, "na": pd.NA} for _ in range(8)),
    )
    assert result.metadata == {"n": 3, "share": 0.5, "when": "2026-01-01T00:00:00"}
    assert len(result.sample) == 5
    assert result.sample[0]["x"] is None
    assert result.sample[0]["na"] is None
    assert len(result.sample[0]["t"]) == 201
    json.dumps([result.metadata, result.sample], allow_nan=False)
    assert jsonable({1: (Decimal("1.5"), timedelta(seconds=2))}) == {"1": ["1.5", 2.0]}


# -- running several, recording ------------------------------------------------------------


def test_run_checks_records_outcomes_and_blocking_failures(records):
    specs = checks_for(
        "clean_records",
        [not_null("email"), row_count(min=1), unique("id", severity="warn")],
        [emails_present],
    )
    outcomes = run_checks(specs, records, partition="2026-03-01", now=T0)
    assert [(o.check, o.result.passed) for o in outcomes] == [
        ("not_null(email)", False),
        ("row_count(min=1)", True),
        ("unique(id)", False),
        ("emails_present", False),
    ]
    assert {o.asset for o in outcomes} == {"clean_records"}
    blocking = blocking_failures(outcomes)
    assert [o.check for o in blocking] == ["not_null(email)", "emails_present"]
    assert describe_blocking(outcomes) == (
        "check 'not_null(email)' on clean_records[2026-03-01] failed: "
        "not_null(email): 2 of 4 rows have a null email\n"
        "check 'emails_present' on clean_records[2026-03-01] failed: "
        "check 'emails_present' returned False"
    )


def test_an_outcome_fits_the_stores_check_record(records):
    from assetflow.store.records import CheckRecord

    (outcome,) = run_checks(checks_for("clean_records", [not_null("email")], []), records)
    fields = outcome.record_fields()
    json.dumps(fields, allow_nan=False)
    assert fields["metadata"]["sample"][0]["id"] == 2
    record = CheckRecord(run_id="r1", at=T0, **fields)
    assert record.is_blocking_failure == outcome.is_blocking_failure is True


def test_checks_for_binds_attached_builtins_and_keeps_each_check_once():
    attached = [not_null("id"), emails_present]
    bound = checks_for("clean_records", attached, [emails_present, emails_typo])
    assert [(s.name, s.asset) for s in bound] == [
        ("not_null(id)", "clean_records"),
        ("emails_present", "clean_records"),
        ("emails_typo", "clean_records"),
    ]
    assert checks_for("daily_totals", [], [emails_present]) == ()


# -- load-time problems --------------------------------------------------------------------


def _problems(*specs: CheckSpec) -> str:
    return str(DefinitionError(check_problems(specs, ASSETS, root=Path(__file__).parent)))


def test_a_check_of_an_unknown_asset_suggests_the_close_one():
    @check(asset="clean_record")
    def emails_valid(clean_record):
        return True

    problems = check_problems([emails_valid], ASSETS)
    assert [(p.file, p.line) for p in problems] == [(__file__, emails_valid.line)]
    with pytest.raises(DefinitionError, match="Did you mean 'clean_records'") as caught:
        raise DefinitionError(problems)
    assert str(caught.value).startswith(
        f"check 'emails_valid' ({__file__}:{emails_valid.line}) tests asset 'clean_record', "
        "but no asset is named 'clean_record'."
    )


def test_paths_in_problems_are_relative_to_the_project():
    @check(asset="nothing_like_it")
    def lonely(x):
        return True

    message = _problems(lonely)
    assert f"check 'lonely' (tests/test_checks.py:{lonely.line}) tests asset" in message
    assert "Did you mean" not in message


def test_two_checks_with_one_name_on_one_asset():
    first = not_null("id")
    second = not_null("id")
    message = _problems(*checks_for("clean_records", [first, second], []))
    assert message.startswith(
        "asset 'clean_records' has 2 checks named 'not_null(id)' (tests/test_checks.py:"
    )
    assert "pass name='...' to all but one" in message
    assert not check_problems(checks_for("clean_records", [first], []), ASSETS)


def test_settings_of_the_wrong_type_are_problems():
    @check(asset="clean_records", blocking="yes", severity="warning")  # type: ignore[arg-type]
    def loose(clean_records):
        return True

    message = _problems(loose)
    assert message.startswith("the project has 2 definition problems:")
    assert (
        f"check 'loose' (tests/test_checks.py:{loose.line}) has blocking='yes' (str), "
        "but blocking must be True or False." in message
    )
    assert "has severity='warning', but severity must be 'warn' or 'error'." in message
    assert "Did you mean 'warn'?" in message
    builtin = checks_for("clean_records", [row_count(min=1, blocking=1)], [])  # type: ignore[arg-type]
    assert "has blocking=1 (int)" in _problems(*builtin)


def test_a_check_function_that_cannot_take_one_value():
    @check
    def two(clean_records, daily_totals):
        return True

    @check(asset="clean_records")
    def needs_more(clean_records, limit):
        return True

    @check(asset="clean_records")
    def with_default(clean_records, limit=3):
        return True

    @check
    def variadic(*values):
        return True

    message = _problems(two, needs_more, with_default, variadic)
    assert message.startswith("the project has 3 definition problems:")
    assert f"check 'two' (tests/test_checks.py:{two.line}) cannot be called with one" in message
    assert (
        f"check 'variadic' (tests/test_checks.py:{variadic.line}) does not say which asset it "
        "tests: it has no asset=... and no single required parameter to name it." in message
    )
    assert (
        "check 'needs_more' (tests/test_checks.py:"
        f"{needs_more.line}) cannot be called with one value: its signature is "
        "needs_more(clean_records, limit)." in message
    )
    assert "with_default" not in message


def test_every_problem_is_reported_sorted():
    @check(asset="raw_record")
    def a(x):
        return True

    @check(asset="daily_total")
    def b(x):
        return True

    problems = check_problems([b, a], ASSETS)
    assert [p.line for p in problems] == sorted([a.line, b.line])
    assert "Did you mean 'raw_records'?" in problems[0].message
    assert "Did you mean 'daily_totals'?" in problems[1].message


# -- properties ----------------------------------------------------------------------------

_CELLS = {
    "int": st.one_of(st.none(), st.integers(-2, 2)),
    "text": st.one_of(st.none(), st.sampled_from(["a", "b", ""])),
}
_DTYPES = {"int": [None, "Int64", "object"], "text": [None, "str", "object", "string"]}


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    """Small frames of two columns with nulls, in the dtypes pandas 3 users meet."""
    rows = draw(st.integers(0, 12))
    data = {}
    for column, kind in (("a", "int"), ("b", "text")):
        cells = draw(st.lists(_CELLS[kind], min_size=rows, max_size=rows))
        data[column] = pd.Series(cells, dtype=draw(st.sampled_from(_DTYPES[kind])))
    return pd.DataFrame(data)


_COLUMNS = st.sampled_from([("a",), ("b",), ("a", "b")])


@settings(max_examples=150, deadline=None)
@given(frame=frames(), columns=_COLUMNS)
def test_unique_agrees_with_pandas_duplicated(frame, columns):
    result = run_check(unique(*columns), frame)
    assert result.passed == (not frame.duplicated(subset=list(columns)).any())
    assert result.metadata["failing_rows"] == frame.duplicated(list(columns), keep=False).sum()


@settings(max_examples=150, deadline=None)
@given(frame=frames(), columns=_COLUMNS)
def test_not_null_agrees_with_pandas_isna(frame, columns):
    result = run_check(not_null(*columns), frame)
    assert result.passed == (not frame[list(columns)].isna().any(axis=None))
    assert result.metadata["failing_rows"] == frame[list(columns)].isna().any(axis=1).sum()


@settings(max_examples=60, deadline=None)
@given(frame=frames(), columns=_COLUMNS)
def test_arrow_tables_are_judged_like_their_frames(frame, columns):
    table = pa.Table.from_pandas(frame, preserve_index=False)
    for spec in (unique(*columns), not_null(*columns)):
        assert run_check(spec, table).metadata == run_check(spec, frame).metadata

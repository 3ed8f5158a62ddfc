"""The example project's assets, tested as plain functions: no store, no files, no runs."""

import datetime as dt
import json
import logging
from pathlib import Path

import pandas as pd
import pytest

from assetflow import RunContext

# The bundled api_response.json; regenerating it with data/generate.py keeps these.
RAW_ROWS = 4756
CLEAN_ROWS = 4496
FIRST_DAY, LAST_DAY = dt.date(2026, 3, 1), dt.date(2026, 3, 28)


def order(**fields: object) -> dict[str, object]:
    """One raw order as the API sends it, with `fields` replacing the defaults."""
    return {
        "id": 1,
        "customer_id": "cus_1",
        "customer_email": "ana@example.com",
        "amount": "10.00",
        "currency": "EUR",
        "created_at": "2026-03-01T10:00:00Z",
        "status": "paid",
    } | fields


#: The unit pandas parses timestamps to: microseconds from pandas 3, nanoseconds before.
PARSED_UNIT = "us" if int(pd.__version__.split(".", 1)[0]) >= 3 else "ns"


def raw(*orders: dict[str, object]) -> pd.DataFrame:
    return pd.DataFrame(list(orders))


def test_clean_records_types_the_columns_and_adds_the_day(assets):
    cleaned = assets.clean_records(raw_records=raw(order(), order(id=2, amount=24.5)))

    expected = pd.DataFrame(
        {
            "id": [1, 2],
            "customer_id": ["cus_1", "cus_1"],
            "customer_email": ["ana@example.com", "ana@example.com"],
            "amount": [10.0, 24.5],
            "currency": ["EUR", "EUR"],
            "created_at": pd.to_datetime(["2026-03-01T10:00:00Z"] * 2).as_unit(PARSED_UNIT),
            "status": ["paid", "paid"],
            "day": [dt.date(2026, 3, 1)] * 2,
        }
    )
    pd.testing.assert_frame_equal(cleaned, expected)


def test_clean_records_keeps_the_first_copy_of_a_repeated_id(assets):
    raw_records = raw(order(id=1, status="paid"), order(id=2), order(id=1, status="shipped"))

    cleaned = assets.clean_records(raw_records=raw_records)

    assert cleaned["id"].tolist() == [1, 2]
    assert cleaned["status"].tolist() == ["paid", "paid"]


@pytest.mark.parametrize(
    "dirt",
    [
        {"customer_email": None},
        {"amount": None},
        {"amount": -12.5},
        {"amount": "-12.50"},
        {"amount": "n/a"},
        {"created_at": "not available"},
        {"created_at": ""},
        {"created_at": "2026-02-30T10:15:00Z"},
        {"created_at": "07/03/2026 10:15"},
        {"created_at": None},
    ],
    ids=repr,
)
def test_clean_records_drops_invalid_rows(assets, dirt):
    cleaned = assets.clean_records(raw_records=raw(order(id=1), order(id=2, **dirt)))

    assert cleaned["id"].tolist() == [1]


def test_clean_records_parses_amounts_sent_as_strings(assets):
    raw_records = raw(order(id=1, amount="12.50"), order(id=2, amount=3), order(id=3, amount="0"))

    cleaned = assets.clean_records(raw_records=raw_records)

    assert cleaned["amount"].tolist() == [12.5, 3.0, 0.0]
    assert cleaned["amount"].dtype == "float64"


def test_clean_records_normalises_emails(assets):
    raw_records = raw(order(id=1, customer_email="  Ana.Lopez@Example.COM\n"))

    cleaned = assets.clean_records(raw_records=raw_records)

    assert cleaned["customer_email"].tolist() == ["ana.lopez@example.com"]


def test_clean_records_takes_the_day_in_utc(assets):
    # 00:30 in Paris on 2 March is still 1 March in UTC.
    raw_records = raw(order(created_at="2026-03-02T00:30:00+01:00"))

    cleaned = assets.clean_records(raw_records=raw_records)

    assert cleaned["day"].tolist() == [dt.date(2026, 3, 1)]
    assert str(cleaned["created_at"].dt.tz) == "UTC"


@pytest.fixture
def clean() -> pd.DataFrame:
    """Four clean orders over two days from three customers."""
    return pd.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "customer_id": ["cus_a", "cus_b", "cus_a", "cus_c"],
            "customer_email": ["a@example.com", "b@example.com", "a@example.com", "c@example.com"],
            "amount": [10.0, 5.5, 2.25, 30.0],
            "day": [dt.date(2026, 3, 1)] * 3 + [dt.date(2026, 3, 2)],
        }
    )


def test_daily_totals_counts_orders_and_sums_amounts_per_day(assets, clean):
    totals = assets.daily_totals(clean_records=clean)

    expected = pd.DataFrame(
        {
            "day": [dt.date(2026, 3, 1), dt.date(2026, 3, 2)],
            "orders": [3, 1],
            "total_amount": [17.75, 30.0],
        }
    )
    pd.testing.assert_frame_equal(totals, expected)


def test_top_customers_ranks_customers_by_spend(assets, clean):
    top = assets.top_customers(clean_records=clean)

    expected = pd.DataFrame(
        {
            "customer_id": ["cus_c", "cus_a", "cus_b"],
            "customer_email": ["c@example.com", "a@example.com", "b@example.com"],
            "orders": [1, 2, 1],
            "total_amount": [30.0, 12.25, 5.5],
        }
    )
    pd.testing.assert_frame_equal(top, expected)


def test_top_customers_keeps_ten(assets):
    many = pd.DataFrame(
        {
            "id": range(15),
            "customer_id": [f"cus_{n:02d}" for n in range(15)],
            "customer_email": [f"{n}@example.com" for n in range(15)],
            "amount": [float(n) for n in range(15)],
        }
    )

    top = assets.top_customers(clean_records=many)

    assert top["customer_id"].tolist() == [f"cus_{n:02d}" for n in range(14, 4, -1)]


def test_summary_report_is_plain_json(assets, clean):
    report = assets.summary_report(
        daily_totals=assets.daily_totals(clean_records=clean),
        top_customers=assets.top_customers(clean_records=clean),
    )

    assert report == {
        "days": 2,
        "orders": 4,
        "total_revenue": 47.75,
        "busiest_day": "2026-03-01",
        "busiest_day_orders": 3,
        "best_customer": "cus_c",
        "best_customer_total": 30.0,
    }
    # Plain Python values, not numpy scalars, so that it stores as JSON unchanged.
    assert {type(value) for value in report.values()} <= {int, float, str}
    assert json.loads(json.dumps(report)) == report


API_RESPONSE = Path(__file__).resolve().parent.parent / "data" / "api_response.json"


def json_records():
    return pd.DataFrame(json.loads(API_RESPONSE.read_text(encoding="utf-8"))["results"])


def test_rolling_revenue_sums_the_window(assets, clean):
    context = RunContext.for_test("rolling_revenue", partitions=assets.days, partition="2026-03-02")
    result = assets.rolling_revenue(context, clean_records=clean)
    assert result.to_dict("list") == {
        "day": [dt.date(2026, 3, 2)],
        "days": [clean["day"].nunique()],
        "revenue_7d": [round(float(clean["amount"].sum()), 2)],
    }


def day_context(assets, day):
    return RunContext.for_test("raw_records", partitions=assets.days, partition=day)


def all_days(assets):
    """Every day's raw records, as the daily partitions split the bundled response."""
    return pd.concat(
        [
            assets.raw_records(day_context(assets, day), api_response=API_RESPONSE)
            for day in assets.days.keys(dt.datetime(2026, 4, 1, tzinfo=dt.UTC))
        ],
        ignore_index=True,
    )


def test_raw_records_reads_one_day_of_the_bundled_api_response(assets, caplog):
    with caplog.at_level(logging.INFO):
        records = assets.raw_records(day_context(assets, "2026-03-15"), api_response=API_RESPONSE)

    assert set(records.columns) == set(order())
    days = pd.to_datetime(records["created_at"], format="ISO8601", utc=True).dt.date
    assert (days == dt.date(2026, 3, 15)).all()
    assert f"read {len(records)} of {RAW_ROWS} records for 2026-03-15" in caplog.text


def test_the_days_split_every_readable_record_once(assets):
    records = all_days(assets)

    readable = pd.to_datetime(
        json_records()["created_at"], format="ISO8601", utc=True, errors="coerce"
    ).notna()
    assert len(records) == int(readable.sum())


def test_the_bundled_api_response_cleans_to_valid_orders(assets):
    records = all_days(assets)

    cleaned = pd.concat(
        [
            assets.clean_records(raw_records=day)
            for _, day in records.groupby(
                pd.to_datetime(records["created_at"], format="ISO8601", utc=True).dt.date
            )
        ],
        ignore_index=True,
    )

    assert len(cleaned) == CLEAN_ROWS
    assert cleaned["id"].is_unique
    assert cleaned.notna().all().all()
    assert (cleaned["amount"] >= 0).all()
    assert (cleaned["customer_email"] == cleaned["customer_email"].str.strip().str.lower()).all()
    assert cleaned["day"].between(FIRST_DAY, LAST_DAY).all()
    # The source really is dirty: each kind of dirt was there to drop.
    assert records["id"].duplicated().any()
    assert records["customer_email"].isna().any()
    assert (records["customer_email"].str.strip().str.lower() != records["customer_email"]).any()
    assert pd.to_numeric(records["amount"], errors="coerce").lt(0).any()

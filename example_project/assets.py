"""The example pipeline: pull orders from the shop's API, clean them, and report on them."""

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Literal

import pandas as pd
from cleaning import normalise_emails, parse_amounts, parse_timestamps
from pydantic import AwareDatetime, BaseModel

from assetflow import (
    DailyPartitions,
    RunContext,
    Schema,
    Window,
    asset,
    check,
    file_source,
    in_range,
    not_null,
    row_count,
    unique,
)

TOP_CUSTOMERS = 10


class Order(BaseModel):
    """One valid order: the schema `clean_records` promises its readers."""

    id: int
    customer_id: str
    customer_email: str
    amount: float
    currency: str
    created_at: AwareDatetime
    status: Literal["paid", "shipped", "delivered"]
    day: dt.date


#: One partition per day of the bundled response: 2026-03-01 to 2026-03-28.
days = DailyPartitions(start="2026-03-01", end="2026-03-29")

api_response = file_source(
    "api_response",
    "data/api_response.json",
    group="ingest",
    description="The shop's orders API, stood in for by a saved response.",
)

Summary = dict[str, int | float | str]


@asset(partitions=days, group="ingest", tags=["nightly", "source"])
def raw_records(context: RunContext, api_response: Path) -> pd.DataFrame:
    """Orders the shop's API returned for one day, dirt included.

    Amounts arrive as numbers or strings, so they are kept as strings here and
    parsed in `clean_records`. Records whose timestamp cannot be read belong to
    no day and are left out (and counted in the log).
    """
    payload = json.loads(api_response.read_text(encoding="utf-8"))
    records = pd.DataFrame(payload["results"]).astype({"amount": "str"})
    created = parse_timestamps(records["created_at"])
    in_day = (created >= context.partition_start) & (created < context.partition_end)
    context.log.info(
        "read %d of %d records for %s (%d without a readable timestamp)",
        int(in_day.sum()),
        len(records),
        context.partition_key,
        int(created.isna().sum()),
    )
    return records[in_day].reset_index(drop=True)


@asset(
    partitions=days,
    io="duckdb",
    group="ingest",
    tags=["nightly"],
    checks=[not_null("id", "customer_email", "amount"), unique("id"), row_count(min=1)],
)
def clean_records(raw_records: pd.DataFrame) -> Annotated[pd.DataFrame, Schema(Order)]:
    """Valid orders, one row per id, with a UTC `day` column.

    Drops rows with an unparsable timestamp, a missing or negative amount, or a
    missing email; normalises emails; keeps the first copy of a repeated id.
    """
    records = raw_records.assign(
        created_at=parse_timestamps(raw_records["created_at"]),
        amount=parse_amounts(raw_records["amount"]),
        customer_email=normalise_emails(raw_records["customer_email"]),
    )
    records = records.dropna(subset=["created_at", "amount", "customer_email"])
    records = records[records["amount"] >= 0].drop_duplicates("id")
    return records.assign(day=records["created_at"].dt.date).reset_index(drop=True)


@asset(group="reporting")
def daily_totals(clean_records: pd.DataFrame) -> pd.DataFrame:
    """Orders and revenue per day (an unpartitioned asset reads every partition)."""
    return (
        clean_records.groupby("day", as_index=False)
        .agg(orders=("id", "size"), total_amount=("amount", "sum"))
        .round({"total_amount": 2})
    )


@check(asset="clean_records", blocking=True)
def amounts_are_plausible(clean_records: pd.DataFrame) -> bool:
    """No single order is over 10,000: larger ones are data errors at this shop."""
    return bool((clean_records["amount"] <= 10_000).all())


@asset(group="reporting", checks=[in_range("total_amount", min=0)])
def top_customers(clean_records: pd.DataFrame) -> pd.DataFrame:
    """The ten customers who spent the most, with their order count."""
    totals = clean_records.groupby("customer_id", as_index=False).agg(
        customer_email=("customer_email", "first"),
        orders=("id", "size"),
        total_amount=("amount", "sum"),
    )
    return (
        totals.sort_values(["total_amount", "customer_id"], ascending=[False, True])
        .head(TOP_CUSTOMERS)
        .round({"total_amount": 2})
        .reset_index(drop=True)
    )


@asset(partitions=days, group="reporting", mappings={"clean_records": Window(7)})
def rolling_revenue(context: RunContext, clean_records: pd.DataFrame) -> pd.DataFrame:
    """Revenue over the 7 days up to this one (fewer at the start of the range)."""
    return pd.DataFrame(
        {
            "day": [context.partition_start.date()],
            "days": [clean_records["day"].nunique()],
            "revenue_7d": [round(float(clean_records["amount"].sum()), 2)],
        }
    )


@asset(group="reporting", tags=["nightly"])
def summary_report(daily_totals: pd.DataFrame, top_customers: pd.DataFrame) -> Summary:
    """The headline numbers of the period, as plain JSON values."""
    busiest = daily_totals.loc[daily_totals["orders"].idxmax()]
    best = top_customers.iloc[0]
    return {
        "days": len(daily_totals),
        "orders": int(daily_totals["orders"].sum()),
        "total_revenue": round(float(daily_totals["total_amount"].sum()), 2),
        "busiest_day": str(busiest["day"]),
        "busiest_day_orders": int(busiest["orders"]),
        "best_customer": str(best["customer_id"]),
        "best_customer_total": float(best["total_amount"]),
    }

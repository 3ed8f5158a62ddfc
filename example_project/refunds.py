"""Refunds: files that land in inbox/, one dynamic partition each, and net revenue.

The payment provider drops a CSV of refunds into `inbox/` whenever it likes. The
`new_refund_files` sensor notices each new file, adds its name as a key of the
`refund_files` dynamic partitions and asks for a run of that partition of
`refunds`. `net_revenue` is automated with `eager`: once a new refunds partition
is materialized, the scheduler brings it up to date on its own.
"""

import json
from pathlib import Path

import pandas as pd

from assetflow import (
    DynamicPartitions,
    PartitionRequest,
    RunContext,
    RunRequest,
    SensorContext,
    SensorResult,
    asset,
    sensor,
)

INBOX = Path(__file__).parent / "inbox"

#: One key per refunds file, named after it (`2026-03-07-batch-1`).
refund_files = DynamicPartitions("refund_files")


@sensor(interval="30s", select="refunds")
def new_refund_files(context: SensorContext) -> SensorResult:
    """One partition and one run per CSV file that lands in inbox/, each file once."""
    seen = set(json.loads(context.cursor or "[]"))
    landed = sorted(path.stem for path in INBOX.glob("*.csv"))
    new = [key for key in landed if key not in seen]
    if not new:
        return SensorResult(skip_reason="no new file in inbox/")
    return SensorResult(
        run_requests=[
            RunRequest(partitions=PartitionRequest.one(key), run_key=f"refunds:{key}")
            for key in new
        ],
        cursor=json.dumps(sorted(seen | set(new))),
        add_partitions={"refund_files": new},
    )


@asset(partitions=refund_files, group="refunds")
def refunds(context: RunContext) -> pd.DataFrame:
    """The refunds of one file in inbox/: order id, the order's day, amount refunded."""
    path = INBOX / f"{context.partition_key}.csv"
    frame = pd.read_csv(path, dtype={"order_id": "int64", "amount": "float64"})
    context.log.info("read %d refunds from %s", len(frame), path.name)
    return frame


@asset(group="refunds", automation="eager")
def net_revenue(daily_totals: pd.DataFrame, refunds: pd.DataFrame) -> pd.DataFrame:
    """Revenue per day less the refunds of that day's orders (every file so far)."""
    days = pd.to_datetime(daily_totals["day"]).dt.strftime("%Y-%m-%d")
    refunded = pd.Series(0.0, index=daily_totals.index)
    if not refunds.empty:  # before the first file lands there is nothing to subtract
        by_day = refunds.groupby(pd.to_datetime(refunds["day"]).dt.strftime("%Y-%m-%d"))
        refunded = days.map(by_day["amount"].sum()).fillna(0.0)
    return daily_totals.assign(
        refunded=refunded.round(2),
        net_amount=(daily_totals["total_amount"] - refunded).round(2),
    )

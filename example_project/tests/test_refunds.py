"""The refunds assets, tested as plain functions."""

import datetime as dt
from types import ModuleType

import pandas as pd

TOTALS = pd.DataFrame(
    {
        "day": [dt.date(2026, 3, 1), dt.date(2026, 3, 2)],
        "orders": [3, 1],
        "total_amount": [100.0, 40.0],
    }
)


def test_net_revenue_subtracts_each_days_refunds(refunds: ModuleType) -> None:
    landed = pd.DataFrame(
        {
            "order_id": [1, 2, 3],
            "day": ["2026-03-01", "2026-03-01", "2026-03-02"],
            "amount": [10.0, 5.5, 40.0],
        }
    )
    net = refunds.net_revenue(daily_totals=TOTALS, refunds=landed)
    assert net["refunded"].tolist() == [15.5, 40.0]
    assert net["net_amount"].tolist() == [84.5, 0.0]


def test_net_revenue_before_any_refunds_file_is_the_revenue(refunds: ModuleType) -> None:
    net = refunds.net_revenue(daily_totals=TOTALS, refunds=pd.DataFrame())
    assert net["net_amount"].tolist() == [100.0, 40.0]
    assert net["refunded"].tolist() == [0.0, 0.0]

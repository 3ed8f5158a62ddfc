"""The story graph the selection tests select from: a small shop pipeline plus a diamond."""

from __future__ import annotations

import pytest

from assetflow.asset import asset
from assetflow.graph import AssetGraph, build_graph


@asset(group="ingest", tags=["nightly", "source"], io="json")
def raw_records() -> None: ...


@asset(group="ingest", tags=["nightly"], io="parquet")
def clean_records(raw_records: object) -> None: ...


@asset(group="reporting", tags=["finance"], io="parquet")
def daily_totals(clean_records: object) -> None: ...


@asset(group="reporting", tags=["finance"], io="parquet")
def top_customers(clean_records: object) -> None: ...


@asset(group="reporting", tags=["nightly"], io="json")
def summary_report(daily_totals: object, top_customers: object) -> None: ...


# The diamond: events -> (sessions, clicks) -> funnel, in its own group, kind "auto".
@asset(group="web")
def events(): ...


@asset(group="web")
def sessions(events): ...


@asset(group="web")
def clicks(events): ...


@asset(group="web")
def funnel(sessions, clicks): ...


STORY = (
    raw_records,
    clean_records,
    daily_totals,
    top_customers,
    summary_report,
    events,
    sessions,
    clicks,
    funnel,
)


@pytest.fixture(scope="session")
def story() -> AssetGraph:
    """raw_records -> clean_records -> (daily_totals, top_customers) -> summary_report.

    Plus an unconnected diamond: events -> (sessions, clicks) -> funnel.
    """
    return build_graph(STORY)

"""Builders for the scheduler's records in store tests: ticks counted from T0."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from assetflow.store import TickRecord
from tests.store.builders import at


def tick(origin: str = "schedule:nightly", scheduled: float = 0, **fields: Any) -> TickRecord:
    """A claimed tick of ``origin`` due ``scheduled`` seconds after T0, evaluated then."""
    made = TickRecord(origin, at(scheduled), at(scheduled), "claimed")
    return replace(made, **fields)

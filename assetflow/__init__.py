"""assetflow: typed Python functions become data assets, rebuilt only where stale.

Public API only. Heavy modules (pandas, pyarrow, duckdb, networkx) load when a
function needs them, so importing assetflow, and `assetflow --help`, stay fast.
Each public name is imported on first use (the table below): a project module's
`from assetflow import asset` loads the asset module only, not the whole API.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

# Imported at once, not on first use: `asset` is also the name of the submodule
# `assetflow.asset`, and importing a submodule later binds its name in this package,
# so a lazily found `asset` could turn out to be the module instead of the decorator.
from assetflow.asset import AssetSpec as AssetSpec
from assetflow.asset import asset as asset
from assetflow.asset import file_source as file_source
from assetflow.asset import source as source
from assetflow.lazy import lazy_names

if TYPE_CHECKING:
    from assetflow.api import add_partitions as add_partitions
    from assetflow.api import check_assets as check_assets
    from assetflow.api import history as history
    from assetflow.api import load as load
    from assetflow.api import materialize as materialize
    from assetflow.api import partition_keys as partition_keys
    from assetflow.api import plan as plan
    from assetflow.api import read_asset as read_asset
    from assetflow.api import remove_partitions as remove_partitions
    from assetflow.api import run as run
    from assetflow.api import runs as runs
    from assetflow.api import show as show
    from assetflow.api import status as status
    from assetflow.api import why as why
    from assetflow.automation.schedules import Schedule as Schedule
    from assetflow.automation.schedules import schedule as schedule
    from assetflow.automation.sensors import SensorContext as SensorContext
    from assetflow.automation.sensors import SensorResult as SensorResult
    from assetflow.automation.sensors import sensor as sensor
    from assetflow.checks import CheckResult as CheckResult
    from assetflow.checks import accepted_values as accepted_values
    from assetflow.checks import check as check
    from assetflow.checks import in_range as in_range
    from assetflow.checks import max_age as max_age
    from assetflow.checks import not_null as not_null
    from assetflow.checks import row_count as row_count
    from assetflow.checks import unique as unique
    from assetflow.context import RunContext as RunContext
    from assetflow.errors import AssetFailedError as AssetFailedError
    from assetflow.errors import AssetflowError as AssetflowError
    from assetflow.errors import DefinitionError as DefinitionError
    from assetflow.errors import MissingInputError as MissingInputError
    from assetflow.errors import ProjectError as ProjectError
    from assetflow.errors import SelectionError as SelectionError
    from assetflow.errors import StoreError as StoreError
    from assetflow.errors import WriteError as WriteError
    from assetflow.partitions import AllPartitions as AllPartitions
    from assetflow.partitions import DailyPartitions as DailyPartitions
    from assetflow.partitions import DynamicPartitions as DynamicPartitions
    from assetflow.partitions import HourlyPartitions as HourlyPartitions
    from assetflow.partitions import Identity as Identity
    from assetflow.partitions import MonthlyPartitions as MonthlyPartitions
    from assetflow.partitions import Offset as Offset
    from assetflow.partitions import PartitionError as PartitionError
    from assetflow.partitions import StaticPartitions as StaticPartitions
    from assetflow.partitions import WeeklyPartitions as WeeklyPartitions
    from assetflow.partitions import Window as Window
    from assetflow.policies import on_cron as on_cron
    from assetflow.request import PartitionRequest as PartitionRequest
    from assetflow.request import RunRequest as RunRequest
    from assetflow.typecheck import Schema as Schema
    from assetflow.typecheck import TypeCheckError as TypeCheckError

__version__ = "0.1.0"

#: Where each public name lives.
_HOMES = {
    "check_assets": "assetflow.api",
    "add_partitions": "assetflow.api",
    "history": "assetflow.api",
    "load": "assetflow.api",
    "materialize": "assetflow.api",
    "partition_keys": "assetflow.api",
    "plan": "assetflow.api",
    "read_asset": "assetflow.api",
    "remove_partitions": "assetflow.api",
    "run": "assetflow.api",
    "runs": "assetflow.api",
    "show": "assetflow.api",
    "status": "assetflow.api",
    "why": "assetflow.api",
    "SensorContext": "assetflow.automation.sensors",
    "SensorResult": "assetflow.automation.sensors",
    "sensor": "assetflow.automation.sensors",
    "Schedule": "assetflow.automation.schedules",
    "schedule": "assetflow.automation.schedules",
    "CheckResult": "assetflow.checks",
    "accepted_values": "assetflow.checks",
    "check": "assetflow.checks",
    "in_range": "assetflow.checks",
    "max_age": "assetflow.checks",
    "not_null": "assetflow.checks",
    "row_count": "assetflow.checks",
    "unique": "assetflow.checks",
    "RunContext": "assetflow.context",
    "AssetFailedError": "assetflow.errors",
    "AssetflowError": "assetflow.errors",
    "DefinitionError": "assetflow.errors",
    "MissingInputError": "assetflow.errors",
    "ProjectError": "assetflow.errors",
    "SelectionError": "assetflow.errors",
    "StoreError": "assetflow.errors",
    "WriteError": "assetflow.errors",
    "AllPartitions": "assetflow.partitions",
    "DailyPartitions": "assetflow.partitions",
    "DynamicPartitions": "assetflow.partitions",
    "HourlyPartitions": "assetflow.partitions",
    "Identity": "assetflow.partitions",
    "MonthlyPartitions": "assetflow.partitions",
    "Offset": "assetflow.partitions",
    "PartitionError": "assetflow.partitions",
    "StaticPartitions": "assetflow.partitions",
    "WeeklyPartitions": "assetflow.partitions",
    "Window": "assetflow.partitions",
    "on_cron": "assetflow.policies",
    "PartitionRequest": "assetflow.request",
    "RunRequest": "assetflow.request",
    "Schema": "assetflow.typecheck",
    "TypeCheckError": "assetflow.typecheck",
}

__all__ = sorted([*_HOMES, "AssetSpec", "asset", "file_source", "source"])


__getattr__, __dir__ = lazy_names(__name__, _HOMES, globals())

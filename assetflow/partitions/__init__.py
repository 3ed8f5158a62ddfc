"""Partition definitions, keys, mappings and ranges; every question about time takes `now`.

An asset's partitions are an ordered set of string keys: the cells of a local
calendar (:class:`HourlyPartitions`, :class:`DailyPartitions`,
:class:`WeeklyPartitions`, :class:`MonthlyPartitions`) or a fixed list
(:class:`StaticPartitions`), or keys kept in the metadata store
(:class:`DynamicPartitions`, bound to its keys when a project is planned). A
mapping says which partitions of an input each partition of an asset reads
(:func:`resolve_mapping`, :func:`upstream_keys`, :func:`downstream_keys`), and
:func:`compact` turns keys into short ranges.
Nothing here reads the clock or keeps module state.

Each name loads its module on first use: a project without partitions loads
none of the definitions (see ``types.py`` for the mappings as values).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from assetflow.lazy import lazy_names

if TYPE_CHECKING:
    from assetflow.partitions.base import PartitionError as PartitionError
    from assetflow.partitions.base import PartitionsDefinition as PartitionsDefinition
    from assetflow.partitions.calendars import DailyPartitions as DailyPartitions
    from assetflow.partitions.calendars import HourlyPartitions as HourlyPartitions
    from assetflow.partitions.calendars import MonthlyPartitions as MonthlyPartitions
    from assetflow.partitions.calendars import WeeklyPartitions as WeeklyPartitions
    from assetflow.partitions.dynamic import DynamicPartitions as DynamicPartitions
    from assetflow.partitions.dynamic import check_partition_key as check_partition_key
    from assetflow.partitions.mappings import Definition as Definition
    from assetflow.partitions.mappings import downstream_keys as downstream_keys
    from assetflow.partitions.mappings import resolve_mapping as resolve_mapping
    from assetflow.partitions.mappings import upstream_keys as upstream_keys
    from assetflow.partitions.ranges import KeyRange as KeyRange
    from assetflow.partitions.ranges import compact as compact
    from assetflow.partitions.ranges import expand as expand
    from assetflow.partitions.static import StaticPartitions as StaticPartitions
    from assetflow.partitions.temporal import TimePartitions as TimePartitions
    from assetflow.partitions.types import AllPartitions as AllPartitions
    from assetflow.partitions.types import Identity as Identity
    from assetflow.partitions.types import Offset as Offset
    from assetflow.partitions.types import PartitionMapping as PartitionMapping
    from assetflow.partitions.types import TimeOverlap as TimeOverlap
    from assetflow.partitions.types import Unpartitioned as Unpartitioned
    from assetflow.partitions.types import Window as Window

_HOMES = {
    "PartitionError": "assetflow.partitions.base",
    "PartitionsDefinition": "assetflow.partitions.base",
    "DailyPartitions": "assetflow.partitions.calendars",
    "HourlyPartitions": "assetflow.partitions.calendars",
    "MonthlyPartitions": "assetflow.partitions.calendars",
    "WeeklyPartitions": "assetflow.partitions.calendars",
    "DynamicPartitions": "assetflow.partitions.dynamic",
    "check_partition_key": "assetflow.partitions.dynamic",
    "AllPartitions": "assetflow.partitions.types",
    "Definition": "assetflow.partitions.mappings",
    "Identity": "assetflow.partitions.types",
    "Offset": "assetflow.partitions.types",
    "PartitionMapping": "assetflow.partitions.types",
    "TimeOverlap": "assetflow.partitions.types",
    "Unpartitioned": "assetflow.partitions.types",
    "Window": "assetflow.partitions.types",
    "downstream_keys": "assetflow.partitions.mappings",
    "resolve_mapping": "assetflow.partitions.mappings",
    "upstream_keys": "assetflow.partitions.mappings",
    "KeyRange": "assetflow.partitions.ranges",
    "compact": "assetflow.partitions.ranges",
    "expand": "assetflow.partitions.ranges",
    "StaticPartitions": "assetflow.partitions.static",
    "TimePartitions": "assetflow.partitions.temporal",
}

__all__ = sorted(_HOMES)

__getattr__, __dir__ = lazy_names(__name__, _HOMES, globals())

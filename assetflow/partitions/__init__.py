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
"""

from assetflow.partitions.base import PartitionError as PartitionError
from assetflow.partitions.base import PartitionsDefinition as PartitionsDefinition
from assetflow.partitions.calendars import DailyPartitions as DailyPartitions
from assetflow.partitions.calendars import HourlyPartitions as HourlyPartitions
from assetflow.partitions.calendars import MonthlyPartitions as MonthlyPartitions
from assetflow.partitions.calendars import WeeklyPartitions as WeeklyPartitions
from assetflow.partitions.dynamic import DynamicPartitions as DynamicPartitions
from assetflow.partitions.dynamic import check_partition_key as check_partition_key
from assetflow.partitions.mappings import AllPartitions as AllPartitions
from assetflow.partitions.mappings import Definition as Definition
from assetflow.partitions.mappings import Identity as Identity
from assetflow.partitions.mappings import Offset as Offset
from assetflow.partitions.mappings import PartitionMapping as PartitionMapping
from assetflow.partitions.mappings import TimeOverlap as TimeOverlap
from assetflow.partitions.mappings import Unpartitioned as Unpartitioned
from assetflow.partitions.mappings import Window as Window
from assetflow.partitions.mappings import downstream_keys as downstream_keys
from assetflow.partitions.mappings import resolve_mapping as resolve_mapping
from assetflow.partitions.mappings import upstream_keys as upstream_keys
from assetflow.partitions.ranges import KeyRange as KeyRange
from assetflow.partitions.ranges import compact as compact
from assetflow.partitions.ranges import expand as expand
from assetflow.partitions.static import StaticPartitions as StaticPartitions
from assetflow.partitions.temporal import TimePartitions as TimePartitions

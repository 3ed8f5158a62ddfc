"""Store and load one asset's output atomically, through the storage kind it names.

Built-in kinds: Parquet and DuckDB for tables, JSON for values, "none" for
nothing; packages add kinds through the entry-point group ``assetflow.io``.
Cheap to import: pandas, pyarrow and duckdb are imported only when a table is
written or read.
"""

from assetflow.io.base import IOManager as IOManager
from assetflow.io.base import IOSettings as IOSettings
from assetflow.io.base import OutputHead as OutputHead
from assetflow.io.base import OutputRef as OutputRef
from assetflow.io.base import OutputStat as OutputStat
from assetflow.io.base import StoredOutput as StoredOutput
from assetflow.io.base import WriteTarget as WriteTarget
from assetflow.io.output import read_output as read_output
from assetflow.io.output import read_partitions as read_partitions
from assetflow.io.output import write_output as write_output
from assetflow.io.paths import output_path as output_path
from assetflow.io.registry import BUILTIN_KINDS
from assetflow.io.registry import ENTRY_POINT_GROUP as ENTRY_POINT_GROUP
from assetflow.io.registry import describe_unknown_kind as describe_unknown_kind
from assetflow.io.registry import io_manager as io_manager
from assetflow.io.registry import is_io_kind as is_io_kind
from assetflow.io.registry import known_kinds as known_kinds
from assetflow.io.registry import output_exists as output_exists
from assetflow.io.registry import stat_output as stat_output
from assetflow.io.values import DUCKDB as DUCKDB
from assetflow.io.values import JSON as JSON
from assetflow.io.values import NONE as NONE
from assetflow.io.values import PARQUET as PARQUET
from assetflow.io.values import io_kind_for_value as io_kind_for_value
from assetflow.io.versions import data_version as data_version

#: The built-in storage kinds' names.
KINDS = tuple(BUILTIN_KINDS)

__all__ = [
    "DUCKDB",
    "ENTRY_POINT_GROUP",
    "JSON",
    "KINDS",
    "NONE",
    "PARQUET",
    "IOManager",
    "IOSettings",
    "OutputHead",
    "OutputRef",
    "OutputStat",
    "StoredOutput",
    "WriteTarget",
    "data_version",
    "describe_unknown_kind",
    "io_kind_for_value",
    "io_manager",
    "is_io_kind",
    "known_kinds",
    "output_exists",
    "output_path",
    "read_output",
    "read_partitions",
    "stat_output",
    "write_output",
]

"""Store and load one asset's output atomically: Parquet or DuckDB for tables, JSON for values.

Cheap to import: pandas, pyarrow and duckdb are imported only when a table is written or read.
"""

from assetflow.io.output import StoredOutput as StoredOutput
from assetflow.io.output import read_output as read_output
from assetflow.io.output import read_partitions as read_partitions
from assetflow.io.output import write_output as write_output
from assetflow.io.paths import output_path as output_path
from assetflow.io.values import DUCKDB as DUCKDB
from assetflow.io.values import JSON as JSON
from assetflow.io.values import KINDS as KINDS
from assetflow.io.values import NONE as NONE
from assetflow.io.values import PARQUET as PARQUET
from assetflow.io.values import io_kind_for_value as io_kind_for_value

__all__ = [
    "DUCKDB",
    "JSON",
    "KINDS",
    "NONE",
    "PARQUET",
    "StoredOutput",
    "io_kind_for_value",
    "output_path",
    "read_output",
    "read_partitions",
    "write_output",
]

"""The data version of any value an asset can store, hashed in the form it is stored in.

``assetflow.datahash`` hashes canonical forms (an Arrow table, a JSON value) and
knows nothing of storage; this module turns a returned value into that form
with the same conversions writing uses, so a value's version here equals the
version written beside it.
"""

from __future__ import annotations

from assetflow.datahash import json_version, table_version
from assetflow.io.values import is_table, to_json_value


def data_version(value: object) -> str:
    """Return the data version of anything an asset can store.

    Args:
        value: A pandas DataFrame, a pyarrow Table, or a JSON-able value.

    Returns:
        32 hex characters; equal for equal data in any process, on any day.

    Raises:
        WriteError: ``value`` is neither a table nor JSON-able (the same error
            writing it would raise).
    """
    if is_table(value):
        from assetflow.io.parquet import to_arrow_table

        return table_version(to_arrow_table(value))
    return json_version(to_json_value(value))

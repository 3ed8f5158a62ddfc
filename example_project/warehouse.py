"""Optional: load the clean orders into a PostgreSQL warehouse, one day at a time.

Not part of the project until you list it: add "warehouse" to `modules` in
pyproject.toml and set WAREHOUSE_URL to a database you can write to (see
README.md, "Load into PostgreSQL"). The `warehouse` io settings in
pyproject.toml name the server and the schema; each day's rows replace that
day's rows in `shop.loaded_orders` in one transaction, so a re-run or a retry
never loads a day twice.
"""

import pandas as pd
from assets import days

from assetflow import asset


@asset(partitions=days, io="warehouse", group="warehouse", tags=["nightly"])
def loaded_orders(clean_records: pd.DataFrame) -> pd.DataFrame:
    """One day of clean orders, loaded into the warehouse's `shop.loaded_orders` table."""
    return clean_records

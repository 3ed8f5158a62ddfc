"""What tests expect that differs between pandas 2.2 and pandas 3 (both are supported).

The stored data and its version do not differ; the names pandas gives dtypes do:
pandas 3 infers `str` for Python strings (stored as Arrow large_string) and parses
datetimes to microseconds, pandas 2.2 keeps strings as `object` (Arrow string) and
uses nanoseconds.
"""

from __future__ import annotations

import pandas as pd

IS_PANDAS_3 = int(pd.__version__.split(".", 1)[0]) >= 3

#: the dtype of a column of Python strings
STR_DTYPE = "str" if IS_PANDAS_3 else "object"
#: that dtype as type-check messages name it
STR_SHOWN = "str" if IS_PANDAS_3 else "object (string values)"
#: the Arrow type such a column is written as
ARROW_STR = "large_string" if IS_PANDAS_3 else "string"
#: the unit of datetimes pandas makes from strings and date ranges
DATETIME_UNIT = "us" if IS_PANDAS_3 else "ns"

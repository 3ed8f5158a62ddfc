"""Benchmark: what checking a return value against its Schema costs next to writing it as Parquet.

Run it as a script (``python bench/bench_typecheck.py [--rows N] [--repeat K]``).
It builds a DataFrame whose six columns match a six-field pydantic model
(int, str, float | None, datetime, date, bool) in the dtypes pandas 3 gives
by default (the date column is Arrow ``date32``, pandas' fast date dtype)
and prints, best of ``--repeat`` runs:

- ``check_output`` of the frame against ``Annotated[pd.DataFrame, Schema(Row)]``
  (the default, vectorised path: columns, dtypes, nulls),
- the Parquet write of the same frame (``pa.Table.from_pandas`` + ``pq.write_table``),
- their ratio, which must stay under 5%,
- and, for reference, ``validate_rows="sample"`` (1000 rows through pydantic).
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel
from timing import best_of

from assetflow.typecheck import Schema, check_output

DEFAULT_ROWS = 5_000_000
DEFAULT_REPEAT = 3
#: The check may cost at most this fraction of the Parquet write.
TARGET_RATIO = 0.05
#: Share of nulls in the Optional float column.
NULL_SHARE = 0.01
_NAMES = np.array(["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"])


class Row(BaseModel):
    """The benchmark's six columns."""

    id: int
    name: str
    amount: float | None
    at: dt.datetime
    day: dt.date
    flag: bool


def make_frame(rows: int, seed: int = 0) -> pd.DataFrame:
    """A frame matching `Row`: int64, str, float64 with NaN, datetime64, date32, bool."""
    rng = np.random.default_rng(seed)
    at = pd.date_range("2026-01-01", periods=rows, freq="s")
    amount = rng.normal(100.0, 15.0, rows)
    amount[rng.random(rows) < NULL_SHARE] = np.nan
    return pd.DataFrame(
        {
            "id": np.arange(rows, dtype=np.int64),
            "name": pd.array(_NAMES[rng.integers(0, len(_NAMES), rows)], dtype="str"),
            "amount": amount,
            "at": at,
            "day": pd.Series(at.normalize()).astype(pd.ArrowDtype(pa.date32())),
            "flag": rng.random(rows) < 0.5,
        }
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS)
    parser.add_argument("--repeat", type=int, default=DEFAULT_REPEAT)
    args = parser.parse_args()

    frame = make_frame(args.rows)
    checked = Annotated[pd.DataFrame, Schema(Row)]
    sampled = Annotated[pd.DataFrame, Schema(Row, validate_rows="sample")]
    print(f"{args.rows:,} rows; dtypes: " + ", ".join(f"{c}={t}" for c, t in frame.dtypes.items()))

    def check() -> None:
        check_output(frame, checked, asset="bench")

    def check_sample() -> None:
        check_output(frame, sampled, asset="bench")

    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "bench.parquet"

        def write() -> None:
            pq.write_table(pa.Table.from_pandas(frame, preserve_index=None), path)

        check()  # warm caches (schema rules, imports) as a long-running process has them
        check_s = best_of(args.repeat, check)
        write_s = best_of(args.repeat, write)
    sample_s = best_of(args.repeat, check_sample)

    ratio = check_s / write_s
    print(f"check_output (vectorised): {check_s * 1000:9.1f} ms")
    print(f"Parquet write:             {write_s * 1000:9.1f} ms")
    print(f"ratio:                     {ratio:9.2%}  (target < {TARGET_RATIO:.0%})")
    print(f"check_output, 1000 sampled rows validated: {sample_s * 1000:.1f} ms")
    return 0 if ratio < TARGET_RATIO else 1


if __name__ == "__main__":
    raise SystemExit(main())

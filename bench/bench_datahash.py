"""Benchmark: what a data version costs next to writing the Parquet file it describes.

Run it as a script (``python bench/bench_datahash.py [--rows N] [--repeat K]``).
It builds a DataFrame with an int64, a timestamp, a string category and a
float64 column and prints, best of ``--repeat`` runs:

- the pandas -> Arrow conversion (shared by writing and hashing, so it is
  charged to neither),
- the Parquet write of that table (``assetflow.io.parquet.write_table``),
- the data version of that table (``assetflow.datahash.table_version``),
- their ratio, which must stay under 10%,
- and, for reference, ``write_output`` end to end (conversion, version,
  write, fsync, rename) and ``data_version`` of the DataFrame on its own.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from timing import best_of

from assetflow.datahash import table_version
from assetflow.io import write_output
from assetflow.io.parquet import PARQUET_COMPRESSION, write_table
from assetflow.io.versions import data_version

DEFAULT_ROWS = 5_000_000
DEFAULT_REPEAT = 3
#: The data version may cost at most this fraction of the Parquet write.
TARGET_RATIO = 0.10
_CATEGORIES = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]


def make_frame(rows: int, seed: int = 0) -> pd.DataFrame:
    """A frame with the benchmark's four columns: int64, timestamp, category, float64."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "id": np.arange(rows, dtype=np.int64),
            "at": pd.date_range("2026-01-01", periods=rows, freq="s"),
            "kind": pd.Categorical.from_codes(
                rng.integers(0, len(_CATEGORIES), rows), categories=_CATEGORIES
            ),
            "amount": rng.normal(100.0, 15.0, rows),
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS)
    parser.add_argument("--repeat", type=int, default=DEFAULT_REPEAT)
    args = parser.parse_args()

    frame = make_frame(args.rows)
    table = pa.Table.from_pandas(frame, preserve_index=None)
    with tempfile.TemporaryDirectory() as directory:
        target = Path(directory) / "bench.parquet"
        convert = best_of(args.repeat, lambda: pa.Table.from_pandas(frame, preserve_index=None))
        write = best_of(args.repeat, lambda: write_table(table, target))
        size = target.stat().st_size
        version = best_of(args.repeat, lambda: table_version(table))
        end_to_end = best_of(
            args.repeat, lambda: write_output("bench", frame, "parquet", Path(directory))
        )
        frame_version = best_of(args.repeat, lambda: data_version(frame))

    ratio = version / write
    print(f"rows:                        {args.rows:,}")
    print(f"columns:                     {', '.join(f'{f.name} {f.type}' for f in table.schema)}")
    print(f"pandas -> Arrow (shared):    {convert * 1000:8.1f} ms")
    print(
        f"Parquet write ({PARQUET_COMPRESSION}):      {write * 1000:8.1f} ms  ({size / 1e6:.1f} MB)"
    )
    print(f"data version (Arrow table):  {version * 1000:8.1f} ms")
    print(f"ratio version / write:       {ratio:8.1%}  (target < {TARGET_RATIO:.0%})")
    print(f"write_output end to end:     {end_to_end * 1000:8.1f} ms")
    print(f"data_version(DataFrame):     {frame_version * 1000:8.1f} ms  (conversion included)")
    print("OK" if ratio < TARGET_RATIO else "TOO SLOW")


if __name__ == "__main__":
    main()

"""A pandas DataFrame or a pyarrow Table, seen through what the built-in checks need."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from assetflow.checks.spec import SAMPLE_ROWS
from assetflow.errors import did_you_mean, suggest


class _CannotJudge(Exception):
    """A built-in cannot judge this value: not a table, a missing column, a wrong dtype."""


@dataclass(frozen=True, slots=True)
class _Table:
    """A pandas DataFrame or a pyarrow Table, seen through what the built-ins need."""

    value: Any
    is_arrow: bool

    @property
    def rows(self) -> int:
        return int(self.value.num_rows if self.is_arrow else len(self.value))

    @property
    def columns(self) -> list[Any]:
        return list(self.value.column_names if self.is_arrow else self.value.columns)

    def frame(self, columns: Sequence[str]) -> Any:
        """Just these columns, as a pandas DataFrame (from Arrow, only they are converted)."""
        known = self.columns
        missing = [c for c in columns if c not in known]
        if missing:
            listed = ", ".join(f"{c!r}" for c in missing)
            text = f"the table has no column {listed}"
            hint = did_you_mean(suggest(missing[0], [str(c) for c in known]))
            text += f" ({hint})" if hint else ""
            shown = ", ".join(str(c) for c in known[:_SHOWN_COLUMNS])
            shown += ", ..." if len(known) > _SHOWN_COLUMNS else ""
            raise _CannotJudge(f"{text}; its columns are: {shown or '(none)'}")
        if self.is_arrow:
            return self.value.select(list(columns)).to_pandas()
        return self.value[list(columns)]

    def sample(self, mask: Any) -> tuple[dict[str, Any], ...]:
        """The first failing rows, with all their columns."""
        import numpy as np

        positions = np.flatnonzero(mask)[:SAMPLE_ROWS]
        if self.is_arrow:
            return tuple(self.value.take(positions).to_pylist())
        return tuple(self.value.iloc[positions].to_dict("records"))


#: A missing-column message lists at most this many of the table's columns.
_SHOWN_COLUMNS = 20


def _open(value: Any) -> _Table:
    # Only modules already imported can have made the value: no import needed to tell.
    pandas, pyarrow = sys.modules.get("pandas"), sys.modules.get("pyarrow")
    if pandas is not None and isinstance(value, pandas.DataFrame):
        return _Table(value, is_arrow=False)
    if pyarrow is not None and isinstance(value, pyarrow.Table):
        return _Table(value, is_arrow=True)
    raise _CannotJudge(
        "it tests a table (a pandas DataFrame or a pyarrow Table), but the asset's value "
        f"is a {type(value).__name__}"
    )

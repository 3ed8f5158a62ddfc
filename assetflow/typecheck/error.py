"""TypeCheckError, and the Mismatch record every check returns before it becomes one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from assetflow.errors import EXIT_FAILED, AssetflowError
from assetflow.typecheck.annotations import short_repr

#: Offending rows an error shows at most.
MAX_ROWS_SHOWN = 5


class TypeCheckError(AssetflowError):
    """An asset's value does not match its annotation; nothing was written.

    Fields: `asset`, `partition`, `expected` and `found` (text), and up to
    five offending `rows` (dicts of column to value) with their `row_labels`
    ("row 4") and, for pydantic row validation, their `row_reasons`.
    """

    exit_code = EXIT_FAILED

    def __init__(
        self,
        asset: str,
        partition: str | None,
        *,
        expected: str,
        found: str,
        detail: str,
        hint: str = "",
        rows: Sequence[dict[str, Any]] = (),
        row_labels: Sequence[str] = (),
        row_reasons: Sequence[str] = (),
    ) -> None:
        self.asset = asset
        self.partition = partition
        self.expected = expected
        self.found = found
        self.rows = list(rows)[:MAX_ROWS_SHOWN]
        self.row_labels = tuple(row_labels)[:MAX_ROWS_SHOWN]
        self.row_reasons = tuple(row_reasons)[:MAX_ROWS_SHOWN]
        where = f"asset '{asset}'" + (f" [{partition}]" if partition else "")
        message = f"{where} {detail}."
        if self.rows:
            message += " First offending rows:"
        super().__init__(message, hint=hint)

    def format_message(self) -> str:
        parts = [self.message]
        if self.rows:
            parts.append(self.render_rows())
        if self.hint:
            parts.append(self.hint)
        return "\n\n".join(parts)

    def render_rows(self) -> str:
        """The offending rows, one per line, indented, with pydantic's reasons under them."""
        lines = []
        for position, row in enumerate(self.rows):
            label = self.row_labels[position] if position < len(self.row_labels) else "row"
            values = ", ".join(f"{name!r}: {short_repr(value)}" for name, value in row.items())
            lines.append(f"    {label}: {{{values}}}")
            if position < len(self.row_reasons) and self.row_reasons[position]:
                lines.append(f"        {self.row_reasons[position]}")
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class Mismatch:
    """What a check found wrong: the sentence after "asset 'x' [p]", and the fix."""

    expected: str
    found: str
    detail: str
    hint: str
    rows: tuple[dict[str, Any], ...] = ()
    row_labels: tuple[str, ...] = ()
    row_reasons: tuple[str, ...] = ()

    def to_error(self, asset: str, partition: str | None) -> TypeCheckError:
        """The error for one asset-partition."""
        return TypeCheckError(
            asset,
            partition,
            expected=self.expected,
            found=self.found,
            detail=self.detail,
            hint=self.hint,
            rows=self.rows,
            row_labels=self.row_labels,
            row_reasons=self.row_reasons,
        )

"""Row-level validation: a sample of a table's rows, or all of them, validated by pydantic."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from assetflow.typecheck.annotations import describe
from assetflow.typecheck.error import MAX_ROWS_SHOWN, Mismatch

if TYPE_CHECKING:
    from assetflow.typecheck.columns import ColumnRule
    from assetflow.typecheck.schema import Schema
    from assetflow.typecheck.tables import TableColumns

#: The sample is drawn with this seed, so a run and its re-run check the same rows.
SAMPLE_SEED = 20260301
#: Rows turned into dicts and validated at once with `validate_rows="all"` (bounds memory).
ROWS_PER_CHUNK = 10_000


def validate_rows(
    data: TableColumns, schema: Schema, rules: tuple[ColumnRule, ...], annotation: Any
) -> Mismatch | None:
    """Validate the schema's rows with pydantic: the seeded sample, or every row.

    Only the model's columns are validated (extra columns are allowed), with
    every null as None.

    Returns:
        The failing rows (count, first few with pydantic's reasons), or None.
    """
    import pydantic

    adapter = _list_adapter(schema.model)
    columns = [rule.column for rule in rules]
    failing = 0
    offenders: list[tuple[int, dict[str, Any], str]] = []
    positions = _positions(data.row_count(), schema)
    checked = 0
    for chunk in _chunks(positions):
        records = data.records(chunk, columns)
        checked += len(records)
        try:
            adapter.validate_python(records)
        except pydantic.ValidationError as error:
            reasons = _reasons_by_index(error)
            failing += len(reasons)
            for index in sorted(reasons)[: MAX_ROWS_SHOWN - len(offenders)]:
                offenders.append((chunk[index], records[index], "; ".join(reasons[index])))
    if not failing:
        return None
    which = "sampled rows" if schema.validate_rows == "sample" else "rows"
    model_name = schema.model.__name__
    counted = f"{failing} of {checked} {which}"
    return Mismatch(
        expected=describe(annotation),
        found=f"{counted} fail validation as {model_name}",
        detail=f"returned a {data.kind_name} with {counted} that do not validate as {model_name}",
        hint="The Schema is the asset's contract and is checked before anything is written, so "
        "nothing was written. To fix this, filter or correct the rows that break the model's "
        f"constraints, or relax {model_name} (its Field() constraints and validators).",
        rows=tuple(record for _, record, _ in offenders),
        row_labels=tuple(data.row_label(position) for position, _, _ in offenders),
        row_reasons=tuple(reason for _, _, reason in offenders),
    )


@functools.lru_cache(maxsize=64)
def _list_adapter(model: type) -> Any:
    import pydantic

    return pydantic.TypeAdapter(list[model])  # type: ignore[valid-type]


def _positions(row_count: int, schema: Schema) -> Sequence[int]:
    """Every row for "all" (or a small table); else `sample` distinct rows, seeded, in order."""
    if schema.validate_rows == "all" or row_count <= schema.sample:
        return range(row_count)
    import numpy as np

    chosen = np.random.default_rng(SAMPLE_SEED).choice(row_count, size=schema.sample, replace=False)
    return [int(position) for position in np.sort(chosen)]


def _chunks(positions: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(positions), ROWS_PER_CHUNK):
        yield positions[start : start + ROWS_PER_CHUNK]


def _reasons_by_index(error: Any) -> dict[int, list[str]]:
    """pydantic's errors by the index of the failing record: 'amount: Input should be ...'."""
    reasons: dict[int, list[str]] = {}
    for item in error.errors(include_url=False):
        location = item["loc"]
        if not location or not isinstance(location[0], int):
            continue
        path = ".".join(str(part) for part in location[1:])
        reasons.setdefault(location[0], []).append(
            f"{path}: {item['msg']}" if path else item["msg"]
        )
    return reasons

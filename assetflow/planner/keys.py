"""Which partition keys of each selected asset a plan covers, from what the user asked for."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from assetflow.errors import SelectionError
from assetflow.request import LATEST as LATEST
from assetflow.request import PartitionRequest as PartitionRequest

if TYPE_CHECKING:
    from assetflow.graph import AssetGraph
    from assetflow.partitions.base import PartitionsDefinition


def keys_by_asset(
    graph: AssetGraph,
    names: Iterable[str],
    request: PartitionRequest | None,
    now: datetime,
) -> dict[str, list[str | None]]:
    """The partition keys to plan for each named asset.

    An unpartitioned asset has the one key None. Without a request, a
    partitioned asset covers every complete partition. With one, the request
    is read in the definition of the first partitioned asset (in dependency
    order) that has such keys; assets with the same definition take the same
    keys, time-partitioned assets of another granularity take the partitions
    whose windows overlap the requested time span. An asset the request pins to a
    key of its own (`PartitionRequest.each`) takes that key.

    Raises:
        SelectionError: The request names keys no selected asset has, or is made
            of a selection without partitioned assets. (PartitionError, a
            SelectionError, says which key was wrong and the nearest valid one.)
    """
    ordered = graph.topological_order(names)
    definitions = {name: graph.spec(name).partitions for name in ordered}
    partitioned = {
        name: definition for name, definition in definitions.items() if definition is not None
    }
    if request is None:
        return {name: _every_key(definitions[name], now) for name in ordered}
    if not partitioned:
        raise SelectionError(
            f"--partition/--from/--to ask for partitions ({request.render()}), but none "
            "of the selected assets is partitioned.",
            hint="Leave the partition options out, or select partitioned assets "
            "(`assetflow list` shows which are).",
        )
    reference, first, last = _resolve(request, list(partitioned.values()), now)
    wanted = reference.key_range(first, last, now)
    span = _span(reference, first, last)
    result: dict[str, list[str | None]] = {}
    for name in ordered:
        definition = definitions[name]
        if definition is None:
            result[name] = [None]
        elif definition == reference:
            result[name] = list(wanted)
        elif span is not None and _windowed(definition, now):
            result[name] = _overlapping(definition, span, now)
        else:
            result[name] = [key for key in wanted if definition.has_key(key)]
    for name, key in request.each:
        if definitions.get(name) is not None:
            result[name] = [key]
    return result


def _windowed(definition: PartitionsDefinition, now: datetime) -> bool:
    """Whether a definition's keys are windows of time (a dynamic or static one without
    keys yet has none to ask)."""
    return definition.count(now) > 0 and definition.window(definition.key_at(0)) is not None


def _every_key(definition: PartitionsDefinition | None, now: datetime) -> list[str | None]:
    """Every complete key of a definition; the one key None of an unpartitioned asset."""
    if definition is None:
        return [None]
    return list(definition.keys(now))


def _resolve(
    request: PartitionRequest, definitions: list[PartitionsDefinition], now: datetime
) -> tuple[PartitionsDefinition, str, str]:
    """The definition the request's keys belong to, and the keys (with `latest` resolved)."""
    if request.first == LATEST or request.last == LATEST:
        reference = definitions[0]
        latest = reference.latest(now)
        first = latest if request.first == LATEST else request.first
        last = latest if request.last == LATEST else request.last
        return reference, first, last
    for definition in definitions:
        if definition.has_key(request.first) and definition.has_key(request.last):
            return definition, request.first, request.last
    # No definition has both keys: let the first one explain what is wrong.
    definitions[0].validate(request.first, now)
    definitions[0].validate(request.last, now)
    raise SelectionError(  # pragma: no cover - validate() raised for a key it lacks
        f"no selected asset has the partitions {request.render()}."
    )


def _span(
    definition: PartitionsDefinition, first: str, last: str
) -> tuple[datetime, datetime] | None:
    start, end = definition.window(first), definition.window(last)
    if start is None or end is None:
        return None
    return start[0], end[1]


def _overlapping(
    definition: PartitionsDefinition, span: tuple[datetime, datetime], now: datetime
) -> list[str | None]:
    start, end = span
    keys: list[str | None] = []
    for key in definition.keys(now):
        window = definition.window(key)
        if window is not None and window[0] < end and window[1] > start:
            keys.append(key)
    return keys

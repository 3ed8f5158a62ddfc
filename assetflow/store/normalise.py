"""Checks and normalisation every store backend applies to records before keeping them.

All backends run the same checks so that they accept and return the same
records: times become timezone-aware UTC (a naive datetime is refused, since
its meaning depends on the machine that wrote it), integers must fit a signed
64-bit column, durations must be numbers, and text must be valid Unicode (a
lone surrogate, which Python makes when it decodes bad bytes with
``surrogateescape``, cannot be stored as UTF-8). Event messages are the
exception: they carry users' exception text and logs, and recording a failure
matters more than one undecodable character, which becomes U+FFFD.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime

from assetflow.errors import StoreError
from assetflow.store.records import (
    CheckRecord,
    EventRecord,
    LogRecord,
    MaterializationRecord,
    RunRecord,
)

#: Largest integer a store column holds (SQLite INTEGER and PostgreSQL BIGINT).
MAX_INTEGER = 2**63 - 1

_SURROGATE = re.compile("[\ud800-\udfff]")
_UNICODE_HINT = (
    "The metadata store keeps UTF-8 text. A lone surrogate usually comes from bytes "
    "decoded with errors='surrogateescape' (a file name or argument that is not UTF-8): "
    "rename the file or pass valid text."
)
_TIME_HINT = (
    "The metadata store keeps timezone-aware UTC times. Pass datetime.now(UTC) "
    "(or a Clock's now()) rather than datetime.now() or datetime.utcnow()."
)


def as_utc(moment: datetime, field: str) -> datetime:
    """Return ``moment`` in UTC.

    Args:
        moment: A timezone-aware datetime.
        field: What the time is, for the error message (``"run 'r1' started_at"``).

    Returns:
        The same instant with ``tzinfo=UTC``.

    Raises:
        StoreError: ``moment`` is naive.
    """
    if moment.tzinfo is UTC:
        return moment
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise StoreError(
            f"{field} is a naive datetime ({moment.isoformat()}), with no timezone.",
            hint=_TIME_HINT,
        )
    return moment.astimezone(UTC)


def optional_utc(moment: datetime | None, field: str) -> datetime | None:
    """`as_utc` of a time that may be missing (None stays None)."""
    return None if moment is None else as_utc(moment, field)


def _check_text(value: str | None, field: str) -> None:
    if value is None or value.isascii():
        return
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise StoreError(
            f"{field} is not valid Unicode text: {value!r} has a lone surrogate at "
            f"position {exc.start}.",
            hint=_UNICODE_HINT,
        ) from None


def _check_texts(where: str, texts: dict[str, str | None]) -> None:
    for name, value in texts.items():
        _check_text(value, f"{where} {name}")


def readable_text(text: str) -> str:
    """``text`` with any lone surrogate replaced by U+FFFD, so that it can be stored."""
    if text.isascii():
        return text
    return _SURROGATE.sub("\ufffd", text)


def _check_integer(value: int | None, field: str) -> None:
    if value is not None and not -MAX_INTEGER - 1 <= value <= MAX_INTEGER:
        raise StoreError(
            f"{field} is {value}, which does not fit a 64-bit integer column.",
            hint="This is a bug in the code that built the record; please report it.",
        )


def _check_duration(value: float | None, field: str) -> None:
    if value is not None and math.isnan(value):
        raise StoreError(
            f"{field} is NaN.",
            hint="Durations are seconds; this is a bug in the code that built the record.",
        )


def normalise_run(run: RunRecord) -> RunRecord:
    """Check ``run`` and return it with its times in UTC.

    Raises:
        StoreError: A time is naive, the pid does not fit 64 bits or a text is
            not valid Unicode.
    """
    where = f"run '{readable_text(run.run_id)}'"
    texts = {
        "run_id": run.run_id,
        "trigger": run.trigger,
        "selection": run.selection,
        "partitions": run.partitions,
        "host": run.host,
    }
    _check_texts(where, texts)
    _check_integer(run.pid, f"{where} pid")
    started_at = as_utc(run.started_at, f"{where} started_at")
    finished_at = optional_utc(run.finished_at, f"{where} finished_at")
    heartbeat_at = optional_utc(run.heartbeat_at, f"{where} heartbeat_at")
    cancel_requested_at = optional_utc(run.cancel_requested_at, f"{where} cancel_requested_at")
    if (
        started_at is run.started_at
        and finished_at is run.finished_at
        and heartbeat_at is run.heartbeat_at
        and cancel_requested_at is run.cancel_requested_at
    ):
        return run
    return replace(
        run,
        started_at=started_at,
        finished_at=finished_at,
        heartbeat_at=heartbeat_at,
        cancel_requested_at=cancel_requested_at,
    )


def normalise_materialization(materialization: MaterializationRecord) -> MaterializationRecord:
    """Check ``materialization`` and return it with its times in UTC.

    Raises:
        StoreError: A time is naive, a count does not fit 64 bits, the duration is
            NaN, a text is not valid Unicode or the asset name holds a NUL character.
    """
    where = f"materialization of '{readable_text(materialization.asset)}'"
    texts = {
        "run_id": materialization.run_id,
        "asset": materialization.asset,
        "partition": materialization.partition,
        "io": materialization.io,
        "path": materialization.path,
        "code_version": materialization.code_version,
        "data_version": materialization.data_version,
    }
    _check_texts(where, texts)
    for column in materialization.columns:
        _check_texts(where, {"column name": column.name, "column type": column.type})
    for key, version in materialization.input_versions.items():
        _check_texts(where, {"input_versions key": key, "input version": version})
    if "\x00" in materialization.asset:
        raise StoreError(
            f"{where} has an asset name with a NUL character.",
            hint="Asset names are Python identifiers; this is a bug in the code that built it.",
        )
    _check_integer(materialization.rows, f"{where} rows")
    _check_integer(materialization.bytes, f"{where} bytes")
    _check_duration(materialization.duration_s, f"{where} duration_s")
    started_at = as_utc(materialization.started_at, f"{where} started_at")
    finished_at = as_utc(materialization.finished_at, f"{where} finished_at")
    if started_at is materialization.started_at and finished_at is materialization.finished_at:
        return materialization
    return replace(materialization, started_at=started_at, finished_at=finished_at)


def normalise_event(event: EventRecord) -> EventRecord:
    """Check ``event`` and return it with its time in UTC and its message storable.

    Raises:
        StoreError: The time is naive, the attempt does not fit 64 bits, the
            duration is NaN, a text other than the message is not valid Unicode or
            the asset name holds a NUL character.
    """
    where = f"{event.kind.value} event of run '{readable_text(event.run_id)}'"
    texts = {
        "run_id": event.run_id,
        "asset": event.asset,
        "partition": event.partition,
        "host": event.host,
    }
    _check_texts(where, texts)
    if event.asset is not None and "\x00" in event.asset:
        raise StoreError(
            f"{where} has an asset name with a NUL character.",
            hint="Asset names are Python identifiers; this is a bug in the code that built it.",
        )
    _check_integer(event.attempt, f"{where} attempt")
    _check_duration(event.duration_s, f"{where} duration_s")
    if event.pid is not None:
        _check_integer(event.pid, f"{where} pid")
    at = as_utc(event.at, f"{where} at")
    started_at = optional_utc(event.started_at, f"{where} started_at")
    message = readable_text(event.message)
    if at is event.at and message is event.message and started_at is event.started_at:
        return event
    return replace(event, at=at, message=message, started_at=started_at)


def asset_filter(assets: Iterable[str] | None) -> frozenset[str] | None:
    """The set of asset names a bulk query is limited to, or None for every asset.

    A single string is taken as one asset name, not as an iterable of letters.
    """
    if assets is None:
        return None
    if isinstance(assets, str):
        return frozenset((assets,))
    return frozenset(assets)


def check_code(code_version: str, source: str) -> None:
    """Check that a code version and its source can be stored.

    Raises:
        StoreError: One of them is not valid Unicode text.
    """
    where = f"code version '{readable_text(code_version)}'"
    _check_texts(where, {"name": code_version, "source": source})


def source_digest(source: str) -> str:
    """The key under which a source text is stored once (SHA-256, hex)."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def normalise_check(result: CheckRecord) -> CheckRecord:
    """Check ``result`` and return it with its time in UTC.

    Raises:
        StoreError: The time is naive, a text is not valid Unicode, or the metadata
            is not JSON-able.
    """
    import json

    where = f"check '{readable_text(result.check)}' of run '{readable_text(result.run_id)}'"
    _check_texts(where, {"run_id": result.run_id, "asset": result.asset, "check": result.check})
    try:
        json.dumps(result.metadata, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise StoreError(
            f"the {where} has metadata that is not JSON: {error}.",
            hint="Check metadata must be JSON-able: numbers, strings, lists and dicts.",
        ) from error
    return replace(result, at=as_utc(result.at, f"{where} at"))


def normalise_log(log: LogRecord) -> LogRecord:
    """Check ``log`` and return it with its time in UTC and its text storable.

    Raises:
        StoreError: The time is naive, the attempt does not fit 64 bits, or a name
            is not valid Unicode.
    """
    where = f"log of run '{readable_text(log.run_id)}'"
    _check_texts(where, {"run_id": log.run_id, "asset": log.asset, "partition": log.partition})
    _check_integer(log.attempt, f"{where} attempt")
    return replace(log, at=as_utc(log.at, f"{where} at"), text=readable_text(log.text))

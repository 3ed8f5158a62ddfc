"""The PostgreSQL store's reads: runs, events, histories, the planner's bulk reads, checks,
logs, saved code and dynamic partition keys.

Bulk reads send their keys as arrays (``= ANY(%s)``, ``unnest``), so each is one
statement whatever the number of keys; the newest row of each group is picked by
``DISTINCT ON`` over indexes already in that order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from assetflow.errors import StoreError
from assetflow.store.base import AssetPartition
from assetflow.store.normalise import (
    MAX_INTEGER,
    as_utc,
    asset_filter,
)
from assetflow.store.postgres.connection import PgDatabase
from assetflow.store.postgres.rows import (
    CHECK_COLUMNS,
    EVENT_COLUMNS,
    LOG_COLUMNS,
    MATERIALIZATION_COLUMNS,
    RUN_COLUMNS,
    STATE_COLUMNS,
    Row,
    checks_from_rows,
    events_from_rows,
    logs_from_rows,
    materializations_from_rows,
    runs_from_rows,
    states_from_rows,
)
from assetflow.store.records import (
    ATTEMPT_KINDS,
    NOT_STARTED_ATTEMPT,
    NOT_STARTED_COUNT,
    CheckRecord,
    EventKind,
    EventRecord,
    LogRecord,
    MaterializationRecord,
    MaterializationState,
    RunQuery,
    RunRecord,
    RunStatus,
)
from assetflow.store.run_errors import (
    CANDIDATES_SHOWN,
    ambiguous_run_error,
)

if TYPE_CHECKING:
    import psycopg

_R = TypeVar("_R")

_M_COLUMNS = ", ".join(f"m.{name.strip()}" for name in MATERIALIZATION_COLUMNS.split(","))
_ATTEMPT_KINDS = sorted(kind.value for kind in ATTEMPT_KINDS)
_ENDED_KINDS = sorted(kind.value for kind in ATTEMPT_KINDS - {EventKind.STARTED})
_OF_ASSETS = "asset = ANY(%s)"
_FAILED = "kind = 'failed' AND asset IS NOT NULL"


def _newest(table: str, columns: str, group: str, order: str, where: str) -> str:
    """SQL for the newest row of each ``group`` in ``table`` among rows ``where``."""
    return (
        f"SELECT DISTINCT ON ({group}) {columns} FROM {table} WHERE {where} "
        f"ORDER BY {group}, {order}"
    )


def _newest_materializations(columns: str, where: str) -> str:
    """SQL for the newest materialization of each asset-partition, through latest_state."""
    return (
        f"SELECT {columns} FROM latest_state AS l "
        f"JOIN materializations AS m ON m.id = l.materialization_id WHERE {where}"
    )


_LATEST_MATERIALIZATIONS = (
    _newest_materializations(_M_COLUMNS, "true"),
    _newest_materializations(_M_COLUMNS, "l." + _OF_ASSETS),
)
_LATEST_STATES = (
    _newest_materializations(STATE_COLUMNS, "true"),
    _newest_materializations(STATE_COLUMNS, "l." + _OF_ASSETS),
)
_CHECK_ORDER = "occurred_at DESC, id DESC"
_LATEST_CHECKS = (
    _newest(
        "check_results", CHECK_COLUMNS, "asset, partition_key, check_name", _CHECK_ORDER, "true"
    ),
    _newest(
        "check_results", CHECK_COLUMNS, "asset, partition_key, check_name", _CHECK_ORDER, _OF_ASSETS
    ),
)
_LATEST_FAILURES = (
    _newest("events", EVENT_COLUMNS, "asset, partition_key", _CHECK_ORDER, _FAILED),
    _newest(
        "events", EVENT_COLUMNS, "asset, partition_key", _CHECK_ORDER, f"{_FAILED} AND {_OF_ASSETS}"
    ),
)
# The newest attempt event of each wanted asset-partition: the partitioned pairs as two
# parallel arrays, the unpartitioned assets as a third.
_LATEST_ATTEMPTS = _newest(
    "events",
    EVENT_COLUMNS,
    "asset, partition_key",
    _CHECK_ORDER,
    "kind = ANY(%s) AND ("
    "(asset, partition_key) IN (SELECT * FROM unnest(%s::text[], %s::text[])) "
    "OR (partition_key IS NULL AND asset = ANY(%s)))",
)


def _limit(limit: int) -> int:
    """A LIMIT that fits a bigint."""
    return min(limit, MAX_INTEGER)


class ReadingMixin:
    """What the PostgreSQL store reads (see ``PostgresCoreStore``)."""

    _db: PgDatabase
    #: the URL with its password as ***
    shown: str

    def _records(self, convert: Callable[[list[Row]], list[_R]], rows: list[Row]) -> list[_R]:
        try:
            return convert(rows)
        except ValueError as exc:
            first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise StoreError(
                f"the PostgreSQL metadata store {self.shown} holds a row that cannot be read "
                f"back as a record: {first_line}",
                hint="The store's tables were changed by something other than assetflow; "
                "restore them from a backup, or copy the readable history into a new store.",
            ) from exc

    def _select(self, action: str, sql: str, parameters: Sequence[object] = ()) -> list[Row]:
        with self._db.reading(action) as connection:
            return list(connection.execute(sql, parameters).fetchall())

    def get_run(self, run_id: str) -> RunRecord | None:
        with self._db.reading("look up a run") as connection:
            return self._find_run(connection, run_id)

    def _find_run(
        self, connection: psycopg.Connection[Any], run_id: str, *, lock: bool = False
    ) -> RunRecord | None:
        """``get_run`` on an open connection; ``lock`` locks the rows read (for an update)."""
        # Ids starting with the prefix sort together, right from the prefix itself.
        rows = connection.execute(
            f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id >= %s ORDER BY run_id LIMIT %s"
            + (" FOR UPDATE" if lock else ""),
            (run_id, CANDIDATES_SHOWN + 1),
        ).fetchall()
        if rows and rows[0][0] == run_id:
            return self._records(runs_from_rows, rows[:1])[0]
        matching = [row for row in rows if row[0].startswith(run_id)]
        if not run_id or not matching:
            return None
        if len(matching) > 1:
            raise ambiguous_run_error(run_id, [row[0] for row in matching], self.shown)
        return self._records(runs_from_rows, matching)[0]

    def list_runs(self, limit: int = 20, status: RunStatus | None = None) -> list[RunRecord]:
        if limit <= 0:
            return []
        where, parameters = ("", ()) if status is None else ("WHERE status = %s", (status.value,))
        rows = self._select(
            "list runs",
            f"SELECT {RUN_COLUMNS} FROM runs {where} ORDER BY started_at DESC, id DESC LIMIT %s",
            (*parameters, _limit(limit)),
        )
        return self._records(runs_from_rows, rows)

    def find_runs(self, query: RunQuery) -> list[RunRecord]:
        if query.limit <= 0:
            return []
        where: list[str] = []
        parameters: list[object] = []
        if query.statuses:
            where.append("status = ANY(%s)")
            parameters.append([status.value for status in query.statuses])
        if query.triggers:
            # "schedule" also finds "schedule:nightly@2026-03-02T03:00+01:00"
            where.append(
                "(run_trigger = ANY(%s) OR (strpos(run_trigger, ':') > 0 "
                "AND split_part(run_trigger, ':', 1) = ANY(%s)))"
            )
            parameters.extend([list(query.triggers)] * 2)
        if query.since is not None:
            where.append("started_at >= %s")
            parameters.append(as_utc(query.since, "since"))
        if query.until is not None:
            where.append("started_at < %s")
            parameters.append(as_utc(query.until, "until"))
        if query.asset is not None or query.partition is not None:
            touching, values = ["asset IS NOT NULL"], []
            if query.asset is not None:
                touching.append("asset = %s")
                values.append(query.asset)
            if query.partition is not None:
                touching.append("partition_key = %s")
                values.append(query.partition)
            condition = " AND ".join(touching)
            where.append(
                f"run_id IN (SELECT run_id FROM events WHERE {condition} "
                f"UNION SELECT run_id FROM check_results WHERE {condition})"
            )
            parameters += values * 2
        if query.before is not None:
            where.append("(started_at, id) < (SELECT started_at, id FROM runs WHERE run_id = %s)")
            parameters.append(query.before)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = self._select(
            "find runs",
            f"SELECT {RUN_COLUMNS} FROM runs {clause} ORDER BY started_at DESC, id DESC LIMIT %s",
            (*parameters, _limit(query.limit)),
        )
        return self._records(runs_from_rows, rows)

    def run_events(self, run_id: str) -> list[EventRecord]:
        rows = self._select(
            "read the events of a run",
            f"SELECT {EVENT_COLUMNS} FROM events WHERE run_id = %s ORDER BY occurred_at, id",
            (run_id,),
        )
        return self._records(events_from_rows, rows)

    def step_counts(self, run_ids: Iterable[str]) -> dict[str, dict[str, int]]:
        wanted = sorted(set(run_ids))
        if not wanted:
            return {}
        rows = self._select(
            "count the steps of runs",
            "SELECT run_id, CASE WHEN kind = 'cancelled' AND attempt = "
            f"{NOT_STARTED_ATTEMPT} THEN '{NOT_STARTED_COUNT}' ELSE kind END AS counted, "
            "COUNT(*) FROM events WHERE run_id = ANY(%s) AND asset IS NOT NULL "
            "GROUP BY run_id, counted",
            (wanted,),
        )
        counts: dict[str, dict[str, int]] = {}
        for run_id, kind, count in rows:
            counts.setdefault(run_id, {})[kind] = int(count)
        return counts

    # -- materializations, attempts, failures, checks, logs -----------------------------

    def _history(
        self,
        action: str,
        select: str,
        time_column: str,
        convert: Callable[[list[Row]], list[_R]],
        asset: str,
        partition: str | None,
        limit: int,
        extra: str = "",
        extra_parameters: Sequence[object] = (),
    ) -> list[_R]:
        """Rows of one asset (one partition, if given; ``extra`` holding), newest first."""
        if limit <= 0:
            return []
        where, parameters = "asset = %s", [asset]
        if partition is not None:
            where, parameters = "asset = %s AND partition_key = %s", [asset, partition]
        if extra:
            where += f" AND {extra}"
        rows = self._select(
            action,
            f"{select} WHERE {where} ORDER BY {time_column} DESC, id DESC LIMIT %s",
            (*parameters, *extra_parameters, _limit(limit)),
        )
        return self._records(convert, rows)

    def asset_history(
        self, asset: str, partition: str | None = None, limit: int = 50
    ) -> list[MaterializationRecord]:
        return self._history(
            "read the history of an asset",
            f"SELECT {MATERIALIZATION_COLUMNS} FROM materializations",
            "finished_at",
            materializations_from_rows,
            asset,
            partition,
            limit,
        )

    def attempts(
        self, asset: str, partition: str | None = None, limit: int = 50
    ) -> list[EventRecord]:
        return self._history(
            "read the attempts of an asset",
            f"SELECT {EVENT_COLUMNS} FROM events",
            "occurred_at",
            events_from_rows,
            asset,
            partition,
            limit,
            extra="kind = ANY(%s)",
            extra_parameters=(_ENDED_KINDS,),
        )

    def check_history(
        self, asset: str, partition: str | None = None, limit: int = 200
    ) -> list[CheckRecord]:
        return self._history(
            "read the check history of an asset",
            f"SELECT {CHECK_COLUMNS} FROM check_results",
            "occurred_at",
            checks_from_rows,
            asset,
            partition,
            limit,
        )

    def _select_newest(
        self, action: str, queries: tuple[str, str], assets: Iterable[str] | None
    ) -> list[Row]:
        wanted = asset_filter(assets)
        if wanted is None:
            return self._select(action, queries[0])
        if not wanted:
            return []
        return self._select(action, queries[1], (sorted(wanted),))

    def latest_materializations(
        self, assets: Iterable[str] | None = None
    ) -> dict[AssetPartition, MaterializationRecord]:
        rows = self._select_newest(
            "read the latest materializations", _LATEST_MATERIALIZATIONS, assets
        )
        records = self._records(materializations_from_rows, rows)
        return {(m.asset, m.partition): m for m in records}

    def latest_states(
        self, assets: Iterable[str] | None = None
    ) -> dict[AssetPartition, MaterializationState]:
        rows = self._select_newest("read the latest states", _LATEST_STATES, assets)
        states = self._records(states_from_rows, rows)
        return {(s.asset, s.partition): s for s in states}

    def latest_states_of(
        self, keys: Iterable[AssetPartition]
    ) -> dict[AssetPartition, MaterializationState]:
        assets: list[str] = []
        partitions: list[str] = []
        for asset, partition in set(keys):
            assets.append(asset)
            partitions.append("" if partition is None else partition)
        if not assets:
            return {}
        rows = self._select(
            "read the latest states of some partitions",
            f"SELECT {STATE_COLUMNS} FROM unnest(%s::text[], %s::text[]) AS k (asset, key) "
            "JOIN latest_state AS l ON l.asset = k.asset AND l.partition_key = k.key "
            "JOIN materializations AS m ON m.id = l.materialization_id",
            (assets, partitions),
        )
        states = self._records(states_from_rows, rows)
        return {(s.asset, s.partition): s for s in states}

    def latest_attempts(self, keys: Iterable[AssetPartition]) -> dict[AssetPartition, EventRecord]:
        assets: list[str] = []
        partitions: list[str] = []
        unpartitioned: list[str] = []
        for asset, partition in set(keys):
            if partition is None:
                unpartitioned.append(asset)
            else:
                assets.append(asset)
                partitions.append(partition)
        if not assets and not unpartitioned:
            return {}
        rows = self._select(
            "read the latest attempts",
            _LATEST_ATTEMPTS,
            (_ATTEMPT_KINDS, assets, partitions, unpartitioned),
        )
        records = self._records(events_from_rows, rows)
        return {(e.asset, e.partition): e for e in records if e.asset is not None}

    def latest_failures(
        self, assets: Iterable[str] | None = None
    ) -> dict[AssetPartition, EventRecord]:
        rows = self._select_newest("read the latest failures", _LATEST_FAILURES, assets)
        records = self._records(events_from_rows, rows)
        return {(e.asset, e.partition): e for e in records if e.asset is not None}

    def run_checks(self, run_id: str) -> list[CheckRecord]:
        rows = self._select(
            "read the check results of a run",
            f"SELECT {CHECK_COLUMNS} FROM check_results WHERE run_id = %s ORDER BY occurred_at, id",
            (run_id,),
        )
        return self._records(checks_from_rows, rows)

    def latest_check_results(
        self, assets: Iterable[str] | None = None
    ) -> dict[AssetPartition, list[CheckRecord]]:
        rows = self._select_newest("read the latest check results", _LATEST_CHECKS, assets)
        results: dict[AssetPartition, list[CheckRecord]] = {}
        for result in self._records(checks_from_rows, rows):
            results.setdefault((result.asset, result.partition), []).append(result)
        for found in results.values():
            found.sort(key=lambda result: result.check)
        return results

    def step_logs(
        self, run_id: str, asset: str | None = None, partition: str | None = None
    ) -> list[LogRecord]:
        where, parameters = "run_id = %s", [run_id]
        if asset is not None:
            where, parameters = f"{where} AND asset = %s", [*parameters, asset]
        if partition is not None:
            where, parameters = f"{where} AND partition_key = %s", [*parameters, partition]
        rows = self._select(
            "read the logs of a run",
            f"SELECT {LOG_COLUMNS} FROM step_logs WHERE {where} ORDER BY id",
            parameters,
        )
        return self._records(logs_from_rows, rows)

    def saved_codes(self, code_versions: Iterable[str]) -> set[str]:
        wanted = sorted(set(code_versions))
        if not wanted:
            return set()
        rows = self._select(
            "look up saved code",
            "SELECT code_version FROM code_versions WHERE code_version = ANY(%s)",
            (wanted,),
        )
        return {row[0] for row in rows}

    def get_code(self, code_version: str) -> str | None:
        rows = self._select(
            "read saved code",
            "SELECT s.source FROM code_versions AS v "
            "JOIN code_sources AS s ON s.source_digest = v.source_digest "
            "WHERE v.code_version = %s",
            (code_version,),
        )
        return str(rows[0][0]) if rows else None

    def partition_keys(self, names: Iterable[str]) -> dict[str, list[str]]:
        wanted = sorted(set(names))
        result: dict[str, list[str]] = {name: [] for name in wanted}
        if not wanted:
            return result
        rows = self._select(
            "read partition keys",
            "SELECT name, key FROM dynamic_partitions "
            "WHERE removed_at IS NULL AND name = ANY(%s) ORDER BY position",
            (wanted,),
        )
        for name, key in rows:
            result[name].append(key)
        return result

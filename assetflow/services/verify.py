"""Outputs verified before they are called fresh: each recorded output is looked at
(through its kind's cheap ``stat``) and compared with what its run recorded.

A file must still be there with the size and modification time recorded when
it was written (a file whose time alone changed, as `cp -r` does to every file it
copies, is compared by a cheap digest of its bytes instead); a DuckDB partition
must hold the rows recorded. One that is
gone is *missing*, one that differs is *damaged*; either makes its
asset-partition stale, with the run that wrote it named, so that a plain
`materialize` rebuilds it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from assetflow.planner.staleness import Reason, ReasonKind

if TYPE_CHECKING:
    from assetflow.io.base import IOSettings, OutputStat
    from assetflow.keys import AssetPartition
    from assetflow.store.records import MaterializationState

#: How long verifying waits for a DuckDB file another process is writing; past it,
#: the partitions are left unverified rather than holding up `status` or `plan`.
VERIFY_LOCK_TIMEOUT_S = 2.0


def verify_outputs(
    latest: Mapping[AssetPartition, MaterializationState],
    root: Path,
    project_settings: IOSettings | None = None,
) -> dict[AssetPartition, Reason]:
    """The recorded outputs that are missing or changed, each with its reason.

    Args:
        latest: The newest materialization of each asset-partition.
        root: The project's state directory, which recorded paths are relative to.
        project_settings: The project's io settings, for outputs recorded under a named
            io (`[tool.assetflow.io.NAME]`); their wait is cut to the verifying one.

    Returns:
        The reason (`output missing` or `output damaged`) by asset-partition; outputs
        with no recorded path (kind "none"), of a kind not installed, or that cannot
        be looked at now (a DuckDB file locked past the wait) are left out.
    """
    import os
    from dataclasses import replace

    from assetflow.errors import AssetflowError
    from assetflow.io.base import IOSettings
    from assetflow.io.registry import io_manager
    from assetflow.io.stats import stat_assets

    groups: dict[str, dict[str, list[MaterializationState]]] = {}
    for state in latest.values():
        if state.path is not None:
            groups.setdefault(state.io, {}).setdefault(state.asset, []).append(state)
    settings = replace(project_settings or IOSettings(), lock_timeout=VERIFY_LOCK_TIMEOUT_S)
    found: dict[AssetPartition, Reason] = {}
    prefix = str(root) + os.sep
    for kind, by_asset in groups.items():
        # A recorded path is relative (joined to the state dir) unless it starts at a root
        # ("/..." or, on Windows, "C:..."): tested by hand, os.path.isabs costs as much.
        # Paths stay text: building a Path per output doubled the cost of a year of
        # daily partitions.
        paths = {
            asset: [
                s.path if s.path[:1] == "/" or s.path[1:2] == ":" else prefix + s.path
                for s in states
                if s.path is not None
            ]
            for asset, states in by_asset.items()
        }
        try:
            stats = stat_assets(
                io_manager(kind, settings),
                {
                    asset: ([s.partition for s in states], paths[asset])
                    for asset, states in by_asset.items()
                },
            )
        except AssetflowError:
            continue  # cannot look now: unverified, not condemned
        for asset, states in by_asset.items():
            for state, path, stat in zip(states, paths[asset], stats[asset], strict=True):
                if (
                    stat is not None
                    and stat.bytes == state.bytes
                    and stat.modified_at == state.file_mtime
                    and stat.rows is None
                ):
                    continue  # a file as recorded: the common case, kept cheap
                reason = _compare(state, stat, path)
                if reason is not None:
                    found[(state.asset, state.partition)] = reason
    return found


def _compare(state: MaterializationState, stat: OutputStat | None, path: str) -> Reason | None:
    if stat is None:
        return Reason(
            ReasonKind.OUTPUT_MISSING,
            run_id=state.run_id,
            details=(f"deleted or moved since it was {_written(state)}",),
        )
    changes = []  # (what, as recorded, as found)
    if state.bytes is not None and stat.bytes is not None and stat.bytes != state.bytes:
        changes.append(("size", f"{state.bytes} bytes", f"{stat.bytes} bytes"))
    if (
        state.file_mtime is not None
        and stat.modified_at is not None
        # Any difference: the digest (read only then) settles it, so a copy that kept
        # whole seconds only (tar, some mounts) is not called changed either.
        and stat.modified_at != state.file_mtime
        and not (changes or _same_bytes(state, path))
    ):
        was, now = _time(state.file_mtime), _time(stat.modified_at)
        changes.append(("modification time", f"modified {was}", f"modified {now}"))
    if state.rows is not None and stat.rows is not None and stat.rows != state.rows:
        changes.append(("row count", f"{state.rows} rows", f"{stat.rows} rows"))
    if not changes:
        return None
    old = ", ".join(recorded for _, recorded, _ in changes)
    new = ", ".join(found for _, _, found in changes)
    what = " and ".join(name for name, _, _ in changes)
    return Reason(
        ReasonKind.OUTPUT_DAMAGED,
        old=old,
        new=new,
        run_id=state.run_id,
        details=(f"its {what} changed ({old} -> {new}) since it was {_written(state)}",),
    )


def _written(state: MaterializationState) -> str:
    return f"written {state.finished_at:%Y-%m-%d %H:%M} UTC by run {state.run_id[:8]}"


def _same_bytes(state: MaterializationState, path: str) -> bool:
    """Whether a file whose time changed still holds the bytes recorded (a copy made by
    `cp -r`, which gives every file a new time): its cheap digest decides."""
    from assetflow.io.files import quick_digest

    return (
        state.file_digest is not None
        and path is not None
        and (quick_digest(path) == state.file_digest)
    )


def _time(seconds: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")

"""RunContext: what an asset function that asks for `context` receives."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from assetflow.partitions.base import PartitionsDefinition


@dataclass(frozen=True, slots=True)
class RunContext:
    """The run an asset is being materialized in: its id, the asset, a logger, the project."""

    run_id: str
    asset: str
    project_dir: Path | None = None
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("assetflow.asset"))
    #: the partition being materialized ("2026-03-01"), or None for an unpartitioned asset
    partition_key: str | None = None
    #: the partition's half-open time window, for time partitions
    partition_start: datetime | None = None
    partition_end: datetime | None = None

    @classmethod
    def for_partition(
        cls,
        *,
        run_id: str,
        asset: str,
        project_dir: Path | None,
        partitions: PartitionsDefinition | None,
        partition: str | None,
    ) -> RunContext:
        """The context of one asset-partition of a run (its window, if it has one)."""
        window = partitions.window(partition) if partitions is not None and partition else None
        start, end = window if window is not None else (None, None)
        return cls(
            run_id=run_id,
            asset=asset,
            project_dir=project_dir,
            log=logging.getLogger(f"assetflow.asset.{asset}"),
            partition_key=partition,
            partition_start=start,
            partition_end=end,
        )

    @classmethod
    def for_test(
        cls,
        asset: str = "test",
        project_dir: Path | None = None,
        *,
        partitions: PartitionsDefinition | None = None,
        partition: str | None = None,
    ) -> RunContext:
        """A context for calling an asset function by hand in a test or a notebook."""
        return cls.for_partition(
            run_id="test",
            asset=asset,
            project_dir=project_dir,
            partitions=partitions,
            partition=partition,
        )

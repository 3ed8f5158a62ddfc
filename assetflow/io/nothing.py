"""Storage kind "none": an asset that returns None (it writes its data elsewhere) stores nothing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from assetflow.errors import WriteError
from assetflow.io.base import (
    Holds,
    IOSettings,
    OutputHead,
    OutputRef,
    OutputStat,
    StoredOutput,
    WriteTarget,
)
from assetflow.io.values import NONE, SUPPORTED, type_name


@dataclass(frozen=True, slots=True)
class NothingIO:
    """Stores nothing and reads None: the record of a run is all there is."""

    settings: IOSettings = field(default_factory=IOSettings)
    kind: str = NONE
    holds: Holds = "nothing"
    partitions_share_path: bool = False

    def write(self, value: object, target: WriteTarget) -> StoredOutput:
        """Accept None only; there is no data version (the coordinator uses the run's)."""
        if value is not None:
            raise WriteError(
                f"asset '{target.asset}' stores nothing (its storage kind is 'none', as for "
                f"an asset annotated '-> None') but it returned a {type_name(value)}.",
                hint="Return None from an asset that writes its data elsewhere, or annotate "
                "the return type with what it returns so assetflow stores it.\n" + SUPPORTED,
            )
        return StoredOutput(NONE, None, None, None, (), None)

    def read(self, ref: OutputRef, as_type: object = None) -> object:
        """None: nothing was stored."""
        return None

    def read_partitions(
        self, asset: str, refs: Sequence[OutputRef], as_type: object = None
    ) -> object:
        """``{partition: None}``: nothing was stored for any of them (as JSON partitions
        are read, so a reader of many partitions gets one entry per partition)."""
        return {ref.partition or "": None for ref in refs}

    def stat(self, ref: OutputRef) -> OutputStat | None:
        """An empty stat: there is nothing that could have gone missing."""
        return OutputStat()

    def head(self, ref: OutputRef, limit: int) -> OutputHead:
        """Nothing: None, as ``read`` gives."""
        return OutputHead(None)

"""RunContext: what an asset function that asks for `context` receives."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True, slots=True)
class RunContext:
    """The run an asset is being materialized in: its id, the asset, a logger, the project."""

    run_id: str
    asset: str
    project_dir: Path | None = None
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("assetflow.asset"))

    @classmethod
    def for_test(cls, asset: str = "test", project_dir: Path | None = None) -> RunContext:
        """A context for calling an asset function by hand in a test or a notebook."""
        return cls(
            run_id="test",
            asset=asset,
            project_dir=project_dir,
            log=logging.getLogger(f"assetflow.asset.{asset}"),
        )

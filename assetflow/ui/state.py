"""What every request of one UI server shares: the project, its store, the token."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from assetflow.clock import Clock
    from assetflow.project import Project
    from assetflow.store import MetadataStore


@dataclass
class UiState:
    """One UI server's shared state.

    The project is loaded once, when the server starts (a change to its code shows
    after a restart); the store is opened for each request that reads it, read-only
    when the state directory cannot be written, so the UI never locks out the runs
    and the scheduler that write it.
    """

    project: Project
    #: the token a non-loopback server asks for (ASSETFLOW_UI_TOKEN); None on 127.0.0.1
    token: str | None = None
    clock: Clock | None = None
    #: signs the CSRF tokens of this server's forms (new at every start)
    secret: str = field(default_factory=lambda: secrets.token_hex(32))

    @contextlib.contextmanager
    def reading(self) -> Iterator[MetadataStore]:
        """The project's store, for reading, closed after the block."""
        from assetflow.services.stores import project_store

        with project_store(self.project, reading=True) as store:
            yield store

    @contextlib.contextmanager
    def writing(self) -> Iterator[MetadataStore]:
        """The project's store, for the few writes the UI makes through the services
        (a cancel request, pausing a schedule)."""
        from assetflow.services.stores import project_store

        with project_store(self.project) as store:
            yield store

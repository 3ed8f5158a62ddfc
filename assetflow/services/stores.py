"""Opening a project's metadata store, and sweeping the runs a crash left behind."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from assetflow.errors import WriteError

if TYPE_CHECKING:
    from assetflow.clock import Clock
    from assetflow.project import Project
    from assetflow.store.base import MetadataStore

#: The embedded metadata store's file name under the state dir.
METADATA_FILE = "metadata.sqlite"


def open_project_store(project: Project, environ: Mapping[str, str] | None = None) -> MetadataStore:
    """Open the project's metadata store, creating the state dir if needed.

    The store is the configuration's `store` URL, or the URL in the environment
    variable `store_env` names, else the embedded SQLite file
    ``<state_dir>/metadata.sqlite``.

    Args:
        project: The project.
        environ: Where `store_env` is looked up (default: the process environment).

    Raises:
        WriteError: The state dir cannot be created or written.
        ProjectError: `store_env` names a variable that is unset or empty.
        StoreError: The URL is not one assetflow opens, or the store is unusable.
    """
    import os

    from assetflow.store import open_store, sqlite_url

    ensure_state_dir(project.state_dir)
    url = project.location.config.store_url(os.environ if environ is None else environ)
    if url is None:
        url = sqlite_url(project.state_dir / METADATA_FILE)
    return open_store(url, root=project.root)


@contextlib.contextmanager
def project_store(project: Project, store: MetadataStore | None = None) -> Iterator[MetadataStore]:
    """The given store (left open), or the project's own, opened here and closed after."""
    if store is not None:
        yield store
        return
    with open_project_store(project) as opened:
        yield opened


def ensure_state_dir(state_dir: Path) -> None:
    """Create the state dir and check it is writable, with a clear error if not.

    Raises:
        WriteError: The directory cannot be created or written.
    """
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        probe = state_dir / f".write-test-{uuid.uuid4().hex}"
        probe.touch()
        probe.unlink()
    except OSError as error:
        raise WriteError(
            f"the state directory {state_dir} is not writable: {error.strerror or error}.",
            hint=(
                "assetflow keeps outputs and run history there. To fix this, make the "
                "directory writable (e.g. `chmod u+w`), or point `state_dir` in "
                "[tool.assetflow] at a writable directory."
            ),
        ) from error


def sweep_crashed(store: MetadataStore, project: Project, clock: Clock | None = None) -> None:
    """Mark crashed the runs left ``running`` by a process that is gone (see
    `assetflow.execution.liveness`), and delete the temporary files their killed
    writers left (a kill -9 gives them no chance to). Every command that reads runs
    calls this first."""
    from assetflow.clock import SystemClock
    from assetflow.execution.liveness import is_process_alive, sweep_orphaned_runs
    from assetflow.execution.step import DATA_DIR
    from assetflow.io.atomic import remove_orphaned_temp_files

    if sweep_orphaned_runs(store, clock=clock or SystemClock()):
        data = project.state_dir / DATA_DIR
        if data.is_dir():
            remove_orphaned_temp_files(data, is_process_alive)

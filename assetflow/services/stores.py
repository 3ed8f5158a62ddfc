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
    from assetflow.store.copying import CopyResult

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
    from assetflow.store import open_store

    ensure_state_dir(project.state_dir)
    return open_store(project_store_url(project, environ), root=project.root)


class ReadOnlyStoreWarning(UserWarning):
    """The project's state directory cannot be written: its store is only read.

    Issued once each time a reading command opens such a store (the CLI prints it
    as one line on standard error); nothing is swept, migrated or written.
    """


@contextlib.contextmanager
def project_store(
    project: Project, store: MetadataStore | None = None, *, reading: bool = False
) -> Iterator[MetadataStore]:
    """The given store (left open), or the project's own, opened here and closed after.

    Args:
        project: The project.
        store: A store to use instead of the project's own.
        reading: The caller only reads (status, runs, history): when the state
            directory cannot be written (a monitoring user's read-only copy), the
            embedded store is opened read-only, with a `ReadOnlyStoreWarning`, rather
            than refused.
    """
    if store is not None:
        yield store
        return
    if reading and _is_read_only(project):
        with _read_only_store(project) as opened:
            yield opened
        return
    with open_project_store(project) as opened:
        yield opened


def _is_read_only(project: Project) -> bool:
    """Whether this process cannot write the project's embedded store (or create it).

    Only the embedded store (no `store` or `store_env` setting) is judged: the
    state directory says nothing about a store configured elsewhere.
    """
    import os

    if project.location.config.store_url(os.environ) is not None:
        return False
    try:
        ensure_state_dir(project.state_dir)
    except WriteError:
        return True
    metadata = project.state_dir / METADATA_FILE
    return metadata.exists() and not os.access(metadata, os.W_OK)


@contextlib.contextmanager
def _read_only_store(project: Project) -> Iterator[MetadataStore]:
    """The embedded store opened read-only; an empty one when none was ever written."""
    import warnings

    from assetflow.store.memory import MemoryStore
    from assetflow.store.sqlite import SqliteStore

    metadata = project.state_dir / METADATA_FILE
    warnings.warn(
        ReadOnlyStoreWarning(
            f"the state directory {project.state_dir} is read-only for this user: "
            "showing what is recorded; nothing can be written (no crashed runs are "
            "marked, no upgrade is made)."
        ),
        stacklevel=3,
    )
    opened: MetadataStore = (
        SqliteStore(metadata, read_only=True) if metadata.exists() else MemoryStore()
    )
    with opened:
        yield opened


def is_read_only_store(store: MetadataStore) -> bool:
    """Whether ``store`` was opened only to read (see `project_store`)."""
    return bool(getattr(store, "read_only", False))


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
    calls this first; a store opened read-only is left as it is."""
    from assetflow.clock import SystemClock
    from assetflow.execution.liveness import is_process_alive, sweep_orphaned_runs
    from assetflow.execution.step import DATA_DIR
    from assetflow.io.atomic import remove_orphaned_temp_files

    if is_read_only_store(store):
        return
    if sweep_orphaned_runs(store, clock=clock or SystemClock()):
        data = project.state_dir / DATA_DIR
        if data.is_dir():
            remove_orphaned_temp_files(data, is_process_alive)


def project_store_url(project: Project, environ: Mapping[str, str] | None = None) -> str:
    """The URL of the project's metadata store (see `open_project_store`).

    Raises:
        ProjectError: `store_env` names a variable that is unset or empty.
    """
    import os

    from assetflow.store import sqlite_url

    url = project.location.config.store_url(os.environ if environ is None else environ)
    return url if url is not None else sqlite_url(project.state_dir / METADATA_FILE)


def copy_history(
    project: Project, to_url: str, *, from_url: str | None = None
) -> tuple[CopyResult, str, str]:
    """Copy every record of the project's store (or the one ``from_url`` names) into the
    empty store ``to_url``, in one transaction on the target, checked by counts.

    Returns:
        What was copied, and the source's and the target's URLs as shown (no password).

    Raises:
        StoreError: A store cannot be opened or copied, the target is not empty, or
            the counts differ (nothing is then kept in the target).
        ProjectError: `store_env` names a variable that is unset or empty.
    """
    from assetflow.errors import StoreError
    from assetflow.store import open_store, redact_url
    from assetflow.store.copying import copy_store

    source_url = from_url if from_url is not None else project_store_url(project)
    source_shown, target_shown = redact_url(source_url), redact_url(to_url)
    if from_url is None:
        ensure_state_dir(project.state_dir)
    with (
        open_store(source_url, root=project.root) as source,
        open_store(to_url, root=project.root) as target,
    ):
        if _same_store(source, target):
            raise StoreError(
                f"the source and the target of the copy are the same store ({target_shown}).",
                hint="Name another store with --to.",
            )
        result = copy_store(source, target, source_shown=source_shown, target_shown=target_shown)
    return result, source_shown, target_shown


def _same_store(source: MetadataStore, target: MetadataStore) -> bool:
    path = getattr(source, "path", None)
    return path is not None and path == getattr(target, "path", None)

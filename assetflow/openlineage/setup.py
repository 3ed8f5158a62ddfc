"""A project's OpenLineage setup, read once: its settings, the run listener, and sending
the outbox."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from assetflow.errors import ProjectError
from assetflow.openlineage.settings import LineageSettings, parse_settings

if TYPE_CHECKING:
    from assetflow.execution.liveness import CrashHook
    from assetflow.openlineage.listener import LineageRecorder
    from assetflow.openlineage.sender import SendReport
    from assetflow.project import Project
    from assetflow.store import EventRecord, MetadataStore, RunRecord


def lineage_settings(
    project: Project, environ: Mapping[str, str] | None = None
) -> LineageSettings | None:
    """Read `[tool.assetflow.openlineage]` of `project`; None when it has none.

    Raises:
        ProjectError: The table is wrong (the message names the setting and the fix).
    """
    return parse_settings(
        project.location.config.openlineage,
        where=project.location.config_file.name,
        root=project.root,
        default_namespace=project.root.name,
        environ=os.environ if environ is None else environ,
    )


def lineage_recorder(
    project: Project,
    *,
    store: MetadataStore | None = None,
    open_store: Callable[[], AbstractContextManager[MetadataStore]] | None = None,
    environ: Mapping[str, str] | None = None,
    warn: bool = True,
) -> LineageRecorder | None:
    """The run listener that emits `project`'s lineage, or None when it emits none.

    Raises:
        ProjectError: `[tool.assetflow.openlineage]` is wrong.
    """
    settings = lineage_settings(project, environ)
    if settings is None:
        return None
    _load_client(project)
    from assetflow.openlineage.listener import LineageRecorder

    return LineageRecorder(
        settings,
        project=project.root.name,
        state_dir=project.state_dir,
        store=store,
        open_store=open_store,
        warn=warn,
    )


def crash_lineage(project: Project) -> CrashHook | None:
    """What the crash sweep calls for each run of `project` it marks crashed: queue the
    ABORT events that end what the run started (None without lineage).

    Raises:
        ProjectError: `[tool.assetflow.openlineage]` is wrong, or the client is missing.
    """
    settings = lineage_settings(project)
    if settings is None:
        return None
    _load_client(project)
    from assetflow.openlineage.listener import crash_events
    from assetflow.store.lineage import lineage_outbox

    name = project.root.name

    def queue_aborts(run: RunRecord, events: Sequence[EventRecord], store: MetadataStore) -> None:
        payloads = crash_events(settings, name, run, events)
        lineage_outbox(store).queue(run.run_id, payloads, datetime.now(UTC))

    return queue_aborts


def _load_client(project: Project) -> None:
    """Import the OpenLineage client, an extra: a project without
    [tool.assetflow.openlineage] never loads it.

    Raises:
        ProjectError: It is not installed (saying how to install it).
    """
    try:
        import assetflow.openlineage.listener  # noqa: F401
    except ImportError as error:
        raise ProjectError(
            f"[tool.assetflow.openlineage] in {project.location.config_file.name} asks for "
            f"lineage events, and the OpenLineage client is not installed ({error}).",
            hint="Install assetflow with its openlineage extra: "
            "pip install 'assetflow[openlineage]'; or remove the table.",
        ) from None


def send_pending(
    store: MetadataStore,
    settings: LineageSettings,
    *,
    budget_s: float = 30.0,
    force: bool = True,
    now: Callable[[], datetime] | None = None,
) -> SendReport:
    """Send what the outbox holds now (by default without waiting for retry times)."""
    from assetflow.openlineage.sender import build_transport, send_due

    try:
        transport = build_transport(settings)
    except ImportError as error:
        raise ProjectError(
            f"cannot send lineage events: the OpenLineage client is not installed ({error}).",
            hint="Install assetflow with its openlineage extra: "
            "pip install 'assetflow[openlineage]'.",
        ) from None
    return send_due(
        store,
        transport,
        settings,
        budget_s=budget_s,
        force=force,
        now=now or (lambda: datetime.now(UTC)),
    )

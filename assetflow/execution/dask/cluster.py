"""Connecting to a Dask cluster: a scheduler's address, or a local cluster for one run."""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

import dask
from distributed import Client, LocalCluster

from assetflow.errors import UsageError

if TYPE_CHECKING:
    from assetflow.project import Project

#: How long a run waits for a reachable scheduler to have at least one worker.
WORKERS_TIMEOUT_S = 30.0


def connect(
    address: str | None,
    workers: int,
    timeout: float,
    resources: Mapping[str, float] | None = None,
) -> tuple[Client, LocalCluster | None]:
    """A client of the scheduler at `address` (tried for `timeout` seconds), or of a local
    cluster of `workers` single-threaded worker processes started for this run, each
    declaring `resources`.

    See `start_local_cluster` for the local one.

    Raises:
        UsageError: The scheduler cannot be reached, or has no worker.
    """
    if address is None:
        cluster = start_local_cluster(workers, resources)
        client = Client(cluster, set_as_default=False)  # type: ignore[no-untyped-call]
        return client, cluster
    try:
        client = Client(  # type: ignore[no-untyped-call]
            address, timeout=timeout, set_as_default=False
        )
    except (OSError, TimeoutError, ValueError) as error:
        raise UsageError(
            f"cannot reach the Dask scheduler at {address}: {_reason(error)}",
            hint="Start one with `dask scheduler` (it listens on tcp://0.0.0.0:8786) and its "
            "workers with `dask worker tcp://HOST:8786`, then give its address to "
            "--dask-address (or `address` in [tool.assetflow.dask]); or leave the address "
            "out to run on a local cluster started for the run, sized by --workers.",
        ) from None
    try:
        client.wait_for_workers(1, timeout=WORKERS_TIMEOUT_S)
    except TimeoutError:
        client.close()  # type: ignore[no-untyped-call]
        raise UsageError(
            f"the Dask scheduler at {address} has no worker: none joined within "
            f"{WORKERS_TIMEOUT_S:g} s.",
            hint=f"Start workers with `dask worker {address}`.",
        ) from None
    return client, None


def start_local_cluster(workers: int, resources: Mapping[str, float] | None = None) -> LocalCluster:
    """A cluster on this machine of `workers` single-threaded worker processes, each
    declaring `resources` (Dask's, none by default), whose scheduler never runs a task
    again when its worker dies (`allowed-failures` 0) and gives a worker no more tasks
    than it has threads (the others wait on the scheduler, so a worker that dies takes no
    waiting step down with it)."""
    settings = {
        "distributed.scheduler.allowed-failures": 0,
        "distributed.scheduler.worker-saturation": 1.0,
    }
    with dask.config.set(settings):
        return LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",  # any free port: never a clash with 8787
            silence_logs=logging.ERROR,
            **({"resources": dict(resources)} if resources else {}),
        )


def threads(client: Client) -> int:
    """How many tasks the cluster's workers run at once."""
    info: dict[str, Any] = client.scheduler_info(n_workers=-1)
    return sum(int(worker.get("nthreads", 1)) for worker in info["workers"].values()) or 1


def duckdb_assets(project: Project, among: Collection[str] | None = None) -> list[str]:
    """The assets stored in a DuckDB file (their own or a named io setting's), of those
    `among` (None: of the whole project)."""
    named = {name for name, entry in project.location.config.io.items() if entry.kind == "duckdb"}
    return sorted(
        name
        for name in (project.graph.names if among is None else among)
        if name in project.graph
        and ((kind := project.graph.spec(name).kind) == "duckdb" or kind in named)
    )


def refuse_duckdb(project: Project, address: str, among: Collection[str] | None = None) -> None:
    """A cluster elsewhere cannot write this machine's DuckDB file: say so before any
    step runs, if an asset the run writes or reads (`among`; None: any asset of the
    project) is stored there.

    Raises:
        UsageError: Naming those of the run's assets stored in DuckDB.
    """
    assets = duckdb_assets(project, among)
    if not assets:
        return
    shown = ", ".join(repr(name) for name in assets[:5]) + (" ..." if len(assets) > 5 else "")
    raise UsageError(
        f"asset{'s' if len(assets) > 1 else ''} {shown} "
        f'{"are" if len(assets) > 1 else "is"} stored in DuckDB (io="duckdb"), and a DuckDB '
        f"file stays on this machine: the Dask workers of {address} can neither write "
        "it nor read it.",
        hint='To fix this, store them as Parquet (io="parquet"), which every worker can '
        "reach on shared storage, leave them and the assets reading them out of the "
        "selection, or run this project with --executor multiprocess (or without "
        "--dask-address, on a local cluster).",
    )


def _reason(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.rstrip(".") + "."

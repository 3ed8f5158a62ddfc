"""Pools as Dask resources: what a step of a pool asks of its worker, and which workers have it.

With `pool_resources` on, each step of an asset with a pool is a task asking for
one unit of the Dask resource named as the pool, so that Dask runs it only on a
worker declaring that resource (`dask worker ... --resources "db=1"`). The
coordinator's cap on the pool holds as before. A run whose steps need a pool
that no worker declares would wait forever in the scheduler: it is refused
before any step starts, naming the pool, its assets and the workers there are.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

from assetflow.errors import UsageError
from assetflow.execution.executor import StepLost

if TYPE_CHECKING:
    from distributed import Client

    from assetflow.project import Project

#: How much of its pool's resource one step takes on its worker.
UNITS_PER_STEP = 1
#: How long a run waits for workers still joining the cluster to declare the pools its
#: steps need, before it is refused.
JOINING_WAIT_S = 3.0
#: How often the scheduler is asked meanwhile.
POLL_S = 0.1
#: How many assets and workers an error names before it says how many more there are.
SHOWN = 5


def step_resources(pool: str | None) -> dict[str, float] | None:
    """The Dask resources a step of `pool` asks for (None: any worker can run it)."""
    return None if pool is None else {pool: UNITS_PER_STEP}


def local_resources(pools: Mapping[str, int]) -> dict[str, float] | None:
    """The resources each worker of a local cluster declares: every pool, at its size
    (the coordinator's cap), so that any of them can run any step of any pool."""
    return {name: float(size) for name, size in pools.items()} or None


def declared_resources(client: Client) -> dict[str, dict[str, float]]:
    """The resources each worker of the cluster declares, by worker address."""
    info: dict[str, Any] = client.scheduler_info(n_workers=-1)
    return {
        address: {name: float(units) for name, units in (worker.get("resources") or {}).items()}
        for address, worker in info["workers"].items()
    }


def workers_by_pool(declared: Mapping[str, Mapping[str, float]]) -> dict[str, frozenset[str]]:
    """The workers that can run a step of each pool (declaring at least one unit)."""
    found: dict[str, set[str]] = {}
    for address, resources in declared.items():
        for name, units in resources.items():
            if units >= UNITS_PER_STEP:
                found.setdefault(name, set()).add(address)
    return {name: frozenset(addresses) for name, addresses in found.items()}


def assets_by_pool(project: Project, assets: Collection[str] | None) -> dict[str, list[str]]:
    """The assets of each pool among `assets` (None: every asset of the project), sorted."""
    names = project.graph.names if assets is None else assets
    found: dict[str, list[str]] = {}
    for name in sorted(set(names)):
        pool = project.graph.spec(name).pool
        if pool is not None:
            found.setdefault(pool, []).append(name)
    return found


def wait_for_pool_workers(
    client: Client,
    needed: Mapping[str, list[str]],
    address: str,
    *,
    wait: float = JOINING_WAIT_S,
) -> None:
    """Return once each pool of `needed` is declared by some worker; workers still joining
    get `wait` seconds.

    Args:
        client: A client of the cluster.
        needed: The assets of each pool the run's steps need.
        address: The scheduler's address, for the error.
        wait: How long to wait for workers declaring a missing pool.

    Raises:
        UsageError: Some pool is declared by no worker: which one, which assets need it,
            which workers there are with their resources, and how to fix it.
    """
    until = time.monotonic() + wait
    while True:
        declared = declared_resources(client)
        by_pool = workers_by_pool(declared)
        missing = {pool: assets for pool, assets in needed.items() if pool not in by_pool}
        if not missing:
            return
        if time.monotonic() >= until:
            raise _missing_error(missing, declared, address)
        time.sleep(POLL_S)


def unrunnable(named: str, resources: Mapping[str, float] | None, timeout: float) -> StepLost:
    """The outcome of a step that waited in the scheduler for a worker declaring its pool
    longer than the scheduler's `no-workers-timeout` (it never started)."""
    pools = sorted(resources or {})
    pool = ", ".join(repr(name) for name in pools) or "its pool"
    flag = ",".join(f"{name}=1" for name in pools) or "POOL=1"
    return StepLost(
        f"{named} waited {timeout:g} s in the Dask scheduler for a worker declaring the "
        f"resource {pool} (its pool, with pool_resources on), and none was there, so the "
        "scheduler gave it up (its distributed.scheduler.no-workers-timeout); nothing of it "
        "ran.",
        hint=f'Start a worker that declares it (`dask worker SCHEDULER --resources "{flag}"`), '
        "or set pool_resources = false in [tool.assetflow.dask] to run the steps of pools "
        "on any worker.",
    )


def _missing_error(
    missing: Mapping[str, list[str]], declared: Mapping[str, Mapping[str, float]], address: str
) -> UsageError:
    pools = sorted(missing)
    each = [
        f"{pool!r} (asset{'s' if len(missing[pool]) > 1 else ''} "
        f"{_listed([repr(name) for name in missing[pool]])})"
        for pool in pools
    ]
    if len(pools) == 1:
        needs = f"pool {each[0]} can run only on a Dask worker declaring the resource {pools[0]!r}"
    else:
        needs = (
            f"pools {', '.join(each[:-1])} and {each[-1]} can run only on Dask workers "
            "declaring those pools as resources"
        )
    workers = _listed([f"{worker} ({_resources(declared[worker])})" for worker in sorted(declared)])
    flag = ",".join(f"{pool}=1" for pool in pools)
    return UsageError(
        f"the steps of {needs} (pool_resources is on in [tool.assetflow.dask]), and no worker "
        f"of the scheduler at {address} declares {'it' if len(pools) == 1 else 'them'}. "
        f"Its workers: {workers or 'none'}.",
        hint="To fix this, start a worker that declares "
        f"{'it' if len(pools) == 1 else 'them'}, `dask worker {address} --resources "
        f'"{flag}"` (one step of a pool at a time per unit declared), or set pool_resources = '
        "false in [tool.assetflow.dask] to run the steps of pools on any worker (the "
        "coordinator still caps each pool).",
    )


def _resources(resources: Mapping[str, float]) -> str:
    if not resources:
        return "no resources"
    return ", ".join(f"{name}={units:g}" for name, units in sorted(resources.items()))


def _listed(items: list[str]) -> str:
    shown = ", ".join(items[:SHOWN])
    return shown + (f" and {len(items) - SHOWN} more" if len(items) > SHOWN else "")

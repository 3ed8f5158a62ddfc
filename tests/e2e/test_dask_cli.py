"""`assetflow materialize --executor dask` against a real `dask scheduler` and `dask worker`
processes on 127.0.0.1, and the errors a user meets on the way."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from distributed import Client

from tests.e2e.processes import assetflow, wait_for

#: How long the scheduler and its workers get to start.
START_TIMEOUT_S = 60
#: How long the scheduler and its workers get to stop before they are killed.
STOP_TIMEOUT_S = 5


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def dask_command() -> list[str]:
    found = shutil.which("dask", path=str(Path(sys.executable).parent)) or shutil.which("dask")
    assert found, "the dask command comes with the dask extra"
    return [found]


@dataclass
class Cluster:
    address: str
    #: the pids of the Dask worker processes
    worker_pids: set[int]
    #: the resources each Dask worker process declares, by its pid
    resources_by_pid: dict[int, dict[str, float]]


@contextlib.contextmanager
def started_cluster(
    logs: Path, *workers: tuple[str, ...], scheduler_env: dict[str, str] | None = None
) -> Iterator[Cluster]:
    """`dask scheduler` (with `scheduler_env` added to its environment) and one `dask
    worker` process for each of `workers` (its options) on 127.0.0.1, stopped after."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    processes: list[subprocess.Popen[bytes]] = []

    def start(log: str, *command: str, env: dict[str, str] | None = None) -> None:
        with (logs / log).open("w") as out:
            processes.append(
                subprocess.Popen(
                    [*dask_command(), *command, "--no-dashboard"],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
                    start_new_session=True,  # its own process group: stopped with its children
                )
            )

    try:
        command = ("scheduler", "--host", "127.0.0.1", "--port", str(port))
        start("scheduler.log", *command, env=scheduler_env)
        for number, options in enumerate(workers):
            start(f"worker-{number}.log", "worker", address, "--host", "127.0.0.1", *options)
        # Each `dask worker` starts one worker process, or --nworkers of them.
        count = sum(int(dict(itertools.pairwise(o)).get("--nworkers", 1)) for o in workers)
        with Client(address, timeout=START_TIMEOUT_S) as client:
            client.wait_for_workers(count, timeout=START_TIMEOUT_S)
            pids = {worker: int(pid) for worker, pid in client.run(os.getpid).items()}
            info = client.scheduler_info(n_workers=-1)["workers"]
        resources = {pid: dict(info[worker]["resources"]) for worker, pid in pids.items()}
        yield Cluster(address, set(pids.values()), resources)
    finally:
        for process in reversed(processes):
            stop_group(process)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """`dask scheduler` and `dask worker --nworkers 2` as processes, for the module."""
    with started_cluster(
        tmp_path_factory.mktemp("dask"), ("--nworkers", "2", "--nthreads", "1")
    ) as started:
        yield started


@pytest.fixture(scope="module")
def pool_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """`dask scheduler` and two `dask worker` processes, of which only one declares the
    resource "db" (`--resources "db=1"`), for the module."""
    with started_cluster(
        tmp_path_factory.mktemp("dask-pools"),
        ("--nthreads", "1", "--resources", "db=1"),
        ("--nthreads", "1"),
    ) as started:
        yield started


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """Stop a process started in a session of its own, and the processes it started."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(STOP_TIMEOUT_S)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


WHERE = """
    import os

    from assetflow import asset

    def where() -> dict:
        return {"pid": os.getpid(), "parent": os.getppid()}

    @asset
    def raw() -> dict:
        return {"n": 20, **where()}

    @asset
    def clean(raw: dict) -> dict:
        return {"n": raw["n"] + 1, **where()}

    @asset
    def other() -> dict:
        return where()
"""


def run_cli(root: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str, int]:
    process = subprocess.Popen(
        assetflow(root, "materialize", *args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    out, err = process.communicate(timeout=120)
    return process.returncode, out, err, process.pid


def stored(root: Path, name: str) -> dict:
    return json.loads((root / ".assetflow" / "data" / f"{name}.json").read_text())


def test_steps_run_in_the_dask_workers_and_name_them(make_project, cluster):
    root = make_project(WHERE)
    code, out, err, cli_pid = run_cli(
        root, "*", "--executor", "dask", "--dask-address", cluster.address, "--json"
    )
    assert code == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    steps = {e["asset"]: e for e in events if e["event"] == "step_finished"}
    assert {name: step["state"] for name, step in steps.items()} == {
        "raw": "materialized",
        "clean": "materialized",
        "other": "materialized",
    }
    assert stored(root, "clean")["n"] == 21  # read raw's output from storage
    for name, step in steps.items():
        ran = stored(root, name)
        # Each step ran in a process of a Dask worker: not the CLI, and named so.
        assert ran["pid"] != cli_pid
        assert ran["parent"] in cluster.worker_pids
        assert step["worker"] == {"host": socket.gethostname(), "pid": ran["pid"]}
    run_id = next(e["run_id"] for e in events if e["event"] == "run_started")
    shown = subprocess.run(
        assetflow(root, "runs", "show", run_id), capture_output=True, text=True, check=True
    ).stdout
    assert f"pid {stored(root, 'raw')['pid']}" in shown


def test_an_unreachable_scheduler_says_which_and_how_to_start_one(make_project):
    root = make_project(
        WHERE,
        config='[tool.assetflow]\nmodules = ["assets"]\n[tool.assetflow.dask]\n'
        "connect_timeout = 1\n",
    )
    address = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there
    code, _, err, _ = run_cli(root, "*", "--executor", "dask", "--dask-address", address)
    assert code == 2
    assert f"cannot reach the Dask scheduler at {address}" in err
    assert "Start one with `dask scheduler`" in err
    assert "leave the address out to run on a local cluster" in err
    assert "Traceback" not in err
    assert not (root / ".assetflow" / "data").exists()


def test_a_worker_that_cannot_import_the_project_names_the_module_and_its_error(
    make_project, cluster, tmp_path
):
    # The project imports a package only the CLI's environment has: the workers cannot.
    only_here = tmp_path / "only_here"
    (only_here / "shop_helpers").mkdir(parents=True)
    (only_here / "shop_helpers" / "__init__.py").write_text("TAX = 0.2\n")
    root = make_project("import shop_helpers\n" + textwrap.dedent(WHERE))
    path = os.pathsep.join(filter(None, [str(only_here), os.environ.get("PYTHONPATH")]))
    code, out, err, _ = run_cli(
        root, "*", "--dask-address", cluster.address, env={"PYTHONPATH": path}
    )
    assert code == 2, out + err
    assert "the Dask worker tcp://127.0.0.1:" in err
    assert "module 'assets' failed to import" in err
    assert "ModuleNotFoundError: No module named 'shop_helpers'" in err
    assert "reachable at the same path" in err
    assert "Traceback (most recent call last)" not in err
    assert not (root / ".assetflow" / "data").exists()


DUCK = """
    import pandas as pd

    from assetflow import asset

    @asset(io="duckdb")
    def orders() -> pd.DataFrame:
        return pd.DataFrame({"id": [1]})
"""


def test_duckdb_outputs_with_a_remote_cluster_are_refused_before_anything_runs(make_project):
    root = make_project(DUCK)
    started = time.monotonic()
    code, _, err, _ = run_cli(root, "--dask-address", "tcp://127.0.0.1:8786")
    assert time.monotonic() - started < 30  # refused before any connection is tried
    assert code == 2
    assert "asset 'orders' is stored in DuckDB" in err
    assert "a DuckDB file stays on this machine" in err
    assert 'io="parquet"' in err
    assert "--executor multiprocess" in err
    assert not (root / ".assetflow" / "data").exists()


DUCK_AND_PARQUET = """
    import os

    import pandas as pd

    from assetflow import asset

    @asset(io="duckdb")
    def orders() -> pd.DataFrame:
        return pd.DataFrame({"id": [1, 2]})

    @asset
    def order_count(orders: pd.DataFrame) -> dict:
        return {"n": len(orders)}

    @asset(io="parquet")
    def prices() -> pd.DataFrame:
        return pd.DataFrame({"parent": [os.getppid()]})
"""


def test_only_the_duckdb_assets_a_run_writes_or_reads_refuse_a_remote_cluster(
    make_project, cluster
):
    root = make_project(DUCK_AND_PARQUET)
    # A run of the Parquet asset alone goes to the cluster.
    code, _, err, _ = run_cli(root, "prices", "--dask-address", cluster.address)
    assert code == 0, err
    (stored_prices,) = (root / ".assetflow" / "data").rglob("prices*.parquet")
    assert int(pd.read_parquet(stored_prices)["parent"][0]) in cluster.worker_pids
    # A run writing the DuckDB asset, or reading it, is refused before anything runs.
    code, _, err, _ = run_cli(root, "orders", "--dask-address", cluster.address)
    assert code == 2
    assert "asset 'orders' is stored in DuckDB" in err
    assert "can neither write it nor read it" in err
    code, _, err, _ = run_cli(root, "orders", "--executor", "inprocess")
    assert code == 0, err
    code, _, err, _ = run_cli(root, "order_count", "--dask-address", cluster.address)
    assert code == 2
    assert "asset 'orders' is stored in DuckDB" in err
    assert not list((root / ".assetflow" / "data").rglob("order_count*"))


def test_dask_address_with_another_executor_is_refused(make_project):
    root = make_project(WHERE)
    code, _, err, _ = run_cli(root, "--executor", "inprocess", "--dask-address", "tcp://x:1")
    assert code == 2
    assert "--dask-address applies to --executor dask, not --executor inprocess" in err


KILLS_ITS_WORKER = """
    import os
    import signal
    from pathlib import Path

    from assetflow import asset

    @asset
    def doomed() -> dict:
        with (Path(__file__).parent / "doomed.ran").open("a") as ran:
            ran.write("x")
        os.kill(os.getppid(), signal.SIGKILL)  # the Dask worker it runs on
        return {}
"""


def test_dask_never_runs_again_a_step_whose_worker_died(make_project, cluster):
    # `dask scheduler` runs a task again when its worker dies (allowed-failures, 3 by
    # default): assetflow refuses that rerun and counts one lost attempt.
    root = make_project(KILLS_ITS_WORKER)
    code, out, err, _ = run_cli(root, "--dask-address", cluster.address, "--json")
    assert code == 1, err
    (step,) = [e for e in map(json.loads, out.splitlines()) if e["event"] == "step_finished"]
    assert step["state"] == "failed"
    assert step["attempts"] == 1
    assert "the Dask worker running asset 'doomed' was lost" in step["message"]
    assert (root / "doomed.ran").read_text() == "x"


SLOW = """
    import os
    import time
    from pathlib import Path

    from assetflow import asset

    @asset
    def slow() -> dict:
        print("slow: starting the long part")
        (Path(__file__).parent / "slow.pid").write_text(str(os.getpid()))
        time.sleep(60)
        return {}
"""


def test_ctrl_c_stops_the_steps_on_the_cluster_and_cancels_the_run(make_project, cluster):
    root = make_project(SLOW)
    process = subprocess.Popen(
        assetflow(root, "materialize", "--dask-address", cluster.address),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for(root / "slow.pid", timeout=60)
    step_pid = int((root / "slow.pid").read_text())
    interrupted = time.monotonic()
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=30)
    assert process.returncode == 130
    assert time.monotonic() - interrupted < 10  # not the 60 s the step sleeps
    listed = subprocess.run(
        assetflow(root, "runs", "--status", "cancelled"), capture_output=True, text=True
    ).stdout
    assert "cancelled" in listed
    assert not (root / ".assetflow" / "data" / "slow.json").exists()
    # The step's process on the Dask worker stopped with it.
    deadline = time.monotonic() + 10
    while Path(f"/proc/{step_pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not Path(f"/proc/{step_pid}").exists() or "Z" in _state(step_pid)


def _state(pid: int) -> str:
    """The process's state letter (Z: exited, not yet reaped)."""
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][:1]
    return ""


POOLED = """
    import os

    from assetflow import asset

    def where() -> dict:
        return {"pid": os.getpid(), "parent": os.getppid()}

    @asset(pool="db")
    def orders() -> dict:
        return where()

    @asset(pool="db")
    def customers() -> dict:
        return where()

    @asset(pool="db")
    def loaded(orders: dict, customers: dict) -> dict:
        return where()

    @asset
    def report(loaded: dict) -> dict:
        return where()

    @asset
    def rates() -> dict:
        return where()

    @asset
    def prices() -> dict:
        return where()
"""


def pool_config(address: str, pools: str = "db = 2") -> str:
    return (
        '[tool.assetflow]\nmodules = ["assets"]\nexecutor = "dask"\n'
        f"[tool.assetflow.pools]\n{pools}\n"
        f'[tool.assetflow.dask]\naddress = "{address}"\npool_resources = true\n'
    )


def test_steps_of_a_pool_run_only_on_the_dask_worker_declaring_it(make_project, pool_cluster):
    root = make_project(POOLED, config=pool_config(pool_cluster.address))
    code, out, err, _ = run_cli(root, "*", "--json")
    assert code == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    steps = {e["asset"]: e for e in events if e["event"] == "step_finished"}
    assert {step["state"] for step in steps.values()} == {"materialized"}
    assert len(steps) == 6
    (db_worker,) = [pid for pid, has in pool_cluster.resources_by_pid.items() if has]
    for name, step in steps.items():
        ran = stored(root, name)
        assert step["worker"] == {"host": socket.gethostname(), "pid": ran["pid"]}
        if name in ("orders", "customers", "loaded"):  # pool "db": on the worker declaring it
            assert ran["parent"] == db_worker, name
        else:  # no pool: on either worker
            assert ran["parent"] in pool_cluster.worker_pids, name


GPU = """
    from assetflow import asset

    @asset(pool="gpu")
    def embeddings() -> dict:
        return {}

    @asset(pool="db")
    def orders() -> dict:
        return {}
"""


def test_a_pool_no_dask_worker_declares_is_refused_naming_the_workers_and_the_fix(
    make_project, pool_cluster
):
    root = make_project(GPU, config=pool_config(pool_cluster.address, pools="db = 1\ngpu = 1"))
    code, out, err, _ = run_cli(root, "*", "--json")
    assert code == 2, out + err
    address = pool_cluster.address
    assert (
        "the steps of pool 'gpu' (asset 'embeddings') can run only on a Dask worker declaring "
        "the resource 'gpu' (pool_resources is on in [tool.assetflow.dask]), and no worker of "
        f"the scheduler at {address} declares it. Its workers: tcp://127.0.0.1:"
    ) in err
    assert "(db=1)" in err
    assert "(no resources)" in err
    assert f'`dask worker {address} --resources "gpu=1"`' in err
    assert "set pool_resources = false in [tool.assetflow.dask]" in err
    assert "Traceback" not in err
    assert not (root / ".assetflow" / "data").exists()


LEFT_FOR_GOOD = """
    import json
    import os
    import signal
    import time
    from pathlib import Path

    from assetflow import asset

    HERE = Path(__file__).parent

    @asset(pool="other")
    def first() -> dict:
        # The only worker declaring "db" dies for good (it has no nanny to restart it).
        pid = json.loads((HERE / "db_worker.json").read_text())
        os.kill(pid, signal.SIGKILL)
        while Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text():
            time.sleep(0.05)
        return {}

    @asset(pool="db")
    def second(first: dict) -> dict:
        return {}
"""


def test_a_step_whose_pool_no_worker_declares_any_more_fails_after_the_schedulers_timeout(
    make_project, tmp_path
):
    # A scheduler whose tasks fail after 1 s without a worker matching their resources.
    (tmp_path / "logs").mkdir()
    with started_cluster(
        tmp_path / "logs",
        ("--nthreads", "1", "--resources", "db=1", "--no-nanny"),
        ("--nthreads", "1", "--resources", "other=1"),
        scheduler_env={"DASK_DISTRIBUTED__SCHEDULER__NO_WORKERS_TIMEOUT": "1s"},
    ) as started:
        root = make_project(
            LEFT_FOR_GOOD, config=pool_config(started.address, pools="db = 1\nother = 1")
        )
        (db_worker,) = [pid for pid, has in started.resources_by_pid.items() if "db" in has]
        (root / "db_worker.json").write_text(json.dumps(db_worker))
        began = time.monotonic()
        code, out, err, _ = run_cli(root, "*", "--json")
    assert time.monotonic() - began < 30  # it does not wait for ever
    assert code == 1, err
    steps = {
        e["asset"]: e for e in map(json.loads, out.splitlines()) if e["event"] == "step_finished"
    }
    assert steps["first"]["state"] == "materialized"
    assert steps["second"]["state"] == "failed"
    assert (
        "asset 'second' waited 1 s in the Dask scheduler for a worker declaring the resource "
        "'db' (its pool, with pool_resources on), and none was there"
    ) in steps["second"]["message"]

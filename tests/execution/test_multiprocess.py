"""The multiprocess executor on real projects: worker processes, timeouts, pools, lost workers."""

from __future__ import annotations

import itertools
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from assetflow.api import materialize
from assetflow.clock import FixedClock
from assetflow.errors import DefinitionError
from assetflow.execution import StepState
from assetflow.execution import multiprocess as multiprocess_module
from assetflow.loader import load_project
from assetflow.store import EventKind, open_store

T0 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock():
    return FixedClock(T0)


def states(result):
    return {(r.asset, r.partition): r.state for r in result.results}


def by_asset(result):
    return {r.asset: r for r in result.results}


def events_of(root: Path, run_id: str):
    with open_store("sqlite", root / ".assetflow" / "metadata.sqlite") as store:
        return store.run_events(run_id)


PIDS = """
    import os

    from assetflow import asset

    @asset
    def first() -> dict:
        return {"pid": os.getpid()}

    @asset
    def second(first: dict) -> dict:
        return {"pid": os.getpid(), "first": first["pid"]}
"""


def test_steps_run_in_worker_processes_and_read_their_inputs_from_storage(make_project, clock):
    root = make_project(PIDS)
    result = materialize(project=root, clock=clock, executor="multiprocess", workers=2)
    assert result.success, [r.message for r in result.results]
    data = root / ".assetflow" / "data"
    first = json.loads((data / "first.json").read_text())
    second = json.loads((data / "second.json").read_text())
    assert first["pid"] != os.getpid()
    assert second["first"] == first["pid"]  # read back from first.json in the worker


def test_a_second_run_cuts_off_early_with_workers_too(make_project, clock):
    root = make_project(PIDS)
    assert materialize(project=root, clock=clock, executor="multiprocess", workers=2).success
    again = materialize(project=root, clock=clock, executor="multiprocess", force=True)
    assert again.success
    # `first` returns a new pid, so everything downstream runs again; nothing fails.
    assert set(states(again).values()) <= {StepState.MATERIALIZED, StepState.SKIPPED}


SLOW = """
    import time
    from pathlib import Path

    from assetflow import asset

    TRIES = Path(__file__).parent / "tries"

    @asset(timeout=0.5)
    def sleepy() -> dict:
        time.sleep(30)
        return {}

    @asset
    def after_sleepy(sleepy: dict) -> dict:
        return {}

    @asset(timeout=0.5, retries=2, retry_on=TimeoutError)
    def slow_once() -> dict:
        TRIES.mkdir(exist_ok=True)
        count = len(list(TRIES.iterdir()))
        (TRIES / str(count)).touch()
        if count == 0:
            time.sleep(30)
        return {"tries": count + 1}

    @asset
    def quick() -> dict:
        return {"ok": True}
"""


@pytest.mark.parametrize("executor", ["multiprocess", "inprocess"])
def test_an_attempt_past_its_timeout_is_stopped_and_fails(make_project, clock, executor):
    root = make_project(SLOW)
    started = datetime.now(UTC)
    result = materialize(project=root, clock=clock, executor=executor)
    elapsed = (datetime.now(UTC) - started).total_seconds()
    assert elapsed < 10  # not the 30 s the asset sleeps, twice
    steps = by_asset(result)
    assert steps["sleepy"].state is StepState.FAILED
    assert "asset 'sleepy' timed out after 0.5 s" in steps["sleepy"].message
    assert "nothing was written" in steps["sleepy"].message
    assert "time.sleep(30)" in steps["sleepy"].message  # where it was stopped
    assert steps["after_sleepy"].state is StepState.BLOCKED
    assert steps["quick"].state is StepState.MATERIALIZED
    # A timeout is an error like another: retried when the policy says so.
    assert steps["slow_once"].state is StepState.MATERIALIZED
    assert steps["slow_once"].attempts == 2
    retried = [e for e in events_of(root, result.run_id) if e.kind is EventKind.RETRIED]
    assert [e.asset for e in retried] == ["slow_once"]
    assert "timed out after 0.5 s" in retried[0].message
    assert not (root / ".assetflow" / "data" / "sleepy.json").exists()


STUCK = """
    import signal
    import time

    from assetflow import asset

    @asset(timeout=0.3)
    def stuck() -> dict:
        # Like a long call into C code: Python cannot raise in it.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        time.sleep(60)
        return {}

    @asset
    def fine() -> dict:
        return {"ok": True}
"""


def test_a_worker_that_does_not_stop_after_its_timeout_is_killed(make_project, clock, monkeypatch):
    monkeypatch.setattr(multiprocess_module, "KILL_GRACE_S", 0.5)
    root = make_project(STUCK)
    started = datetime.now(UTC)
    result = materialize(project=root, clock=clock, executor="multiprocess", workers=2)
    assert (datetime.now(UTC) - started).total_seconds() < 20
    steps = by_asset(result)
    assert steps["stuck"].state is StepState.FAILED
    assert "ran past its timeout of 0.3 s" in steps["stuck"].message
    assert "its worker process was killed" in steps["stuck"].message
    assert steps["fine"].state is StepState.MATERIALIZED


DYING = """
    import os
    import signal

    from assetflow import asset

    @asset
    def exits() -> dict:
        os._exit(3)

    @asset
    def killed() -> dict:
        os.kill(os.getpid(), signal.SIGKILL)

    @asset
    def a_fine() -> dict:
        return {"ok": 1}

    @asset
    def b_fine() -> dict:
        return {"ok": 2}

    @asset
    def c_fine() -> dict:
        return {"ok": 3}
"""


def test_a_worker_that_dies_fails_its_step_and_is_replaced(make_project, clock):
    root = make_project(DYING)
    result = materialize(project=root, clock=clock, executor="multiprocess", workers=2)
    steps = by_asset(result)
    assert steps["exits"].state is StepState.FAILED
    assert "exited with code 3 before it reported" in steps["exits"].message
    assert steps["killed"].state is StepState.FAILED
    assert "was killed by SIGKILL" in steps["killed"].message
    for name in ("a_fine", "b_fine", "c_fine"):
        assert steps[name].state is StepState.MATERIALIZED
    assert not result.success


POOLED = """
    import json
    import os
    import time
    from pathlib import Path

    from assetflow import asset

    SPANS = Path(__file__).parent / "spans"

    def span(name: str) -> dict:
        SPANS.mkdir(exist_ok=True)
        start = time.monotonic()
        time.sleep(0.3)
        (SPANS / name).write_text(json.dumps([start, time.monotonic()]))
        return {}

    @asset(pool="api")
    def call_a() -> dict:
        return span("call_a")

    @asset(pool="api")
    def call_b() -> dict:
        return span("call_b")

    @asset(pool="api")
    def call_c() -> dict:
        return span("call_c")

    @asset
    def free() -> dict:
        return span("free")
"""

POOL_CONFIG = '[tool.assetflow]\nmodules = ["assets"]\n[tool.assetflow.pools]\napi = 1\n'


def _spans(root: Path) -> dict[str, list[float]]:
    return {p.name: json.loads(p.read_text()) for p in (root / "spans").iterdir()}


def test_a_pool_caps_how_many_of_its_steps_run_at_once(make_project, clock):
    root = make_project(POOLED, config=POOL_CONFIG)
    result = materialize(project=root, clock=clock, executor="multiprocess", workers=3)
    assert result.success
    spans = _spans(root)
    calls = sorted(spans[name] for name in ("call_a", "call_b", "call_c"))
    for earlier, later in itertools.pairwise(calls):
        assert later[0] >= earlier[1]  # one at a time
    # The step outside the pool ran beside them.
    free = spans["free"]
    assert any(free[0] < call[1] and call[0] < free[1] for call in calls)


def test_an_undefined_pool_is_a_load_error_with_the_fix(make_project):
    root = make_project(
        POOLED.replace('pool="api")\n    def call_c', 'pool="apl")\n    def call_c')
    )
    with pytest.raises(DefinitionError) as caught:
        load_project(root)
    text = caught.value.format_message()
    assert "asset 'call_c'" in text
    assert "pool 'apl', which proj/pyproject.toml does not define (pools defined: none)" in text
    assert "[tool.assetflow.pools]\n    apl = 2" in text


def test_a_pool_named_like_a_defined_one_gets_a_suggestion(make_project):
    source = POOLED.replace('pool="api")\n    def call_c', 'pool="apii")\n    def call_c')
    root = make_project(source, config=POOL_CONFIG)
    with pytest.raises(DefinitionError) as caught:
        load_project(root)
    assert "Did you mean 'api'?" in caught.value.format_message()


@pytest.mark.parametrize("timeout", ["0", "-1", "'ten'", "True"])
def test_a_timeout_must_be_a_positive_number(make_project, timeout):
    root = make_project(
        f"""
        from assetflow import asset

        @asset(timeout={timeout})
        def a() -> dict:
            return {{}}
        """
    )
    with pytest.raises(DefinitionError) as caught:
        load_project(root)
    assert f"has timeout={eval(timeout)!r}; a timeout is a number of seconds" in (
        caught.value.format_message()
    )


SOURCED = """
    from assetflow import asset, source

    @source
    def api_version() -> str:
        return "v7"

    @asset
    def uses_source(api_version: str) -> dict:
        return {"version": api_version}
"""


def test_source_values_travel_to_the_workers(make_project, clock):
    root = make_project(SOURCED)
    assert materialize(project=root, clock=clock, executor="multiprocess", workers=2).success
    stored = json.loads((root / ".assetflow" / "data" / "uses_source.json").read_text())
    assert stored == {"version": "v7"}


def test_logs_of_worker_steps_are_captured(make_project, clock):
    root = make_project(
        """
        from assetflow import asset

        @asset
        def chatty(context) -> dict:
            print("hello from a worker")
            context.log.info("an info line")
            return {}
        """
    )
    result = materialize(project=root, clock=clock, executor="multiprocess", workers=2)
    with open_store("sqlite", root / ".assetflow" / "metadata.sqlite") as store:
        logs = store.step_logs(result.run_id)
    assert len(logs) == 1
    assert "hello from a worker" in logs[0].text
    assert "INFO assetflow.asset.chatty: an info line" in logs[0].text


CHAIN = """
    from assetflow import asset

    @asset
    def made() -> dict:
        return {"pair": (1, 2)}  # a tuple in memory, a list once stored as JSON

    @asset
    def reads_made(made: dict) -> dict:
        return {"seen_as": type(made["pair"]).__name__}
"""


def test_a_worker_passes_its_output_in_memory_to_the_next_step_it_runs(make_project, clock):
    root = make_project(CHAIN)
    assert materialize(project=root, clock=clock, executor="multiprocess", workers=1).success
    stored = json.loads((root / ".assetflow" / "data" / "reads_made.json").read_text())
    assert stored == {"seen_as": "tuple"}  # not read back from made.json
    # Run on its own, the reader reads the stored output.
    again = materialize(
        "reads_made", project=root, clock=clock, executor="multiprocess", force=True
    )
    assert again.success
    stored = json.loads((root / ".assetflow" / "data" / "reads_made.json").read_text())
    assert stored == {"seen_as": "list"}


DROPPED = """
    import gc
    import weakref

    import pandas as pd

    from assetflow import asset

    REFS = []

    @asset
    def big() -> pd.DataFrame:
        frame = pd.DataFrame({"n": range(1000)})
        REFS.append(weakref.ref(frame))
        return frame

    @asset
    def middle(big: pd.DataFrame) -> pd.DataFrame:
        return big.head(1)

    @asset
    def last(middle: pd.DataFrame) -> dict:
        gc.collect()
        return {"ran_big_here": bool(REFS), "big_alive": bool(REFS) and REFS[0]() is not None}
"""


def test_a_worker_drops_an_output_no_step_reads_before_it_runs_the_next_step(make_project, clock):
    """Its memory is free for the next step's own tables (a worker that still held the raw
    table of a 5M-row pipeline took 0.21 to 0.29 s for its last step's groupby, not 0.10)."""
    root = make_project(DROPPED)
    assert materialize(project=root, clock=clock, executor="multiprocess", workers=1).success
    stored = json.loads((root / ".assetflow" / "data" / "last.json").read_text())
    assert stored == {"ran_big_here": True, "big_alive": False}


def test_kept_outputs_are_bounded_and_dropped_oldest_first():
    import pandas as pd

    kept = multiprocess_module._Kept(limit=3 * 8 * 1000 + 500)  # room for three 1,000-row frames
    frames = {n: pd.DataFrame({"x": range(1000)}) for n in range(5)}
    for n, frame in frames.items():
        kept.keep(("t", str(n)), frame)
    assert [("t", str(n)) in kept for n in range(5)] == [False, False, True, True, True]
    kept.drop(("t", "3"))
    assert ("t", "3") not in kept
    assert kept.get(("t", "4")) is frames[4]
    too_big = multiprocess_module._Kept(limit=100)
    too_big.keep(("t", "big"), frames[0])
    assert ("t", "big") not in too_big


def test_a_long_in_process_step_keeps_its_lease_alive(make_project, monkeypatch):
    from datetime import timedelta

    from assetflow.clock import SystemClock
    from assetflow.execution import leasing

    monkeypatch.setattr(leasing, "RENEW_S", 0.1)
    monkeypatch.setattr(leasing, "TTL", timedelta(seconds=0.3))
    root = make_project(
        """
        import time
        from pathlib import Path

        from assetflow import asset
        from assetflow.store import open_store

        @asset
        def long_step() -> dict:
            time.sleep(1.0)  # more than three lease lifetimes
            path = Path(__file__).parent / ".assetflow" / "metadata.sqlite"
            with open_store("sqlite", path) as store:
                (lease,) = store.leases()
            return {"seconds_left": (lease.expires_at - lease.acquired_at).total_seconds()}
        """
    )
    # Leases take their times from the run's clock: this one must move.
    assert materialize(project=root, clock=SystemClock(), executor="inprocess").success
    stored = json.loads((root / ".assetflow" / "data" / "long_step.json").read_text())
    assert stored["seconds_left"] > 1.0  # renewed while the step ran


def test_the_coordinator_syncs_each_output_before_the_commit_that_records_it(
    make_project, clock, monkeypatch
):
    """Workers rename outputs into place unsynced; the coordinator syncs them (data,
    then directory) before any record of them is committed."""
    import sqlite3

    from assetflow.io import atomic

    root = make_project(PIDS)
    database = root / ".assetflow" / "metadata.sqlite"
    coordinator = os.getpid()
    synced: list[tuple[int, str, int]] = []
    sync_data = atomic._sync_data

    def spy(descriptor: int) -> None:
        path = Path(os.readlink(f"/proc/self/fd/{descriptor}"))
        with sqlite3.connect(database) as db:
            (recorded,) = db.execute(
                "SELECT count(*) FROM materializations WHERE asset = ?", (path.stem,)
            ).fetchone()
        synced.append((os.getpid(), path.name, recorded))
        sync_data(descriptor)

    monkeypatch.setattr(atomic, "_sync_data", spy)  # forked workers inherit it too
    result = materialize(project=root, clock=clock, executor="multiprocess", workers=2)
    assert result.success, [r.message for r in result.results]
    assert sorted(synced) == [
        (coordinator, "first.json", 0),
        (coordinator, "second.json", 0),
    ]
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT count(*) FROM materializations").fetchone() == (2,)


def test_an_output_that_cannot_be_synced_is_not_recorded_and_the_run_says_why(
    make_project, clock, monkeypatch
):
    from assetflow.errors import WriteError
    from assetflow.io import atomic

    root = make_project(PIDS)
    coordinator = os.getpid()
    sync_data = atomic._sync_data

    def failing_in_the_coordinator(descriptor: int) -> None:
        if os.getpid() == coordinator and os.readlink(f"/proc/self/fd/{descriptor}").endswith(
            "second.json"
        ):
            raise OSError(5, "Input/output error")
        sync_data(descriptor)

    monkeypatch.setattr(atomic, "_sync_data", failing_in_the_coordinator)
    with pytest.raises(WriteError, match=r"cannot make the outputs just written durable") as error:
        materialize(project=root, clock=clock, executor="multiprocess", workers=2)
    assert "Input/output error" in str(error.value)
    assert "the next run rebuilds them" in str(error.value)
    with open_store("sqlite", root / ".assetflow" / "metadata.sqlite") as store:
        latest = store.latest_states_of([("first", None), ("second", None)])
        # `second` is not recorded, nor is `first` when both ended in the same group.
        assert ("second", None) not in latest
        (run,) = store.list_runs()
        assert run.status.value == "failed"
    monkeypatch.undo()
    again = materialize(project=root, clock=clock, executor="multiprocess", workers=2)
    rebuilt = {r.asset: r.state for r in again.results}
    assert rebuilt["second"] == StepState.MATERIALIZED
    assert set(rebuilt.values()) == {StepState.MATERIALIZED}
    assert ("first" in rebuilt) == (("first", None) not in latest)


def test_a_worker_is_sent_the_step_without_the_reasons_it_runs(make_project, clock, monkeypatch):
    """Why a step runs stays with the coordinator: the task a worker gets pickles faster
    without it, and the result records the step as usual."""
    from multiprocessing.connection import Connection

    from assetflow.execution.attempt import Work

    sent: list[Work] = []
    send = Connection.send

    def spy(self: Connection, obj: object) -> None:
        if isinstance(obj, Work):
            sent.append(obj)
        send(self, obj)

    monkeypatch.setattr(Connection, "send", spy)
    root = make_project(PIDS)
    result = materialize(project=root, clock=clock, executor="multiprocess", workers=2)
    assert result.success, [r.message for r in result.results]
    assert [work.step.asset for work in sent] == ["first", "second"]
    assert [work.step.reasons for work in sent] == [(), ()]
    assert all(step.reasons for step in result.plan.steps)  # the plan keeps them

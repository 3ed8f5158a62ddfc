"""The coordinator: run a plan's steps in order, isolate failures, cut off, record everything."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from assetflow.clock import FixedClock
from assetflow.errors import MissingInputError, UsageError
from assetflow.execution import execute_plan
from assetflow.execution.coordinator import StepState
from assetflow.loader import load_project
from assetflow.planner import ReasonKind, Status
from assetflow.request import RunRequest
from assetflow.services.planning import make_plan
from assetflow.store import Column, EventKind, RunStatus, open_store

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path):
    with open_store("sqlite", tmp_path / "m.sqlite") as opened:
        yield opened


@pytest.fixture
def clock():
    return FixedClock(T0)


def run(project, store, clock, run_id, selection="*", *, force=False, reporter=None, **options):
    """Plan `selection` against the store and execute it, as `materialize` does."""
    context = make_plan(project, store, RunRequest(selection, force=force), clock=clock)
    return execute_plan(
        project,
        context.plan,
        store,
        context.snapshot,
        RunRequest(selection, force=force),
        run_id=run_id,
        clock=clock,
        sources=context.source_values,
        listeners=(reporter,) if reporter is not None else (),
        **options,
    )


def read_json(path, state_dir):
    """A stored JSON output, by the path its record keeps (relative to the state dir)."""
    return json.loads((Path(state_dir) / path).read_text())


def states(result):
    return {r.asset: r.state for r in result.results}


def edit(path, old, new):
    """Replace text in a project file; the size changes, so no stale bytecode is used."""
    text = path.read_text()
    assert old in text
    assert len(old) != len(new)
    path.write_text(text.replace(old, new))


FAILING = """
    from assetflow import asset

    @asset
    def good() -> dict:
        return {"ok": 1}

    @asset
    def broken(good: dict) -> dict:
        return good["missing"]

    @asset
    def after(broken: dict) -> dict:
        return broken

    @asset
    def further(after: dict) -> dict:
        return after

    @asset
    def independent() -> list:
        return [1, 2]
"""


def test_failed_asset_blocks_downstream_and_independent_branch_runs(make_project, store, clock):
    project = load_project(make_project(FAILING))
    result = run(project, store, clock, "r1")
    assert states(result) == {
        "good": StepState.MATERIALIZED,
        "broken": StepState.FAILED,
        "after": StepState.BLOCKED,
        "further": StepState.BLOCKED,
        "independent": StepState.MATERIALIZED,
    }
    by_asset = {r.asset: r for r in result.results}
    assert by_asset["after"].message == "upstream failed: broken"
    assert by_asset["further"].message == "upstream failed: after"
    assert by_asset["broken"].message.startswith("asset 'broken' raised KeyError: 'missing'")
    assert result.status is RunStatus.FAILED
    assert not result.success
    assert [f.asset for f in result.failures()] == ["broken"]
    assert store.get_run("r1").status is RunStatus.FAILED


def test_failure_and_block_are_recorded_as_events(make_project, store, clock):
    project = load_project(make_project(FAILING))
    run(project, store, clock, "r1")
    events = {e.asset: e for e in store.run_events("r1")}
    assert events["broken"].kind is EventKind.FAILED
    assert "KeyError: 'missing'" in events["broken"].message
    assert 'line 10, in broken\n    return good["missing"]' in events["broken"].message
    assert events["after"].kind is EventKind.SKIPPED
    assert events["after"].message == "upstream failed: broken"
    assert events["good"].kind is EventKind.MATERIALIZED
    assert set(store.latest_materializations()) == {("good", None), ("independent", None)}
    assert set(store.latest_failures()) == {("broken", None)}


CUTOFF = """
    import pandas as pd

    from assetflow import asset

    @asset
    def numbers() -> pd.DataFrame:
        return pd.DataFrame({"x": [1, 2, 3]})

    @asset
    def doubled(numbers: pd.DataFrame) -> pd.DataFrame:
        return numbers.assign(y=numbers["x"] * 2)

    @asset
    def total(doubled: pd.DataFrame) -> dict:
        return {"y": int(doubled["y"].sum())}
"""


def test_waiting_steps_are_cut_off_when_upstream_data_is_unchanged(make_project, store, clock):
    root = make_project(CUTOFF)
    run(load_project(root), store, clock, "r1")
    edit(root / "assets.py", '"x": [1, 2, 3]', '"x": [1, 2, 1 + 2]')  # new code, same data
    project = load_project(root)
    plan = make_plan(project, store, clock=clock).plan
    assert [(s.asset, s.status) for s in plan.steps] == [
        ("numbers", Status.STALE),
        ("doubled", Status.WAITING),
        ("total", Status.WAITING),
    ]
    result = run(project, store, clock, "r2")
    assert states(result) == {
        "numbers": StepState.MATERIALIZED,
        "doubled": StepState.SKIPPED,
        "total": StepState.SKIPPED,
    }
    assert {r.message for r in result.results[1:]} == {"inputs unchanged"}
    assert result.success
    skipped = [e for e in store.run_events("r2") if e.kind is EventKind.SKIPPED]
    assert [(e.asset, e.message) for e in skipped] == [
        ("doubled", "inputs unchanged"),
        ("total", "inputs unchanged"),
    ]
    assert store.asset_history("doubled")[0].run_id == "r1"
    assert make_plan(project, store, clock=clock).plan.is_empty


def test_waiting_steps_run_when_upstream_data_changed(make_project, store, clock):
    root = make_project(CUTOFF)
    run(load_project(root), store, clock, "r1")
    edit(root / "assets.py", '"x": [1, 2, 3]', '"x": [1, 2, 30]')
    result = run(load_project(root), store, clock, "r2")
    assert set(states(result).values()) == {StepState.MATERIALIZED}
    path = store.asset_history("total")[0].path
    assert read_json(path, root / ".assetflow") == {"y": 66}


def test_cut_off_stops_where_data_stops_changing(make_project, store, clock):
    root = make_project(
        CUTOFF
        + """
    @asset
    def report(total: dict) -> dict:
        return {"total": total["y"]}
    """
    )
    run(load_project(root), store, clock, "r1")
    # The rows change but the sum does not: `total` runs, gives the same data, `report` is cut off.
    edit(root / "assets.py", '"x": [1, 2, 3]', '"x": [3, 2, 1 + 0]')
    result = run(load_project(root), store, clock, "r2")
    assert states(result) == {
        "numbers": StepState.MATERIALIZED,
        "doubled": StepState.MATERIALIZED,
        "total": StepState.MATERIALIZED,
        "report": StepState.SKIPPED,
    }
    first, second = store.asset_history("total")[::-1]
    assert (first.run_id, second.run_id) == ("r1", "r2")
    assert first.data_version == second.data_version
    assert first.input_versions != second.input_versions


PASSING = """
    import pandas as pd
    import pyarrow as pa

    from assetflow import asset

    SEEN = {}

    @asset
    def table() -> pd.DataFrame:
        frame = pd.DataFrame({"x": [1, 2, 3], "name": ["a", "b", "c"]})
        SEEN["table"] = frame
        return frame

    @asset
    def as_frame(table: pd.DataFrame) -> dict:
        SEEN["as_frame"] = table
        return {"type": type(table).__name__, "rows": len(table)}

    @asset
    def as_arrow(table: pa.Table) -> dict:
        SEEN["as_arrow"] = table
        return {"type": type(table).__name__, "rows": table.num_rows}

    @asset
    def values() -> dict:
        value = {"n": [1, 2]}
        SEEN["values"] = value
        return value

    @asset
    def reads_values(values: dict) -> dict:
        SEEN["reads_values"] = values
        return values
"""


def seen(project):
    return project.graph.spec("table").fn.__globals__["SEEN"]


def test_inputs_built_in_the_same_run_are_passed_in_memory(make_project, store, clock):
    project = load_project(make_project(PASSING))
    run(project, store, clock, "r1")
    values = seen(project)
    assert values["as_frame"] is values["table"]
    assert values["reads_values"] is values["values"]
    # An input is converted to its annotation, in memory as from storage.
    import pyarrow as pa

    assert isinstance(values["as_arrow"], pa.Table)
    assert values["as_arrow"].to_pandas().equals(values["table"])


def test_inputs_not_built_in_the_run_are_read_from_storage(make_project, store, clock):
    import pyarrow as pa

    root = make_project(PASSING)
    run(load_project(root), store, clock, "r1", "table values")
    project = load_project(root)
    result = run(project, store, clock, "r2", "as_frame as_arrow reads_values")
    assert set(states(result).values()) == {StepState.MATERIALIZED}
    values = seen(project)
    assert isinstance(values["as_frame"], pd.DataFrame)
    assert values["as_frame"].to_dict("list") == {"x": [1, 2, 3], "name": ["a", "b", "c"]}
    assert isinstance(values["as_arrow"], pa.Table)
    assert values["as_arrow"].column_names == ["x", "name"]
    assert values["reads_values"] == {"n": [1, 2]}
    frame_output = store.asset_history("as_arrow")[0].path
    assert read_json(frame_output, project.state_dir) == {"type": "Table", "rows": 3}


def test_materializations_record_versions_rows_and_columns(make_project, store, clock):
    project = load_project(make_project(CUTOFF))
    result = run(project, store, clock, "r1")
    numbers, doubled, total = (store.asset_history(n)[0] for n in ("numbers", "doubled", "total"))
    assert numbers.input_versions == {}
    assert doubled.input_versions == {"numbers": numbers.data_version}
    assert total.input_versions == {"doubled": doubled.data_version}
    assert doubled.code_version == result.plan.code_versions["doubled"]
    assert doubled.code_version != numbers.code_version
    assert (doubled.run_id, doubled.io, doubled.rows) == ("r1", "parquet", 3)
    assert doubled.columns == (Column(name="x", type="int64"), Column(name="y", type="int64"))
    assert doubled.bytes > 0
    assert doubled.path.endswith("doubled.parquet")
    assert (doubled.started_at, doubled.finished_at) == (T0, T0)
    assert (total.io, total.rows, total.columns) == ("json", None, ())
    by_asset = {r.asset: r for r in result.results}
    assert by_asset["doubled"].rows == 3
    assert by_asset["doubled"].duration_s >= 0
    events = store.run_events("r1")
    assert [(e.kind, e.asset) for e in events] == [
        (EventKind.MATERIALIZED, "numbers"),
        (EventKind.MATERIALIZED, "doubled"),
        (EventKind.MATERIALIZED, "total"),
    ]
    run_record = store.get_run("r1")
    assert (run_record.status, run_record.finished_at, run_record.trigger) == (
        RunStatus.SUCCESS,
        T0,
        "api",
    )


def test_the_run_context_names_the_run_asset_and_project(make_project, store, clock):
    root = make_project(
        """
        from assetflow import asset

        @asset
        def who(context) -> dict:
            return {"run": context.run_id, "asset": context.asset, "dir": str(context.project_dir)}
        """
    )
    project = load_project(root)
    run(project, store, clock, "r1")
    stored = read_json(store.asset_history("who")[0].path, root / ".assetflow")
    assert stored == {"run": "r1", "asset": "who", "dir": str(project.root)}


NONE_ASSET = """
    from assetflow import asset

    @asset
    def side(context) -> None:
        (context.project_dir / "side.txt").write_text(context.run_id)

    @asset
    def reader(side: None) -> dict:
        return {"side_is_none": side is None}
"""


def test_none_asset_gets_a_per_run_data_version_so_readers_rebuild(make_project, store, clock):
    root = make_project(NONE_ASSET)
    project = load_project(root)
    run(project, store, clock, "r1")
    side = store.asset_history("side")[0]
    assert (side.io, side.path, side.data_version) == ("none", None, "run:r1")
    assert store.asset_history("reader")[0].input_versions == {"side": "run:r1"}
    assert read_json(store.asset_history("reader")[0].path, project.state_dir) == {
        "side_is_none": True
    }
    assert make_plan(project, store, clock=clock).plan.is_empty

    run(project, store, clock, "r2", "side", force=True)
    assert (root / "side.txt").read_text() == "r2"
    (step,) = make_plan(project, store, clock=clock).plan.steps
    assert step.asset == "reader"
    assert step.status is Status.STALE
    assert [(r.kind, r.old, r.new) for r in step.reasons] == [
        (ReasonKind.UPSTREAM_CHANGED, "run:r1", "run:r2")
    ]


def test_none_asset_rebuilt_in_the_run_is_not_cut_off(make_project, store, clock):
    root = make_project(NONE_ASSET)
    run(load_project(root), store, clock, "r1")
    edit(root / "assets.py", "write_text(context.run_id)", "write_text(context.run_id * 2)")
    result = run(load_project(root), store, clock, "r2")
    assert states(result) == {"side": StepState.MATERIALIZED, "reader": StepState.MATERIALIZED}


INTERRUPTED = """
    from assetflow import asset

    @asset
    def a_first() -> dict:
        return {"ok": 1}

    @asset
    def b_stop(a_first: dict) -> dict:
        raise KeyboardInterrupt

    @asset
    def c_never() -> dict:
        return {"ok": 1}
"""


class RecordingReporter:
    """A Reporter that keeps what it is told, as (event, name) pairs."""

    def __init__(self):
        self.events = []

    def run_started(self, run_id, plan):
        self.events.append(("run_started", run_id))

    def step_started(self, step):
        self.events.append(("step_started", step.asset))

    def step_finished(self, result):
        self.events.append(("step_finished", result.asset))

    def run_finished(self, result):
        self.events.append(("run_finished", result.run_id))


def test_keyboard_interrupt_in_an_asset_cancels_the_run_and_propagates(make_project, store, clock):
    project = load_project(make_project(INTERRUPTED))
    reporter = RecordingReporter()
    clock.advance(5)
    with pytest.raises(KeyboardInterrupt):
        run(project, store, clock, "r1", reporter=reporter)
    record = store.get_run("r1")
    assert record.status is RunStatus.CANCELLED
    assert record.finished_at == clock.now()
    assert [r.asset for r in store.asset_history("a_first")] == ["a_first"]
    assert store.asset_history("c_never") == []
    assert reporter.events == [
        ("run_started", "r1"),
        ("step_started", "a_first"),
        ("step_finished", "a_first"),
        ("step_started", "b_stop"),
    ]


def test_reporter_hears_every_step_in_plan_order(make_project, store, clock):
    project = load_project(make_project(CUTOFF))
    reporter = RecordingReporter()
    run(project, store, clock, "r1", reporter=reporter)
    assert reporter.events == [
        ("run_started", "r1"),
        ("step_started", "numbers"),
        ("step_finished", "numbers"),
        ("step_started", "doubled"),
        ("step_finished", "doubled"),
        ("step_started", "total"),
        ("step_finished", "total"),
        ("run_finished", "r1"),
    ]


RELEASE = """
    import gc
    import weakref

    import pandas as pd

    from assetflow import asset

    REFS = {}
    #: the returned values still alive when each step started (steps run in plan order)
    ALIVE = {}

    def _alive_at_start_of(name):
        gc.collect()
        ALIVE[name] = sorted(n for n, ref in REFS.items() if ref() is not None)

    @asset
    def a_big() -> pd.DataFrame:
        frame = pd.DataFrame({"x": range(1000)})
        REFS["a_big"] = weakref.ref(frame)
        return frame

    @asset
    def b_first_reader(a_big: pd.DataFrame) -> dict:
        _alive_at_start_of("b_first_reader")
        return {"n": len(a_big)}

    @asset
    def c_last_reader(a_big: pd.DataFrame) -> dict:
        _alive_at_start_of("c_last_reader")
        return {"n": int(a_big["x"].sum())}

    @asset
    def d_unread() -> pd.DataFrame:
        _alive_at_start_of("d_unread")
        frame = pd.DataFrame({"y": [1]})
        REFS["d_unread"] = weakref.ref(frame)
        return frame

    @asset
    def z_last() -> dict:
        _alive_at_start_of("z_last")
        return {}
"""


def test_inputs_are_released_after_their_last_reader(make_project, store, clock):
    project = load_project(make_project(RELEASE))
    alive = project.graph.spec("a_big").fn.__globals__["ALIVE"]
    result = run(project, store, clock, "r1")
    assert result.success
    assert [step.asset for step in result.plan.steps] == [
        "a_big",
        "b_first_reader",
        "c_last_reader",
        "d_unread",
        "z_last",
    ]
    assert alive == {
        "b_first_reader": ["a_big"],
        "c_last_reader": ["a_big"],
        "d_unread": [],  # c_last_reader was the last to read a_big
        "z_last": [],  # nobody reads d_unread: never kept
    }


READS_STORED = """
    import pandas as pd

    from assetflow import asset

    @asset
    def up() -> pd.DataFrame:
        return pd.DataFrame({"n": [1]})

    @asset
    def down(up: pd.DataFrame) -> pd.DataFrame:
        return up

    @asset
    def zzz_independent() -> dict:
        return {"ok": True}
"""


def test_an_input_that_cannot_be_read_fails_only_its_reader(make_project, store, clock):
    project = load_project(make_project(READS_STORED))
    run(project, store, clock, "r1")
    clock.advance(1)
    request = RunRequest("down zzz_independent", force=True)
    context = make_plan(project, store, request, clock=clock)
    # Deleted after the plan verified it: the read fails at run time, for its reader only.
    (project.state_dir / "data" / "up.parquet").unlink()
    result = execute_plan(
        project, context.plan, store, context.snapshot, request, run_id="r2", clock=clock
    )
    assert states(result) == {"down": StepState.FAILED, "zzz_independent": StepState.MATERIALIZED}
    assert "asset 'down' could not read its inputs" in result.failures()[0].message
    assert store.get_run("r2").status is RunStatus.FAILED


def test_an_unselected_input_whose_output_was_deleted_stops_the_plan(make_project, store, clock):
    project = load_project(make_project(READS_STORED))
    run(project, store, clock, "r1")
    (project.state_dir / "data" / "up.parquet").unlink()
    with pytest.raises(MissingInputError) as caught:
        run(project, store, clock, "r2", "down", force=True)
    assert str(caught.value).splitlines()[:2] == [
        "cannot run the selection: an input is missing or damaged.",
        "  - 'down' reads 'up', which is not selected and its stored output is missing "
        "(output missing: deleted or moved since it was written 2026-03-01 09:00 UTC by run r1)",
    ]
    assert "assetflow materialize '+down'" in caught.value.hint
    result = run(project, store, clock, "r3", "+down")  # the plain fix: rebuild it too
    assert states(result) == {"up": StepState.MATERIALIZED, "down": StepState.SKIPPED}


def test_sys_exit_in_an_asset_fails_that_asset_and_the_run_finishes(make_project, store, clock):
    root = make_project(
        """
        import sys

        from assetflow import asset

        @asset
        def quits() -> dict:
            sys.exit(3)

        @asset
        def other() -> dict:
            return {}
        """
    )
    result = run(load_project(root), store, clock, "r1")
    assert states(result) == {"quits": StepState.FAILED, "other": StepState.MATERIALIZED}
    assert "SystemExit: 3" in result.failures()[0].message
    assert store.get_run("r1").status is RunStatus.FAILED


def test_an_unexpected_error_still_closes_the_run(make_project, store, clock, monkeypatch):
    import assetflow.execution.attempt as attempt

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    project = load_project(make_project(READS_STORED))
    monkeypatch.setattr(attempt, "run_step", broken)
    with pytest.raises(RuntimeError, match="disk on fire"):
        run(project, store, clock, "r1")
    assert store.get_run("r1").status is RunStatus.FAILED


FLAKY = """
    from pathlib import Path

    from assetflow import asset

    @asset(retries=3, retry_delay=0.5, backoff=2.0, retry_on=ConnectionError)
    def flaky(context) -> dict:
        tries = Path(context.project_dir) / "tries.txt"
        count = int(tries.read_text()) + 1 if tries.exists() else 1
        tries.write_text(str(count))
        if count <= 2:
            raise ConnectionError(f"reset on try {count}")
        return {"tries": count}

    @asset(retries=3)
    def always_wrong(context) -> dict:
        raise ValueError("bad row")

    @asset(retries=3, retry_on=ConnectionError)
    def not_retried() -> dict:
        raise KeyError("missing")

    @asset(retries=3)
    def wrong_type() -> dict:
        return [1, 2]
"""


def test_a_flaky_asset_is_retried_and_every_attempt_recorded(make_project, store, clock):
    project = load_project(make_project(FLAKY))
    waits: list[float] = []
    result = run(project, store, clock, "r1", "flaky", sleep=waits.append)
    assert states(result) == {"flaky": StepState.MATERIALIZED}
    assert result.results[0].attempts == 3
    assert waits == [0.5, 1.0]  # exponential backoff, no jitter
    assert len(store.asset_history("flaky")) == 1
    events = [(e.kind, e.attempt) for e in store.run_events("r1") if e.asset == "flaky"]
    assert events == [
        (EventKind.RETRIED, 1),
        (EventKind.RETRIED, 2),
        (EventKind.MATERIALIZED, 3),
    ]
    messages = [e.message for e in store.run_events("r1") if e.kind is EventKind.RETRIED]
    assert "ConnectionError: reset on try 1" in messages[0]


def test_retries_run_out_or_do_not_apply(make_project, store, clock):
    project = load_project(make_project(FLAKY))
    waits: list[float] = []
    result = run(
        project, store, clock, "r1", "always_wrong not_retried wrong_type", sleep=waits.append
    )
    by_asset = {r.asset: r for r in result.results}
    assert by_asset["always_wrong"].state is StepState.FAILED
    assert by_asset["always_wrong"].attempts == 4
    assert by_asset["not_retried"].attempts == 1  # KeyError is not in retry_on
    assert by_asset["wrong_type"].attempts == 1  # a type check fails the same way again
    assert waits == [0.0, 0.0, 0.0]
    failed = [e for e in store.run_events("r1") if e.kind is EventKind.FAILED]
    assert {(e.asset, e.attempt) for e in failed} == {
        ("always_wrong", 4),
        ("not_retried", 1),
        ("wrong_type", 1),
    }


def test_a_run_with_nothing_to_do_starts_no_workers(make_project, store, clock, monkeypatch):
    from assetflow.execution import executor as executors

    project = load_project(make_project(FAILING))
    run(project, store, clock, "first", "good")
    created: list[str] = []
    create = executors.EXECUTORS.create

    def recording(name, setup):
        created.append(name)
        return create(name, setup)

    monkeypatch.setattr(executors.EXECUTORS, "create", recording)
    context = make_plan(project, store, RunRequest("good"), clock=clock)
    assert context.plan.steps == ()
    request = RunRequest("good", executor="multiprocess", workers=4)
    result = execute_plan(
        project, context.plan, store, context.snapshot, request, run_id="again", clock=clock
    )
    assert result.status is RunStatus.SUCCESS
    assert created == ["inprocess"]  # no worker process forked for it
    assert store.get_run("again") is not None  # still recorded: it found everything fresh
    with pytest.raises(UsageError, match="unknown executor 'bogus'"):  # checked even so
        execute_plan(
            project,
            context.plan,
            store,
            context.snapshot,
            RunRequest("good", executor="bogus"),
            run_id="bogus",
            clock=clock,
        )


GROUPED = """
    import sqlite3
    import time
    from pathlib import Path

    from assetflow import asset

    DATABASE = Path(__file__).parent / ".assetflow" / "metadata.sqlite"

    @asset
    def first() -> dict:
        return {"n": 1}

    @asset
    def long_second(first: dict) -> dict:
        # Waits, as a long step would, until the store holds `first` (or gives up).
        started = time.monotonic()
        while time.monotonic() - started < 10:
            with sqlite3.connect(DATABASE) as db:
                (recorded,) = db.execute(
                    "SELECT count(*) FROM materializations WHERE asset = 'first'"
                ).fetchone()
            if recorded:
                return {"first_recorded_after_s": time.monotonic() - started}
            time.sleep(0.01)
        return {"first_recorded_after_s": None}
"""


@pytest.mark.parametrize("executor", ["inprocess", "multiprocess"])
def test_a_finished_step_is_recorded_while_a_long_step_after_it_runs(make_project, clock, executor):
    """Finished steps are recorded in groups, but a group is written when it is due even
    while the next step is still running (on the coordinator's own thread too)."""
    from assetflow import materialize
    from assetflow.execution.coordinator import GROUP_S

    root = make_project(GROUPED)
    workers = 2 if executor == "multiprocess" else 1
    result = materialize(project=root, clock=clock, executor=executor, workers=workers)
    assert result.success, [r.message for r in result.results]
    stored = json.loads((root / ".assetflow" / "data" / "long_second.json").read_text())
    waited = stored["first_recorded_after_s"]
    assert waited is not None
    assert waited < GROUP_S + 2.0  # due after GROUP_S; generous for a loaded machine


def test_a_group_that_cannot_be_synced_while_a_step_runs_fails_the_run_when_it_ends(
    make_project, clock, monkeypatch
):
    """In process, a due group is written from another thread while the step runs; if
    its sync fails, the run ends with the error once the step returns, and nothing of
    the group is recorded."""
    from assetflow import materialize
    from assetflow.errors import WriteError
    from assetflow.io import atomic

    root = make_project(
        """
        import time

        from assetflow import asset

        @asset
        def first() -> dict:
            return {"n": 1}

        @asset
        def long_second(first: dict) -> dict:
            time.sleep(0.5)
            return {"n": 2}
        """
    )

    def failing(descriptor: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(atomic, "_sync_data", failing)
    with pytest.raises(WriteError, match=r"cannot make the outputs just written durable"):
        materialize(project=root, clock=clock, executor="inprocess")
    with open_store("sqlite", root / ".assetflow" / "metadata.sqlite") as opened:
        assert opened.latest_states_of([("first", None), ("long_second", None)]) == {}
        (recorded,) = opened.list_runs()
        assert recorded.status == RunStatus.FAILED
    monkeypatch.undo()
    again = materialize(project=root, clock=clock, executor="inprocess")
    assert states(again) == {
        "first": StepState.MATERIALIZED,
        "long_second": StepState.MATERIALIZED,
    }

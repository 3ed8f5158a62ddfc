"""The live progress display: exact terminal output, counts, ETA, throttling, width, a real pty."""

from __future__ import annotations

import io
import os
import re
import select
import threading
from datetime import UTC, datetime, timedelta

import pytest

from assetflow.api import materialize
from assetflow.clock import FixedClock
from assetflow.execution import RunResult, StepResult, StepState
from assetflow.planner import Plan, Status, Step, Verdict
from assetflow.store import RunStatus
from assetflow.views.listeners import ConsoleReporter
from assetflow.views.progress import CLEAR_LINE, LiveReporter

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
RUN_ID = "1a2b3c4d" + "0" * 24
#: How long the pty test waits for the terminal's output before giving up.
PTY_TIMEOUT_S = 10


class ManualClock:
    """A monotonic clock that moves only when a test sets `at`."""

    def __init__(self) -> None:
        self.at = 0.0

    def __call__(self) -> float:
        return self.at


class Both:
    """A Reporter that passes every event to two reporters, to compare what they print."""

    def __init__(self, first, second):
        self.reporters = (first, second)

    def run_started(self, run_id, plan):
        for reporter in self.reporters:
            reporter.run_started(run_id, plan)

    def step_started(self, step):
        for reporter in self.reporters:
            reporter.step_started(step)

    def step_waiting(self, step, message):
        for reporter in self.reporters:
            reporter.step_waiting(step, message)

    def step_finished(self, result):
        for reporter in self.reporters:
            reporter.step_finished(result)

    def run_finished(self, result):
        for reporter in self.reporters:
            reporter.run_finished(result)


@pytest.fixture(autouse=True)
def columns(monkeypatch):
    """A wide terminal unless a test says otherwise, whatever runs the tests."""
    monkeypatch.setenv("COLUMNS", "200")


def make_plan(*labels: str) -> Plan:
    """A plan of stale steps, from labels such as `raw` or `raw[2026-03-01]`."""
    steps = []
    for label in labels:
        asset, _, partition = label.partition("[")
        steps.append(Step(asset, partition.rstrip("]") or None, Status.STALE, ()))
    return Plan("*", T0, tuple(steps))


def result_of(step: Step, state: StepState, seconds: float = 0.0, **fields) -> StepResult:
    return StepResult(step.asset, step.partition, state, duration_s=seconds, **fields)


def run_of(plan: Plan, results, seconds: float = 1.5) -> RunResult:
    failed = any(r.state in (StepState.FAILED, StepState.CHECK_FAILED) for r in results)
    status = RunStatus.FAILED if failed else RunStatus.SUCCESS
    return RunResult(RUN_ID, status, plan, tuple(results), T0, T0 + timedelta(seconds=seconds))


def screen(output: str) -> list[str]:
    """The rows a terminal shows after `output`, the cursor's row last.

    Knows carriage return, newline (with the tty's usual CR) and erase to end
    of line: everything LiveReporter writes. Any other escape fails the test.
    """
    rows = [""]
    column = 0
    for token in re.split(r"(\r|\n|\x1b\[K)", output):
        if token == "\r":
            column = 0
        elif token == "\n":
            rows.append("")
            column = 0
        elif token == CLEAR_LINE[1:]:
            rows[-1] = rows[-1][:column]
        elif token:
            assert "\x1b" not in token, f"unexpected escape in {token!r}"
            row = rows[-1].ljust(column)
            rows[-1] = row[:column] + token + row[column + len(token) :]
            column += len(token)
    return rows


def console_rows(plan: Plan, events, run: RunResult) -> list[str]:
    """What ConsoleReporter prints for the same events, as terminal rows (cursor row last)."""
    lines: list[str] = []
    reporter = ConsoleReporter(lines.append)
    replay(reporter, plan, events, run)
    return [*"\n".join(lines).split("\n"), ""]


def replay(reporter, plan: Plan, events, run: RunResult) -> None:
    """Send a run's events: ("start", step) and ("finish", result) pairs between the ends."""
    reporter.run_started(RUN_ID, plan)
    for kind, item in events:
        if kind == "start":
            reporter.step_started(item)
        else:
            reporter.step_finished(item)
    reporter.run_finished(run)


def test_exact_output_of_a_small_run():
    plan = make_plan("a", "b[2026-03-01]")
    a, b = plan.steps
    clock = ManualClock()
    stream = io.StringIO()
    live = LiveReporter(stream, clock=clock)
    live.run_started(RUN_ID, plan)
    clock.at = 0.5
    live.step_started(a)
    clock.at = 1.5
    checked = result_of(a, StepState.CHECK_FAILED, 1.0, rows=3, message="check 'positive' failed")
    live.step_finished(checked)
    skipped = result_of(b, StepState.SKIPPED, message="inputs unchanged")
    live.step_finished(skipped)  # skipped without running: no step_started before it
    live.run_finished(run_of(plan, [checked, skipped]))
    assert stream.getvalue() == (
        "Run 1a2b3c4d: 2 to materialize\n"
        "[0/2] 0 running · 2 queued · 0 failed · 0 ms elapsed · ETA -"
        "\r\x1b[K[0/2] 1 running · 1 queued · 0 failed · 500 ms elapsed · ETA - · a"
        "\r\x1b[K  ! a                      3 rows     1.0 s\n"
        "[1/2] 0 running · 1 queued · 1 failed · 1.5 s elapsed · ETA 1.0 s"
        "\r\x1b[K  = b[2026-03-01]  skipped: inputs unchanged\n"
        "[2/2] 0 running · 0 queued · 1 failed · 1.5 s elapsed · ETA 0 ms"
        "\r\x1b[K"
        "\ncheck 'positive' failed\n"
        "\nRun 1a2b3c4d failed in 1.5 s: 1 check failed, 1 skipped.\n"
    )


def test_finished_lines_are_the_console_reporters():
    plan = make_plan("raw[2026-03-01]", "raw[2026-03-02]", "clean[2026-03-01]", "clean[2026-03-02]")
    raw1, raw2, clean1, clean2 = plan.steps
    results = [
        result_of(raw2, StepState.FAILED, 0.2, message="asset 'raw' raised KeyError: 'x'"),
        result_of(raw1, StepState.MATERIALIZED, 0.085, rows=209),
        result_of(clean2, StepState.BLOCKED, message="upstream failed: raw[2026-03-02]"),
        result_of(clean1, StepState.MATERIALIZED, 1.25, rows=1_000_000, attempts=2),
    ]
    events = [("start", raw1), ("start", raw2), ("finish", results[0]), ("finish", results[1])]
    events += [("finish", results[2]), ("start", clean1), ("finish", results[3])]
    run = run_of(plan, results)
    stream = io.StringIO()
    replay(LiveReporter(stream, workers=2, clock=ManualClock()), plan, events, run)
    assert screen(stream.getvalue()) == console_rows(plan, events, run)
    assert "Failed partitions: raw[2026-03-02]" in stream.getvalue()


def test_a_waiting_step_is_printed_above_the_status_line():
    plan = make_plan("a", "b")
    a, _ = plan.steps
    stream = io.StringIO()
    live = LiveReporter(stream, clock=ManualClock())
    live.run_started(RUN_ID, plan)
    live.step_waiting(a, "waiting: run 9f8e7d6c (pid 4242) is materializing it")
    lines: list[str] = []
    console = ConsoleReporter(lines.append)
    console.run_started(RUN_ID, plan)
    console.step_waiting(a, "waiting: run 9f8e7d6c (pid 4242) is materializing it")
    assert screen(stream.getvalue()) == [
        *lines,
        "[0/2] 0 running · 2 queued · 0 failed · 0 ms elapsed · ETA -",
    ]


def test_status_line_counts_running_queued_and_both_kinds_of_failure():
    plan = make_plan("a", "b", "c", "d", "e")
    a, b, c, d, _ = plan.steps
    stream = io.StringIO()
    live = LiveReporter(stream, workers=3, clock=ManualClock(), min_interval=0)
    live.run_started(RUN_ID, plan)
    for step in (a, b, c):
        live.step_started(step)
    assert screen(stream.getvalue())[-1].startswith("[0/5] 3 running · 2 queued · 0 failed")
    assert screen(stream.getvalue())[-1].endswith(" · a, b, c")
    live.step_finished(result_of(b, StepState.FAILED))
    live.step_finished(result_of(a, StepState.CHECK_FAILED))
    live.step_finished(result_of(d, StepState.BLOCKED))
    assert screen(stream.getvalue())[-1].startswith("[3/5] 1 running · 1 queued · 2 failed")
    assert screen(stream.getvalue())[-1].endswith(" · c")
    live.step_finished(result_of(plan.steps[4], StepState.CANCELLED, message="cancelled"))
    assert screen(stream.getvalue())[-2] == "  - e  cancelled"
    assert screen(stream.getvalue())[-1].startswith("[4/5] 1 running · 0 queued · 2 failed")


def test_eta_is_the_mean_step_time_times_the_steps_left_over_the_workers():
    plan = make_plan("a", "b", "c", "d", "e", "f")
    a, b, c, d, e, f = plan.steps
    clock = ManualClock()
    stream = io.StringIO()
    live = LiveReporter(stream, workers=2, clock=clock, min_interval=0)
    live.run_started(RUN_ID, plan)
    live.step_finished(result_of(a, StepState.SKIPPED, message="inputs unchanged"))

    def eta() -> str:
        return screen(stream.getvalue())[-1].split(" · ")[4]

    assert eta() == "ETA -"  # a skipped step says nothing of how long steps take
    live.step_started(b)
    live.step_finished(result_of(b, StepState.MATERIALIZED, 2.0))
    live.step_started(c)
    live.step_finished(result_of(c, StepState.FAILED, 4.0))
    assert eta() == "ETA 4.5 s"  # mean 3 s × 3 left / 2 workers
    live.step_started(d)
    assert eta() == "ETA 4.5 s"  # a running step still counts as left
    live.step_finished(result_of(d, StepState.CHECK_FAILED, 6.0))
    live.step_finished(result_of(e, StepState.BLOCKED))
    assert eta() == "ETA 2.0 s"  # mean 4 s × 1 left / 2 workers
    live.step_finished(result_of(f, StepState.BLOCKED))
    assert eta() == "ETA 0 ms"


def test_eta_and_elapsed_use_the_render_durations():
    plan = make_plan(*(f"p[{day:02d}]" for day in range(1, 31)))
    clock = ManualClock()
    stream = io.StringIO()
    live = LiveReporter(stream, clock=clock)
    clock.at = 100.0
    live.run_started(RUN_ID, plan)
    clock.at = 225.0
    live.step_finished(result_of(plan.steps[0], StepState.MATERIALIZED, 5.0))
    assert "· 2m05s elapsed · ETA 2m25s" in screen(stream.getvalue())[-1]  # 5 s × 29


def test_step_started_redraws_at_most_every_min_interval():
    plan = make_plan("a", "b", "c", "d")
    a, b, c, _ = plan.steps
    clock = ManualClock()
    stream = io.StringIO()
    live = LiveReporter(stream, clock=clock, min_interval=0.1)
    live.run_started(RUN_ID, plan)
    drawn = stream.getvalue()
    clock.at = 0.05
    live.step_started(a)
    live.tick()
    assert stream.getvalue() == drawn  # too soon after the first draw
    clock.at = 0.1
    live.step_started(b)
    assert screen(stream.getvalue())[-1].startswith("[0/4] 2 running · 2 queued")
    drawn = stream.getvalue()
    clock.at = 0.15
    live.step_started(c)
    assert stream.getvalue() == drawn
    clock.at = 0.16
    live.step_finished(result_of(a, StepState.MATERIALIZED, 0.1))  # always redrawn
    assert screen(stream.getvalue())[-1].startswith("[1/4] 2 running · 1 queued")
    assert "160 ms elapsed" in screen(stream.getvalue())[-1]


def test_tick_moves_elapsed_time_once_the_interval_passed():
    plan = make_plan("slow")
    clock = ManualClock()
    stream = io.StringIO()
    live = LiveReporter(stream, clock=clock, min_interval=0.5)
    live.run_started(RUN_ID, plan)
    live.step_started(plan.steps[0])
    clock.at = 0.4
    live.tick()
    assert "0 ms elapsed" in screen(stream.getvalue())[-1]
    clock.at = 3.0
    live.tick()
    assert screen(stream.getvalue())[-1] == (
        "[0/1] 1 running · 0 queued · 0 failed · 3.0 s elapsed · ETA - · slow"
    )
    assert stream.getvalue().count(CLEAR_LINE) == 1  # one redraw, not one per call


def test_status_line_is_cut_to_the_terminal_width(monkeypatch):
    long_name = "a_very_long_asset_name_that_no_narrow_terminal_can_show"
    plan = make_plan(f"{long_name}[2026-03-01]", "other")
    stream = io.StringIO()
    live = LiveReporter(stream, clock=ManualClock(), min_interval=0)
    counts = "[0/2] 1 running · 1 queued · 0 failed · 0 ms elapsed · ETA -"
    monkeypatch.setenv("COLUMNS", "100")
    live.run_started(RUN_ID, plan)
    live.step_started(plan.steps[0])
    status = screen(stream.getvalue())[-1]
    assert len(status) == 99  # one column short: filling the last one can wrap
    assert status == f"{counts} · a_very_long_asset_name_that_no_narr…"
    monkeypatch.setenv("COLUMNS", "72")
    live.tick()
    assert screen(stream.getvalue())[-1] == counts  # no room for a useful part of a name
    monkeypatch.setenv("COLUMNS", "40")
    live.tick()
    assert screen(stream.getvalue())[-1] == "[0/2] 1 running · 1 queued · 0 failed …"
    monkeypatch.setenv("COLUMNS", "8")
    live.tick()
    assert screen(stream.getvalue())[-1] == "[0/2] …"
    live.step_finished(result_of(plan.steps[0], StepState.MATERIALIZED, 0.2, rows=7))
    assert long_name in screen(stream.getvalue())[-2]  # the step's own line is never cut


def test_a_terminal_that_is_not_utf8_gets_ascii_only():
    plan = make_plan("a")
    stream = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    live = LiveReporter(stream, clock=ManualClock())
    live.run_started(RUN_ID, plan)
    stream.seek(0)
    assert stream.read().endswith("[0/1] 0 running | 1 queued | 0 failed | 0 ms elapsed | ETA -")


def test_an_empty_plan_prints_what_console_reporter_prints_and_no_status_line():
    plan = Plan("*", T0, (), (Verdict("a", None, Status.FRESH),))
    stream = io.StringIO()
    live = LiveReporter(stream, clock=ManualClock())
    live.run_started(RUN_ID, plan)
    live.tick()
    live.run_finished(run_of(plan, []))
    assert stream.getvalue() == "Nothing to do: 1 asset fresh.\n"


def run_until_interrupted(live: LiveReporter, plan: Plan) -> None:
    """Start a run and a step under `with live`, then stop as Ctrl-C would."""
    with live:
        live.run_started(RUN_ID, plan)
        live.step_started(plan.steps[0])
        raise KeyboardInterrupt


def test_stop_takes_the_status_line_away_when_a_run_is_interrupted():
    plan = make_plan("a", "b")
    stream = io.StringIO()
    live = LiveReporter(stream, clock=ManualClock(), min_interval=0)
    with pytest.raises(KeyboardInterrupt):
        run_until_interrupted(live, plan)
    assert stream.getvalue().endswith(CLEAR_LINE)
    assert screen(stream.getvalue()) == ["Run 1a2b3c4d: 2 to materialize", ""]
    live.tick()
    live.step_started(plan.steps[1])
    assert stream.getvalue().endswith(CLEAR_LINE)  # nothing drawn after stop()


def read_all(fd: int, into: bytearray) -> None:
    """Read a pty's master side until its slave side is closed."""
    while select.select([fd], [], [], PTY_TIMEOUT_S)[0]:
        try:
            data = os.read(fd, 65536)
        except OSError:  # EIO: the slave side is closed and everything was read
            return
        if not data:
            return
        into.extend(data)


def test_a_real_run_on_a_pseudo_terminal_leaves_no_status_line(make_project, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    root = make_project(
        """
        from assetflow import asset

        @asset
        def first() -> dict:
            return {"n": 1}

        @asset
        def second(first: dict) -> dict:
            return {"n": first["n"] + 1}

        @asset
        def broken(first: dict) -> dict:
            raise RuntimeError("told to fail")

        @asset
        def after_broken(broken: dict) -> dict:
            return broken
        """
    )
    master, slave = os.openpty()
    received = bytearray()
    reader = threading.Thread(target=read_all, args=(master, received), daemon=True)
    reader.start()
    lines: list[str] = []
    try:
        with open(slave, "w", encoding="utf-8") as terminal:
            live = LiveReporter(terminal, workers=2, clock=ManualClock(), min_interval=0)
            reporter = Both(live, ConsoleReporter(lines.append))
            result = materialize(project=root, clock=FixedClock(T0), reporter=reporter)
        reader.join(PTY_TIMEOUT_S)
    finally:
        os.close(master)
    assert not result.success
    output = received.decode("utf-8")
    assert "\r\n" in output  # it went through a real tty, which turns \n into \r\n
    rows = screen(output)
    assert rows == [*"\n".join(lines).split("\n"), ""]
    assert re.fullmatch(
        r"Run [0-9a-f]{8} failed in .*: 1 blocked, 1 failed, 2 materialized\.", rows[-2]
    )
    after_last_clear = output.split(CLEAR_LINE)[-1]
    assert after_last_clear.startswith("\r\n")  # the summary came after the last clear
    assert "told to fail" in after_last_clear
    assert " elapsed · ETA " not in after_last_clear
    assert not any(" elapsed · ETA " in row for row in rows)

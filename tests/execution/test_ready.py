"""ReadyQueue: a step is handed out as soon as every in-plan step it reads has finished."""

from __future__ import annotations

from datetime import UTC, datetime

from assetflow.execution.ready import ReadyQueue
from assetflow.planner import Plan, Status, Step

T0 = datetime(2026, 3, 10, tzinfo=UTC)
DAYS = ["2026-03-01", "2026-03-02", "2026-03-03"]


def step(asset, partition=None, *inputs):
    return Step(asset, partition, Status.STALE, (), tuple(inputs))


def queue_of(*steps, newest_first=False):
    return ReadyQueue(Plan("*", T0, tuple(steps)), newest_first=newest_first)


def ready(queue):
    """Pop every step that is ready now, in the order they come out."""
    popped = []
    while queue.has_ready():
        popped.append(queue.pop())
    return popped


def keys(steps):
    return [s.key for s in steps]


def drain(queue):
    """Run the queue to the end, finishing each step as it is popped; the order of popping."""
    order = []
    while queue:
        popped = queue.pop()
        order.append(popped.key)
        queue.finished(popped)
    return order


def test_a_step_is_ready_once_all_its_inputs_have_finished():
    a, b = step("a"), step("b")
    c = step("c", None, ("a", None), ("b", None))
    queue = queue_of(a, b, c)
    assert keys(ready(queue)) == [("a", None), ("b", None)]
    queue.finished(a)
    assert not queue.has_ready()  # c still waits on b
    queue.finished(b)
    assert keys(ready(queue)) == [("c", None)]
    assert queue  # c has not finished
    queue.finished(c)
    assert not queue


def test_ready_steps_come_out_in_plan_order():
    root = step("root")
    # listed out of name order: the plan's order wins, not the names
    children = [step(name, None, ("root", None)) for name in ("zeta", "alpha", "mid")]
    queue = queue_of(root, *children)
    queue.finished(queue.pop())
    assert keys(ready(queue)) == [("zeta", None), ("alpha", None), ("mid", None)]


def test_a_step_ready_late_still_goes_before_later_steps_of_the_plan():
    a = step("a")
    b = step("b", None, ("a", None))
    c = step("c")
    queue = queue_of(a, b, c)
    assert queue.pop().key == ("a", None)
    queue.finished(a)
    assert keys(ready(queue)) == [("b", None), ("c", None)]


def test_partitions_chain_key_by_key():
    raws = [step("raw", day) for day in DAYS]
    cleans = [step("clean", day, ("raw", day)) for day in DAYS]
    queue = queue_of(*raws, *cleans)
    assert keys(ready(queue)) == [("raw", day) for day in DAYS]
    queue.finished(raws[1])
    assert keys(ready(queue)) == [("clean", "2026-03-02")]


def test_newest_first_takes_the_newest_partition_first():
    raws = [step("raw", day) for day in DAYS]
    cleans = [step("clean", day, ("raw", day)) for day in DAYS]
    queue = queue_of(*raws, *cleans, newest_first=True)
    # one step at a time: each newest day goes through the chain before the older ones
    assert drain(queue) == [
        ("raw", "2026-03-03"),
        ("clean", "2026-03-03"),
        ("raw", "2026-03-02"),
        ("clean", "2026-03-02"),
        ("raw", "2026-03-01"),
        ("clean", "2026-03-01"),
    ]


def test_newest_first_keeps_plan_order_within_a_partition():
    a = step("a", "2026-03-01")
    b = step("b", "2026-03-02")
    c = step("c", "2026-03-02")
    queue = queue_of(a, b, c, newest_first=True)
    assert keys(ready(queue)) == [("b", "2026-03-02"), ("c", "2026-03-02"), ("a", "2026-03-01")]


def test_without_newest_first_partitions_come_oldest_first():
    raws = [step("raw", day) for day in DAYS]
    cleans = [step("clean", day, ("raw", day)) for day in DAYS]
    assert drain(queue_of(*raws, *cleans)) == [
        *(("raw", day) for day in DAYS),
        *(("clean", day) for day in DAYS),
    ]


def test_an_input_not_in_the_plan_is_stored_so_the_step_is_ready_at_once():
    planned = step("raw", "2026-03-02")
    reader = step("clean", "2026-03-02", ("raw", "2026-03-01"), ("raw", "2026-03-02"))
    queue = queue_of(planned, reader)
    # raw[2026-03-01] is read from storage; only raw[2026-03-02] is waited for
    assert keys(ready(queue)) == [("raw", "2026-03-02")]
    queue.finished(planned)
    assert keys(ready(queue)) == [("clean", "2026-03-02")]

    alone = queue_of(step("total", None, ("raw", "2026-03-01"), ("raw", "2026-03-02")))
    assert keys(ready(alone)) == [("total", None)]


def test_a_failed_step_still_releases_its_readers():
    broken = step("broken")
    after = step("after", None, ("broken", None))
    further = step("further", None, ("after", None))
    queue = queue_of(broken, after, further)
    assert queue.pop() is broken
    queue.finished(broken)  # failed: the coordinator marks its readers blocked when they pop
    assert queue.pop() is after
    queue.finished(after)
    assert queue.pop() is further
    queue.finished(further)
    assert not queue
    assert not queue.has_ready()


def test_an_empty_plan_is_done_at_once():
    queue = queue_of()
    assert not queue
    assert not queue.has_ready()

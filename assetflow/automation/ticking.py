"""Which ticks of a schedule are due, and what becomes of each: run or skipped, and why.

Pure decisions: a schedule, what the store remembers of it (when it was first
seen, whether it is paused, its newest tick) and the instant of evaluation in,
a list of `TickDecision`s out. Recording them and starting runs is
`assetflow.automation.scheduler`'s work, so this module is tested on a
simulated clock over years of ticks in milliseconds.

The rules (docs/automation.md):

- A schedule's ticks start at its `start`, or the moment a scheduler first saw it
  (or the instant evaluated, when `--now` replays an earlier one), less `ON_TIME`:
  earlier ticks are never run. A tick is due once its instant has passed and it is
  newer than the schedule's newest recorded tick, so a restart, a second
  scheduler or an edited cron line never brings back a tick already recorded.
- A paused or disabled schedule records its due ticks as skipped, so resuming it
  does not flood the queue with what it missed.
- A tick on a day its calendar excludes is skipped with the calendar's reason.
- Of the remaining due ticks, `catchup` decides: `all` runs them oldest first (at
  most the newest `max_catchup`), `latest` runs the newest, `none` runs only a tick
  that is on time (due within `ON_TIME`), and each tick not run is recorded as
  skipped with its reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal

from assetflow.errors import AssetflowError
from assetflow.request import RunRequest

if TYPE_CHECKING:
    from assetflow.automation.loading import ScheduleTarget
    from assetflow.store.automation import OriginState, TickRecord

#: How late a tick may be evaluated and still count as on time for `catchup = "none"`.
ON_TIME = timedelta(minutes=5)
#: At most this many skipped ticks are recorded one by one in one evaluation; older
#: ones are counted in the reason of the oldest recorded (a minutely schedule paused
#: for a year would otherwise write half a million rows at once).
MAX_RECORDED = 1000

TickAction = Literal["run", "skipped", "failed"]


@dataclass(frozen=True, slots=True)
class TickDecision:
    """What becomes of one tick of one schedule."""

    origin: str
    #: the tick's instant, UTC
    scheduled_at: datetime
    action: TickAction
    #: why it is skipped or failed (None for a run)
    reason: str | None
    #: the run it starts (None unless `action` is "run")
    request: RunRequest | None
    partition_keys: tuple[str, ...]
    selection: str


def default_start(first_seen: datetime, now: datetime) -> datetime:
    """Where a schedule without `start` begins: when a scheduler first saw it (in real
    time), or the evaluated instant when that is earlier (`--now` replaying a past day),
    less `ON_TIME`, so that a scheduler started just after a tick still runs it."""
    return min(first_seen, now) - ON_TIME


def tick_label(target: ScheduleTarget, scheduled_at: datetime) -> str:
    """`nightly@2026-03-02T03:00+01:00`: the schedule and the tick in its own time zone."""
    from assetflow.automation.cadence import zone

    local = scheduled_at.astimezone(zone(target.schedule.timezone))
    text = local.isoformat(timespec="seconds" if local.second else "minutes")
    return f"{target.name}@{text}"


def run_key(target: ScheduleTarget, scheduled_at: datetime) -> str:
    """The key that makes a tick's run unique: `schedule:NAME@<UTC instant>`."""
    return f"{target.origin}@{scheduled_at.astimezone(UTC).isoformat()}"


def due_ticks(
    target: ScheduleTarget,
    state: OriginState,
    newest: TickRecord | None,
    now: datetime,
) -> list[TickDecision]:
    """The ticks of `target` due at `now` and not recorded yet, each decided.

    Args:
        target: The schedule and its resolved selection.
        state: What the store remembers of the schedule (first seen, paused).
        newest: The schedule's newest recorded tick, if any.
        now: The instant of evaluation (UTC-aware).

    Returns:
        One decision per due tick, oldest first.
    """
    schedule = target.schedule
    start = schedule.start or default_start(state.first_seen_at, now)
    after = start - timedelta(microseconds=1)
    if newest is not None and newest.scheduled_at > after:
        after = newest.scheduled_at
    cadence = schedule.cadence(state.first_seen_at)
    ticks = list(_bounded(cadence.ticks(after, now)))
    if not ticks:
        return []
    dropped = ticks[0] if isinstance(ticks[0], int) else 0
    instants: list[datetime] = [t for t in ticks if isinstance(t, datetime)]
    decisions: list[TickDecision] = []
    if not schedule.enabled or state.paused:
        why = (
            "disabled in the configuration (enabled = false)"
            if not schedule.enabled
            else ("paused (`assetflow schedules resume " + schedule.name + "` resumes it)")
        )
        return _with_dropped([_skipped(target, t, why) for t in instants], dropped)
    runnable: list[datetime] = []
    for instant in instants:
        excluded = schedule.excluded(instant)
        if excluded is not None:
            decisions.append(_skipped(target, instant, f"calendar: {excluded}"))
        else:
            runnable.append(instant)
    chosen = _catchup(target, runnable, now)
    for instant in runnable:
        reason = chosen.get(instant)
        if reason is None:
            decisions.append(_run(target, instant, now))
        else:
            decisions.append(_skipped(target, instant, reason))
    decisions.sort(key=lambda d: d.scheduled_at)
    return _with_dropped(decisions, dropped)


def _catchup(
    target: ScheduleTarget, runnable: list[datetime], now: datetime
) -> dict[datetime, str]:
    """The runnable ticks that catch-up skips, each with its reason."""
    schedule = target.schedule
    if not runnable:
        return {}
    skipped: dict[datetime, str] = {}
    if schedule.catchup == "all":
        keep = runnable[-schedule.max_catchup :]
        for instant in runnable[: len(runnable) - len(keep)]:
            skipped[instant] = (
                f"missed, and more than max_catchup = {schedule.max_catchup} ticks were "
                "missed: only the newest run (catchup = all)"
            )
    elif schedule.catchup == "latest":
        newest = runnable[-1]
        shown = tick_label(target, newest)
        for instant in runnable[:-1]:
            skipped[instant] = f"missed; the newer tick {shown} runs instead (catchup = latest)"
    else:
        for instant in runnable:
            if now - instant > ON_TIME:
                skipped[instant] = "missed: no scheduler was running at the time (catchup = none)"
    return skipped


def _run(target: ScheduleTarget, instant: datetime, now: datetime) -> TickDecision:
    schedule = target.schedule
    try:
        partitions = target.partitions_at(instant, now)
    except AssetflowError as error:
        return TickDecision(
            target.origin, instant, "failed", error.message, None, (), schedule.select
        )
    request = RunRequest.of(
        schedule.select,
        exclude=schedule.exclude,
        partitions=partitions,
        trigger=f"schedule:{tick_label(target, instant)}",
        run_key=run_key(target, instant),
        tags={**schedule.tags, "schedule": schedule.name},
    )
    keys = () if partitions is None else partitions.labels()
    return TickDecision(target.origin, instant, "run", None, request, keys, schedule.select)


def _skipped(target: ScheduleTarget, instant: datetime, reason: str) -> TickDecision:
    return TickDecision(target.origin, instant, "skipped", reason, None, (), target.schedule.select)


def _bounded(ticks: Iterator[datetime]) -> Iterator[datetime | int]:
    """The newest `MAX_RECORDED` ticks, led by the count of the older ones when there are any."""
    window: list[datetime] = []
    older = 0
    for instant in ticks:
        window.append(instant)
        if len(window) > 2 * MAX_RECORDED:
            older += len(window) - MAX_RECORDED
            window = window[-MAX_RECORDED:]
    if len(window) > MAX_RECORDED:
        older += len(window) - MAX_RECORDED
        window = window[-MAX_RECORDED:]
    if older:
        yield older
    yield from window


def _with_dropped(decisions: list[TickDecision], dropped: int) -> list[TickDecision]:
    """Say, in the oldest decision's reason, how many older ticks were not recorded."""
    if not dropped or not decisions:
        return decisions
    first = decisions[0]
    note = f"; {dropped} earlier due ticks were not recorded one by one"
    decisions[0] = TickDecision(
        first.origin,
        first.scheduled_at,
        first.action,
        (first.reason or "") + note,
        first.request,
        first.partition_keys,
        first.selection,
    )
    return decisions


def upcoming(
    target: ScheduleTarget, first_seen: datetime, now: datetime, count: int
) -> list[TickDecision]:
    """The next `count` ticks after `now` as they would be decided (for `--dry-run`).

    A partition that has not closed at a future tick's instant is read at the tick.
    """
    schedule = target.schedule
    cadence = schedule.cadence(first_seen)
    decisions: list[TickDecision] = []
    moment = max(
        now, (schedule.start or default_start(first_seen, now)) - timedelta(microseconds=1)
    )
    while len(decisions) < count:
        instant = cadence.next_tick(moment)
        moment = instant
        if not schedule.enabled:
            decisions.append(_skipped(target, instant, "disabled in the configuration"))
            continue
        excluded = schedule.excluded(instant)
        if excluded is not None:
            decisions.append(_skipped(target, instant, f"calendar: {excluded}"))
        else:
            decisions.append(_run(target, instant, instant))
    return decisions

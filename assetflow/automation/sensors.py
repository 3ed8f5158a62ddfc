"""Sensors: `@sensor` functions as SensorSpecs, and their evaluation into SensorOutcomes.

A sensor is a function the scheduler calls every `interval` with a `SensorContext`
(its saved cursor, the time); it returns run requests, a new cursor and dynamic
partition keys to add. Evaluation never raises for the user's errors: a sensor that
raises, returns the wrong thing or runs past its timeout gives an outcome with an
`error`, and its cursor stays as it was, so the next interval tries again.

Sources declared with `sensor=True` are sensors of another kind: the scheduler
observes them (`observe_source_sensor`) and compares the version with the one it saw
last (`source_sensor_due`).

The scheduler loop (collecting SensorSpecs from project modules, storing cursors in
the same transaction as the run requests, starting runs) is not here.
"""

from __future__ import annotations

import inspect
import json
import logging
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, overload

from assetflow.asset import CONTEXT_PARAM
from assetflow.errors import (
    AssetflowError,
    DefinitionError,
    SelectionError,
    declared_at,
    user_frames,
)
from assetflow.policies import parse_interval
from assetflow.request import PartitionRequest, RunRequest
from assetflow.selection.syntax import parse_selection

if TYPE_CHECKING:
    from assetflow.asset import AssetSpec
    from assetflow.project import Project

#: How often a sensor is evaluated, unless it says.
DEFAULT_INTERVAL = "30s"
#: How long one evaluation may run before it is abandoned, unless the sensor says.
DEFAULT_TIMEOUT = "60s"
#: The prefix of a sensor's origin and of its runs' trigger (`sensor:new_files`).
ORIGIN_PREFIX = "sensor:"
#: How many lines of an exception's message an error outcome keeps.
_MESSAGE_LINES = 5

_Fn = Callable[..., Any]


@dataclass(frozen=True, eq=False)
class SensorSpec:
    """A sensor: its function, how often and how long it runs, and what its runs select."""

    name: str
    fn: _Fn
    interval: timedelta
    timeout: timedelta
    #: the default selection of its run requests (a request's own selection wins)
    select: str | None
    #: the default exclusion of its run requests
    exclude: str | None
    #: tags recorded with each run it requests (a request's own tags win)
    tags: Mapping[str, str]
    #: the module that defines the function
    module: str
    #: the line of the function's definition
    line: int
    #: the file that defines the function
    file: str = ""
    #: whether the function takes `context`
    wants_context: bool = True
    __assetflow_sensor__: bool = field(default=True, init=False, repr=False)

    @property
    def origin(self) -> str:
        """What its ticks and runs are recorded under: `sensor:<name>`."""
        return ORIGIN_PREFIX + self.name

    @property
    def location(self) -> str:
        """Where the function is defined, as `file:line`."""
        return declared_at(self.file or self.module, self.line)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)


@dataclass
class SensorContext:
    """What a sensor function is given: its cursor (which it may set), the time, a logger."""

    name: str
    #: what the sensor saved last time (None the first time); set it to save another
    cursor: str | None
    #: the instant of this evaluation, in UTC
    now: datetime
    #: when the sensor was last evaluated, or None the first time
    last_evaluated_at: datetime | None
    log: logging.Logger


@dataclass(frozen=True)
class SensorResult:
    """What a sensor function may return: run requests, a new cursor, partition keys to add."""

    run_requests: Sequence[RunRequest] = ()
    #: the cursor to save (None: keep `context.cursor`, as the sensor left it)
    cursor: str | None = None
    #: dynamic partitions to add keys to, by partitions name
    add_partitions: Mapping[str, Sequence[str]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    #: why the sensor requested nothing, for the tick's record
    skip_reason: str | None = None


@dataclass(frozen=True)
class SensorOutcome:
    """One evaluation of a sensor: what it requested and what to save, or why it failed."""

    origin: str
    evaluated_at: datetime
    duration_s: float
    #: each with trigger `sensor:<name>`, the sensor's selection by default and its tags
    requests: tuple[RunRequest, ...]
    #: the cursor to save (the one it had, when the evaluation failed)
    cursor: str | None
    add_partitions: Mapping[str, tuple[str, ...]]
    skip_reason: str | None
    #: "raised ValueError: ...", "timed out after 60 s", ...; None when it succeeded
    error: str | None

    @property
    def ok(self) -> bool:
        return self.error is None


# --- declaring ---------------------------------------------------------------------------


@overload
def sensor(fn: _Fn, /) -> SensorSpec: ...


@overload
def sensor(
    *,
    name: str | None = None,
    interval: str | float | timedelta = DEFAULT_INTERVAL,
    timeout: str | float | timedelta = DEFAULT_TIMEOUT,
    select: str | None = None,
    exclude: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> Callable[[_Fn], SensorSpec]: ...


def sensor(
    fn: _Fn | None = None,
    /,
    *,
    name: str | None = None,
    interval: str | float | timedelta = DEFAULT_INTERVAL,
    timeout: str | float | timedelta = DEFAULT_TIMEOUT,
    select: str | None = None,
    exclude: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> SensorSpec | Callable[[_Fn], SensorSpec]:
    """Declare a function as a sensor, which `assetflow scheduler` calls every `interval`.

    The function takes `context` (a SensorContext) or nothing, and returns None, a
    RunRequest, a list of them, or a SensorResult (or yields RunRequests). A request
    whose selection is `"*"` (RunRequest's default) selects the sensor's `select`
    and, when it has no `exclude` of its own, the sensor's `exclude`; a request that
    names a selection keeps it.

    Args:
        fn: The function, when used bare (`@sensor`).
        name: The sensor's name; defaults to the function's name.
        interval: How often it is evaluated: `"30s"`, `"5m"`, seconds or a timedelta.
        timeout: How long one evaluation may run before it is abandoned and recorded
            as timed out (default 60 seconds).
        select: The selection its run requests materialize by default.
        exclude: A selection its run requests leave out by default.
        tags: Tags recorded with each run it requests.

    Returns:
        The SensorSpec (or a decorator producing it).

    Raises:
        DefinitionError: The function's signature, the interval, the timeout or the
            selection is wrong.
    """

    def decorate(function: _Fn) -> SensorSpec:
        return make_sensor(
            function,
            name=name,
            interval=interval,
            timeout=timeout,
            select=select,
            exclude=exclude,
            tags=tags,
        )

    if fn is not None:
        return decorate(fn)
    return decorate


def make_sensor(
    fn: _Fn,
    *,
    name: str | None = None,
    interval: str | float | timedelta = DEFAULT_INTERVAL,
    timeout: str | float | timedelta = DEFAULT_TIMEOUT,
    select: str | None = None,
    exclude: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> SensorSpec:
    """The SensorSpec of a function (what `@sensor(...)` builds); see `sensor`."""
    if isinstance(fn, SensorSpec):
        fn = fn.fn
    if not callable(fn):
        raise DefinitionError(
            f"@sensor decorates functions, not {type(fn).__name__}: write "
            '`@sensor(interval="30s")` above `def name(context): ...`.'
        )
    code = getattr(fn, "__code__", None)
    file, line = (code.co_filename, code.co_firstlineno) if code else ("", 0)
    function_name = getattr(fn, "__name__", type(fn).__name__)
    shown = name or function_name
    where = f"sensor '{shown}' ({declared_at(file or '?', line)})"
    wants_context = _check_signature(fn, function_name, where)
    for option, expression in (("select", select), ("exclude", exclude)):
        if expression is not None:
            _check_selection(expression, f"{where}: {option}=")
    return SensorSpec(
        name=shown,
        fn=fn,
        interval=parse_interval(interval, f"{where}: interval"),
        timeout=parse_interval(timeout, f"{where}: timeout"),
        select=select,
        exclude=exclude,
        tags=MappingProxyType({str(k): str(v) for k, v in (tags or {}).items()}),
        module=str(getattr(fn, "__module__", "") or ""),
        line=line,
        file=file,
        wants_context=wants_context,
    )


def _check_signature(fn: _Fn, function_name: str, where: str) -> bool:
    """Whether the function takes `context`; a DefinitionError when it takes anything else."""
    expected = f"`def {function_name}(context): ...` (or no parameter)"
    if inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn):
        raise DefinitionError(
            f"{where} is an async function; a sensor is a plain function: {expected}."
        )
    try:
        parameters = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        raise DefinitionError(
            f"{where}: assetflow cannot read its signature; a sensor is {expected}."
        ) from None
    if not parameters:
        return False
    only = parameters[0]
    positional = (only.POSITIONAL_ONLY, only.POSITIONAL_OR_KEYWORD)
    if len(parameters) == 1 and only.name == CONTEXT_PARAM and only.kind in positional:
        return True
    written = ", ".join(str(p) for p in parameters)
    raise DefinitionError(
        f"{where} takes ({written}), but a sensor function takes its context and nothing "
        f"else: {expected}. Read the cursor and the time from context "
        "(context.cursor, context.now)."
    )


def _check_selection(expression: str, where: str) -> None:
    try:
        parse_selection(expression)
    except SelectionError as error:
        raise DefinitionError(f"{where}{expression!r} does not parse: {error.message}") from None


def check_sensor_names(specs: Iterable[SensorSpec]) -> None:
    """Raise when two sensors share a name (their cursors and ticks would be mixed up).

    Raises:
        DefinitionError: One problem per repeated name, naming both places.
    """
    seen: dict[str, SensorSpec] = {}
    problems = []
    for spec in specs:
        first = seen.setdefault(spec.name, spec)
        if first is not spec:
            problems.append(
                f"two sensors are named '{spec.name}': {first.location} and {spec.location}. "
                "Rename one (or pass name= to @sensor)."
            )
    if problems:
        raise DefinitionError(" ".join(problems) if len(problems) == 1 else "\n".join(problems))


def sensors_in(namespaces: Iterable[Any]) -> list[SensorSpec]:
    """The sensors defined at the top level of modules (or any objects with attributes),
    each once, in the order found; two with one name are a DefinitionError.

    Args:
        namespaces: The project's modules.
    """
    found: dict[int, SensorSpec] = {}
    for namespace in namespaces:
        for value in vars(namespace).values():
            if isinstance(value, SensorSpec):
                found.setdefault(id(value), value)
    specs = list(found.values())
    check_sensor_names(specs)
    return specs


def sensed_sources(specs: Iterable[AssetSpec]) -> list[AssetSpec]:
    """The sources declared with `sensor=True`, by name."""
    return sorted((spec for spec in specs if spec.is_source and spec.sensor), key=lambda s: s.name)


# --- evaluating --------------------------------------------------------------------------

#: The thread of each sensor whose last evaluation timed out and is still running.
_ABANDONED: dict[str, threading.Thread] = {}
_ABANDONED_LOCK = threading.Lock()


def evaluate_sensor(
    spec: SensorSpec,
    *,
    cursor: str | None,
    now: datetime,
    last_evaluated_at: datetime | None,
) -> SensorOutcome:
    """Call a sensor once, in a worker thread, and turn what it returned into an outcome.

    The call runs in a daemon thread, waited for at most `spec.timeout`. Python
    cannot stop a thread: a sensor still running at its timeout is abandoned, left to
    finish (or hang) on its own without holding up the process's exit, and recorded
    as timed out. While that thread still runs, the sensor is not started again:
    its next evaluations are errors that say so, so a hanging sensor holds one thread,
    not one per interval.

    Never raises for the user's errors: a sensor that raised, timed out or returned
    something else than None, a RunRequest, a list of them or a SensorResult gives an
    outcome with `error` set and the cursor it had.

    Args:
        spec: The sensor.
        cursor: The cursor saved after its last successful evaluation.
        now: The instant of this evaluation (timezone-aware; kept in UTC).
        last_evaluated_at: When it was last evaluated, or None.
    """
    now = now.astimezone(UTC)
    started = time.perf_counter()

    def outcome(**fields: Any) -> SensorOutcome:
        defaults: dict[str, Any] = {
            "requests": (),
            "cursor": cursor,
            "add_partitions": MappingProxyType({}),
            "skip_reason": None,
            "error": None,
        }
        defaults.update(fields)
        duration = time.perf_counter() - started
        return SensorOutcome(origin=spec.origin, evaluated_at=now, duration_s=duration, **defaults)

    with _ABANDONED_LOCK:
        previous = _ABANDONED.get(spec.name)
        if previous is not None and not previous.is_alive():
            del _ABANDONED[spec.name]
            previous = None
    if previous is not None:
        return outcome(error="not started: its evaluation that timed out earlier is still running")

    context = SensorContext(
        name=spec.name,
        cursor=cursor,
        now=now,
        last_evaluated_at=last_evaluated_at,
        log=logging.getLogger(f"assetflow.sensor.{spec.name}"),
    )
    box: dict[str, Any] = {}

    def call() -> None:
        try:
            value = spec.fn(context) if spec.wants_context else spec.fn()
            # A generator function yields its requests: run its body here, in the time limit.
            box["value"] = list(value) if inspect.isgenerator(value) else value
        except BaseException as error:  # a SystemExit too: the outcome says what it was
            box["error"] = error

    worker = threading.Thread(target=call, name=f"assetflow-sensor-{spec.name}", daemon=True)
    worker.start()
    worker.join(spec.timeout.total_seconds())
    if worker.is_alive():
        with _ABANDONED_LOCK:
            _ABANDONED[spec.name] = worker
        return outcome(error=f"timed out after {_seconds(spec.timeout)}")
    if "error" in box:
        return outcome(error=describe_error(box["error"]))
    try:
        requests, new_cursor, added, skip = _read_result(box.get("value"), context, spec)
    except _BadResult as error:
        return outcome(error=str(error))
    except Exception as error:  # a value of the user's whose methods raise
        return outcome(error=f"returned a value that could not be read: {describe_error(error)}")
    return outcome(requests=requests, cursor=new_cursor, add_partitions=added, skip_reason=skip)


def evaluate_sensors(
    specs: Iterable[SensorSpec],
    *,
    cursors: Mapping[str, str | None],
    now: datetime,
    last: Mapping[str, datetime | None],
    max_parallel: int = 4,
) -> list[SensorOutcome]:
    """Evaluate several sensors at once, in the order given, each within its own timeout.

    Each evaluation waits at most for its sensor's timeout, so a hanging sensor
    holds one of the `max_parallel` slots for that long and the others go on.

    Args:
        specs: The sensors to evaluate.
        cursors: The saved cursor of each sensor, by name (missing: None).
        now: The instant of this evaluation.
        last: When each sensor was last evaluated, by name (missing: never).
        max_parallel: How many sensors run at once.
    """
    chosen = list(specs)
    if not chosen:
        return []

    def one(spec: SensorSpec) -> SensorOutcome:
        return evaluate_sensor(
            spec,
            cursor=cursors.get(spec.name),
            now=now,
            last_evaluated_at=last.get(spec.name),
        )

    with ThreadPoolExecutor(
        max_workers=max(1, min(max_parallel, len(chosen))), thread_name_prefix="assetflow-sensors"
    ) as pool:
        return list(pool.map(one, chosen))


def describe_error(error: BaseException) -> str:
    """`raised ValueError: message` (its first lines), then the frames of the user's code."""
    lines = str(error).strip().splitlines() or [""]
    message = "\n".join(lines[:_MESSAGE_LINES])
    if len(lines) > _MESSAGE_LINES:
        message += f"\n(… {len(lines) - _MESSAGE_LINES} more lines)"
    text = f"raised {type(error).__name__}: {message}".rstrip().removesuffix(":")
    frames = user_frames(error)
    if frames:
        text += "\n" + "".join(traceback.format_list(frames)).rstrip()
    return text


class _BadResult(Exception):
    """What a sensor returned cannot be used (the message says what it got)."""


def _read_result(
    value: Any, context: SensorContext, spec: SensorSpec
) -> tuple[tuple[RunRequest, ...], str | None, Mapping[str, tuple[str, ...]], str | None]:
    """The requests, cursor, partition keys and skip reason of what a sensor returned."""
    added: Mapping[str, tuple[str, ...]] = MappingProxyType({})
    skip: str | None = None
    cursor: Any = context.cursor
    if value is None:
        raw: Sequence[Any] = ()
    elif isinstance(value, RunRequest):
        raw = (value,)
    elif isinstance(value, list | tuple):
        raw = value
    elif isinstance(value, SensorResult):
        raw = _request_list(value.run_requests)
        if value.cursor is not None:
            cursor = value.cursor
        added = _partition_keys(value.add_partitions)
        skip = value.skip_reason
        if skip is not None and not isinstance(skip, str):
            raise _BadResult(
                f"returned a SensorResult whose skip_reason is {_a(skip)}; give a string"
            )
    else:
        raise _BadResult(
            f"returned {_a(value)}; a sensor returns None, a RunRequest, a list of "
            "RunRequests or a SensorResult"
        )
    for index, item in enumerate(raw):
        if not isinstance(item, RunRequest):
            raise _BadResult(
                f"returned a list whose item {index} is {_a(item)}; each item is a RunRequest "
                "(from assetflow import RunRequest)"
            )
        _check_request_fields(item, index)
    if cursor is not None and not isinstance(cursor, str):
        raise _BadResult(
            f"set its cursor to {_a(cursor)}; a cursor is a string (or None): store "
            "a number with str() or several values with json.dumps()"
        )
    return tuple(_as_sensor_request(item, spec) for item in raw), cursor, added, skip


def _check_request_fields(request: RunRequest, index: int) -> None:
    """A request whose fields have the wrong types (RunRequest does not check them all)
    would break the scheduler when it records the tick: an error outcome instead."""
    where = f"returned a RunRequest (item {index}) whose"
    if request.partitions is not None and not isinstance(request.partitions, PartitionRequest):
        raise _BadResult(
            f"{where} partitions is {_a(request.partitions)}; give "
            "PartitionRequest.one('KEY') or PartitionRequest('FIRST', 'LAST') "
            "(from assetflow import PartitionRequest)"
        )
    for name in ("selection", "run_key", "exclude"):
        value = getattr(request, name)
        if value is not None and not isinstance(value, str):
            raise _BadResult(f"{where} {name} is {_a(value)}; give a string")
    try:
        json.dumps(request.to_json())
    except (TypeError, ValueError) as error:
        raise _BadResult(f"{where} fields cannot be recorded: {error}") from None


def _request_list(value: Any) -> Sequence[Any]:
    if isinstance(value, RunRequest):
        return (value,)
    if isinstance(value, list | tuple):
        return value
    raise _BadResult(
        f"returned a SensorResult whose run_requests is {_a(value)}; give a list of RunRequests"
    )


def _as_sensor_request(request: RunRequest, spec: SensorSpec) -> RunRequest:
    """A request as the sensor's: its trigger, its default selection, its tags under the
    request's own; the request's run key passes through as it is."""
    changes: dict[str, Any] = {"trigger": spec.origin}
    if request.selection == "*":
        if spec.select is not None:
            changes["selection"] = spec.select
        if request.exclude is None and spec.exclude is not None:
            changes["exclude"] = spec.exclude
    if spec.tags:
        changes["tags"] = tuple(sorted({**spec.tags, **request.tag_map}.items()))
    return request.with_changes(**changes)


def _partition_keys(value: Any) -> Mapping[str, tuple[str, ...]]:
    """The keys a sensor adds to dynamic partitions, each checked as a partition key."""
    if not isinstance(value, Mapping):
        raise _BadResult(
            f"returned a SensorResult whose add_partitions is {_a(value)}; give a dict "
            "of partitions name -> list of keys"
        )
    result: dict[str, tuple[str, ...]] = {}
    for name, keys in value.items():
        if not isinstance(name, str) or not name:
            raise _BadResult(f"returned add_partitions with the name {name!r}; name a partitions")
        if isinstance(keys, str) or not isinstance(keys, Iterable):
            raise _BadResult(
                f"returned add_partitions['{name}'] = {keys!r}; give a list of keys "
                f"(['{keys}'] for one)"
                if isinstance(keys, str)
                else f"returned add_partitions['{name}'] = {_a(keys)}; give a list of keys"
            )
        checked = []
        for key in keys:
            problem = partition_key_problem(key)
            if problem is not None:
                raise _BadResult(f"returned add_partitions['{name}'] with the key {problem}")
            checked.append(key)
        result[name] = tuple(dict.fromkeys(checked))
    return MappingProxyType(result)


def partition_key_problem(key: Any) -> str | None:
    """What is wrong with a dynamic partition key (None: nothing), as the rest of a sentence
    that starts "the key ...". The rules of `assetflow partitions add`, so that a sensor
    never stores a key the command would refuse."""
    from assetflow.partitions.dynamic import key_problem

    if not isinstance(key, str):
        return f"{key!r}, {_a(key)}; a partition key is a string"
    problem = key_problem(key)
    if problem is None:
        return None
    shown = key if len(key) <= 40 else key[:37] + "..."
    return f"{shown!r}: {problem}"


def _a(value: Any) -> str:
    """`a dict`, `an int`: what a value is, for messages."""
    kind = type(value).__name__
    return f"{'an' if kind[:1].lower() in 'aeiou' else 'a'} {kind}"


def _seconds(span: timedelta) -> str:
    seconds = span.total_seconds()
    return f"{seconds:g} s"


# --- source sensors ----------------------------------------------------------------------


class SourceSensorError(AssetflowError):
    """A source with `sensor=True` could not be observed (its observer raised)."""


@dataclass(frozen=True, slots=True)
class SourceChange:
    """Whether a sensed source changed since it was last observed, and which partitions."""

    source: str
    changed: bool
    #: the partitions whose version is new or different (partitioned sources only)
    partition_keys: tuple[str, ...] = ()
    #: the partitions observed before and not now (a file that went away)
    removed_keys: tuple[str, ...] = ()
    #: whether there was no earlier observation (counted as changed)
    first: bool = False


def source_sensor_due(
    source: str,
    previous: str | Mapping[str, str] | None,
    current: str | Mapping[str, str],
) -> SourceChange:
    """Compare a source's version with the one the scheduler saw last.

    The first observation (`previous` None) counts as a change: the scheduler cannot
    know what happened while nobody watched, and the run it starts materializes only
    what the planner finds stale. For a partitioned source, the partitions that are
    new or have another version are the changed ones; one that went away is listed in
    `removed_keys` but is no change (nothing new to read).

    Args:
        source: The source's name.
        previous: What `observe_source_sensor` returned last time, or None.
        current: What it returns now.
    """
    if isinstance(current, str):
        if previous is None:
            return SourceChange(source, True, first=True)
        return SourceChange(source, previous != current)
    before: Mapping[str, str] = {} if not isinstance(previous, Mapping) else previous
    changed = tuple(sorted(key for key, version in current.items() if before.get(key) != version))
    removed = tuple(sorted(set(before) - set(current)))
    return SourceChange(
        source,
        bool(changed) or previous is None,
        partition_keys=changed,
        removed_keys=removed,
        first=previous is None,
    )


def observe_source_sensor(
    project: Project,
    spec: AssetSpec,
    *,
    now: datetime | None = None,
    keys: Iterable[str] | None = None,
) -> str | dict[str, str]:
    """The current version of a source, observed as the planner observes it.

    For a partitioned source, the version of each partition, by key: every complete
    partition at `now`, or only `keys` when given (observing a file per day for years
    every interval is work; the scheduler may narrow it to recent ones). A partition
    that cannot be observed (its file has not landed yet) is left out.

    Args:
        project: The loaded project.
        spec: The source (one with `sensor=True`, though any source works).
        now: The instant whose complete partitions are observed (default: now).
        keys: The partitions to observe, instead of every complete one.

    Raises:
        SourceSensorError: An unpartitioned source's observer raised (the message is
            the planner's own warning: where the source is and what it raised).
        DefinitionError: `spec` is not a source.
    """
    from assetflow.sources import observe_sources

    if not spec.is_source:
        raise DefinitionError(
            f"'{spec.name}' is an asset, not a source: only a source is observed by a sensor."
        )
    if spec.partitions is None:
        observations = observe_sources(project, [spec.name])
        version = observations.versions.get((spec.name, None))
        if version is None:
            raise SourceSensorError(observations.errors.get((spec.name, None), spec.name))
        return version
    wanted = list(keys) if keys is not None else spec.partitions.keys(now or datetime.now(UTC))
    observations = observe_sources(project, [spec.name], {spec.name: wanted})
    return {
        key: version
        for (name, key), version in sorted(
            observations.versions.items(), key=lambda item: item[0][1] or ""
        )
        if name == spec.name and key is not None
    }

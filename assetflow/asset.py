"""@asset turns a typed function into a frozen AssetSpec that stays callable as the function."""

from __future__ import annotations

import inspect
import sys
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from inspect import CO_VARARGS, CO_VARKEYWORDS
from pathlib import Path
from types import FunctionType, MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar, overload

from assetflow.errors import DefinitionError, declared_at, display_path
from assetflow.retries import make_policy

# freshness and policies are imported where an asset declares a policy or a source its
# sensor interval: a project of plain assets loads without them (they cost a small run
# about as much as the rest of this module).
if TYPE_CHECKING:
    # Types only: partitions/, checks/ and retries import nothing of this module.
    from assetflow.checks.spec import CheckSpec
    from assetflow.freshness import FreshnessPolicy
    from assetflow.partitions.base import PartitionsDefinition
    from assetflow.partitions.mappings import PartitionMapping
    from assetflow.policies import AutomationPolicy
    from assetflow.retries import RetryPolicy

#: The parameter name reserved for the run context (run id, asset name, logger).
CONTEXT_PARAM = "context"
#: The group of an asset that names none.
DEFAULT_GROUP = "default"
#: How often the scheduler observes a source with `sensor=True`, unless it says.
DEFAULT_SENSOR_INTERVAL = timedelta(seconds=30)

F = TypeVar("F", bound=Callable[..., Any])


class _Missing:
    """Marks an annotation the user did not write."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


@dataclass(frozen=True, slots=True)
class Param:
    """One parameter of an asset function: an upstream asset, or `context`."""

    name: str
    has_default: bool
    annotation: Any = MISSING
    is_variadic: bool = False


@dataclass(frozen=True, slots=True)
class AssetSettings:
    """How an asset is selected, stored, partitioned, checked and run: what `@asset(...)` says.

    The one definition of each setting; the decorator builds it, AssetSpec holds it and
    shows each field as a property (`spec.io`, `spec.partitions`, ...). The values are
    checked when the graph is built, so that every problem of a project is reported
    at once.
    """

    #: a group to select by (`group:x`)
    group: str = DEFAULT_GROUP
    #: tags to select by (`tag:x`)
    tags: frozenset[str] = frozenset()
    #: the storage kind of the output: "auto" (decided from the return type) or a kind
    #: of the io registry (parquet, json, duckdb, none, or one a package registers)
    io: str = "auto"
    #: an explicit code version, or None to hash the normalised source
    code_version: str | None = None
    #: the asset's partitions, or None for an unpartitioned asset
    partitions: PartitionsDefinition | None = None
    #: declared partition mappings, by parameter name (e.g. {"raw_records": Window(7)})
    mappings: Mapping[str, PartitionMapping] = field(default_factory=lambda: MappingProxyType({}))
    #: checks attached with @asset(checks=[...]), run after each write
    checks: tuple[CheckSpec, ...] = ()
    #: how a failed attempt is retried, or None for no retries
    retry: RetryPolicy | None = None
    #: seconds an attempt may run before it is stopped (and counts as failed), or None
    timeout: float | None = None
    #: the concurrency pool the asset's steps take a slot of (`[tool.assetflow.pools]`)
    pool: str | None = None
    #: when the scheduler materializes the asset on its own (eager, on_cron, missing), or
    #: None; not part of the code version (it says when, not what, the asset computes)
    automation: AutomationPolicy | None = None
    #: for a source: whether the scheduler observes it every `sensor_interval` and runs
    #: its stale downstream when its version changed
    sensor: bool = False
    #: how often a source with `sensor=True` is observed
    sensor_interval: timedelta = DEFAULT_SENSOR_INTERVAL
    #: when it must have materialized (`freshness=`, `deadline=`), or None; not part of
    #: the code version (it says when, not what, the asset computes)
    freshness_policy: FreshnessPolicy | None = None


#: The settings of an asset declared without any.
NO_SETTINGS = AssetSettings()


@dataclass(frozen=True, eq=False)
class AssetSpec:
    """An asset: its function, name, inputs and settings. Calling it calls the function."""

    name: str
    fn: Callable[..., Any]
    params: tuple[Param, ...]
    returns: Any
    settings: AssetSettings = NO_SETTINGS
    description: str = ""
    file: str = ""
    line: int = 0
    #: a source is observed at plan time, never materialized; readers get its value
    is_source: bool = False
    #: the path (or `{partition}` pattern) a `file_source` reads, as declared
    source_path: str | None = None
    __assetflow_asset__: bool = field(default=True, init=False, repr=False)

    # Each setting, read through the spec as before AssetSettings held them.
    @property
    def group(self) -> str:
        return self.settings.group

    @property
    def tags(self) -> frozenset[str]:
        return self.settings.tags

    @property
    def io(self) -> str:
        return self.settings.io

    @property
    def code_version(self) -> str | None:
        return self.settings.code_version

    @property
    def partitions(self) -> PartitionsDefinition | None:
        return self.settings.partitions

    @property
    def mappings(self) -> Mapping[str, PartitionMapping]:
        return self.settings.mappings

    @property
    def checks(self) -> tuple[CheckSpec, ...]:
        return self.settings.checks

    @property
    def retry(self) -> RetryPolicy | None:
        return self.settings.retry

    @property
    def timeout(self) -> float | None:
        return self.settings.timeout

    @property
    def pool(self) -> str | None:
        return self.settings.pool

    @property
    def automation(self) -> AutomationPolicy | None:
        return self.settings.automation

    @property
    def sensor(self) -> bool:
        return self.settings.sensor

    @property
    def sensor_interval(self) -> timedelta:
        return self.settings.sensor_interval

    @property
    def freshness_policy(self) -> FreshnessPolicy | None:
        return self.settings.freshness_policy

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    @property
    def kind(self) -> str:
        """The storage kind: the declared `io`, else derived from the return annotation."""
        if self.is_source:
            return "source"
        if self.io != "auto":
            return self.io
        return kind_for_annotation(self.returns)

    @property
    def location(self) -> str:
        """Where the function is defined, as `file:line`."""
        return f"{self.file}:{self.line}"

    @property
    def wants_context(self) -> bool:
        return any(p.name == CONTEXT_PARAM for p in self.params)

    def input_params(self) -> tuple[Param, ...]:
        """The parameters other than `context`: each names an upstream asset or has a default."""
        return tuple(p for p in self.params if p.name != CONTEXT_PARAM)


def display_location(spec: AssetSpec, root: Path | None) -> str:
    """`file:line` of a spec, relative to the project when it is inside it."""
    return f"{display_path(spec.file, root)}:{spec.line}"


def kind_for_annotation(annotation: Any) -> str:
    """The storage kind a return annotation implies: parquet, json, none, or auto if unknown."""
    annotation = _strip_annotated(annotation)
    if annotation is MISSING:
        return "auto"
    if annotation is None or annotation is type(None):
        return "none"
    if is_table_type(annotation):
        return "parquet"
    return "json"


def is_table_type(annotation: Any) -> bool:
    """Whether an annotation is a pandas DataFrame or a pyarrow Table (without importing either)."""
    annotation = _strip_annotated(annotation)
    if isinstance(annotation, str):
        return annotation.rsplit(".", 1)[-1] in ("DataFrame", "Table")
    module = getattr(annotation, "__module__", "") or ""
    name = getattr(annotation, "__name__", "")
    return (module.startswith("pandas") and name == "DataFrame") or (
        module.startswith("pyarrow") and name == "Table"
    )


def _strip_annotated(annotation: Any) -> Any:
    if typing.get_origin(annotation) is typing.Annotated:
        return typing.get_args(annotation)[0]
    return annotation


@overload
def asset(fn: F, /) -> AssetSpec: ...


@overload
def asset(
    *,
    name: str | None = None,
    group: str | None = None,
    tags: Iterable[str] | str = (),
    description: str | None = None,
    io: str = "auto",
    code_version: str | None = None,
    partitions: PartitionsDefinition | None = None,
    mappings: Mapping[str, PartitionMapping] | None = None,
    checks: Iterable[CheckSpec] = (),
    retries: int = 0,
    retry_delay: float | Sequence[float] = 0.0,
    backoff: float = 1.0,
    jitter: float = 0.0,
    retry_on: type[BaseException] | Iterable[type[BaseException]] | None = None,
    timeout: float | None = None,
    pool: str | None = None,
    automation: str | AutomationPolicy | None = None,
    freshness: str | timedelta | None = None,
    deadline: str | None = None,
    timezone: str | None = None,
) -> Callable[[F], AssetSpec]: ...


def asset(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    group: str | None = None,
    tags: Iterable[str] | str = (),
    description: str | None = None,
    io: str = "auto",
    code_version: str | None = None,
    partitions: PartitionsDefinition | None = None,
    mappings: Mapping[str, PartitionMapping] | None = None,
    checks: Iterable[CheckSpec] = (),
    retries: int = 0,
    retry_delay: float | Sequence[float] = 0.0,
    backoff: float = 1.0,
    jitter: float = 0.0,
    retry_on: type[BaseException] | Iterable[type[BaseException]] | None = None,
    timeout: float | None = None,
    pool: str | None = None,
    automation: str | AutomationPolicy | None = None,
    freshness: str | timedelta | None = None,
    deadline: str | None = None,
    timezone: str | None = None,
) -> AssetSpec | Callable[[Callable[..., Any]], AssetSpec]:
    """Declare a function as an asset; its parameter names are its upstream assets.

    Usable bare (`@asset`) or with settings (`@asset(group="finance")`). The
    result is still callable exactly like the function, touching no store.

    Args:
        fn: The function, when used bare.
        name: The asset's name; defaults to the function's name.
        group: A group to select by (`group:x`); defaults to "default".
        tags: Tags to select by (`tag:x`).
        description: Defaults to the function's docstring.
        io: Where the output is stored: "auto", "parquet", "json", "duckdb" or "none".
        code_version: An explicit code version; by default the normalised source is hashed.
        partitions: A partitions definition (e.g. `DailyPartitions(start="2026-01-01")`):
            each partition is planned, materialized and recorded on its own.
        mappings: How a parameter's partitions map to this asset's, when it is not
            the default (e.g. `{"raw_records": Window(7)}`: the 7 days up to this one).
        checks: Data quality checks run after each write (`not_null("email")`, ...);
            a failed blocking check stops the assets downstream.
        retries: How many times a failed attempt is tried again.
        retry_delay: Seconds before a retry, or a list of them (one per retry).
        backoff: Each retry's delay is the previous one times this (2: doubling).
        jitter: The delay varies randomly by up to this fraction (0.2: +-20%).
        retry_on: The exception classes that are retried (default: any error).
        timeout: Seconds one attempt may run; a longer attempt is stopped and counts
            as a failure (a `TimeoutError`, retried like any other error).
        pool: A pool from `[tool.assetflow.pools]`: at most that many steps of all
            the assets naming the pool run at once.
        automation: When `assetflow scheduler` materializes the asset on its own:
            "eager" (an upstream was updated and it is stale), "missing" (partitions
            due and never materialized) or `on_cron("0 * * * *")` (once per cron
            interval, after its upstreams were updated). Not part of the code version.
        freshness: How recent its newest materialization must be: "6h", "30m", "1d",
            "1h30m" or a timedelta. For a partitioned asset, some partition must have
            materialized within it. `status`, `plan` and `health` show it overdue after.
        deadline: A local time of day "HH:MM" by which it must be done. With daily or
            hourly partitions: by HH:MM on day D, every partition that closed during
            D-1 (the day's partition, the one a `partition = "previous"` schedule
            builds at midnight; for hourly partitions each hour of D-1). Any other
            asset must have materialized since local midnight of D by HH:MM, and needs
            a schedule or an automation policy that runs it. Not part of the code version.
        timezone: The IANA time zone the deadline is read in (default "UTC"); give
            partitioned assets their partitions' timezone.

    Returns:
        The AssetSpec (or a decorator producing it).

    Raises:
        DefinitionError: `automation` names no policy; `freshness` is not a duration;
            `deadline` is not a time of day HH:MM; `timezone` is not a time zone.
    """

    settings = AssetSettings(
        group=group or DEFAULT_GROUP,
        tags=_tag_set(tags),
        io=io,
        code_version=code_version,
        partitions=partitions,
        mappings=MappingProxyType(dict(mappings or {})),
        checks=tuple(checks),
        retry=make_policy(retries, retry_delay, backoff, jitter, retry_on)
        if retries or retry_on is not None
        else None,
        timeout=timeout,
        pool=pool,
    )

    def decorate(function: Callable[..., Any]) -> AssetSpec:
        chosen = settings
        if automation is None and freshness is None and deadline is None and timezone is None:
            # Nothing to check here: no `file:line` to find (a project declares many).
            return make_spec(function, chosen, name=name, description=description)
        from assetflow.freshness import policy_of
        from assetflow.policies import automation_policy

        where = f"asset '{name or getattr(function, '__name__', '?')}' ({_where(function)})"
        if automation is not None:
            chosen = replace(chosen, automation=automation_policy(automation, where))
        policy = policy_of(freshness, deadline, timezone, where)
        if policy is not None:
            chosen = replace(chosen, freshness_policy=policy)
        return make_spec(function, chosen, name=name, description=description)

    if fn is not None:
        return decorate(fn)
    return decorate


@overload
def source(fn: F, /) -> AssetSpec: ...


@overload
def source(
    *,
    name: str | None = None,
    group: str | None = None,
    tags: Iterable[str] | str = (),
    description: str | None = None,
    partitions: PartitionsDefinition | None = None,
    sensor: bool = False,
    sensor_interval: str | float | timedelta = DEFAULT_SENSOR_INTERVAL,
) -> Callable[[F], AssetSpec]: ...


def source(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    group: str | None = None,
    tags: Iterable[str] | str = (),
    description: str | None = None,
    partitions: PartitionsDefinition | None = None,
    sensor: bool = False,
    sensor_interval: str | float | timedelta = DEFAULT_SENSOR_INTERVAL,
) -> AssetSpec | Callable[[Callable[..., Any]], AssetSpec]:
    """Declare an external input: a function that observes it, called at plan time.

    The function (which may take `context`) returns a small value that says
    which version of the outside data is there now (an ETag, a max timestamp, a
    file's `Path`). Assets that name the source as a parameter receive that
    value; when it changes, they are stale. A source is never materialized.

    Args:
        fn: The observer, when used bare.
        name: The source's name; defaults to the function's name.
        group: A group to select by.
        tags: Tags to select by.
        description: Defaults to the function's docstring.
        partitions: A partitions definition: the observer is then called once per
            partition its readers need, with `context.partition_key` set, and each
            partition is versioned on its own.
        sensor: Whether `assetflow scheduler` observes the source every
            `sensor_interval` and, when its version changed, materializes its stale
            downstream.
        sensor_interval: How often the scheduler observes it: `"30s"`, `"5m"`, a
            number of seconds or a timedelta (default 30 seconds).

    Returns:
        The source's AssetSpec (or a decorator producing it).

    Raises:
        DefinitionError: `sensor_interval` is not a positive duration.
    """

    def decorate(function: Callable[..., Any]) -> AssetSpec:
        from assetflow.policies import parse_interval

        where = f"source '{name or getattr(function, '__name__', '?')}' ({_where(function)})"
        return make_spec(
            function,
            AssetSettings(
                group=group or DEFAULT_GROUP,
                tags=_tag_set(tags),
                partitions=partitions,
                sensor=bool(sensor),
                sensor_interval=parse_interval(sensor_interval, f"{where}: sensor_interval"),
            ),
            name=name,
            description=description,
            is_source=True,
        )

    if fn is not None:
        return decorate(fn)
    return decorate


def file_source(
    name: str,
    path: str | Path,
    *,
    partitions: PartitionsDefinition | None = None,
    group: str | None = None,
    tags: Iterable[str] | str = (),
    description: str | None = None,
    sensor: bool = False,
    sensor_interval: str | float | timedelta = DEFAULT_SENSOR_INTERVAL,
) -> AssetSpec:
    """Declare a file the project reads as a source; its content hash is its version.

    Readers receive the file's absolute `Path` (a relative `path` is relative to
    the project directory). Editing the file stales them.

    With `partitions=`, the path is a pattern holding `{partition}`: each
    partition is its own file (`data/orders/{partition}.csv`), versioned on its
    own, so a new or edited day's file stales only that day's readers, and a
    missing one fails only that partition.

    Args:
        name: The source's name, which readers use as a parameter name.
        path: The file, or for a partitioned source the pattern of its files.
        partitions: A partitions definition, when there is one file per partition.
        group: A group to select by.
        tags: Tags to select by.
        description: What the file is.
        sensor: Whether `assetflow scheduler` watches the file (every
            `sensor_interval`) and, when its content changed, materializes its
            stale downstream.
        sensor_interval: How often the scheduler looks: `"30s"`, `"5m"`, a number
            of seconds or a timedelta (default 30 seconds).

    Returns:
        The source's AssetSpec.

    Raises:
        DefinitionError: `sensor_interval` is not a positive duration.
    """
    from assetflow.policies import parse_interval

    pattern = Path(path).as_posix() if isinstance(path, Path) else str(path)

    def observe(context: Any) -> Path:
        root = context.project_dir or Path.cwd()
        key = context.partition_key
        # `replace`, not `format`: a pattern may hold other braces of its own.
        relative = Path(pattern.replace(PARTITION_FIELD, key) if key is not None else pattern)
        return relative if relative.is_absolute() else (root / relative).resolve()

    caller = sys._getframe(1)
    where = f"file_source '{name}' ({declared_at(caller.f_code.co_filename, caller.f_lineno)})"
    return make_spec(
        observe,
        AssetSettings(
            group=group or DEFAULT_GROUP,
            tags=_tag_set(tags),
            partitions=partitions,
            sensor=bool(sensor),
            sensor_interval=parse_interval(sensor_interval, f"{where}: sensor_interval"),
        ),
        name=name,
        description=description or f"The file {pattern}.",
        is_source=True,
        source_path=pattern,
        # Point messages at the declaration, not at this module.
        location=(caller.f_code.co_filename, caller.f_lineno),
    )


#: The field of a partitioned file source's pattern that each partition key fills in.
PARTITION_FIELD = "{partition}"


def make_spec(
    fn: Callable[..., Any],
    settings: AssetSettings = NO_SETTINGS,
    *,
    name: str | None = None,
    description: str | None = None,
    is_source: bool = False,
    source_path: str | None = None,
    location: tuple[str, int] | None = None,
) -> AssetSpec:
    """Build the AssetSpec of a function with its settings.

    Validation happens when the graph is built, so that every problem of a project
    is reported at once.

    Args:
        fn: The function (or an AssetSpec, whose function is taken).
        settings: The asset's settings.
        name: The asset's name; defaults to the function's name.
        description: Defaults to the function's docstring.
        is_source: Whether the function observes a source rather than builds an asset.
        source_path: The path or pattern of a file source, for messages and checks.
        location: The (file, line) messages point at; defaults to the function's.

    Returns:
        The AssetSpec, which looks like the function to help() and inspect.

    Raises:
        TypeError: ``fn`` is not callable.
        DefinitionError: A non-source carries `sensor=True`, or a source an automation
            policy (a source is observed, never materialized).
    """
    if isinstance(fn, AssetSpec):
        fn = fn.fn
    if not callable(fn):
        raise TypeError(f"@asset decorates functions, not {type(fn).__name__}")
    _check_kind_settings(fn, settings, name, is_source, location)
    hints = _type_hints(fn)
    params = tuple(
        Param(name, has_default, hints.get(name, MISSING), is_variadic)
        for name, has_default, is_variadic in parameters(fn)
    )
    code = getattr(fn, "__code__", None)
    if location is None:
        location = (code.co_filename, code.co_firstlineno) if code else ("", 0)
    spec = AssetSpec(
        name=name if name is not None else fn.__name__,
        fn=fn,
        params=params,
        returns=hints.get("return", MISSING),
        settings=settings,
        description=description if description is not None else inspect.getdoc(fn) or "",
        file=location[0],
        line=location[1],
        is_source=is_source,
        source_path=source_path,
    )
    # Look like the function to help(), inspect.signature() and doc tools.
    for attribute in ("__module__", "__name__", "__qualname__", "__doc__"):
        object.__setattr__(spec, attribute, getattr(fn, attribute, None))
    object.__setattr__(spec, "__wrapped__", fn)
    return spec


def _check_kind_settings(
    fn: Callable[..., Any],
    settings: AssetSettings,
    name: str | None,
    is_source: bool,
    location: tuple[str, int] | None,
) -> None:
    """A sensor belongs to a source, an automation policy to an asset."""
    wrong_sensor = settings.sensor and not is_source
    if not wrong_sensor and not (is_source and settings.automation is not None):
        return
    shown = name or getattr(fn, "__name__", "?")
    where = declared_at(*location) if location else _where(fn)
    if wrong_sensor:
        raise DefinitionError(
            f"asset '{shown}' ({where}) has sensor=True, but only a source is observed by "
            "a sensor. Declare it with @source(sensor=True) or file_source(..., sensor=True), "
            'or give the asset automation="eager" to run it when its upstream changes.'
        )
    raise DefinitionError(
        f"source '{shown}' ({where}) has an automation policy, but a source is observed, "
        "never materialized. Give it sensor=True to run its downstream when it changes, "
        "and put automation= on the assets that read it."
    )


def _where(fn: Callable[..., Any]) -> str:
    """`file:line` of a function, for messages raised when it is decorated."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return "?"
    return declared_at(code.co_filename, code.co_firstlineno)


def _tag_set(tags: Iterable[str] | str) -> frozenset[str]:
    """`tags="x"` is one tag, not the characters of "x"."""
    return frozenset([tags] if isinstance(tags, str) else tags)


def parameters(fn: Callable[..., Any]) -> list[tuple[str, bool, bool]]:
    """Each parameter of ``fn`` in order, as (name, has a default, is *args or **kwargs).

    What `inspect.signature` says; read from the code object of a plain function
    (a project declares hundreds, and the signature is most of a decoration's cost),
    through `inspect.signature` for anything else (a wrapper, a partial, a callable
    object, a function given its own `__signature__`).
    """
    code = getattr(fn, "__code__", None)
    if (
        type(fn) is not FunctionType
        or code is None
        or hasattr(fn, "__wrapped__")
        or hasattr(fn, "__signature__")
    ):
        return [
            (p.name, p.default is not p.empty, p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD))
            for p in inspect.signature(fn).parameters.values()
        ]
    names = code.co_varnames
    positional, keyword_only = code.co_argcount, code.co_kwonlyargcount
    first_default = positional - len(fn.__defaults__ or ())
    keyword_defaults = fn.__kwdefaults__ or {}
    found = [(names[i], i >= first_default, False) for i in range(positional)]
    after = positional + keyword_only  # where *args and **kwargs are named
    if code.co_flags & CO_VARARGS:
        found.append((names[after], False, True))
        after += 1
    found += [
        (name, name in keyword_defaults, False)
        for name in names[positional : positional + keyword_only]
    ]
    if code.co_flags & CO_VARKEYWORDS:
        found.append((names[after], False, True))
    return found


def _type_hints(fn: Callable[..., Any]) -> dict[str, Any]:
    """Resolved annotations; unresolvable string annotations are kept as strings."""
    try:
        return typing.get_type_hints(fn, include_extras=True)
    except Exception:
        return dict(getattr(fn, "__annotations__", {}))

"""The automation a project declares, checked against its graph.

Schedules come from `[tool.assetflow.schedules.NAME]` tables and from
`assetflow.schedule(...)` objects in the project's modules; sensors from
`@sensor` functions; source sensors from sources declared with `sensor=True`;
automated assets from `@asset(automation=...)`. `load_automation` gathers them
all, resolves each selection against the graph, and reports every problem at
once, before anything is started.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from assetflow.automation.schedules import Schedule, check_unique, schedules_from_table
from assetflow.automation.sensors import SensorSpec
from assetflow.errors import AssetflowError, DefinitionError, Problem, UsageError, suggest
from assetflow.services.planning import select

if TYPE_CHECKING:
    from assetflow.asset import AssetSpec
    from assetflow.config import SchedulerSettings
    from assetflow.partitions import PartitionsDefinition
    from assetflow.policies import AutomationPolicy
    from assetflow.project import Project
    from assetflow.request import PartitionRequest


@dataclass(frozen=True, slots=True)
class ScheduleTarget:
    """A schedule with what its selection resolves to in the project."""

    schedule: Schedule
    #: the selected assets, in dependency order
    assets: tuple[str, ...]
    #: the selected partitioned assets and their partitions, in dependency order
    partitioned: tuple[tuple[str, PartitionsDefinition], ...] = ()

    @property
    def name(self) -> str:
        return self.schedule.name

    @property
    def origin(self) -> str:
        return self.schedule.origin

    @property
    def reference(self) -> PartitionsDefinition | None:
        """The partitions of the first partitioned selected asset, or None."""
        return self.partitioned[0][1] if self.partitioned else None

    def partitions_at(self, tick: datetime, now: datetime) -> PartitionRequest | None:
        """The partitions a tick at `tick`, evaluated at `now`, runs (None: no partition).

        Each partitioned asset gets its own: the partition of its definition that had
        closed at the tick (`previous`) or by `now` (`latest`). So a nightly tick over a
        daily and a monthly asset runs yesterday of the one and last month of the other.
        An asset none of whose partitions had closed yet runs none.

        Raises:
            UsageError: No partition of the first partitioned asset had closed by then.
        """
        from assetflow.partitions.dynamic import DynamicPartitions
        from assetflow.request import PartitionRequest

        setting = self.schedule.partition
        reference = self.reference
        if setting is None or reference is None:
            return None
        at = tick if setting == "previous" else now
        try:
            key = reference.latest(at)
        except AssetflowError as error:
            raise UsageError(
                f"schedule '{self.name}' asks for the {setting} partition at "
                f"{at.isoformat()}, but none of {reference.describe()} had closed "
                f"by then ({error.message})"
            ) from error
        each: list[tuple[str, str]] = []
        latest: dict[PartitionsDefinition, str | None] = {reference: key}
        for name, definition in self.partitioned:
            if isinstance(definition, DynamicPartitions):
                continue  # no key of theirs closes at an instant: planned as requested
            if definition not in latest:
                try:
                    latest[definition] = definition.latest(at)
                except AssetflowError:
                    latest[definition] = None
            own = latest[definition]
            if definition != reference and own is not None:
                each.append((name, own))
        return PartitionRequest(key, key, tuple(each))


@dataclass(frozen=True, slots=True)
class Automation:
    """Everything a project asks the scheduler to do on its own."""

    schedules: tuple[ScheduleTarget, ...]
    sensors: tuple[SensorSpec, ...]
    #: sources declared with `sensor=True`
    source_sensors: tuple[AssetSpec, ...]
    #: automated assets and their policy
    policies: Mapping[str, AutomationPolicy]
    settings: SchedulerSettings

    @property
    def origins(self) -> tuple[str, ...]:
        """Every schedule's and sensor's origin (`schedule:NAME`, `sensor:NAME`)."""
        return (
            tuple(t.origin for t in self.schedules)
            + tuple(s.origin for s in self.sensors)
            + tuple(f"sensor:{s.name}" for s in self.source_sensors)
        )

    def schedule(self, name: str) -> ScheduleTarget:
        """The schedule named `name`.

        Raises:
            UsageError: No schedule has that name (with did-you-mean).
        """
        for target in self.schedules:
            if target.name == name:
                return target
        names = [t.name for t in self.schedules]
        listed = ", ".join(names) if names else "none"
        raise UsageError(
            f"no schedule is named '{name}' (the project's schedules: {listed}).",
            hint=_did_you_mean(name, names)
            + "`assetflow schedules` lists them; docs/automation.md says how to declare one.",
        )


def _did_you_mean(name: str, names: Sequence[str]) -> str:
    found = suggest(name, names)
    return f"Did you mean '{found[0]}'? " if found else ""


def load_automation(project: Project) -> Automation:
    """The project's schedules, sensors and automated assets, checked against its graph.

    Raises:
        DefinitionError: Every problem found (a bad setting, a selection that selects
            nothing, `partition` on a selection without partitions, two schedules or
            sensors with one name), at once.
    """
    from assetflow.errors import display_path

    location = project.location
    config_name = display_path(location.config_file, location.root)
    problems: list[Problem] = []
    schedules: list[Schedule] = []
    where: dict[str, str] = {}
    try:
        for found in schedules_from_table(location.config.schedules, config_name):
            schedules.append(found)
            where.setdefault(
                found.name, f"[tool.assetflow.schedules.{found.name}] in {config_name}"
            )
    except DefinitionError as error:
        problems.extend(error.problems)
    except AssetflowError as error:
        problems.append(Problem(config_name, 0, error.format_message()))
    sensors: list[SensorSpec] = []
    for module_name in location.config.modules:
        module = importlib.import_module(module_name)
        for value in vars(module).values():
            if isinstance(value, Schedule) and value not in schedules:
                schedules.append(value)
                where.setdefault(value.name, f"module {module_name}")
            elif isinstance(value, SensorSpec) and value not in sensors:
                sensors.append(value)
    try:
        check_unique(schedules, where)
    except DefinitionError as error:
        problems.extend(error.problems)
    except AssetflowError as error:
        problems.append(Problem(config_name, 0, error.format_message()))
    problems.extend(_sensor_name_problems(sensors, schedules))
    targets = []
    for found in schedules:
        target = _target(project, found, where.get(found.name, config_name), problems)
        if target is not None:
            targets.append(target)
    for spec in sensors:
        _check_selection(project, f"sensor '{spec.name}'", spec.select, spec.exclude, problems)
    graph = project.graph
    specs = [graph.spec(name) for name in graph.names]
    problems.extend(_deadline_problems(project, specs, targets))
    if problems:
        raise DefinitionError(problems)
    return Automation(
        schedules=tuple(targets),
        sensors=tuple(sensors),
        source_sensors=tuple(s for s in specs if s.is_source and s.sensor),
        policies={s.name: s.automation for s in specs if s.automation is not None},
        settings=location.config.scheduler,
    )


def _deadline_problems(
    project: Project, specs: Sequence[AssetSpec], targets: Sequence[ScheduleTarget]
) -> list[Problem]:
    """A deadline on an asset without daily or hourly partitions means "materialized
    since local midnight by HH:MM", which only something that runs it daily can meet:
    a schedule that selects it, or its own automation policy."""
    from assetflow.asset import display_location
    from assetflow.freshness import is_daily_or_finer

    scheduled = {name for target in targets for name in target.assets}
    problems = []
    for spec in specs:
        policy = spec.freshness_policy
        if policy is None or policy.deadline is None or is_daily_or_finer(spec.partitions):
            continue
        if spec.name in scheduled or spec.automation is not None:
            continue
        kind = (
            "no partitions"
            if spec.partitions is None
            else f"partitions that are not daily or hourly ({spec.partitions.describe()})"
        )
        problems.append(
            Problem(
                "",
                0,
                f"asset '{spec.name}' ({display_location(spec, project.location.root)}) has "
                f'deadline="{policy.deadline.strftime("%H:%M")}" but {kind}, and no schedule '
                'selects it. On such an asset a deadline means "materialized since local '
                'midnight by that time", which only a daily schedule can meet. To fix '
                'this, use freshness= instead (e.g. freshness="1d"), give it daily '
                "partitions (a deadline then asks for the previous day's partition), or "
                "select it in a schedule (docs/automation.md).",
            )
        )
    return problems


def _sensor_name_problems(
    sensors: Sequence[SensorSpec], schedules: Sequence[Schedule]
) -> list[Problem]:
    problems = []
    seen: dict[str, SensorSpec] = {}
    for spec in sensors:
        other = seen.setdefault(spec.name, spec)
        if other is not spec:
            problems.append(
                Problem(
                    spec.module,
                    spec.line,
                    f"two sensors are named '{spec.name}' ({other.module}:{other.line} and "
                    f"{spec.module}:{spec.line}); a sensor's name keys its cursor and its "
                    "ticks in the store, so each must be unique. To fix this, rename one "
                    "(`@sensor(name=...)`).",
                )
            )
    return problems


def _check_selection(
    project: Project,
    owner: str,
    selection: str | None,
    exclude: str | None,
    problems: list[Problem],
) -> tuple[str, ...] | None:
    if selection is None:
        return None
    try:
        names = select(project, selection, exclude)
    except AssetflowError as error:
        problems.append(
            Problem(
                "",
                0,
                f"the selection '{selection}' of {owner} is invalid: {error.format_message()}",
            )
        )
        return None
    if not names:
        problems.append(
            Problem(
                "",
                0,
                f"the selection '{selection}' of {owner} selects no asset. To fix this, "
                "change it to select something: `assetflow list SELECTION` shows what a "
                "selection selects.",
            )
        )
        return None
    return tuple(project.graph.topological_order(names))


def _target(
    project: Project, schedule: Schedule, where: str, problems: list[Problem]
) -> ScheduleTarget | None:
    owner = f"schedule '{schedule.name}' ({where})"
    names = _check_selection(project, owner, schedule.select, schedule.exclude, problems)
    if names is None:
        return None
    partitioned = tuple(
        (name, definition)
        for name, definition in ((n, project.graph.spec(n).partitions) for n in names)
        if definition is not None
    )
    if schedule.partition is not None and not partitioned:
        problems.append(
            Problem(
                "",
                0,
                f'{owner} sets partition = "{schedule.partition}", but none of the assets '
                f"its selection '{schedule.select}' selects is partitioned. To fix this, "
                "remove the `partition` setting, or select partitioned assets (`assetflow "
                "list` shows which are).",
            )
        )
        return None
    if schedule.partition is not None and _is_dynamic(partitioned[0][1]):
        first = partitioned[0][0]
        problems.append(
            Problem(
                "",
                0,
                f'{owner} sets partition = "{schedule.partition}", but its first '
                f"partitioned asset '{first}' has dynamic partitions, and no key of "
                "those closes at a tick. To fix this, remove the `partition` setting "
                "(every key that is not fresh runs), or start runs for new keys from a "
                "sensor (docs/sensors.md).",
            )
        )
        return None
    return ScheduleTarget(schedule, names, partitioned)


def _is_dynamic(definition: PartitionsDefinition) -> bool:
    from assetflow.partitions.dynamic import DynamicPartitions

    return isinstance(definition, DynamicPartitions)

"""Schedule: what a schedule is (one pydantic model), from config tables or `assetflow.schedule`.

Both ways of declaring a schedule, a `[tool.assetflow.schedules.NAME]` table and an
`assetflow.schedule(...)` object in a project module, build the same frozen model.
Every bad setting becomes a one-paragraph message that names the place and the
setting; pydantic's own error text never reaches the user.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import sys
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from types import FrameType
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from assetflow.automation.cadence import (
    Cadence,
    cron_cadence,
    interval_cadence,
    parse_duration,
    zone,
)
from assetflow.automation.calendars import Calendar, make_calendar
from assetflow.automation.errors import ScheduleError
from assetflow.errors import as_written, did_you_mean, kind_of, suggest

#: What a schedule's name may be: it is part of tick origins and run triggers.
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,99}")
_BOTH = (
    "the schedule has both cron and every, but it ticks either on a cron line or at an "
    "interval: keep the one you mean"
)
_NEITHER = (
    "the schedule has neither cron nor every, so it never ticks: add a cron line such as "
    'cron = "0 3 * * *" or an interval such as every = "15m"'
)


class CalendarSettings(BaseModel):
    """The `calendar` setting of a schedule: the days it skips."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    business_days: bool = Field(default=False, strict=True)
    holidays: tuple[date, ...] = ()
    country: str | None = None
    subdivision: str | None = None


class Schedule(BaseModel):
    """A schedule: a cadence (cron or every) in a zone, the selection it runs, and how."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    cron: str | None = None
    every: str | None = None
    timezone: str = "UTC"
    select: str = "*"
    exclude: str | None = None
    partition: Literal["previous", "latest"] | None = None
    catchup: Literal["all", "latest", "none"] = "latest"
    max_catchup: int = Field(default=10, ge=1, strict=True)
    start: datetime | None = None
    calendar: CalendarSettings | None = None
    enabled: bool = Field(default=True, strict=True)
    overlap: Literal["queue", "skip"] = "queue"
    max_concurrent_runs: int = Field(default=1, ge=1, strict=True)
    tags: dict[str, str] = Field(default_factory=dict)

    _declared_in: str = PrivateAttr(default="")

    @field_validator("name")
    @classmethod
    def _check_name(cls, name: str) -> str:
        if not _NAME.fullmatch(name):
            raise ValueError(
                f"the name '{name}' cannot name a schedule: use letters, digits, '_', '-' and "
                "'.', starting with a letter or '_' (at most 100 characters), e.g. 'nightly'"
            )
        return name

    @field_validator("cron")
    @classmethod
    def _check_cron(cls, cron: str | None, info: ValidationInfo) -> str | None:
        if cron is not None:
            _raise_as_value_error(lambda: cron_cadence(cron, name=info.data.get("name", "")))
        return cron

    @field_validator("every")
    @classmethod
    def _check_every(cls, every: str | None) -> str | None:
        if every is not None:
            _raise_as_value_error(lambda: parse_duration(every, "every"))
        return every

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, timezone: str) -> str:
        _raise_as_value_error(lambda: zone(timezone))
        return timezone

    @field_validator("start")
    @classmethod
    def _check_start(cls, start: datetime | None) -> datetime | None:
        if start is not None and start.utcoffset() is None:
            raise ValueError(
                f"start '{start.isoformat()}' has no UTC offset: write the instant with its "
                'offset, e.g. start = "2026-03-02T03:00:00+01:00" or '
                '"2026-03-02T02:00:00Z"'
            )
        return start

    @field_validator("calendar")
    @classmethod
    def _check_calendar(cls, calendar: CalendarSettings | None) -> CalendarSettings | None:
        if calendar is not None:
            _raise_as_value_error(lambda: _calendar(calendar))
        return calendar

    @model_validator(mode="after")
    def _check_one_cadence(self) -> Schedule:
        if self.cron is not None and self.every is not None:
            raise ValueError(_BOTH)
        if self.cron is None and self.every is None:
            raise ValueError(_NEITHER)
        return self

    def __eq__(self, other: object) -> bool:
        """Equal settings are equal schedules, wherever they were declared."""
        if not isinstance(other, Schedule):
            return NotImplemented
        return self.model_dump() == other.model_dump()

    __hash__ = None  # type: ignore[assignment]  # tags is a dict

    @property
    def origin(self) -> str:
        """What ticks and runs of this schedule are recorded under: "schedule:<name>"."""
        return f"schedule:{self.name}"

    @property
    def declared_in(self) -> str:
        """Where the schedule was declared, for messages ("" when not known)."""
        return self._declared_in

    def cadence(self, first_seen: datetime) -> Cadence:
        """When this schedule's ticks fall; `every` is anchored at `start`, else `first_seen`."""
        if self.cron is not None:
            return cron_cadence(self.cron, self.timezone, name=self.name)
        assert self.every is not None
        return interval_cadence(self.every, self.start or first_seen, self.timezone)

    @property
    def calendar_rules(self) -> Calendar | None:
        """The days this schedule skips, or None for no calendar."""
        return None if self.calendar is None else _calendar(self.calendar)

    def excluded(self, tick: datetime) -> str | None:
        """Why a tick is skipped by the calendar (its local date in the zone), or None."""
        rules = self.calendar_rules
        if rules is None:
            return None
        return rules.excluded(tick.astimezone(zone(self.timezone)).date())

    @property
    def fingerprint(self) -> str:
        """A digest of what decides the ticks (cron or every and its start, and the zone):
        when it changes, the schedule was edited."""
        decisive: dict[str, str | None] = {
            "cron": self.cron,
            "every": self.every,
            "timezone": self.timezone,
        }
        if self.every is not None and self.start is not None:
            decisive["start"] = self.start.isoformat()
        text = json.dumps(decisive, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@functools.lru_cache(maxsize=1024)
def _calendar(settings: CalendarSettings) -> Calendar:
    return make_calendar(
        business_days=settings.business_days,
        holidays=settings.holidays,
        country=settings.country,
        subdivision=settings.subdivision,
        where="the calendar",
    )


def _raise_as_value_error(check: Any) -> None:
    """Run a check; its ScheduleError becomes the ValueError pydantic collects."""
    try:
        check()
    except ScheduleError as error:
        raise ValueError(error.message) from None


# -- building schedules, with our messages -------------------------------------------------


def schedule(name: str, **settings: Any) -> Schedule:
    """A schedule declared in a project module: ``nightly = assetflow.schedule("nightly",
    cron="0 3 * * *", timezone="Europe/Berlin", select="+daily_report")``.

    Raises:
        ScheduleError: any setting is wrong (all of them named in one message).
    """
    place = _place(sys._getframe(1))
    where = f"assetflow.schedule('{name}', ...) in {place}"
    built, problems = _build(name, settings, where)
    if built is None:
        raise ScheduleError(_together(problems, f"assetflow.schedule('{name}', ...)"))
    built._declared_in = where
    return built


def _place(frame: FrameType) -> str:
    """Where a module-level `schedule(...)` call is, as the project shows its files: the
    module's path from the directory it was imported from, with that directory's name
    ("proj/assets.py:12", "proj/pipelines/nightly.py:3"), never the whole machine path."""
    file = Path(frame.f_code.co_filename)
    module = frame.f_globals.get("__name__")
    if not isinstance(module, str) or module == "__main__" or not file.is_absolute():
        return f"{file}:{frame.f_lineno}"
    depth = module.count(".") + 2 + (file.name == "__init__.py")
    return f"{'/'.join(file.parts[-depth:])}:{frame.f_lineno}"


def schedules_from_table(table: Mapping[str, Any], source: str) -> list[Schedule]:
    """The schedules of a parsed `[tool.assetflow.schedules]` table ({name: {settings}}).

    `source` is the config file's display name ("pyproject.toml").

    Raises:
        ScheduleError: one message with every problem of every schedule.
    """
    built: list[Schedule] = []
    problems: list[str] = []
    for name, settings in table.items():
        where = f"[tool.assetflow.schedules.{name}] in {source}"
        if not isinstance(settings, Mapping):
            problems.append(
                f"{where}: a schedule is a table of settings, not {kind_of(settings)}: write "
                f'[tool.assetflow.schedules.{name}] followed by lines such as cron = "0 3 * * *"'
            )
            continue
        if "name" in settings:
            problems.append(
                f"{where}: has a 'name' setting, but the table's own name is the schedule's "
                "name: remove the line"
            )
            continue
        one, found = _build(str(name), settings, where)
        problems.extend(found)
        if one is not None:
            one._declared_in = where
            built.append(one)
    if problems:
        raise ScheduleError(_together(problems, source))
    return built


def check_unique(schedules: Sequence[Schedule], where: Mapping[str, str] = {}) -> None:
    """Raise if two schedules share a name, naming where each was declared.

    A schedule's place is its `declared_in` (set by `schedule` and
    `schedules_from_table`); `where` gives the place for a name that has none.

    Raises:
        ScheduleError: two or more schedules with the same name.
    """
    places: dict[str, list[str]] = {}
    for one in schedules:
        place = one.declared_in or where.get(one.name, "an unknown place")
        places.setdefault(one.name, []).append(place)
    problems = [
        f"two schedules are named '{name}': "
        + " and ".join(found)
        + ". A schedule's name identifies its ticks and runs, so it must be unique: "
        "rename one of them"
        for name, found in sorted(places.items())
        if len(found) > 1
    ]
    if problems:
        raise ScheduleError(_together(problems, "the project"))


def _build(name: str, settings: Mapping[str, Any], where: str) -> tuple[Schedule | None, list[str]]:
    """A schedule, or None and every problem with its settings, each a sentence."""
    try:
        return Schedule.model_validate({"name": name, **settings}), []
    except ValidationError as error:
        problems: list[str] = []
        for item in error.errors():
            text = _explain(item, where)
            if text not in problems:
                problems.append(text)
        return None, problems


_SETTINGS = sorted(set(Schedule.model_fields) - {"name"})
_CALENDAR_SETTINGS = sorted(CalendarSettings.model_fields)


def _explain(item: Any, where: str) -> str:
    """One pydantic error as our sentence: the place, the setting, what is allowed."""
    location = [str(part) for part in item["loc"]]
    setting = ".".join(location) or "the schedule"
    kind = item["type"]
    value = item.get("input")
    if kind == "value_error":
        reason = str(item["ctx"]["error"])
        return f"{where}: {reason}"
    if kind == "extra_forbidden":
        known = _CALENDAR_SETTINGS if location[:1] == ["calendar"] else _SETTINGS
        last = location[-1]
        hint = did_you_mean(suggest(last, known))
        return (
            f"{where}: unknown setting '{setting}'. "
            + (hint + " " if hint else "")
            + "The settings are: "
            + ", ".join(known)
        )
    if kind == "literal_error":
        return f"{where}: {setting} = {as_written(value)} is not allowed: use " + str(
            item["ctx"]["expected"]
        ).replace(" or ", " or ")
    if kind == "greater_than_equal":
        return f"{where}: {setting} = {as_written(value)} is too small: it must be at least 1"
    if kind.startswith("int"):
        return (
            f"{where}: {setting} = {as_written(value)} is not a whole number: "
            f"write e.g. {setting} = 2"
        )
    if kind.startswith("bool"):
        return f"{where}: {setting} = {as_written(value)} is not true or false"
    if kind.startswith("datetime"):
        return (
            f"{where}: {setting} = {as_written(value)} is not an instant: write an ISO date and "
            'time with its offset, e.g. start = "2026-03-02T03:00:00+01:00"'
        )
    if kind.startswith("date"):
        return (
            f"{where}: {setting} = {as_written(value)} is not a date: write ISO dates, e.g. "
            'holidays = ["2026-12-24", "2026-12-31"]'
        )
    if kind.startswith("string"):
        return f"{where}: {setting} = {as_written(value)} is not a string: put it in quotes"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"{where}: {setting} = {as_written(value)} is not a table of settings"
    if kind in ("tuple_type", "list_type"):
        return f"{where}: {setting} = {as_written(value)} is not a list"
    if kind == "missing":
        return f"{where}: the setting '{setting}' is missing"
    return f"{where}: {setting} = {as_written(value)} is not valid here"


def _together(problems: Sequence[str], source: str) -> str:
    """One message: a single problem as its paragraph, several as a numbered count."""
    sentences = [p if p.endswith((".", "?")) else p + "." for p in problems]
    if len(sentences) == 1:
        return sentences[0]
    return f"{source} has {len(sentences)} schedule problems:\n\n" + "\n\n".join(sentences)

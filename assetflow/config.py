"""The project configuration: the `[tool.assetflow]` table, checked and read into frozen records.

Every command reads it first, so it is checked by the small readers here rather
than by a validation library whose import would cost more than the rest of a
no-op run. Each setting is a dataclass field whose metadata holds its check: a
function from what TOML gave to the value kept, raising `Invalid` with what is
wrong. `read_config` reports every problem of a table at once, each under the
dotted key it belongs to (`scheduler.lease_seconds`, `io.warehouse.schema`).

The tables the configuration keeps as written (`schedules`, `alerts`,
`openlineage`) are checked by the features that read them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from assetflow.errors import ProjectError, did_you_mean, suggest

DEFAULT_STATE_DIR = ".assetflow"
#: How long, in seconds, a read or write of the DuckDB file waits while another program
#: holds it, unless `duckdb_wait` says otherwise (as `assetflow.io.base`'s default).
DEFAULT_DUCKDB_WAIT_S = 30.0

Record = TypeVar("Record")
Check = Callable[[Any], Any]


class Invalid(ValueError):
    """A setting's value does not fit: the message says what it must be; ``key`` names
    the entry of a table that does not (`pools.api`), if it is one."""

    def __init__(self, message: str, key: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.key = key


# ---------------------------------------------------------------- checks of one value


def _shown(value: Any) -> str:
    """A value as a message quotes it (a table or a list by its kind, not its contents)."""
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def whole(minimum: int) -> Check:
    """A whole number of at least ``minimum``."""

    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise Invalid(f"must be a whole number, not {_shown(value)}")
        if value < minimum:
            raise Invalid(f"must be {minimum} or more, not {value}")
        return value

    return check


def number(*, above: float | None = None, at_least: float | None = None) -> Check:
    """A number (an integer is taken as a float) greater than ``above``, or at least
    ``at_least``."""

    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise Invalid(f"must be a number, not {_shown(value)}")
        if above is not None and not value > above:
            raise Invalid(f"must be greater than {above:g}, not {value}")
        if at_least is not None and not value >= at_least:
            raise Invalid(f"must be {at_least:g} or more, not {value}")
        return float(value)

    return check


def text(*, max_length: int | None = None) -> Check:
    """A non-empty string (of at most ``max_length`` characters)."""

    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise Invalid(f"must be a string, not {_shown(value)}")
        if not value:
            raise Invalid("must not be empty")
        if max_length is not None and len(value) > max_length:
            raise Invalid(f"must be at most {max_length} characters long, not {len(value)}")
        return value

    return check


def one_of(*choices: str) -> Check:
    """One of ``choices``."""

    def check(value: Any) -> str:
        if value not in choices:
            listed = " or ".join(repr(choice) for choice in choices)
            raise Invalid(f"must be {listed}, not {_shown(value)}")
        return str(value)

    return check


def boolean(value: Any) -> bool:
    """true or false."""
    if not isinstance(value, bool):
        raise Invalid(f"must be true or false, not {_shown(value)}")
    return value


def names(value: Any) -> tuple[str, ...]:
    """A list of non-empty strings (one string is a list of one)."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        raise Invalid(f"must be a list of strings, not {_shown(value)}")
    for item in items:
        if not isinstance(item, str) or not item:
            raise Invalid(f"must be a list of non-empty strings; {_shown(item)} is not one")
    return tuple(items)


def table(value: Any) -> dict[str, Any]:
    """A table, kept as written."""
    if not isinstance(value, dict):
        raise Invalid(f"must be a table, not {_shown(value)}")
    return dict(value)


def table_of(check: Check) -> Check:
    """A table whose every value passes ``check`` (`pools`, `[tool.assetflow.alerts.NAME]`)."""

    def check_each(value: Any) -> dict[str, Any]:
        checked = {}
        for name, item in table(value).items():
            try:
                checked[name] = check(item)
            except Invalid as error:
                raise Invalid(error.message, key=name) from None
        return checked

    return check_each


#: How a section read in its own right (`[tool.assetflow.scheduler]`) is read: from the
#: value, the dotted key it is under, and the problems to add to; None after a problem.
Reader = Callable[[Any, str, "Problems"], Any]


def setting(
    check: Check | None = None,
    default: Any = dataclasses.MISSING,
    *,
    key: str = "",
    read: Reader | None = None,
    example: str = "",
) -> Any:
    """A field read from the key of its name (or ``key``) through ``check`` (or ``read``,
    for a section with settings of its own); without a default, the key is required
    (``example`` shows what it looks like)."""
    metadata = {"check": check, "read": read, "key": key, "example": example}
    if isinstance(default, dict):
        return field(default_factory=lambda: dict(default), metadata=metadata)
    return field(default=default, metadata=metadata)


def section(cls: type[Any]) -> Reader:
    """A table read into ``cls``, a record of `setting`s."""

    def read(value: Any, where: str, problems: Problems) -> Any:
        return read_section(cls, value, where, problems)

    return read


# ---------------------------------------------------------------- reading a table


@dataclass
class Problems:
    """What is wrong with a table, a line per problem, each under its dotted key."""

    lines: list[str] = field(default_factory=list)

    def add(self, where: str, message: str) -> None:
        self.lines.append(f"  {where + ': ' if where else ''}{message}")


def read_section(
    cls: type[Record], value: Any, where: str, problems: Problems, *, extra: bool = False
) -> Record | None:
    """``value`` (a TOML table) read into ``cls``, whose fields are `setting`s.

    Each problem found (a key it does not know unless ``extra``, a missing required
    key, a value its check refuses) is added to ``problems`` under ``where``;
    None when there was one. With ``extra``, the unknown keys are returned in
    the record's ``extra`` field.
    """
    prefix = f"{where}." if where else ""
    if not _is_table(value, where, problems):
        return None
    before = len(problems.lines)
    known = _settings(cls)
    values: dict[str, Any] = {}
    for key, declared in known.items():
        if key not in value:
            if declared.default is dataclasses.MISSING and (
                declared.default_factory is dataclasses.MISSING
            ):
                example = declared.metadata["example"]
                problems.add(prefix + key, f"required, {example}" if example else "required")
            continue
        if declared.metadata["read"] is not None:
            read = declared.metadata["read"](value[key], prefix + key, problems)
            if read is not None:
                values[declared.name] = read
            continue
        try:
            values[declared.name] = declared.metadata["check"](value[key])
        except Invalid as error:
            problems.add(prefix + key + (f".{error.key}" if error.key else ""), error.message)
    unknown = {key: item for key, item in value.items() if key not in known}
    if extra:
        values["extra"] = unknown
    else:
        for key in unknown:
            hint = did_you_mean(suggest(key, known))
            problems.add(prefix + key, f"not a setting assetflow knows. {hint}".rstrip())
    if len(problems.lines) > before:
        return None
    try:
        return cls(**values)
    except Invalid as error:  # a rule over several settings (`__post_init__`)
        problems.add(where, error.message)
        return None


def _is_table(value: Any, where: str, problems: Problems) -> bool:
    """Whether ``value`` is a table; if not, the problem is added under ``where``."""
    if isinstance(value, dict):
        return True
    problems.add(where, f"must be a table, not {_shown(value)}")
    return False


def _settings(cls: type[Any]) -> dict[str, dataclasses.Field[Any]]:
    """The `setting` fields of ``cls``, by the key each is read from, in order."""
    return {
        declared.metadata["key"] or declared.name: declared
        for declared in dataclasses.fields(cls)
        if "key" in declared.metadata
    }


def setting_names(cls: type[Any]) -> list[str]:
    """The keys a section of ``cls`` takes, in order."""
    return list(_settings(cls))


# ---------------------------------------------------------------- the sections


@dataclass(frozen=True, slots=True)
class SchedulerSettings:
    """The `[tool.assetflow.scheduler]` table: how `assetflow scheduler` behaves."""

    #: at most this many runs started by the scheduler at once, over every schedule and
    #: sensor; more wait in a queue
    max_concurrent_runs: int = setting(whole(1), 4)
    #: seconds without a heartbeat after which a standby scheduler takes the lead
    lease_seconds: float = setting(number(above=0), 15.0)
    #: what a stopping scheduler (Ctrl-C, SIGTERM) does with the runs it started:
    #: "cancel" them (recorded as cancelled) or wait for them to "finish"
    on_stop: str = setting(one_of("cancel", "finish"), "cancel")
    #: seconds between two evaluations of the assets' automation policies (`eager`,
    #: `missing`, `on_cron`): each asks the planner what is stale
    automation_interval: float = setting(number(above=0), 30.0)


@dataclass(frozen=True, slots=True)
class DaskSettings:
    """The `[tool.assetflow.dask]` table: the Dask cluster `--executor dask` sends steps to."""

    #: the scheduler's address (`tcp://host:8786`); `--dask-address` overrides it; none:
    #: a local cluster of `workers` processes, started for the run
    address: str | None = setting(text(), None)
    #: seconds to keep trying to reach the scheduler before saying it cannot be reached
    connect_timeout: float = setting(number(above=0), 10.0)
    #: also send each step of a pool as a task asking for one unit of the Dask resource
    #: named as the pool, so that it runs only on workers declaring it (`dask worker
    #: --resources "db=1"`); the workers of a local cluster declare every pool, at its size
    pool_resources: bool = setting(boolean, False)


# The options each built-in kind takes in `[tool.assetflow.io.NAME]`, besides `kind`.
@dataclass(frozen=True, slots=True)
class PostgresOptions:
    """`[tool.assetflow.io.NAME]` with `kind = "postgres"`: the server and how to use it."""

    #: the server's URL (discouraged when it holds a password: use `url_env`)
    url: str | None = setting(text(), None)
    #: the NAME of an environment variable holding the URL
    url_env: str | None = setting(text(), None)
    #: the schema the asset tables live in (created if missing)
    schema_name: str = setting(text(max_length=63), "public", key="schema")
    #: seconds a statement may run before the server cancels it; none: the server's
    statement_timeout: float | None = setting(number(above=0), None)
    #: connections each process keeps to the server at most
    pool_size: int = setting(whole(1), 4)

    def __post_init__(self) -> None:
        if (self.url is None) == (self.url_env is None):
            # Said without the URL itself, which may hold a password.
            raise Invalid(
                "set one of `url_env` (the name of an environment variable holding the "
                'server\'s URL, e.g. url_env = "WAREHOUSE_URL") and `url` (the URL itself)'
            )


@dataclass(frozen=True, slots=True)
class DuckDBOptions:
    """`[tool.assetflow.io.NAME]` with `kind = "duckdb"`: another DuckDB file."""

    #: the DuckDB file, relative to the project directory
    database: str | None = setting(text(), None)
    #: seconds to wait while another program holds the file (default: `duckdb_wait`)
    wait: float | None = setting(number(at_least=0), None)


@dataclass(frozen=True, slots=True)
class NoOptions:
    """`[tool.assetflow.io.NAME]` of a kind that takes no options (parquet, json, none)."""


#: Every built-in storage kind (as `assetflow.io.registry.BUILTIN_KINDS`) and its options.
OPTIONS_BY_KIND: dict[str, type[Any]] = {
    "postgres": PostgresOptions,
    "duckdb": DuckDBOptions,
    "parquet": NoOptions,
    "json": NoOptions,
    "none": NoOptions,
}


@dataclass(frozen=True, slots=True)
class NamedIOConfig:
    """One `[tool.assetflow.io.NAME]` table: a `kind` and that kind's options, as written
    (a kind a package registers checks its own options when it is built)."""

    kind: str = setting(text())
    extra: dict[str, Any] = field(default_factory=dict)

    def options(self) -> dict[str, Any]:
        """The table's keys besides `kind`, as written."""
        return dict(self.extra)


def _named_io(value: Any, where: str, problems: Problems) -> NamedIOConfig | None:
    """One `[tool.assetflow.io.NAME]` table; a built-in kind's options are checked here."""
    entry = read_section(NamedIOConfig, value, where, problems, extra=True)
    if entry is None:
        return None
    options = OPTIONS_BY_KIND.get(entry.kind)
    if options is None:
        return entry  # not built in: the loader looks it up among the registered kinds
    known = setting_names(options)
    for key in entry.extra:
        if key not in known:
            hint = did_you_mean(suggest(key, known))
            takes = f"it takes: {', '.join(known)}" if known else "it takes none"
            problems.add(
                where,
                f"{key!r} is not an option of kind {entry.kind!r}. {hint} "
                f"Besides `kind`, {takes}".replace("  ", " "),
            )
            return None
    return entry if read_section(options, entry.extra, where, problems) is not None else None


def _named_ios(value: Any, where: str, problems: Problems) -> dict[str, NamedIOConfig] | None:
    """The `[tool.assetflow.io.NAME]` tables, each named as @asset(io=...) can name it."""
    if not _is_table(value, where, problems):
        return None
    before = len(problems.lines)
    named = {}
    for name, entry in value.items():
        if name in OPTIONS_BY_KIND or name == "auto":
            kind = entry.get("kind", "parquet") if isinstance(entry, dict) else "parquet"
            problems.add(
                "",
                f"[tool.assetflow.io.{name}] is named as a built-in storage kind; a named io "
                "needs a name of its own (e.g. [tool.assetflow.io.warehouse] with kind = "
                f'"{kind}")',
            )
        elif not name.isidentifier():
            problems.add(
                "",
                f"[tool.assetflow.io.{name}]: an io name is a Python identifier (letters, "
                "digits, '_'), as written in @asset(io=...)",
            )
        else:
            read = _named_io(entry, f"{where}.{name}", problems)
            if read is not None:
                named[name] = read
    return named if len(problems.lines) == before else None


@dataclass(frozen=True, slots=True)
class ProjectConfig:
    """The `[tool.assetflow]` table (or the top of `assetflow.toml`)."""

    modules: tuple[str, ...] = setting(names, example='e.g. modules = ["assets"]')
    state_dir: str = setting(text(), DEFAULT_STATE_DIR)
    #: how many steps run at once (default: the number of cores); `--workers` overrides
    workers: int | None = setting(whole(1), None)
    #: the executor's name: "multiprocess" (worker processes), "inprocess" (one at a
    #: time, for debuggers) or one a package registers; checked when a run starts
    executor: str = setting(text(), "multiprocess")
    #: named concurrency caps: `api = 2` lets at most 2 steps of `pool="api"` run at once
    pools: dict[str, int] = setting(table_of(whole(1)), {})
    #: the metadata store's URL (`sqlite:///abs/path`, `sqlite:relative/path`); default:
    #: the embedded SQLite file `<state_dir>/metadata.sqlite`
    store: str | None = setting(text(), None)
    #: the NAME of an environment variable holding the store's URL, so that a URL with
    #: a password never sits in the configuration file
    store_env: str | None = setting(text(), None)
    #: seconds a read or write of the DuckDB file waits while another program (a BI
    #: tool, a notebook) holds it; 0 fails at once, naming the holder
    duckdb_wait: float = setting(number(at_least=0), DEFAULT_DUCKDB_WAIT_S)
    #: `[tool.assetflow.schedules.NAME]` tables, as written: `assetflow.automation`
    #: validates them when the scheduler or `assetflow schedules` loads the project
    schedules: dict[str, dict[str, Any]] = setting(table_of(table), {})
    #: `[tool.assetflow.scheduler]`: how the scheduler process behaves
    scheduler: SchedulerSettings = setting(
        default=SchedulerSettings(), read=section(SchedulerSettings)
    )
    #: `[tool.assetflow.alerts.NAME]` tables (alert destinations), as written:
    #: `assetflow.alerts` validates them when a run, the scheduler or `assetflow alerts`
    #: loads the project
    alerts: dict[str, dict[str, Any]] = setting(table_of(table), {})
    #: `[tool.assetflow.io.NAME]` tables: named io settings, `@asset(io="NAME")` builds
    #: their `kind` with their options (a PostgreSQL server, another DuckDB file)
    io: dict[str, NamedIOConfig] = setting(default={}, read=_named_ios)
    #: where Parquet and JSON outputs are kept: a directory (relative to the project, e.g. a
    #: shared filesystem's mount) or an fsspec URL (`s3://bucket/prefix`, `gs://...`,
    #: `az://...`); default: `<state_dir>/data` (see docs/storage.md). The io layer checks
    #: it (protocol, installed package) when a command first needs the outputs.
    storage: str | None = setting(text(), None)
    #: `[tool.assetflow.dask]`: where `--executor dask` runs steps
    dask: DaskSettings = setting(default=DaskSettings(), read=section(DaskSettings))
    #: `[tool.assetflow.openlineage]` (where lineage events go), as written:
    #: `assetflow.openlineage` validates it when a run or `assetflow openlineage` loads the
    #: project (see docs/openlineage.md)
    openlineage: dict[str, Any] = setting(table, {})

    def __post_init__(self) -> None:
        if self.store is not None and self.store_env is not None:
            # Said without the URL itself, which may hold a password.
            raise Invalid(
                "`store` and `store_env` are both set; set one: `store` for a URL written "
                "in the configuration, `store_env` for the name of an environment variable "
                "holding it"
            )

    def store_url(self, environ: Mapping[str, str]) -> str | None:
        """The metadata store's URL: `store`, or the value of the variable `store_env` names.

        Args:
            environ: The environment to read `store_env` from (normally os.environ).

        Returns:
            The URL, or None when neither is set (the embedded default store).

        Raises:
            ProjectError: `store_env` names a variable that is not set, or is empty.
        """
        if self.store_env is None:
            return self.store
        url = environ.get(self.store_env, "").strip()
        if not url:
            state = "empty" if self.store_env in environ else "not set"
            raise ProjectError(
                f"the project's metadata store comes from the environment variable "
                f"{self.store_env} (`store_env` in the project configuration), which is "
                f"{state}.",
                hint=f"Set it to the store's URL, e.g.\n\n    export {self.store_env}="
                "sqlite:///abs/path/metadata.sqlite\n\nor remove `store_env` to use the "
                "embedded store in the state directory.",
            )
        return url


def read_config(value: Any, where: str, path: str) -> ProjectConfig:
    """The `[tool.assetflow]` table (``value``) read into a ProjectConfig.

    Args:
        value: The table, as TOML gave it.
        where: Where it is in its file ("[tool.assetflow]", "the top level").
        path: The file, for the message.

    Raises:
        ProjectError: Every problem of the table at once, each under its dotted key.
    """
    problems = Problems()
    config = read_section(ProjectConfig, value, "", problems)
    if config is None:
        raise ProjectError(
            f"the project configuration in {where} of {path} is invalid:\n"
            + "\n".join(problems.lines),
            hint=f"The settings are: {', '.join(setting_names(ProjectConfig))}. "
            "See docs/configuration.md.",
        )
    return config

"""Find a project, read its configuration, import its modules and collect its definitions.

This module builds no graph: `assetflow.loader.load_project` (one layer up) builds and
validates the graph from what is collected here, and returns the `Project`.
"""

from __future__ import annotations

import importlib
import os
import sys
import sysconfig
import tomllib
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    PositiveFloat,
    PositiveInt,
    ValidationError,
    model_validator,
)

from assetflow.asset import AssetSpec, display_location
from assetflow.errors import (
    AssetflowError,
    DefinitionError,
    Problem,
    ProjectError,
    did_you_mean,
    display_path,
    suggest,
    user_frames,
)

if TYPE_CHECKING:
    from assetflow.checks import CheckSpec

    # For the annotation of Project.graph only: the loader, one layer up, builds it.
    from assetflow.graph import AssetGraph

#: The environment variable that points at a project when --project is not given.
PROJECT_ENV = "ASSETFLOW_PROJECT"
#: Config files, in the order they are looked for in a directory.
CONFIG_FILES = ("assetflow.toml", "pyproject.toml")
DEFAULT_STATE_DIR = ".assetflow"
#: How long, in seconds, a read or write of the DuckDB file waits while another program
#: holds it, unless `duckdb_wait` says otherwise (as `assetflow.io.base`'s default).
DEFAULT_DUCKDB_WAIT_S = 30.0

_HOW_TO_POINT = (
    "To fix this, run assetflow inside a project directory, pass `--project DIR`, or set "
    f"{PROJECT_ENV}=DIR. A project is a directory whose pyproject.toml has a "
    "[tool.assetflow] table (or that holds an assetflow.toml) listing its modules, e.g.\n\n"
    '    [tool.assetflow]\n    modules = ["assets"]'
)


class SchedulerSettings(BaseModel):
    """The `[tool.assetflow.scheduler]` table: how `assetflow scheduler` behaves."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: at most this many runs started by the scheduler at once, over every schedule and
    #: sensor; more wait in a queue
    max_concurrent_runs: PositiveInt = 4
    #: seconds without a heartbeat after which a standby scheduler takes the lead
    lease_seconds: PositiveFloat = 15.0
    #: what a stopping scheduler (Ctrl-C, SIGTERM) does with the runs it started:
    #: "cancel" them (recorded as cancelled) or wait for them to "finish"
    on_stop: Literal["cancel", "finish"] = "cancel"
    #: seconds between two evaluations of the assets' automation policies (`eager`,
    #: `missing`, `on_cron`): each asks the planner what is stale
    automation_interval: PositiveFloat = 30.0


# The options each built-in kind takes in `[tool.assetflow.io.NAME]`, besides `kind`.
class _PostgresOptions(BaseModel):
    """`[tool.assetflow.io.NAME]` with `kind = "postgres"`: the server and how to use it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: the server's URL (discouraged when it holds a password: use `url_env`)
    url: str | None = Field(default=None, min_length=1)
    #: the NAME of an environment variable holding the URL
    url_env: str | None = Field(default=None, min_length=1)
    #: the schema the asset tables live in (created if missing)
    schema_name: str = Field(default="public", alias="schema", min_length=1, max_length=63)
    #: seconds a statement may run before the server cancels it; none: the server's
    statement_timeout: PositiveFloat | None = None
    #: connections each process keeps to the server at most
    pool_size: PositiveInt = 4

    @model_validator(mode="after")
    def _one_url_setting(self) -> _PostgresOptions:
        if (self.url is None) == (self.url_env is None):
            # Said without the URL itself, which may hold a password.
            raise ValueError(
                "set one of `url_env` (the name of an environment variable holding the "
                'server\'s URL, e.g. url_env = "WAREHOUSE_URL") and `url` (the URL itself)'
            )
        return self


class _DuckDBOptions(BaseModel):
    """`[tool.assetflow.io.NAME]` with `kind = "duckdb"`: another DuckDB file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: the DuckDB file, relative to the project directory
    database: str | None = Field(default=None, min_length=1)
    #: seconds to wait while another program holds the file (default: `duckdb_wait`)
    wait: NonNegativeFloat | None = None


class _NoOptions(BaseModel):
    """`[tool.assetflow.io.NAME]` of a kind that takes no options (parquet, json, none)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


#: Every built-in storage kind (as `assetflow.io.registry.BUILTIN_KINDS`) and its options.
OPTIONS_BY_KIND: dict[str, type[BaseModel]] = {
    "postgres": _PostgresOptions,
    "duckdb": _DuckDBOptions,
    "parquet": _NoOptions,
    "json": _NoOptions,
    "none": _NoOptions,
}


class NamedIOConfig(BaseModel):
    """One `[tool.assetflow.io.NAME]` table: a `kind` and that kind's options."""

    model_config = ConfigDict(extra="allow", frozen=True)

    kind: str = Field(min_length=1)

    @model_validator(mode="after")
    def _known_kind_and_options(self) -> NamedIOConfig:
        # A kind that is not built in may be one a package registers: the loader looks
        # it up (the definitions import no io), so only built-in kinds are checked here.
        model = OPTIONS_BY_KIND.get(self.kind)
        if model is None:
            return self  # a registered kind validates its own options
        known = [field.alias or name for name, field in model.model_fields.items()]
        for key in self.options():
            if key not in known:
                hint = did_you_mean(suggest(key, known))
                takes = f"it takes: {', '.join(known)}" if known else "it takes none"
                raise ValueError(
                    f"{key!r} is not an option of kind {self.kind!r}. {hint} "
                    f"Besides `kind`, {takes}".replace("  ", " ")
                )
        try:
            model.model_validate(self.options())
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            text = first["ctx"]["error"] if first["type"] == "value_error" else first["msg"]
            raise ValueError(f"{where + ': ' if where else ''}{text}") from None
        return self

    def options(self) -> dict[str, Any]:
        """The table's keys besides `kind`, as written."""
        return dict(self.model_extra or {})


class DaskSettings(BaseModel):
    """The `[tool.assetflow.dask]` table: the Dask cluster `--executor dask` sends steps to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: the scheduler's address (`tcp://host:8786`); `--dask-address` overrides it; none:
    #: a local cluster of `workers` processes, started for the run
    address: str | None = Field(default=None, min_length=1)
    #: seconds to keep trying to reach the scheduler before saying it cannot be reached
    connect_timeout: PositiveFloat = 10.0
    #: also send each step of a pool as a task asking for one unit of the Dask resource
    #: named as the pool, so that it runs only on workers declaring it (`dask worker
    #: --resources "db=1"`); the workers of a local cluster declare every pool, at its size
    pool_resources: bool = False


class ProjectConfig(BaseModel):
    """The `[tool.assetflow]` table (or the top of `assetflow.toml`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    modules: tuple[str, ...]
    state_dir: str = DEFAULT_STATE_DIR
    #: how many steps run at once (default: the number of cores); `--workers` overrides
    workers: PositiveInt | None = None
    #: the executor's name: "multiprocess" (worker processes), "inprocess" (one at a
    #: time, for debuggers) or one a package registers; checked when a run starts
    executor: str = "multiprocess"
    #: named concurrency caps: `api = 2` lets at most 2 steps of `pool="api"` run at once
    pools: dict[str, PositiveInt] = Field(default_factory=dict)
    #: the metadata store's URL (`sqlite:///abs/path`, `sqlite:relative/path`); default:
    #: the embedded SQLite file `<state_dir>/metadata.sqlite`
    store: str | None = Field(default=None, min_length=1)
    #: the NAME of an environment variable holding the store's URL, so that a URL with
    #: a password never sits in the configuration file
    store_env: str | None = Field(default=None, min_length=1)
    #: seconds a read or write of the DuckDB file waits while another program (a BI
    #: tool, a notebook) holds it; 0 fails at once, naming the holder
    duckdb_wait: NonNegativeFloat = DEFAULT_DUCKDB_WAIT_S
    #: `[tool.assetflow.schedules.NAME]` tables, as written: `assetflow.automation`
    #: validates them when the scheduler or `assetflow schedules` loads the project
    schedules: dict[str, dict[str, Any]] = Field(default_factory=dict)
    #: `[tool.assetflow.scheduler]`: how the scheduler process behaves
    scheduler: SchedulerSettings = Field(default_factory=lambda: SchedulerSettings())
    #: `[tool.assetflow.alerts.NAME]` tables (alert destinations), as written:
    #: `assetflow.alerts` validates them when a run, the scheduler or `assetflow alerts`
    #: loads the project
    alerts: dict[str, dict[str, Any]] = Field(default_factory=dict)
    #: `[tool.assetflow.io.NAME]` tables: named io settings, `@asset(io="NAME")` builds
    #: their `kind` with their options (a PostgreSQL server, another DuckDB file)
    io: dict[str, NamedIOConfig] = Field(default_factory=dict)
    #: where Parquet and JSON outputs are kept: a directory (relative to the project, e.g. a
    #: shared filesystem's mount) or an fsspec URL (`s3://bucket/prefix`, `gs://...`,
    #: `az://...`); default: `<state_dir>/data` (see docs/storage.md). The io layer checks
    #: it (protocol, installed package) when a command first needs the outputs.
    storage: str | None = Field(default=None, min_length=1)
    #: `[tool.assetflow.dask]`: where `--executor dask` runs steps
    dask: DaskSettings = Field(default_factory=lambda: DaskSettings())
    #: `[tool.assetflow.openlineage]` (where lineage events go), as written:
    #: `assetflow.openlineage` validates it when a run or `assetflow openlineage` loads the
    #: project (see docs/openlineage.md)
    openlineage: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _io_names_are_not_kinds(self) -> ProjectConfig:
        for name in self.io:
            if name in OPTIONS_BY_KIND or name == "auto":
                raise ValueError(
                    f"[tool.assetflow.io.{name}] is named as a built-in storage kind; a "
                    "named io needs a name of its own (e.g. [tool.assetflow.io.warehouse] "
                    f'with kind = "{self.io[name].kind}")'
                )
            if not name.isidentifier():
                raise ValueError(
                    f"[tool.assetflow.io.{name}]: an io name is a Python identifier "
                    "(letters, digits, '_'), as written in @asset(io=...)"
                )
        return self

    @model_validator(mode="after")
    def _one_store_setting(self) -> ProjectConfig:
        if self.store is not None and self.store_env is not None:
            # Said without the URL itself, which may hold a password.
            raise ValueError(
                "`store` and `store_env` are both set; set one: `store` for a URL written "
                "in the configuration, `store_env` for the name of an environment variable "
                "holding it"
            )
        return self

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


@dataclass(frozen=True, slots=True)
class ProjectLocation:
    """Where a project is and what its configuration says, before anything is imported."""

    root: Path
    config_file: Path
    config: ProjectConfig
    #: `state_dir` once resolved (asked for at every step: resolving is a system call a
    #: path component)
    _state_dir: Path | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def state_dir(self) -> Path:
        """Where outputs and metadata live (`.assetflow/` unless configured), resolved once."""
        resolved = self._state_dir
        if resolved is None:
            resolved = (self.root / self.config.state_dir).resolve()
            object.__setattr__(self, "_state_dir", resolved)
        return resolved


@dataclass(frozen=True, slots=True)
class Project:
    """A loaded project: its location, its validated asset graph and each asset's checks."""

    location: ProjectLocation
    graph: AssetGraph
    #: each asset's checks (attached and `@check`s naming it); assets without any are absent
    checks: Mapping[str, tuple[CheckSpec, ...]] = field(default_factory=dict)

    @property
    def root(self) -> Path:
        return self.location.root

    @property
    def state_dir(self) -> Path:
        return self.location.state_dir


def find_project(
    project_dir: str | Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> ProjectLocation:
    """Locate the project: `project_dir`, else $ASSETFLOW_PROJECT, else cwd and its parents.

    Raises:
        ProjectError: No project there, or its configuration is invalid.
    """
    environ = os.environ if environ is None else environ
    if project_dir is None and environ.get(PROJECT_ENV):
        project_dir = environ[PROJECT_ENV]
        origin = f"{PROJECT_ENV}={project_dir}"
    else:
        origin = f"--project {project_dir}"
    if project_dir is not None:
        root = Path(project_dir).expanduser()
        if not root.is_dir():
            raise ProjectError(
                f"no project directory at {root} (from {origin}): it does not exist or is "
                "not a directory.",
                hint=_HOW_TO_POINT,
            )
        found = _read_config(root.resolve())
        if found is None:
            raise ProjectError(
                f"{root} (from {origin}) is not an assetflow project: it has no "
                "assetflow.toml and no pyproject.toml with a [tool.assetflow] table.",
                hint=_HOW_TO_POINT,
            )
        return found
    start = (cwd or Path.cwd()).resolve()
    for directory in (start, *start.parents):
        found = _read_config(directory)
        if found is not None:
            return found
    raise ProjectError(
        f"no assetflow project found: looked in {start} and each of its parents for an "
        "assetflow.toml or a pyproject.toml with a [tool.assetflow] table, and "
        f"{PROJECT_ENV} is not set.",
        hint=_HOW_TO_POINT,
    )


def _read_config(directory: Path) -> ProjectLocation | None:
    for filename in CONFIG_FILES:
        path = directory / filename
        if not path.is_file():
            continue
        try:
            document = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
            raise ProjectError(
                f"cannot read the project configuration {path}: {error}",
                hint="To fix this, correct the TOML syntax at the place named above.",
            ) from error
        table = document if filename == "assetflow.toml" else document.get("tool", {})
        if filename == "pyproject.toml":
            if "assetflow" not in table:
                continue
            table = table["assetflow"]
        return ProjectLocation(directory, path, _validate_config(table, path))
    return None


def _validate_config(table: Any, path: Path) -> ProjectConfig:
    where = "[tool.assetflow]" if path.name == "pyproject.toml" else "the top level"
    if isinstance(table, dict) and isinstance(table.get("modules"), str):
        table = {**table, "modules": [table["modules"]]}
    try:
        return ProjectConfig.model_validate(table)
    except ValidationError as error:
        known = list(ProjectConfig.model_fields)
        lines = []
        for item in error.errors():
            key = ".".join(str(part) for part in item["loc"]) or "(table)"
            if item["type"] == "extra_forbidden":
                hint = did_you_mean(suggest(key, known))
                lines.append(f"  {key}: not a setting assetflow knows. {hint}".rstrip())
            elif item["type"] == "missing":
                lines.append(f'  {key}: required, e.g. modules = ["assets"]')
            elif item["type"] == "value_error":
                where_in = f"{key}: " if item["loc"] else ""
                lines.append(f"  {where_in}{item['ctx']['error']}")
            else:
                lines.append(f"  {key}: {item['msg']}")
        raise ProjectError(
            f"the project configuration in {where} of {path} is invalid:\n" + "\n".join(lines),
            hint=f"The settings are: {', '.join(known)}. See docs/configuration.md.",
        ) from error


@dataclass(frozen=True, slots=True)
class Definitions:
    """What a project's modules define: its assets, each asset's checks, and every problem
    of the checks and settings that needs no graph to find."""

    specs: tuple[AssetSpec, ...]
    #: each asset's checks; assets without any are absent
    checks: Mapping[str, tuple[CheckSpec, ...]]
    problems: tuple[Problem, ...] = ()


def read_definitions(location: ProjectLocation) -> Definitions:
    """Import the project's modules; collect its assets, bind its checks, and find the
    problems of checks and pools (the graph's own problems are found when it is built).

    Args:
        location: The project, as `find_project` found it.

    Returns:
        The assets, their checks, and every problem found (empty when all is well).

    Raises:
        DefinitionError: A module fails to import (every such failure at once).
    """
    from assetflow.checks import CheckSpec, check_problems, checks_for

    specs, custom_checks = collect_definitions(location)
    checks = {
        spec.name: checks_for(
            spec.name, [c for c in spec.checks if isinstance(c, CheckSpec)], custom_checks
        )
        for spec in specs
    }
    every_check = [bound for found in checks.values() for bound in found]
    attached_ids = {id(spec) for spec in every_check}
    every_check += [spec for spec in custom_checks if id(spec) not in attached_ids]
    problems = check_problems(every_check, [s.name for s in specs], location.root)
    problems.extend(_pool_problems(specs, location))
    return Definitions(
        tuple(specs), {name: found for name, found in checks.items() if found}, tuple(problems)
    )


def _pool_problems(specs: list[AssetSpec], location: ProjectLocation) -> list[Problem]:
    """Assets naming a pool the configuration does not define."""
    pools = location.config.pools
    config = display_path(location.config_file, location.root)
    problems = []
    for spec in specs:
        if spec.pool is None or spec.pool in pools:
            continue
        where = display_location(spec, location.root)
        defined = ", ".join(sorted(pools)) if pools else "none"
        hint = did_you_mean(suggest(str(spec.pool), list(pools)))
        table = (
            "[tool.assetflow.pools]" if location.config_file.name == "pyproject.toml" else "[pools]"
        )
        problems.append(
            Problem(
                where.rsplit(":", 1)[0],
                spec.line,
                f"asset '{spec.name}' ({where}) takes a slot of pool {spec.pool!r}, which "
                f"{config} does not define (pools defined: {defined}).\n\n"
                + (f"    {hint}\n\n" if hint else "")
                + f"To fix this, define it in {config}, with how many of its steps may run "
                f"at once:\n\n    {table}\n    {spec.pool} = 2",
            )
        )
    return problems


def collect_definitions(
    location: ProjectLocation,
) -> tuple[list[AssetSpec], list[CheckSpec]]:
    """Import each configured module fresh; its assets and its `@check`s, each object once."""
    from assetflow.checks import CheckSpec

    root = location.root
    _forget_shadowed_modules(root, location.config.modules)
    # The project directory goes first, so its modules win over same-named ones
    # of a project loaded earlier in this process.
    while str(root) in sys.path:
        sys.path.remove(str(root))
    sys.path.insert(0, str(root))
    problems: list[Problem] = []
    seen: dict[int, AssetSpec] = {}
    custom_checks: dict[int, CheckSpec] = {}
    for name in location.config.modules:
        module = _import(name, location, problems)
        if module is None:
            continue
        for value in vars(module).values():
            if isinstance(value, AssetSpec):
                seen.setdefault(id(value), value)
            elif isinstance(value, CheckSpec) and value.kind == "custom":
                # A built-in kept in a module variable is not attached to any asset.
                custom_checks.setdefault(id(value), value)
    if problems:
        raise DefinitionError(problems)
    return list(seen.values()), list(custom_checks.values())


def _import(name: str, location: ProjectLocation, problems: list[Problem]) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name is not None and name.startswith(error.name):
            problems.append(_missing_module_problem(name, location))
            return None
        problems.append(_import_problem(name, error, location))
    except Exception as error:
        problems.append(_import_problem(name, error, location))
    return None


def _missing_module_problem(name: str, location: ProjectLocation) -> Problem:
    available = sorted(
        {p.stem for p in location.root.glob("*.py")}
        | {p.parent.name for p in location.root.glob("*/__init__.py")}
    )
    config = display_path(location.config_file, location.root)
    text = (
        f"module {name!r}, listed in `modules` of {config}, was not found in {location.root.name}/."
    )
    hint = did_you_mean(suggest(name, available))
    if hint:
        text += f"\n\n    {hint}"
    text += (
        "\n\nModules are imported from the project directory. To fix this, correct the "
        "name in `modules`, or create the module."
    )
    return Problem(config, 0, text)


def _import_problem(name: str, error: BaseException, location: ProjectLocation) -> Problem:
    frames = user_frames(error)
    file, line = "", 0
    if isinstance(error, SyntaxError) and error.filename:
        file, line = error.filename, error.lineno or 0
    elif frames:
        file, line = frames[-1].filename, frames[-1].lineno or 0
    shown = display_path(Path(file), location.root) if file else name
    if isinstance(error, AssetflowError):
        # assetflow's own verdict on a declaration (a sensor's signature, a partitions
        # definition): its message already says what, where and how to fix, with paths
        # shown as every other message shows them.
        root = str(location.root.resolve().parent) + os.sep
        return Problem(shown, line, error.format_message().replace(root, ""))
    user_trace = "".join(traceback.format_list(frames)).rstrip()
    detail = "".join(traceback.format_exception_only(type(error), error)).strip()
    text = f"module {name!r} failed to import ({shown}:{line}):\n\n    {detail}"
    if user_trace:
        text += f"\n\nTraceback (your code):\n{user_trace}"
    text += "\n\nTo fix this, correct the error above; `python -c 'import " + name + "'` "
    text += "run in the project directory shows the same error."
    return Problem(shown, line, text)


def _forget_shadowed_modules(root: Path, configured: tuple[str, ...]) -> None:
    """Drop cached modules that this project's own files would shadow.

    A process may load several projects whose modules share names (tests do;
    so does a long-lived UI). Library modules are never dropped.
    """
    library_dirs = {
        Path(p).resolve() for p in {sysconfig.get_path("stdlib"), sysconfig.get_path("purelib")}
    }
    local_names = {p.stem for p in root.glob("*.py")} | {
        p.parent.name for p in root.glob("*/__init__.py")
    }
    local_names |= {name.split(".")[0] for name in configured}
    for cached in list(sys.modules):
        top = cached.split(".")[0]
        if top not in local_names:
            continue
        module_file = getattr(sys.modules[cached], "__file__", None)
        if module_file is None:
            continue
        resolved = Path(module_file).resolve()
        if any(resolved.is_relative_to(d) for d in library_dirs):
            continue
        del sys.modules[cached]

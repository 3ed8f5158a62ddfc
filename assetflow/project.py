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
from typing import TYPE_CHECKING, Any

from assetflow.asset import AssetSpec, display_location
from assetflow.config import ProjectConfig, read_config
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
#: Where checks are made: a project whose modules never imported it has none.
_CHECKS_MODULE = "assetflow.checks.spec"
_HOW_TO_POINT = (
    "To fix this, run assetflow inside a project directory, pass `--project DIR`, or set "
    f"{PROJECT_ENV}=DIR. A project is a directory whose pyproject.toml has a "
    "[tool.assetflow] table (or that holds an assetflow.toml) listing its modules, e.g.\n\n"
    '    [tool.assetflow]\n    modules = ["assets"]'
)


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
    return read_config(table, where, str(path))


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
    specs, custom_checks = collect_definitions(location)
    if not custom_checks and not any(spec.checks for spec in specs):
        # A project without checks loads without the checks package.
        return Definitions(tuple(specs), {}, tuple(_pool_problems(specs, location)))
    from assetflow.checks import CheckSpec, check_problems, checks_for

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
        checks_module = sys.modules.get(_CHECKS_MODULE)  # none without a check made
        for value in vars(module).values():
            if isinstance(value, AssetSpec):
                seen.setdefault(id(value), value)
            elif (
                checks_module is not None
                and isinstance(value, checks_module.CheckSpec)
                and value.kind == "custom"
            ):
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

"""load_project: a project's definitions, built into a validated graph, as a Project.

One layer above the definitions (project.py, asset.py) and the graph: it is the
place where the two meet, so that the definitions never import the graph.
"""

from __future__ import annotations

from pathlib import Path

from assetflow.errors import DefinitionError, Problem, ProjectError, did_you_mean, suggest
from assetflow.graph import build_graph
from assetflow.io.registry import is_io_kind, known_kinds
from assetflow.project import Project, ProjectLocation, find_project, read_definitions


def load_project(location: ProjectLocation | str | Path | None = None) -> Project:
    """Import the project's modules, collect every asset and check, and build the graph.

    Args:
        location: The project: a found location, a directory, or None to look in
            $ASSETFLOW_PROJECT, then the current directory and its parents.

    Returns:
        The project with its validated graph and each asset's checks.

    Raises:
        ProjectError: No project found.
        DefinitionError: A module fails to import, or the assets or checks are
            inconsistent (every problem at once).
    """
    if not isinstance(location, ProjectLocation):
        location = find_project(location)
    _check_io_kinds(location)
    definitions = read_definitions(location)
    problems: list[Problem] = []
    try:
        graph = build_graph(definitions.specs, root=location.root, io_names=location.config.io)
    except DefinitionError as error:
        problems.extend(error.problems)
        graph = None
    problems.extend(definitions.problems)
    if problems or graph is None:
        raise DefinitionError(problems)
    return Project(location, graph, definitions.checks)


def _check_io_kinds(location: ProjectLocation) -> None:
    """Refuse a `[tool.assetflow.io.NAME]` whose kind is neither built in nor registered
    (the configuration checks the built-in kinds' options; a registered kind is looked
    up here, where the io registry may be imported).

    Raises:
        ProjectError: Naming each such table, with the closest kinds.
    """
    lines = []
    for name, entry in sorted(location.config.io.items()):
        if not is_io_kind(entry.kind):
            hint = did_you_mean(suggest(entry.kind, known_kinds()))
            lines.append(f"  io.{name}: kind {entry.kind!r} is not a storage kind. {hint}")
    if lines:
        raise ProjectError(
            f"the project configuration in {location.config_file} is invalid:\n"
            + "\n".join(line.rstrip() for line in lines),
            hint=f"The storage kinds are: {', '.join(known_kinds())} (and those installed "
            "packages register). See docs/configuration.md#named-io-settings.",
        )

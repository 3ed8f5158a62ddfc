"""Selection resolution: a selection AST over an AssetGraph gives a frozenset of asset names."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from functools import reduce

from assetflow.errors import SelectionError, suggest
from assetflow.graph import AssetGraph
from assetflow.selection.syntax import (
    GLOB_CHARS,
    UNBOUNDED,
    AllAtom,
    Atom,
    Depth,
    GlobAtom,
    Intersection,
    MethodAtom,
    NameAtom,
    Selection,
    Term,
    Union,
    parse_selection,
    render,
)

#: How many names a message lists before saying "and N more".
LISTED_NAMES = 5
_LIST_HINT = (
    "Run `assetflow list` to see every asset, or `assetflow list 'EXPR'` to see what "
    "one part of a selection selects."
)
_GLOB_HINT = "Patterns follow fnmatch: '*' is any characters, '?' one, '[ab]' one of a or b."


def select(graph: AssetGraph, expression: str, exclude: str | None = None) -> frozenset[str]:
    """The assets an expression selects, minus those ``exclude`` selects.

    Args:
        graph: The project's assets.
        expression: A selection, e.g. ``"clean_records+"`` (see :mod:`.syntax`).
        exclude: A second selection to subtract (the CLI's ``--exclude``), or None.

    Returns:
        The selected asset names; never empty.

    Raises:
        SelectionError: Either text does not parse, names an asset that does not
            exist, has a glob or method value that matches nothing, or the result
            is empty.
    """
    selected = resolve(parse_selection(expression), graph, expression)
    if exclude is None:
        return selected
    try:
        excluded = resolve(parse_selection(exclude), graph, exclude)
    except SelectionError as error:
        raise SelectionError(
            f"in the exclude selection: {error.message}",
            expression=error.expression,
            position=error.position,
            suggestions=error.suggestions,
            hint=error.hint,
        ) from error
    remaining = selected - excluded
    if not remaining:
        raise SelectionError(
            f"the selection selects no assets: {expression.strip()!r} selects "
            f"{_count(selected)} ({_listing(selected)}), and the exclude selection "
            f"{exclude.strip()!r} removes all of them.",
            hint=_LIST_HINT,
        )
    return frozenset(remaining)


def resolve(node: Selection, graph: AssetGraph, text: str) -> frozenset[str]:
    """The assets a parsed selection selects in a graph.

    Args:
        node: The root from :func:`~assetflow.selection.syntax.parse_selection`.
        graph: The project's assets.
        text: The text ``node`` was parsed from, shown with a caret in errors.

    Returns:
        The selected asset names; never empty.

    Raises:
        SelectionError: A name is not an asset, a glob or method value matches no
            asset, or the selection as a whole selects nothing.
    """
    resolver = _Resolver(graph, text)
    selected = resolver.node(node)
    if not selected:
        raise _nothing_selected(node, text, resolver)
    return frozenset(selected)


class _Resolver:
    """Evaluates nodes against one graph, raising errors that point into one text."""

    def __init__(self, graph: AssetGraph, text: str) -> None:
        self.graph = graph
        self.text = text

    def node(self, node: Selection) -> frozenset[str]:
        if isinstance(node, Union):
            return frozenset().union(*(self.node(item) for item in node.items))
        if isinstance(node, Intersection):
            parts = [self.term(item) for item in node.items]
            return reduce(frozenset.intersection, parts)
        return self.term(node)

    def term(self, term: Term) -> frozenset[str]:
        matched = self.atom(term.atom)
        graph = self.graph
        if term.has_at:
            descendants = _walk(graph.successors, matched, None)
            return frozenset(_walk(graph.predecessors, descendants, None))
        selected = set(matched)
        if term.up is not None:
            selected |= _walk(graph.predecessors, matched, _levels(term.up))
        if term.down is not None:
            selected |= _walk(graph.successors, matched, _levels(term.down))
        return frozenset(selected)

    def atom(self, atom: Atom) -> frozenset[str]:
        names = self.graph.names
        if isinstance(atom, AllAtom):
            return names
        if isinstance(atom, NameAtom):
            if atom.name not in names:
                raise self.unknown_name(atom)
            return frozenset([atom.name])
        if isinstance(atom, GlobAtom):
            matches = _matcher(atom.pattern)
            selected = frozenset(name for name in names if matches(name))
            if not selected:
                raise SelectionError(
                    f"no asset name matches the pattern {atom.pattern!r}",
                    expression=self.text,
                    position=atom.position,
                    suggestions=suggest(_without_wildcards(atom.pattern), names),
                    hint=f"{_GLOB_HINT}\n{_LIST_HINT}",
                )
            return selected
        return self.method(atom)

    def method(self, atom: MethodAtom) -> frozenset[str]:
        values_by_name = self.values_by_name(atom.method)
        matches = _matcher(atom.value)
        selected = frozenset(
            name for name, values in values_by_name.items() if any(map(matches, values))
        )
        if selected:
            return selected
        known = sorted({value for values in values_by_name.values() for value in values})
        if known:
            hint = f"The {atom.method}s in this project are: {_listing(known, limit=None)}."
        else:
            hint = f"No asset in this project has a {atom.method}."
        verb = "matching" if _is_glob(atom.value) else "named"
        raise SelectionError(
            f"no asset has a {atom.method} {verb} {atom.value!r}",
            expression=self.text,
            position=atom.value_position,
            suggestions=suggest(_without_wildcards(atom.value), known),
            hint=f"{hint}\n{_LIST_HINT}",
        )

    def values_by_name(self, method: str) -> Mapping[str, Collection[str]]:
        specs = {name: self.graph.spec(name) for name in self.graph.names}
        if method == "tag":
            return {name: spec.tags for name, spec in specs.items()}
        if method == "group":
            return {name: (spec.group,) for name, spec in specs.items()}
        return {name: (spec.kind,) for name, spec in specs.items()}

    def unknown_name(self, atom: NameAtom) -> SelectionError:
        suggestions = suggest(atom.name, self.graph.names)
        for method in ("tag", "group"):
            known = {value for values in self.values_by_name(method).values() for value in values}
            if atom.name in known:
                suggestions.append(f"{method}:{atom.name}")
        return SelectionError(
            f"no asset is named {atom.name!r}",
            expression=self.text,
            position=atom.position,
            suggestions=suggestions,
            hint=_LIST_HINT,
        )


def _levels(depth: Depth) -> int | None:
    return None if depth is UNBOUNDED else int(depth)


def _walk(
    adjacency: Callable[[str], Iterable[str]], sources: Iterable[str], depth: int | None
) -> set[str]:
    """The sources and every asset within ``depth`` steps of one (any number when None)."""
    reached = set(sources)
    frontier = list(reached)
    level = 0
    while frontier and (depth is None or level < depth):
        level += 1
        next_frontier = []
        for name in frontier:
            for neighbour in adjacency(name):
                if neighbour not in reached:
                    reached.add(neighbour)
                    next_frontier.append(neighbour)
        frontier = next_frontier
    return reached


def _is_glob(text: str) -> bool:
    return any(char in GLOB_CHARS for char in text)


def _without_wildcards(pattern: str) -> str:
    """A pattern with '*' and '?' removed, to compare it with names for suggestions."""
    return pattern.replace("*", "").replace("?", "")


def _matcher(pattern: str) -> Callable[[str], bool]:
    """Case-sensitive fnmatch on every platform; plain equality when there is no glob."""
    if not _is_glob(pattern):
        return pattern.__eq__
    regex = re.compile(fnmatch.translate(pattern))
    return lambda name: regex.match(name) is not None


def _count(names: Collection[str]) -> str:
    return f"{len(names)} asset" if len(names) == 1 else f"{len(names)} assets"


def _listing(names: Iterable[str], limit: int | None = LISTED_NAMES) -> str:
    ordered = sorted(names)
    if limit is None or len(ordered) <= limit:
        return ", ".join(ordered)
    return f"{', '.join(ordered[:limit])} and {len(ordered) - limit} more"


def _nothing_selected(node: Selection, text: str, resolver: _Resolver) -> SelectionError:
    """Why a selection is empty: the terms of each intersection and what each selects."""
    # A term always selects something (an atom that matches nothing is an error of
    # its own), so an empty selection is made of intersections with nothing in common.
    intersections = [item for item in _parts(node) if isinstance(item, Intersection)]
    lines = []
    for intersection in intersections:
        if len(intersections) > 1:
            lines.append(f"In {render(intersection)!r}:")
        for term in intersection.items:
            selected = resolver.term(term)
            lines.append(f"    {render(term)!r} selects {_count(selected)}: {_listing(selected)}")
    if isinstance(node, Union):
        message = "none of its parts has an asset in common"
    else:
        message = "no asset is selected by all of its ','-joined terms"
    return SelectionError(
        f"the selection selects no assets: {message}",
        expression=text,
        position=node.position,
        hint="\n".join([*lines, "", "',' keeps only the assets every term selects. " + _LIST_HINT]),
    )


def _parts(node: Selection) -> tuple[Intersection | Term, ...]:
    return node.items if isinstance(node, Union) else (node,)

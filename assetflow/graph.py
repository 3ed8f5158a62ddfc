"""AssetGraph: the lineage of a project's assets, built and validated at load.

The graph keeps its own adjacency (a run plans and walks it without networkx,
whose import is a third of a small run's start-up); `AssetGraph.digraph` gives
the networkx graph of the same lineage, built on first use, for the views and
analyses that want it; a cycle found at load is described with networkx.
"""

from __future__ import annotations

import heapq
import keyword
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assetflow.asset import CONTEXT_PARAM, AssetSpec, Param

# Re-exported: sources.py imports display_location from here.
from assetflow.asset import display_location as display_location
from assetflow.errors import DefinitionError, Problem, did_you_mean, suggest
from assetflow.io.registry import describe_unknown_kind, is_io_kind

if TYPE_CHECKING:
    import networkx as nx

#: @asset(io=...)'s default: the kind follows the return annotation or the value.
AUTO_IO = "auto"
_UNKNOWN_PARAM_HINT = (
    "A parameter of an @asset function names the upstream asset it reads "
    f"('{CONTEXT_PARAM}' is reserved for the run context). To fix this, rename the "
    "parameter to an existing asset (`assetflow list` shows them), define an asset "
    "with that name, or give the parameter a default value."
)


@dataclass(frozen=True, slots=True)
class Edge:
    """How `child` reads `parent`: the partition mapping, and whether one partition (or
    the whole) of the child may read several of the parent's."""

    mapping: Any
    reads_many: bool


class AssetGraph:
    """The assets of a project and their dependencies; edges point downstream."""

    __slots__ = ("_children", "_digraph", "_edges", "_names", "_parents", "_specs")

    def __init__(
        self, specs: Mapping[str, AssetSpec], edges: Mapping[tuple[str, str], Edge]
    ) -> None:
        """`edges`: (parent, child) -> how the child reads it, between assets of `specs`."""
        self._specs = dict(specs)
        self._names = frozenset(self._specs)
        self._edges = dict(edges)
        self._parents: dict[str, list[str]] = {name: [] for name in self._specs}
        self._children: dict[str, list[str]] = {name: [] for name in self._specs}
        for parent, child in self._edges:
            self._children[parent].append(child)
            self._parents[child].append(parent)
        self._digraph: nx.DiGraph[str] | None = None

    def with_specs(self, specs: Mapping[str, AssetSpec]) -> AssetGraph:
        """The same lineage over `specs` (the same names, their definitions changed)."""
        return AssetGraph(specs, self._edges)

    @property
    def names(self) -> frozenset[str]:
        return self._names

    @property
    def digraph(self) -> nx.DiGraph[str]:
        """The lineage as a networkx graph (built on first use; do not mutate): each edge
        has the attributes `mapping` and `reads_many`."""
        if self._digraph is None:
            import networkx as nx

            digraph: nx.DiGraph[str] = nx.DiGraph()
            digraph.add_nodes_from(self._specs)
            for (parent, child), edge in self._edges.items():
                digraph.add_edge(parent, child, mapping=edge.mapping, reads_many=edge.reads_many)
            self._digraph = digraph
        return self._digraph

    def spec(self, name: str) -> AssetSpec:
        return self._specs[name]

    def specs(self) -> Iterator[AssetSpec]:
        """Every spec, by name."""
        return (self._specs[name] for name in sorted(self._specs))

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def __len__(self) -> int:
        return len(self._specs)

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._specs))

    def parents(self, name: str) -> tuple[str, ...]:
        """The assets `name` reads, in parameter order."""
        return tuple(p.name for p in self._specs[name].input_params() if p.name in self._specs)

    def children(self, name: str) -> tuple[str, ...]:
        """The assets that read `name`, sorted."""
        return tuple(sorted(self._children[name]))

    def successors(self, name: str) -> list[str]:
        """The assets that read `name`, in no set order (do not mutate)."""
        return self._children[name]

    def predecessors(self, name: str) -> list[str]:
        """The assets `name` reads, in no set order (do not mutate)."""
        return self._parents[name]

    def upstream(self, name: str, depth: int | None = None) -> frozenset[str]:
        """Every asset `name` depends on, up to `depth` steps (all when None); not itself."""
        return self._walk(name, depth, self._parents)

    def downstream(self, name: str, depth: int | None = None) -> frozenset[str]:
        """Every asset that depends on `name`, up to `depth` steps (all when None); not itself."""
        return self._walk(name, depth, self._children)

    @staticmethod
    def _walk(name: str, depth: int | None, step: Mapping[str, list[str]]) -> frozenset[str]:
        seen: set[str] = set()
        frontier = [name]
        level = 0
        while frontier and (depth is None or level < depth):
            level += 1
            next_frontier = []
            for current in frontier:
                for neighbour in step[current]:
                    if neighbour not in seen and neighbour != name:
                        seen.add(neighbour)
                        next_frontier.append(neighbour)
            frontier = next_frontier
        return frozenset(seen)

    def topological_order(self, names: Iterable[str] | None = None) -> list[str]:
        """`names` (default: all) in dependency order, ties broken by name for stable output:
        of the assets whose inputs (among `names`) are placed, the smallest name comes next."""
        chosen = self._names if names is None else frozenset(names) & self._names
        whole = len(chosen) == len(self._names)
        waiting = {
            name: len(self._parents[name])
            if whole
            else sum(1 for parent in self._parents[name] if parent in chosen)
            for name in chosen
        }
        ready = [name for name, count in waiting.items() if count == 0]
        heapq.heapify(ready)
        order: list[str] = []
        while ready:
            name = heapq.heappop(ready)
            order.append(name)
            for child in self._children[name]:
                if child in waiting:
                    waiting[child] -= 1
                    if waiting[child] == 0:
                        heapq.heappush(ready, child)
        return order

    def mapping(self, asset: str, parent: str) -> Any:
        """How the partitions of `asset` read those of its input `parent`."""
        return self._edges[parent, asset].mapping

    def reads_many(self, asset: str) -> frozenset[str]:
        """The inputs of which one partition (or the whole) of `asset` may read several
        partitions, combined into one argument."""
        return frozenset(
            parent for parent in self.parents(asset) if self._edges[parent, asset].reads_many
        )

    def roots(self) -> list[str]:
        """Assets with no upstream asset, sorted."""
        return sorted(name for name, parents in self._parents.items() if not parents)


def build_graph(
    specs: Iterable[AssetSpec], root: Path | None = None, io_names: Iterable[str] = ()
) -> AssetGraph:
    """Validate a project's specs and build its graph.

    Args:
        specs: Every asset of the project (each spec object once).
        root: The project directory; locations in messages are shown relative to it.
        io_names: The project's named io settings (`[tool.assetflow.io.NAME]`), which
            assets may name in `io=` as they name a kind.

    Returns:
        The graph.

    Raises:
        DefinitionError: With every problem found, sorted by file and line.
    """
    specs = list(specs)
    named = frozenset(io_names)
    problems: list[Problem] = []
    by_name: dict[str, AssetSpec] = {}
    for spec in specs:
        problems.extend(_spec_problems(spec, root, named))
        other = by_name.get(spec.name)
        if other is not None:
            problems.append(_duplicate_problem(spec, other, root))
        else:
            by_name[spec.name] = spec

    edges: dict[tuple[str, str], Edge] = {}
    convertible: dict[tuple[int, int], bool] = {}
    for spec in by_name.values():
        problems.extend(_partition_problems(spec, by_name, root))
        for param in spec.input_params():
            if param.is_variadic or spec.is_source:
                continue
            if param.name in by_name:
                conversion = _conversion_problem(
                    spec, param, by_name[param.name], root, convertible
                )
                if conversion:
                    problems.append(conversion)
                try:
                    mapping = _mapping(spec, by_name[param.name], root)
                except DefinitionError as error:
                    problems.extend(error.problems)
                    continue
                edges[param.name, spec.name] = Edge(
                    mapping, _reads_many(mapping, spec, by_name[param.name])
                )
            elif not param.has_default:
                problems.append(_unknown_param_problem(spec, param.name, by_name, root))

    graph = AssetGraph(by_name, edges)
    if len(graph.topological_order()) < len(graph):  # some assets wait on each other
        problems.extend(_cycle_problems(graph.digraph, by_name, root))
    if problems:
        raise DefinitionError(problems)
    return graph


def _problem(spec: AssetSpec, root: Path | None, message: str) -> Problem:
    return Problem(display_location(spec, root).rsplit(":", 1)[0], spec.line, message)


def _spec_problems(
    spec: AssetSpec, root: Path | None, named: frozenset[str] = frozenset()
) -> list[Problem]:
    where = display_location(spec, root)
    problems = []
    if not spec.name.isidentifier() or keyword.iskeyword(spec.name):
        problems.append(
            _problem(
                spec,
                root,
                f"asset name {spec.name!r} ({where}) is not a Python identifier.\n\n"
                "Asset names are used as parameter names by the assets that read them, "
                "so they must be valid identifiers (letters, digits and underscores, not "
                "starting with a digit, not a keyword). To fix this, pass a name like "
                f"{_identifier_like(spec.name)!r} to @asset(name=...).",
            )
        )
    elif spec.name == CONTEXT_PARAM:
        problems.append(
            _problem(
                spec,
                root,
                f"asset name 'context' ({where}) is reserved for the run context.\n\n"
                "To fix this, rename the function or pass @asset(name=...).",
            )
        )
    if spec.io != AUTO_IO and not (isinstance(spec.io, str) and is_io_kind(spec.io, named)):
        accepted = (AUTO_IO, *sorted(named))
        problems.append(
            _problem(
                spec,
                root,
                f"asset '{spec.name}' ({where}) has io={spec.io!r}, which is not a storage "
                f"kind.\n\n{describe_unknown_kind(str(spec.io), also=accepted)}",
            )
        )
    if spec.code_version is not None and not isinstance(spec.code_version, str):
        problems.append(
            _problem(
                spec,
                root,
                f"asset '{spec.name}' ({where}) has code_version={spec.code_version!r}, a "
                f"{type(spec.code_version).__name__}; a code version must be a string.\n\n"
                f"To fix this, write code_version={str(spec.code_version)!r}, or leave it out "
                "to have assetflow hash the function's source.",
            )
        )
    if spec.is_source:
        problems.extend(_source_path_problems(spec, root, where))
        for param in spec.input_params():
            if not param.has_default and not param.is_variadic:
                problems.append(
                    _problem(
                        spec,
                        root,
                        f"source '{spec.name}' ({where}) has a parameter '{param.name}', but a "
                        "source observes something outside the project and reads no asset.\n\n"
                        "To fix this, remove the parameter (only 'context' is allowed), or "
                        "make it an @asset if it is computed from other assets.",
                    )
                )
    for param in spec.params:
        if param.is_variadic:
            problems.append(
                _problem(
                    spec,
                    root,
                    f"asset '{spec.name}' ({where}) takes *args or **kwargs ({param.name}).\n\n"
                    "Each parameter of an asset names one upstream asset, so variadic "
                    "parameters cannot be resolved. To fix this, list the inputs by name.",
                )
            )
    problems.extend(_check_list_problems(spec, root, where))
    if spec.retry is not None:
        from assetflow.retries import policy_problems

        problems.extend(
            _problem(
                spec,
                root,
                f"asset '{spec.name}' ({where}) has a retry setting that cannot work: {text}.",
            )
            for text in policy_problems(spec.retry)
        )
    problems.extend(_limit_problems(spec, root, where))
    from assetflow.typecheck import check_annotation

    if not spec.is_source:
        annotation_problem = check_annotation(
            spec.returns, asset=spec.name, file=where.rsplit(":", 1)[0], line=spec.line
        )
        if annotation_problem:
            problems.append(_problem(spec, root, annotation_problem))
    bad_tags = sorted(t for t in spec.tags if not isinstance(t, str) or not t)
    if bad_tags:
        problems.append(
            _problem(
                spec,
                root,
                f"asset '{spec.name}' ({where}) has tags that are not non-empty strings: "
                f"{bad_tags!r}.",
            )
        )
    return problems


def _source_path_problems(spec: AssetSpec, root: Path | None, where: str) -> list[Problem]:
    """A partitioned file source needs `{partition}` in its pattern, and the reverse."""
    from assetflow.asset import PARTITION_FIELD

    pattern = spec.source_path
    if pattern is None:
        return []
    if spec.partitions is not None and PARTITION_FIELD not in pattern:
        return [
            _problem(
                spec,
                root,
                f"file source '{spec.name}' ({where}) has partitions, but its path "
                f"{pattern!r} has no {PARTITION_FIELD} in it.\n\n"
                "Each partition of a partitioned file source reads its own file, named by "
                "putting the partition key in the pattern. To fix this, write the key's "
                f"place into the path (e.g. 'data/{spec.name}/{PARTITION_FIELD}.csv'), or "
                "leave partitions= out to read one file.",
            )
        ]
    if spec.partitions is None and PARTITION_FIELD in pattern:
        return [
            _problem(
                spec,
                root,
                f"file source '{spec.name}' ({where}) has {PARTITION_FIELD} in its path "
                f"{pattern!r}, but no partitions.\n\n"
                "The partition key fills in that field, so the source needs to know its "
                "partitions. To fix this, pass partitions= (e.g. "
                "partitions=DailyPartitions(start=...)), or write the file's own name.",
            )
        ]
    return []


def _limit_problems(spec: AssetSpec, root: Path | None, where: str) -> list[Problem]:
    """A timeout that is not a positive number, a pool name that is not a string."""
    problems = []
    timeout = spec.timeout
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0
    ):
        problems.append(
            _problem(
                spec,
                root,
                f"asset '{spec.name}' ({where}) has timeout={timeout!r}; a timeout is a "
                "number of seconds greater than 0.\n\nTo fix this, write e.g. timeout=600, "
                "or leave it out for no limit.",
            )
        )
    if spec.pool is not None and (not isinstance(spec.pool, str) or not spec.pool):
        problems.append(
            _problem(
                spec,
                root,
                f"asset '{spec.name}' ({where}) has pool={spec.pool!r}; a pool is named by a "
                "non-empty string defined in [tool.assetflow.pools].",
            )
        )
    return problems


def _conversion_problem(
    spec: AssetSpec,
    param: Param,
    parent: AssetSpec,
    root: Path | None,
    convertible: dict[tuple[int, int], bool],
) -> Problem | None:
    """An input whose annotation the upstream's declared type can never be converted to.

    `convertible` keeps the verdict on each pair of annotation objects this load has
    judged (by identity: they live in the specs for the whole load), since most
    edges of a project pair the same few types.
    """
    from assetflow.typecheck import can_convert, conversion_problem

    if parent.is_source:
        return None
    pair = (id(parent.returns), id(param.annotation))
    verdict = convertible.get(pair)
    if verdict is None:
        verdict = convertible[pair] = can_convert(parent.returns, param.annotation)
    if verdict:
        return None
    where = display_location(spec, root)
    text = conversion_problem(
        parent.returns,
        param.annotation,
        asset=spec.name,
        parameter=param.name,
        file=where.rsplit(":", 1)[0],
        line=spec.line,
    )
    return _problem(spec, root, text) if text else None


def _mapping(spec: AssetSpec, parent: AssetSpec, root: Path | None) -> Any:
    from assetflow.partitions.types import undeclared_mapping

    declared = spec.mappings.get(parent.name)
    plain = undeclared_mapping(spec.partitions, parent.partitions) if declared is None else None
    if plain is not None:
        return plain  # without loading the partition definitions (most projects have none)
    from assetflow.partitions.mappings import resolve_mapping

    return resolve_mapping(
        spec.partitions,
        parent.partitions,
        declared,
        asset=spec.name,
        param=parent.name,
        file=display_location(spec, root).rsplit(":", 1)[0],
        line=spec.line,
    )


def _reads_many(mapping: Any, spec: AssetSpec, parent: AssetSpec) -> bool:
    """Whether one partition of `spec` may read several of `parent` (then combined)."""
    from assetflow.partitions.types import AllPartitions, TimeOverlap, Window

    if isinstance(mapping, AllPartitions | Window):
        return True
    if isinstance(mapping, TimeOverlap):
        # A coarser asset reading a finer input (monthly <- daily) reads several.
        down, up = spec.partitions, parent.partitions
        if down is None or up is None:  # pragma: no cover - TimeOverlap joins two time definitions
            return False
        down_window, up_window = down.window(down.key_at(0)), up.window(up.key_at(0))
        if down_window is None or up_window is None:  # pragma: no cover - as above
            return False
        return bool(up_window[1] - up_window[0] < down_window[1] - down_window[0])
    return False


def _partition_problems(
    spec: AssetSpec, by_name: Mapping[str, AssetSpec], root: Path | None
) -> list[Problem]:
    from assetflow.partitions.base import PartitionsDefinition
    from assetflow.partitions.types import MAPPING_TYPES

    where = display_location(spec, root)
    problems = []
    if spec.partitions is not None and not isinstance(spec.partitions, PartitionsDefinition):
        problems.append(
            _problem(
                spec,
                root,
                f"asset '{spec.name}' ({where}) has partitions={spec.partitions!r}, which is "
                "not a partitions definition.\n\nUse DailyPartitions(start=...), "
                "HourlyPartitions, WeeklyPartitions, MonthlyPartitions or StaticPartitions([...]) "
                "from assetflow.",
            )
        )
    inputs = [p.name for p in spec.input_params() if p.name in by_name]
    for name, mapping in spec.mappings.items():
        if name not in inputs:
            hint = did_you_mean(suggest(name, inputs))
            problems.append(
                _problem(
                    spec,
                    root,
                    f"asset '{spec.name}' ({where}) declares a partition mapping for "
                    f"'{name}', but '{name}' is not one of its inputs"
                    f"{' (' + ', '.join(inputs) + ')' if inputs else ''}."
                    + (f"\n\n    {hint}" if hint else ""),
                )
            )
        elif not isinstance(mapping, MAPPING_TYPES):
            problems.append(
                _problem(
                    spec,
                    root,
                    f"asset '{spec.name}' ({where}) maps '{name}' with {mapping!r}, which is "
                    "not a partition mapping.\n\nUse Identity(), AllPartitions(), Window(n) "
                    "or Offset(n) from assetflow.",
                )
            )
    return problems


def _check_list_problems(spec: AssetSpec, root: Path | None, where: str) -> list[Problem]:
    if not spec.checks:
        return []  # nothing to look at: the checks package stays unimported
    from assetflow.checks import CheckSpec

    return [
        _problem(
            spec,
            root,
            f"asset '{spec.name}' ({where}) lists {item!r} in checks=, which is not a check.\n\n"
            "checks= takes built-in checks such as not_null('email'), unique('id') or "
            "row_count(min=1), and functions decorated with @check.",
        )
        for item in spec.checks
        if not isinstance(item, CheckSpec)
    ]


def _identifier_like(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c == "_" else "_" for c in str(name)) or "asset"
    if cleaned[0].isdigit() or keyword.iskeyword(cleaned):
        cleaned = "_" + cleaned
    return cleaned


def _duplicate_problem(spec: AssetSpec, other: AssetSpec, root: Path | None) -> Problem:
    first, second = sorted([display_location(other, root), display_location(spec, root)])
    return _problem(
        spec,
        root,
        f"two assets are named '{spec.name}': one at {first} and one at {second}.\n\n"
        "Asset names must be unique in a project, since a parameter name says which "
        "asset it reads. To fix this, rename one of the functions or pass "
        "@asset(name=...).",
    )


def _unknown_param_problem(
    spec: AssetSpec, param: str, by_name: Mapping[str, AssetSpec], root: Path | None
) -> Problem:
    suggestions = did_you_mean(suggest(param, by_name))
    text = (
        f"asset '{spec.name}' ({display_location(spec, root)}) has a parameter "
        f"'{param}', but no asset is named '{param}'."
    )
    if suggestions:
        text += f"\n\n    {suggestions}"
    return _problem(spec, root, f"{text}\n\n{_UNKNOWN_PARAM_HINT}")


def _cycle_problems(
    digraph: nx.DiGraph[str], by_name: Mapping[str, AssetSpec], root: Path | None
) -> list[Problem]:
    import networkx as nx

    problems = []
    for component in nx.strongly_connected_components(digraph):
        start = min(component)
        if len(component) == 1 and not digraph.has_edge(start, start):
            continue
        cycle = [u for u, _ in nx.find_cycle(digraph.subgraph(component), source=start)]
        # Rotate so the printed cycle starts at its smallest name: stable output.
        first = cycle.index(min(cycle))
        cycle = cycle[first:] + cycle[:first]
        path = " -> ".join([*cycle, cycle[0]])
        places = ", ".join(f"'{n}' ({display_location(by_name[n], root)})" for n in cycle)
        problems.append(
            _problem(
                by_name[cycle[0]],
                root,
                f"assets depend on each other in a cycle: {path}\n\n"
                f"Involved: {places}. An asset cannot be built before itself. To fix this, "
                "remove one of these parameters, or split an asset in two.",
            )
        )
    return problems

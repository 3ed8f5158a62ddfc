"""The graph is built and validated at load, with every problem reported at once."""

from __future__ import annotations

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assetflow.asset import asset
from assetflow.errors import DefinitionError
from assetflow.graph import AssetGraph, Edge, build_graph


def test_story_graph_edges_and_order(story_graph):
    assert story_graph.topological_order() == ["raw_records", "clean_records", "daily_totals"]
    assert story_graph.parents("clean_records") == ("raw_records",)
    assert story_graph.children("raw_records") == ("clean_records",)
    assert story_graph.downstream("raw_records") == {"clean_records", "daily_totals"}
    assert story_graph.downstream("raw_records", depth=1) == {"clean_records"}
    assert story_graph.upstream("daily_totals") == {"raw_records", "clean_records"}
    assert story_graph.roots() == ["raw_records"]
    assert "clean_records" in story_graph
    assert len(story_graph) == 3


def test_unknown_parameter_names_the_asset_and_suggests():
    @asset
    def clean_records():
        return 1

    @asset
    def daily_totals(clean_record):
        return clean_record

    with pytest.raises(DefinitionError, match="Did you mean 'clean_records'") as caught:
        build_graph([clean_records, daily_totals])
    message = str(caught.value)
    assert "asset 'daily_totals' (" in message
    assert "has a parameter 'clean_record', but no asset is named 'clean_record'" in message
    assert "test_graph.py:" in message


def test_parameter_with_default_that_names_no_asset_keeps_its_default():
    @asset
    def a(limit: int = 3):
        return limit

    graph = build_graph([a])
    assert graph.parents("a") == ()
    assert a() == 3


def test_duplicate_names_report_both_locations():
    @asset(name="x")
    def first():
        return 1

    @asset(name="x")
    def second():
        return 2

    with pytest.raises(DefinitionError, match="two assets are named 'x'") as caught:
        build_graph([first, second])
    assert str(caught.value).count("test_graph.py:") == 2


def test_cycle_is_printed():
    @asset
    def a(c):
        return c

    @asset
    def b(a):
        return a

    @asset
    def c(b):
        return b

    with pytest.raises(DefinitionError, match=r"cycle: a -> b -> c -> a"):
        build_graph([a, b, c])


def test_self_reference_is_a_cycle():
    @asset
    def a(a):
        return a

    with pytest.raises(DefinitionError, match=r"cycle: a -> a"):
        build_graph([a])


def test_non_identifier_name():
    @asset(name="daily-totals")
    def fn():
        return 1

    with pytest.raises(DefinitionError, match=r"'daily-totals' .* is not a Python identifier"):
        build_graph([fn])


def test_unknown_io_kind_suggests():
    @asset(io="parqet")
    def fn():
        return 1

    with pytest.raises(DefinitionError, match="Did you mean 'parquet'"):
        build_graph([fn])


def test_variadic_parameters_are_rejected():
    @asset
    def fn(*inputs):
        return inputs

    with pytest.raises(DefinitionError, match=r"takes \*args or \*\*kwargs"):
        build_graph([fn])


def test_every_problem_is_reported_sorted():
    @asset
    def b(missing_one):
        return 1

    @asset(name="bad name")
    def c():
        return 1

    with pytest.raises(DefinitionError) as caught:
        build_graph([b, c])
    error = caught.value
    assert len(error.problems) == 2
    assert [p.line for p in error.problems] == sorted(p.line for p in error.problems)
    assert str(error).startswith("the project has 2 definition problems")


def test_code_version_must_be_a_string():
    @asset(code_version=3)
    def fn():
        return 1

    with pytest.raises(DefinitionError, match=r"has code_version=3, a int; a code version must"):
        build_graph([fn])


# -- the graph's own adjacency against networkx ------------------------------------------


@st.composite
def dags(draw: st.DrawFn) -> tuple[list[str], list[tuple[str, str]]]:
    """Names in a random order, and edges that only go forward in a random ranking."""
    count = draw(st.integers(min_value=0, max_value=12))
    names = draw(st.permutations([f"n{i:02d}" for i in range(count)]))
    edges = [
        (names[i], names[j])
        for i in range(count)
        for j in range(i + 1, count)
        if draw(st.booleans())
    ]
    return list(names), edges


def _graph(names: list[str], edges: list[tuple[str, str]]) -> AssetGraph:
    specs = {name: asset(name=name)(lambda: {}) for name in names}  # the specs are not read
    return AssetGraph(specs, {edge: Edge(None, False) for edge in edges})


@settings(max_examples=200, deadline=None)
@given(dag=dags(), data=st.data())
def test_the_order_walks_and_digraph_agree_with_networkx(dag, data) -> None:
    names, edges = dag
    graph = _graph(names, edges)
    reference = nx.DiGraph()
    reference.add_nodes_from(names)
    reference.add_edges_from(edges)
    assert graph.topological_order() == list(nx.lexicographical_topological_sort(reference))
    subset = data.draw(st.sets(st.sampled_from(names)) if names else st.just(set()))
    assert graph.topological_order(subset) == list(
        nx.lexicographical_topological_sort(reference.subgraph(subset))
    )
    for name in names:
        assert graph.upstream(name) == frozenset(nx.ancestors(reference, name))
        assert graph.downstream(name) == frozenset(nx.descendants(reference, name))
        assert graph.children(name) == tuple(sorted(reference.successors(name)))
    assert graph.roots() == sorted(n for n in names if reference.in_degree(n) == 0)
    assert sorted(graph.digraph.edges) == sorted(edges)
    assert set(graph.digraph.nodes) == set(names)

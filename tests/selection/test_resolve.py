"""Tests of resolving selections on graphs: what each operator selects, and every resolve error."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assetflow.asset import MISSING, AssetSettings, AssetSpec, Param
from assetflow.errors import SelectionError
from assetflow.graph import AssetGraph, build_graph
from assetflow.selection import parse_selection, resolve, select

#: The bound the CLI needs: selecting on a 10,000-asset graph is instant.
TIME_LIMIT_SECONDS = 0.1
LARGE_GRAPH_SIZE = 10_000
#: The best of this many runs is timed, so that a busy machine does not fail the test.
TIMING_RUNS = 5

INGEST = {"raw_records", "clean_records"}
REPORTING = {"daily_totals", "top_customers", "summary_report"}
DIAMOND = {"events", "sessions", "clicks", "funnel"}


def graph_from_edges(
    names: Iterable[str],
    edges: Iterable[tuple[str, str]],
    *,
    tags_by_name: dict[str, set[str]] | None = None,
) -> AssetGraph:
    """A graph of do-nothing assets; an edge (a, b) means b reads a."""
    parents_by_name: dict[str, list[str]] = {name: [] for name in names}
    for parent, child in edges:
        parents_by_name[child].append(parent)
    return build_graph(
        AssetSpec(
            name=name,
            fn=lambda: None,
            params=tuple(Param(parent, has_default=False) for parent in parents),
            returns=MISSING,
            settings=AssetSettings(tags=frozenset((tags_by_name or {}).get(name, ()))),
        )
        for name, parents in parents_by_name.items()
    )


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("clean_records", {"clean_records"}),
        ("clean_records+", {"clean_records", "daily_totals", "top_customers", "summary_report"}),
        ("clean_records+1", {"clean_records", "daily_totals", "top_customers"}),
        ("clean_records+0", {"clean_records"}),
        ("+daily_totals", {"raw_records", "clean_records", "daily_totals"}),
        ("1+daily_totals", {"clean_records", "daily_totals"}),
        ("1+daily_totals+1", {"clean_records", "daily_totals", "summary_report"}),
        ("+summary_report", INGEST | REPORTING),
        ("@daily_totals", REPORTING | INGEST),
        ("@sessions", DIAMOND),
        ("sessions+", {"sessions", "funnel"}),
        ("@summary_report", INGEST | REPORTING),
        ("*", INGEST | REPORTING | DIAMOND),
        ("*+1", INGEST | REPORTING | DIAMOND),
        ("*_records", INGEST),
        ("?aw_*", {"raw_records"}),
        ("[st]*", {"top_customers", "summary_report", "sessions"}),
        ("[!a-s]*", {"top_customers"}),
        ("tag:nightly", {"raw_records", "clean_records", "summary_report"}),
        ("tag:fin*", {"daily_totals", "top_customers"}),
        ("tag:nightly,tag:source", {"raw_records"}),
        ("group:ingest", INGEST),
        ("group:ingest+1", INGEST | {"daily_totals", "top_customers"}),
        ("group:*ing", REPORTING),
        ("kind:parquet", {"clean_records", "daily_totals", "top_customers"}),
        ("kind:json", {"raw_records", "summary_report"}),
        ("kind:auto", DIAMOND),
        ("raw_records events", {"raw_records", "events"}),
        ("clean_records+,group:reporting", REPORTING),
        (
            "+summary_report,tag:nightly funnel",
            {"raw_records", "clean_records", "summary_report", "funnel"},
        ),
        ("group:ingest group:ingest", INGEST),
    ],
)
def test_selects(story: AssetGraph, expression: str, expected: set[str]) -> None:
    assert select(story, expression) == expected


def test_exclude_subtracts_a_second_selection(story: AssetGraph) -> None:
    assert select(story, "clean_records+", exclude="summary_report") == {
        "clean_records",
        "daily_totals",
        "top_customers",
    }
    assert select(story, "*", exclude="group:reporting group:web") == INGEST
    assert select(story, "group:ingest", exclude="funnel") == INGEST


def test_resolve_takes_a_parsed_selection(story: AssetGraph) -> None:
    text = "+daily_totals,group:ingest"
    assert resolve(parse_selection(text), story, text) == INGEST


def test_unknown_name_points_at_it_and_suggests_names(story: AssetGraph) -> None:
    with pytest.raises(SelectionError, match="no asset is named 'clean_record'") as caught:
        select(story, "raw_records 2+clean_record+")
    assert caught.value.position == 14
    assert caught.value.suggestions[0] == "clean_records"
    assert str(caught.value) == (
        "no asset is named 'clean_record'\n"
        "\n"
        "    raw_records 2+clean_record+\n"
        "                  ^\n"
        "\n"
        "    Did you mean 'clean_records'?\n"
        "\n"
        "Run `assetflow list` to see every asset, or `assetflow list 'EXPR'` to see what "
        "one part of a selection selects."
    )


def test_a_tag_written_as_a_name_suggests_the_method(story: AssetGraph) -> None:
    with pytest.raises(SelectionError, match="Did you mean 'tag:nightly'"):
        select(story, "nightly")
    with pytest.raises(SelectionError, match="Did you mean 'group:ingest'"):
        select(story, "ingest+")


def test_glob_matching_nothing_names_close_assets(story: AssetGraph) -> None:
    with pytest.raises(
        SelectionError, match="no asset name matches the pattern 'raw_recrds\\*'"
    ) as caught:
        select(story, "funnel raw_recrds*")
    assert caught.value.position == 7
    assert caught.value.suggestions[0] == "raw_records"
    assert "    funnel raw_recrds*\n           ^\n" in str(caught.value)
    assert "Patterns follow fnmatch" in str(caught.value)


@pytest.mark.parametrize(
    ("expression", "position", "message", "suggestions", "known"),
    [
        (
            "tag:nightlly",
            4,
            "no asset has a tag named 'nightlly'",
            ("nightly",),
            "The tags in this project are: finance, nightly, source.",
        ),
        (
            "+group:report*s",
            7,
            "no asset has a group matching 'report\\*s'",
            ("reporting",),
            "The groups in this project are: ingest, reporting, web.",
        ),
        (
            "events kind:parqet",
            12,
            "no asset has a kind named 'parqet'",
            ("parquet",),
            "The kinds in this project are: auto, json, parquet.",
        ),
        ("kind:duckdb", 5, "no asset has a kind named 'duckdb'", (), "The kinds in this"),
    ],
)
def test_method_value_matching_nothing_names_what_exists(
    story: AssetGraph,
    expression: str,
    position: int,
    message: str,
    suggestions: tuple[str, ...],
    known: str,
) -> None:
    with pytest.raises(SelectionError, match=message) as caught:
        select(story, expression)
    assert caught.value.position == position
    assert caught.value.suggestions == suggestions
    assert known in str(caught.value)


def test_method_on_a_project_without_tags_says_so() -> None:
    graph = graph_from_edges(["a", "b"], [("a", "b")])
    with pytest.raises(SelectionError, match="no asset has a tag named 'x'") as caught:
        select(graph, "tag:x")
    assert "No asset in this project has a tag." in str(caught.value)


def test_empty_intersection_names_its_terms(story: AssetGraph) -> None:
    with pytest.raises(SelectionError) as caught:
        select(story, "group:ingest,tag:finance")
    assert str(caught.value) == (
        "the selection selects no assets: no asset is selected by all of its ','-joined terms\n"
        "\n"
        "    group:ingest,tag:finance\n"
        "    ^\n"
        "\n"
        "    'group:ingest' selects 2 assets: clean_records, raw_records\n"
        "    'tag:finance' selects 2 assets: daily_totals, top_customers\n"
        "\n"
        "',' keeps only the assets every term selects. Run `assetflow list` to see every "
        "asset, or `assetflow list 'EXPR'` to see what one part of a selection selects."
    )


def test_empty_union_of_intersections_names_every_part(story: AssetGraph) -> None:
    with pytest.raises(SelectionError, match="none of its parts has an asset in common") as caught:
        select(story, "funnel,events  group:web,tag:*+")
    assert caught.value.position == 0
    assert (
        "In 'funnel,events':\n"
        "    'funnel' selects 1 asset: funnel\n"
        "    'events' selects 1 asset: events\n"
        "In 'group:web,tag:*+':\n"
        "    'group:web' selects 4 assets: clicks, events, funnel, sessions\n"
        "    'tag:*+' selects 5 assets: clean_records, daily_totals, raw_records, "
        "summary_report, top_customers\n"
    ) in str(caught.value)


def test_an_empty_part_of_a_union_is_not_an_error(story: AssetGraph) -> None:
    assert select(story, "funnel,events clicks") == {"clicks"}


def test_excluding_everything_is_an_error(story: AssetGraph) -> None:
    with pytest.raises(SelectionError) as caught:
        select(story, "clean_records+1", exclude="group:reporting clean_records")
    assert caught.value.position is None
    assert str(caught.value).startswith(
        "the selection selects no assets: 'clean_records+1' selects 3 assets "
        "(clean_records, daily_totals, top_customers), and the exclude selection "
        "'group:reporting clean_records' removes all of them.\n"
    )
    assert "`assetflow list`" in str(caught.value)


def test_exclude_errors_point_into_the_exclude_text(story: AssetGraph) -> None:
    with pytest.raises(
        SelectionError, match="in the exclude selection: no asset is named"
    ) as caught:
        select(story, "*", exclude="summary_reprt")
    assert caught.value.expression == "summary_reprt"
    assert caught.value.position == 0
    assert caught.value.suggestions == ("summary_report",)
    with pytest.raises(SelectionError, match="in the exclude selection: the selection is empty"):
        select(story, "*", exclude=" ")


def test_syntax_errors_come_through_select(story: AssetGraph) -> None:
    with pytest.raises(SelectionError, match="unexpected space before ','") as caught:
        select(story, "raw_records , clean_records")
    assert caught.value.position == 12


# Hypothesis: the operators' algebra on generated DAGs.


@st.composite
def dags(draw: st.DrawFn) -> AssetGraph:
    """A random DAG over a0..aN: an edge only goes from a lower to a higher number."""
    size = draw(st.integers(min_value=1, max_value=12))
    names = [f"a{index}" for index in range(size)]
    pairs = [(names[i], names[j]) for i in range(size) for j in range(i + 1, size)]
    edges = draw(st.lists(st.sampled_from(pairs), unique=True)) if pairs else []
    tags = {name: draw(st.sets(st.sampled_from(["x", "y"]))) for name in names}
    return graph_from_edges(names, edges, tags_by_name=tags)


_SETTINGS = settings(max_examples=100, deadline=None)


@_SETTINGS
@given(graph=dags(), data=st.data())
def test_downstream_and_upstream_match_the_graph(graph: AssetGraph, data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(graph.names)))
    assert select(graph, f"{name}+") == {name} | graph.downstream(name)
    assert select(graph, f"+{name}") == {name} | graph.upstream(name)
    depth = data.draw(st.integers(min_value=0, max_value=4))
    assert select(graph, f"{depth}+{name}+{depth}") == (
        {name} | graph.upstream(name, depth) | graph.downstream(name, depth)
    )
    assert select(graph, f"1+{name}") <= select(graph, f"+{name}")
    assert select(graph, f"@{name}") >= select(graph, f"{name}+")
    assert select(graph, f"@{name}") == {name}.union(
        *({child} | graph.upstream(child) for child in {name} | graph.downstream(name))
    )


@_SETTINGS
@given(graph=dags(), data=st.data())
def test_union_commutes_and_comma_intersects(graph: AssetGraph, data: st.DataObject) -> None:
    terms = st.sampled_from(sorted(graph.names)).flatmap(
        lambda name: st.sampled_from([name, f"{name}+", f"+{name}", f"@{name}", f"1+{name}+2"])
    )
    first, second = data.draw(terms), data.draw(terms)
    one, other = select(graph, first), select(graph, second)
    assert select(graph, f"{first} {second}") == select(graph, f"{second} {first}") == one | other
    if one & other:
        assert select(graph, f"{first},{second}") == one & other
    else:
        with pytest.raises(SelectionError, match="selects no assets"):
            select(graph, f"{first},{second}")


@_SETTINGS
@given(graph=dags(), data=st.data())
def test_tags_and_multi_source_walks(graph: AssetGraph, data: st.DataObject) -> None:
    tag = data.draw(st.sampled_from(["x", "y"]))
    tagged = {name for name in graph.names if tag in graph.spec(name).tags}
    if not tagged:
        return
    depth = data.draw(st.integers(min_value=0, max_value=3))
    expected = set(tagged).union(*(graph.downstream(name, depth) for name in tagged))
    assert select(graph, f"tag:{tag}") == tagged
    assert select(graph, f"tag:{tag}+{depth}") == expected
    assert select(graph, f"*,tag:{tag}+{depth}") == expected
    remaining = graph.names - expected
    if remaining:
        assert select(graph, "*", exclude=f"tag:{tag}+{depth}") == remaining


_WORDS = ["raw_records", "clean_records", "tag", "group", "kind", "nightly", "ingest", "*", "+"]
_expressions = st.one_of(
    st.text(alphabet="+@*,: _acegiklnorst09[]?", max_size=24),
    st.lists(st.sampled_from([*_WORDS, "@", "2", ",", ":", " ", "r*", "[a-c]"]), max_size=8).map(
        "".join
    ),
)


def _select_or_error(
    graph: AssetGraph, expression: str, exclude: str | None
) -> frozenset[str] | SelectionError:
    try:
        return select(graph, expression, exclude)
    except SelectionError as error:
        return error


@settings(max_examples=200, deadline=None)
@given(expression=_expressions, exclude=st.one_of(st.none(), _expressions))
def test_every_expression_selects_something_or_fails_clearly(
    story: AssetGraph, expression: str, exclude: str | None
) -> None:
    result = _select_or_error(story, expression, exclude)
    if isinstance(result, SelectionError):
        position = result.position
        assert position is None or 0 <= position <= len(result.expression)
        assert str(result).startswith(result.message)
    else:
        assert result
        assert result <= story.names


# Performance: the CLI selects on every invocation.


@pytest.fixture(scope="module")
def large_graph() -> AssetGraph:
    """a0..a9999; each asset reads the previous one and the one at half its number."""
    names = [f"a{index}" for index in range(LARGE_GRAPH_SIZE)]
    edges = [(names[index - 1], names[index]) for index in range(1, LARGE_GRAPH_SIZE)]
    edges += [(names[index // 2], names[index]) for index in range(2, LARGE_GRAPH_SIZE)]
    return graph_from_edges(names, edges)


@pytest.mark.parametrize("expression", ["*", "a0+", "+a9999", "@a5000", "a*,a1*"])
def test_selecting_on_ten_thousand_assets_is_fast(large_graph: AssetGraph, expression: str) -> None:
    timings = []
    for _ in range(TIMING_RUNS):
        start = time.perf_counter()
        selected = select(large_graph, expression)
        timings.append(time.perf_counter() - start)
    assert selected
    assert min(timings) < TIME_LIMIT_SECONDS


def test_importing_selection_does_not_import_data_libraries() -> None:
    code = (
        "import sys, assetflow.selection; "
        "print(sorted({'pandas', 'pyarrow', 'duckdb', 'numpy'} & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"

"""The lineage layout: layers left to right, no overlaps, group bands, fast and cached."""

from __future__ import annotations

import time

from hypothesis import given, settings
from hypothesis import strategies as st

from assetflow.asset import asset
from assetflow.graph import build_graph
from assetflow.ui.layout import NODE_W, Shape, layout, layout_shape


@st.composite
def dags(draw: st.DrawFn) -> Shape:
    """A random DAG: edges only from a lower index to a higher one, in a few groups."""
    count = draw(st.integers(min_value=0, max_value=40))
    groups = draw(st.lists(st.sampled_from("abcd"), min_size=count, max_size=count))
    nodes = tuple(sorted((f"n{i:02d}", groups[i]) for i in range(count)))
    pairs = [(i, j) for j in range(count) for i in range(j)]
    chosen = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=80)) if pairs else []
    edges = tuple(sorted((f"n{i:02d}", f"n{j:02d}") for i, j in chosen))
    return Shape(nodes, edges)


def _overlap(a, b) -> bool:
    return a.x < b.x + b.w and b.x < a.x + a.w and a.y < b.y + b.h and b.y < a.y + a.h


@settings(max_examples=150, deadline=None)
@given(dags())
def test_every_edge_goes_left_to_right_and_no_boxes_overlap(shape):
    drawn = layout_shape(shape)
    boxes = {box.name: box for box in drawn.nodes}
    assert set(boxes) == {name for name, _ in shape.nodes}
    for edge in drawn.edges:
        source, target = boxes[edge.source], boxes[edge.target]
        assert target.layer > source.layer
        assert target.x > source.x + source.w
        assert edge.points[0][0] < edge.points[-1][0]
    listed = list(boxes.values())
    for i, one in enumerate(listed):
        assert one.x >= 0
        assert one.x + one.w <= drawn.width
        assert one.y >= 0
        assert one.y + one.h <= drawn.height
        for other in listed[i + 1 :]:
            assert not _overlap(one, other), (one, other)
    # Each group's box holds its assets, and no two group boxes overlap.
    for group in drawn.groups:
        for box in listed:
            if box.group == group.name:
                assert group.x <= box.x
                assert box.x + box.w <= group.x + group.w
                assert group.y <= box.y
                assert box.y + box.h <= group.y + group.h
    for i, one in enumerate(drawn.groups):
        for other in drawn.groups[i + 1 :]:
            assert not _overlap(one, other), (one, other)


@settings(max_examples=60, deadline=None)
@given(dags())
def test_a_layer_is_the_longest_path_from_a_source(shape):
    boxes = {box.name: box for box in layout_shape(shape).nodes}
    parents: dict[str, list[str]] = {}
    for source, target in shape.edges:
        parents.setdefault(target, []).append(source)
    for name, box in boxes.items():
        expected = max((boxes[p].layer + 1 for p in parents.get(name, ())), default=0)
        assert box.layer == expected


def test_barycenter_sweeps_untangle_a_crossing():
    # Sorted by name, b1 sits above b0 while their parents sit the other way round.
    shape = Shape(
        (("a0", "g"), ("a1", "g"), ("b0", "g"), ("b1", "g")),
        (("a0", "b1"), ("a1", "b0")),
    )
    boxes = {box.name: box for box in layout_shape(shape).nodes}
    assert (boxes["a0"].y < boxes["a1"].y) == (boxes["b1"].y < boxes["b0"].y)


def _wide(count: int) -> Shape:
    nodes = tuple(sorted((f"a{i:05d}", f"g{i % 9}") for i in range(count)))
    edges = set()
    for i in range(1, count):
        edges.add((f"a{(i * 7919) % i:05d}", f"a{i:05d}"))
        edges.add((f"a{max(0, i - 1 - i % 40):05d}", f"a{i:05d}"))
    return Shape(nodes, tuple(sorted(edges)))


def test_five_thousand_assets_lay_out_well_under_a_second():
    shape = _wide(5_000)
    started = time.perf_counter()
    drawn = layout_shape(shape)
    assert time.perf_counter() - started < 1.0
    assert len(drawn.nodes) == 5_000
    assert len(drawn.edges) == len(shape.edges)


def test_a_chain_of_a_thousand_is_a_thousand_layers():
    nodes = tuple((f"c{i:04d}", "default") for i in range(1_000))
    edges = tuple((f"c{i:04d}", f"c{i + 1:04d}") for i in range(999))
    started = time.perf_counter()
    drawn = layout_shape(Shape(nodes, edges))
    assert time.perf_counter() - started < 1.0
    boxes = {box.name: box for box in drawn.nodes}
    assert boxes["c0999"].layer == 999
    assert drawn.width > 999 * NODE_W


@asset(group="ingest")
def raw() -> dict:
    return {}


@asset(group="ingest")
def clean(raw: dict) -> dict:
    return raw


@asset(group="reporting")
def report(clean: dict) -> dict:
    return clean


def test_a_graph_is_laid_out_once_per_shape_and_a_selection_on_its_own():
    graph = build_graph([raw, clean, report])
    whole = layout(graph)
    assert layout(build_graph([raw, clean, report])) is whole  # same shape: the cache
    assert [(box.name, box.layer) for box in whole.nodes] == [
        ("clean", 1),
        ("raw", 0),
        ("report", 2),
    ]
    assert [group.name for group in whole.groups] == ["ingest", "reporting"]
    part = layout(graph, {"clean", "report"})
    assert {box.name: box.layer for box in part.nodes} == {"clean": 0, "report": 1}
    assert [(edge.source, edge.target) for edge in part.edges] == [("clean", "report")]


def test_an_empty_graph_is_an_empty_drawing():
    drawn = layout_shape(Shape((), ()))
    assert drawn.nodes == ()
    assert drawn.edges == ()
    assert drawn.groups == ()
    assert drawn.width > 0
    assert drawn.height > 0

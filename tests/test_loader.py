"""load_project: definitions built into a validated graph, every problem at once."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import assetflow
from assetflow.errors import DefinitionError
from assetflow.loader import load_project
from assetflow.project import find_project, read_definitions

PACKAGE = Path(assetflow.__file__).parent
#: The definitions layer: what a user declares, read without a graph.
DEFINITIONS = (
    "asset.py",
    "project.py",
    "context.py",
    "retries.py",
    "errors.py",
    "keys.py",
    *sorted(f"partitions/{path.name}" for path in (PACKAGE / "partitions").glob("*.py")),
)
#: Layers above the definitions, which the definitions must not import (even in a function).
HIGHER = ("graph", "loader", "planner", "selection", "execution", "store", "io", "api", "cli")

PROBLEMS = """
    from assetflow import asset, not_null

    @asset(pool="apl")
    def first() -> dict:
        return {}

    @asset(checks=[not_null("x")])
    def second(frist: dict) -> dict:
        return frist
"""


def _runtime_imports(path: Path) -> set[str]:
    """The assetflow modules a file imports when run (not those under TYPE_CHECKING)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.ImportFrom) and child.module:
                found.add(child.module)
            elif isinstance(child, ast.Import):
                found.update(alias.name for alias in child.names)
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return {name for name in found if name.startswith("assetflow.")}


@pytest.mark.parametrize("filename", DEFINITIONS)
def test_the_definitions_import_no_higher_layer(filename):
    imported = _runtime_imports(PACKAGE / filename)
    upward = sorted(name for name in imported if name.split(".")[1] in HIGHER)
    assert upward == []


def test_the_import_check_sees_imports_inside_functions(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from assetflow.graph import build_graph\n")
    assert _runtime_imports(module) == {"assetflow.graph"}


def test_reading_definitions_builds_no_graph(make_project):
    location = find_project(make_project(PROBLEMS))
    definitions = read_definitions(location)
    assert sorted(spec.name for spec in definitions.specs) == ["first", "second"]
    assert list(definitions.checks) == ["second"]
    # The pool problem needs no graph; the misspelled parameter is the graph's to find.
    assert [p.message for p in definitions.problems if "pool 'apl'" in p.message]
    assert not [p.message for p in definitions.problems if "frist" in p.message]


def test_graph_and_definition_problems_are_reported_together(make_project):
    with pytest.raises(DefinitionError) as caught:
        load_project(make_project(PROBLEMS))
    text = str(caught.value)
    assert "parameter 'frist'" in text
    assert "takes a slot of pool 'apl'" in text


def test_a_loaded_project_holds_its_graph_and_checks(make_project):
    root = make_project(PROBLEMS.replace('pool="apl"', "").replace("frist", "first"))
    project = load_project(root)
    assert project.graph.parents("second") == ("first",)
    assert [check.name for check in project.checks["second"]] == ["not_null(x)"]

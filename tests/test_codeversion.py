"""Tests for code versions: what changes an asset's code version, and what does not."""

from __future__ import annotations

import functools
import importlib
import importlib.util
import itertools
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assetflow.codeversion import (
    CodeFingerprint,
    Fingerprinter,
    PartChange,
    changed_parts,
    diff_sources,
    fingerprint,
)
from assetflow.errors import DefinitionError

REPO_ROOT = Path(__file__).resolve().parents[1]

ASSETS = """
import json
import math

import cv_helpers

RATE = 3


def asset_fn(raw: int) -> str:
    \"\"\"Scale the raw value.\"\"\"
    # scale, then normalise through the shared helper
    scaled = raw * RATE
    return json.dumps(cv_helpers.normalise(scaled) + math.sqrt(4))
"""

HELPERS = """
from cv_more import clamp


def normalise(value):
    return clamp(value) + 1
"""

MORE = """
def clamp(value):
    return min(value, 100)
"""

PROJECT = {"cv_assets.py": ASSETS, "cv_helpers.py": HELPERS, "cv_more.py": MORE}

Loader = Callable[..., dict[str, ModuleType]]


@pytest.fixture
def load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Loader]:
    """Write project files into a fresh directory and import them, forgetting them afterwards.

    Each call uses a new directory, so no stale bytecode or cached module is ever reused.
    """
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    counter = itertools.count()
    packages: set[str] = set()

    def forget() -> None:
        for name in [name for name in sys.modules if name.split(".")[0] in packages]:
            del sys.modules[name]

    def _load(
        files: dict[str, str], root: Path | None = None, modules: list[str] | None = None
    ) -> dict[str, ModuleType]:
        root = root or tmp_path / f"project{next(counter)}"
        if modules is None:
            modules = [name.removesuffix(".py") for name in files if "/" not in name]
        for name, text in files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(textwrap.dedent(text))
        packages.update(name.split("/")[0].removesuffix(".py") for name in files)
        forget()
        sys.path.insert(0, str(root))
        try:
            return {name: importlib.import_module(name) for name in modules}
        finally:
            sys.path.remove(str(root))

    yield _load
    forget()


def version_of(load: Loader, files: dict[str, str], **kwargs: object) -> CodeFingerprint:
    """Load a project and fingerprint its `cv_assets.asset_fn`."""
    modules = load(files)
    return fingerprint(modules["cv_assets"].asset_fn, **kwargs)  # type: ignore[arg-type]


def edited(name: str, old: str, new: str, files: dict[str, str] = PROJECT) -> dict[str, str]:
    """Return a copy of `files` with one replacement made in one file."""
    assert old in files[name], f"{old!r} is not in {name}"
    return {**files, name: files[name].replace(old, new)}


def test_parts_name_the_asset_its_helpers_and_constants(load: Loader) -> None:
    result = version_of(load, PROJECT)

    kinds = {part.name: part.kind for part in result.parts}
    assert kinds == {
        "asset_fn": "asset",
        "cv_helpers.normalise": "helper",
        "cv_more.clamp": "helper",
        "cv_assets.RATE": "constant",
    }
    asset = result.parts[0]
    assert asset.source == (
        "def asset_fn(raw: int) -> str:\n"
        "    scaled = raw * RATE\n"
        "    return json.dumps(cv_helpers.normalise(scaled) + math.sqrt(4))"
    )
    assert len(result.version) == 16
    int(result.version, 16)


def test_comments_formatting_and_docstrings_do_not_change_the_version(load: Loader) -> None:
    before = version_of(load, PROJECT)
    files = edited("cv_assets.py", '"""Scale the raw value."""', '"""Scale it, differently."""')
    files = edited("cv_assets.py", "# scale, then", "# first scale, then", files)
    files = edited("cv_assets.py", "raw * RATE", "(raw)*  (RATE)  # why not", files)
    files = edited("cv_more.py", "def clamp(value):", 'def clamp(value):\n    "Cap it."', files)
    files = edited(
        "cv_helpers.py", "return clamp(value) + 1", "return (\n        clamp(value)\n+ 1)", files
    )

    assert version_of(load, files) == before


def test_the_asset_decorator_does_not_change_the_version(load: Loader) -> None:
    before = version_of(load, PROJECT)
    decorated = "from cv_more import decorate\n\n@decorate(retries=3)\ndef asset_fn"
    files = edited("cv_assets.py", "def asset_fn", decorated)
    files = edited(
        "cv_more.py", "def clamp", "def decorate(**kwargs):\n    return print\n\n\ndef clamp", files
    )
    files = edited("cv_more.py", "return print", "return lambda fn: fn", files)

    after = version_of(load, files)

    assert after.version == before.version


def test_editing_the_logic_changes_the_version_and_names_the_asset(load: Loader) -> None:
    before = version_of(load, PROJECT)

    after = version_of(load, edited("cv_assets.py", "raw * RATE", "raw * RATE - 1"))

    assert after.version != before.version
    assert changed_parts(before.digests(), after) == [PartChange("asset_fn", "changed", "asset")]


def test_editing_a_helper_in_another_module_changes_the_version(load: Loader) -> None:
    before = version_of(load, PROJECT)

    after = version_of(load, edited("cv_helpers.py", "clamp(value) + 1", "clamp(value) + 2"))

    assert after.version != before.version
    changes = changed_parts(before.digests(), after)
    assert [change.describe() for change in changes] == ["helper cv_helpers.normalise changed"]


def test_editing_a_helper_of_a_helper_changes_the_version(load: Loader) -> None:
    before = version_of(load, PROJECT)

    after = version_of(load, edited("cv_more.py", "min(value, 100)", "min(value, 99)"))

    assert after.version != before.version
    assert changed_parts(before.digests(), after) == [
        PartChange("cv_more.clamp", "changed", "helper")
    ]


def test_editing_a_helper_in_the_same_module_changes_the_version(load: Loader) -> None:
    files = {
        "cv_assets.py": """
            def _tidy(value):
                return value.strip()


            def asset_fn(raw):
                return _tidy(raw)
        """
    }
    before = version_of(load, files)

    after = version_of(
        load, edited("cv_assets.py", "value.strip()", "value.strip().lower()", files)
    )

    assert after.version != before.version
    assert changed_parts(before.digests(), after) == [
        PartChange("cv_assets._tidy", "changed", "helper")
    ]


def test_mutual_recursion_terminates_and_hashes_both_helpers(load: Loader) -> None:
    files = {
        "cv_assets.py": """
            def is_even(n):
                return True if n == 0 else is_odd(n - 1)


            def is_odd(n):
                return False if n == 0 else is_even(n - 1)


            def asset_fn(count):
                return is_even(count) and asset_fn is not None
        """
    }

    result = version_of(load, files)

    assert sorted(part.name for part in result.parts) == [
        "asset_fn",
        "cv_assets.is_even",
        "cv_assets.is_odd",
    ]
    edited_odd = edited("cv_assets.py", "False if n == 0 else", "n != 0 and", files)
    assert version_of(load, edited_odd).version != result.version


def test_library_code_is_not_hashed(load: Loader) -> None:
    files = {
        "cv_assets.py": """
            import json
            import math
            from math import sqrt
            from os import path as os_path


            def asset_fn(raw):
                return json.dumps([math.sqrt(raw), sqrt(raw), os_path.join("a", "b")])
        """
    }

    result = version_of(load, files)

    assert [part.name for part in result.parts] == ["asset_fn"]


def test_installed_packages_inside_the_project_are_library_code(load: Loader) -> None:
    site = ".venv/lib/python3.11/site-packages/cv_vendored.py"
    files = {
        site: "def vendored(x):\n    return x\n",
        "cv_assets.py": """
            import sys
            from pathlib import Path

            sys.path.insert(0, str(Path(__file__).parent / ".venv/lib/python3.11/site-packages"))
            from cv_vendored import vendored  # noqa: E402
            sys.path.pop(0)


            def asset_fn(raw):
                return vendored(raw)
        """,
    }

    result = version_of(load, files)

    assert [part.name for part in result.parts] == ["asset_fn"]


def test_a_local_variable_shadowing_a_helper_does_not_pull_it_in(load: Loader) -> None:
    files = {
        "cv_assets.py": """
            def scale(value):
                return value * 2


            def asset_fn(raw):
                scale = 3
                return [raw * scale for _ in range(2)]
        """
    }

    result = version_of(load, files)

    assert [part.name for part in result.parts] == ["asset_fn"]


def test_changing_a_module_constant_changes_the_version(load: Loader) -> None:
    before = version_of(load, PROJECT)

    after = version_of(load, edited("cv_assets.py", "RATE = 3", "RATE = 4"))

    assert after.version != before.version
    assert changed_parts(before.digests(), after) == [
        PartChange("cv_assets.RATE", "changed", "constant")
    ]
    assert after.parts[-1].source == "RATE = 4"


def test_constants_through_modules_and_containers_are_hashed(load: Loader) -> None:
    files = {
        "cv_helpers.py": """
            LIMITS = {"b": [1, 2], "a": (None, 2.5)}
            TAGS = frozenset({"x", "y", "z"})
            Row = dict[str, int | None]
        """,
        "cv_assets.py": """
            import cv_helpers
            from cv_helpers import TAGS


            def asset_fn(raw) -> cv_helpers.Row:
                return cv_helpers.LIMITS["a"], TAGS
        """,
    }
    before = version_of(load, files)

    sources = {part.name: part.source for part in before.parts if part.kind == "constant"}
    assert sources == {
        "cv_helpers.LIMITS": "LIMITS = {'a': (None, 2.5), 'b': [1, 2]}",
        "cv_helpers.Row": "Row = dict[str, int | None]",
        "cv_assets.TAGS": "TAGS = frozenset({'x', 'y', 'z'})",
    }
    after = version_of(load, edited("cv_helpers.py", "[1, 2]", "[1, 3]", files))
    assert after.version != before.version


def test_project_classes_and_config_instances_are_hashed(load: Loader) -> None:
    files = {
        "cv_helpers.py": """
            from dataclasses import dataclass


            @dataclass(frozen=True)
            class Config:
                threshold: int

                def passes(self, value):
                    return value > self.threshold


            CONFIG = Config(threshold=3)
        """,
        "cv_assets.py": """
            from cv_helpers import CONFIG


            def asset_fn(raw):
                return CONFIG.passes(raw)
        """,
    }
    before = version_of(load, files)

    assert {part.name: part.kind for part in before.parts} == {
        "asset_fn": "asset",
        "cv_helpers.Config": "helper",
        "cv_assets.CONFIG": "constant",
    }
    changed_value = version_of(load, edited("cv_helpers.py", "threshold=3", "threshold=4", files))
    changed_method = version_of(load, edited("cv_helpers.py", "value >", "value >=", files))
    assert changed_value.version != before.version
    assert changed_method.version != before.version
    assert changed_parts(before.digests(), changed_method) == [
        PartChange("cv_helpers.Config", "changed", "helper")
    ]


def test_other_assets_are_dependencies_not_helpers(load: Loader) -> None:
    files = {
        "cv_assets.py": """
            def upstream():
                return 1


            upstream.__assetflow_asset__ = True


            def asset_fn():
                return upstream() + 1
        """
    }
    before = version_of(load, files)

    assert [part.name for part in before.parts] == ["asset_fn"]
    after = version_of(load, edited("cv_assets.py", "return 1", "return 2", files))
    assert after.version == before.version


def test_closure_values_distinguish_assets_from_one_factory(load: Loader) -> None:
    files = {
        "cv_assets.py": """
            def make(table):
                def load_table():
                    return f"select * from {table}"
                return load_table


            orders = make("orders")
            users = make("users")
        """
    }
    modules = load(files)
    fingerprinter = Fingerprinter()

    orders = fingerprinter.fingerprint(modules["cv_assets"].orders, name="orders")
    users = fingerprinter.fingerprint(modules["cv_assets"].users, name="orders")

    assert orders.version != users.version
    constant = users.parts[-1]
    assert (constant.name, constant.source) == (
        "cv_assets.make.<locals>.load_table.table",
        "table = 'users'",
    )


def test_the_default_root_is_the_directory_holding_the_assets_package(load: Loader) -> None:
    files = {
        "cv_pkg/__init__.py": "",
        "cv_pkg/sub/__init__.py": "",
        "cv_pkg/sub/tools.py": "def tool(x):\n    return x + 1\n",
        "cv_shared.py": "def shared(x):\n    return x * 2\n",
        "cv_pkg/assets.py": """
            import cv_pkg.sub.tools
            from cv_shared import shared


            def asset_fn(raw):
                return shared(cv_pkg.sub.tools.tool(raw))
        """,
    }
    asset_fn = load(files, modules=["cv_pkg.assets"])["cv_pkg.assets"].asset_fn

    by_default = fingerprint(asset_fn)
    narrowed = fingerprint(asset_fn, project_root=Path(asset_fn.__code__.co_filename).parent)

    assert [part.name for part in by_default.parts] == [
        "asset_fn",
        "cv_pkg.sub.tools.tool",
        "cv_shared.shared",
    ]
    assert [part.name for part in narrowed.parts] == ["asset_fn", "cv_pkg.sub.tools.tool"]


def test_one_fingerprinter_agrees_with_fresh_ones(load: Loader) -> None:
    modules = load(PROJECT)
    fingerprinter = Fingerprinter()

    shared = [fingerprinter.fingerprint(modules["cv_assets"].asset_fn) for _ in range(2)]

    assert shared == [fingerprint(modules["cv_assets"].asset_fn)] * 2


def test_explicit_code_version_wins_over_source(load: Loader) -> None:
    before = version_of(load, PROJECT, explicit="v1")
    after = version_of(load, edited("cv_helpers.py", "+ 1", "+ 2"), explicit="v1")
    bumped = version_of(load, PROJECT, explicit="v2")

    assert after == before
    assert bumped.version != before.version
    assert [part.source for part in before.parts] == ["code_version = 'v1'"]


def test_non_string_code_version_is_a_definition_error(load: Loader) -> None:
    modules = load(PROJECT)
    asset_fn = modules["cv_assets"].asset_fn
    line = asset_fn.__code__.co_firstlineno

    with pytest.raises(DefinitionError) as raised:
        fingerprint(asset_fn, explicit=3)

    assert raised.value.format_message() == (
        f"asset 'asset_fn' (cv_assets.py:{line}) has code_version=3 of type int, but a code "
        "version must be a string.\n\n"
        "code_version= pins the asset's code version: assetflow rebuilds the asset when that "
        "string changes, and ignores edits to its source. To fix this, pass a string "
        '(code_version="3"), or remove code_version= to version the asset by its source.'
    )


def test_explicit_code_version_still_counts_settings() -> None:
    def asset_fn(raw):
        return raw

    parquet = fingerprint(asset_fn, explicit="v1", settings={"io": "parquet"})
    duckdb = fingerprint(asset_fn, explicit="v1", settings={"io": "duckdb"})

    assert parquet.version != duckdb.version


def test_a_callable_that_is_not_a_function_needs_an_explicit_version() -> None:
    scaled = functools.partial(round, ndigits=2)

    with pytest.raises(DefinitionError, match="asset 'scaled' is a partial, not a function"):
        fingerprint(scaled, name="scaled")
    assert fingerprint(scaled, name="scaled", explicit="1").parts[0].name == "scaled"


def test_settings_change_the_version_and_their_order_does_not() -> None:
    def asset_fn(raw):
        return raw

    plain = fingerprint(asset_fn)
    parquet = fingerprint(asset_fn, settings={"io": "parquet", "partitions": "daily"})
    reordered = fingerprint(asset_fn, settings={"partitions": "daily", "io": "parquet"})
    duckdb = fingerprint(asset_fn, settings={"io": "duckdb", "partitions": "daily"})

    assert len({plain.version, parquet.version, duckdb.version}) == 3
    assert reordered == parquet
    assert changed_parts(parquet.digests(), duckdb) == [
        PartChange("settings", "changed", "settings")
    ]
    assert changed_parts(parquet.digests(), plain) == [PartChange("settings", "removed", None)]


def test_the_version_does_not_depend_on_where_the_project_lives(
    load: Loader, tmp_path: Path
) -> None:
    first = fingerprint(load(PROJECT, tmp_path / "a" / "b")["cv_assets"].asset_fn)
    second = fingerprint(load(PROJECT, tmp_path / "elsewhere")["cv_assets"].asset_fn)

    assert first == second


# The package is stubbed so that only codeversion (stdlib-only) is imported: the other
# interpreters need not have assetflow's dependencies installed.
SUBPROCESS_SCRIPT = """
import sys
import types
package = types.ModuleType("assetflow")
package.__path__ = [sys.argv[2]]
sys.modules["assetflow"] = package
sys.path.insert(0, sys.argv[1])
import cv_assets
from assetflow.codeversion import fingerprint
print(fingerprint(cv_assets.asset_fn, settings={"io": "parquet", "schema": "x"}).version)
"""


@pytest.mark.parametrize("seed", ["1", "2"])
def test_the_version_is_the_same_in_another_process(
    load: Loader, tmp_path: Path, seed: str
) -> None:
    root = tmp_path / "project"
    files = edited("cv_helpers.py", "def normalise", "TAGS = {'a', 'b', 'c', 'd'}\n\ndef normalise")
    files = edited("cv_helpers.py", "clamp(value) + 1", "clamp(value) + len(TAGS)", files)
    expected = fingerprint(
        load(files, root)["cv_assets"].asset_fn, settings={"io": "parquet", "schema": "x"}
    )

    version = _run_elsewhere(sys.executable, root, seed)

    assert version == expected.version


@pytest.mark.parametrize("minor", ["3.12", "3.13"])
def test_the_version_is_the_same_under_other_python_versions(
    load: Loader, tmp_path: Path, minor: str
) -> None:
    interpreter = _find_python(minor)
    if interpreter is None:
        pytest.skip(f"python{minor} is not installed")
    root = tmp_path / "project"
    expected = fingerprint(
        load(PROJECT, root)["cv_assets"].asset_fn, settings={"io": "parquet", "schema": "x"}
    )

    assert _run_elsewhere(interpreter, root, "0") == expected.version


def _run_elsewhere(interpreter: str, root: Path, seed: str) -> str:
    env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONDONTWRITEBYTECODE": "1"}
    package = REPO_ROOT / "assetflow"
    result = subprocess.run(
        [interpreter, "-c", SUBPROCESS_SCRIPT, str(root), str(package)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return result.stdout.strip()


def _find_python(minor: str) -> str | None:
    """Find a working interpreter for `minor` (pyenv shims exist even when it is not active)."""
    versions = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates = [str(path) for path in sorted(versions.glob(f"{minor}.*/bin/python"))]
    candidates += [found] if (found := shutil.which(f"python{minor}")) else []
    for candidate in candidates:
        probe = subprocess.run([candidate, "-c", "pass"], capture_output=True, check=False)
        if probe.returncode == 0:
            return candidate
    return None


def test_lambdas_on_one_line_are_told_apart(load: Loader) -> None:
    files = {"cv_assets.py": "pair = (lambda x: x + 1, lambda x: x * 2)\n"}
    first, second = load(files)["cv_assets"].pair

    sources = [fingerprint(fn).parts[0].source for fn in (first, second)]

    assert sources == ["lambda x: x + 1", "lambda x: x * 2"]


def test_code_without_source_is_hashed_from_its_bytecode(caplog: pytest.LogCaptureFixture) -> None:
    def build(body: str) -> Callable[..., object]:
        namespace: dict[str, object] = {"__name__": "cv_exec"}
        exec(
            compile(f"def asset_fn(x, k=(1, 2)):\n    return {body}\n", "<repl>", "exec"), namespace
        )
        return namespace["asset_fn"]  # type: ignore[return-value]

    with caplog.at_level(logging.DEBUG, logger="assetflow.codeversion"):
        first = fingerprint(build("x + 1"))
    again = fingerprint(build("x + 1"))
    changed = fingerprint(build("x + 2"))

    assert first == again
    assert changed.version != first.version
    assert "no source for cv_exec.asset_fn: hashing its bytecode instead" in caplog.text
    assert first.parts[0].source.startswith("# no source available")


def test_changed_parts_reports_added_and_removed_parts(load: Loader) -> None:
    before = version_of(load, PROJECT)
    after = version_of(load, edited("cv_helpers.py", "return clamp(value) + 1", "return value"))

    changes = changed_parts(before.digests(), after)

    assert [change.describe() for change in changes] == [
        "helper cv_helpers.normalise changed",
        "part cv_more.clamp removed",
    ]
    assert changed_parts({}, after)[0] == PartChange("asset_fn", "added", "asset")


def test_diff_sources_shows_what_changed() -> None:
    old = "def f(x):\n    return x + 1"
    new = "def f(x):\n    return x + 2"

    diff = diff_sources(old, new, "helpers.f")

    assert diff.splitlines() == [
        "--- helpers.f (recorded)",
        "+++ helpers.f (current)",
        "@@ -1,2 +1,2 @@",
        " def f(x):",
        "-    return x + 1",
        "+    return x + 2",
    ]
    assert diff_sources(old, old, "helpers.f") == ""


#: Budget for fingerprinting 1,000 small assets with helpers on one Fingerprinter (seconds);
#: the design target is "well under a second", this leaves room for slow CI machines.
PERFORMANCE_BUDGET = 3.0


def test_fingerprinting_a_thousand_assets_is_fast(load: Loader) -> None:
    helpers = "".join(f"def helper_{i}(x):\n    return x * {i} + LIMIT\n\n" for i in range(20))
    assets = "".join(
        f"def asset_{i}(raw):\n    '''Doc.'''\n"
        f"    return helper_{i % 20}(raw) + helper_{i % 7}(1)\n\n"
        for i in range(1000)
    )
    modules = load({"cv_assets.py": f"LIMIT = 5\n\n{helpers}{assets}"})
    functions = [getattr(modules["cv_assets"], f"asset_{i}") for i in range(1000)]

    started = time.perf_counter()
    fingerprinter = Fingerprinter()
    versions = {fingerprinter.fingerprint(fn).version for fn in functions}
    elapsed = time.perf_counter() - started

    assert len(versions) == 1000
    assert elapsed < PERFORMANCE_BUDGET


# Hypothesis: arithmetic bodies, rendered plainly and noisily, must hash alike.

LEAVES = st.one_of(st.sampled_from(["x", "y"]), st.integers(min_value=0, max_value=999))
EXPRESSIONS = st.recursive(
    LEAVES,
    lambda children: st.tuples(children, st.sampled_from(["+", "-", "*", "//", "%"]), children),
    max_leaves=8,
)


def _render(expression: object, noise: Iterator[int] | None = None) -> str:
    """Render fully parenthesised; with noise, add redundant parentheses and spacing."""
    if isinstance(expression, tuple):
        left, operator, right = expression
        text = f"({_render(left, noise)} {operator} {_render(right, noise)})"
    else:
        text = str(expression)
    if noise is None:
        return text
    level = next(noise)
    return "(" * (level % 3) + " " * (level % 2) + text + ")" * (level % 3)


def _mutate(expression: object, target: int, counter: Iterator[int]) -> object:
    """Return the expression with its `target`-th integer literal incremented."""
    if isinstance(expression, tuple):
        left, operator, right = expression
        return (_mutate(left, target, counter), operator, _mutate(right, target, counter))
    if isinstance(expression, int) and next(counter) == target:
        return expression + 1
    return expression


def _version_of_source(directory: Path, module: str, source: str) -> str:
    path = directory / f"{module}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(module, path)
    assert spec is not None
    assert spec.loader is not None
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return fingerprint(loaded.asset_fn).version


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    expression=EXPRESSIONS, k=st.integers(0, 999), noise=st.lists(st.integers(0, 5)), data=st.data()
)
def test_reformatting_keeps_the_version_and_a_new_constant_changes_it(
    expression: object, k: int, noise: list[int], data: st.DataObject
) -> None:
    expression = (expression, "*", k)  # at least one integer literal
    plain = f"def asset_fn(x, y):\n    return {_render(expression)}\n"
    noisy = (
        "def asset_fn(x,y) :\n    # a comment\n\n    return (  "
        + _render(expression, itertools.cycle(noise or [0]))
        + "  )  # trailing\n"
    )
    literals = sum(1 for _ in _literals(expression))
    target = data.draw(st.integers(0, literals - 1))
    mutated = _mutate(expression, target, itertools.count())
    changed = f"def asset_fn(x, y):\n    return {_render(mutated)}\n"

    with tempfile.TemporaryDirectory() as directory:
        versions = [
            _version_of_source(Path(directory), f"cv_hyp_{index}", source)
            for index, source in enumerate([plain, noisy, changed])
        ]

    assert versions[0] == versions[1]
    assert versions[2] != versions[0]


def _literals(expression: object) -> Iterator[int]:
    if isinstance(expression, tuple):
        yield from _literals(expression[0])
        yield from _literals(expression[2])
    elif isinstance(expression, int):
        yield expression


def test_dict_unpacking_and_keyword_only_parameters_are_hashed(tmp_path):
    """`{**d}` and `def f(a, *, b)` put None in the syntax tree's lists."""
    module = tmp_path / "unpacking_module.py"
    module.write_text(
        "def helper(a, *, b):\n    return a + b\n\n"
        "def asset_fn(raw):\n    return {**raw, 'clean': helper(1, b=2)}\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        imported = importlib.import_module("unpacking_module")
        first = fingerprint(imported.asset_fn, project_root=tmp_path)
        module.write_text(
            "def helper(a, *, b=3):\n    return a + b\n\n"
            "def asset_fn(raw):\n    return {**raw, 'clean': helper(1, b=2)}\n"
        )
        sys.modules.pop("unpacking_module")
        second = fingerprint(
            importlib.import_module("unpacking_module").asset_fn, project_root=tmp_path
        )
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("unpacking_module", None)
    assert first.version != second.version

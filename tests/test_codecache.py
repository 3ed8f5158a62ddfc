"""The code version cache: reused while no project file changed, recomputed when one did."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime

import pytest

from assetflow import api
from assetflow.clock import FixedClock
from assetflow.codecache import CACHE_FILE, compute, fingerprints_of, has_sources
from assetflow.codeversion import SCHEME
from assetflow.loader import load_project
from assetflow.planner import ReasonKind

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

ASSETS = """
    from helpers import double

    from assetflow import asset, source

    @source
    def etag() -> str:
        return "v1"

    @asset
    def numbers(etag: str) -> list:
        return [1, 2, 3]

    @asset
    def doubled(numbers: list) -> list:
        return [double(n) for n in numbers]
"""
HELPERS = """
    def double(n):
        return n * 2
"""
FAKE = "0" * 32


@pytest.fixture
def root(make_project):
    return make_project(ASSETS, extra_files={"helpers.py": HELPERS, "notes.py": "X = 1\n"})


def cache_path(project):
    return project.state_dir / CACHE_FILE


def tamper(project, name="doubled"):
    """Give an asset a fake version in the cache, keeping its key: only a cache read returns it."""
    path = cache_path(project)
    document = json.loads(path.read_text())
    document["assets"][name]["version"] = FAKE
    path.write_text(json.dumps(document))


def append(path, text):
    path.write_text(path.read_text() + text)


def test_the_first_call_computes_and_writes_the_cache(root):
    project = load_project(root)
    assert not cache_path(project).exists()
    fingerprints = fingerprints_of(project, ["numbers", "doubled"])
    document = json.loads(cache_path(project).read_text())
    assert document["key"]["scheme"] == SCHEME
    assert document["key"]["python"] == list(sys.version_info[:2])
    assert set(document["key"]["files"]) == {
        "assets.py",
        "helpers.py",
        "notes.py",
        "pyproject.toml",
    }
    assert document["assets"]["doubled"]["version"] == fingerprints["doubled"].version
    parts = document["assets"]["doubled"]["parts"]
    assert [name for name, _, _ in parts] == [part.name for part in fingerprints["doubled"].parts]
    assert fingerprints == compute(project, ["numbers", "doubled"])


def test_a_second_call_reads_the_cache(root):
    project = load_project(root)
    fingerprints_of(project, ["numbers", "doubled"])
    tamper(project)
    assert fingerprints_of(project, ["doubled"])["doubled"].version == FAKE
    assert fingerprints_of(project, ["numbers"])["numbers"].version != FAKE


def test_the_cache_is_shared_by_plans(root):
    clock = FixedClock(T0)
    api.materialize(project=root, clock=clock)
    project = load_project(root)
    tamper(project)
    (step,) = api.plan(project=project, clock=clock).steps
    assert step.asset == "doubled"
    assert [(r.kind, r.new) for r in step.reasons] == [(ReasonKind.CODE_CHANGED, FAKE)]


@pytest.mark.parametrize("filename", ["assets.py", "helpers.py", "notes.py", "pyproject.toml"])
def test_editing_any_project_file_invalidates_the_cache(root, filename):
    project = load_project(root)
    fingerprints_of(project, ["doubled"])
    tamper(project)
    append(root / filename, "\n# edited\n")
    assert fingerprints_of(project, ["doubled"])["doubled"].version != FAKE


def test_a_new_module_in_a_subpackage_invalidates_the_cache(root):
    project = load_project(root)
    fingerprints_of(project, ["doubled"])
    tamper(project)
    (root / "pkg").mkdir()
    (root / "pkg" / "extra.py").write_text("Y = 2\n")
    assert fingerprints_of(project, ["doubled"])["doubled"].version != FAKE
    key = json.loads(cache_path(project).read_text())["key"]
    assert "pkg/extra.py" in key["files"]


def test_files_in_vcs_cache_and_state_dirs_do_not_invalidate_it(root):
    project = load_project(root)
    fingerprints_of(project, ["doubled"])
    tamper(project)
    (root / ".git").mkdir()
    (root / ".git" / "hook.py").write_text("Z = 3\n")
    (project.state_dir / "scratch.py").write_text("W = 4\n")
    (root / "__pycache__").mkdir(exist_ok=True)
    (root / "__pycache__" / "stray.py").write_text("V = 5\n")
    (root / "README.md").write_text("not code\n")
    assert fingerprints_of(project, ["doubled"])["doubled"].version == FAKE


def test_cached_fingerprints_have_no_sources_and_compute_has_them(root):
    project = load_project(root)
    computed = fingerprints_of(project, ["doubled"])["doubled"]
    cached = fingerprints_of(project, ["doubled"])["doubled"]
    assert has_sources(computed)
    assert not has_sources(cached)
    assert {part.source for part in cached.parts} == {""}
    assert cached.version == computed.version
    assert cached.digests() == computed.digests()
    fresh = compute(project, ["doubled"])["doubled"]
    assert has_sources(fresh)
    by_name = {part.name: part.source for part in fresh.parts}
    assert "return n * 2" in by_name["helpers.double"]
    assert "def doubled(numbers: list) -> list:" in by_name["doubled"]


def test_sources_are_skipped(root):
    project = load_project(root)
    assert set(fingerprints_of(project, ["etag", "numbers"])) == {"numbers"}


@pytest.mark.parametrize(
    "text",
    [
        "this is not json",
        "[1, 2]",
        json.dumps({"key": "other", "assets": {}}),
        "",
    ],
)
def test_a_corrupt_cache_file_is_ignored_and_rewritten(root, text):
    project = load_project(root)
    project.state_dir.mkdir()
    cache_path(project).write_text(text)
    fingerprints = fingerprints_of(project, ["doubled"])
    assert fingerprints == compute(project, ["doubled"])
    assert "doubled" in json.loads(cache_path(project).read_text())["assets"]


def test_a_malformed_entry_with_the_right_key_is_ignored(root):
    project = load_project(root)
    fingerprints_of(project, ["doubled"])
    document = json.loads(cache_path(project).read_text())
    document["assets"]["doubled"] = {"version": FAKE, "parts": [["only", "two"]]}
    cache_path(project).write_text(json.dumps(document))
    assert fingerprints_of(project, ["doubled"]) == compute(project, ["doubled"])


def test_a_helper_edit_stales_its_users_through_the_cache(root):
    clock = FixedClock(T0)
    api.materialize(project=root, clock=clock)
    assert api.plan(project=root, clock=clock).is_empty  # answered from the cache
    (root / "helpers.py").write_text("def double(n):\n    return n + n\n")
    (step,) = api.plan(project=root, clock=clock).steps
    assert step.asset == "doubled"
    assert [r.render() for r in step.reasons] == ["code changed: helper helpers.double changed"]


def test_an_unwritable_cache_is_only_a_slower_plan(make_project):
    from assetflow.store import open_store

    root = make_project(
        "from assetflow import asset\n\n@asset\ndef a() -> dict:\n    return {}\n",
        config='[tool.assetflow]\nmodules = ["assets"]\nstate_dir = "blocker/state"\n',
    )
    (root / "blocker").write_text("a file where a directory should be")
    with open_store("memory") as store:
        plan = api.plan(project=root, store=store)
    assert [step.asset for step in plan.steps] == ["a"]


@pytest.mark.parametrize("folder", ["build", "venv", "node_modules", "lib"])
def test_helper_edits_in_any_project_folder_invalidate_the_cache(make_project, folder):
    root = make_project(
        f"""
        from {folder}.steps import double

        from assetflow import asset

        @asset
        def doubled() -> list:
            return [double(n) for n in (1, 2)]
        """
    )
    (root / folder).mkdir()
    (root / folder / "__init__.py").write_text("")
    (root / folder / "steps.py").write_text("def double(x):\n    return x * 2\n")
    before = fingerprints_of(load_project(root), ["doubled"])["doubled"].version
    (root / folder / "steps.py").write_text("def double(x):\n    return x * 200\n")
    after = fingerprints_of(load_project(root), ["doubled"])["doubled"].version
    assert before != after


def test_a_virtual_environment_in_the_project_is_not_walked(root):
    venv = root / ".venv"
    (venv / "lib" / "site-packages").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
    project = load_project(root)
    fingerprints_of(project, ["doubled"])
    (venv / "lib" / "site-packages" / "lib_module.py").write_text("X = 1\n")
    key = json.loads(cache_path(project).read_text())["key"]["files"]
    assert not any(name.startswith(".venv") for name in key)

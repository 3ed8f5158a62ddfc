"""`why ASSET`: the explanation of an asset's state, traced down to its causes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from assetflow import api
from assetflow.clock import FixedClock
from assetflow.loader import load_project
from assetflow.request import RunRequest
from assetflow.services.history import Explanation
from assetflow.services.planning import code_diffs, make_plan
from assetflow.store import open_store
from assetflow.views.why import why_text

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
WHEN = "2026-03-01 09:00:00 UTC"

ASSETS = """
    from helpers import double

    from assetflow import asset

    @asset
    def numbers() -> list:
        return [1, 2, 3]

    @asset
    def doubled(numbers: list) -> list:
        return [double(n) for n in numbers]

    @asset
    def tripled(numbers: list) -> list:
        return [n * 3 for n in numbers]

    @asset
    def total(doubled: list, tripled: list) -> dict:
        return {"sum": sum(doubled) + sum(tripled)}

    @asset
    def flaky(context) -> dict:
        if (context.project_dir / "fail").exists():
            raise RuntimeError("told to fail")
        return {"ok": True}
"""
HELPERS = """
    def double(n):
        return n * 2
"""


@pytest.fixture
def root(make_project):
    return make_project(ASSETS, extra_files={"helpers.py": HELPERS})


@pytest.fixture
def store(tmp_path):
    with open_store("sqlite", tmp_path / "m.sqlite") as opened:
        yield opened


@pytest.fixture
def clock():
    return FixedClock(T0)


def materialize(root, store, clock, selection="*", **options):
    return api.materialize(selection, project=root, store=store, clock=clock, **options)


def why(root, store, clock, name):
    project = load_project(root)
    context = make_plan(project, store, RunRequest(f"+{name}"), clock=clock, check_inputs=False)
    return why_text(Explanation(name, None, context, code_diffs(store, context)))


def edit(path, old, new):
    text = path.read_text()
    assert old in text
    assert len(old) != len(new)  # a new size: no stale bytecode is imported
    path.write_text(text.replace(old, new))


def test_fresh(root, store, clock):
    run = materialize(root, store, clock).run_id
    assert why(root, store, clock, "total") == (
        f"'total' is fresh: last materialized by run {run[:8]} at {WHEN}, and neither its "
        "code nor its inputs changed since."
    )


def test_never_materialized_gives_the_plus_hint(root, store, clock):
    assert why(root, store, clock, "total") == (
        "'total' has never been materialized.\n"
        "To build it with everything it needs: assetflow materialize '+total'"
    )


def test_code_change_shows_the_diff_of_the_helper(root, store, clock):
    run = materialize(root, store, clock).run_id
    edit(root / "helpers.py", "return n * 2", "return n + n + 0")
    lines = why(root, store, clock, "doubled").splitlines()
    assert lines[:5] == [
        f"'doubled' is stale: last materialized by run {run[:8]} at {WHEN}, and since then:",
        "  - its code changed: helper helpers.double changed",
        "    --- helpers.double (recorded)",
        "    +++ helpers.double (current)",
        "    @@ -1,2 +1,2 @@",
    ]
    assert "    -    return n * 2" in lines
    assert "    +    return n + n + 0" in lines
    assert "     def double(n):" in lines


def test_code_change_of_the_asset_itself(root, store, clock):
    materialize(root, store, clock)
    edit(root / "assets.py", "[n * 3 for n in numbers]", "[3 * n for n in list(numbers)]")
    text = why(root, store, clock, "tripled")
    assert "  - its code changed: asset tripled changed" in text
    assert "    -    return [n * 3 for n in numbers]" in text
    assert "    +    return [3 * n for n in list(numbers)]" in text


def test_upstream_changed_names_the_run_that_wrote_it(root, store, clock):
    materialize(root, store, clock)
    edit(root / "assets.py", "return [1, 2, 3]", "return [1, 2, 3, 4]")
    clock.advance(60)
    second = materialize(root, store, clock, "numbers")
    before, after = (r.data_version for r in store.asset_history("numbers")[::-1])
    lines = why(root, store, clock, "doubled").splitlines()
    assert lines[1] == (
        f"  - input 'numbers' changed: it was data version {before[:8]} when this asset last "
        f"read it; now it is {after[:8]}, written by run {second.run_id[:8]}"
    )
    assert len(lines) == 2


def test_waiting_explains_the_upstream_chain(root, store, clock):
    run = materialize(root, store, clock).run_id
    edit(root / "helpers.py", "return n * 2", "return n + n + 0")
    lines = why(root, store, clock, "total").splitlines()
    made = f"last materialized by run {run[:8]} at {WHEN}"
    assert lines[:4] == [
        f"'total' is waiting: {made}, and since then:",
        "  - input 'doubled' will be rebuilt first; this asset runs only if that changes its "
        "data. Because:",
        f"    'doubled' is stale: {made}, and since then:",
        "      - its code changed: helper helpers.double changed",
    ]
    assert "        --- helpers.double (recorded)" in lines
    assert "tripled" not in "\n".join(lines)  # fresh inputs are not part of the story


def test_a_diamond_explains_the_shared_cause_once(root, store, clock):
    run = materialize(root, store, clock).run_id
    edit(root / "assets.py", "return [1, 2, 3]", "return [1, 2, 3, 4]")
    made = f"last materialized by run {run[:8]} at {WHEN}"
    rebuilt = "will be rebuilt first; this asset runs only if that changes its data. Because:"
    assert why(root, store, clock, "total").splitlines() == [
        f"'total' is waiting: {made}, and since then:",
        f"  - input 'doubled' {rebuilt}",
        f"    'doubled' is waiting: {made}, and since then:",
        f"      - input 'numbers' {rebuilt}",
        f"        'numbers' is stale: {made}, and since then:",
        "          - its code changed: asset numbers changed",
        "            --- numbers (recorded)",
        "            +++ numbers (current)",
        "            @@ -1,2 +1,2 @@",
        "             def numbers() -> list:",
        "            -    return [1, 2, 3]",
        "            +    return [1, 2, 3, 4]",
        f"  - input 'tripled' {rebuilt}",
        f"    'tripled' is waiting: {made}, and since then:",
        f"      - input 'numbers' {rebuilt}",
        "        'numbers' is stale (explained above).",
    ]


def test_last_attempt_failed(root, store, clock):
    materialize(root, store, clock, "flaky")
    (root / "fail").write_text("")
    clock.advance(60)
    failed = materialize(root, store, clock, "flaky", force=True)
    assert not failed.success
    lines = why(root, store, clock, "flaky").splitlines()
    assert lines[1] == (
        f"  - its last attempt failed in run {failed.run_id[:8]} at 2026-03-01 09:01:00 UTC: "
        "asset 'flaky' raised RuntimeError: told to fail"
    )


def test_other_reasons_are_rendered_as_in_the_plan(make_project, store, clock):
    root = make_project(
        """
        from assetflow import asset, source

        @source
        def feed() -> str:
            raise RuntimeError("down")

        @asset
        def reader(feed: str) -> dict:
            return {"feed": feed}
        """
    )
    text = why(root, store, clock, "reader")
    assert text == "'reader' is stale: never materialized, and since then:\n" + (
        "  - source unavailable: feed: RuntimeError: down"  # and what the observer said
    )


def test_why_on_a_source_says_what_it_is(make_project, store, clock):
    root = make_project(
        """
        from assetflow import asset, source

        @source
        def feed() -> str:
            return "v1"

        @asset
        def reader(feed: str) -> dict:
            return {"feed": feed}
        """
    )
    text = why(root, store, clock, "feed")
    assert text.startswith("'feed' is a source: it is observed each time assetflow plans")
    assert "Its version now is" in text


def test_why_after_a_source_changed_says_observed_now(make_project, store, clock):
    root = make_project(
        """
        from pathlib import Path

        from assetflow import asset, file_source

        feed = file_source("feed", "feed.txt")

        @asset
        def reader(feed: Path) -> dict:
            return {"text": feed.read_text()}
        """,
        extra_files={"feed.txt": "one"},
    )
    materialize(root, store, clock)
    (root / "feed.txt").write_text("two")
    text = why(root, store, clock, "reader")
    assert "input 'feed' changed" in text
    assert "as observed now" in text

"""The Python API: load, select, plan, materialize and status on real projects in tmp_path."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pandas as pd
import pytest

import assetflow
from assetflow.api import status
from assetflow.clock import FixedClock
from assetflow.codecache import has_sources
from assetflow.errors import MissingInputError, SelectionError, WriteError
from assetflow.execution.coordinator import StepState
from assetflow.planner import ReasonKind, Status
from assetflow.planner.status import AssetState
from assetflow.project import Project
from assetflow.services.planning import (
    check_asset_name,
    fingerprints_of,
    manifest_key,
    save_fingerprints,
    select,
)
from assetflow.services.stores import METADATA_FILE, ensure_state_dir
from assetflow.store import RunStatus, open_store

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

STORY = """
    from pathlib import Path

    import pandas as pd

    from assetflow import asset, file_source

    orders = file_source("orders", "orders.csv")

    @asset
    def raw_records(orders: Path) -> pd.DataFrame:
        return pd.read_csv(orders)

    @asset
    def clean_records(raw_records: pd.DataFrame) -> pd.DataFrame:
        return raw_records.dropna().drop_duplicates("id").reset_index(drop=True)

    @asset
    def daily_totals(clean_records: pd.DataFrame) -> dict:
        return {"total": float(clean_records["amount"].sum())}

    @asset
    def flaky(context) -> dict:
        if (context.project_dir / "fail").exists():
            raise RuntimeError("told to fail")
        return {"ok": True}

    @asset
    def after_flaky(flaky: dict) -> dict:
        return flaky

    @asset
    def constant() -> list:
        return [1, 2, 3]
"""
ORDERS = "id,amount\n1,1.0\n2,\n2,3.0\n"
EVERY_ASSET = {"raw_records", "clean_records", "daily_totals", "flaky", "after_flaky", "constant"}


@pytest.fixture
def story(make_project):
    return make_project(STORY, extra_files={"orders.csv": ORDERS})


@pytest.fixture
def clock():
    return FixedClock(T0)


def test_load_a_directory_or_pass_a_project_through(story):
    project = assetflow.load(story)
    assert isinstance(project, Project)
    assert project.root == story.resolve()
    assert assetflow.load(project) is project
    assert assetflow.load(str(story)).graph.names == project.graph.names


def test_materialize_returns_a_run_result_and_writes_outputs(story, clock):
    result = assetflow.materialize(project=story, clock=clock)
    assert result.success
    assert result.status is RunStatus.SUCCESS
    assert result.counts() == {StepState.MATERIALIZED: len(EVERY_ASSET)}
    assert result.failures() == []
    assert {r.asset for r in result.results} == EVERY_ASSET
    assert len(result.run_id) == 32
    assert (result.started_at, result.finished_at) == (T0, T0)
    data = story / ".assetflow" / "data"
    assert pd.read_parquet(data / "clean_records.parquet")["id"].tolist() == [1, 2]
    assert json.loads((data / "daily_totals.json").read_text()) == {"total": 4.0}
    with open_store("sqlite", story / ".assetflow" / METADATA_FILE) as store:
        run = store.get_run(result.run_id)
        assert run.status is RunStatus.SUCCESS
        assert run.trigger == "api"
        assert run.selection == "*"


def test_a_second_materialize_is_empty(story, clock):
    assert assetflow.materialize(project=story, clock=clock).success
    again = assetflow.materialize(project=story, clock=clock)
    assert again.success
    assert again.plan.is_empty
    assert again.results == ()
    assert again.plan.count(Status.FRESH) == len(EVERY_ASSET)


def test_force_rebuilds_every_selected_asset(story, clock):
    assetflow.materialize(project=story, clock=clock)
    plan = assetflow.plan("clean_records+", project=story, force=True, clock=clock)
    assert [s.asset for s in plan.steps] == ["clean_records", "daily_totals"]
    assert all(s.reasons[0].kind is ReasonKind.FORCED for s in plan.steps)
    result = assetflow.materialize("clean_records+", project=story, force=True, clock=clock)
    assert [(r.asset, r.state) for r in result.results] == [
        ("clean_records", StepState.MATERIALIZED),
        ("daily_totals", StepState.MATERIALIZED),
    ]


def test_exclude_leaves_assets_out(story, clock):
    result = assetflow.materialize(exclude="flaky+", project=story, clock=clock)
    assert {r.asset for r in result.results} == EVERY_ASSET - {"flaky", "after_flaky"}
    assert result.plan.selection == "* --exclude flaky+"
    plan = assetflow.plan(project=story, clock=clock)
    assert [s.asset for s in plan.steps] == ["flaky", "after_flaky"]


def test_plan_runs_nothing(story, clock):
    plan = assetflow.plan("+daily_totals", project=story, clock=clock)
    assert [s.asset for s in plan.steps] == ["raw_records", "clean_records", "daily_totals"]
    assert all(s.reasons[0].kind is ReasonKind.NEVER_MATERIALIZED for s in plan.steps)
    assert plan.created_at == T0
    assert not (story / ".assetflow" / "data").exists()


def test_unselected_never_materialized_input_is_a_missing_input_error(story, clock):
    with pytest.raises(
        MissingInputError,
        match="'daily_totals' reads 'clean_records', which is not selected and was never "
        "materialized",
    ) as caught:
        assetflow.materialize("daily_totals", project=story, clock=clock)
    assert "assetflow materialize '+daily_totals'" in str(caught.value)
    assert caught.value.exit_code == 2


def test_unselected_materialized_input_is_read_from_storage(story, clock):
    assetflow.materialize("+clean_records", project=story, clock=clock)
    result = assetflow.materialize("daily_totals", project=story, clock=clock)
    assert result.success
    assert [r.asset for r in result.results] == ["daily_totals"]


def test_injected_store_is_used_instead_of_the_projects(story, clock):
    store = open_store("memory")
    result = assetflow.materialize(project=story, store=store, clock=clock, trigger="schedule")
    assert store.get_run(result.run_id).trigger == "schedule"
    assert not (story / ".assetflow" / METADATA_FILE).exists()
    assert assetflow.plan(project=story, store=store, clock=clock).is_empty


def test_state_dir_not_writable_is_a_write_error(make_project, clock):
    root = make_project(
        STORY,
        config='[tool.assetflow]\nmodules = ["assets"]\nstate_dir = "blocker/state"\n',
        extra_files={"orders.csv": ORDERS},
    )
    (root / "blocker").write_text("a file where a directory should be")
    with pytest.raises(WriteError, match=r"the state directory .*state is not writable") as caught:
        assetflow.materialize(project=root, clock=clock)
    assert "point `state_dir` in [tool.assetflow] at a writable directory" in str(caught.value)


def test_ensure_state_dir_creates_it_and_leaves_no_probe(tmp_path):
    state = tmp_path / "a" / "b" / ".assetflow"
    ensure_state_dir(state)
    ensure_state_dir(state)
    assert state.is_dir()
    assert list(state.iterdir()) == []


def test_ensure_state_dir_under_a_file(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(WriteError, match="is not writable") as caught:
        ensure_state_dir(tmp_path / "file" / "state")
    assert isinstance(caught.value.__cause__, OSError)


def test_select_and_exclude(story):
    project = assetflow.load(story)
    assert select(project, "clean_records+") == {"clean_records", "daily_totals"}
    assert select(project, "*", exclude="orders+") == {"flaky", "after_flaky", "constant"}
    with pytest.raises(SelectionError, match="Did you mean 'clean_records'"):
        select(project, "clean_record")


def test_check_asset_name(story):
    project = assetflow.load(story)
    check_asset_name(project, "daily_totals")
    with pytest.raises(SelectionError, match="no asset is named 'daily_totals_x'") as caught:
        check_asset_name(project, "daily_totals_x")
    assert "Did you mean 'daily_totals'?" in str(caught.value)
    assert "`assetflow list` shows every asset." in str(caught.value)


def test_manifest_key():
    assert manifest_key("3f0e12") == "manifest:3f0e12"


def test_save_fingerprints_keeps_sources_and_the_part_list(story):
    project = assetflow.load(story)
    store = open_store("memory")
    cached = fingerprints_of(project, ["clean_records"])  # computed, written to the cache
    cached = fingerprints_of(project, ["clean_records"])  # read back: no sources
    assert not has_sources(cached["clean_records"])
    save_fingerprints(store, project, cached)
    fingerprint = cached["clean_records"]
    manifest = store.get_code(manifest_key(fingerprint.version))
    assert json.loads(manifest) == fingerprint.digests()
    assert manifest == json.dumps(fingerprint.digests(), sort_keys=True)
    sources = {part.name: store.get_code(part.digest) for part in fingerprint.parts}
    assert "def clean_records(raw_records: pd.DataFrame)" in sources["clean_records"]
    assert all(sources.values())


def test_save_fingerprints_skips_known_versions(story):
    project = assetflow.load(story)
    store = open_store("memory")
    fingerprint = fingerprints_of(project, ["constant"])["constant"]
    store.save_code(manifest_key(fingerprint.version), "{}")
    save_fingerprints(store, project, {"constant": fingerprint})
    assert store.get_code(manifest_key(fingerprint.version)) == "{}"
    assert all(store.get_code(part.digest) is None for part in fingerprint.parts)


def test_materialize_saves_code_for_why(story, clock):
    result = assetflow.materialize("constant", project=story, clock=clock)
    with open_store("sqlite", story / ".assetflow" / METADATA_FILE) as store:
        (record,) = store.asset_history("constant")
        assert record.run_id == result.run_id
        manifest = json.loads(store.get_code(manifest_key(record.code_version)))
        assert "constant" in manifest
        assert "def constant() -> list:" in store.get_code(manifest["constant"])


def states(root, clock):
    return {s.asset: s.state for s in status(project=root, clock=clock)}


def test_status_before_any_run_is_missing_and_needs_no_inputs(story, clock):
    assert states(story, clock) == dict.fromkeys(EVERY_ASSET, AssetState.MISSING)
    only = status("daily_totals", project=story, clock=clock)
    assert [(s.asset, s.state, s.last) for s in only] == [
        ("daily_totals", AssetState.MISSING, None)
    ]


def test_status_fresh_stale_waiting_failed(story, clock):
    first = assetflow.materialize(project=story, clock=clock)
    assert set(states(story, clock).values()) == {AssetState.FRESH}

    (story / "orders.csv").write_text(ORDERS + "3,5.0\n")
    (story / "fail").write_text("")
    clock.advance(60)
    second = assetflow.materialize("flaky", project=story, force=True, clock=clock)
    assert not second.success
    assert states(story, clock) == {
        "raw_records": AssetState.STALE,
        "clean_records": AssetState.WAITING,
        "daily_totals": AssetState.WAITING,
        "flaky": AssetState.FAILED,
        "after_flaky": AssetState.WAITING,
        "constant": AssetState.FRESH,
    }
    by_asset = {s.asset: s for s in status(project=story, clock=clock)}
    assert [r.render() for r in by_asset["raw_records"].reasons] == ["upstream changed: orders"]
    assert [r.render() for r in by_asset["flaky"].reasons] == ["last run failed"]
    assert by_asset["flaky"].reasons[0].run_id == second.run_id
    assert by_asset["flaky"].last.run_id == first.run_id
    assert by_asset["constant"].reasons == ()
    # Not-fresh assets come first, in plan order; fresh ones last.
    assert list(by_asset)[-1] == "constant"


def test_status_and_plan_never_list_sources(story, clock):
    assert "orders" not in {s.asset for s in status(project=story, clock=clock)}
    assert assetflow.plan("orders", project=story, clock=clock).is_empty


def test_a_request_and_run_options_together_are_refused(story):
    from assetflow.errors import UsageError

    with pytest.raises(UsageError, match=r"either request= or the run options \(force\)"):
        assetflow.plan(project=story, request=assetflow.RunRequest(), force=True)


def test_a_whole_request_plans_like_the_keywords(story, clock):
    by_request = assetflow.plan(
        project=story, request=assetflow.RunRequest("+clean_records+"), clock=clock
    )
    by_keywords = assetflow.plan("+clean_records+", project=story, clock=clock)
    assert by_request.steps == by_keywords.steps


def test_read_asset_why_show_and_check_assets_answer_as_the_cli_renders(story, clock):
    from assetflow.services.history import Explanation
    from assetflow.services.reading import AssetHead
    from assetflow.services.running import CheckRun

    assert {"read_asset", "why", "show", "check_assets"} <= set(assetflow.__all__)
    assetflow.materialize("+daily_totals", project=story, clock=clock)
    frame = assetflow.read_asset("clean_records", project=story)
    assert isinstance(frame, pd.DataFrame)
    assert list(frame["id"]) == [1, 2]
    assert assetflow.read_asset("daily_totals", project=story) == {"total": 4.0}
    explanation = assetflow.why("daily_totals", project=story, clock=clock)
    assert isinstance(explanation, Explanation)
    head = assetflow.show("clean_records", limit=1, project=story)
    assert isinstance(head, AssetHead)
    assert head.rows == ((1, 1.0),)
    assert isinstance(assetflow.check_assets(project=story, clock=clock), CheckRun)


def test_read_asset_of_an_unknown_asset_suggests_the_closest(story):
    with pytest.raises(SelectionError) as raised:
        assetflow.read_asset("clean_record", project=story)
    assert raised.value.format_message() == (
        "no asset is named 'clean_record'.\n\n"
        "    Did you mean 'clean_records'?\n\n"
        "`assetflow list` shows every asset."
    )


def test_runs_is_the_function_even_after_its_helpers_are_imported(story):
    import assetflow.run_detail  # the module that once was `assetflow.runs`

    assert callable(assetflow.runs)
    assert assetflow.runs.__module__ == "assetflow.api"
    assert assetflow.history.__module__ == "assetflow.api"


def test_runs_run_history_and_status_return_what_the_cli_renders(story, clock):
    from assetflow.planner.status import Attempt, Outcome
    from assetflow.run_detail import RunDetail
    from assetflow.services.history import AssetHistory, RunList

    (story / "fail").touch()
    failed = assetflow.materialize(project=story, clock=clock)
    (story / "fail").unlink()
    done = assetflow.materialize("flaky+", project=story, clock=FixedClock(T0.replace(day=2)))

    found = assetflow.runs(project=story, asset="flaky", status="failed")
    assert isinstance(found, RunList)
    assert [r.run_id for r in found.runs] == [failed.run_id]
    assert found.counts[failed.run_id]["failed"] == 1
    assert [r.run_id for r in assetflow.runs(project=story, trigger="api", limit=1).runs] == [
        done.run_id
    ]
    assert assetflow.runs(project=story, limit=1).next_before == done.run_id
    since = assetflow.runs(project=story, since=T0.replace(day=2).date(), until="2026-03-02")
    assert [r.run_id for r in since.runs] == [done.run_id]
    assert isinstance(assetflow.run(failed.run_id[:6], project=story), RunDetail)

    every = assetflow.history("after_flaky", project=story, all=True)
    assert isinstance(every, AssetHistory)
    assert [row.event.kind.value for row in every.attempts] == ["materialized", "skipped"]
    assert every.attempts[1].summary == "upstream failed: flaky"
    assert assetflow.history("after_flaky", project=story).attempts is None

    [state] = assetflow.status("after_flaky", project=story)
    assert state.attempt == Attempt(Outcome.MATERIALIZED, done.run_id, state.last.finished_at)


def test_history_and_runs_refuse_a_limit_below_one(story):
    from assetflow.errors import UsageError

    with pytest.raises(UsageError) as caught:
        assetflow.history("flaky", project=story, limit=0)
    assert caught.value.message == "--limit 0: it must be 1 or more."
    with pytest.raises(UsageError) as caught:
        assetflow.runs(project=story, limit=-1)
    assert caught.value.message == "--limit -1: it must be 1 or more."

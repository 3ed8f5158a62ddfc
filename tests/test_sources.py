"""Sources: `file_source` and `@source` are observed at plan time, never materialized."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from assetflow import api, file_source, source
from assetflow.clock import FixedClock
from assetflow.errors import DefinitionError
from assetflow.execution.coordinator import StepState
from assetflow.io.versions import data_version
from assetflow.loader import load_project
from assetflow.planner import ReasonKind, Status
from assetflow.sources import observe_sources, observed_version
from assetflow.store import RunStatus

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

FILE_STORY = """
    import json
    from pathlib import Path

    import pandas as pd

    from assetflow import asset, file_source

    api_response = file_source("api_response", "data/api_response.json", group="ingest")

    @asset
    def raw_records(api_response: Path) -> pd.DataFrame:
        return pd.DataFrame(json.loads(api_response.read_text())["results"])

    @asset
    def totals(raw_records: pd.DataFrame) -> dict:
        return {"amount": float(raw_records["amount"].sum())}

    @asset
    def where(api_response: Path) -> dict:
        return {"path": str(api_response), "absolute": api_response.is_absolute()}
"""
RESPONSE = {"results": [{"id": 1, "amount": 2.5}, {"id": 2, "amount": 4.0}]}


@pytest.fixture
def clock():
    return FixedClock(T0)


@pytest.fixture
def file_story(make_project):
    root = make_project(FILE_STORY)
    (root / "data").mkdir()
    (root / "data" / "api_response.json").write_text(json.dumps(RESPONSE))
    return root


def steps(root, clock, selection="*"):
    return {s.asset: s for s in api.plan(selection, project=root, clock=clock).steps}


def test_a_file_source_reader_gets_the_absolute_path(file_story, clock):
    assert api.materialize(project=file_story, clock=clock).success
    stored = json.loads((file_story / ".assetflow" / "data" / "where.json").read_text())
    expected = (file_story / "data" / "api_response.json").resolve()
    assert stored == {"path": str(expected), "absolute": True}


def test_changing_the_file_stales_its_readers(file_story, clock):
    api.materialize(project=file_story, clock=clock)
    assert api.plan(project=file_story, clock=clock).is_empty
    changed = {"results": [*RESPONSE["results"], {"id": 3, "amount": 1.0}]}
    (file_story / "data" / "api_response.json").write_text(json.dumps(changed))
    plan = steps(file_story, clock)
    assert [plan[name].status for name in ("raw_records", "where", "totals")] == [
        Status.STALE,
        Status.STALE,
        Status.WAITING,
    ]
    (reason,) = plan["raw_records"].reasons
    assert reason.render() == "upstream changed: api_response"
    path = file_story / "data" / "api_response.json"
    assert reason.new == hashlib.blake2b(path.read_bytes(), digest_size=16).hexdigest()
    assert reason.old != reason.new


def test_whitespace_only_edit_rebuilds_the_reader_and_cuts_off_downstream(file_story, clock):
    api.materialize(project=file_story, clock=clock)
    path = file_story / "data" / "api_response.json"
    path.write_text(json.dumps(RESPONSE, indent=2) + "\n")  # same records, new bytes
    result = api.materialize(project=file_story, clock=clock)
    assert {r.asset: r.state for r in result.results} == {
        "raw_records": StepState.MATERIALIZED,
        "where": StepState.MATERIALIZED,
        "totals": StepState.SKIPPED,
    }
    assert api.plan(project=file_story, clock=clock).is_empty


def test_sources_never_appear_as_steps(file_story, clock):
    plan = api.plan(project=file_story, clock=clock)
    assert {s.asset for s in plan.steps} == {"raw_records", "totals", "where"}
    assert api.plan("api_response", project=file_story, clock=clock).is_empty
    assert set(steps(file_story, clock, "group:ingest")) == set()
    assert set(steps(file_story, clock, "api_response+")) == {"raw_records", "totals", "where"}
    api.materialize(project=file_story, clock=clock)
    after = api.plan(project=file_story, clock=clock)
    assert {v.asset for v in after.fresh} == {"raw_records", "totals", "where"}


def test_a_missing_file_makes_its_readers_unavailable(file_story, clock):
    (file_story / "data" / "api_response.json").unlink()
    plan = api.plan(project=file_story, clock=clock)
    (warning,) = plan.warnings
    assert warning.startswith("source 'api_response' (")
    assert "could not be observed: FileNotFoundError: no file at " in warning
    assert [r.render() for r in steps(file_story, clock)["where"].reasons] == [
        "source unavailable: api_response"
    ]


def test_an_absolute_file_source_path_is_used_as_is(make_project, tmp_path, clock):
    outside = tmp_path / "shared" / "feed.txt"
    outside.parent.mkdir()
    outside.write_text("one")
    root = make_project(
        f"""
        from pathlib import Path

        from assetflow import asset, file_source

        feed = file_source("feed", {str(outside)!r})

        @asset
        def copy(feed: Path) -> dict:
            return {{"path": str(feed), "text": feed.read_text()}}
        """
    )
    api.materialize(project=root, clock=clock)
    stored = json.loads((root / ".assetflow" / "data" / "copy.json").read_text())
    assert stored == {"path": str(outside), "text": "one"}
    outside.write_text("two")
    assert [s.asset for s in api.plan(project=root, clock=clock).steps] == ["copy"]


STRING_SOURCE = """
    from assetflow import asset, source

    @source
    def rates_etag(context) -> str:
        return (context.project_dir / "etag.txt").read_text().strip()

    @source(name="fixed_label")
    def label() -> str:
        return "v1"

    @asset
    def rates(rates_etag: str, fixed_label: str) -> dict:
        return {"etag": rates_etag, "label": fixed_label}
"""


def test_a_source_returning_a_string(make_project, clock):
    root = make_project(STRING_SOURCE, extra_files={"etag.txt": "abc\n"})
    api.materialize(project=root, clock=clock)
    stored = json.loads((root / ".assetflow" / "data" / "rates.json").read_text())
    assert stored == {"etag": "abc", "label": "v1"}
    assert api.plan(project=root, clock=clock).is_empty

    (root / "etag.txt").write_text("abd\n")
    (step,) = api.plan(project=root, clock=clock).steps
    assert step.asset == "rates"
    (reason,) = step.reasons
    assert (reason.kind, reason.upstream) == (ReasonKind.UPSTREAM_CHANGED, "rates_etag")
    assert reason.new == hashlib.blake2b(b"abd", digest_size=16).hexdigest()


FAILING_OBSERVER = """
    from assetflow import asset, source

    @source
    def feed() -> str:
        raise RuntimeError("the feed is down")

    @asset
    def reader(feed: str) -> dict:
        return {"feed": feed}

    @asset
    def after_reader(reader: dict) -> dict:
        return reader

    @asset
    def other() -> dict:
        return {"ok": True}
"""


def test_an_observer_that_raises_warns_and_stales_only_its_readers(make_project, clock):
    root = make_project(FAILING_OBSERVER)
    plan = api.plan(project=root, clock=clock)
    (warning,) = plan.warnings
    assert warning.startswith("source 'feed' (")
    assert warning.endswith("assets.py:4) could not be observed: RuntimeError: the feed is down")
    by_asset = {s.asset: s for s in plan.steps}
    assert by_asset["reader"].status is Status.STALE
    assert [r.render() for r in by_asset["reader"].reasons] == ["source unavailable: feed"]
    assert [r.render() for r in by_asset["other"].reasons] == ["never materialized"]


def test_materialize_fails_only_the_readers_of_an_unavailable_source(make_project, clock):
    root = make_project(FAILING_OBSERVER)
    result = api.materialize(project=root, clock=clock)
    states = {r.asset: r for r in result.results}
    assert states["other"].state is StepState.MATERIALIZED
    assert states["reader"].state is StepState.FAILED
    assert "source 'feed'" in states["reader"].message
    assert "RuntimeError: the feed is down" in states["reader"].message
    assert states["after_reader"].state is StepState.BLOCKED
    assert states["after_reader"].message == "upstream failed: reader"
    assert result.status is RunStatus.FAILED
    assert api.plan(project=root, clock=clock).count(Status.FRESH) == 1


def test_a_source_nobody_reads_is_not_observed(make_project, clock):
    root = make_project(
        """
        from assetflow import asset, source

        @source
        def broken() -> str:
            raise RuntimeError("never called")

        @asset
        def alone() -> dict:
            return {}
        """
    )
    assert api.plan(project=root, clock=clock).warnings == ()


def test_each_observer_is_called_once_per_plan(make_project, clock):
    root = make_project(
        """
        from assetflow import asset, source

        CALLS = []

        @source
        def counted() -> str:
            CALLS.append(1)
            return "v"

        @asset
        def first(counted: str) -> dict:
            return {"v": counted}

        @asset
        def second(counted: str) -> dict:
            return {"v": counted}
        """
    )
    project = load_project(root)
    calls = project.graph.spec("counted").fn.__globals__["CALLS"]
    api.plan(project=project, clock=clock)
    assert len(calls) == 1
    api.materialize(project=project, clock=clock)
    assert len(calls) == 2


def test_a_source_with_a_parameter_naming_an_asset_is_a_definition_error(make_project):
    root = make_project(
        """
        from assetflow import asset, source

        @asset
        def raw() -> dict:
            return {}

        @source
        def feed(context, raw) -> str:
            return "v"
        """
    )
    with pytest.raises(
        DefinitionError,
        match=r"source 'feed' \(proj/assets.py:8\) has a parameter 'raw', but a source observes "
        "something outside the project and reads no asset",
    ) as caught:
        load_project(root)
    assert "only 'context' is allowed" in str(caught.value)


def test_source_declarations_make_source_specs(tmp_path):
    orders = file_source("orders", "data/orders.csv", tags="external")

    @source
    def etag() -> str:
        return "x"

    assert orders.is_source
    assert orders.kind == "source"
    assert orders.description == "The file data/orders.csv."
    assert orders.tags == {"external"}
    assert Path(orders.file).name == "test_sources.py"  # the declaration, not assetflow's module
    assert etag.is_source
    assert etag.name == "etag"
    assert etag() == "x"


def test_observe_sources_reports_values_versions_and_errors(make_project):
    project = load_project(make_project(FAILING_OBSERVER))
    observations = observe_sources(project, ["feed"])
    assert observations.values == {}
    assert observations.versions == {}
    assert list(observations.errors) == [("feed", None)]
    root = make_project(STRING_SOURCE, name="other", extra_files={"etag.txt": "abc"})
    project = load_project(root)
    observations = observe_sources(project, ["rates_etag", "fixed_label", "rates_etag"])
    assert observations.values == {("rates_etag", None): "abc", ("fixed_label", None): "v1"}
    assert observations.versions[("fixed_label", None)] == observed_version("v1")
    assert observations.errors == {}


def test_observed_version_of_files_strings_and_values(tmp_path):
    one, two = tmp_path / "one.txt", tmp_path / "two.txt"
    one.write_bytes(b"same bytes")
    two.write_bytes(b"same bytes")
    assert observed_version(one) == observed_version(two)
    assert observed_version(one) == hashlib.blake2b(b"same bytes", digest_size=16).hexdigest()
    two.write_bytes(b"same bytes ")
    assert observed_version(one) != observed_version(two)
    assert observed_version("etag-1") != observed_version("etag-2")
    assert observed_version({"max": 3}) == data_version({"max": 3})
    with pytest.raises(FileNotFoundError, match="no file at"):
        observed_version(tmp_path / "missing.txt")
    with pytest.raises(IsADirectoryError, match="is a directory, but a file source reads one file"):
        observed_version(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"^no file at sub/missing\.txt$"):
        observed_version(tmp_path / "sub" / "missing.txt", tmp_path)


PARTITIONED_FILES = """
    from pathlib import Path

    import pandas as pd

    from assetflow import DailyPartitions, asset, file_source

    days = DailyPartitions(start="2026-03-01", end="2026-03-04")

    orders = file_source("orders", "data/orders/{partition}.csv", partitions=days)

    @asset(partitions=days)
    def clean_orders(orders: Path) -> pd.DataFrame:
        return pd.read_csv(orders)

    @asset(partitions=days)
    def order_totals(clean_orders: pd.DataFrame) -> dict:
        return {"amount": float(clean_orders["amount"].sum())}

    @asset
    def order_files(orders: Path) -> dict:
        return {key: Path(path).name for key, path in orders.items()}
"""


def write_orders(root, day, text):
    folder = root / "data" / "orders"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{day}.csv").write_text(f"id,amount\n{text}\n")


@pytest.fixture
def later():
    """A clock after the three days of PARTITIONED_FILES are complete."""
    return FixedClock(datetime(2026, 3, 10, tzinfo=UTC))


@pytest.fixture
def partitioned_files(make_project):
    root = make_project(PARTITIONED_FILES)
    write_orders(root, "2026-03-01", "1,2.5")
    write_orders(root, "2026-03-02", "2,4.0")
    return root


def stale_keys(root, clock, selection="*"):
    return {(s.asset, s.partition) for s in api.plan(selection, project=root, clock=clock).steps}


def test_a_partitioned_file_source_reads_each_partitions_own_file(partitioned_files, later):
    result = api.materialize(project=partitioned_files, clock=later)
    states = {(r.asset, r.partition): r.state for r in result.results}
    assert states[("clean_orders", "2026-03-01")] is StepState.MATERIALIZED
    assert states[("clean_orders", "2026-03-02")] is StepState.MATERIALIZED
    # The reader of all partitions gets the files there are, by partition key.
    stored = json.loads(
        (partitioned_files / ".assetflow" / "data" / "order_files.json").read_text()
    )
    assert stored == {"2026-03-01": "2026-03-01.csv", "2026-03-02": "2026-03-02.csv"}


def test_a_missing_file_fails_only_its_partition_and_says_where_it_looked(partitioned_files, later):
    result = api.materialize(project=partitioned_files, clock=later)
    by_key = {(r.asset, r.partition): r for r in result.results}
    failed = by_key[("clean_orders", "2026-03-03")]
    assert failed.state is StepState.FAILED
    assert failed.message.startswith("source 'orders' (proj/assets.py:10) could not be observed")
    assert failed.message.endswith(
        "for partition 2026-03-03: FileNotFoundError: no file at data/orders/2026-03-03.csv"
    )
    assert by_key[("order_totals", "2026-03-03")].state is StepState.BLOCKED
    assert by_key[("order_totals", "2026-03-02")].state is StepState.MATERIALIZED
    plan = api.plan(project=partitioned_files, clock=later)
    (warning, left_out) = plan.warnings
    assert "no file at data/orders/2026-03-03.csv" in warning
    assert left_out == (
        "'order_files' reads all partitions of 'orders'; 1 of them could not be observed "
        "and is left out: 2026-03-03"
    )


def test_a_new_days_file_stales_only_that_days_readers(partitioned_files, later):
    api.materialize(project=partitioned_files, clock=later)
    write_orders(partitioned_files, "2026-03-03", "3,1.0")
    assert stale_keys(partitioned_files, later, "clean_orders+") == {
        ("clean_orders", "2026-03-03"),
        ("order_totals", "2026-03-03"),
    }
    api.materialize(project=partitioned_files, clock=later)
    assert api.plan(project=partitioned_files, clock=later).is_empty


def test_an_edited_days_file_stales_only_that_days_readers(partitioned_files, later):
    write_orders(partitioned_files, "2026-03-03", "3,1.0")
    api.materialize(project=partitioned_files, clock=later)
    write_orders(partitioned_files, "2026-03-02", "2,5.0")
    plan = {
        (s.asset, s.partition): s for s in api.plan(project=partitioned_files, clock=later).steps
    }
    assert set(plan) == {
        ("clean_orders", "2026-03-02"),
        ("order_totals", "2026-03-02"),
        ("order_files", None),
    }
    (reason,) = plan[("clean_orders", "2026-03-02")].reasons
    assert reason.render() == "upstream changed: orders[2026-03-02]"


def test_a_directory_where_a_partitions_file_should_be_says_so(partitioned_files, later):
    (partitioned_files / "data" / "orders" / "2026-03-03.csv").mkdir()
    steps_by_key = {
        (s.asset, s.partition): s for s in api.plan(project=partitioned_files, clock=later).steps
    }
    (reason,) = steps_by_key[("clean_orders", "2026-03-03")].reasons
    assert reason.render() == "source unavailable: orders[2026-03-03]"
    warning = api.plan(project=partitioned_files, clock=later).warnings[0]
    assert warning.endswith(
        "IsADirectoryError: data/orders/2026-03-03.csv is a directory, but a file source "
        "reads one file; name a file in it (or, for one file per partition, use a pattern "
        "with {partition} and partitions=)"
    )


def test_only_the_planned_partitions_of_a_source_are_observed(partitioned_files, later):
    from assetflow.request import PartitionRequest

    project = load_project(partitioned_files)
    observations = observe_sources(project, ["orders"], {"orders": ["2026-03-02"]})
    assert list(observations.versions) == [("orders", "2026-03-02")]
    assert observe_sources(project, ["orders"]).versions == {}
    plan = api.plan(
        "clean_orders",
        project=partitioned_files,
        clock=later,
        partitions=PartitionRequest("2026-03-03", "2026-03-03"),
    )
    assert len(plan.warnings) == 1  # only 2026-03-03 was looked for
    assert "partition 2026-03-03" in plan.warnings[0]


def test_many_missing_partitions_make_one_warning(make_project, later):
    root = make_project(PARTITIONED_FILES)
    plan = api.plan("clean_orders", project=root, clock=later)
    (warning,) = plan.warnings
    assert warning.endswith(
        "(3 partitions could not be observed: 2026-03-01, 2026-03-02, 2026-03-03)"
    )


def test_a_partitioned_file_source_without_the_partition_field_is_a_definition_error(
    make_project,
):
    root = make_project(
        """
        from assetflow import DailyPartitions, file_source

        orders = file_source(
            "orders", "data/orders.csv", partitions=DailyPartitions(start="2026-03-01")
        )
        """
    )
    with pytest.raises(DefinitionError) as caught:
        load_project(root)
    assert str(caught.value).startswith(
        "file source 'orders' (proj/assets.py:4) has partitions, but its path "
        "'data/orders.csv' has no {partition} in it."
    )
    assert "(e.g. 'data/orders/{partition}.csv')" in str(caught.value)


def test_a_partition_field_without_partitions_is_a_definition_error(make_project):
    root = make_project(
        """
        from assetflow import file_source

        orders = file_source("orders", "data/orders/{partition}.csv")
        """
    )
    with pytest.raises(
        DefinitionError,
        match=r"file source 'orders' \(proj/assets.py:4\) has \{partition\} in its path "
        r"'data/orders/\{partition\}.csv', but no partitions.",
    ) as caught:
        load_project(root)
    assert "pass partitions=" in str(caught.value)


def test_a_partitioned_source_observer_gets_the_partition_key(make_project, later):
    root = make_project(
        """
        from assetflow import StaticPartitions, asset, source

        regions = StaticPartitions(["eu", "us"])

        @source(partitions=regions)
        def feed(context) -> str:
            return "etag-" + context.partition_key

        @asset(partitions=regions)
        def copy(feed: str) -> dict:
            return {"feed": feed}
        """
    )
    api.materialize(project=root, clock=later)
    stored = json.loads(
        (root / ".assetflow" / "data" / "copy" / "partition=us" / "part.json").read_text()
    )
    assert stored == {"feed": "etag-us"}


def test_why_names_the_file_a_partition_looked_for(partitioned_files, later):
    api.materialize(project=partitioned_files, clock=later)
    (partitioned_files / "data" / "orders" / "2026-03-02.csv").unlink()
    from assetflow.services import history
    from assetflow.views.why import why_text

    project = load_project(partitioned_files)
    text = why_text(history.why(project, "clean_orders", partition="2026-03-02", clock=later))
    assert "  - source unavailable: orders[2026-03-02]: FileNotFoundError: no file at " in text
    assert text.endswith("data/orders/2026-03-02.csv")

"""Sensors: declaring them, evaluating them (errors, timeouts, cursors), and source sensors."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assetflow.automation.sensors import (
    SensorContext,
    SensorResult,
    SensorSpec,
    check_sensor_names,
    evaluate_sensor,
    evaluate_sensors,
    observe_source_sensor,
    sensed_sources,
    sensor,
    sensors_in,
    source_sensor_due,
)
from assetflow.errors import DefinitionError
from assetflow.loader import load_project
from assetflow.request import PartitionRequest, RunRequest

NOW = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)


def evaluate(spec, cursor=None, last=None):
    return evaluate_sensor(spec, cursor=cursor, now=NOW, last_evaluated_at=last)


# --- declaring ---------------------------------------------------------------------------


def test_a_sensor_is_a_spec_with_its_settings():
    @sensor(interval="5m", timeout="10s", select="+report", exclude="slow", tags={"team": "x"})
    def new_files(context):
        return None

    assert isinstance(new_files, SensorSpec)
    assert new_files.name == "new_files"
    assert new_files.origin == "sensor:new_files"
    assert new_files.interval == timedelta(minutes=5)
    assert new_files.timeout == timedelta(seconds=10)
    assert (new_files.select, new_files.exclude) == ("+report", "slow")
    assert dict(new_files.tags) == {"team": "x"}
    assert new_files.module == __name__
    assert new_files.line > 0
    assert "test_sensors.py" in new_files.location


def test_bare_sensor_defaults():
    @sensor
    def ping():
        return None

    assert ping.interval == timedelta(seconds=30)
    assert ping.timeout == timedelta(seconds=60)
    assert ping.select is None
    assert ping.wants_context is False
    assert sensor(name="renamed")(ping).name == "renamed"


def test_a_sensor_stays_callable():
    @sensor
    def answer(context):
        return context

    assert answer(42) == 42


def _signature_error(fn, name=None):
    with pytest.raises(DefinitionError) as info:
        sensor(name=name)(fn)
    return str(info.value)


def test_a_sensor_with_two_parameters_is_a_definition_error():
    def watch(context, store):
        return None

    message = _signature_error(watch)
    assert message.startswith("sensor 'watch' (")
    assert "test_sensors.py:" in message
    assert "takes (context, store), but a sensor function takes its context and nothing else" in (
        message
    )
    assert "`def watch(context): ...` (or no parameter)" in message


def test_a_sensor_whose_parameter_is_not_context_is_a_definition_error():
    def watch(ctx):
        return None

    message = _signature_error(watch, name="files")
    assert message.startswith("sensor 'files' (")
    assert "takes (ctx), but a sensor function takes its context" in message
    assert "`def watch(context): ...`" in message


@pytest.mark.parametrize(
    "source",
    [
        "def watch(*context): pass",
        "def watch(**context): pass",
        "def watch(*, context): pass",
        "def watch(context, *rest): pass",
    ],
)
def test_other_signatures_are_definition_errors(source):
    namespace: dict = {}
    exec(source, namespace)
    assert "but a sensor function takes its context and nothing else" in _signature_error(
        namespace["watch"]
    )


def test_an_async_sensor_is_a_definition_error():
    async def watch(context):
        return None

    message = _signature_error(watch)
    assert "is an async function; a sensor is a plain function" in message
    assert "`def watch(context): ...`" in message


def test_a_sensor_selection_that_does_not_parse_is_a_definition_error():
    with pytest.raises(DefinitionError, match=r"sensor 'watch' \(.*\): select='a \+\+' does not"):

        @sensor(select="a ++")
        def watch(context):
            return None


def test_a_bad_interval_or_timeout_is_a_definition_error():
    with pytest.raises(DefinitionError, match=r"sensor 'watch' \(.*\): interval is 'often'"):

        @sensor(interval="often")
        def watch(context):
            return None

    with pytest.raises(DefinitionError, match=r"timeout is 0; it must be longer than zero"):
        sensor(timeout=0)(lambda: None)


def test_two_sensors_with_one_name_are_a_definition_error():
    first = sensor(name="dup")(lambda: None)
    second = sensor(name="dup")(lambda context: None)
    with pytest.raises(DefinitionError, match=r"two sensors are named 'dup': .* and .*Rename one"):
        check_sensor_names([first, second])
    check_sensor_names([first])

    class Module:
        pass

    one, other = Module(), Module()
    one.a, one.b, other.a = first, first, second
    assert sensors_in([one]) == [first]
    with pytest.raises(DefinitionError, match="two sensors are named 'dup'"):
        sensors_in([one, other])


# --- return values and cursors ----------------------------------------------------------


def test_none_requests_nothing_and_keeps_the_cursor():
    outcome = evaluate(sensor(lambda context: None), cursor="c1")
    assert outcome.error is None
    assert outcome.ok
    assert outcome.requests == ()
    assert outcome.cursor == "c1"
    assert outcome.evaluated_at == NOW
    assert outcome.duration_s >= 0


def test_one_request_gets_the_sensor_trigger_selection_and_tags():
    @sensor(select="+report", exclude="slow", tags={"team": "data", "kind": "sensor"})
    def files(context):
        return RunRequest.of(run_key="file-1", tags={"kind": "file"})

    (request,) = evaluate(files).requests
    assert request.trigger == "sensor:files"
    assert (request.selection, request.exclude) == ("+report", "slow")
    assert request.run_key == "file-1"
    assert request.tag_map == {"team": "data", "kind": "file"}


def test_a_request_selection_wins_over_the_sensor_selection():
    @sensor(select="+report", exclude="slow")
    def files(context):
        return [
            RunRequest("orders", partitions=PartitionRequest.one("2026-03-01"), run_key="k"),
            RunRequest("orders", exclude="x"),
        ]

    first, second = evaluate(files).requests
    assert (first.selection, first.exclude) == ("orders", None)
    assert first.partitions == PartitionRequest.one("2026-03-01")
    assert first.run_key == "k"
    assert (second.selection, second.exclude) == ("orders", "x")


def test_a_sensor_exclude_alone_applies_to_requests_without_a_selection():
    @sensor(exclude="slow")
    def files(context):
        return [RunRequest(), RunRequest(exclude="other"), RunRequest("orders")]

    requests = evaluate(files).requests
    assert [(r.selection, r.exclude) for r in requests] == [
        ("*", "slow"),
        ("*", "other"),
        ("orders", None),
    ]


def test_without_a_sensor_selection_the_request_keeps_everything():
    (request,) = evaluate(sensor(lambda: RunRequest())).requests
    assert (request.selection, request.exclude, request.trigger) == ("*", None, "sensor:<lambda>")


def test_a_generator_sensor_yields_its_requests():
    @sensor
    def files(context):
        yield RunRequest("a")
        yield RunRequest("b")

    assert [r.selection for r in evaluate(files).requests] == ["a", "b"]


def test_a_generator_that_raises_midway_is_an_error_outcome():
    @sensor
    def files(context):
        yield RunRequest("a")
        raise KeyError("b")

    outcome = evaluate(files, cursor="kept")
    assert outcome.error.startswith("raised KeyError: 'b'")
    assert (outcome.requests, outcome.cursor) == ((), "kept")


def test_a_sensor_result_carries_cursor_partitions_and_skip_reason():
    @sensor
    def files(context):
        return SensorResult(
            run_requests=[RunRequest("orders", run_key="a")],
            cursor="c2",
            add_partitions={"uploads": ["2026-03-07-batch-2", "2026-03-07-batch-2", "b"]},
        )

    outcome = evaluate(files, cursor="c1")
    assert [r.run_key for r in outcome.requests] == ["a"]
    assert outcome.cursor == "c2"
    assert dict(outcome.add_partitions) == {"uploads": ("2026-03-07-batch-2", "b")}


def test_a_skip_reason_is_kept():
    outcome = evaluate(sensor(lambda: SensorResult(skip_reason="no new files")), cursor="c")
    assert outcome.skip_reason == "no new files"
    assert outcome.cursor == "c"


def test_a_sensor_may_set_the_cursor_on_its_context():
    @sensor
    def files(context):
        assert context.cursor == "3"
        context.cursor = str(int(context.cursor) + 1)

    assert evaluate(files, cursor="3").cursor == "4"


def test_a_result_cursor_wins_over_the_context_cursor():
    @sensor
    def files(context):
        context.cursor = "from-context"
        return SensorResult(cursor="from-result")

    assert evaluate(files, cursor="0").cursor == "from-result"


def test_the_context_says_when_and_who():
    seen: list[SensorContext] = []

    @sensor
    def files(context):
        seen.append(context)

    last = NOW - timedelta(seconds=30)
    berlin = NOW.astimezone(timezone(timedelta(hours=1)))
    evaluate_sensor(files, cursor=None, now=berlin, last_evaluated_at=last)
    (context,) = seen
    assert context.name == "files"
    assert context.now == NOW
    assert context.now.tzinfo == UTC
    assert context.last_evaluated_at == last
    assert context.log.name == "assetflow.sensor.files"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"selection": "x"}, "returned a dict; a sensor returns None, a RunRequest, a list of "),
        ("orders", "returned a str; a sensor returns None, a RunRequest"),
        ([RunRequest(), "x"], "returned a list whose item 1 is a str; each item is a RunRequest"),
        (
            SensorResult(run_requests="x"),  # type: ignore[arg-type]
            "returned a SensorResult whose run_requests is a str; give a list of RunRequests",
        ),
        (
            SensorResult(skip_reason=3),  # type: ignore[arg-type]
            "returned a SensorResult whose skip_reason is an int; give a string",
        ),
    ],
)
def test_a_wrong_return_type_is_an_error_outcome(value, expected):
    outcome = evaluate(sensor(lambda: value), cursor="kept")
    assert outcome.error is not None
    assert outcome.error.startswith(expected)
    assert outcome.requests == ()
    assert outcome.cursor == "kept"


def test_a_cursor_that_is_not_a_string_is_an_error_outcome():
    @sensor
    def files(context):
        context.cursor = 5

    outcome = evaluate(files, cursor="kept")
    assert outcome.error == (
        "set its cursor to an int; a cursor is a string (or None): store a number with str() "
        "or several values with json.dumps()"
    )
    assert outcome.cursor == "kept"


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("", "with the key '': it is empty"),
        ("a/b", "with the key 'a/b': it contains a path separator"),
        ("..", "with the key '..': it contains '..'"),
        (".", "with the key '.': it is '.', which names the folder"),
        ("k" * 201, "it is 201 characters long, over the 200 allowed"),
        (7, "with the key 7, an int; a partition key is a string"),
        # The rules of `assetflow partitions add`: a sensor stores no key it would refuse.
        ("2026..03", "with the key '2026..03': it contains '..'"),
        (" batch", "with the key ' batch': it starts or ends with whitespace"),
        ("tab\x7f", "it contains a control character"),
    ],
)
def test_invalid_partition_keys_are_error_outcomes_naming_the_key(key, expected):
    @sensor
    def files(context):
        context.cursor = "advanced"
        return SensorResult(run_requests=[RunRequest()], add_partitions={"uploads": ["ok", key]})

    outcome = evaluate(files, cursor="kept")
    assert outcome.error is not None
    assert outcome.error.startswith("returned add_partitions['uploads'] with the key ")
    assert expected in outcome.error
    assert (outcome.cursor, outcome.requests, dict(outcome.add_partitions)) == ("kept", (), {})


def test_a_single_key_string_is_not_split_into_characters():
    outcome = evaluate(sensor(lambda: SensorResult(add_partitions={"uploads": "batch-1"})))
    assert outcome.error == (
        "returned add_partitions['uploads'] = 'batch-1'; give a list of keys (['batch-1'] for one)"
    )


def test_a_key_of_200_characters_is_fine():
    outcome = evaluate(sensor(lambda: SensorResult(add_partitions={"uploads": ["k" * 200]})))
    assert outcome.error is None


# --- errors and timeouts ----------------------------------------------------------------


def _parse_the_listing(context):
    raise ValueError("the listing is not JSON\nline two")


def test_a_sensor_that_raises_is_an_error_outcome_with_its_message_and_frames():
    outcome = evaluate(sensor(name="listing")(_parse_the_listing), cursor="kept")
    assert outcome.error is not None
    assert outcome.error.startswith("raised ValueError: the listing is not JSON\nline two\n")
    assert "test_sensors.py" in outcome.error
    assert "in _parse_the_listing" in outcome.error
    assert 'sensors.py"' not in outcome.error.replace("test_sensors.py", "")
    assert "threading" not in outcome.error
    assert outcome.cursor == "kept"
    assert outcome.requests == ()


def test_a_long_message_is_cut_to_its_first_lines():
    def noisy(context):
        raise RuntimeError("\n".join(f"line {n}" for n in range(20)))

    outcome = evaluate(sensor(noisy))
    assert outcome.error is not None
    assert "line 4\n(… 15 more lines)" in outcome.error
    assert "line 5" not in outcome.error


def test_a_sensor_raising_system_exit_does_not_stop_anything():
    def leaving(context):
        raise SystemExit(3)

    assert evaluate(sensor(leaving)).error.startswith("raised SystemExit: 3")


def test_a_hanging_sensor_times_out_and_another_still_returns():
    release = threading.Event()

    @sensor(name="hangs", timeout=0.5)
    def hangs(context):
        release.wait(30)
        context.cursor = "too late"

    @sensor(name="quick", timeout=5)
    def quick(context):
        return RunRequest("orders")

    started = time.monotonic()
    try:
        slow, fast = evaluate_sensors(
            [hangs, quick], cursors={"hangs": "kept"}, now=NOW, last={}, max_parallel=2
        )
        elapsed = time.monotonic() - started
        assert elapsed < 0.9
        assert slow.error == "timed out after 0.5 s"
        assert slow.cursor == "kept"
        assert slow.origin == "sensor:hangs"
        assert 0.45 <= slow.duration_s < 0.7
        assert fast.error is None
        assert [r.selection for r in fast.requests] == ["orders"]

        # While the abandoned call still runs, the sensor is not started a second time.
        again = evaluate(hangs, cursor="kept")
        assert again.error == "not started: its evaluation that timed out earlier is still running"
        assert again.cursor == "kept"
    finally:
        release.set()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        outcome = evaluate(hangs, cursor="kept")
        if not (outcome.error or "").startswith("not started"):
            break
        time.sleep(0.01)
    assert outcome.error is None
    assert outcome.cursor == "too late"


def test_evaluate_sensors_keeps_the_order_and_the_cursors_by_name():
    specs = [sensor(name=f"s{n}")(lambda context: None) for n in range(6)]
    outcomes = evaluate_sensors(
        specs, cursors={f"s{n}": str(n) for n in range(6)}, now=NOW, last={}, max_parallel=3
    )
    assert [o.origin for o in outcomes] == [f"sensor:s{n}" for n in range(6)]
    assert [o.cursor for o in outcomes] == [str(n) for n in range(6)]
    assert evaluate_sensors([], cursors={}, now=NOW, last={}) == []


# --- source sensors ---------------------------------------------------------------------

FILES = """
    from pathlib import Path

    from assetflow import StaticPartitions, asset, file_source, source

    listing = file_source("listing", "data/listing.csv", sensor=True)
    days = file_source(
        "days", "data/{partition}.csv", partitions=StaticPartitions(["a", "b", "c"]), sensor=True
    )

    @source(sensor=True)
    def broken() -> str:
        raise OSError("the bucket is gone")

    @asset
    def count(listing: Path) -> int:
        return len(listing.read_text().splitlines())
"""


def test_observing_a_source_sensor_and_deciding_it_changed(make_project):
    root = make_project(FILES)
    (root / "data").mkdir()
    (root / "data" / "listing.csv").write_text("a\n")
    project = load_project(root)
    spec = project.graph.spec("listing")

    first = observe_source_sensor(project, spec)
    assert isinstance(first, str)
    assert source_sensor_due("listing", None, first).changed
    assert source_sensor_due("listing", None, first).first
    assert not source_sensor_due("listing", first, observe_source_sensor(project, spec)).changed

    (root / "data" / "listing.csv").write_text("a\nb\n")
    now = observe_source_sensor(project, spec)
    change = source_sensor_due("listing", first, now)
    assert change.changed
    assert not change.first
    assert change.partition_keys == ()


def test_a_partitioned_source_sensor_is_versioned_per_key(make_project):
    root = make_project(FILES)
    (root / "data").mkdir()
    (root / "data" / "a.csv").write_text("1")
    (root / "data" / "b.csv").write_text("2")
    project = load_project(root)
    spec = project.graph.spec("days")

    before = observe_source_sensor(project, spec, now=NOW)
    assert isinstance(before, dict)
    assert sorted(before) == ["a", "b"]

    (root / "data" / "b.csv").write_text("22")
    (root / "data" / "c.csv").write_text("3")
    (root / "data" / "a.csv").unlink()
    after = observe_source_sensor(project, spec, now=NOW)
    change = source_sensor_due("days", before, after)
    assert change.changed
    assert change.partition_keys == ("b", "c")
    assert change.removed_keys == ("a",)

    assert sorted(observe_source_sensor(project, spec, keys=["c"])) == ["c"]
    assert not source_sensor_due("days", after, dict(after)).changed


def test_a_source_sensor_that_cannot_be_observed_raises_the_planner_warning(make_project):
    project = load_project(make_project(FILES))
    from assetflow.automation.sensors import SourceSensorError

    with pytest.raises(SourceSensorError, match=r"source 'broken' .* could not be observed: OSE"):
        observe_source_sensor(project, project.graph.spec("broken"))


def test_only_a_source_is_observed(make_project):
    project = load_project(make_project(FILES))
    sensed = [spec.name for spec in sensed_sources(project.graph.specs())]
    assert sensed == ["broken", "days", "listing"]
    with pytest.raises(DefinitionError, match="'count' is an asset, not a source"):
        observe_source_sensor(project, project.graph.spec("count"))


def test_the_public_names_are_exported():
    import assetflow

    assert {"sensor", "SensorContext", "SensorResult", "on_cron"} <= set(assetflow.__all__)
    assert assetflow.sensor is sensor
    assert assetflow.SensorResult is SensorResult


WITH_A_SENSOR = """
    from assetflow import RunRequest, asset, sensor

    @asset(automation="eager")
    def orders() -> dict:
        return {}

    @sensor(select="orders", interval="1m")
    def ping(context):
        return RunRequest(run_key=context.now.isoformat())
"""


def test_a_project_module_with_a_sensor_loads_and_its_sensor_can_be_found(make_project):
    import sys

    project = load_project(make_project(WITH_A_SENSOR))
    assert project.graph.spec("orders").automation is not None
    found = [
        value
        for module in list(sys.modules.values())
        if getattr(module, "__file__", None) and str(project.root) in str(module.__file__)
        for value in vars(module).values()
        if isinstance(value, SensorSpec)
    ]
    assert [spec.name for spec in found] == ["ping"]
    # Only this project's modules: earlier tests leave other projects' modules loaded.
    modules = [
        m
        for m in list(sys.modules.values())
        if m is not None and str(project.root) in str(getattr(m, "__file__", None))
    ]
    assert sensors_in(modules) == found
    assert [spec.name for spec in sensed_sources(project.graph.specs())] == []
    (request,) = evaluate(found[0]).requests
    assert (request.selection, request.run_key) == ("orders", NOW.isoformat())


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(["a", "1", "-", ".", " ", "/", "\\", "\n", "\x7f", "é"])))
def test_a_sensor_accepts_the_keys_partitions_add_accepts(key):
    from assetflow.automation.sensors import partition_key_problem
    from assetflow.errors import UsageError
    from assetflow.partitions.dynamic import check_partition_key

    try:
        check_partition_key(key)
        accepted = True
    except UsageError:
        accepted = False
    assert (partition_key_problem(key) is None) == accepted

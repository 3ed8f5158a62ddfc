"""End to end: bad automation input through the real CLI.

Each case: exit code 2, a message that says what is wrong, where, and how to fix
it, no traceback, and nothing started (no run, no tick, no pause, no key
recorded). The unit tests in tests/automation pin the wording of each message
in full; these pin that it reaches the user, at load time, through every command
that loads the schedules.
"""

from __future__ import annotations

import contextlib

import pytest
from click.testing import CliRunner

from assetflow.cli import cli
from assetflow.store.opening import open_store

ASSETS = """
from assetflow import DailyPartitions, DynamicPartitions, asset

days = DailyPartitions(start="2026-03-01", timezone="Europe/Berlin")
uploads = DynamicPartitions("uploads")

@asset(partitions=days)
def orders(context) -> dict:
    return {"day": context.partition_key}

@asset
def summary() -> dict:
    return {"ok": 1}

@asset(partitions=uploads)
def upload(context) -> dict:
    return {"key": context.partition_key}
"""

CONFIG = """
[tool.assetflow]
modules = ["assets"]
executor = "inprocess"

[tool.assetflow.schedules.nightly]
{settings}
"""

NOW = "2026-03-02T03:00:30+01:00"


def run(root, *args):
    return CliRunner().invoke(cli, ["--project", str(root), *args])


def project(make_project, settings: str, assets: str = ASSETS):
    """A project with one schedule table, and its (empty) store made already, so that
    what a refused command might have recorded would be found there."""
    root = make_project(assets, config=CONFIG.format(settings=settings))
    store_file(root).parent.mkdir()
    open_store(f"sqlite:///{store_file(root)}").close()
    return root


def store_file(root):
    return root / ".assetflow" / "metadata.sqlite"


def refused(result, *phrases: str, paragraphs: int | None = 1) -> str:
    """The error's text, after checking exit 2, no traceback, and each phrase in it."""
    output = result.output
    assert result.exit_code == 2, output
    assert "Traceback" not in output
    assert output.startswith("Error: "), output
    for phrase in phrases:
        assert phrase in output, output
    if paragraphs is not None:
        assert len(output.strip().split("\n\n")) == paragraphs, output
    return output


def assert_nothing_started(root) -> None:
    """No run, no tick, no paused schedule and no dynamic key in the project's store
    (opened by its file: a project whose module does not import cannot be loaded)."""
    with contextlib.closing(open_store(f"sqlite:///{store_file(root)}")) as store:
        assert store.list_runs(limit=10) == []
        assert store.ticks(None, limit=10) == []
        assert not any(state.paused for state in store.origin_states().values())
        assert not any(store.partition_keys(["uploads"]).values())


# -- the schedule's own settings ------------------------------------------------------------

#: Commands that load the schedules; each must refuse a bad one before doing anything.
LOADING = [
    ("scheduler", "--once", "--now", NOW),
    ("scheduler", "--dry-run", "--now", NOW),
    ("scheduler",),
    ("schedules",),
    ("ticks",),
]


@pytest.mark.parametrize("command", LOADING, ids=lambda c: " ".join(c[:2]))
def test_an_invalid_cron_field_names_the_field_and_what_is_allowed(make_project, command):
    root = project(make_project, 'cron = "0 25 * * *"\nselect = "orders"')
    refused(
        run(root, *command),
        "[tool.assetflow.schedules.nightly] in ",
        "pyproject.toml",
        "the cron expression '0 25 * * *' of schedule 'nightly'",
        "hour field '25' is out of range 0-23",
        "A cron line has five fields: minute (0-59), hour (0-23)",
    )
    assert_nothing_started(root)


def test_a_cron_line_with_four_fields_says_so(make_project):
    root = project(make_project, 'cron = "0 3 * *"\nselect = "orders"')
    refused(run(root, "scheduler", "--once", "--now", NOW), "has 4 fields, not 5")
    assert_nothing_started(root)


def test_a_cron_day_that_never_comes_is_refused(make_project):
    root = project(make_project, 'cron = "0 0 30 2 *"\nselect = "orders"')
    refused(
        run(root, "scheduler", "--once", "--now", NOW),
        "can never fire",
        "'0 0 28 2 *' for February 28th",
    )
    assert_nothing_started(root)


def test_an_unknown_timezone_suggests_the_name_meant(make_project):
    root = project(make_project, 'cron = "0 3 * * *"\ntimezone = "Europe/Berln"\nselect = "orders"')
    refused(
        run(root, "scheduler", "--once", "--now", NOW),
        "[tool.assetflow.schedules.nightly] in ",
        "the timezone 'Europe/Berln' is not an IANA time zone name",
        "Did you mean 'Europe/Berlin'?",
        "'America/New_York' or 'UTC'",
    )
    assert_nothing_started(root)


@pytest.mark.parametrize("every", ["15 minutes", "fortnight", "m15"])
def test_every_that_is_not_a_duration_shows_the_units(make_project, every):
    root = project(make_project, f'every = "{every}"\nselect = "orders"')
    refused(
        run(root, "scheduler", "--once", "--now", NOW),
        "[tool.assetflow.schedules.nightly] in ",
        f'every = "{every}" is not a duration',
        "d (days), h (hours), m (minutes) or s (seconds)",
        "'15m', '6h', '1d', '90s', '1h30m'",
    )
    assert_nothing_started(root)


def test_a_calendar_country_holidays_does_not_know(make_project):
    root = project(
        make_project, 'cron = "0 3 * * *"\nselect = "orders"\ncalendar = { country = "Germany" }'
    )
    refused(
        run(root, "scheduler", "--once", "--now", NOW),
        "[tool.assetflow.schedules.nightly] in ",
        "the calendar names the country 'Germany', which the holidays package does not know",
        "Did you mean 'DE'?",
        "ISO 3166 country code",
        "holidays = [...]",
    )
    assert_nothing_started(root)


def test_a_calendar_country_code_that_does_not_exist(make_project):
    root = project(
        make_project, 'cron = "0 3 * * *"\nselect = "orders"\ncalendar = { country = "XX" }'
    )
    output = refused(
        run(root, "scheduler", "--once", "--now", NOW),
        "the country 'XX', which the holidays package does not know",
    )
    assert "Did you mean" not in output
    assert_nothing_started(root)


# -- the schedule against the project's graph ------------------------------------------------


def test_a_selection_naming_no_asset_is_refused(make_project):
    root = project(make_project, 'cron = "0 3 * * *"\nselect = "order"')
    refused(
        run(root, "scheduler", "--once", "--now", NOW),
        "the selection 'order' of schedule 'nightly' ([tool.assetflow.schedules.nightly] in ",
        "no asset is named 'order'",
        "assetflow list",
        paragraphs=None,  # the selection is shown with a caret under the name
    )
    assert_nothing_started(root)


def test_a_selection_that_selects_nothing_is_refused(make_project):
    root = project(make_project, 'cron = "0 3 * * *"\nselect = "orders"\nexclude = "orders"')
    refused(
        run(root, "scheduler", "--once", "--now", NOW),
        "the selection 'orders' of schedule 'nightly'",
        "the exclude selection 'orders' removes all of them",
        "assetflow list",
        paragraphs=None,
    )
    assert_nothing_started(root)


def test_partition_previous_on_unpartitioned_assets_is_refused(make_project):
    root = project(make_project, 'cron = "0 3 * * *"\nselect = "summary"\npartition = "previous"')
    refused(
        run(root, "scheduler", "--once", "--now", NOW),
        "schedule 'nightly' ([tool.assetflow.schedules.nightly] in ",
        "sets partition = \"previous\", but none of the assets its selection 'summary' "
        "selects is partitioned",
        "remove the `partition` setting, or select partitioned assets",
    )
    assert_nothing_started(root)


DUPLICATE = """
from assetflow.automation.schedules import schedule

nightly = schedule("nightly", cron="0 4 * * *", select="summary")
"""


def test_two_schedules_with_one_name_say_where_each_is(make_project):
    root = project(make_project, 'cron = "0 3 * * *"\nselect = "orders"', ASSETS + DUPLICATE)
    output = refused(
        run(root, "scheduler", "--once", "--now", NOW),
        "two schedules are named 'nightly': [tool.assetflow.schedules.nightly] in ",
        "proj/pyproject.toml and assetflow.schedule('nightly', ...) in proj/assets.py:21.",
        "rename one of them",
    )
    assert output.count("two schedules are named") == 1
    assert_nothing_started(root)


def test_a_schedule_declared_with_assetflow_schedule_is_loaded(make_project):
    root = project(
        make_project,
        'cron = "0 3 * * *"\nselect = "orders"',
        ASSETS + '\nimport assetflow\n\nhourly = assetflow.schedule("hourly", cron="0 * * * *", '
        'select="summary")\n',
    )
    result = run(root, "schedules", "--json")
    assert result.exit_code == 0, result.output
    assert '"hourly"' in result.output


# -- sensors --------------------------------------------------------------------------------

SENSOR = """
from assetflow import sensor

@sensor(interval="30s", select="summary")
def watch(context, extra):
    return None
"""


def test_a_sensor_with_the_wrong_signature_is_refused_at_load(make_project):
    root = project(make_project, 'cron = "0 3 * * *"\nselect = "orders"', ASSETS + SENSOR)
    result = run(root, "scheduler", "--once", "--now", NOW)
    assert result.exit_code == 2, result.output
    for phrase in (
        "sensor 'watch' (",
        "assets.py:",
        "takes (context, extra), but a sensor function takes its context and nothing else",
        "`def watch(context): ...`",
    ):
        assert phrase in result.output, result.output
    assert_nothing_started(root)


def test_a_sensor_with_the_wrong_signature_is_one_paragraph_without_traceback(make_project):
    root = project(make_project, 'cron = "0 3 * * *"\nselect = "orders"', ASSETS + SENSOR)
    refused(run(root, "scheduler", "--once", "--now", NOW), "sensor 'watch' (")


# -- commands on a sound project ------------------------------------------------------------


def test_pausing_an_unknown_schedule_suggests_the_name_meant(make_project):
    root = project(make_project, 'cron = "0 3 * * *"\nselect = "orders"')
    output = refused(
        run(root, "schedules", "pause", "nightli"),
        "no schedule is named 'nightli' (the project's schedules: nightly).",
        "Did you mean 'nightly'?",
        "`assetflow schedules` lists them",
        paragraphs=2,
    )
    assert "Paused" not in output
    refused(
        run(root, "schedules", "resume", "weekly"), "no schedule is named 'weekly'", paragraphs=2
    )
    assert_nothing_started(root)


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("", "it is empty"),
        ("batch/2", "it contains a path separator ('/' or '\\')"),
        ("..", "it contains '..', which reads as a range or a parent directory"),
        ("b" * 201, "it is 201 characters long, over the 200 allowed"),
    ],
    ids=["empty", "slash", "dotdot", "long"],
)
def test_an_invalid_dynamic_partition_key_is_refused_and_nothing_is_added(
    make_project, key, problem
):
    root = project(make_project, 'cron = "0 3 * * *"\nselect = "orders"')
    refused(
        # A valid key beside it is not added either: all or nothing.
        run(root, "partitions", "add", "upload", "batch-1", key),
        f"the partition key {key!r} is not a valid key: {problem}.",
        "A dynamic partition key is 1 to 200 characters",
        paragraphs=2,
    )
    assert_nothing_started(root)
    listed = run(root, "partitions", "list", "upload")
    assert listed.exit_code == 0, listed.output
    assert "has no keys yet" in listed.output

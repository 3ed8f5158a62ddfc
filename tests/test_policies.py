"""Automation policies and intervals: what declarations accept, and the messages for the rest."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assetflow.errors import DefinitionError
from assetflow.policies import (
    Eager,
    Missing,
    OnCron,
    automation_policy,
    on_cron,
    parse_interval,
)

WHERE = "asset 'orders' (assets.py:3)"


def test_named_policies_and_none():
    assert automation_policy("eager", WHERE) == Eager()
    assert automation_policy(" Missing ", WHERE) == Missing()
    assert automation_policy(None, WHERE) is None


def test_a_policy_value_passes_through():
    policy = on_cron("0 * * * *", "Europe/Berlin")
    assert automation_policy(policy, WHERE) is policy
    assert policy == OnCron("0 * * * *", "Europe/Berlin")
    assert policy.describe() == "on_cron('0 * * * *', timezone='Europe/Berlin')"
    assert on_cron("@daily").describe() == "on_cron('@daily')"


def test_policies_are_frozen_values():
    assert Eager() == Eager()
    assert hash(Missing()) == hash(Missing())
    with pytest.raises(AttributeError):
        on_cron("0 * * * *").cron = "1 * * * *"  # type: ignore[misc]


def test_a_misspelled_policy_is_a_definition_error_with_did_you_mean():
    with pytest.raises(DefinitionError) as info:
        automation_policy("eagre", WHERE)
    message = str(info.value)
    assert message.startswith("asset 'orders' (assets.py:3) has automation='eagre'")
    assert "is not an automation policy" in message
    assert "Did you mean 'eager'?" in message
    assert 'on_cron("0 * * * *")' in message


def test_a_cron_line_as_a_string_points_at_on_cron():
    with pytest.raises(DefinitionError, match="Did you mean 'on_cron'"):
        automation_policy("cron", WHERE)


def test_a_policy_of_another_type_is_named_by_its_type():
    with pytest.raises(DefinitionError, match=r"automation=<a value of type int>, which is not"):
        automation_policy(3, WHERE)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("cron", "field", "allowed"),
    [
        ("61 * * * *", "minute", "0-59"),
        ("0 24 * * *", "hour", "0-23"),
        ("0 0 32 * *", "day of month", "1-31"),
        ("0 0 * 13 *", "month", "1-12"),
        ("0 0 * * mon-fry", "day of week", "0-6"),
    ],
)
def test_an_invalid_cron_field_is_named_with_what_it_allows(cron, field, allowed):
    with pytest.raises(DefinitionError) as info:
        on_cron(cron)
    message = str(info.value)
    assert message.startswith(f"on_cron({cron!r}): the {field} field")
    assert f"it allows {allowed}" in message


def test_a_cron_line_with_the_wrong_number_of_fields():
    with pytest.raises(DefinitionError, match=r"has five fields .* but '\* \* \*' has 3"):
        on_cron("* * *")


def test_a_day_that_never_comes_is_a_definition_error():
    with pytest.raises(DefinitionError, match=r"on_cron\('0 0 30 2 \*'\): '0 0 30 2 \*' can never"):
        on_cron("0 0 30 2 *")
    assert on_cron("0 0 29 2 *").cron == "0 0 29 2 *"


def test_an_empty_cron_line():
    with pytest.raises(DefinitionError, match="a cron line is five fields"):
        on_cron("  ")


def test_an_unknown_macro_suggests_one():
    with pytest.raises(
        DefinitionError, match=r"'@daly' is not a cron macro. Did you mean '@daily'"
    ):
        on_cron("@daly")


def test_an_unknown_timezone_suggests_one():
    with pytest.raises(DefinitionError) as info:
        on_cron("0 * * * *", "Europe/Berln")
    message = str(info.value)
    assert "'Europe/Berln' is not a timezone" in message
    assert "Did you mean 'Europe/Berlin'?" in message


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("15m", 900), ("6h", 21600), ("1d", 86400), ("1h30m", 5400), ("500ms", 0.5)],
)
def test_intervals(text, seconds):
    assert parse_interval(text, "interval") == timedelta(seconds=seconds)


def test_intervals_as_numbers_and_timedeltas():
    assert parse_interval(45, "interval") == timedelta(seconds=45)
    assert parse_interval(timedelta(minutes=2), "interval") == timedelta(minutes=2)


@given(st.lists(st.tuples(st.integers(0, 999), st.sampled_from(["s", "m", "h", "d"])), min_size=1))
def test_interval_parts_add_up(parts):
    text = "".join(f"{amount}{unit}" for amount, unit in parts)
    unit_seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    total = sum(amount * unit_seconds[unit] for amount, unit in parts)
    if total == 0:
        with pytest.raises(DefinitionError, match="longer than zero"):
            parse_interval(text, "interval")
    else:
        assert parse_interval(text, "interval") == timedelta(seconds=total)


@pytest.mark.parametrize("bad", ["soon", "", "30", "5 minutes", "-5s", "1x"])
def test_a_bad_interval_is_a_definition_error(bad):
    with pytest.raises(DefinitionError) as info:
        parse_interval(bad, "sensor 'x' (a.py:1): interval")
    message = str(info.value)
    assert message.startswith(f"sensor 'x' (a.py:1): interval is {bad!r}, which is not a duration")
    assert '"30s", "15m" or "1h30m"' in message


def test_a_zero_interval_is_a_definition_error():
    with pytest.raises(DefinitionError, match=r"interval is 0; it must be longer than zero"):
        parse_interval(0, "interval")

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assetflow.errors import DefinitionError, UsageError
from assetflow.timetext import parse_duration, parse_zone


@given(st.integers(0, 30), st.integers(0, 23), st.integers(0, 59), st.integers(0, 59))
def test_a_written_duration_reads_back_as_its_sum(days, hours, minutes, seconds):
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (seconds, "s")]
    text = "".join(f"{value}{unit}" for value, unit in parts if value)
    total = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    if not text:
        return
    assert parse_duration(text) == total


def test_a_bad_duration_raises_the_callers_error_naming_the_setting():
    with pytest.raises(DefinitionError, match=r'freshness = "six hours" is not a duration'):
        parse_duration("six hours", "freshness", error=DefinitionError)
    with pytest.raises(UsageError, match="is zero"):
        parse_duration("0m")


def test_a_zone_is_found_and_a_near_miss_is_suggested():
    assert parse_zone("Europe/Berlin").key == "Europe/Berlin"
    with pytest.raises(UsageError, match="Did you mean 'Europe/Berlin'"):
        parse_zone("europe/berlin")

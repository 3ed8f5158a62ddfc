"""Display widths: CJK characters take two terminal columns, combining marks none."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from assetflow.textwidth import cut, display_width, pad


def test_widths_are_terminal_columns() -> None:
    assert display_width("orders") == 6
    assert display_width("売上") == 4
    assert display_width("cafe\u0301") == 4  # e + a combining acute accent
    assert display_width("a\tb") == 2  # a control character takes no column


def test_pad_and_cut_count_columns() -> None:
    assert pad("売上", 6) == "売上  "
    assert cut("売上データ集計", 7) == "売上デ…"
    assert cut("short", 10) == "short"
    assert cut("売上", 0) == ""


@given(text=st.text(max_size=20), width=st.integers(0, 30))
def test_cut_never_exceeds_the_width(text: str, width: int) -> None:
    assert display_width(cut(text, width)) <= max(width, 0)

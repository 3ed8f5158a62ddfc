"""How wide text is on a terminal, so that tables line up for CJK names and emoji.

A CJK character or an emoji takes two terminal columns, a combining accent none;
`len` counts each as one. `wcwidth` (the library terminals' own tables follow)
measures them; it is imported only for text that is not plain ASCII, so tables
of ASCII names cost nothing more.
"""

from __future__ import annotations

#: What marks a cell that was cut to fit its column.
ELLIPSIS = "…"


def display_width(text: str) -> int:
    """The number of terminal columns ``text`` takes (a control character takes none)."""
    if text.isascii() and text.isprintable():
        return len(text)
    import wcwidth

    width = wcwidth.wcswidth(text)
    if width >= 0:
        return int(width)
    return sum(max(int(wcwidth.wcwidth(character)), 0) for character in text)


def pad(text: str, width: int) -> str:
    """``text`` followed by spaces up to ``width`` terminal columns (as ``str.ljust``)."""
    return text + " " * max(width - display_width(text), 0)


def cut(text: str, width: int, ellipsis: str = ELLIPSIS) -> str:
    """``text`` in at most ``width`` terminal columns, ending in ``ellipsis`` if it was cut."""
    if display_width(text) <= width:
        return text
    room = width - display_width(ellipsis)
    if room < 0:
        return ""
    kept: list[str] = []
    used = 0
    for character in text:
        step = display_width(character)
        if used + step > room:
            break
        kept.append(character)
        used += step
    return "".join(kept) + ellipsis

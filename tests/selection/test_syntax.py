"""Tests of the selection parser and renderer: every operator, every error, and totality."""

from __future__ import annotations

import re
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assetflow.errors import SelectionError
from assetflow.selection import (
    UNBOUNDED,
    AllAtom,
    GlobAtom,
    Intersection,
    MethodAtom,
    NameAtom,
    Selection,
    Term,
    Union,
    parse_selection,
    render,
)

A, B, C = (Term(NameAtom(name)) for name in "abc")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("clean_records", Term(NameAtom("clean_records"))),
        ("clean_records+", Term(NameAtom("clean_records"), down=UNBOUNDED)),
        ("+clean_records", Term(NameAtom("clean_records"), up=UNBOUNDED)),
        ("+clean_records+", Term(NameAtom("clean_records"), up=UNBOUNDED, down=UNBOUNDED)),
        ("2+clean_records", Term(NameAtom("clean_records"), up=2)),
        ("clean_records+1", Term(NameAtom("clean_records"), down=1)),
        ("2+clean_records+1", Term(NameAtom("clean_records"), up=2, down=1)),
        ("0+a+0", Term(NameAtom("a"), up=0, down=0)),
        ("a+007", Term(NameAtom("a"), down=7)),
        ("@clean_records", Term(NameAtom("clean_records"), has_at=True)),
        ("*", Term(AllAtom())),
        ("*+", Term(AllAtom(), down=UNBOUNDED)),
        ("raw_*", Term(GlobAtom("raw_*"))),
        ("*_records", Term(GlobAtom("*_records"))),
        ("r?w_[!xy]*", Term(GlobAtom("r?w_[!xy]*"))),
        ("**", Term(GlobAtom("**"))),
        ("tag:nightly", Term(MethodAtom("tag", "nightly"))),
        ("group:fin*", Term(MethodAtom("group", "fin*"))),
        ("kind:parquet", Term(MethodAtom("kind", "parquet"))),
        ("tag:team-a/v1.2@x:y", Term(MethodAtom("tag", "team-a/v1.2@x:y"))),
        ("+tag:nightly+1", Term(MethodAtom("tag", "nightly"), up=UNBOUNDED, down=1)),
        ("@group:ingest", Term(MethodAtom("group", "ingest"), has_at=True)),
        ("a b", Union((A, B))),
        ("a,b", Intersection((A, B))),
        ("a b,c", Union((A, Intersection((B, C))))),
        ("a,b c", Union((Intersection((A, B)), C))),
        ("  a \t\n b  ", Union((A, B))),
        ("a\u2003b", Union((A, B))),
        ("café", Term(NameAtom("café"))),
    ],
)
def test_parses(text: str, expected: object) -> None:
    assert parse_selection(text) == expected


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("  a   b  ", "a b"),
        ("a+01", "a+1"),
        ("a,b\tc+", "a,b c+"),
        ("@x 3+y+2,tag:t", "@x 3+y+2,tag:t"),
    ],
)
def test_render_is_canonical(text: str, canonical: str) -> None:
    assert render(parse_selection(text)) == canonical
    assert parse_selection(canonical) == parse_selection(text)


def test_nodes_remember_where_they_start() -> None:
    ast = parse_selection("a  2+b,tag:x")
    assert isinstance(ast, Union)
    intersection = ast.items[1]
    assert isinstance(intersection, Intersection)
    term, method_term = intersection.items
    assert (ast.position, intersection.position, term.position, term.atom.position) == (0, 3, 3, 5)
    assert isinstance(method_term.atom, MethodAtom)
    assert (method_term.atom.position, method_term.atom.value_position) == (7, 11)


def test_positions_do_not_take_part_in_equality() -> None:
    assert parse_selection("  a") == parse_selection("a") == Term(NameAtom("a", position=9))
    assert hash(parse_selection("  a+")) == hash(parse_selection("a+"))


_ATOM = re.escape("expected an asset name, a glob, '*' or a method like tag:x")


@pytest.mark.parametrize(
    ("text", "position", "message"),
    [
        ("", 0, "the selection is empty"),
        ("   ", 0, "the selection is empty"),
        ("a , b", 2, re.escape("unexpected space before ',': ',' joins terms without spaces")),
        ("a, b", 2, re.escape("unexpected space after ','")),
        ("a,", 2, _ATOM + " after ',', found the end of the selection"),
        (",a", 0, _ATOM + " at the start of the selection, found ','"),
        ("+", 1, _ATOM + " after '\\+', found the end of the selection"),
        ("2+", 2, _ATOM + " after '\\+'"),
        ("a +", 3, _ATOM + " after '\\+'"),
        ("a -b", 2, _ATOM + " after a space, found '-'"),
        ("@", 1, _ATOM + " after '@'"),
        ("@@a", 1, _ATOM + " after '@', found '@'"),
        ("2+@a", 2, _ATOM + " after '\\+', found '@'"),
        ("@+a", 1, "'@' cannot be combined with a leading '\\+'"),
        ("@a+", 2, "'@' cannot be combined with a trailing '\\+'"),
        ("@a+2", 2, "'@' cannot be combined with a trailing '\\+'"),
        ("b @tag:t+", 8, "'@' cannot be combined with a trailing '\\+'"),
        ("@raw_*+1,x", 6, "'@' cannot be combined with a trailing '\\+'"),
        ("@3+a", 1, "'@' cannot be combined with a leading '\\+'"),
        ("a+b", 2, "expected a space, ',' or the end of the selection after 'a\\+', found 'b'"),
        ("a+1b", 3, "after 'a\\+1', found 'b'"),
        ("a++", 2, "after 'a\\+', found '\\+'"),
        ("a@", 1, "after 'a', found '@'"),
        ("raw-records", 3, "found '-' \\(asset names are Python identifiers"),
        ("2", 0, "'2' is not an asset name: names start with a letter or '_'"),
        ("2abc+", 0, "'2abc' is not an asset name"),
        ("1+2", 2, "'2' is not an asset name"),
        ("tga:nightly", 0, "unknown selection method 'tga': the methods are tag:, group:, kind:"),
        ("raw_*:x", 0, "unknown selection method 'raw_\\*'"),
        ("tag:", 4, "expected a value after 'tag:', as in 'tag:nightly', found the end"),
        ("kind:+", 5, "expected a value after 'kind:', as in 'kind:parquet', found '\\+'"),
        ("group: x", 6, "expected a value after 'group:'.*found a space"),
        ("raw_[ab", 4, re.escape("unclosed '[' in a glob: expected ']'")),
        ("raw_[a b]", 4, re.escape("unclosed '['")),
        ("raw_[]", 4, re.escape("empty '[]' in a glob")),
        ("raw_[!]", 4, re.escape("empty '[]' in a glob")),
    ],
)
def test_syntax_errors_point_at_the_offending_character(
    text: str, position: int, message: str
) -> None:
    with pytest.raises(SelectionError, match=message) as caught:
        parse_selection(text)
    assert caught.value.position == position
    assert caught.value.expression == text


def test_error_reprints_the_expression_with_a_caret() -> None:
    with pytest.raises(SelectionError) as caught:
        parse_selection("clean_records , daily_totals")
    assert str(caught.value) == (
        "unexpected space before ',': ',' joins terms without spaces, as in 'a,b'; "
        "a space means union\n"
        "\n"
        "    clean_records , daily_totals\n"
        "                  ^"
    )


def test_unknown_method_suggests_the_known_ones() -> None:
    with pytest.raises(SelectionError) as caught:
        parse_selection("+grop:ingest")
    assert str(caught.value).endswith("    +grop:ingest\n     ^\n\n    Did you mean 'group'?")


def test_at_with_leading_plus_explains_why() -> None:
    with pytest.raises(SelectionError) as caught:
        parse_selection("a @2+b")
    assert str(caught.value) == (
        "'@' cannot be combined with a leading '+': '@name' already selects the upstream "
        "of name and of everything downstream of it\n"
        "\n"
        "    a @2+b\n"
        "       ^"
    )


def test_at_with_trailing_plus_is_refused_as_dbt_refuses_it() -> None:
    with pytest.raises(SelectionError) as caught:
        parse_selection("@tag:nightly+")
    assert str(caught.value) == (
        "'@' cannot be combined with a trailing '+': '@name' already selects everything "
        "downstream of name (and the upstream of all of it); write '@name' alone\n"
        "\n"
        "    @tag:nightly+\n"
        "                ^"
    )


def test_a_long_selection_is_echoed_once_and_shortened() -> None:
    names = " ".join(f"clean_records_{number}" for number in range(30))
    with pytest.raises(SelectionError) as caught:
        parse_selection(f"{names} bad!name")
    message, blank, echoed, caret = str(caught.value).split("\n")
    assert message == (
        "expected a space, ',' or the end of the selection after 'bad', found '!' "
        "(asset names are Python identifiers: letters, digits and '_')"
    )
    assert blank == ""
    assert echoed == "    …n_records_26 clean_records_27 clean_records_28 clean_records_29 bad!name"
    assert caret == " " * 4 + " " * echoed[4:].index("!") + "^"
    assert str(caught.value).count("clean_records_29") == 1


def test_a_long_term_is_quoted_by_its_end() -> None:
    with pytest.raises(SelectionError) as caught:
        parse_selection("raw_records" * 20 + "!")
    assert caught.value.message.startswith(
        "expected a space, ',' or the end of the selection after "
        "'…w_recordsraw_recordsraw_records', found '!'"
    )
    echoed, caret = str(caught.value).split("\n")[-2:]
    assert len(echoed) == 4 + 1 + 72  # indent, "…", the 72 characters up to the caret
    assert echoed.endswith("raw_records!")
    assert caret.index("^") == echoed.index("!")


def test_a_caret_in_the_middle_of_a_long_selection_has_context_on_both_sides() -> None:
    text = " ".join(["a"] * 60) + " b!c " + " ".join(["d"] * 60)
    with pytest.raises(SelectionError) as caught:
        parse_selection(text)
    echoed, caret = str(caught.value).split("\n")[-2:]
    assert echoed.startswith("    … a a")
    assert echoed.endswith("d d…")
    assert echoed[caret.index("^")] == "!"


# Hypothesis: the grammar is total, and render() is parse()'s inverse.

_SYNTAX_ALPHABET = "+@*,: _az09[]?!-.\t"
_texts = st.one_of(
    st.text(alphabet=_SYNTAX_ALPHABET, max_size=20),
    st.text(max_size=12),
    st.lists(
        st.sampled_from(["a", "b_1", "+", "2", "@", "*", ",", " ", ":", "tag", "kind", "[a]", "?"]),
        max_size=10,
    ).map("".join),
)


def _parse_or_error(text: str) -> Selection | SelectionError:
    try:
        return parse_selection(text)
    except SelectionError as error:
        return error


@settings(max_examples=300, deadline=None)
@given(text=_texts)
def test_every_text_parses_or_fails_with_a_position(text: str) -> None:
    result = _parse_or_error(text)
    if isinstance(result, SelectionError):
        assert result.position is not None
        assert 0 <= result.position <= len(text)
        assert result.expression == text
        assert str(result).startswith(result.message)
        if text.isprintable():  # echoed on one line, the caret under it, at most 72 wide
            shown, caret = str(result).split("\n")[2:4]
            assert len(shown) <= 4 + 72 + 2
            assert caret.index("^") <= len(shown)
    else:
        assert parse_selection(render(result)) == result


_identifiers = st.builds(
    str.__add__,
    st.sampled_from(string.ascii_letters + "_é"),
    st.text(alphabet=string.ascii_lowercase + string.digits + "_", max_size=6),
)
_globs = (
    st.lists(
        st.sampled_from(["raw", "_", "x1", "*", "?", "[ab]", "[!c]", "[a-z]"]),
        min_size=1,
        max_size=4,
    )
    .map("".join)
    .filter(lambda text: text != "*" and any(c in text for c in "*?["))
)
_values = st.text(
    alphabet=string.ascii_letters + string.digits + "_-./:@*?é", min_size=1, max_size=8
)
_depths = st.one_of(st.none(), st.just(UNBOUNDED), st.integers(min_value=0, max_value=99))
_atoms = st.one_of(
    st.builds(AllAtom),
    st.builds(NameAtom, _identifiers),
    st.builds(GlobAtom, _globs),
    st.builds(MethodAtom, st.sampled_from(["tag", "group", "kind"]), _values),
)


@st.composite
def _terms(draw: st.DrawFn) -> Term:
    has_at = draw(st.booleans())
    up = None if has_at else draw(_depths)
    down = None if has_at else draw(_depths)
    return Term(draw(_atoms), up=up, down=down, has_at=has_at)


def _joined(items: st.SearchStrategy, node: type) -> st.SearchStrategy:
    return st.one_of(items, st.lists(items, min_size=2, max_size=3).map(lambda xs: node(tuple(xs))))


_selections = _joined(_joined(_terms(), Intersection), Union)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ast=_selections)
def test_render_then_parse_gives_the_same_ast(ast: object) -> None:
    assert parse_selection(render(ast)) == ast


@settings(max_examples=100, deadline=None)
@given(atom=_atoms, depth=_depths.filter(lambda depth: depth is not None))
def test_at_with_any_trailing_plus_fails_at_the_plus(atom: object, depth: object) -> None:
    body = "@" + render(atom)
    text = body + "+" + ("" if depth is UNBOUNDED else str(depth))
    with pytest.raises(SelectionError, match="'@' cannot be combined with a trailing") as caught:
        parse_selection(text)
    assert caught.value.position == len(body)

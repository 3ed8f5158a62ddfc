"""Selection syntax: a tokenizer and recursive-descent parser to a frozen AST, and render() back.

The grammar is dbt's node selection grammar, so that ``clean_records+`` means
what a dbt user expects (the asset and everything downstream, at any depth)::

    selection    = { WS } union { WS } ;
    union        = intersection { WS intersection } ;
    intersection = term { "," term } ;          (* no whitespace on either side of "," *)
    term         = "@" atom | [ [ DEPTH ] "+" ] atom [ "+" [ DEPTH ] ] ;
                                                (* "@" takes no "+" on either side, as in dbt *)
    atom         = "*" | NAME | GLOB | METHOD ":" VALUE ;
    METHOD       = "tag" | "group" | "kind" ;
    DEPTH        = DIGIT { DIGIT } ;            (* ASCII digits, a non-negative integer *)
    NAME         = a Python identifier ;        (* an exact asset name *)
    GLOB         = identifier characters and at least one of "*", "?", "[...]" ;
    VALUE        = one or more characters other than whitespace, "," and "+" ;
    WS           = one or more whitespace characters ;

Meaning: ``+name`` is the asset and all its upstream, ``name+`` it and all its
downstream, ``2+name+1`` bounds both depths; ``@name`` is the asset, all its
downstream and all the upstream of those; like dbt, it takes no ``+`` on either
side (``@name+`` would add nothing, so it is refused rather than silently ignored).
A GLOB or a VALUE is matched with fnmatch rules, case-sensitively.

The grammar is total: :func:`parse_selection` either returns an AST or raises
:class:`~assetflow.errors.SelectionError` whose ``position`` (0-based, at most
``len(text)``) is the character where something else was expected, e.g.
``a , b`` fails at the ``,`` (a space means union; ``,`` joins without spaces).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, TypeAlias

from assetflow.errors import SelectionError, clip_start, suggest

#: The methods of ``METHOD:VALUE`` atoms, with an example value for messages.
EXAMPLE_BY_METHOD: Final = {"tag": "nightly", "group": "reporting", "kind": "parquet"}
METHODS: Final = tuple(EXAMPLE_BY_METHOD)
#: Characters that make a word a glob rather than an exact name.
GLOB_CHARS: Final = frozenset("*?[")

_ATOM_EXPECTED = "expected an asset name, a glob, '*' or a method like tag:x"
_NAME_RULE = " (asset names are Python identifiers: letters, digits and '_')"
_INTERSECTION_HINT = "',' joins terms without spaces, as in 'a,b'; a space means union"


class Unbounded(enum.Enum):
    """The type of :data:`UNBOUNDED`, the depth of a ``+`` written without a number."""

    UNBOUNDED = "unbounded"

    def __repr__(self) -> str:
        return "UNBOUNDED"


#: Every level up or down: the depth of ``+name`` and ``name+``.
UNBOUNDED: Final = Unbounded.UNBOUNDED
#: How far a term walks: a number of levels (0 is the asset alone) or UNBOUNDED.
Depth: TypeAlias = int | Unbounded


@dataclass(frozen=True, slots=True)
class AllAtom:
    """``*``: every asset."""

    position: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class NameAtom:
    """An exact asset name, such as ``clean_records``."""

    name: str
    position: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class GlobAtom:
    """A pattern over asset names with ``*``, ``?`` or ``[...]``, such as ``raw_*``."""

    pattern: str
    position: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class MethodAtom:
    """``method:value``: the assets whose tag, group or kind matches ``value`` (maybe a glob)."""

    method: str
    value: str
    position: int = field(default=0, compare=False)

    @property
    def value_position(self) -> int:
        """Where the value starts in the source text."""
        return self.position + len(self.method) + 1


Atom: TypeAlias = AllAtom | NameAtom | GlobAtom | MethodAtom


@dataclass(frozen=True, slots=True)
class Term:
    """An atom with its graph operators: ``[@][DEPTH+]atom[+DEPTH]``.

    ``up`` and ``down`` are None when there is no ``+`` on that side, UNBOUNDED for
    a bare ``+``, and a number of levels for ``DEPTH+`` or ``+DEPTH``.
    """

    atom: Atom
    up: Depth | None = None
    down: Depth | None = None
    has_at: bool = False
    position: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Intersection:
    """Terms joined by ``,``: the assets selected by every one of them (two or more terms)."""

    items: tuple[Term, ...]
    position: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Union:
    """Parts separated by whitespace: the assets selected by any of them (two or more parts)."""

    items: tuple[Intersection | Term, ...]
    position: int = field(default=0, compare=False)


#: The root of a parsed selection: the parser drops one-item unions and intersections.
Selection: TypeAlias = Union | Intersection | Term
Node: TypeAlias = Union | Intersection | Term | Atom


def parse_selection(text: str) -> Selection:
    """Parse a selection expression into its AST.

    Args:
        text: The expression, e.g. ``"tag:nightly,group:ingest +summary_report"``.

    Returns:
        The root node; every node remembers where it starts in ``text``.

    Raises:
        SelectionError: The text does not follow the grammar; ``position`` is the
            offending character (``len(text)`` when more was expected at the end).
    """
    return _Parser(text).selection()


def render(node: Node) -> str:
    """Render an AST as canonical selection text, which parses back to an equal AST.

    Args:
        node: A node built by :func:`parse_selection`, or one shaped like those.

    Returns:
        The text, with single spaces between the parts of a union.
    """
    if isinstance(node, Union):
        return " ".join(render(item) for item in node.items)
    if isinstance(node, Intersection):
        return ",".join(render(item) for item in node.items)
    if isinstance(node, Term):
        return "".join(
            [
                "@" if node.has_at else "",
                _render_depth(node.up) + "+" if node.up is not None else "",
                render(node.atom),
                "+" + _render_depth(node.down) if node.down is not None else "",
            ]
        )
    if isinstance(node, AllAtom):
        return "*"
    if isinstance(node, NameAtom):
        return node.name
    if isinstance(node, GlobAtom):
        return node.pattern
    return f"{node.method}:{node.value}"


def _render_depth(depth: Depth) -> str:
    return "" if depth is UNBOUNDED else str(depth)


class _Kind(enum.Enum):
    SPACE = "a space"
    COMMA = "','"
    PLUS = "'+'"
    AT = "'@'"
    COLON = "':'"
    WORD = "a word"
    OTHER = "another character"
    END = "the end of the selection"


@dataclass(frozen=True, slots=True)
class _Token:
    kind: _Kind
    text: str
    position: int

    def describe(self) -> str:
        """How a message names what was found here."""
        if self.kind in (_Kind.SPACE, _Kind.END):
            return str(self.kind.value)
        return repr(self.text[0])


_PUNCTUATION: Final = {",": _Kind.COMMA, "+": _Kind.PLUS, "@": _Kind.AT, ":": _Kind.COLON}


def _is_word_char(char: str) -> bool:
    return char in GLOB_CHARS or ("_" + char).isidentifier()


def _ends_bracket_scan(char: str) -> bool:
    return char.isspace() or char in ",+]"


def _tokenize(text: str) -> list[_Token]:
    """Split text into tokens; a word takes identifier characters and glob syntax."""
    tokens = []
    index = 0
    while index < len(text):
        char = text[index]
        end = index + 1
        if char.isspace():
            while end < len(text) and text[end].isspace():
                end += 1
            kind = _Kind.SPACE
        elif char in _PUNCTUATION:
            kind = _PUNCTUATION[char]
        elif _is_word_char(char):
            end = _scan_word(text, index)
            kind = _Kind.WORD
        else:
            kind = _Kind.OTHER
        tokens.append(_Token(kind, text[index:end], index))
        index = end
    tokens.append(_Token(_Kind.END, "", len(text)))
    return tokens


def _scan_word(text: str, start: int) -> int:
    """The end of the word at ``start``, taking each ``[...]`` set whole."""
    index = start
    while index < len(text) and _is_word_char(text[index]):
        if text[index] != "[":
            index += 1
            continue
        opening = index
        index += 2 if text[index + 1 : index + 2] == "!" else 1
        first = index
        while index < len(text) and not _ends_bracket_scan(text[index]):
            index += 1
        if index == len(text) or text[index] != "]":
            raise SelectionError(
                "unclosed '[' in a glob: expected ']' to end the set, as in 'raw_[ab]*'",
                expression=text,
                position=opening,
            )
        if index == first:
            raise SelectionError(
                "empty '[]' in a glob: a set needs at least one character, as in 'raw_[ab]*'",
                expression=text,
                position=opening,
            )
        index += 1
    return index


def _is_depth(word: str) -> bool:
    return word.isascii() and word.isdigit()


class _Parser:
    """Recursive descent over the tokens of one expression; one method per rule."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.index = 0

    def peek(self, offset: int = 0) -> _Token:
        return self.tokens[min(self.index + offset, len(self.tokens) - 1)]

    def advance(self) -> _Token:
        token = self.peek()
        self.index = min(self.index + 1, len(self.tokens) - 1)
        return token

    def accept(self, kind: _Kind) -> _Token | None:
        return self.advance() if self.peek().kind is kind else None

    def fail(self, message: str, position: int, suggestions: Sequence[str] = ()) -> SelectionError:
        return SelectionError(
            message, expression=self.text, position=position, suggestions=suggestions
        )

    def selection(self) -> Selection:
        self.accept(_Kind.SPACE)
        if self.peek().kind is _Kind.END:
            raise self.fail(f"the selection is empty: {_ATOM_EXPECTED}, such as '*'", 0)
        return self.union()

    def union(self) -> Selection:
        items = [self.intersection()]
        while self.accept(_Kind.SPACE):
            token = self.peek()
            if token.kind is _Kind.END:
                break
            if token.kind is _Kind.COMMA:
                message = f"unexpected space before ',': {_INTERSECTION_HINT}"
                raise self.fail(message, token.position)
            items.append(self.intersection())
        return items[0] if len(items) == 1 else Union(tuple(items), items[0].position)

    def intersection(self) -> Intersection | Term:
        items = [self.term()]
        while self.accept(_Kind.COMMA):
            token = self.peek()
            if token.kind is _Kind.SPACE:
                message = f"unexpected space after ',': {_INTERSECTION_HINT}"
                raise self.fail(message, token.position)
            items.append(self.term())
        return items[0] if len(items) == 1 else Intersection(tuple(items), items[0].position)

    def term(self) -> Term:
        start = self.peek().position
        has_at = self.accept(_Kind.AT) is not None
        up_token = self.peek()
        up: Depth | None = None
        if up_token.kind is _Kind.WORD and _is_depth(up_token.text):
            if self.peek(1).kind is _Kind.PLUS:
                up = int(self.advance().text)
                self.advance()
        elif self.accept(_Kind.PLUS):
            up = UNBOUNDED
        if has_at and up is not None:
            raise self.fail(
                "'@' cannot be combined with a leading '+': '@name' already selects the "
                "upstream of name and of everything downstream of it",
                up_token.position,
            )
        atom = self.atom()
        plus = self.peek()
        down = self.down_depth(start) if self.accept(_Kind.PLUS) else None
        if has_at and down is not None:
            raise self.fail(
                "'@' cannot be combined with a trailing '+': '@name' already selects "
                "everything downstream of name (and the upstream of all of it); "
                "write '@name' alone",
                plus.position,
            )
        following = self.peek()
        if following.kind not in (_Kind.SPACE, _Kind.COMMA, _Kind.END):
            raise self.fail(
                "expected a space, ',' or the end of the selection after "
                f"'{clip_start(self.text[start : following.position])}', "
                f"found {following.describe()}"
                + (_NAME_RULE if following.kind is _Kind.OTHER else ""),
                following.position,
            )
        return Term(atom, up, down, has_at, start)

    def down_depth(self, start: int) -> Depth:
        token = self.peek()
        digits = 0
        while digits < len(token.text) and token.text[digits] in "0123456789":
            digits += 1
        if token.kind is not _Kind.WORD or digits == 0:
            return UNBOUNDED
        if digits < len(token.text):
            position = token.position + digits
            raise self.fail(
                "expected a space, ',' or the end of the selection after "
                f"'{clip_start(self.text[start:position])}', found {token.text[digits]!r}",
                position,
            )
        return int(self.advance().text)

    def atom(self) -> Atom:
        token = self.peek()
        if token.kind is not _Kind.WORD:
            previous = self.tokens[self.index - 1] if self.index else None
            where = f"after {previous.kind.value}" if previous else "at the start of the selection"
            if previous and previous.kind in (_Kind.PLUS, _Kind.AT, _Kind.COMMA):
                where = f"after {previous.text!r}"
            raise self.fail(f"{_ATOM_EXPECTED} {where}, found {token.describe()}", token.position)
        if self.peek(1).kind is _Kind.COLON:
            return self.method()
        self.advance()
        word = token.text
        if word == "*":
            return AllAtom(token.position)
        if any(char in GLOB_CHARS for char in word):
            return GlobAtom(word, token.position)
        if not word.isidentifier():
            raise self.fail(
                f"'{clip_start(word)}' is not an asset name: names start with a letter or '_' "
                "(a depth goes next to '+', as in '2+name' or 'name+1')",
                token.position,
            )
        return NameAtom(word, token.position)

    def method(self) -> MethodAtom:
        token = self.advance()
        colon = self.advance()
        if token.text not in EXAMPLE_BY_METHOD:
            raise self.fail(
                f"unknown selection method '{clip_start(token.text)}': the methods are "
                + ", ".join(f"{name}:" for name in METHODS),
                token.position,
                suggest(token.text, METHODS),
            )
        start = end = colon.position + 1
        while self.peek().kind not in (_Kind.SPACE, _Kind.COMMA, _Kind.PLUS, _Kind.END):
            value_token = self.advance()
            end = value_token.position + len(value_token.text)
        if end == start:
            example = EXAMPLE_BY_METHOD[token.text]
            raise self.fail(
                f"expected a value after '{token.text}:', as in '{token.text}:{example}', "
                f"found {self.peek().describe()}",
                start,
            )
        return MethodAtom(token.text, self.text[start:end], token.position)

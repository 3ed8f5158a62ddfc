"""Code as stable text for hashing: a syntax tree, a constant or bytecode, canonically.

The normalisation half of code versions (codeversion.py builds fingerprints
from what this module produces): a function's syntax tree without docstrings
and positions, written the same way on every Python from 3.11 to 3.13; module
constants by value; and, for code with no source, its bytecode.
"""

from __future__ import annotations

import ast
import dataclasses
import enum
import hashlib
import re
import types
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, time, timedelta
from decimal import Decimal
from pathlib import PurePath

#: Bytes of blake2b digest kept: 8 bytes (16 hex characters) make collisions negligible.
DIGEST_BYTES = 8
#: A constant with more items than this is data, not code, and is not hashed.
MAX_CONSTANT_ITEMS = 1000
#: A constant nested deeper than this is not hashed (this also stops self-referencing lists).
MAX_CONSTANT_DEPTH = 20

#: AST fields that never change behaviour: the `u` string prefix and type comments.
_IGNORED_FIELDS = frozenset({"kind", "type_comment"})
#: How a missing node inside a list of nodes is written in the canonical text.
_NONE = "None"
#: The fields that hold statement lists; indexing walks only these, not expressions.
_BLOCK_FIELDS = ("body", "orelse", "finalbody", "handlers", "cases")
_PRIMITIVES = (type(None), bool, int, float, complex, str, bytes)
#: Types whose repr is deterministic (no addresses); aliases like `dict[str, int]` included.
_REPR_TYPES = (Decimal, date, time, timedelta, PurePath, types.GenericAlias, types.UnionType)
_CONTEXTS = {kind: f"{kind.__name__}()" for kind in (ast.Load, ast.Store, ast.Del)}
#: Node types that bind a name or read a dotted one (other nodes can only read a `Name`).
_BINDERS = frozenset(
    {ast.Attribute, ast.arg, ast.alias, ast.Global, ast.Nonlocal, ast.FunctionDef}
    | {ast.AsyncFunctionDef, ast.ClassDef, ast.ExceptHandler, ast.MatchAs, ast.MatchStar}
    | {ast.MatchMapping}
)

_Function = ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
_Definition = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=DIGEST_BYTES).hexdigest()


def _qualified_name(obj: object) -> str:
    qualname = getattr(obj, "__qualname__", type(obj).__qualname__)
    module = getattr(obj, "__module__", None)
    return f"{module}.{qualname}" if module else str(qualname)


@dataclass(frozen=True, slots=True)
class _SourceIndex:
    """A parsed file with its docstrings stripped, and its definitions found by line and name."""

    tree: ast.Module
    functions_by_line: Mapping[int, list[_Function]]
    classes_by_qualname: Mapping[str, list[ast.ClassDef]]


def _first_line(node: ast.AST) -> int:
    """The line a definition's code object starts on: its first decorator, else itself."""
    decorators = getattr(node, "decorator_list", [])
    return min([d.lineno for d in decorators], default=getattr(node, "lineno", 0))


def _index_source(tree: ast.Module) -> _SourceIndex:
    """Index every def and class by first line and qualname, stripping their docstrings."""
    functions: defaultdict[int, list[_Function]] = defaultdict(list)
    classes: defaultdict[str, list[ast.ClassDef]] = defaultdict(list)
    stack: list[tuple[list[ast.AST], str]] = [(list(tree.body), "")]
    while stack:
        statements, prefix = stack.pop()
        for node in statements:
            inner = prefix
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                functions[_first_line(node)].append(node)
                inner = f"{prefix}{node.name}.<locals>."
            elif isinstance(node, ast.ClassDef):
                classes[prefix + node.name].append(node)
                inner = f"{prefix}{node.name}."
            if isinstance(node, _Definition):
                _strip_docstring(node)
            for field in _BLOCK_FIELDS:
                block = getattr(node, field, None)
                if isinstance(block, list) and block:
                    stack.append((block, inner))
    for same_name in classes.values():
        same_name.sort(key=_first_line)
    return _SourceIndex(tree, functions, classes)


def _strip_docstring(node: _Definition) -> None:
    first = node.body[0] if node.body else None
    value = first.value if isinstance(first, ast.Expr) else None
    if isinstance(value, ast.Constant) and isinstance(value.value, str):
        node.body = node.body[1:] or [ast.Pass()]


def _lambdas_on_line(tree: ast.Module, line: int) -> list[_Function]:
    """Find the lambdas that start on `line`, walking only the statements that span it."""
    spanning = [
        statement
        for statement in tree.body
        if statement.lineno <= line <= (statement.end_lineno or statement.lineno)
    ]
    return [
        node
        for statement in spanning
        for node in ast.walk(statement)
        if isinstance(node, ast.Lambda) and node.lineno == line
    ]


def _pick_by_position(candidates: list[_Function], code: types.CodeType) -> _Function | None:
    """Choose among definitions on one line (lambdas) by where the code's instructions sit."""
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    spots = {(line, col) for line, _, col, _ in code.co_positions() if line and col is not None}
    inside = [
        node
        for node in candidates
        if any(
            (node.lineno, node.col_offset)
            <= spot
            <= (node.end_lineno or 0, node.end_col_offset or 0)
            for spot in spots
        )
    ]
    return inside[0] if len(inside) == 1 else None  # still ambiguous: hash the bytecode


def _summarise(node: ast.AST) -> tuple[str, str, list[tuple[str, ...]]] | None:
    """Hash a definition's AST, render its source, and list the dotted names it reads.

    One pass serialises the tree without positions, empty fields or cosmetic fields
    (stable from Python 3.11 to 3.13, unlike `ast.dump`) and notes the names the code
    reads and binds. A name bound anywhere inside (a parameter, an assignment, an
    import) is local, so it is not looked up in the module.

    Returns:
        `(digest, normalised source, reads)`, or None when the tree is too deep to walk.
    """
    bound: set[str] = set()
    declared_global: set[str] = set()
    reads: set[tuple[str, ...]] = set()

    def text(current: ast.AST) -> str:
        kind = type(current)
        if kind in _CONTEXTS:
            return _CONTEXTS[kind]
        if isinstance(current, ast.Name):
            if type(current.ctx) is ast.Load:
                reads.add((current.id,))
            else:
                bound.add(current.id)
        elif kind in _BINDERS:
            _note_binding(current, node, bound, declared_global, reads)
        fields = []
        for field in kind._fields:
            value = getattr(current, field, None)
            if value is None or field in _IGNORED_FIELDS or value == []:
                continue
            if type(value) is list:
                # Lists may hold None: the key of `**rest` in a dict display, the
                # default of a keyword-only parameter without one.
                rendered = (
                    "[" + ",".join([_NONE if item is None else text(item) for item in value]) + "]"
                )
            elif isinstance(value, ast.AST):
                rendered = text(value)
            else:
                rendered = repr(value)
            fields.append(f"{field}={rendered}")
        return f"{kind.__name__}({','.join(fields)})"

    try:
        canonical, source = text(node), ast.unparse(node)
    except RecursionError:
        return None
    local = bound - declared_global
    return _digest(canonical), source, sorted(chain for chain in reads if chain[0] not in local)


def _note_binding(
    current: ast.AST,
    top: ast.AST,
    bound: set[str],
    declared_global: set[str],
    reads: set[tuple[str, ...]],
) -> None:
    """Note what one node binds (parameters, imports, nested defs) or reads (dotted names)."""
    if isinstance(current, ast.Attribute):
        chain = _dotted(current)
        if chain is not None:
            reads.add(chain)
    elif isinstance(current, ast.arg):
        bound.add(current.arg)
    elif isinstance(current, ast.alias):
        bound.add((current.asname or current.name).split(".")[0])
    elif isinstance(current, ast.Global | ast.Nonlocal):
        declared_global.update(current.names)
    elif isinstance(current, _Definition | ast.ExceptHandler | ast.MatchAs | ast.MatchStar):
        if current.name and current is not top:  # the top definition's name is not local
            bound.add(current.name)
    elif isinstance(current, ast.MatchMapping) and current.rest:
        bound.add(current.rest)


def _dotted(node: ast.Attribute) -> tuple[str, ...] | None:
    names: list[str] = []
    current: ast.expr = node
    while isinstance(current, ast.Attribute):
        names.append(current.attr)
        current = current.value
    if not isinstance(current, ast.Name) or not isinstance(current.ctx, ast.Load):
        return None
    return (current.id, *reversed(names))


def _canonical_value(value: object, budget: list[int], depth: int) -> str | None:
    """Render a constant deterministically (sets and dicts sorted), or None if it is not one."""
    budget[0] -= 1
    if budget[0] < 0 or depth > MAX_CONSTANT_DEPTH:
        return None
    if type(value) in _PRIMITIVES or isinstance(value, _REPR_TYPES):
        return repr(value)
    if isinstance(value, enum.Enum):
        return f"{type(value).__qualname__}.{value.name}"
    if isinstance(value, re.Pattern):
        return f"re.compile({value.pattern!r}, {value.flags})"
    if isinstance(value, dict):
        keys = [_canonical_value(key, budget, depth + 1) for key in value]
        items = [_canonical_value(item, budget, depth + 1) for item in value.values()]
        if None in keys or None in items:
            return None
        return "{" + ", ".join(sorted(f"{k}: {v}" for k, v in zip(keys, items, strict=True))) + "}"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = [field.name for field in dataclasses.fields(value)]
        rendered = [_canonical_value(getattr(value, field), budget, depth + 1) for field in fields]
        texts = [f"{field}={text}" for field, text in zip(fields, rendered, strict=True)]
    elif isinstance(value, tuple | list | set | frozenset):
        rendered = [_canonical_value(item, budget, depth + 1) for item in value]
        texts = [str(text) for text in rendered]
    else:
        return None
    if None in rendered:
        return None
    joined = ", ".join(sorted(texts) if isinstance(value, set | frozenset) else texts)
    literal = {
        tuple: f"({joined},)" if len(texts) == 1 else f"({joined})",
        list: f"[{joined}]",
        set: f"{{{joined}}}" if texts else "set()",
        frozenset: f"frozenset({{{joined}}})" if texts else "frozenset()",
    }
    return literal.get(type(value), f"{type(value).__qualname__}({joined})")


def _summarise_bytecode(obj: object) -> tuple[str, str, list[str]]:
    """Hash code that has no source (exec, a REPL) from its bytecode, constants and names.

    Nothing address-like is hashed (no ids, no reprs of objects), so the digest is
    the same in another process. Bytecode differs between Python minor versions.
    """
    if isinstance(obj, types.FunctionType):
        codes = [obj.__code__]
        defaults = (obj.__defaults__, obj.__kwdefaults__)
    else:
        methods = sorted(
            (key, value)
            for key, value in vars(obj).items()
            if isinstance(value, types.FunctionType)
        )
        codes = [method.__code__ for _, method in methods]
        defaults = (tuple(key for key, _ in methods), None)
    header = _canonical_value(defaults, [MAX_CONSTANT_ITEMS], 0) or "<defaults>"
    digest = _digest("\n".join([header, *(_canonical_code(code) for code in codes)]))
    names = sorted({name for code in codes for name in _code_names(code)})
    source = f"# no source available for {_qualified_name(obj)}: its bytecode was hashed"
    return digest, source, names


def _code_names(code: types.CodeType) -> Iterator[str]:
    yield from code.co_names
    yield from code.co_freevars
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_names(const)


def _canonical_code(code: types.CodeType) -> str:
    consts = [
        _canonical_code(const)
        if isinstance(const, types.CodeType)
        else _canonical_value(const, [MAX_CONSTANT_ITEMS], 0) or type(const).__name__
        for const in code.co_consts
    ]
    shape = (
        code.co_code.hex(),
        code.co_names,
        code.co_varnames,
        code.co_freevars,
        code.co_cellvars,
        code.co_argcount,
        code.co_posonlyargcount,
        code.co_kwonlyargcount,
        code.co_flags,
    )
    return f"code({shape!r}, consts=[{', '.join(consts)}])"

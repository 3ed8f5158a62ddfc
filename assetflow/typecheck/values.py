"""Check a value against its annotation: the type first, then a table's Schema."""

from __future__ import annotations

import logging
import numbers
import typing
from collections.abc import Callable
from typing import Any

from assetflow.typecheck.annotations import (
    describe,
    describe_value,
    is_model_class,
    is_none_type,
    is_unchecked,
    is_union,
    plural,
    split_annotated,
    with_article,
)
from assetflow.typecheck.error import Mismatch

logger = logging.getLogger(__name__)

#: Bad items a message names at most ("items 2, 5 and 9").
MAX_ITEMS_NAMED = 5


def check_output(value: Any, annotation: Any, *, asset: str, partition: str | None = None) -> None:
    """Check an asset's return value against its return annotation, before it is written.

    See the package docstring for what each annotation accepts.

    Args:
        value: What the asset returned.
        annotation: The asset's return annotation (`AssetSpec.returns`).
        asset: The asset's name, for the message.
        partition: The partition key, for the message.

    Raises:
        TypeCheckError: The value does not match; the message says what was
            expected, what came, the first offending rows, and how to fix it.
    """
    mismatch = find_mismatch(value, annotation)
    if mismatch is not None:
        raise mismatch.to_error(asset, partition)


def find_mismatch(value: Any, annotation: Any) -> Mismatch | None:
    """What is wrong with a value for an annotation, or None if it matches (or is unchecked)."""
    if isinstance(annotation, (str, typing.ForwardRef)):
        logger.debug("annotation %r is unresolved text: the value is not checked", annotation)
        return None
    if is_unchecked(annotation):
        return None
    base, schemas = split_annotated(annotation)
    if schemas:
        # The table checks are a sizeable import: only for a project that has a Schema.
        from assetflow.typecheck.frames import check_schema

        mismatch = find_mismatch(value, base)
        if mismatch is not None:
            return mismatch
        for schema in schemas:
            mismatch = check_schema(value, schema, annotation)
            if mismatch is not None:
                return mismatch
        return None
    if base is not annotation:
        return find_mismatch(value, base)
    if is_union(annotation):
        return _check_union(value, annotation)
    if _matches(value, annotation):
        return _check_items(value, annotation)
    return _type_mismatch(value, annotation)


def _check_union(value: Any, annotation: Any) -> Mismatch | None:
    members = typing.get_args(annotation)
    candidates = [member for member in members if _matches(value, member)]
    mismatches = []
    for member in candidates:
        mismatch = find_mismatch(value, member)
        if mismatch is None:
            return None
        mismatches.append(mismatch)
    if len(mismatches) == 1:
        return mismatches[0]  # the one member it is meant to be says what is wrong in detail
    return _type_mismatch(value, annotation)


def _matches(value: Any, annotation: Any) -> bool:
    """Whether a value is of an annotation's type, looking no deeper than the top level."""
    annotation, _ = split_annotated(annotation)
    if is_unchecked(annotation):
        return True
    if is_none_type(annotation):
        return value is None
    if is_union(annotation):
        return any(_matches(value, member) for member in typing.get_args(annotation))
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return any(
            value == allowed and type(value) is type(allowed)
            for allowed in typing.get_args(annotation)
        )
    supertype = getattr(annotation, "__supertype__", None)  # typing.NewType
    if supertype is not None:
        return _matches(value, supertype)
    if typing.is_typeddict(annotation):
        return isinstance(value, dict)
    target = origin if origin is not None else annotation
    if not isinstance(target, type):
        return True  # not a class we can test (a TypeVar's bound, a special form): unchecked
    special = _SCALAR_CHECKS.get(target)
    if special is not None:
        return special(value)
    try:
        return isinstance(value, target)
    except TypeError:  # a Protocol that is not runtime_checkable
        return True


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool) or _is_numpy_bool(value)


def _is_int(value: Any) -> bool:
    """An int or a numpy integer; never a bool (True is an int in Python, not in a contract)."""
    return isinstance(value, numbers.Integral) and not _is_bool(value)


def _is_float(value: Any) -> bool:
    """A float, or an int: every int is a valid float (as in PEP 484 and pydantic)."""
    return isinstance(value, numbers.Real) and not _is_bool(value)


def _is_numpy_bool(value: Any) -> bool:
    return type(value).__module__ == "numpy" and type(value).__name__ in ("bool", "bool_")


_SCALAR_CHECKS: dict[type, Callable[[Any], bool]] = {
    bool: _is_bool,
    int: _is_int,
    float: _is_float,
}


def _check_items(value: Any, annotation: Any) -> Mismatch | None:
    """One level down: a list's items, a dict's keys and values, a tuple's items."""
    origin = typing.get_origin(annotation)
    arguments = typing.get_args(annotation)
    if not arguments or origin is None:
        return None
    if origin in (list, set, frozenset) or (origin is tuple and arguments[-1:] == (Ellipsis,)):
        bad = [index for index, item in enumerate(value) if not _matches(item, arguments[0])]
        if not bad or origin in (set, frozenset):
            return _set_mismatch(value, annotation) if bad else None
        return _items_mismatch(value, annotation, bad, f"items must be {describe(arguments[0])}")
    if origin is tuple:
        if len(value) != len(arguments):
            return _type_mismatch(
                value, annotation, found=f"a tuple of {plural(len(value), 'item')}"
            )
        bad = [
            i
            for i, (item, arg) in enumerate(zip(value, arguments, strict=True))
            if not _matches(item, arg)
        ]
        if not bad:
            return None
        why = f"item {bad[0]} must be {describe(arguments[bad[0]])}"
        return _items_mismatch(value, annotation, bad, why)
    if origin is dict and len(arguments) == 2:
        return _check_dict(value, annotation, *arguments)
    return None


def _check_dict(
    value: dict[Any, Any], annotation: Any, key_type: Any, value_type: Any
) -> Mismatch | None:
    for key, item in value.items():
        if not _matches(key, key_type):
            return _type_mismatch(
                value,
                annotation,
                found=f"a dict whose key {key!r} is {describe_value(key)}",
                why=f"keys must be {describe(key_type)}",
            )
        if not _matches(item, value_type):
            return _type_mismatch(
                value,
                annotation,
                found=f"a dict whose value for key {key!r} is {describe_value(item)}",
                why=f"values must be {describe(value_type)}",
            )
    return None


def _items_mismatch(value: Any, annotation: Any, bad: list[int], why: str) -> Mismatch:
    kind = type(value).__name__
    first = bad[0]
    found = f"{with_article(kind)} whose item {first} is {describe_value(value[first])}"
    if len(bad) > 1:
        named = ", ".join(str(index) for index in bad[:MAX_ITEMS_NAMED])
        more = ", ..." if len(bad) > MAX_ITEMS_NAMED else ""
        found += f" ({len(bad)} of {len(value)} items do not match: {named}{more})"
    return _type_mismatch(value, annotation, found=found, why=why)


def _set_mismatch(value: Any, annotation: Any) -> Mismatch:
    item_type = typing.get_args(annotation)[0]
    example = next(item for item in value if not _matches(item, item_type))
    found = f"{with_article(type(value).__name__)} holding {describe_value(example)}"
    return _type_mismatch(
        value, annotation, found=found, why=f"items must be {describe(item_type)}"
    )


def _type_mismatch(value: Any, annotation: Any, *, found: str = "", why: str = "") -> Mismatch:
    expected = describe(annotation)
    found = found or describe_value(value)
    detail = f"returned {found}, but its return annotation is {expected}"
    if why:
        detail += f": {why}"
    elif _is_bool(value) and _wants(annotation, (int, float)):
        detail += " (a bool is not accepted as a number)"
    elif isinstance(value, dict) and _wants_model(annotation):
        detail += " (a dict is not converted to a model on output: return the model)"
    return Mismatch(
        expected=expected,
        found=found,
        detail=detail,
        hint="The return annotation is the asset's contract and is checked before anything is "
        "written, so nothing was written. To fix this, return "
        f"{_expected_value(annotation)}, or change the return annotation to what the "
        "asset returns.",
    )


def _expected_value(annotation: Any) -> str:
    text = describe(annotation)
    return "None" if text == "None" else f"a value of type {text}"


def _wants(annotation: Any, classes: tuple[type, ...]) -> bool:
    members = typing.get_args(annotation) if is_union(annotation) else (annotation,)
    return any(split_annotated(member)[0] in classes for member in members)


def _wants_model(annotation: Any) -> bool:
    members = typing.get_args(annotation) if is_union(annotation) else (annotation,)
    return any(is_model_class(split_annotated(member)[0]) for member in members)

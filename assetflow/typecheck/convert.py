"""Hand an upstream value to a parameter as its annotation asks, and say at load time when it can't.

The rules are few, and the same in memory as through storage:

- a pandas DataFrame and a pyarrow Table convert into each other (the same
  conversion as Parquet storage: a DataFrame's index is kept where it is data);
- a dict converts to a pydantic model (validated), and a list of dicts (or
  models) to `list[Model]`;
- a pydantic model converts to a dict (`model_dump()`) for a `dict` parameter;
- `int` is accepted for `float`;
- anything else is passed as it is.
"""

from __future__ import annotations

import typing
from typing import Any

from assetflow.asset import is_table_type
from assetflow.typecheck.annotations import (
    describe,
    is_arrow_table,
    is_frame,
    is_model,
    is_model_class,
    is_none_type,
    is_unchecked,
    is_union,
    strip_annotated,
    wants_arrow_table,
)
from assetflow.typecheck.error import TypeCheckError

_CONVERSIONS = (
    "assetflow converts a DataFrame to a pyarrow Table and back, a dict to a pydantic model, "
    "a list of dicts to list[Model], a model to a dict, and an int to a float; nothing else"
)


def convert_input(
    value: Any,
    annotation: Any,
    *,
    asset: str = "",
    parameter: str = "",
    partition: str | None = None,
) -> Any:
    """Return an upstream value as the parameter's annotation asks (see the module docstring).

    Args:
        value: The upstream asset's value (from memory or storage).
        annotation: The parameter's annotation.
        asset: The reading asset's name, for the message.
        parameter: The parameter's name, for the message.
        partition: The reading asset's partition key, for the message.

    Returns:
        The converted value, or `value` itself when no rule applies.

    Raises:
        TypeCheckError: A dict does not validate as the annotated model.
    """
    target = _single_target(value, annotation)
    if target is None:
        return value
    if is_table_type(target):
        return _convert_table(value, target)
    if is_model_class(target) and isinstance(value, dict):
        return _validate(value, target, asset=asset, parameter=parameter, partition=partition)
    origin = typing.get_origin(target)
    arguments = typing.get_args(target)
    if (
        origin is list
        and arguments
        and is_model_class(strip_annotated(arguments[0]))
        and isinstance(value, (list, tuple))
        and any(isinstance(item, dict) for item in value)
    ):
        return _validate(value, target, asset=asset, parameter=parameter, partition=partition)
    if (target is dict or origin is dict) and is_model(value):
        return value.model_dump()
    return value


def _single_target(value: Any, annotation: Any) -> Any:
    """The one type to convert to: `Optional[X]` is X (None stays None); else no conversion."""
    target = strip_annotated(annotation)
    if is_unchecked(target) or value is None:
        return None
    if is_union(target):
        members = [m for m in typing.get_args(target) if not is_none_type(m)]
        if len(members) != 1:
            return None
        target = strip_annotated(members[0])
    return target


def _convert_table(value: Any, target: Any) -> Any:
    if wants_arrow_table(target) and is_frame(value):
        from assetflow.io.parquet import frame_to_arrow  # as storing it would convert it

        return frame_to_arrow(value)
    if not wants_arrow_table(target) and is_arrow_table(value):
        return value.to_pandas()
    return value


def _validate(value: Any, target: Any, *, asset: str, parameter: str, partition: str | None) -> Any:
    import pydantic

    try:
        return pydantic.TypeAdapter(target).validate_python(value)
    except pydantic.ValidationError as error:
        first = error.errors(include_url=False)[0]
        location = ".".join(str(part) for part in first["loc"]) or "the value"
        raise TypeCheckError(
            asset,
            partition,
            expected=describe(target),
            found=f"{type(value).__name__} failing validation at {location}",
            detail=f"reads '{parameter}' as {describe(target)}, but its value does not "
            f"validate: {error.error_count()} error(s), the first at {location}: {first['msg']}",
            hint=f"The parameter's annotation differs from what the upstream asset '{parameter}' "
            "returns. To fix this, change the annotation, or make the upstream asset return "
            f"{describe(target)}.",
        ) from error


def can_convert(produced: Any, wanted: Any) -> bool:
    """Whether a value annotated `produced` can be handed to a parameter annotated `wanted`."""
    return _convertible(produced, wanted)


def conversion_problem(
    produced: Any, wanted: Any, *, asset: str, parameter: str, file: str = "", line: int = 0
) -> str | None:
    """Say, at load time, that an upstream asset's return type can't become a parameter's type.

    Args:
        produced: The upstream asset's return annotation.
        wanted: The parameter's annotation.
        asset: The reading asset's name.
        parameter: The parameter's name (the upstream asset's name).
        file: The reading asset's file, for the message.
        line: The reading asset's line.

    Returns:
        The problem's message (what, why, how to fix), or None when the
        conversion exists or either side is unknown (missing, Any, text).
    """
    if _convertible(produced, wanted):
        return None
    where = f"asset '{asset}'" + (f" ({file}:{line})" if file else "")
    return (
        f"{where} reads '{parameter}' as {describe(wanted)}, but '{parameter}' returns "
        f"{describe(produced)}, and {_CONVERSIONS}.\n\nTo fix this, annotate the parameter "
        f"{describe(strip_annotated(produced))}, or convert inside the asset."
    )


def _convertible(produced: Any, wanted: Any) -> bool:
    produced = strip_annotated(produced)
    wanted = strip_annotated(wanted)
    if is_unchecked(produced) or is_unchecked(wanted):
        return True
    if is_union(wanted):
        return any(_convertible(produced, member) for member in typing.get_args(wanted))
    if is_union(produced):
        return any(_convertible(member, wanted) for member in typing.get_args(produced))
    if is_table_type(produced) or is_table_type(wanted):
        return is_table_type(produced) and is_table_type(wanted)
    if is_none_type(produced) or is_none_type(wanted):
        return is_none_type(produced) and is_none_type(wanted)
    produced_origin = typing.get_origin(produced) or produced
    wanted_origin = typing.get_origin(wanted) or wanted
    if produced_origin is typing.Literal:
        return _convertible(type(typing.get_args(produced)[0]), wanted)
    if is_model_class(wanted):
        return produced_origin is dict or (
            isinstance(produced, type) and issubclass(produced, wanted)
        )
    if wanted_origin is dict and is_model_class(produced):
        return True
    if wanted_origin is list and produced_origin in (list, tuple):
        return _items_convertible(produced, wanted)
    return _classes_convertible(produced_origin, wanted_origin)


def _items_convertible(produced: Any, wanted: Any) -> bool:
    produced_items = typing.get_args(produced)[:1]
    wanted_items = typing.get_args(wanted)[:1]
    if not produced_items or not wanted_items:
        return True
    return _convertible(produced_items[0], wanted_items[0])


def _classes_convertible(produced: Any, wanted: Any) -> bool:
    if not (isinstance(produced, type) and isinstance(wanted, type)):
        return True  # special forms we do not reason about
    if produced is bool and wanted in (int, float):
        return False
    if produced is int and wanted is float:
        return True
    try:
        return issubclass(produced, wanted)
    except TypeError:
        return True

"""Load-time checks of an annotation: a Schema where no table is, or a field no column can hold."""

from __future__ import annotations

import typing
from typing import Any

from assetflow.asset import is_table_type
from assetflow.typecheck.annotations import describe, split_annotated


def check_annotation(annotation: Any, *, asset: str, file: str = "", line: int = 0) -> str | None:
    """Say what in an annotation cannot be checked, so the graph reports it when loading.

    The problems found: a `Schema` on a type that is not a DataFrame or Table;
    more than one `Schema` on one type; a schema model field whose type maps to
    no column type (a list, a nested model, ...). Anything else is fine here:
    annotations `check_output` does not know are not checked (see the package
    docstring), which is not an error.

    Args:
        annotation: An asset's return (or parameter) annotation.
        asset: The asset's name, for the message.
        file: The file the asset is defined in, for the message.
        line: The line the asset is defined at.

    Returns:
        The problem's message (what, why, how to fix), or None.
    """
    where = f"asset '{asset}'" + (f" ({file}:{line})" if file else "")
    problems = [_annotated_problem(where, part) for part in _annotated_parts(annotation)]
    texts = [text for text in problems if text]
    return "\n\n".join(texts) if texts else None


def _annotated_parts(annotation: Any) -> list[Any]:
    """Every `Annotated[...]` inside an annotation (in unions, generics, and itself)."""
    found = []
    if typing.get_origin(annotation) is typing.Annotated:
        found.append(annotation)
        annotation = typing.get_args(annotation)[0]
    for argument in typing.get_args(annotation):
        if not isinstance(argument, (str, int, float, bool, bytes)) and argument is not None:
            found.extend(_annotated_parts(argument))
    return found


def _annotated_problem(where: str, annotation: Any) -> str | None:
    base, schemas = split_annotated(annotation)
    if not schemas:
        return None
    if not is_table_type(base):
        return (
            f"{where} annotates {describe(annotation)}, but a Schema declares the columns of "
            "a pandas.DataFrame or pyarrow.Table, and a "
            f"{describe(base)} has no columns.\n\nTo fix this, annotate "
            f"Annotated[pd.DataFrame, {schemas[0]!r}] (or pa.Table), or check a "
            f"{describe(base)} by annotating it with the model itself."
        )
    if len(schemas) > 1:
        listed = ", ".join(repr(schema) for schema in schemas)
        return (
            f"{where} annotates {describe(base)} with {len(schemas)} schemas ({listed}), but "
            "a table has one Schema.\n\nTo fix this, merge the models into one (a model can "
            "inherit the fields of another) and keep one Schema."
        )
    # The column rules are a sizeable import: only for a project that has a Schema.
    from assetflow.typecheck.columns import SUPPORTED_FIELD_TYPES, rules_for_model

    model = schemas[0].model
    _, unmappable = rules_for_model(model)
    if not unmappable:
        return None
    fields = "; ".join(unmappable)
    return (
        f"{where} declares {schemas[0]!r}, but {model.__name__} has "
        f"{'a field' if len(unmappable) == 1 else 'fields'} no column type can hold: "
        f"{fields}. A Schema field maps to a column type, and it supports "
        f"{SUPPORTED_FIELD_TYPES}.\n\nTo fix this, give the field one of those types, or "
        "annotate it Any to leave its column unchecked."
    )

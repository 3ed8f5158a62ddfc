"""Read annotations: strip `Annotated`, split unions, recognise models and tables, and name them.

Nothing here imports pandas, pyarrow or pydantic: a value can only be a
DataFrame or a model if its library is already imported, so ``sys.modules``
answers without paying for the import.
"""

from __future__ import annotations

import reprlib
import sys
import types
import typing
from typing import Any

from assetflow.asset import MISSING, is_table_type
from assetflow.typecheck.schema import Schema

NONE_TYPE = type(None)
_UNION_ORIGINS = (typing.Union, types.UnionType)
_SHORT_REPR = reprlib.Repr()
_SHORT_REPR.maxstring = 40
_SHORT_REPR.maxother = 40
#: Annotations that accept every value.
_ANYTHING = (Any, object)


def split_annotated(annotation: Any) -> tuple[Any, tuple[Schema, ...]]:
    """The annotation without `Annotated`, and the Schema markers it carried."""
    if typing.get_origin(annotation) is typing.Annotated:
        base, *metadata = typing.get_args(annotation)
        return base, tuple(item for item in metadata if isinstance(item, Schema))
    return annotation, ()


def strip_annotated(annotation: Any) -> Any:
    """The annotation without `Annotated` (its metadata dropped)."""
    return split_annotated(annotation)[0]


def is_union(annotation: Any) -> bool:
    """Whether the annotation is `Union[...]`, `Optional[...]` or `X | Y`."""
    return typing.get_origin(annotation) in _UNION_ORIGINS


def is_unchecked(annotation: Any) -> bool:
    """Whether no value can fail the annotation: missing, unresolved, Any, object, a TypeVar."""
    return (
        annotation is MISSING
        or isinstance(annotation, (str, typing.ForwardRef, typing.TypeVar))
        or any(annotation is anything for anything in _ANYTHING)
    )


def is_none_type(annotation: Any) -> bool:
    return annotation is None or annotation is NONE_TYPE


def model_base() -> type | None:
    """pydantic's BaseModel if pydantic is imported (a model class implies it is)."""
    pydantic = sys.modules.get("pydantic")
    return None if pydantic is None else pydantic.BaseModel


def is_model_class(annotation: Any) -> bool:
    """Whether the annotation is a pydantic model class."""
    base = model_base()
    return base is not None and isinstance(annotation, type) and issubclass(annotation, base)


def is_model(value: Any) -> bool:
    """Whether the value is a pydantic model instance."""
    base = model_base()
    return base is not None and isinstance(value, base)


def is_frame(value: Any) -> bool:
    """Whether the value is a pandas DataFrame."""
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(value, pandas.DataFrame)


def is_arrow_table(value: Any) -> bool:
    """Whether the value is a pyarrow Table."""
    pyarrow = sys.modules.get("pyarrow")
    return pyarrow is not None and isinstance(value, pyarrow.Table)


def wants_arrow_table(annotation: Any) -> bool:
    """Whether the annotation is `pyarrow.Table` (also inside `Annotated`)."""
    annotation = strip_annotated(annotation)
    if not is_table_type(annotation):
        return False
    if isinstance(annotation, str):
        return annotation.rsplit(".", 1)[-1] == "Table"
    return getattr(annotation, "__name__", "") == "Table"


def describe(annotation: Any) -> str:
    """The annotation as messages show it: `pandas.DataFrame`, `list[Record]`, `int | None`."""
    if annotation is MISSING:
        return "no annotation"
    if isinstance(annotation, str):
        return annotation
    if isinstance(annotation, typing.ForwardRef):
        return annotation.__forward_arg__
    if is_none_type(annotation):
        return "None"
    if annotation is Any:
        return "Any"
    if annotation is Ellipsis:
        return "..."
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        base, schemas = split_annotated(annotation)
        text = describe(base)
        return text + "".join(f" with {schema!r}" for schema in schemas)
    if origin in _UNION_ORIGINS:
        return " | ".join(describe(member) for member in typing.get_args(annotation))
    if origin is typing.Literal:
        return "Literal[" + ", ".join(repr(value) for value in typing.get_args(annotation)) + "]"
    if origin is not None:
        arguments = ", ".join(describe(argument) for argument in typing.get_args(annotation))
        return f"{describe(origin)}[{arguments}]" if arguments else describe(origin)
    if is_table_type(annotation) and isinstance(annotation, type):
        return ("pyarrow." if wants_arrow_table(annotation) else "pandas.") + annotation.__name__
    if isinstance(annotation, type):
        return annotation.__qualname__
    return repr(annotation)


def with_article(noun: str) -> str:
    """`a dict`, `an int`."""
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun


def describe_value(value: Any) -> str:
    """What a value is, as messages say it: `a dict`, `a bool (True)`, `None`."""
    if value is None:
        return "None"
    name = type(value).__name__
    if isinstance(value, (bool, int, float, str, bytes)) or type(value).__module__ == "numpy":
        return f"{with_article(name)} ({_SHORT_REPR.repr(value)})"
    return with_article(name)


def short_repr(value: Any) -> str:
    """A repr cut to a readable length (long strings and containers end in '...')."""
    return _SHORT_REPR.repr(value)


def quote_names(names: list[str]) -> str:
    """`'a'`, `'a' and 'b'`, `'a', 'b' and 'c'`."""
    quoted = [f"'{name}'" for name in names]
    if len(quoted) <= 1:
        return "".join(quoted)
    return ", ".join(quoted[:-1]) + " and " + quoted[-1]


def plural(count: int, noun: str, plural_noun: str | None = None) -> str:
    """`1 null`, `3 nulls`."""
    return f"{count} {noun if count == 1 else plural_noun or noun + 's'}"

"""Public names a package imports on first use, from a table of the module each lives in.

A package's ``__init__`` lists its public names and their modules, and binds the
module-level ``__getattr__`` and ``__dir__`` this returns: importing the package
then costs nothing, and a name's module loads the first time the name is used.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any


def lazy_names(
    package: str, homes: Mapping[str, str], namespace: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of a package whose names load on first use.

    Args:
        package: The package's ``__name__``, for the error of an unknown name.
        homes: Each public name and the module it is imported from.
        namespace: The package's ``globals()``: a name found once is kept there, so
            later lookups do not come back here.
    """

    def get(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(home), name)
        namespace[name] = value
        return value

    def listing() -> list[str]:
        return sorted({*namespace, *homes})

    return get, listing

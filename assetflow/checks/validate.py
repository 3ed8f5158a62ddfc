"""Load-time validation of checks: bind them to their assets and report every problem."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from assetflow.checks.spec import SEVERITIES, CheckSpec
from assetflow.errors import Problem, did_you_mean, display_path, suggest

_CHECK_HINT = (
    "A @check tests the output of one asset: it is named with asset=..., or by default "
    "by the name of its single parameter. To fix this, name an existing asset "
    "(`assetflow list` shows them), or define an asset with that name."
)


def checks_for(
    asset: str, attached: Iterable[CheckSpec], custom: Iterable[CheckSpec]
) -> tuple[CheckSpec, ...]:
    """The checks of one asset: those attached with `@asset(checks=...)` (bound to it),
    then the project's `@check`s that name it, each once, in declaration order."""
    bound: list[CheckSpec] = []
    seen: set[int] = set()
    for spec in attached:
        seen.add(id(spec))
        bound.append(spec if spec.asset == asset else replace(spec, asset=asset))
    for spec in custom:
        if spec.asset == asset and id(spec) not in seen:
            seen.add(id(spec))
            bound.append(spec)
    return tuple(bound)


def check_problems(
    checks: Iterable[CheckSpec], asset_names: Iterable[str], root: Path | None = None
) -> list[Problem]:
    """Everything wrong with a project's checks, sorted: unknown assets (with suggestions),
    settings of the wrong type, functions that cannot take one value, duplicate names.

    Args:
        checks: Every check: the `@check`s collected from the modules and the attached
            built-ins bound by `checks_for`.
        asset_names: The project's asset names.
        root: The project directory, to show paths relative to it.
    """
    checks = list(checks)
    known = set(asset_names)
    problems: list[Problem] = []
    for spec in checks:
        problems.extend(_spec_problems(spec, known, root))
    problems.extend(_duplicate_problems(checks, root))
    return sorted(problems)


def _spec_problems(spec: CheckSpec, known: set[str], root: Path | None) -> list[Problem]:
    where = f"{display_path(spec.file, root)}:{spec.line}"
    label = f"check {spec.name!r} ({where})"
    found: list[str] = []
    if not isinstance(spec.name, str) or not spec.name:
        found.append(
            f"check {spec.name!r} ({where}) has no usable name: a name must be a non-empty "
            "string.\n\nTo fix this, pass name='...' or leave it out to use the function's name."
        )
    takes_one_value = spec.kind != "custom" or _takes_one_value(spec.fn)
    if not takes_one_value:
        found.append(
            f"{label} cannot be called with one value: its signature is "
            f"{spec.fn.__name__}{_signature(spec.fn)}.\n\nA check receives the asset's output "
            "as its one argument. To fix this, give the function exactly one parameter "
            "(others need default values), named like the asset or with @check(asset=...)."
        )
    elif spec.asset == "":
        found.append(
            f"{label} does not say which asset it tests: it has no asset=... and no single "
            f"required parameter to name it.\n\n{_CHECK_HINT}"
        )
    elif spec.asset not in known:
        text = f"{label} tests asset {spec.asset!r}, but no asset is named {spec.asset!r}."
        suggestions = did_you_mean(suggest(str(spec.asset), known))
        if suggestions:
            text += f"\n\n    {suggestions}"
        found.append(f"{text}\n\n{_CHECK_HINT}")
    if not isinstance(spec.blocking, bool):
        found.append(
            f"{label} has blocking={spec.blocking!r} ({type(spec.blocking).__name__}), but "
            "blocking must be True or False.\n\nA blocking check that fails with severity "
            "'error' stops the asset's downstream. To fix this, pass blocking=True or "
            "blocking=False."
        )
    if spec.severity not in SEVERITIES:
        text = f"{label} has severity={spec.severity!r}, but severity must be 'warn' or 'error'."
        if isinstance(spec.severity, str):
            suggestions = did_you_mean(suggest(spec.severity, SEVERITIES))
            text += f"\n\n    {suggestions}" if suggestions else ""
        found.append(
            f"{text}\n\n'error' marks the data as bad (and blocks downstream when the check is "
            "blocking); 'warn' records the failure and lets downstream run. To fix this, pass "
            "one of them."
        )
    file = display_path(spec.file, root)
    return [Problem(file, spec.line, text) for text in found]


def _duplicate_problems(checks: Sequence[CheckSpec], root: Path | None) -> list[Problem]:
    by_key: dict[tuple[str, str], list[CheckSpec]] = {}
    for spec in checks:
        if isinstance(spec.name, str) and isinstance(spec.asset, str):
            by_key.setdefault((spec.asset, spec.name), []).append(spec)
    problems = []
    for (asset_name, check_name), specs in sorted(by_key.items()):
        if len(specs) < 2:
            continue
        places = ", ".join(f"{display_path(s.file, root)}:{s.line}" for s in specs)
        problems.append(
            Problem(
                display_path(specs[0].file, root),
                specs[0].line,
                f"asset {asset_name!r} has {len(specs)} checks named {check_name!r} "
                f"({places}).\n\nA check's name identifies its results in a run's history, "
                "so it must be unique per asset. To fix this, pass name='...' to all but one.",
            )
        )
    return problems


def _takes_one_value(fn: Callable[..., Any]) -> bool:
    try:
        inspect.signature(fn).bind(None)
    except TypeError:
        return False
    except ValueError:  # no signature (some builtins): trust it
        return True
    return True


def _signature(fn: Callable[..., Any]) -> str:
    try:
        return str(inspect.signature(fn))
    except (TypeError, ValueError):
        return "(...)"

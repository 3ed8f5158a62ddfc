"""Check records, `@check` for custom checks, and running checks so that they never raise."""

from __future__ import annotations

import inspect
import math
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, TypeVar, overload

from assetflow.errors import display_path, user_frames

Severity = Literal["warn", "error"]
CheckKind = Literal["builtin", "custom"]
SEVERITIES: tuple[Severity, ...] = ("warn", "error")

#: At most this many failing rows are kept in a result's `sample`.
SAMPLE_ROWS = 5
#: Strings in a sample are cut to this many characters: one wide text cell must not bloat the store.
SAMPLE_TEXT_LIMIT = 200
#: How many offending values (or duplicated keys) a message and its metadata name.
SHOWN_VALUES = 5

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What one check found in one asset-partition's output.

    `metadata` and `sample` are made JSON-able on construction (numpy and pandas
    scalars become Python values, NaN/NA/NaT become None, times ISO strings), and
    `sample` keeps at most `SAMPLE_ROWS` rows. The metadata key "error" is reserved:
    it marks a result of a check that could not run (`is_check_error`).
    """

    passed: bool
    severity: Severity = "error"
    message: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    sample: tuple[dict[str, Any], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "passed", bool(self.passed))
        object.__setattr__(self, "metadata", jsonable(dict(self.metadata)))
        rows = tuple(self.sample)[:SAMPLE_ROWS]
        sample = tuple(jsonable(dict(row), text_limit=SAMPLE_TEXT_LIMIT) for row in rows)
        object.__setattr__(self, "sample", sample)

    @property
    def is_check_error(self) -> bool:
        """Whether the check itself failed to run (it raised, or returned nonsense)."""
        return "error" in self.metadata


@dataclass(frozen=True, eq=False)
class CheckSpec:
    """A check of one asset's output: its function, name and settings. Calling it calls the
    function (a built-in's takes the value and an optional `now`, and returns a CheckResult)."""

    name: str
    #: the asset it tests; "" for a built-in not yet attached (`checks_for` binds it)
    asset: str
    fn: Callable[..., Any]
    blocking: bool = True
    severity: Severity = "error"
    description: str = ""
    file: str = ""
    line: int = 0
    kind: CheckKind = "custom"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    @property
    def location(self) -> str:
        """Where the check is declared, as `file:line`."""
        return f"{self.file}:{self.line}"


@dataclass(frozen=True, slots=True)
class CheckOutcome:
    """One check's result on one asset-partition, as a run records it."""

    asset: str
    check: str
    partition: str | None
    blocking: bool
    result: CheckResult
    duration_s: float = 0.0

    @property
    def is_blocking_failure(self) -> bool:
        """A failed blocking check of error severity: downstream must not read this output."""
        return not self.result.passed and self.blocking and self.result.severity == "error"

    def record_fields(self) -> dict[str, Any]:
        """The fields of a store `CheckRecord` (add `run_id` and `at`); the sample goes
        into the metadata under "sample"."""
        metadata = dict(self.result.metadata)
        if self.result.sample:
            metadata["sample"] = list(self.result.sample)
        return {
            "asset": self.asset,
            "partition": self.partition,
            "check": self.check,
            "passed": self.result.passed,
            "severity": self.result.severity,
            "blocking": self.blocking,
            "message": self.result.message,
            "metadata": metadata,
        }


# -- custom checks -------------------------------------------------------------------------


@overload
def check(fn: F, /) -> CheckSpec: ...


@overload
def check(
    *,
    asset: str | None = None,
    blocking: bool = True,
    severity: Severity = "error",
    name: str | None = None,
    description: str | None = None,
) -> Callable[[F], CheckSpec]: ...


def check(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    asset: str | None = None,
    blocking: bool = True,
    severity: Severity = "error",
    name: str | None = None,
    description: str | None = None,
) -> CheckSpec | Callable[[Callable[..., Any]], CheckSpec]:
    """Declare a function as a check of one asset's output.

    The function takes the asset's value as its one parameter and returns a bool or
    a `CheckResult`. It stays callable as the function. Settings are validated when
    the project loads (`check_problems`), so that every problem is reported at once.

    Args:
        fn: The function, when used bare (`@check`; the asset is the parameter's name).
        asset: The asset it tests; defaults to the name of the function's one parameter.
        blocking: Whether a failure (of severity "error") stops the asset's downstream.
        severity: "error", or "warn" to record a failure that never blocks.
        name: The check's name, unique per asset; defaults to the function's name.
        description: Defaults to the function's docstring.

    Returns:
        The CheckSpec (or a decorator producing it).
    """

    def decorate(function: Callable[..., Any]) -> CheckSpec:
        if isinstance(function, CheckSpec):
            function = function.fn
        if not callable(function):
            raise TypeError(f"@check decorates functions, not {type(function).__name__}")
        code = getattr(function, "__code__", None)
        spec = CheckSpec(
            name=name if name is not None else function.__name__,
            asset=asset if asset is not None else _sole_parameter(function) or "",
            fn=function,
            blocking=blocking,
            severity=severity,
            description=description if description is not None else inspect.getdoc(function) or "",
            file=code.co_filename if code else "",
            line=code.co_firstlineno if code else 0,
            kind="custom",
        )
        # Look like the function to help(), inspect.signature() and doc tools.
        for attribute in ("__module__", "__name__", "__qualname__", "__doc__"):
            object.__setattr__(spec, attribute, getattr(function, attribute, None))
        object.__setattr__(spec, "__wrapped__", function)
        return spec

    if fn is not None:
        return decorate(fn)
    return decorate


def _sole_parameter(fn: Callable[..., Any]) -> str | None:
    try:
        parameters = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return None
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    required = [
        p for p in parameters if p.kind in positional and p.default is inspect.Parameter.empty
    ]
    return required[0].name if len(required) == 1 else None


# -- running -------------------------------------------------------------------------------


def run_check(
    spec: CheckSpec, value: Any, *, now: datetime | None = None, root: Path | None = None
) -> CheckResult:
    """Run one check on an asset's value; never raises (except KeyboardInterrupt).

    A bool becomes a CheckResult of the spec's severity; a CheckResult is kept; any
    other return, or an exception, becomes a failed result of severity "error" whose
    metadata has "error" and whose message says the check itself failed, and where.

    Args:
        spec: The check.
        value: The asset's output (for built-ins, a pandas DataFrame or pyarrow Table).
        now: The run's time, for freshness checks (`max_age`); defaults to the current time.
        root: The project directory, to show paths relative to it.

    Returns:
        The normalised result.
    """
    try:
        # Built-ins take the run's `now` (for max_age); a user's check takes only the value.
        returned = spec.fn(value, now=now) if spec.kind == "builtin" else spec.fn(value)
    except (Exception, SystemExit) as error:  # a check that calls sys.exit() fails the check only
        return _raised(spec, error, root)
    if isinstance(returned, CheckResult):
        if returned.severity in SEVERITIES:
            return returned
        return _broken(
            spec,
            root,
            f"returned a CheckResult with severity={returned.severity!r}, "
            "but severity must be 'warn' or 'error'",
        )
    if _is_bool(returned):
        passed = bool(returned)
        message = "" if passed else f"check '{spec.name}' returned False"
        return CheckResult(passed, spec.severity, message)
    return _broken(spec, root, f"returned {type(returned).__name__}, not a bool or a CheckResult")


def run_checks(
    specs: Iterable[CheckSpec],
    value: Any,
    *,
    partition: str | None = None,
    now: datetime | None = None,
    root: Path | None = None,
) -> tuple[CheckOutcome, ...]:
    """Run every check of one asset-partition's output, in order, with one `now` for all.

    Returns:
        One outcome per check; see `blocking_failures` for whether downstream may run.
    """
    now = now if now is not None else datetime.now(UTC)
    outcomes = []
    for spec in specs:
        started = time.perf_counter()
        result = run_check(spec, value, now=now, root=root)
        outcomes.append(
            CheckOutcome(
                asset=spec.asset,
                check=spec.name,
                partition=partition,
                blocking=bool(spec.blocking),
                result=result,
                duration_s=time.perf_counter() - started,
            )
        )
    return tuple(outcomes)


def is_blocking_failure(spec: CheckSpec, result: CheckResult) -> bool:
    """Whether this result stops downstream: failed, blocking, and of severity "error"."""
    return not result.passed and bool(spec.blocking) and result.severity == "error"


def blocking_failures(outcomes: Iterable[CheckOutcome]) -> tuple[CheckOutcome, ...]:
    """The outcomes that stop downstream of their asset-partition."""
    return tuple(o for o in outcomes if o.is_blocking_failure)


def describe_blocking(outcomes: Iterable[CheckOutcome]) -> str:
    """Why downstream is skipped, naming each blocking failure (for a skipped step's reason)."""
    lines = []
    for outcome in blocking_failures(outcomes):
        where = outcome.asset + (f"[{outcome.partition}]" if outcome.partition else "")
        lines.append(f"check '{outcome.check}' on {where} failed: {outcome.result.message}")
    return "\n".join(lines)


def _is_bool(value: Any) -> bool:
    # `df["x"].notna().all()` returns numpy.bool_, which is not a bool.
    return isinstance(value, bool) or (
        type(value).__module__ == "numpy" and type(value).__name__ in ("bool", "bool_")
    )


def _raised(spec: CheckSpec, error: BaseException, root: Path | None) -> CheckResult:
    frames = user_frames(error)
    if frames:
        where = f"{display_path(frames[-1].filename, root)}:{frames[-1].lineno}"
    else:
        where = f"{display_path(spec.file, root)}:{spec.line}"
    detail = f"{type(error).__name__}: {error}"
    text = (
        f"check '{spec.name}' on asset '{spec.asset}' could not run: it raised {detail} "
        f"({where}).\n\nThis is an error in the check, not a finding about the data. "
        "To fix this, correct the check at the place named above."
    )
    if frames:
        text += "\n\nTraceback (your code):\n" + "".join(traceback.format_list(frames)).rstrip()
    return CheckResult(False, "error", text, {"error": detail})


def _broken(spec: CheckSpec, root: Path | None, what: str) -> CheckResult:
    where = f"{display_path(spec.file, root)}:{spec.line}"
    text = (
        f"check '{spec.name}' on asset '{spec.asset}' ({where}) {what}.\n\n"
        "This is an error in the check, not a finding about the data. To fix this, "
        "return True when the data passes and False when not, or a CheckResult."
    )
    return CheckResult(False, "error", text, {"error": f"TypeError: {what}"})


# -- JSON-able values ----------------------------------------------------------------------


def jsonable(value: Any, *, text_limit: int | None = None) -> Any:
    """`value` as plain JSON types: numpy/pandas scalars unwrapped, NaN/NA/NaT as None,
    times as ISO strings, durations in seconds; anything else as its str()."""
    # numpy's float64 and str_ subclass float and str: convert them, so json sees plain types.
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, str):
        if text_limit is not None and len(value) > text_limit:
            return str(value[:text_limit]) + "…"
        return str(value)
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else float(value)
    if type(value).__name__ in ("NAType", "NaTType"):
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v, text_limit=text_limit) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v, text_limit=text_limit) for v in value]
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        return jsonable(value.item(), text_limit=text_limit)
    return jsonable(str(value), text_limit=text_limit)

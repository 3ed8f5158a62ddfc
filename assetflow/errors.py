"""The AssetflowError tree: every error a user sees, with its fields and its exit code.

Exceptions carry their data as fields and render themselves in one place,
``format_message()``, so the CLI prints them the same way everywhere (Click's
pattern). User input that is wrong exits 2; user code that raised, or our side
failing, exits 1.
"""

from __future__ import annotations

import functools
import json
import os
import traceback
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

#: How close a name must be to be offered as "did you mean" (difflib ratio).
SUGGESTION_CUTOFF = 0.6
#: How many names "did you mean" offers at most.
SUGGESTION_COUNT = 3
#: Suggestions much worse than the best one are noise ('raw_record' is not 'clean_records').
SUGGESTION_SPREAD = 0.15


def suggest(name: str, known: Iterable[str], count: int = SUGGESTION_COUNT) -> list[str]:
    """Return up to ``count`` names from ``known`` that look like ``name``, closest first."""
    import difflib  # only when a name is wrong: every command imports this module

    candidates = difflib.get_close_matches(
        name, sorted(set(known)), n=count, cutoff=SUGGESTION_CUTOFF
    )
    if not candidates:
        return []

    def ratio(candidate: str) -> float:
        return difflib.SequenceMatcher(None, name, candidate).ratio()

    best = ratio(candidates[0])
    return [c for c in candidates if ratio(c) >= best - SUGGESTION_SPREAD]


def user_frames(error: BaseException) -> list[traceback.FrameSummary]:
    """The frames of an error's traceback that are the user's own code.

    Left out: assetflow's frames (it called the user's code), the import machinery's
    (``importlib``, ``<frozen ...>``), and those of the standard library and of
    installed packages (pandas raising deep inside ``df[...]``): a "your code"
    traceback names the lines the user wrote and can change.
    """
    return [
        frame for frame in traceback.extract_tb(error.__traceback__) if is_user_file(frame.filename)
    ]


def is_user_file(filename: str) -> bool:
    """Whether a code file is the user's: not assetflow's, not a library's, not generated."""
    if filename.startswith("<"):  # <frozen importlib._bootstrap>, <string>, <stdin>
        return False
    if not os.path.isabs(filename) and not os.path.exists(filename):
        return False  # a compiled extension's source name, such as pandas' "ops.pyx"
    path = os.path.abspath(filename)
    package, libraries = _code_dirs()
    if path.startswith(package + os.sep):
        return False
    return not any(path.startswith(directory + os.sep) for directory in libraries)


@functools.cache
def _code_dirs() -> tuple[str, tuple[str, ...]]:
    """assetflow's directory, and those of the standard library and installed packages
    (asked for once, when a traceback is first shown)."""
    import sysconfig

    keys = ("stdlib", "platstdlib", "purelib", "platlib")
    libraries = {str(Path(sysconfig.get_path(key)).resolve()) for key in keys}
    return str(Path(__file__).resolve().parent), tuple(sorted(libraries))


def did_you_mean(suggestions: Sequence[str]) -> str:
    """Render suggestions as a "Did you mean" sentence, or '' when there are none."""
    if not suggestions:
        return ""
    quoted = [f"'{name}'" for name in suggestions]
    if len(quoted) == 1:
        return f"Did you mean {quoted[0]}?"
    return f"Did you mean {', '.join(quoted[:-1])} or {quoted[-1]}?"


def display_path(path: str | Path, root: Path | None) -> str:
    """A path as messages show it: relative to the project's parent when inside it,
    so that `example_project/assets.py` names both the project and the file."""
    return _display_path(str(path), root)


# Resolving a path asks the filesystem; a load of 10,000 assets asks for the same
# few files tens of thousands of times (once per asset and per edge).
@functools.lru_cache(maxsize=1024)
def _display_path(text: str, root: Path | None) -> str:
    path = Path(text)
    if root is not None:
        try:
            return path.resolve().relative_to(root.resolve().parent).as_posix()
        except ValueError:
            pass
    return path.as_posix()


def declared_at(file: str, line: int) -> str:
    """`file:line` of a declaration, for messages raised when it is declared (before any
    project root is known): relative to the working directory when inside it."""
    if file and os.path.isabs(file):
        try:
            relative = os.path.relpath(file)
        except ValueError:  # another drive
            relative = file
        if not relative.startswith(".."):
            file = relative
    return f"{file}:{line}"


class AssetflowError(Exception):
    """Base of every error assetflow raises at users."""

    exit_code: int = EXIT_FAILED

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def format_message(self) -> str:
        """The full text shown to the user: what happened, then how to fix it."""
        if self.hint:
            return f"{self.message}\n\n{self.hint}"
        return self.message

    def __str__(self) -> str:
        return self.format_message()


@dataclass(frozen=True, slots=True, order=True)
class Problem:
    """One thing wrong with a project's definitions, at a place in its files."""

    file: str
    line: int
    message: str

    def render(self) -> str:
        """The problem's text; its message names the place itself, in its own words."""
        return self.message


class DefinitionError(AssetflowError):
    """The project's asset definitions are wrong (one or several problems)."""

    exit_code = EXIT_USAGE

    def __init__(self, problems: Sequence[Problem] | str, *, hint: str = "") -> None:
        if isinstance(problems, str):
            problems = [Problem("", 0, problems)]
        self.problems = tuple(sorted(problems))
        count = len(self.problems)
        if count == 1:
            message = self.problems[0].render()
        else:
            header = f"the project has {count} definition problems:"
            message = header + "\n\n" + "\n\n".join(p.render() for p in self.problems)
        super().__init__(message, hint=hint)


class ProjectError(AssetflowError):
    """No project could be found, or its configuration is unusable."""

    exit_code = EXIT_USAGE


class UsageError(AssetflowError):
    """A command's options do not fit together or are out of range."""

    exit_code = EXIT_USAGE


class SelectionError(AssetflowError):
    """A selection expression does not parse, or selects nothing."""

    exit_code = EXIT_USAGE

    def __init__(
        self,
        message: str,
        *,
        expression: str = "",
        position: int | None = None,
        suggestions: Sequence[str] = (),
        hint: str = "",
    ) -> None:
        self.expression = expression
        self.position = position
        self.suggestions = tuple(suggestions)
        super().__init__(message, hint=hint)

    def format_message(self) -> str:
        parts = [self.message]
        if self.position is not None:
            shown, at = _window(self.expression, self.position)
            parts.append(f"\n    {shown}\n    {' ' * at}^")
        if self.suggestions:
            parts.append("\n    " + did_you_mean(self.suggestions))
        if self.hint:
            parts.append("\n" + self.hint)
        return "\n".join(parts)


#: The widest a selection is echoed under an error; a longer one is shown around the caret.
EXPRESSION_WIDTH = 72
#: The longest piece of a selection a message quotes before it shortens it.
QUOTE_WIDTH = 32


def _window(expression: str, position: int) -> tuple[str, int]:
    """The part of a long expression around `position`, with "…" where it was cut, and
    where the caret goes in it: a 400-character selection is echoed once, in one line."""
    if len(expression) <= EXPRESSION_WIDTH:
        return expression, position
    # Keep the caret about a third of the way in: what led to it matters most.
    start = max(0, min(position - EXPRESSION_WIDTH // 3, len(expression) - EXPRESSION_WIDTH))
    end = start + EXPRESSION_WIDTH
    head = "…" if start > 0 else ""
    tail = "…" if end < len(expression) else ""
    return head + expression[start:end] + tail, position - start + len(head)


def clip_start(text: str, width: int = QUOTE_WIDTH) -> str:
    """A quoted piece of input as a message shows it: its end, when it is long."""
    return text if len(text) <= width else "…" + text[-(width - 1) :]


class MissingInputError(AssetflowError):
    """A selected asset reads an unselected input that was never materialized."""

    exit_code = EXIT_USAGE


class AssetFailedError(AssetflowError):
    """The user's asset code raised; the original exception is ``__cause__``."""

    exit_code = EXIT_FAILED

    def __init__(self, asset: str, partition: str | None, message: str, *, hint: str = "") -> None:
        self.asset = asset
        self.partition = partition
        super().__init__(message, hint=hint)


class StoreError(AssetflowError):
    """The metadata store cannot be opened, read or written."""

    exit_code = EXIT_FAILED


class WriteError(AssetflowError):
    """An asset's output cannot be written (unsupported value, unwritable state dir)."""

    exit_code = EXIT_FAILED


def as_written(value: Any) -> str:
    """A setting's value as the user wrote it in TOML (near enough), for a message:
    `true`, `"6h"`, `3`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)


def kind_of(value: Any) -> str:
    """What a setting's value is, in a message's words: "a string", "a number"."""
    words = {str: "a string", int: "a number", float: "a number", bool: "true or false"}
    return words.get(type(value), type(value).__name__)

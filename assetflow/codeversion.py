"""Code versions: a stable hash of an asset's normalised source, its project helpers and settings.

An asset's code version changes when its logic changes, and only then. Its source
is parsed and hashed as an AST, so comments, formatting, docstrings and decorators
do not count. The hash also covers every project-local function or class the asset
reaches (transitively), the module constants it reads, and the settings that change
its output. Library code (stdlib, site-packages, assetflow itself) is not hashed:
upgrading pandas is not a change to the user's code.

Each hashed piece is a `CodePart` that carries its normalised source, so the store
can keep each distinct source once and `why` can show a diff of what changed.
"""

from __future__ import annotations

import ast
import copy
import inspect
import linecache
import logging
import sysconfig
import types
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from assetflow.codesource import (
    DIGEST_BYTES as DIGEST_BYTES,
)
from assetflow.codesource import (
    MAX_CONSTANT_DEPTH as MAX_CONSTANT_DEPTH,
)
from assetflow.codesource import (
    MAX_CONSTANT_ITEMS as MAX_CONSTANT_ITEMS,
)
from assetflow.codesource import (
    _canonical_value,
    _digest,
    _first_line,
    _Function,
    _index_source,
    _lambdas_on_line,
    _pick_by_position,
    _qualified_name,
    _SourceIndex,
    _summarise,
    _summarise_bytecode,
)
from assetflow.errors import DefinitionError, Problem

logger = logging.getLogger(__name__)

CodePartKind = Literal["asset", "helper", "constant", "settings"]
ChangeKind = Literal["changed", "added", "removed"]

#: Bump when normalisation changes, so that every code version changes once, on purpose.
SCHEME = "assetflow-code-1"
#: Directories that hold installed (library) code, even inside a project's root.
LIBRARY_DIRS = frozenset({"site-packages", "dist-packages"})
#: The framework's own modules are library code, never the user's helpers.
FRAMEWORK_PACKAGE = "assetflow"
#: The attribute that @asset sets: another asset is a dependency, not a helper.
ASSET_MARKER = "__assetflow_asset__"

_KIND_ORDER = {"asset": 0, "helper": 1, "constant": 2, "settings": 3}
_NO_SETTINGS: Mapping[str, str] = types.MappingProxyType({})


@dataclass(frozen=True, slots=True)
class CodePart:
    """One hashed piece of an asset's code: the asset, a helper, a constant or its settings."""

    name: str
    kind: CodePartKind
    digest: str
    source: str


@dataclass(frozen=True, slots=True)
class CodeFingerprint:
    """An asset's code version and the parts it was computed from."""

    version: str
    parts: tuple[CodePart, ...]

    def digests(self) -> dict[str, str]:
        """Return `{part name: digest}`: what the store records to explain later changes."""
        return {part.name: part.digest for part in self.parts}


@dataclass(frozen=True, slots=True)
class PartChange:
    """One part that differs between a recorded fingerprint and the current one."""

    name: str
    change: ChangeKind
    kind: CodePartKind | None  # None when removed: a record keeps only names and digests

    def describe(self) -> str:
        """Render as `helper helpers.normalise_email changed`."""
        return f"{self.kind or 'part'} {self.name} {self.change}"


def fingerprint(
    fn: Callable[..., object],
    *,
    settings: Mapping[str, str] = _NO_SETTINGS,
    project_root: Path | None = None,
    explicit: object = None,
    name: str | None = None,
) -> CodeFingerprint:
    """Compute the code version of one asset function.

    This parses the function's whole file. To fingerprint many assets, create one
    `Fingerprinter` per project load and reuse it, so that each file and helper is
    parsed once.

    Args:
        fn: The asset's function. Its decorators are ignored.
        settings: The asset settings that change its output, e.g. `{"io": "parquet"}`.
        project_root: Code under this directory is the project's and is hashed. By
            default, the directory that holds the asset's top-level package.
        explicit: The user's `code_version=`. When given, it replaces the source.
        name: The asset's name, used to name its part. By default, the function's name.

    Returns:
        The fingerprint: the version and every part it hashes.

    Raises:
        DefinitionError: `explicit` is not a string, or `fn` is not a function.
    """
    return Fingerprinter(project_root).fingerprint(
        fn, settings=settings, explicit=explicit, name=name
    )


@dataclass(frozen=True, slots=True)
class _Scope:
    """Where project code lives for one asset: under `root` or, without a file, in `module`."""

    root: str | None  # a resolved path, as str: Path hashing is slow in hot caches
    module: str


@dataclass(frozen=True, slots=True)
class _Analysis:
    """One function or class, hashed, with the project objects and constants it reads."""

    digest: str
    source: str
    helpers: tuple[object, ...]
    constants: tuple[CodePart, ...]


class Fingerprinter:
    """Fingerprints the assets of one project load, parsing each file and each helper once."""

    def __init__(self, project_root: Path | None = None) -> None:
        """Start with empty caches, for one project load.

        Args:
            project_root: Code under this directory is hashed. None derives it per asset.
        """
        self._root = str(project_root.resolve()) if project_root is not None else None
        self._indexes: dict[str, _SourceIndex | None] = {}
        self._analyses: dict[tuple[object, _Scope, bool], _Analysis] = {}
        self._scopes: dict[tuple[str, object], _Scope] = {}
        self._local_files: dict[tuple[str, str], bool] = {}
        paths = sysconfig.get_paths()
        names = ("stdlib", "platstdlib", "purelib", "platlib")
        self._library_roots = {Path(paths[key]).resolve() for key in names if key in paths}

    def fingerprint(
        self,
        fn: Callable[..., object],
        *,
        settings: Mapping[str, str] = _NO_SETTINGS,
        explicit: object = None,
        name: str | None = None,
    ) -> CodeFingerprint:
        """Compute the code version of one asset function (see the `fingerprint` function)."""
        fn = inspect.unwrap(fn)
        asset_name = name or str(getattr(fn, "__name__", type(fn).__name__))
        if explicit is not None:
            root = self._scope(fn).root if isinstance(fn, types.FunctionType) else self._root
            parts = [_explicit_part(fn, asset_name, explicit, root)]
        elif isinstance(fn, types.FunctionType):
            parts = self._collect(fn, asset_name)
        else:
            message = (
                f"asset '{asset_name}' is a {type(fn).__name__}, not a function, so assetflow "
                "cannot version its source."
            )
            raise DefinitionError(message, hint="To fix this, pass code_version= explicitly.")
        if settings:
            source = "\n".join(f"{key} = {settings[key]!r}" for key in sorted(settings))
            parts.append(CodePart("settings", "settings", _digest(source), source))
        return _make_fingerprint(parts)

    def _collect(self, fn: types.FunctionType, asset_name: str) -> list[CodePart]:
        """Hash the asset and everything it reaches, each helper once (recursion terminates)."""
        scope = self._scope(fn)
        top = self._analyse(fn, scope, is_asset=True)
        parts = {asset_name: CodePart(asset_name, "asset", top.digest, top.source)}
        seen: set[object] = {fn}
        pending = [top]
        while pending:
            analysis = pending.pop()
            for part in analysis.constants:
                parts.setdefault(part.name, part)
            for helper in analysis.helpers:
                if helper in seen:
                    continue
                seen.add(helper)
                found = self._analyse(helper, scope, is_asset=False)
                helper_name = _qualified_name(helper)
                part = CodePart(helper_name, "helper", found.digest, found.source)
                parts.setdefault(helper_name, part)
                pending.append(found)
        return list(parts.values())

    def _scope(self, fn: types.FunctionType) -> _Scope:
        """Find the project root: given, or the directory holding the asset's top package."""
        file = fn.__globals__.get("__file__")
        key = (fn.__module__, file)
        if key not in self._scopes:
            root = self._root
            if root is None and isinstance(file, str):
                path = Path(file).resolve()
                depth = fn.__module__.count(".") + (path.stem == "__init__")
                depth = 0 if fn.__module__ == "__main__" else depth
                root = str(path.parents[min(depth, len(path.parents) - 1)])
            # With a root the module does not matter, so helpers are shared across modules.
            self._scopes[key] = _Scope(root, "" if root else fn.__module__)
        return self._scopes[key]

    def _analyse(self, obj: object, scope: _Scope, *, is_asset: bool) -> _Analysis:
        key = (obj, scope, is_asset)
        if key not in self._analyses:
            self._analyses[key] = self._analyse_uncached(obj, scope, is_asset=is_asset)
        return self._analyses[key]

    def _analyse_uncached(self, obj: object, scope: _Scope, *, is_asset: bool) -> _Analysis:
        node = self._find_node(obj)
        if is_asset and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            node = copy.copy(node)  # a shallow copy: the cached tree keeps its decorators
            node.decorator_list = []
        if isinstance(obj, types.FunctionType):
            namespace, closure = obj.__globals__, _closure_values(obj)
        else:
            module = inspect.getmodule(obj)
            namespace, closure = (vars(module) if module else {}), {}
        summary = _summarise(node) if node is not None else None
        if summary is None:
            logger.debug("no source for %s: hashing its bytecode instead", _qualified_name(obj))
            digest, source, names = _summarise_bytecode(obj)
            # `helpers.f` compiles to the names "helpers" and "f": pair each module with the
            # other names, and resolution keeps the attributes that module really has.
            modules = [n for n in names if isinstance(namespace.get(n), types.ModuleType)]
            reads: list[tuple[str, ...]] = [(n,) for n in names]
            reads += [(m, n) for m in modules for n in names if n != m]
        else:
            digest, source, reads = summary
        helpers: dict[str, object] = {}
        constants: dict[str, CodePart] = {}
        for chain in reads:
            for target in self._resolve(chain, namespace, closure, scope, _qualified_name(obj)):
                if isinstance(target, CodePart):
                    constants[target.name] = target
                else:
                    helpers.setdefault(_qualified_name(target), target)
        return _Analysis(
            digest,
            source,
            tuple(helpers[key] for key in sorted(helpers)),
            tuple(constants[key] for key in sorted(constants)),
        )

    def _find_node(self, obj: object) -> _Function | ast.ClassDef | None:
        """Find a definition's AST in its file, checking its line and name against the code."""
        if isinstance(obj, types.FunctionType):
            code = obj.__code__
            index = self._index(code.co_filename, obj.__globals__)
            if index is None:
                return None
            if code.co_name == "<lambda>":
                candidates = _lambdas_on_line(index.tree, code.co_firstlineno)
            else:
                found = index.functions_by_line.get(code.co_firstlineno, [])
                candidates = [node for node in found if getattr(node, "name", "") == code.co_name]
            return _pick_by_position(candidates, code)
        module = inspect.getmodule(obj)
        file = getattr(module, "__file__", None)
        index = self._index(file, vars(module)) if module and file else None
        if index is None:
            return None
        classes = index.classes_by_qualname.get(getattr(obj, "__qualname__", ""), [])
        first_line = getattr(obj, "__firstlineno__", None)  # Python 3.13+
        if first_line is not None:
            classes = [node for node in classes if _first_line(node) == first_line] or classes
        return classes[-1] if classes else None  # the last definition is the one bound

    def _index(self, filename: str, module_globals: Mapping[str, object]) -> _SourceIndex | None:
        if filename not in self._indexes:
            linecache.checkcache(filename)  # read what is on disk now, not a stale cache
            lines = linecache.getlines(filename, dict(module_globals))
            try:
                tree = ast.parse("".join(lines)) if lines else None
            except (SyntaxError, ValueError):
                tree = None
            self._indexes[filename] = _index_source(tree) if tree else None
        return self._indexes[filename]

    def _resolve(
        self,
        chain: tuple[str, ...],
        namespace: Mapping[str, object],
        closure: Mapping[str, object],
        scope: _Scope,
        reader: str,
    ) -> Iterator[object]:
        """Yield the helpers (functions, classes) and constant parts one dotted read reaches.

        A constant is named after where it lives: `module.NAME` for a global, and
        `module.function.name` for a closure variable (factories make many of these).
        """
        head, rest = chain[0], chain[1:]
        if head in closure:
            value, owner = closure[head], reader
        elif head in namespace:
            value, owner = namespace[head], str(namespace.get("__name__"))
        else:
            return  # a builtin, or a name bound at run time
        while isinstance(value, types.ModuleType):
            if not rest or not self._is_local(value, scope):
                return  # a library module, or a project module used as a whole
            owner, head, rest = value.__name__, rest[0], rest[1:]
            value = getattr(value, head, None)
        if _is_asset(value):
            return
        if isinstance(value, types.MethodType):
            value = value.__func__
        if isinstance(value, types.FunctionType):
            value = inspect.unwrap(value)
        if isinstance(value, types.FunctionType | type):
            if self._is_local(value, scope):
                yield value
            return
        if type(value).__module__ != "builtins" and self._is_local(type(value), scope):
            yield type(value)  # an instance of a project class: its class is code too
        canonical = _canonical_value(value, [MAX_CONSTANT_ITEMS], 0)
        if canonical is None:
            logger.debug("%s.%s is not a constant assetflow can hash; skipped", owner, head)
            return
        source = f"{head} = {canonical}"
        yield CodePart(f"{owner}.{head}", "constant", _digest(source), source)

    def _is_local(self, obj: object, scope: _Scope) -> bool:
        """Whether `obj` is project code: under the root, outside installed packages."""
        is_module = isinstance(obj, types.ModuleType)
        module_name = getattr(obj, "__name__" if is_module else "__module__", None)
        if not isinstance(module_name, str) or module_name.split(".")[0] == FRAMEWORK_PACKAGE:
            return False
        if isinstance(obj, types.FunctionType):
            file: object = obj.__code__.co_filename
        else:
            file = getattr(obj if is_module else inspect.getmodule(obj), "__file__", None)
        if scope.root is None or not isinstance(file, str):
            return module_name == scope.module
        key = (file, scope.root)
        if key not in self._local_files:
            self._local_files[key] = self._is_local_file(Path(file), Path(scope.root))
        return self._local_files[key]

    def _is_local_file(self, file: Path, root: Path) -> bool:
        if not file.is_absolute() and not file.exists():
            return False  # "<string>", "<stdin>": code without a file
        path = file.resolve()
        if not path.is_relative_to(root) or LIBRARY_DIRS.intersection(path.parts):
            return False
        return not any(
            path.is_relative_to(lib) and not root.is_relative_to(lib) for lib in self._library_roots
        )


def changed_parts(old: Mapping[str, str], new: CodeFingerprint) -> list[PartChange]:
    """Name the parts that changed, appeared or disappeared since a recorded fingerprint.

    Args:
        old: The recorded `{part name: digest}` (see `CodeFingerprint.digests`).
        new: The current fingerprint.

    Returns:
        One `PartChange` per part that differs, sorted by name.
    """
    changes = [
        PartChange(part.name, "added" if part.name not in old else "changed", part.kind)
        for part in new.parts
        if old.get(part.name) != part.digest
    ]
    current = {part.name for part in new.parts}
    changes += [PartChange(name, "removed", None) for name in old if name not in current]
    return sorted(changes, key=lambda change: change.name)


def diff_sources(old: str, new: str, name: str) -> str:
    """Render a unified diff between two normalised sources of one part.

    Args:
        old: The recorded normalised source ('' when the part is new).
        new: The current normalised source ('' when the part was removed).
        name: The part's name, used to label both sides.

    Returns:
        The diff text, or '' when the sources are equal.
    """
    import difflib  # for `assetflow explain` only: a run does without it

    lines = difflib.unified_diff(
        old.splitlines(),
        new.splitlines(),
        fromfile=f"{name} (recorded)",
        tofile=f"{name} (current)",
        lineterm="",
    )
    return "\n".join(lines)


def _make_fingerprint(parts: list[CodePart]) -> CodeFingerprint:
    ordered = tuple(sorted(parts, key=lambda part: (_KIND_ORDER[part.kind], part.name)))
    lines = sorted(f"{part.kind}\0{part.name}\0{part.digest}" for part in ordered)
    return CodeFingerprint(_digest("\n".join([SCHEME, *lines])), ordered)


def _explicit_part(
    fn: Callable[..., object], asset_name: str, explicit: object, root: str | None
) -> CodePart:
    if isinstance(explicit, str):
        source = f"code_version = {explicit!r}"
        return CodePart(asset_name, "asset", _digest(source), source)
    code = getattr(fn, "__code__", None)
    file, line = (code.co_filename, code.co_firstlineno) if code else ("?", 0)
    if root is not None and Path(file).is_relative_to(root):
        file = str(Path(file).relative_to(root))
    message = (
        f"asset '{asset_name}' ({file}:{line}) has code_version={explicit!r} of type "
        f"{type(explicit).__name__}, but a code version must be a string."
    )
    hint = (
        "code_version= pins the asset's code version: assetflow rebuilds the asset when "
        "that string changes, and ignores edits to its source. To fix this, pass a string "
        f'(code_version="{explicit}"), or remove code_version= to version the asset by '
        "its source."
    )
    raise DefinitionError([Problem(file, line, message)], hint=hint)


def _is_asset(value: object) -> bool:
    try:
        return bool(getattr(value, ASSET_MARKER, False))
    except Exception:  # an object whose __getattr__ raises is not an asset
        return False


def _closure_values(fn: types.FunctionType) -> dict[str, object]:
    values: dict[str, object] = {}
    for name, cell in zip(fn.__code__.co_freevars, fn.__closure__ or (), strict=False):
        try:
            values[name] = cell.cell_contents
        except ValueError:  # an empty cell: the variable is not bound yet
            continue
    return values

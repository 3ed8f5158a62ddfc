"""`[tool.assetflow.openlineage]`, read and checked: where lineage events go, and how."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final, Literal, get_args
from urllib.parse import urlsplit

from assetflow.errors import ProjectError

Transport = Literal["http", "file", "console"]
#: Every transport, in the order the docs list them.
TRANSPORTS: Final[tuple[Transport, ...]] = get_args(Transport)
#: How long one HTTP request may take before it counts as failed (and is retried later).
DEFAULT_TIMEOUT_S = 5.0
DEFAULT_ENDPOINT = "api/v1/lineage"
_KNOWN_KEYS = ("transport", "url", "endpoint", "namespace", "path", "api_key_env", "timeout")
_TABLE = "[tool.assetflow.openlineage]"


@dataclass(frozen=True, slots=True)
class LineageSettings:
    """Where a project's lineage events go."""

    transport: Transport
    namespace: str
    url: str | None = None
    endpoint: str = DEFAULT_ENDPOINT
    #: the file transport's file (one event a line), absolute
    path: Path | None = None
    #: the API key read from the variable `api_key_env` names (never printed)
    api_key: str | None = field(default=None, repr=False)
    api_key_env: str | None = None
    timeout: float = DEFAULT_TIMEOUT_S

    @property
    def target(self) -> str:
        """Where events go, for messages (no key in it)."""
        if self.transport == "http":
            return f"{_without_password(self.url or '')} (http)"
        if self.transport == "file":
            return f"{self.path} (file)"
        return "the console log (console)"


def _error(where: str, what: str, hint: str) -> ProjectError:
    return ProjectError(f"{_TABLE} in {where}: {what}", hint=hint)


def parse_settings(
    table: Mapping[str, Any],
    *,
    where: str,
    root: Path,
    default_namespace: str,
    environ: Mapping[str, str] | None = None,
) -> LineageSettings | None:
    """Check the table as written; None when there is none (no lineage is emitted).

    Raises:
        ProjectError: An unknown transport or key, an http transport without a URL, a
            file transport without a path, or an `api_key_env` naming an unset variable.
    """
    if not table:
        return None
    environ = os.environ if environ is None else environ
    unknown = sorted(set(table) - set(_KNOWN_KEYS))
    if unknown:
        raise _error(
            where,
            f"unknown setting {', '.join(repr(key) for key in unknown)}.",
            f"The settings are: {', '.join(_KNOWN_KEYS)}.",
        )
    transport = table.get("transport")
    if transport not in TRANSPORTS:
        known = ", ".join(f'"{name}"' for name in TRANSPORTS)
        shown = "missing" if transport is None else f"{transport!r}, which is not one of them"
        raise _error(
            where,
            f"`transport` is {shown}.",
            f"Set `transport` to one of {known}: http sends each event to `url`, file "
            "appends them to `path` (one a line), console writes them to the log. E.g.\n\n"
            '    transport = "http"\n    url = "http://localhost:5000"',
        )
    namespace = _text(table, "namespace", where) or default_namespace
    timeout = table.get("timeout", DEFAULT_TIMEOUT_S)
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not (0 < timeout < math.inf)
    ):
        raise _error(
            where,
            f"`timeout` is {timeout!r}.",
            "Set it to the seconds one request may take, e.g. `timeout = 5`.",
        )
    settings = LineageSettings(transport=transport, namespace=namespace, timeout=float(timeout))
    if transport == "http":
        return _http(table, settings, where, environ)
    if transport == "file":
        path = _text(table, "path", where)
        if not path:
            raise _error(
                where,
                "the file transport needs a `path` and none is set.",
                "Add the file that receives the events, one a line, e.g.\n\n"
                '    path = "lineage.ndjson"\n\n(relative to the project directory).',
            )
        resolved = Path(path).expanduser()
        return _replace(settings, path=resolved if resolved.is_absolute() else root / resolved)
    return settings


def _http(
    table: Mapping[str, Any], settings: LineageSettings, where: str, environ: Mapping[str, str]
) -> LineageSettings:
    url = _text(table, "url", where)
    parts = urlsplit(url or "")
    if not url or parts.scheme not in ("http", "https") or not parts.netloc:
        shown = "not set" if not url else f"{url!r}, which is not an http(s) URL"
        raise _error(
            where,
            f"the http transport needs the receiver's `url`; it is {shown}.",
            'Set it to the lineage backend\'s address, e.g. `url = "http://localhost:5000"` '
            "(Marquez); events are posted to `endpoint` under it (default api/v1/lineage).",
        )
    endpoint = _text(table, "endpoint", where) or DEFAULT_ENDPOINT
    name = _text(table, "api_key_env", where)
    key = None
    if name:
        key = environ.get(name, "").strip()
        if not key:
            state = "empty" if name in environ else "not set"
            raise _error(
                where,
                f"`api_key_env` names the environment variable {name}, which is {state}.",
                f"Set it to the lineage backend's API key (export {name}=...), or remove "
                "`api_key_env` if the backend needs no key.",
            )
    return _replace(settings, url=url, endpoint=endpoint, api_key=key, api_key_env=name)


def _replace(settings: LineageSettings, **changes: Any) -> LineageSettings:
    return replace(settings, **changes)


def _text(table: Mapping[str, Any], key: str, where: str) -> str | None:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise _error(where, f"`{key}` is {value!r}.", f"Set `{key}` to a non-empty string.")
    return value.strip()


def _without_password(url: str) -> str:
    """`url` with any user and password left out (they never go in a message)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return parts._replace(netloc=f"***@{netloc}").geturl()

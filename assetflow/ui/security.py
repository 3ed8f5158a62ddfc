"""Who may use the UI, and what may change state.

A server bound to 127.0.0.1 (the default) serves whoever can reach it there. A
server given a token (ASSETFLOW_UI_TOKEN, required on any other address) asks
every request for it: as an `Authorization: Bearer` header, or as the cookie
`assetflow_ui` that the login form sets. Static files need no token.

Every POST but the login form's carries a CSRF token: an HMAC of this server's
secret and a random id that the browser keeps in the cookie `assetflow_csrf`. A
page from this server has it (`scope["csrf_token"]`, `csrf` in templates); a page
of another site can neither read it nor send our cookies with its own value. A
script that authenticated with the bearer header needs none: a browser cannot
send that header cross-site. Without a token, only requests whose `Host` is a
loopback name are served, so that another site cannot reach the server through
a name of its own that resolves to 127.0.0.1 (DNS rebinding).

Every response carries a Content-Security-Policy that allows only this server's
own scripts, styles and images (so templates use no inline script or `style=`),
`X-Content-Type-Options: nosniff` and `Referrer-Policy: same-origin`.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import re
import secrets
from http.cookies import CookieError, SimpleCookie
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlencode

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from assetflow.ui.state import UiState

#: The cookie holding the login (a digest of the token, never the token itself).
LOGIN_COOKIE = "assetflow_ui"
#: The cookie holding the browser's random id, the CSRF token's other half.
CSRF_COOKIE = "assetflow_csrf"
#: The form field and the header a POST carries its CSRF token in.
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
#: The largest request body read (a form, a launch request); larger ones get 413.
MAX_BODY = 1 << 20

SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}
#: Paths under which no token is asked for.
PUBLIC_PREFIXES = ("/static/",)
LOGIN_PATH = "/login"
CSRF_REFUSED = "missing or wrong CSRF token"
_LOOPBACK_HOST = re.compile(r"(127\.0\.0\.1|localhost|\[::1\])(:[0-9]{1,5})?")


def csrf_token(secret: str, browser: str) -> str:
    """The CSRF token of one browser (its cookie's id) on the server of `secret`."""
    return hmac.new(secret.encode(), f"csrf:{browser}".encode(), hashlib.sha256).hexdigest()


def login_digest(token: str) -> str:
    """The value of the login cookie for `token`: it proves the token was given
    without holding it, and stays valid across restarts with the same token."""
    return hmac.new(token.encode(), b"assetflow ui login", hashlib.sha256).hexdigest()


def _cookie(name: str, value: str) -> str:
    return f"{name}={value}; Path=/; HttpOnly; SameSite=Strict"


def _cookies(headers: Headers) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    for header in headers.getlist("cookie"):
        # A malformed cookie header counts as none.
        with contextlib.suppress(CookieError):
            jar.load(header)
    return {name: morsel.value for name, morsel in jar.items()}


def _is_api(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


def _has_parent_segment(path: str) -> bool:
    return any(segment in {"..", "."} for segment in path.split("/")[1:]) or "\\" in path


class Guard:
    """ASGI middleware: the token, the CSRF token and the security headers."""

    def __init__(self, app: ASGIApp, state: UiState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        headers = Headers(scope=scope)
        cookies = _cookies(headers)
        browser = cookies.get(CSRF_COOKIE, "")
        new_cookies: list[str] = []
        if not _valid_browser_id(browser):
            browser = secrets.token_urlsafe(24)
            new_cookies.append(_cookie(CSRF_COOKIE, browser))
        scope["csrf_token"] = csrf_token(self.state.secret, browser)
        send = _with_headers(send, new_cookies)

        if self.state.token is None and not _loopback_host(headers.get("host", "")):
            # A page of another site whose name was made to resolve to 127.0.0.1 (DNS
            # rebinding) would be same-origin with this server: without a token, only
            # the loopback names are served.
            await _refuse(scope, receive, send, 400, "unknown host name")
            return
        if _has_parent_segment(path):
            # No page is named with `..`; nothing is looked up for one.
            await _refuse(scope, receive, send, 404, "no such page")
            return
        if path.startswith(PUBLIC_PREFIXES):
            await self.app(scope, receive, send)
            return
        by_bearer = self._bearer(headers)
        logged_in = by_bearer or self._logged_in(cookies)
        if path == LOGIN_PATH:
            await self.app(scope, receive, send)
            return
        if not logged_in:
            if _is_api(path) or scope["method"] not in ("GET", "HEAD"):
                await _refuse(scope, receive, send, 401, "unauthorized")
            else:
                # Back to this page once logged in.
                query = scope.get("query_string", b"").decode("latin-1")
                wanted = path + (f"?{query}" if query else "")
                target = LOGIN_PATH
                if wanted != "/":
                    target += "?" + urlencode({"next": wanted})
                await RedirectResponse(target, status_code=303)(scope, receive, send)
            return
        if scope["method"] in ("GET", "HEAD", "OPTIONS") or by_bearer:
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:
            await _refuse(scope, receive, send, 413, "request body too large")
            return
        supplied = headers.get(CSRF_HEADER) or _form_field(headers, body, CSRF_FIELD)
        expected = scope["csrf_token"].encode()
        if not supplied or not hmac.compare_digest(supplied.encode(), expected):
            await _refuse(scope, receive, send, 403, CSRF_REFUSED)
            return
        await self.app(scope, _replay(body), send)

    def _bearer(self, headers: Headers) -> bool:
        token = self.state.token
        if token is None:
            return False
        scheme, _, given = headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), token.encode()
        )

    def _logged_in(self, cookies: dict[str, str]) -> bool:
        token = self.state.token
        if token is None:
            return True
        given = cookies.get(LOGIN_COOKIE, "")
        return hmac.compare_digest(given.encode(), login_digest(token).encode())


def _loopback_host(host: str) -> bool:
    """Whether a Host header names this machine's loopback (`127.0.0.1:3000`,
    `localhost:3000`, `[::1]:3000`)."""
    return _LOOPBACK_HOST.fullmatch(host.lower()) is not None


def _valid_browser_id(value: str) -> bool:
    return 16 <= len(value) <= 64 and all(c.isalnum() or c in "-_" for c in value)


def _with_headers(send: Send, cookies: list[str]) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = MutableHeaders(scope=message)
            for name, value in SECURITY_HEADERS.items():
                headers[name] = value
            for cookie in cookies:
                headers.append("set-cookie", cookie)
        await send(message)

    return sending


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body, or None past `MAX_BODY`."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    """A `receive` that gives the app the body the guard has read."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


def _form_field(headers: Headers, body: bytes, name: str) -> str | None:
    """A field of a urlencoded form, or of a multipart one (its plain text fields)."""
    kind = headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        values = parse_qs(body.decode("latin-1"), keep_blank_values=True).get(name)
        return values[0] if values else None
    if kind == "multipart/form-data":
        import email.parser
        import email.policy

        head = f"Content-Type: {headers.get('content-type')}\r\n\r\n".encode()
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
        for part in message.iter_parts():
            if part.get_param("name", header="content-disposition") == name:
                payload = part.get_payload(decode=True)
                return payload.decode() if isinstance(payload, bytes) else None
    return None


async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, message: str) -> None:
    """A refusal: JSON under /api/, else a page (plain: it says no more than `message`)."""
    response: Response
    if _is_api(scope["path"]):
        response = Response(
            json.dumps({"error": message}), status_code=status, media_type="application/json"
        )
    else:
        response = HTMLResponse(_plain_page(message), status_code=status)
    await response(scope, receive, send)


def _plain_page(message: str) -> str:
    import html

    text = html.escape(message)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<title>{text} · assetflow</title><link rel="stylesheet" href="/static/app.css">'
        f"</head><body><main><h1>{text.capitalize()}</h1></main></body></html>"
    )


def local_target(value: object) -> str:
    """Where to go after logging in: ``value`` if it is a path of this server, else `/`.

    Only a path that starts with one `/` is followed, so that a link to the login
    page cannot send the browser on to another site (`//evil.example`, `/\\evil`,
    `https://...`)."""
    if not isinstance(value, str) or len(value) > 2000:
        return "/"
    if not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    if any(ord(char) < 0x20 or ord(char) == 0x7F or char == "\\" for char in value):
        return "/"
    return value


async def login_form(request: Request) -> Response:
    """GET /login: the form that asks for the token (and where to go next)."""
    return _login_page(
        request, error=None, status_code=200, next=local_target(request.query_params.get("next"))
    )


async def login(request: Request) -> Response:
    """POST /login: the token right sets the login cookie and goes to the page that asked
    for it (the form's `next`), or the lineage."""
    state: UiState = request.app.state.ui
    form = await request.form()
    given = form.get("token")
    given = given if isinstance(given, str) else ""
    target = local_target(form.get("next"))
    if state.token is None:
        return RedirectResponse(target, status_code=303)
    if not hmac.compare_digest(given.encode(), state.token.encode()):
        return _login_page(request, error="wrong token", status_code=401, next=target)
    response = RedirectResponse(target, status_code=303)
    response.headers.append("set-cookie", _cookie(LOGIN_COOKIE, login_digest(state.token)))
    return response


def _login_page(request: Request, *, error: str | None, status_code: int, next: str) -> Response:
    from assetflow.ui.rendering import page

    return page(request, "login.html", status_code=status_code, error=error, next=next)


def routes() -> list[BaseRoute]:
    """The login form."""
    return [
        Route(LOGIN_PATH, login_form, methods=["GET"]),
        Route(LOGIN_PATH, login, methods=["POST"]),
    ]

"""Real servers on 127.0.0.1 for the alert tests: a recording HTTP server and an SMTP server.

`RecordingHTTPServer` records every request (method, path, headers, body) and answers
with scripted status codes, or, in "never answers" mode, accepts and says nothing.
`SMTPServer` is aiosmtpd's Controller with STARTTLS (or implicit TLS) on a
certificate from a trustme CA, and a login that accepts one user and password.
"""

from __future__ import annotations

import http.server
import ssl
import threading
from dataclasses import dataclass, field
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

# -- HTTP --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recorded:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class RecordingHTTPServer:
    """A threaded HTTP server on 127.0.0.1, port 0, recording requests and scripted answers.

    `answers` are the status codes of successive requests (the last one repeats);
    `never_answers` accepts a request and sleeps until the server stops.
    """

    def __init__(
        self,
        answers: list[int] | None = None,
        *,
        never_answers: bool = False,
        body: bytes = b"ok",
        location: str | None = None,
    ) -> None:
        self.answers = list(answers or [200])
        self.never_answers = never_answers
        self.answer_body = body
        self.location = location
        self.requests: list[Recorded] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                data = self.rfile.read(length)
                with owner._lock:
                    owner.requests.append(
                        Recorded("POST", self.path, dict(self.headers.items()), data)
                    )
                    status = owner.answers[0]
                    if len(owner.answers) > 1:
                        owner.answers.pop(0)
                if owner.never_answers:
                    owner._stop.wait(30)
                    return
                self.send_response(status)
                if owner.location is not None:
                    self.send_header("Location", owner.location)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(owner.answer_body)))
                self.end_headers()
                self.wfile.write(owner.answer_body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The server's base URL, e.g. http://127.0.0.1:43211."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> RecordingHTTPServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()


def refused_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (a port bound, then released)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


# -- SMTP --------------------------------------------------------------------------------------

SMTP_USER = "alerts-user"
SMTP_PASSWORD = "s3cret-smtp-pass"


@dataclass
class _Recorder:
    """An aiosmtpd handler keeping every envelope it is given."""

    envelopes: list[Envelope] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


def _authenticate(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == SMTP_USER.encode()
        and auth_data.password == SMTP_PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)


class TLSCertificates:
    """A trustme CA and a certificate for 127.0.0.1 and localhost signed by it."""

    def __init__(self) -> None:
        self.ca = trustme.CA()
        self.cert = self.ca.issue_cert("127.0.0.1", "localhost")

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.cert.configure_cert(context)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts this CA (and nothing else)."""
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context


class SMTPServer:
    """aiosmtpd on 127.0.0.1 (a free port) with STARTTLS, or implicit TLS, and a login."""

    def __init__(self, certificates: TLSCertificates, *, implicit_tls: bool = False) -> None:
        self.handler = _Recorder()
        self.implicit_tls = implicit_tls
        context = certificates.server_context()
        kwargs: dict[str, Any] = {"authenticator": _authenticate, "auth_require_tls": True}
        if implicit_tls:
            # aiosmtpd counts only STARTTLS as TLS for auth_require_tls; this
            # connection is TLS from its first byte, so AUTH is offered anyway.
            kwargs.update(ssl_context=context, auth_require_tls=False)
        else:
            kwargs.update(tls_context=context, require_starttls=True)
        self.port = _free_port()
        self._controller = Controller(
            self.handler,
            hostname="127.0.0.1",
            port=self.port,
            server_hostname="127.0.0.1",
            **kwargs,
        )

    @property
    def envelopes(self) -> list[Envelope]:
        return self.handler.envelopes

    def __enter__(self) -> SMTPServer:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port

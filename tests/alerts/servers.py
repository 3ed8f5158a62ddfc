"""A real SMTP server on 127.0.0.1 for the alert tests (their HTTP server is
tests.http_servers').

`SMTPServer` is aiosmtpd's Controller with STARTTLS (or implicit TLS) on a
certificate from a trustme CA, and a login that accepts one user and password.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

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

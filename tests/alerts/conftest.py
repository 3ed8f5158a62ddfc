"""Fixtures for the alert tests: the real servers of servers.py, started and stopped."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.alerts.servers import SMTPServer, TLSCertificates
from tests.http_servers import RecordingHTTPServer


@pytest.fixture(scope="session")
def certificates() -> TLSCertificates:
    """A trustme CA and a certificate for 127.0.0.1 (made once: key generation is slow)."""
    return TLSCertificates()


@pytest.fixture
def http_server() -> Iterator[RecordingHTTPServer]:
    """A recording HTTP server that answers 200."""
    with RecordingHTTPServer() as server:
        yield server


@pytest.fixture
def smtp_server(certificates: TLSCertificates) -> Iterator[SMTPServer]:
    """An SMTP server with STARTTLS on the trustme certificate, and a login."""
    with SMTPServer(certificates) as server:
        yield server


@pytest.fixture
def smtps_server(certificates: TLSCertificates) -> Iterator[SMTPServer]:
    """An SMTP server speaking implicit TLS on the trustme certificate, and a login."""
    with SMTPServer(certificates, implicit_tls=True) as server:
        yield server

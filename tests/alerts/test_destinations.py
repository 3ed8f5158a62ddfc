"""Sending one alert to real servers on 127.0.0.1: what arrives, how each answer is classified."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sys
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from assetflow import __version__
from assetflow.alerts.destinations import Delivery, send
from assetflow.alerts.message import slack_payload, webhook_body, webhook_bytes
from assetflow.alerts.settings import Destination, parse_destinations
from tests.alerts.servers import SMTP_PASSWORD, SMTP_USER, SMTPServer, TLSCertificates
from tests.alerts.test_message import failed
from tests.http_servers import RecordingHTTPServer, refused_url

MESSAGE = failed()
HMAC_KEY = "hmac-key-0123456789"
TOKEN = "tok-abcdef-987654"


def destination(**settings: Any) -> Destination:
    return parse_destinations({"dest": settings}, "pyproject.toml")["dest"]


def sent(dest: Destination, environ: dict[str, str], **kwargs: Any) -> Delivery:
    """Send MESSAGE, and check that no secret of `environ` is in the detail or the repr."""
    delivery = send(dest, MESSAGE, environ, **kwargs)
    for secret in filter(None, environ.values()):
        assert secret not in delivery.detail
        assert secret not in repr(dest)
        assert secret not in repr(delivery)
    return delivery


# -- slack and webhook ---------------------------------------------------------------------


def test_slack_posts_its_payload(http_server: RecordingHTTPServer) -> None:
    url = f"{http_server.url}/services/T000/B000/XXXX"
    dest = destination(kind="slack", url_env="SLACK_URL", channel="#data", username="assetflow")
    delivery = sent(dest, {"SLACK_URL": url})
    assert (delivery.outcome, delivery.detail) == ("sent", "HTTP 200 OK")
    assert delivery.duration_s > 0
    [request] = http_server.requests
    assert (request.method, request.path) == ("POST", "/services/T000/B000/XXXX")
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"] == f"assetflow/{__version__}"
    expected = {**slack_payload(MESSAGE), "channel": "#data", "username": "assetflow"}
    assert json.loads(request.body) == expected


def test_webhook_posts_the_exact_body_with_headers(http_server: RecordingHTTPServer) -> None:
    dest = destination(
        kind="webhook",
        url=f"{http_server.url}/hook",
        headers={"X-Team": "data"},
        headers_env={"Authorization": "HOOK_TOKEN"},
    )
    delivery = sent(dest, {"HOOK_TOKEN": f"Bearer {TOKEN}"})
    assert delivery.outcome == "sent"
    [request] = http_server.requests
    assert request.body == webhook_bytes(MESSAGE)
    assert json.loads(request.body) == webhook_body(MESSAGE)
    assert request.headers["X-Team"] == "data"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert "X-Assetflow-Signature" not in request.headers


def test_webhook_signature_verifies_with_the_same_key(http_server: RecordingHTTPServer) -> None:
    dest = destination(kind="webhook", url=f"{http_server.url}/hook", secret_env="HOOK_KEY")
    before = int(time.time())
    assert sent(dest, {"HOOK_KEY": HMAC_KEY}).outcome == "sent"
    [request] = http_server.requests
    assert before <= int(request.headers["X-Assetflow-Timestamp"]) <= time.time()
    signed = request.headers["X-Assetflow-Timestamp"].encode() + b"." + request.body
    expected = hmac.new(HMAC_KEY.encode(), signed, hashlib.sha256).hexdigest()
    signature = request.headers["X-Assetflow-Signature"]
    assert hmac.compare_digest(signature, f"sha256={expected}")
    wrong = hmac.new(b"another key", signed, hashlib.sha256).hexdigest()
    assert signature != f"sha256={wrong}"
    # The timestamp is signed too: a replay with a new timestamp does not verify.
    replayed = b"9999999999." + request.body
    assert (
        signature != "sha256=" + hmac.new(HMAC_KEY.encode(), replayed, hashlib.sha256).hexdigest()
    )


def test_500_is_retried_with_the_body_quoted() -> None:
    body = b"upstream down " + b"x" * 500
    with RecordingHTTPServer([500, 200], body=body) as server:
        dest = destination(kind="webhook", url=f"{server.url}/hook")
        first = sent(dest, {})
        assert first.outcome == "retry"
        assert (
            first.detail
            == "HTTP 500 Internal Server Error: " + ("upstream down " + "x" * 500)[:200]
        )
        second = sent(dest, {})
        assert (second.outcome, second.detail) == ("sent", "HTTP 200 OK")
        assert len(server.requests) == 2
        assert server.requests[0].body == server.requests[1].body


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (503, "retry"),
        (429, "retry"),
        (408, "retry"),
        (404, "failed"),
        (400, "failed"),
        (403, "failed"),
    ],
)
def test_status_codes_are_classified(status: int, outcome: str) -> None:
    with RecordingHTTPServer([status], body=b"no_service") as server:
        delivery = sent(destination(kind="slack", url_env="U"), {"U": f"{server.url}/T/B/secret"})
    assert delivery.outcome == outcome
    assert delivery.detail.startswith(f"HTTP {status} ")
    assert delivery.detail.endswith(": no_service")


def test_a_redirect_is_not_followed() -> None:
    with RecordingHTTPServer([302], location="http://127.0.0.1:9/elsewhere") as server:
        delivery = sent(destination(kind="webhook", url=f"{server.url}/hook"), {})
        assert len(server.requests) == 1
    assert delivery.outcome == "failed"
    assert delivery.detail.startswith("HTTP 302 Found: redirects are not followed")


def test_a_receiver_that_never_answers_times_out() -> None:
    with RecordingHTTPServer(never_answers=True) as server:
        dest = destination(kind="webhook", url=f"{server.url}/hook", timeout=0.5)
        start = time.monotonic()
        delivery = sent(dest, {})
        took = time.monotonic() - start
    assert (delivery.outcome, delivery.detail) == ("retry", "timed out after 0.5 s")
    assert 0.4 < took < 3


def test_a_refused_connection_is_retried() -> None:
    delivery = sent(
        destination(kind="webhook", url_env="HOOK_URL"), {"HOOK_URL": refused_url("/hook")}
    )
    assert (delivery.outcome, delivery.detail) == ("retry", "connection refused")


def test_an_unknown_host_is_retried() -> None:
    delivery = sent(destination(kind="webhook", url="http://no-such-host.invalid/hook"), {})
    assert delivery.outcome == "retry"
    assert delivery.detail.startswith("DNS lookup of no-such-host.invalid failed")


@pytest.mark.parametrize(
    ("settings", "environ", "detail"),
    [
        ({"kind": "slack", "url_env": "SLACK_WEBHOOK_URL"}, {}, "SLACK_WEBHOOK_URL is not set"),
        (
            {"kind": "slack", "url_env": "SLACK_WEBHOOK_URL"},
            {"SLACK_WEBHOOK_URL": ""},
            "SLACK_WEBHOOK_URL is empty",
        ),
        (
            {"kind": "slack", "url_env": "SLACK_WEBHOOK_URL"},
            {"SLACK_WEBHOOK_URL": "hooks.slack.com/services/T/B/abc"},
            "SLACK_WEBHOOK_URL does not hold an http:// or https:// URL",
        ),
        (
            {"kind": "webhook", "url": "http://127.0.0.1:9/h", "secret_env": "HOOK_KEY"},
            {},
            "HOOK_KEY is not set",
        ),
        (
            {"kind": "webhook", "url": "http://127.0.0.1:9/h", "headers_env": {"X-Token": "TOK"}},
            {},
            "TOK is not set",
        ),
        (
            {
                "kind": "email",
                "smtp_host": "127.0.0.1",
                "to": ["a@b"],
                "user_env": "U",
                "password_env": "P",
            },
            {"U": "someone"},
            "P is not set",
        ),
    ],
)
def test_a_missing_secret_is_undeliverable(
    settings: dict[str, Any], environ: dict[str, str], detail: str
) -> None:
    delivery = sent(destination(**settings), environ)
    assert (delivery.outcome, delivery.detail) == ("undeliverable", detail)


def test_a_secret_url_quoted_in_an_error_is_redacted() -> None:
    secret_url = "http://no-such-host.invalid:99999/T0/B0/very-secret-path"
    delivery = sent(destination(kind="slack", url_env="SLACK_URL"), {"SLACK_URL": secret_url})
    assert delivery.outcome == "retry"
    assert "very-secret-path" not in delivery.detail


def test_an_invalid_url_from_the_environment_fails_without_quoting_it() -> None:
    dest = destination(kind="slack", url_env="SLACK_URL")
    delivery = sent(dest, {"SLACK_URL": "http://hooks sec.example/T0/B0/xyz"})
    assert delivery.outcome == "failed"
    assert delivery.detail.startswith("the URL is not valid: ")
    assert "hooks sec" not in delivery.detail


def test_a_secret_echoed_by_the_receiver_is_redacted() -> None:
    answer = f"bad credentials: Bearer {TOKEN} for key {HMAC_KEY}".encode()
    with RecordingHTTPServer([401], body=answer) as server:
        dest = destination(
            kind="webhook",
            url=f"{server.url}/hook",
            secret_env="HOOK_KEY",
            headers_env={"Authorization": "HOOK_TOKEN"},
        )
        environ = {"HOOK_TOKEN": f"Bearer {TOKEN}", "HOOK_KEY": HMAC_KEY}
        delivery = sent(dest, environ)
    assert delivery.outcome == "failed"
    assert delivery.detail == "HTTP 401 Unauthorized: bad credentials: *** for key ***"


def test_https_with_the_trusted_ca(certificates: TLSCertificates) -> None:
    import http.server
    import ssl
    import threading

    received: list[bytes] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = certificates.server_context().wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"https://127.0.0.1:{server.server_address[1]}/hook"
        dest = destination(kind="webhook", url=url)
        trusted = sent(dest, {}, tls_context=certificates.client_context())
        assert (trusted.outcome, trusted.detail) == ("sent", "HTTP 204 No Content")
        assert received == [webhook_bytes(MESSAGE)]
        untrusted = sent(dest, {}, tls_context=ssl.create_default_context())
        assert untrusted.outcome == "failed"
        assert untrusted.detail.startswith("the TLS certificate does not verify")
    finally:
        server.shutdown()
        server.server_close()


# -- email ---------------------------------------------------------------------------------

SMTP_ENV = {"SMTP_USER": SMTP_USER, "SMTP_PASSWORD": SMTP_PASSWORD}


def mail_destination(server: SMTPServer, **settings: Any) -> Destination:
    base: dict[str, Any] = {
        "kind": "email",
        "smtp_host": "127.0.0.1",
        "smtp_port": server.port,
        "user_env": "SMTP_USER",
        "password_env": "SMTP_PASSWORD",
        "sender": "assetflow@example.com",
        "to": ["oncall@example.com", "lead@example.com"],
        "timeout": 5,
    }
    return destination(**{**base, **settings})


def received_mail(server: SMTPServer) -> EmailMessage:
    [envelope] = server.envelopes
    assert envelope.mail_from == "assetflow@example.com"
    assert envelope.rcpt_tos == ["oncall@example.com", "lead@example.com"]
    assert isinstance(envelope.content, bytes)
    mail = message_from_bytes(envelope.content, policy=policy.default)
    assert isinstance(mail, EmailMessage)
    return mail


def test_email_over_starttls_with_login(
    smtp_server: SMTPServer, certificates: TLSCertificates
) -> None:
    dest = mail_destination(smtp_server)
    delivery = sent(dest, SMTP_ENV, tls_context=certificates.client_context())
    assert delivery.outcome == "sent"
    assert delivery.detail == "SMTP 250 Message accepted for delivery"
    mail = received_mail(smtp_server)
    assert mail["Subject"] == "[assetflow] shop: clean_records failed (31 partitions)"
    assert mail["Date"] is not None
    assert mail["Message-ID"].endswith("@example.com>")
    assert [p.get_content_type() for p in mail.iter_parts()] == ["text/plain", "text/html"]


def test_email_over_implicit_tls(smtps_server: SMTPServer, certificates: TLSCertificates) -> None:
    dest = mail_destination(smtps_server, tls=True)
    delivery = sent(dest, SMTP_ENV, tls_context=certificates.client_context())
    assert (delivery.outcome, delivery.detail) == ("sent", "SMTP 250 Message accepted for delivery")
    assert received_mail(smtps_server)["X-Assetflow-Incident"] == "inc-3f2a"


def test_a_wrong_smtp_password_fails_with_the_servers_reply(
    smtp_server: SMTPServer, certificates: TLSCertificates
) -> None:
    environ = {"SMTP_USER": SMTP_USER, "SMTP_PASSWORD": "wrong-password-42"}
    delivery = sent(
        mail_destination(smtp_server), environ, tls_context=certificates.client_context()
    )
    assert delivery.outcome == "failed"
    assert delivery.detail == "SMTP 535 5.7.8 Authentication credentials invalid"
    assert "wrong-password-42" not in delivery.detail
    assert smtp_server.envelopes == []


def test_an_untrusted_smtp_certificate_fails(smtp_server: SMTPServer) -> None:
    """The system's CAs do not trust the test CA: the certificate does not verify, which is
    `failed`, not `retry`: it is a configuration problem (a private CA, a self-signed or
    mismatched certificate) that no later attempt fixes, and it is shown at once."""
    import ssl

    delivery = sent(
        mail_destination(smtp_server), SMTP_ENV, tls_context=ssl.create_default_context()
    )
    assert delivery.outcome == "failed"
    assert delivery.detail.startswith(
        f"127.0.0.1:{smtp_server.port}: the TLS certificate does not verify"
    )
    assert smtp_server.envelopes == []


def test_an_smtp_server_without_starttls_is_refused(certificates: TLSCertificates) -> None:
    from aiosmtpd.controller import Controller

    from tests.alerts.servers import _free_port, _Recorder

    port = _free_port()
    controller = Controller(_Recorder(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        dest = destination(kind="email", smtp_host="127.0.0.1", smtp_port=port, to=["a@b.c"])
        delivery = sent(dest, {}, tls_context=certificates.client_context())
    finally:
        controller.stop()
    assert delivery.outcome == "failed"
    assert delivery.detail.startswith(f"127.0.0.1:{port} does not offer STARTTLS")


def test_an_unreachable_smtp_host_is_retried() -> None:
    port = int(refused_url("/hook").split(":")[2].split("/")[0])
    dest = destination(kind="email", smtp_host="127.0.0.1", smtp_port=port, to=["a@b.c"])
    delivery = sent(dest, {})
    assert (delivery.outcome, delivery.detail) == ("retry", f"127.0.0.1:{port}: connection refused")


# -- command -------------------------------------------------------------------------------

RECORD = """
import json, os, sys
out = sys.argv[1]
data = {"stdin": json.loads(sys.stdin.read()),
        "env": {k: v for k, v in os.environ.items() if k.startswith(("ASSETFLOW_", "EXTRA"))},
        "argv": sys.argv[2:]}
open(out, "w").write(json.dumps(data))
"""


def test_command_gets_json_on_stdin_and_env(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    dest = destination(
        kind="command",
        command=[sys.executable, "-c", RECORD, str(out), "--team", "data"],
        env={"EXTRA_FLAG": "1"},
    )
    delivery = sent(dest, {"PATH": os.environ.get("PATH", "")})
    assert (delivery.outcome, delivery.detail) == ("sent", "exit 0")
    data = json.loads(out.read_text())
    assert data["stdin"] == webhook_body(MESSAGE)
    assert data["argv"] == ["--team", "data"]
    env = data["env"]
    assert env["EXTRA_FLAG"] == "1"
    assert env["ASSETFLOW_EVENT"] == "run_failed"
    assert env["ASSETFLOW_INCIDENT_ID"] == "inc-3f2a"
    assert env["ASSETFLOW_RUN_ID"] == "8ffd7a46"
    assert env["ASSETFLOW_ASSETS"] == "clean_records"
    assert env["ASSETFLOW_TITLE"] == "clean_records failed (31 partitions)"
    assert env["ASSETFLOW_PROJECT"] == "shop"


def test_command_exiting_non_zero_is_retried() -> None:
    script = (
        "import sys; sys.stdin.read(); print('pager down\\nmore', file=sys.stderr); sys.exit(3)"
    )
    delivery = sent(destination(kind="command", command=[sys.executable, "-c", script]), {})
    assert (delivery.outcome, delivery.detail) == ("retry", "exit 3: pager down")


def test_command_that_hangs_is_killed_at_its_timeout(tmp_path: Path) -> None:
    """The command starts a child that would outlive it: the whole group is killed."""
    started, marker = tmp_path / "child-started", tmp_path / "child-alive"
    child = tmp_path / "child.py"
    child.write_text(
        f"import time\nopen({str(started)!r}, 'w').close()\ntime.sleep(2)\n"
        f"open({str(marker)!r}, 'w').close()\n"
    )
    parent = tmp_path / "parent.py"
    parent.write_text(
        "import subprocess, sys, time\n"
        f"subprocess.Popen([sys.executable, {str(child)!r}])\n"
        "time.sleep(60)\n"
    )
    dest = destination(kind="command", command=[sys.executable, str(parent)], timeout=1.5)
    start = time.monotonic()
    delivery = sent(dest, {})
    took = time.monotonic() - start
    assert (delivery.outcome, delivery.detail) == ("retry", "timed out after 1.5 s (killed)")
    assert took < 4
    assert started.exists()  # the child ran, and was killed with its parent:
    time.sleep(max(0.0, 3 - took))
    assert not marker.exists()


def test_command_not_found_fails() -> None:
    dest = destination(kind="command", command=["no-such-notifier-xyz", "--team", "data"])
    delivery = sent(dest, {"PATH": os.environ.get("PATH", "")})
    assert (delivery.outcome, delivery.detail) == (
        "failed",
        "command not found: no-such-notifier-xyz",
    )


class _Answering:
    """An aiosmtpd handler that answers RCPT or DATA with a given reply."""

    def __init__(self, rcpt: str = "250 OK", data: str = "250 OK") -> None:
        self.rcpt, self.data = rcpt, data

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if self.rcpt.startswith("250"):
            envelope.rcpt_tos.append(address)
        return self.rcpt

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return self.data


@pytest.mark.parametrize(
    ("handler", "outcome", "detail"),
    [
        (_Answering(data="451 4.3.0 Try again later"), "retry", "SMTP 451 4.3.0 Try again later"),
        (
            _Answering(data="554 5.7.1 Message rejected"),
            "failed",
            "SMTP 554 5.7.1 Message rejected",
        ),
        (_Answering(rcpt="450 4.2.1 Mailbox busy"), "retry", "SMTP 450 4.2.1 Mailbox busy"),
        (_Answering(rcpt="550 5.1.1 No such user"), "failed", "refused every recipient"),
    ],
)
def test_smtp_replies_are_classified(handler: _Answering, outcome: str, detail: str) -> None:
    from aiosmtpd.controller import Controller

    from tests.alerts.servers import _free_port

    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        dest = destination(
            kind="email", smtp_host="127.0.0.1", smtp_port=port, starttls=False, to=["a@b.c"]
        )
        delivery = sent(dest, {})
    finally:
        controller.stop()
    assert delivery.outcome == outcome
    assert delivery.detail.endswith(detail)

"""Sending one alert message once to one destination, and what its endpoint answered.

`send` never raises for a delivery problem: it returns a `Delivery` whose outcome
tells the outbox what to do next.

- ``sent``: the endpoint took it (HTTP 2xx, SMTP accepted it, the command exited 0).
- ``retry``: worth another attempt later: HTTP 5xx, 408 and 429, timeouts, a refused
  or reset connection, a failed DNS lookup, an SMTP 4xx reply or a dropped SMTP
  connection, a command that exited non-zero or was killed at its timeout.
- ``failed``: retrying will not help until someone changes something: other HTTP
  4xx answers and redirects (not followed, so that a signed body never goes to
  another address), SMTP 5xx replies and a refused login (535), a TLS certificate
  that does not verify, a command that is not found or not executable.
- ``undeliverable``: a secret's environment variable is missing or empty, or holds
  no http(s) URL; nothing was attempted.

A `detail` says what the endpoint answered ("HTTP 503 Service Unavailable: <first
200 characters of the body>", "timed out after 10 s", "SMTP 535 5.7.8 ...", "exit 3:
<first line of stderr>") and never holds a secret: every secret value read for the
attempt (a URL from url_env, the HMAC key, headers_env values, the SMTP user and
password) is replaced by ``***`` wherever it could appear.

Webhook signatures: when `secret_env` is set, the request carries
``X-Assetflow-Timestamp: <unix seconds>`` and ``X-Assetflow-Signature:
sha256=<hex>``, the HMAC-SHA256 of ``<timestamp>.<body>`` (the timestamp header's
text, a dot, then the exact body bytes) under the key read from `secret_env`. The
receiver computes the same HMAC over the timestamp header and the raw body it
received with the same key, compares with ``hmac.compare_digest``, and refuses a
timestamp too far from its clock (a replay).

TLS: HTTPS and SMTP verify the server's certificate with
``ssl.create_default_context()`` (the system's CAs; OpenSSL also honours the
``SSL_CERT_FILE`` variable of the sending process). ``send(...,
tls_context=context)`` uses another context instead, e.g. one that trusts a private
CA; the tests pass one that trusts their own.
"""

from __future__ import annotations

import contextlib
import email.policy
import hashlib
import hmac
import http.client
import json
import os
import signal
import smtplib
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, make_msgid
from typing import Literal
from urllib.parse import urlsplit

from assetflow import __version__
from assetflow.alerts.message import (
    AlertMessage,
    command_input,
    email_message,
    slack_payload,
    webhook_bytes,
)
from assetflow.alerts.settings import (
    CommandSettings,
    Destination,
    EmailSettings,
    MissingSecret,
    SlackSettings,
    WebhookSettings,
    is_http_url,
    resolve_secret,
)
from assetflow.urls import REDACTED  # what a detail shows in place of a secret

Outcome = Literal["sent", "retry", "failed", "undeliverable"]

#: How much of an error response's body a detail quotes.
BODY_QUOTE = 200
#: What every HTTP request says it is.
USER_AGENT = f"assetflow/{__version__}"


@dataclass(frozen=True, slots=True)
class Delivery:
    """The outcome of one attempt to send one message, what the endpoint said, and how long."""

    outcome: Outcome
    detail: str
    duration_s: float


class _Attempt(Exception):
    """Ends an attempt early with its outcome (internal: `send` turns it into a Delivery)."""

    def __init__(self, outcome: Outcome, detail: str) -> None:
        super().__init__(detail)
        self.outcome: Outcome = outcome
        self.detail = detail


def send(
    destination: Destination,
    message: AlertMessage,
    environ: Mapping[str, str],
    *,
    tls_context: ssl.SSLContext | None = None,
) -> Delivery:
    """Send one message to one destination, once, and say what happened.

    Args:
        destination: Where to send it.
        message: What to send.
        environ: Where secrets are read from (``os.environ`` normally); a command
            destination also runs with it as its environment.
        tls_context: The TLS context for HTTPS and SMTP; None for
            ``ssl.create_default_context()``.

    Returns:
        The delivery: outcome, what the endpoint answered (with every secret
        replaced by ``***``), and how long the attempt took.
    """
    start = time.monotonic()
    secrets: list[str] = []
    try:
        if isinstance(destination, SlackSettings | WebhookSettings):
            outcome, detail = _send_http(destination, message, environ, secrets, tls_context)
        elif isinstance(destination, EmailSettings):
            outcome, detail = _send_email(destination, message, environ, secrets, tls_context)
        else:
            outcome, detail = _send_command(destination, message, environ)
    except MissingSecret as error:
        outcome, detail = "undeliverable", error.detail
    except _Attempt as attempt:
        outcome, detail = attempt.outcome, attempt.detail
    return Delivery(outcome, redact(detail, secrets), time.monotonic() - start)


def redact(text: str, secrets: list[str]) -> str:
    """A text with every secret, and a URL secret's address, path and query, as ``***``."""
    hidden: set[str] = set()
    for secret in secrets:
        if not secret:
            continue
        hidden.add(secret)
        if is_http_url(secret):
            parts = urlsplit(secret)
            hidden.update(p for p in (parts.netloc, parts.path, parts.query) if len(p) > 1)
            if parts.password:
                hidden.add(parts.password)
    for secret in sorted(hidden, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


def _secret(
    variable: str, environ: Mapping[str, str], dest: Destination, setting: str, secrets: list[str]
) -> str:
    value = resolve_secret(variable, environ, dest, setting)
    secrets.append(value)
    return value


# -- HTTP: slack and webhook ---------------------------------------------------------------


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Refuse redirects: a signed alert goes to the configured address or nowhere."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def _send_http(
    dest: SlackSettings | WebhookSettings,
    msg: AlertMessage,
    environ: Mapping[str, str],
    secrets: list[str],
    tls_context: ssl.SSLContext | None,
) -> tuple[Outcome, str]:
    if dest.url_env is not None:
        url = _secret(dest.url_env, environ, dest, "url_env", secrets)
        if not is_http_url(url):
            return "undeliverable", f"{dest.url_env} does not hold an http:// or https:// URL"
    else:
        assert dest.url is not None
        url = dest.url
        if isinstance(dest, SlackSettings):
            secrets.append(url)  # a Slack webhook URL is its own credential
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
    if isinstance(dest, SlackSettings):
        payload = slack_payload(msg)
        if dest.channel is not None:
            payload["channel"] = dest.channel
        if dest.username is not None:
            payload["username"] = dest.username
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    else:
        body = webhook_bytes(msg)
        headers.update(dest.headers)
        for header, variable in dest.headers_env.items():
            headers[header] = _secret(variable, environ, dest, f"headers_env.{header}", secrets)
        if dest.secret_env is not None:
            key = _secret(dest.secret_env, environ, dest, "secret_env", secrets)
            headers.update(signature_headers(body, key, int(time.time())))
    return _post(url, body, headers, dest.timeout, tls_context)


def signature_headers(body: bytes, key: str, timestamp: int) -> dict[str, str]:
    """The webhook signature headers for a body: the HMAC-SHA256 of the timestamp, a
    dot and the body's exact bytes, so that neither can be changed (nor an old request
    replayed under a new timestamp) without the key."""
    signed = str(timestamp).encode() + b"." + body
    digest = hmac.new(key.encode(), signed, hashlib.sha256).hexdigest()
    return {"X-Assetflow-Timestamp": str(timestamp), "X-Assetflow-Signature": f"sha256={digest}"}


def _post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    timeout: float,
    tls_context: ssl.SSLContext | None,
) -> tuple[Outcome, str]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    context = tls_context if tls_context is not None else ssl.create_default_context()
    opener = urllib.request.build_opener(
        _NoRedirects(), urllib.request.HTTPSHandler(context=context)
    )
    try:
        with opener.open(request, timeout=timeout) as response:
            response.read(BODY_QUOTE)
            return "sent", f"HTTP {response.status} {_reason(response.status, response.reason)}"
    except urllib.error.HTTPError as error:
        return _http_answer(error)
    except (http.client.InvalidURL, ValueError) as error:
        return "failed", f"the URL is not valid: {error}"
    except urllib.error.URLError as error:
        reason = error.reason
        if isinstance(reason, BaseException):
            return _network_problem(reason, timeout, urlsplit(url).hostname or "")
        return "retry", f"could not connect: {reason}"
    except (OSError, http.client.HTTPException) as error:
        return _network_problem(error, timeout, urlsplit(url).hostname or "")


def _http_answer(error: urllib.error.HTTPError) -> tuple[Outcome, str]:
    try:
        text = error.read(BODY_QUOTE * 4).decode("utf-8", "replace")
    except (OSError, http.client.HTTPException):
        text = ""
    text = " ".join(text.split())[:BODY_QUOTE]
    detail = f"HTTP {error.code} {_reason(error.code, error.reason)}"
    if 300 <= error.code < 400:
        where = error.headers.get("Location", "") if error.headers else ""
        return "failed", (
            f"{detail}: redirects are not followed, point the destination at the final "
            f"address{' (' + where + ')' if where else ''}"
        )
    detail += f": {text}" if text else ""
    if error.code >= 500 or error.code in (408, 429):
        return "retry", detail
    return "failed", detail


def _reason(code: int, reason: object) -> str:
    if isinstance(reason, str) and reason:
        return reason
    try:
        return http.HTTPStatus(code).phrase
    except ValueError:
        return ""


def _network_problem(error: BaseException, timeout: float, host: str) -> tuple[Outcome, str]:
    """A problem below HTTP as a delivery: TLS that does not verify fails, the rest retry."""
    if isinstance(error, ssl.SSLCertVerificationError):
        return "failed", f"the TLS certificate does not verify: {error.verify_message}"
    if isinstance(error, TimeoutError | socket.timeout):
        return "retry", f"timed out after {timeout:g} s"
    if isinstance(error, ConnectionRefusedError):
        return "retry", "connection refused"
    if isinstance(error, ConnectionResetError | http.client.RemoteDisconnected):
        return "retry", "connection reset"
    if isinstance(error, socket.gaierror):
        return "retry", f"DNS lookup of {host} failed: {error.strerror}"
    return "retry", f"{type(error).__name__}: {error}"


# -- email ---------------------------------------------------------------------------------


def _send_email(
    dest: EmailSettings,
    msg: AlertMessage,
    environ: Mapping[str, str],
    secrets: list[str],
    tls_context: ssl.SSLContext | None,
) -> tuple[Outcome, str]:
    login = None
    if dest.user_env is not None and dest.password_env is not None:
        user = _secret(dest.user_env, environ, dest, "user_env", secrets)
        password = _secret(dest.password_env, environ, dest, "password_env", secrets)
        login = (user, password)
    mail = email_message(msg, dest.sender, dest.to)
    mail["Date"] = format_datetime(datetime.now(UTC))
    mail["Message-ID"] = make_msgid("assetflow", domain=dest.sender.rpartition("@")[2] or None)
    context = tls_context if tls_context is not None else ssl.create_default_context()
    server = f"{dest.smtp_host}:{dest.port}"
    try:
        smtp: smtplib.SMTP
        if dest.tls:
            smtp = smtplib.SMTP_SSL(
                dest.smtp_host, dest.port, timeout=dest.timeout, context=context
            )
        else:
            smtp = smtplib.SMTP(dest.smtp_host, dest.port, timeout=dest.timeout)
        with smtp:
            smtp.ehlo()
            if dest.starttls:
                if not smtp.has_extn("starttls"):
                    return "failed", (
                        f"{server} does not offer STARTTLS: set starttls = false only if the "
                        "network to it is trusted, or tls = true if it speaks implicit TLS"
                    )
                _reply(smtp.starttls(context=context), server)
                smtp.ehlo()
            if login is not None:
                smtp.login(*login)
            _reply(smtp.mail(dest.sender), server)
            accepted = [to for to in dest.to if _recipient(smtp, to, server)]
            if not accepted:
                raise _Attempt("failed", f"{server} refused every recipient")
            # CRLF line ends, as SMTP requires (smtplib sends bytes as they are).
            code, reply = smtp.data(mail.as_bytes(policy=email.policy.SMTP))
            _reply((code, reply), server)
        refused = len(dest.to) - len(accepted)
        tail = f" ({refused} recipient(s) refused)" if refused else ""
        return "sent", f"SMTP {code} {_text(reply)}{tail}"
    except smtplib.SMTPResponseException as error:
        return _smtp_answer(error.smtp_code, error.smtp_error)
    except smtplib.SMTPNotSupportedError as error:
        return "failed", f"{server}: {error}"
    except smtplib.SMTPServerDisconnected as error:
        return "retry", f"{server} closed the connection: {error}"
    except smtplib.SMTPException as error:
        return "retry", f"{server}: {type(error).__name__}: {error}"
    except OSError as error:
        outcome, detail = _network_problem(error, dest.timeout, dest.smtp_host)
        return outcome, f"{server}: {detail}"


def _recipient(smtp: smtplib.SMTP, to: str, server: str) -> bool:
    """Whether the server takes one recipient; a 4xx refusal ends the attempt for a retry."""
    code, reply = smtp.rcpt(to)
    if 200 <= code < 300:
        return True
    if 400 <= code < 500:
        raise _Attempt("retry", f"SMTP {code} {_text(reply)}")
    return False


def _reply(answer: tuple[int, bytes], server: str) -> None:
    code, reply = answer
    if not 200 <= code < 400:
        raise smtplib.SMTPResponseException(code, reply)


def _smtp_answer(code: int, reply: bytes | str) -> tuple[Outcome, str]:
    detail = f"SMTP {code} {_text(reply)}"
    if code == 535 or code >= 500:
        return "failed", detail
    return "retry", detail


def _text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return " ".join(text.split())[:BODY_QUOTE]


# -- command -------------------------------------------------------------------------------


def _send_command(
    dest: CommandSettings, msg: AlertMessage, environ: Mapping[str, str]
) -> tuple[Outcome, str]:
    stdin, variables = command_input(msg)
    env = {**environ, **dest.env, **variables}
    try:
        process = subprocess.Popen(
            dest.command,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=True,
        )
    except FileNotFoundError:
        return "failed", f"command not found: {dest.command[0]}"
    except PermissionError:
        return "failed", f"command not executable: {dest.command[0]}"
    except OSError as error:
        return "failed", f"could not start {dest.command[0]}: {error.strerror or error}"
    try:
        _, stderr = process.communicate(stdin.encode(), timeout=dest.timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        return "retry", f"timed out after {dest.timeout:g} s (killed)"
    if process.returncode == 0:
        return "sent", "exit 0"
    lines = stderr.decode("utf-8", "replace").strip().splitlines()
    first = lines[0].strip()[:BODY_QUOTE] if lines else ""
    code = process.returncode
    what = f"killed by signal {-code}" if code < 0 else f"exit {code}"
    return "retry", f"{what}: {first}" if first else what


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """Kill a command and everything it started (its own process group), then reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    try:
        process.communicate(timeout=5)
    except subprocess.TimeoutExpired:  # a descendant left the group and holds the pipe
        process.kill()
        process.wait()

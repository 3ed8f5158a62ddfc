"""Sending the lineage outbox: claim due events, emit each through the openlineage-python
client's transport, remove what was taken, and postpone the rest on a failure.

Who sends: a run's own sender thread while it runs (woken after each commit that
queued events, given at most the transport's timeout once the run ends), the next
run on the project, the scheduler's loop, and ``assetflow openlineage send``. A
failed attempt (a refused connection, a timeout, an HTTP error) stops the round
and postpones every pending event with backoff (``next_attempt_at``); nothing is
dropped, and events keep the order they were queued in.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from assetflow.store.lineage import lineage_outbox

if TYPE_CHECKING:
    from openlineage.client.transport.transport import Transport

    from assetflow.openlineage.settings import LineageSettings
    from assetflow.store import MetadataStore

logger = logging.getLogger(__name__)

#: Backoff of the outbox after a failed attempt: 1 s doubling, at most 10 minutes.
FIRST_DELAY = timedelta(seconds=1)
LONGEST_DELAY = timedelta(minutes=10)
#: How long a claim outlives one request's timeout before another sender may take over.
CLAIM_MARGIN = timedelta(seconds=60)
BATCH = 50
#: How long the sender lets events gather after a wake before it claims them (while the
#: run goes on): fewer, larger claims.
GATHER_S = 0.05


@dataclass
class SendReport:
    """What one round of sending did."""

    sent: int = 0
    #: the error of the attempt that failed (the round stopped there), or None
    error: str | None = None
    retry_at: datetime | None = None
    #: events still in the outbox when the round ended
    pending: int = 0


def build_transport(settings: LineageSettings) -> Transport:
    """The openlineage-python transport the settings name; HTTP without the client's own
    retries (a failure goes back to the outbox instead of blocking the sender)."""
    if settings.transport == "http":
        from openlineage.client.transport.http import (
            ApiKeyTokenProvider,
            HttpConfig,
            HttpTransport,
            TokenProvider,
        )

        assert settings.url is not None
        auth = (
            ApiKeyTokenProvider({"apiKey": settings.api_key})
            if settings.api_key
            else TokenProvider({})
        )
        return HttpTransport(
            HttpConfig(
                url=settings.url,
                endpoint=settings.endpoint,
                timeout=settings.timeout,
                auth=auth,
                retry={"total": 0, "connect": 0, "read": 0, "status_forcelist": []},
            )
        )
    if settings.transport == "file":
        from openlineage.client.transport.file import FileConfig, FileTransport

        assert settings.path is not None
        return FileTransport(FileConfig(log_file_path=str(settings.path), append=True))
    from openlineage.client.transport.console import ConsoleConfig, ConsoleTransport

    return ConsoleTransport(ConsoleConfig())


def claimer_id() -> str:
    """A unique name for this sender's claims: host, pid and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def describe(error: BaseException) -> str:
    """A one-line reason, without a URL's credentials or a traceback."""
    response = getattr(error, "response", None)
    status = getattr(response, "status_code", None)
    if status is not None:
        return f"HTTP {status} {getattr(response, 'reason', '') or ''}".strip()
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    if "Connection refused" in text or "NewConnectionError" in text:
        return "connection refused"
    if "timed out" in text.lower():
        return "timed out"
    return text[:300]


def backoff(attempts: int) -> timedelta:
    """How long the outbox waits after the `attempts`-th failed attempt in a row."""
    delay: timedelta = FIRST_DELAY * (2 ** min(max(attempts - 1, 0), 20))
    return min(delay, LONGEST_DELAY)


def send_due(
    store: MetadataStore,
    transport: Transport,
    settings: LineageSettings,
    *,
    now: Callable[[], datetime] | None = None,
    budget_s: float = 10.0,
    claimer: str | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    force: bool = False,
) -> SendReport:
    """Send what is due in the outbox, oldest first, for at most `budget_s` seconds (a
    request that has begun ends within the transport's timeout); `force` sends what a
    failure postponed without waiting for its retry time."""
    now = now or (lambda: datetime.now(UTC))
    claimer = claimer or claimer_id()
    outbox = lineage_outbox(store)
    report = SendReport()
    deadline = time.monotonic() + budget_s
    claim_for = timedelta(seconds=settings.timeout) * BATCH + CLAIM_MARGIN
    while time.monotonic() < deadline and not should_stop():
        at = now()
        events = outbox.claim(claimer, at, at + claim_for, BATCH, force=force)
        if not events:
            break
        done: list[int] = []
        for event in events:
            if time.monotonic() >= deadline or should_stop():
                break
            try:
                transport.emit(_as_event(event.payload))
            except Exception as error:  # any failure keeps the event for later
                outbox.sent(claimer, done)
                report.sent += len(done)
                report.error = describe(error)
                report.retry_at = now() + backoff(event.attempts + 1)
                outbox.retry(claimer, event.event_id, report.error, now(), report.retry_at)
                report.pending = outbox.count()
                return report
            done.append(event.event_id)
        outbox.sent(claimer, done)
        report.sent += len(done)
        if len(done) < len(events):
            # Out of time: what this claim still holds is released for the next sender.
            outbox.retry(claimer, -1, "", now(), now())
            break
    report.pending = outbox.count()
    return report


def _as_event(payload: str) -> Any:
    """A stored event as the transports take it: they serialise it again with the client's
    Serde, which keeps a mapping as it is."""
    from assetflow.openlineage.events import as_dict

    return dict(as_dict(payload))


class SenderThread:
    """Sends the outbox from a thread while a run goes on; `wake()` after each commit that
    queued events; `finish()` gives it at most the transport's timeout to end."""

    def __init__(self, store: MetadataStore, settings: LineageSettings) -> None:
        self._store = store
        self._settings = settings
        self._transport = build_transport(settings)
        self._claimer = claimer_id()
        self._wake = threading.Event()
        self._stop = threading.Event()
        #: set when the run ends: no more gathering
        self._hurry = threading.Event()
        self._done = threading.Condition()
        self._in_round = False
        self._rounds = 0
        self._thread: threading.Thread | None = None
        self.report = SendReport()
        #: when the outbox may be tried again after a failure in this run
        self._quiet_until = 0.0

    def wake(self) -> None:
        with self._done:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="assetflow-lineage", daemon=True
                )
                self._thread.start()
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait()
            self._hurry.wait(GATHER_S)
            self._wake.clear()
            if self._stop.is_set():
                break
            with self._done:
                self._in_round = True
            try:
                self._round()
            finally:
                with self._done:
                    self._in_round = False
                    self._rounds += 1
                    self._done.notify_all()

    def _round(self) -> None:
        if time.monotonic() < self._quiet_until:
            return
        try:
            report = send_due(
                self._store,
                self._transport,
                self._settings,
                claimer=self._claimer,
                budget_s=3600.0,
                should_stop=self._stop.is_set,
            )
        except Exception as error:  # the store closed under us, or a bug: never the run's
            logger.debug("sending lineage events failed", exc_info=True)
            self.report.error = describe(error)
            return
        self.report.sent += report.sent
        self.report.pending = report.pending
        if report.error is not None:
            self.report.error, self.report.retry_at = report.error, report.retry_at
            if report.retry_at is not None:
                wait = (report.retry_at - datetime.now(UTC)).total_seconds()
                self._quiet_until = time.monotonic() + max(wait, 0.0)
        else:
            self.report.error = self.report.retry_at = None

    def finish(self) -> SendReport:
        """Send what is left, for at most the transport's timeout (plus a little), then stop
        the thread; what is not sent stays in the outbox."""
        with self._done:
            thread = self._thread
            # A round under way may have claimed before the last events were queued.
            target = self._rounds + (2 if self._in_round else 1)
        self._hurry.set()
        if thread is None:
            self._round()
        else:
            deadline = time.monotonic() + self._settings.timeout + 0.5
            self._wake.set()
            with self._done:
                while self._rounds < target and thread.is_alive():
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    if self._rounds == target - 1 and not self._in_round:
                        self._wake.set()
                    self._done.wait(min(left, 0.05))
            self._stop.set()
            self._wake.set()
            thread.join(max(deadline - time.monotonic(), 0.0))
        try:
            self.report.pending = lineage_outbox(self._store).count()
        except Exception:  # the store is closed: the count is unknown
            logger.debug("counting lineage events failed", exc_info=True)
        return self.report

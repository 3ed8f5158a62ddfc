"""Log capture: what each step attempt writes to stdout, stderr and the `assetflow.asset` loggers.

For the length of a run, `capturing_run` puts a proxy on ``sys.stdout`` and
``sys.stderr`` and a handler on the ``assetflow.asset`` logger. Both route by
thread: a thread inside `StepLog.capturing` writes into that step attempt's
log; any other thread writes to the original streams, unchanged. So steps
running on several threads at once keep their output apart.

``assetflow.asset`` is set to INFO for the run (when it would drop INFO), so
that ``context.log.info`` is captured. Records of any other logger (the
user's own ``logging.getLogger(__name__)``) that reach the root logger, at
the levels the logging configuration lets through (WARNING by default), are
captured too when a step's thread emits them. Other handlers see a record only when
they would have without that, so what is printed elsewhere does not change.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

#: The logger whose records (and its children's: `assetflow.asset.<name>`) are captured.
ASSET_LOGGER = "assetflow.asset"
#: At most this many characters of one attempt's output are kept: the start and the end.
MAX_CHARS = 1024 * 1024

_FORMAT = "%(levelname)s %(name)s: %(message)s"
_current = threading.local()
_install_lock = threading.Lock()
_installs = 0
_restore: list[Any] = []


class StepLog:
    """The text one step attempt wrote, cut in the middle when longer than ``limit``."""

    def __init__(self, limit: int = MAX_CHARS) -> None:
        self._half = max(limit // 2, 1)
        self._head: list[str] = []
        self._head_size = 0
        self._tail: deque[str] = deque()
        self._tail_size = 0
        self._dropped = 0
        self._lock = threading.Lock()

    def write(self, text: str) -> None:
        with self._lock:
            if self._head_size < self._half:
                kept = text[: self._half - self._head_size]
                self._head.append(kept)
                self._head_size += len(kept)
                text = text[len(kept) :]
            if text:
                self._tail.append(text)
                self._tail_size += len(text)
                self._trim_tail()

    def _trim_tail(self) -> None:
        while self._tail_size > self._half:
            excess = self._tail_size - self._half
            first = self._tail[0]
            if len(first) <= excess:
                self._tail.popleft()
                cut = len(first)
            else:
                self._tail[0] = first[excess:]
                cut = excess
            self._tail_size -= cut
            self._dropped += cut

    def text(self) -> str:
        """Everything written, or its start and end around a marker saying how much is left out."""
        with self._lock:
            marker = (
                f"\n[... {self._dropped} characters of output left out ...]\n"
                if self._dropped
                else ""
            )
            return "".join(self._head) + marker + "".join(self._tail)

    @contextmanager
    def capturing(self) -> Iterator[StepLog]:
        """Send this thread's output into this log while inside (nests; restores the outer)."""
        outer = getattr(_current, "log", None)
        _current.log = self
        try:
            yield self
        finally:
            _current.log = outer


def _current_log() -> StepLog | None:
    return getattr(_current, "log", None)


class _StreamProxy:
    """Stands in for sys.stdout or sys.stderr: a capturing thread's writes go to its log."""

    def __init__(self, original: TextIO) -> None:
        self._original = original

    def write(self, text: str) -> int:
        log = _current_log()
        if log is None:
            return self._original.write(text)
        log.write(text)
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if _current_log() is None:
            self._original.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._original, name)


class _CaptureHandler(logging.Handler):
    """Writes a capturing thread's `assetflow.asset` records into its log, then passes each
    record on to the handlers above as if the capture were not there."""

    def __init__(self, logger: logging.Logger, level: int, propagate: bool) -> None:
        super().__init__(logging.NOTSET)
        self.setFormatter(logging.Formatter(_FORMAT))
        self._logger = logger
        self._level = level  # what `logger`'s level was before the run
        self._propagate = propagate

    def emit(self, record: logging.LogRecord) -> None:
        log = _current_log()
        if log is not None:
            try:
                log.write(self.format(record) + "\n")
            except Exception:  # a bad format string must not fail the step
                self.handleError(record)
        if self._propagate and record.levelno >= self._level_before(record.name):
            # Not captured twice: the handlers above write to the real streams.
            _current.log = None
            try:
                parent = self._logger.parent
                if parent is not None:
                    parent.callHandlers(record)
            finally:
                _current.log = log

    def _level_before(self, name: str) -> int:
        """The effective level the record's logger had before the run changed ours."""
        logger: logging.Logger | None = logging.getLogger(name)
        while logger is not None:
            if logger is self._logger:
                return self._level
            if logger.level:
                return logger.level
            logger = logger.parent
        return self._level


class _RootCapture(logging.Handler):
    """Writes the records of other loggers that a capturing thread emits into its log;
    the root logger's other handlers still get them as before."""

    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.setFormatter(logging.Formatter(_FORMAT))

    def emit(self, record: logging.LogRecord) -> None:
        log = _current_log()
        if log is None or record.name.startswith("assetflow"):
            return
        try:
            log.write(self.format(record) + "\n")
        except Exception:
            self.handleError(record)


@contextmanager
def capturing_run() -> Iterator[None]:
    """Install the stream proxies and the log handler for a run; restore everything after.

    Runs in several threads at once share one installation; the last to end restores
    exactly the streams and logger settings that were there when the first began.
    """
    _install()
    try:
        yield
    finally:
        _uninstall()


def _install() -> None:
    global _installs
    with _install_lock:
        _installs += 1
        if _installs > 1:
            return
        logger = logging.getLogger(ASSET_LOGGER)
        level, propagate = logger.getEffectiveLevel(), logger.propagate
        handler = _CaptureHandler(logger, level, propagate)
        root = _RootCapture()
        _restore[:] = [sys.stdout, sys.stderr, logger.level, propagate, handler, root]
        logging.getLogger().addHandler(root)
        sys.stdout = _StreamProxy(sys.stdout)
        sys.stderr = _StreamProxy(sys.stderr)
        logger.addHandler(handler)
        logger.propagate = False  # the handler passes on what would have propagated
        if level > logging.INFO:
            logger.setLevel(logging.INFO)


def _uninstall() -> None:
    global _installs
    with _install_lock:
        _installs -= 1
        if _installs > 0:
            return
        stdout, stderr, level, propagate, handler, root = _restore
        logging.getLogger().removeHandler(root)
        _restore.clear()
        sys.stdout, sys.stderr = stdout, stderr
        logger = logging.getLogger(ASSET_LOGGER)
        logger.removeHandler(handler)
        logger.propagate = propagate
        logger.setLevel(level)

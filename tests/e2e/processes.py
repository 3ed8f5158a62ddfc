"""Helpers for end-to-end tests that run assetflow as real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def assetflow(root: Path, *args: str) -> list[str]:
    """The command line of `assetflow --project ROOT ARGS...` in this interpreter."""
    return [sys.executable, "-m", "assetflow.cli", "--project", str(root), *args]


def imported_by(
    args: list[str], names: Iterable[str]
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run `assetflow ARGS...` in a fresh interpreter: how it ended, and which of the
    modules `names` it had imported by then (start-up costs what is imported)."""
    code = (
        "import json, sys\n"
        "from assetflow.cli import invoke\n"
        f"sys.argv = ['assetflow', *{args!r}]\n"
        "status = invoke()\n"
        f"print(json.dumps([m for m in {sorted(names)!r} if m in sys.modules]), file=sys.stderr)\n"
        "sys.exit(status)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    lines = done.stderr.strip().splitlines()
    imported = json.loads(lines[-1]) if lines and lines[-1].startswith("[") else []
    return done, imported


def wait_for(path: Path, timeout: float = 30, process: subprocess.Popen[Any] | None = None) -> None:
    """Wait until a file appears (an asset touches it to say it has started); with
    `process`, fail at once if that process ends first."""
    wait_until(path.exists, f"{path.name} to appear", timeout, process)


def wait_until(
    done: Callable[[], bool],
    what: str,
    timeout: float = 30,
    process: subprocess.Popen[Any] | None = None,
) -> None:
    """Wait until `done()` is true (`what` says what for, in a failure); with `process`,
    fail at once if that process ends first."""
    deadline = time.monotonic() + timeout
    while not done():
        assert process is None or process.poll() is None, (
            f"the process ended while waiting for {what}"
        )
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.02)


class Lines:
    """A process's output, read on a thread, with a wait for an event's line."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._process = process
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            self.lines.append(line)

    def events(self, event: str) -> list[str]:
        """The lines of one event (`TIME EVENT key=value ...`)."""
        return [line for line in list(self.lines) if line.split()[1:2] == [event.strip()]]

    def wait_for(self, event: str, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.events(event)
            if found:
                return found[0]
            time.sleep(0.05)
        raise AssertionError(f"no {event!r} line in: {''.join(self.lines)}")

    def text(self) -> str:
        self._thread.join(5)
        return "".join(self.lines)


@contextmanager
def scheduler(root: Path) -> Iterator[tuple[subprocess.Popen[str], Lines]]:
    """A real `assetflow scheduler` process, killed if a test leaves it running."""
    process = subprocess.Popen(
        assetflow(root, "scheduler"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        yield process, Lines(process)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)

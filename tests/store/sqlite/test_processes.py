"""Several real processes sharing one SQLite store, as the CLI, scheduler and UI do."""

from __future__ import annotations

import logging
import multiprocessing
import time
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import NamedTuple

from assetflow.errors import StoreError
from assetflow.store import EventKind, RunStatus, SqliteStore, open_store
from tests.store.builders import at, event, materialization, run
from tests.store.racing import PROCESS_TIMEOUT_S, race

WRITES_PER_PROCESS = 300
WRITERS = 2


class Outcome(NamedTuple):
    """What one writer process reports: its errors, what the store logged, when it wrote."""

    worker: int
    errors: list[str]
    logged: list[str]
    began: float
    ended: float


class _Log(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _write_many(
    path: str, worker: int, start: Barrier, results: multiprocessing.Queue[Outcome]
) -> None:
    """Open the store with the other processes, then record WRITES_PER_PROCESS steps at once.

    ``start`` is a barrier passed twice: before opening (so that the processes race
    to create the file) and after (so that their writes overlap).
    """
    log = _Log()
    store_logger = logging.getLogger("assetflow.store.sqlite")
    store_logger.addHandler(log)
    store_logger.setLevel(logging.DEBUG)
    errors: list[str] = []
    run_id = f"worker-{worker}"
    began = time.time()
    try:
        start.wait(PROCESS_TIMEOUT_S)
        with SqliteStore(path) as store:
            # Everyone has opened the store: now all write at once.
            start.wait(PROCESS_TIMEOUT_S)
            began = time.time()
            store.create_run(run(run_id, started=worker))
            for number in range(WRITES_PER_PROCESS):
                try:
                    store.record(
                        [materialization(f"w{worker}", str(number), number, run_id=run_id)],
                        [event(EventKind.MATERIALIZED, f"w{worker}", str(number), run_id=run_id)],
                    )
                except StoreError as error:
                    errors.append(error.message)
            store.finish_run(run_id, RunStatus.SUCCESS, at(WRITES_PER_PROCESS))
    except StoreError as error:
        errors.append(error.message)
    results.put(Outcome(worker, errors, log.messages, began, time.time()))


def test_processes_write_at_once_without_lock_errors(tmp_path: Path) -> None:
    # The file does not exist yet: the writers also race to create and migrate it.
    path = tmp_path / ".assetflow" / "metadata.sqlite"
    outcomes = race(_write_many, path, WRITERS)
    # Busy retries may happen (two processes switching a new file to WAL at once);
    # they are logged, shown if this fails, and must never surface as errors.
    assert [o.errors for o in outcomes] == [[]] * WRITERS, [o.logged for o in outcomes]
    # The writers really overlapped in time.
    assert max(o.began for o in outcomes) < min(o.ended for o in outcomes)
    with open_store("sqlite", path) as store:
        for worker in range(WRITERS):
            finished = store.get_run(f"worker-{worker}")
            assert finished is not None
            assert finished.status == RunStatus.SUCCESS
            assert len(store.run_events(f"worker-{worker}")) == WRITES_PER_PROCESS
        assert len(store.latest_materializations()) == WRITERS * WRITES_PER_PROCESS


def test_a_reader_process_reads_while_writers_write(tmp_path: Path) -> None:
    path = tmp_path / "metadata.sqlite"
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(WRITERS + 1)
    results: multiprocessing.Queue[Outcome] = context.Queue()
    with open_store("sqlite", path) as store:
        writers = [
            context.Process(target=_write_many, args=(str(path), worker, start, results))
            for worker in range(WRITERS)
        ]
        for writer in writers:
            writer.start()
        start.wait(PROCESS_TIMEOUT_S)
        start.wait(PROCESS_TIMEOUT_S)
        seen: list[int] = []
        while any(writer.is_alive() for writer in writers) and results.empty():
            seen.append(len(store.latest_materializations(["w0", "w1"])))
            store.list_runs()
        outcomes = sorted(results.get(timeout=PROCESS_TIMEOUT_S) for _ in writers)
        for writer in writers:
            writer.join(PROCESS_TIMEOUT_S)
        assert [o.errors for o in outcomes] == [[]] * WRITERS
        # The reader saw the writes progress, never going back.
        assert len(set(seen)) > 1
        assert seen == sorted(seen)
        assert len(store.latest_materializations()) == WRITERS * WRITES_PER_PROCESS

"""Log capture: each step attempt's stdout, stderr and asset log records, stored per step."""

from __future__ import annotations

import logging
import sys
import threading
from datetime import UTC, datetime

import pytest

from assetflow.api import load, materialize, open_project_store
from assetflow.clock import FixedClock
from assetflow.execution.logs import StepLog, capturing_run

T0 = datetime(2026, 3, 10, 9, tzinfo=UTC)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


def logs_of(root, run_id):
    with open_project_store(load(root)) as store:
        return store.step_logs(run_id)


TALKATIVE = """
    import logging
    import sys

    from assetflow import asset

    @asset
    def talker(context) -> dict:
        print("to stdout")
        print("to stderr", file=sys.stderr)
        context.log.info("an info record")
        logging.getLogger("assetflow.asset.x").warning("a warning record")
        logging.getLogger("somewhere.else").warning("not an asset logger")
        return {"ok": 1}

    @asset
    def quiet(talker: dict) -> dict:
        return talker
"""


def test_print_stderr_and_asset_logs_are_captured_per_step_and_stored(make_project, clock):
    root = make_project(TALKATIVE)
    result = materialize(project=root, clock=clock)
    assert result.success
    [stored] = logs_of(root, result.run_id)  # `quiet` wrote nothing: no record
    assert (stored.asset, stored.partition, stored.attempt) == ("talker", None, 1)
    assert stored.text.splitlines()[:4] == [
        "to stdout",
        "to stderr",
        "INFO assetflow.asset.talker: an info record",
        "WARNING assetflow.asset.x: a warning record",
    ]
    assert "an info record" not in stored.text.split("a warning record")[1]


def test_asset_logs_still_reach_the_handlers_they_reached_before(make_project, clock):
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    handler = Keep()
    root_logger = logging.getLogger()
    root_logger.addHandler(handler)
    try:
        assert materialize(project=make_project(TALKATIVE), clock=clock).success
    finally:
        root_logger.removeHandler(handler)
    # The INFO record is captured, not newly shown elsewhere; warnings pass as before.
    assert {r.getMessage() for r in seen} >= {"a warning record", "not an asset logger"}
    assert "an info record" not in {r.getMessage() for r in seen}


PARALLEL = """
    import time
    from pathlib import Path

    from assetflow import asset

    HERE = Path(__file__).parent

    def both_started(name: str) -> None:
        # Wait until the other step runs too (they are in separate worker processes).
        (HERE / f"{name}.started").touch()
        deadline = time.monotonic() + 10
        while len(list(HERE.glob("*.started"))) < 2:
            assert time.monotonic() < deadline, "the other step never started"
            time.sleep(0.005)

    def chatter(name: str) -> None:
        both_started(name)
        for line in range(200):
            print(f"{name} {line}")
            if line % 20 == 0:
                time.sleep(0.001)

    @asset
    def left() -> dict:
        chatter("left")
        return {"ok": 1}

    @asset
    def right() -> dict:
        chatter("right")
        return {"ok": 1}
"""


def test_two_steps_printing_at_once_keep_their_output_apart(make_project, clock):
    root = make_project(PARALLEL)
    result = materialize(project=root, clock=clock, max_parallel=2)
    assert result.success
    by_asset = {log.asset: log.text for log in logs_of(root, result.run_id)}
    for name in ("left", "right"):
        assert by_asset[name].splitlines() == [f"{name} {line}" for line in range(200)]


FLAKY = """
    from pathlib import Path

    from assetflow import asset

    @asset(retries=2)
    def flaky(context) -> dict:
        tries = Path(context.project_dir) / "tries.txt"
        count = int(tries.read_text()) + 1 if tries.exists() else 1
        tries.write_text(str(count))
        print(f"try {count}")
        if count == 1:
            raise ConnectionError("reset")
        return {"tries": count}
"""


def test_a_retried_attempt_has_its_own_log(make_project, clock):
    root = make_project(FLAKY)
    result = materialize(project=root, clock=clock)
    assert result.success
    logs = logs_of(root, result.run_id)
    assert [(log.attempt, log.text) for log in logs] == [(1, "try 1\n"), (2, "try 2\n")]


FAILING = """
    from assetflow import asset

    @asset
    def broken() -> dict:
        print("about to fail")
        raise ValueError("bad row")
"""


@pytest.mark.parametrize("max_parallel", [1, 2])
def test_streams_and_logger_are_restored_after_a_run_even_a_failed_one(
    make_project, clock, max_parallel
):
    logger = logging.getLogger("assetflow.asset")
    before = (sys.stdout, sys.stderr, logger.level, logger.propagate, list(logger.handlers))
    root = make_project(FAILING)
    result = materialize(project=root, clock=clock, max_parallel=max_parallel)
    assert not result.success
    after = (sys.stdout, sys.stderr, logger.level, logger.propagate, list(logger.handlers))
    assert after == before
    [stored] = logs_of(root, result.run_id)
    assert stored.text == "about to fail\n"


def test_streams_are_restored_when_the_run_raises():
    before = (sys.stdout, sys.stderr)

    def fail_inside_a_run() -> None:
        with capturing_run():
            assert sys.stdout is not before[0]
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fail_inside_a_run()
    assert (sys.stdout, sys.stderr) == before


def test_threads_that_do_not_capture_write_to_the_original_streams(capsys):
    with capturing_run():
        log = StepLog()
        with log.capturing():
            print("captured")
            worker = threading.Thread(target=print, args=("not captured",))
            worker.start()
            worker.join()
    assert log.text() == "captured\n"
    assert capsys.readouterr().out == "not captured\n"


def test_a_long_output_keeps_its_start_and_end_around_a_marker():
    log = StepLog(limit=20)
    for number in range(100):
        log.write(f"{number:02d} ")
    text = log.text()
    assert text.startswith("00 01 02 0")
    assert text.endswith("7 98 99 ")
    assert "[... 280 characters of output left out ...]" in text


def test_records_of_the_users_own_loggers_are_captured(make_project, clock):
    root = make_project(
        """
        import logging

        from assetflow import asset

        log = logging.getLogger("my_pipeline.loader")

        @asset
        def loads() -> dict:
            log.warning("the feed was late")
            log.info("below the default level: not captured")
            return {}
        """
    )
    result = materialize(project=root, clock=clock)
    (record,) = logs_of(root, result.run_id)
    assert record.text == "WARNING my_pipeline.loader: the feed was late\n"

"""`assetflow ui` as a real process: it serves, Ctrl-C stops it, bad input exits 2."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request

from tests.e2e.processes import assetflow, imported_by, wait_for
from tests.ui.serving import free_port

ONE = """
    from assetflow import asset

    @asset
    def only() -> dict:
        return {"n": 1}
"""
UNBUFFERED = {**os.environ, "PYTHONUNBUFFERED": "1"}


def _without_token() -> dict[str, str]:
    return {k: v for k, v in UNBUFFERED.items() if k != "ASSETFLOW_UI_TOKEN"}


def test_ui_serves_until_ctrl_c_and_stops_cleanly(make_project):
    root = make_project(ONE)
    port = free_port()
    started = time.monotonic()
    process = subprocess.Popen(
        assetflow(root, "ui", "--port", str(port)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_without_token(),
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line == f"Serving proj at http://127.0.0.1:{port} (Ctrl-C stops)\n"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/", timeout=30) as answer:
            assert answer.status == 200
            assert json.loads(answer.read())["version"] == 1
        first_answer = time.monotonic() - started
        print(f"start to first answered request: {first_answer:.3f} s")
        assert first_answer < 10  # generous for a loaded machine; the figure is ~0.5 s
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    assert process.returncode == 0, err
    assert "Traceback" not in err


def test_ui_stops_cleanly_on_sigterm_and_opens_the_browser_with_open(make_project, tmp_path):
    root = make_project(ONE)
    port = free_port()
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.py"
    browser.write_text(
        f"import sys, pathlib; pathlib.Path({str(opened)!r}).write_text(sys.argv[1])"
    )
    process = subprocess.Popen(
        assetflow(root, "ui", "--port", str(port), "--open"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**_without_token(), "BROWSER": f"{sys.executable} {browser} %s"},
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().startswith("Serving proj at")
        wait_for(opened)
        time.sleep(0.2)
        assert opened.read_text() == f"http://127.0.0.1:{port}"
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    assert process.returncode == 0, err
    assert "Traceback" not in err


def test_ui_opens_no_browser_without_open(make_project, tmp_path):
    root = make_project(ONE)
    port = free_port()
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.py"
    browser.write_text(
        f"import sys, pathlib; pathlib.Path({str(opened)!r}).write_text(sys.argv[1])"
    )
    process = subprocess.Popen(
        assetflow(root, "ui", "--port", str(port)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**_without_token(), "BROWSER": f"{sys.executable} {browser} %s"},
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().startswith("Serving proj at")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/", timeout=30):
            pass
        time.sleep(0.5)
        assert not opened.exists()
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)
    assert process.returncode == 0


def test_ui_refuses_a_port_in_use(make_project):
    root = make_project(ONE)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            assetflow(root, "ui", "--port", str(port)),
            capture_output=True,
            text=True,
            env=_without_token(),
            timeout=60,
        )
    assert done.returncode == 2
    assert (
        f"port {port} on 127.0.0.1 is in use (by another program); use --port, "
        f"e.g. --port {port + 1}"
    ) in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_ui_refuses_another_host_without_a_token(make_project):
    root = make_project(ONE)
    done = subprocess.run(
        assetflow(root, "ui", "--host", "0.0.0.0", "--port", str(free_port())),
        capture_output=True,
        text=True,
        env=_without_token(),
        timeout=60,
    )
    assert done.returncode == 2
    assert "ASSETFLOW_UI_TOKEN is not set" in done.stderr
    assert (
        "ASSETFLOW_UI_TOKEN=$(python -c 'import secrets; print(secrets.token_urlsafe(32))') "
        "assetflow ui --host 0.0.0.0"
    ) in done.stderr
    assert "Traceback" not in done.stderr


def test_ui_refuses_a_short_token(make_project):
    root = make_project(ONE)
    done = subprocess.run(
        assetflow(root, "ui", "--host", "0.0.0.0", "--port", str(free_port())),
        capture_output=True,
        text=True,
        env={**_without_token(), "ASSETFLOW_UI_TOKEN": "too-short"},
        timeout=60,
    )
    assert done.returncode == 2
    assert "ASSETFLOW_UI_TOKEN is 9 characters long; the UI asks for at least 16" in done.stderr


def test_ui_says_a_store_is_from_a_newer_assetflow(make_project):
    root = make_project(ONE)
    status = subprocess.run(assetflow(root, "status"), capture_output=True, text=True)
    assert status.returncode == 0, status.stderr
    with sqlite3.connect(root / ".assetflow" / "metadata.sqlite") as connection:
        connection.execute(
            "INSERT INTO schema_version (version, description, applied_at) "
            "VALUES (999, 'future', '2099-01-01')"
        )
    done = subprocess.run(
        assetflow(root, "ui", "--port", str(free_port())),
        capture_output=True,
        text=True,
        env=_without_token(),
        timeout=60,
    )
    assert done.returncode == 1
    assert "the store was written by a newer assetflow" in done.stderr
    assert "Traceback" not in done.stderr
    assert "Serving" not in done.stdout


def test_help_loads_nothing_of_the_ui_server():
    done, loaded = imported_by(["--help"], ("starlette", "uvicorn", "jinja2", "assetflow.ui"))
    assert done.returncode == 0, done.stderr
    assert not loaded, loaded
    assert "  ui " in done.stdout


SLOW = """
    import time
    from pathlib import Path

    from assetflow import asset

    @asset
    def slow() -> dict:
        (Path(__file__).parent / "slow.started").touch()
        while not (Path(__file__).parent / "go").exists():
            time.sleep(0.05)
        return {"n": 1}
"""


def test_stopping_the_ui_cancels_the_runs_it_launched(make_project):
    from tests.ui.test_launch import launch

    root = make_project(SLOW)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        assetflow(root, "ui", "--port", str(port)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_without_token(),
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().startswith("Serving proj at ")
        status, body = launch(url, {"selection": "slow"})
        assert status == 202, body
        run_id = body["run_id"]
        wait_for(root / "slow.started", timeout=60)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    assert process.returncode == 0, err
    assert f"Cancelling 1 run(s) launched from the UI: {run_id[:8]}" in out
    assert "Traceback" not in err
    with sqlite3.connect(root / ".assetflow" / "metadata.sqlite") as db:
        (status_now,) = db.execute("SELECT status FROM runs WHERE run_id = ?", (run_id,)).fetchone()
    assert status_now == "cancelled"

"""Starting the UI: the host and token rules, the port check, the store check."""

from __future__ import annotations

import socket
import sqlite3

import pytest

import assetflow
from assetflow.errors import StoreError, UsageError
from assetflow.ui.server import Address, check_store, listen, ui_token
from tests.ui.serving import free_port

ONE = """
    from assetflow import asset

    @asset
    def only() -> dict:
        return {"n": 1}
"""
TOKEN = "a-long-enough-token-for-tests"


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost"])
def test_loopback_needs_no_token(host):
    assert ui_token(host, {}) is None
    assert ui_token(host, {"ASSETFLOW_UI_TOKEN": TOKEN}) == TOKEN


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::", "example.org"])
def test_another_host_without_a_token_says_how_to_set_one(host):
    with pytest.raises(UsageError) as caught:
        ui_token(host, {})
    text = caught.value.format_message()
    assert f"--host {host} lets other machines reach the UI, so it asks for a token" in text
    assert "ASSETFLOW_UI_TOKEN is not set" in text
    assert (
        "ASSETFLOW_UI_TOKEN=$(python -c 'import secrets; print(secrets.token_urlsafe(32))') "
        f"assetflow ui --host {host}"
    ) in text
    assert caught.value.exit_code == 2


def test_an_empty_token_counts_as_none():
    with pytest.raises(UsageError, match="ASSETFLOW_UI_TOKEN is not set"):
        ui_token("0.0.0.0", {"ASSETFLOW_UI_TOKEN": ""})


@pytest.mark.parametrize("host", ["0.0.0.0", "127.0.0.1"])
def test_a_short_token_is_refused(host):
    with pytest.raises(UsageError) as caught:
        ui_token(host, {"ASSETFLOW_UI_TOKEN": "x" * 15})
    text = caught.value.format_message()
    assert "ASSETFLOW_UI_TOKEN is 15 characters long; the UI asks for at least 16" in text
    assert "secrets.token_urlsafe(32)" in text
    assert ui_token(host, {"ASSETFLOW_UI_TOKEN": "x" * 16}) == "x" * 16


def test_a_port_in_use_is_said_with_the_next_one_to_try():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(UsageError) as caught:
            listen("127.0.0.1", port)
    assert caught.value.format_message() == (
        f"port {port} on 127.0.0.1 is in use (by another program); use --port, "
        f"e.g. --port {port + 1}."
    )


def test_a_free_port_is_bound_and_listening():
    port = free_port()
    sock = listen("127.0.0.1", port)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
    finally:
        sock.close()


@pytest.mark.parametrize("port", [0, -1, 65536])
def test_a_port_out_of_range_is_refused(port):
    with pytest.raises(UsageError, match=f"--port must be between 1 and 65535, not {port}"):
        listen("127.0.0.1", port)


def test_a_host_that_is_no_address_is_refused():
    with pytest.raises(UsageError, match=r"--host no-such-host\.invalid is not an address"):
        listen("no-such-host.invalid", 3000)


def test_an_address_of_another_machine_is_refused():
    with pytest.raises(UsageError, match=r"--host 192\.0\.2\.1 is not an address of this machine"):
        listen("192.0.2.1", 3000)


def test_the_url_brackets_an_ipv6_host():
    assert Address("127.0.0.1", 3000).url == "http://127.0.0.1:3000"
    assert Address("::1", 8080).url == "http://[::1]:8080"


def test_a_store_written_by_a_newer_assetflow_is_said_at_start(make_project):
    root = make_project(ONE)
    project = assetflow.load(root)
    check_store(project)  # creates the store
    path = project.state_dir / "metadata.sqlite"
    with sqlite3.connect(path) as connection:
        connection.execute(
            "INSERT INTO schema_version (version, description, applied_at) "
            "VALUES (999, 'future', '2099-01-01')"
        )
    with pytest.raises(StoreError) as caught:
        check_store(project)
    assert "the store was written by a newer assetflow" in caught.value.format_message()
    assert "Upgrade assetflow" in caught.value.format_message()

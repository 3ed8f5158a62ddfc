"""OpenLineage through the command line: a receiver that refuses connections never fails
a run (a warning says lineage was not sent and when it is retried), `openlineage send`
delivers later, and each bad setting ends with a message that says how to fix it."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from assetflow.cli import cli
from tests.e2e.processes import assetflow
from tests.http_servers import refused_url
from tests.openlineage.receiver import LineageReceiver
from tests.openlineage.runs import ASSETS, BASE, http_config


def run_cli(
    root: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        assetflow(root, *args),
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def test_a_refused_connection_never_fails_the_run_and_lineage_send_delivers_later(
    make_project,
) -> None:
    root = make_project(ASSETS, config=http_config(refused_url()))
    done = run_cli(root, "materialize", "raw+")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    warning = [line for line in done.stderr.splitlines() if "Lineage was not sent" in line]
    assert warning == [
        f"Lineage was not sent: 6 OpenLineage events to {http_config_url(root)} (http) "
        "(connection refused). They are kept in the metadata store and retried from "
        + warning[0].split("retried from ", 1)[1]
    ]
    assert "by the next run, or now with `assetflow openlineage send`." in warning[0]
    assert "OpenLineage: 6 events were not sent" not in done.stderr  # said once
    status = run_cli(root, "openlineage", "--json")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["pending"] == 6
    assert json.loads(status.stdout)["last_error"] == "connection refused"
    with LineageReceiver() as receiver:
        config = (root / "pyproject.toml").read_text()
        (root / "pyproject.toml").write_text(config.replace(http_config_url(root), receiver.url))
        sent = run_cli(root, "openlineage", "send")
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout.startswith("Sent 6 OpenLineage events to http://127.0.0.1:")
    assert receiver.invalid == []
    assert receiver.events[0]["eventType"] == "START"
    assert len(receiver.events) == 6


def http_config_url(root: Path) -> str:
    text = (root / "pyproject.toml").read_text()
    return text.split('url = "', 1)[1].split('"', 1)[0]


def test_lineage_send_exits_1_when_the_receiver_still_fails(make_project) -> None:
    root = make_project(ASSETS, config=http_config(refused_url()))
    assert run_cli(root, "materialize", "raw").returncode == 0
    again = run_cli(root, "openlineage", "send")
    assert again.returncode == 1
    assert "Sent 0 OpenLineage events" in again.stdout
    assert "4 events were not sent: connection refused; they stay in the outbox." in again.stderr


def invoke(root: Path, *args: str, env: dict[str, str] | None = None):
    return CliRunner(env=env).invoke(cli, ["--project", str(root), *args])


@pytest.mark.parametrize(
    ("table", "said"),
    [
        (
            'transport = "kafka"',
            "[tool.assetflow.openlineage] in pyproject.toml: `transport` is 'kafka', which is "
            'not one of them.\n\nSet `transport` to one of "http", "file", "console"',
        ),
        (
            'transport = "file"',
            "[tool.assetflow.openlineage] in pyproject.toml: the file transport needs a "
            "`path` and none is set.\n\nAdd the file that receives the events",
        ),
        (
            'transport = "http"',
            "[tool.assetflow.openlineage] in pyproject.toml: the http transport needs the "
            "receiver's `url`; it is not set.",
        ),
        (
            'transport = "http"\nurl = "http://localhost:5000"\napi_key_env = "NO_SUCH_KEY"',
            "[tool.assetflow.openlineage] in pyproject.toml: `api_key_env` names the "
            "environment variable NO_SUCH_KEY, which is not set.\n\nSet it to the lineage "
            "backend's API key (export NO_SUCH_KEY=...)",
        ),
        (
            'transport = "console"\nnamspace = "shop"',
            "[tool.assetflow.openlineage] in pyproject.toml: unknown setting 'namspace'.\n\n"
            "The settings are: transport, url, endpoint, namespace, path, api_key_env, timeout.",
        ),
    ],
)
def test_bad_settings_stop_the_run_before_it_starts(make_project, table: str, said: str) -> None:
    root = make_project(ASSETS, config=BASE + "[tool.assetflow.openlineage]\n" + table + "\n")
    result = invoke(root, "materialize", "raw", env={"NO_SUCH_KEY": None})
    assert result.exit_code == 2
    assert said in result.stderr
    assert "Traceback" not in result.stderr
    assert not (root / ".assetflow" / "metadata.sqlite").exists()


def test_lineage_send_without_settings_says_how_to_add_them(make_project) -> None:
    root = make_project(ASSETS, config=BASE)
    result = invoke(root, "openlineage", "send")
    assert result.exit_code == 2
    assert "the project has no [tool.assetflow.openlineage] table" in result.stderr


def test_secrets_never_show_in_messages(make_project, monkeypatch) -> None:
    from assetflow.openlineage.settings import parse_settings

    monkeypatch.setenv("LINEAGE_KEY", "k3y-s3cret")
    settings = parse_settings(
        {"transport": "http", "url": "http://user:pa55@127.0.0.1:9", "api_key_env": "LINEAGE_KEY"},
        where="pyproject.toml",
        root=Path("/tmp"),
        default_namespace="p",
    )
    assert settings is not None
    assert settings.api_key == "k3y-s3cret"
    assert "k3y-s3cret" not in repr(settings)
    assert settings.target == "http://***@127.0.0.1:9 (http)"

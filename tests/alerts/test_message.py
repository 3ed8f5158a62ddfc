"""What an alert says: the webhook body, the Slack payload, the mail and the command's input."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from assetflow.alerts.message import (
    SLACK_BLOCK_LIMIT,
    SLACK_HEADER_LIMIT,
    SLACK_TEXT_LIMIT,
    AlertMessage,
    AssetPartitions,
    command_input,
    duration_text,
    email_message,
    iso_utc,
    slack_payload,
    webhook_body,
    webhook_bytes,
)

OPENED = datetime(2026, 2, 3, 3, 0, 12, 345678, tzinfo=UTC)


def failed(**changes: object) -> AlertMessage:
    settings: dict[str, object] = {
        "event": "run_failed",
        "incident_id": "inc-3f2a",
        "incident_kind": "run_failed",
        "project": "shop",
        "title": "clean_records failed (31 partitions)",
        "assets": (AssetPartitions("clean_records", ("2026-01-01..2026-01-30", "2026-02-03")),),
        "opened_at": OPENED,
        "skipped": (AssetPartitions("daily_totals"),),
        "run_id": "8ffd7a46",
        "error": "ValueError: amount < 0\n  in clean_records",
        "duration_s": 4.5,
        "logs_command": "assetflow logs 8ffd7a46 --asset clean_records",
    }
    settings.update(changes)
    return AlertMessage(**settings)  # type: ignore[arg-type]


def test_webhook_body_layout() -> None:
    assert webhook_body(failed()) == {
        "version": 1,
        "event": "run_failed",
        "incident_id": "inc-3f2a",
        "incident_kind": "run_failed",
        "project": "shop",
        "title": "clean_records failed (31 partitions)",
        "test": False,
        "assets": [
            {"asset": "clean_records", "partitions": ["2026-01-01..2026-01-30", "2026-02-03"]}
        ],
        "skipped": [{"asset": "daily_totals", "partitions": []}],
        "run_id": "8ffd7a46",
        "error": "ValueError: amount < 0\n  in clean_records",
        "opened_at": "2026-02-03T03:00:12Z",
        "resolved_at": None,
        "duration_s": 4.5,
        "occurrences": 1,
        "overdue_by_s": None,
        "logs_command": "assetflow logs 8ffd7a46 --asset clean_records",
        "url": None,
    }


def test_webhook_body_of_a_recovery_has_resolved_at_in_utc() -> None:
    berlin = timezone(timedelta(hours=1))
    msg = failed(
        event="recovered",
        resolved_at=datetime(2026, 2, 3, 8, 30, tzinfo=berlin),
        ui_url="https://assetflow.example/incidents/inc-3f2a",
    )
    body = webhook_body(msg)
    assert (body["event"], body["incident_kind"]) == ("recovered", "run_failed")
    assert body["resolved_at"] == "2026-02-03T07:30:00Z"
    assert body["url"] == "https://assetflow.example/incidents/inc-3f2a"
    assert json.loads(webhook_bytes(msg)) == body


def test_iso_utc_takes_a_naive_instant_as_utc() -> None:
    assert iso_utc(datetime(2026, 1, 1, 12)) == "2026-01-01T12:00:00Z"
    assert iso_utc(None) is None


def test_duration_text() -> None:
    assert [duration_text(s) for s in (0.42, 45, 185, 8040, 3600, 266400)] == [
        "0.4 s",
        "45 s",
        "3 min 5 s",
        "2 h 14 min",
        "1 h",
        "3 d 2 h",
    ]


def test_slack_payload_blocks() -> None:
    payload = slack_payload(failed(ui_url="https://af.example/runs/8ffd7a46", occurrences=3))
    assert payload["text"] == "[assetflow] shop: clean_records failed (31 partitions)"
    blocks = payload["blocks"]
    assert [b["type"] for b in blocks] == [
        "header",
        "section",
        "section",
        "section",
        "section",
        "section",
        "actions",
    ]
    assert blocks[0]["text"] == {
        "type": "plain_text",
        "text": "clean_records failed (31 partitions)",
    }
    assert blocks[1]["text"]["text"] == (
        "*Project:* shop\n*Event:* Run failed\n*Incident:* inc-3f2a\n*Run:* 8ffd7a46\n"
        "*Opened:* 2026-02-03T03:00:12Z\n*Ran for:* 4.5 s\n*Occurrences:* 3"
    )
    assert blocks[2]["text"]["text"] == (
        "*Assets:*\n• clean_records[2026-01-01..2026-01-30, 2026-02-03]"
    )
    assert blocks[3]["text"]["text"] == "*Skipped downstream:*\n• daily_totals"
    assert blocks[4]["text"]["text"] == (
        "*Error:*\n```ValueError: amount &lt; 0\n  in clean_records```"
    )
    assert blocks[5]["text"]["text"] == ("*Logs:* `assetflow logs 8ffd7a46 --asset clean_records`")
    assert blocks[6]["elements"] == [
        {
            "type": "button",
            "text": {"type": "plain_text", "text": "Open in assetflow"},
            "url": "https://af.example/runs/8ffd7a46",
        }
    ]


def test_slack_payload_of_a_minimal_overdue_message() -> None:
    msg = AlertMessage(
        event="overdue",
        incident_id="inc-1",
        incident_kind="overdue",
        project="shop",
        title="daily_report is overdue",
        assets=(AssetPartitions("daily_report", ("2026-02-03",)),),
        opened_at=OPENED,
        overdue_by_s=8040,
        test=True,
    )
    payload = slack_payload(msg)
    assert payload["text"] == "[assetflow test] shop: daily_report is overdue"
    assert [b["type"] for b in payload["blocks"]] == ["header", "section", "section"]
    assert payload["blocks"][0]["text"]["text"] == "[test] daily_report is overdue"
    assert "*Overdue by:* 2 h 14 min" in payload["blocks"][1]["text"]["text"]


def test_slack_payload_stays_within_slacks_limits() -> None:
    many = tuple(AssetPartitions(f"asset_{i}", ("p" * 300,)) for i in range(200))
    msg = failed(title="x" * 500, assets=many, skipped=many, error="e" * 10_000)
    payload = slack_payload(msg)
    blocks = payload["blocks"]
    assert len(blocks) <= SLACK_BLOCK_LIMIT
    assert len(blocks[0]["text"]["text"]) == SLACK_HEADER_LIMIT
    for block in blocks[1:]:
        if "text" in block:
            assert len(block["text"]["text"]) <= SLACK_TEXT_LIMIT
    assert blocks[4]["text"]["text"].endswith("…```")
    assert len(payload["text"]) <= SLACK_TEXT_LIMIT


@given(st.text(max_size=4000), st.text(min_size=1, max_size=400))
def test_slack_payload_limits_hold_for_any_text(error: str, title: str) -> None:
    payload = slack_payload(failed(error=error, title=title))
    assert len(payload["blocks"][0]["text"]["text"]) <= SLACK_HEADER_LIMIT
    assert all(len(b["text"]["text"]) <= SLACK_TEXT_LIMIT for b in payload["blocks"][1:])


def test_email_message_parts() -> None:
    msg = failed(ui_url="https://af.example/i/<1>")
    mail = email_message(msg, "assetflow@example.com", ("a@example.com", "b@example.com"))
    assert mail["Subject"] == "[assetflow] shop: clean_records failed (31 partitions)"
    assert mail["From"] == "assetflow@example.com"
    assert mail["To"] == "a@example.com, b@example.com"
    assert mail["X-Assetflow-Incident"] == "inc-3f2a"
    assert mail.get_content_type() == "multipart/alternative"
    text_part, html_part = mail.iter_parts()
    assert text_part.get_content_type() == "text/plain"
    assert html_part.get_content_type() == "text/html"
    assert text_part.get_content() == (
        "clean_records failed (31 partitions)\n"
        "\n"
        "Project:  shop\n"
        "Event:    Run failed\n"
        "Incident: inc-3f2a\n"
        "Run:      8ffd7a46\n"
        "Opened:   2026-02-03T03:00:12Z\n"
        "Ran for:  4.5 s\n"
        "\n"
        "Assets:\n"
        "  clean_records[2026-01-01..2026-01-30, 2026-02-03]\n"
        "\n"
        "Skipped downstream:\n"
        "  daily_totals\n"
        "\n"
        "Error:\n"
        "  ValueError: amount < 0\n"
        "    in clean_records\n"
        "\n"
        "Logs: assetflow logs 8ffd7a46 --asset clean_records\n"
        "\n"
        "Open in assetflow: https://af.example/i/<1>\n"
    )
    html = html_part.get_content()
    assert "<pre>ValueError: amount &lt; 0\n  in clean_records</pre>" in html
    assert '<a href="https://af.example/i/&lt;1&gt;">Open in assetflow</a>' in html
    assert "<h2>clean_records failed (31 partitions)</h2>" in html
    assert "amount < 0" not in html


def test_email_subject_of_a_test_message_is_one_line() -> None:
    mail = email_message(failed(title="a\nb", test=True), "s@x", ("t@x",))
    assert mail["Subject"] == "[assetflow test] shop: a b"


def test_command_input() -> None:
    msg = failed(error="bad\0byte")
    stdin, env = command_input(msg)
    assert json.loads(stdin) == webhook_body(msg)
    assert env == {
        "ASSETFLOW_EVENT": "run_failed",
        "ASSETFLOW_INCIDENT_ID": "inc-3f2a",
        "ASSETFLOW_INCIDENT_KIND": "run_failed",
        "ASSETFLOW_PROJECT": "shop",
        "ASSETFLOW_TITLE": "clean_records failed (31 partitions)",
        "ASSETFLOW_RUN_ID": "8ffd7a46",
        "ASSETFLOW_ASSETS": "clean_records",
        "ASSETFLOW_PARTITIONS": "clean_records[2026-01-01..2026-01-30, 2026-02-03]",
        "ASSETFLOW_ERROR": "badbyte",
        "ASSETFLOW_OPENED_AT": "2026-02-03T03:00:12Z",
        "ASSETFLOW_RESOLVED_AT": "",
        "ASSETFLOW_LOGS_COMMAND": "assetflow logs 8ffd7a46 --asset clean_records",
        "ASSETFLOW_URL": "",
        "ASSETFLOW_TEST": "0",
    }

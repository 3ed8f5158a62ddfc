"""AlertMessage: what an alert says, as pure data, and its rendering for each kind of destination.

The incidents engine fills one `AlertMessage` per (destination, incident, event); the
renderers here turn it into what each kind sends, with no I/O:

- `webhook_body`: the documented, versioned JSON body (also the command's stdin).
- `slack_payload`: Slack incoming-webhook JSON, a `text` fallback and `blocks`.
- `email_message`: a mail with a plain-text and an HTML part.
- `command_input`: the JSON for stdin and the ``ASSETFLOW_*`` environment variables.

The webhook body, version 1 (a key is never removed or changes meaning within a
version; new keys may be added)::

    {
      "version": 1,
      "event": "run_failed",            # run_failed | check_failed | overdue |
                                        # scheduler_down | recovered
      "incident_id": "inc-3f2a",
      "incident_kind": "run_failed",    # for recovered: the kind that recovered
      "project": "shop",
      "title": "clean_records failed (3 partitions)",
      "test": false,                    # true when sent by `assetflow alerts test`
      "assets": [{"asset": "clean_records",
                  "partitions": ["2026-01-01..2026-01-30", "2026-02-03"]}],
      "skipped": [{"asset": "daily_totals", "partitions": []}],
      "run_id": "8ffd7a46",             # or null
      "error": "ValueError: ...",       # the first lines, "" when none
      "opened_at": "2026-02-03T03:00:12Z",
      "resolved_at": null,              # set for recovered
      "duration_s": 12.5,               # how long the failed step ran, or null
      "occurrences": 1,                 # failures that joined the incident
      "overdue_by_s": null,             # for overdue
      "logs_command": "assetflow logs 8ffd7a46 --asset clean_records",
      "url": null                       # the UI page, when ui_url is configured
    }

A partition list holds keys and ranges ("first..last") as the caller compressed
them; `[]` is an unpartitioned asset.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

#: The version of the webhook body's layout.
WEBHOOK_VERSION = 1
#: Slack's limit on the text of one section block.
SLACK_TEXT_LIMIT = 3000
#: Slack's limit on a header block's text.
SLACK_HEADER_LIMIT = 150
#: Slack's limit on the number of blocks in one message.
SLACK_BLOCK_LIMIT = 50
#: How many asset lines a Slack message or an email lists before "and N more".
ASSET_LINES = 20

_EVENT_WORDS = {
    "run_failed": "Run failed",
    "check_failed": "Check failed",
    "overdue": "Overdue",
    "scheduler_down": "Scheduler down",
    "recovered": "Recovered",
}


@dataclass(frozen=True, slots=True)
class AssetPartitions:
    """An asset and its partitions, as keys and ranges ("a..b"); () for an unpartitioned asset."""

    asset: str
    partitions: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        """`asset` or `asset[2026-01-01..2026-01-30, 2026-02-03]`."""
        if not self.partitions:
            return self.asset
        return f"{self.asset}[{', '.join(self.partitions)}]"


@dataclass(frozen=True, slots=True)
class AlertMessage:
    """What one alert says about one incident: the data every kind of destination renders."""

    event: str
    incident_id: str
    incident_kind: str
    project: str
    title: str
    assets: tuple[AssetPartitions, ...]
    opened_at: datetime
    skipped: tuple[AssetPartitions, ...] = ()
    run_id: str | None = None
    error: str = ""
    resolved_at: datetime | None = None
    duration_s: float | None = None
    occurrences: int = 1
    overdue_by_s: float | None = None
    logs_command: str | None = None
    ui_url: str | None = None
    test: bool = False

    @property
    def subject(self) -> str:
        """The one line that names the alert: "[assetflow] shop: clean_records failed"."""
        tag = "[assetflow test]" if self.test else "[assetflow]"
        return f"{tag} {self.project}: {self.title}"


# -- shared pieces -------------------------------------------------------------------------


def iso_utc(moment: datetime | None) -> str | None:
    """An instant as ISO 8601 in UTC with a Z, to the second (a naive one is taken as UTC)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def duration_text(seconds: float) -> str:
    """A duration as people read it: "0.4 s", "45 s", "3 min 5 s", "2 h 14 min", "3 d 2 h"."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"


def _facts(msg: AlertMessage) -> list[tuple[str, str]]:
    """The labelled facts every human-readable rendering lists, in order."""
    facts = [("Project", msg.project), ("Event", _EVENT_WORDS.get(msg.event, msg.event))]
    if msg.event == "recovered":
        facts.append(("Recovered from", _EVENT_WORDS.get(msg.incident_kind, msg.incident_kind)))
    facts.append(("Incident", msg.incident_id))
    if msg.run_id is not None:
        facts.append(("Run", msg.run_id))
    facts.append(("Opened", iso_utc(msg.opened_at) or ""))
    if msg.resolved_at is not None:
        facts.append(("Resolved", iso_utc(msg.resolved_at) or ""))
    if msg.duration_s is not None:
        facts.append(("Ran for", duration_text(msg.duration_s)))
    if msg.overdue_by_s is not None:
        facts.append(("Overdue by", duration_text(msg.overdue_by_s)))
    if msg.occurrences > 1:
        facts.append(("Occurrences", str(msg.occurrences)))
    return facts


def _asset_lines(items: tuple[AssetPartitions, ...]) -> list[str]:
    """One line per asset, at most ASSET_LINES of them and then "... and N more assets"."""
    lines = [item.text for item in items[:ASSET_LINES]]
    if len(items) > ASSET_LINES:
        lines.append(f"... and {len(items) - ASSET_LINES} more assets")
    return lines


def _cut(text: str, limit: int) -> str:
    """A text cut to `limit` characters, ending in "…" when it was cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- webhook and command -------------------------------------------------------------------


def webhook_body(msg: AlertMessage) -> dict[str, Any]:
    """The versioned JSON body a webhook receives (the layout is in the module's docstring)."""
    return {
        "version": WEBHOOK_VERSION,
        "event": msg.event,
        "incident_id": msg.incident_id,
        "incident_kind": msg.incident_kind,
        "project": msg.project,
        "title": msg.title,
        "test": msg.test,
        "assets": [{"asset": a.asset, "partitions": list(a.partitions)} for a in msg.assets],
        "skipped": [{"asset": a.asset, "partitions": list(a.partitions)} for a in msg.skipped],
        "run_id": msg.run_id,
        "error": msg.error,
        "opened_at": iso_utc(msg.opened_at),
        "resolved_at": iso_utc(msg.resolved_at),
        "duration_s": msg.duration_s,
        "occurrences": msg.occurrences,
        "overdue_by_s": msg.overdue_by_s,
        "logs_command": msg.logs_command,
        "url": msg.ui_url,
    }


def webhook_bytes(msg: AlertMessage) -> bytes:
    """The webhook body as the exact bytes sent (and signed): compact UTF-8 JSON."""
    return json.dumps(webhook_body(msg), separators=(",", ":"), ensure_ascii=False).encode()


def command_input(msg: AlertMessage) -> tuple[str, dict[str, str]]:
    """What a command destination is given: the webhook body as JSON text for its stdin,
    and environment variables for scripts that would rather not parse JSON.

    The variables: ASSETFLOW_EVENT, ASSETFLOW_INCIDENT_ID, ASSETFLOW_INCIDENT_KIND,
    ASSETFLOW_PROJECT, ASSETFLOW_TITLE, ASSETFLOW_RUN_ID ("" when none),
    ASSETFLOW_ASSETS (the assets' names, comma-separated), ASSETFLOW_PARTITIONS (each
    asset with its partitions, `asset[a..b, c]`, separated by "; "), ASSETFLOW_ERROR,
    ASSETFLOW_OPENED_AT, ASSETFLOW_RESOLVED_AT ("" when open), ASSETFLOW_LOGS_COMMAND,
    ASSETFLOW_URL and ASSETFLOW_TEST ("1" for a test message, else "0").
    """
    body = webhook_body(msg)
    variables = {
        "ASSETFLOW_EVENT": msg.event,
        "ASSETFLOW_INCIDENT_ID": msg.incident_id,
        "ASSETFLOW_INCIDENT_KIND": msg.incident_kind,
        "ASSETFLOW_PROJECT": msg.project,
        "ASSETFLOW_TITLE": msg.title,
        "ASSETFLOW_RUN_ID": msg.run_id or "",
        "ASSETFLOW_ASSETS": ",".join(a.asset for a in msg.assets),
        "ASSETFLOW_PARTITIONS": "; ".join(a.text for a in msg.assets),
        "ASSETFLOW_ERROR": msg.error,
        "ASSETFLOW_OPENED_AT": body["opened_at"],
        "ASSETFLOW_RESOLVED_AT": body["resolved_at"] or "",
        "ASSETFLOW_LOGS_COMMAND": msg.logs_command or "",
        "ASSETFLOW_URL": msg.ui_url or "",
        "ASSETFLOW_TEST": "1" if msg.test else "0",
    }
    # An environment variable cannot hold a NUL character.
    env = {name: value.replace("\0", "") for name, value in variables.items()}
    return json.dumps(body, ensure_ascii=False), env


# -- Slack ---------------------------------------------------------------------------------


def _slack_escape(text: str) -> str:
    """Text for Slack's mrkdwn: &, < and > as entities (they start links and mentions)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _section(markdown: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _cut(markdown, SLACK_TEXT_LIMIT)}}


def slack_payload(msg: AlertMessage) -> dict[str, Any]:
    """Slack incoming-webhook JSON: a `text` fallback (notifications) and `blocks`.

    The blocks, in order: a header (the title); a section with the facts (project,
    event, incident, run, when, how long); the assets and their partitions; the
    skipped downstream assets, if any; the first lines of the error in a code block;
    the command that shows the logs; a button to the UI when `ui_url` is set. Every
    text stays within Slack's limits (150 characters for the header, 3,000 for a
    section), and there are never more than 50 blocks.
    """
    fallback = _cut(msg.subject, SLACK_TEXT_LIMIT)
    header = ("[test] " if msg.test else "") + msg.title
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _cut(header, SLACK_HEADER_LIMIT)},
        },
        _section("\n".join(f"*{k}:* {_slack_escape(v)}" for k, v in _facts(msg))),
    ]
    if msg.assets:
        lines = "\n".join(f"• {_slack_escape(line)}" for line in _asset_lines(msg.assets))
        blocks.append(_section(f"*Assets:*\n{lines}"))
    if msg.skipped:
        lines = "\n".join(f"• {_slack_escape(line)}" for line in _asset_lines(msg.skipped))
        blocks.append(_section(f"*Skipped downstream:*\n{lines}"))
    if msg.error:
        fence = "```"
        room = SLACK_TEXT_LIMIT - len("*Error:*\n") - 2 * len(fence)
        error = _cut(_slack_escape(msg.error.replace(fence, "'''")), room)
        blocks.append(_section(f"*Error:*\n{fence}{error}{fence}"))
    if msg.logs_command:
        blocks.append(_section(f"*Logs:* `{_slack_escape(msg.logs_command)}`"))
    if msg.ui_url:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Open in assetflow"},
                        "url": _cut(msg.ui_url, SLACK_TEXT_LIMIT),
                    }
                ],
            }
        )
    return {"text": fallback, "blocks": blocks[:SLACK_BLOCK_LIMIT]}


# -- email ---------------------------------------------------------------------------------


def email_text(msg: AlertMessage) -> str:
    """The plain-text body of an alert mail."""
    width = max(len(k) for k, _ in _facts(msg)) + 1
    lines = [msg.title, ""]
    lines += [f"{k + ':':<{width}} {v}" for k, v in _facts(msg)]
    if msg.assets:
        lines += ["", "Assets:"] + [f"  {line}" for line in _asset_lines(msg.assets)]
    if msg.skipped:
        lines += ["", "Skipped downstream:"] + [f"  {line}" for line in _asset_lines(msg.skipped)]
    if msg.error:
        lines += ["", "Error:"] + [f"  {line}" for line in msg.error.splitlines()]
    if msg.logs_command:
        lines += ["", f"Logs: {msg.logs_command}"]
    if msg.ui_url:
        lines += ["", f"Open in assetflow: {msg.ui_url}"]
    return "\n".join(lines) + "\n"


def email_html(msg: AlertMessage) -> str:
    """The HTML body of an alert mail: the same content, every text escaped."""
    esc = html.escape
    rows = "".join(
        f"<tr><th align='left'>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in _facts(msg)
    )
    parts = [f"<h2>{esc(msg.title)}</h2>", f"<table>{rows}</table>"]
    for label, items in (("Assets", msg.assets), ("Skipped downstream", msg.skipped)):
        if items:
            entries = "".join(f"<li>{esc(line)}</li>" for line in _asset_lines(items))
            parts.append(f"<h3>{label}</h3><ul>{entries}</ul>")
    if msg.error:
        parts.append(f"<h3>Error</h3><pre>{esc(msg.error)}</pre>")
    if msg.logs_command:
        parts.append(f"<p>Logs: <code>{esc(msg.logs_command)}</code></p>")
    if msg.ui_url:
        parts.append(f'<p><a href="{esc(msg.ui_url)}">Open in assetflow</a></p>')
    return "<html><body>" + "".join(parts) + "</body></html>\n"


def email_message(msg: AlertMessage, sender: str, to: tuple[str, ...]) -> EmailMessage:
    """An alert as a mail: Subject "[assetflow] shop: clean_records failed", a plain-text
    part and an HTML alternative, and X-Assetflow-Event and X-Assetflow-Incident headers
    for mail filters. Date and Message-ID are added when it is sent (this stays pure)."""
    mail = EmailMessage()
    mail["Subject"] = _cut(" ".join(msg.subject.split()), 200)
    mail["From"] = sender
    mail["To"] = ", ".join(to)
    mail["X-Assetflow-Event"] = msg.event
    mail["X-Assetflow-Incident"] = msg.incident_id
    mail.set_content(email_text(msg))
    mail.add_alternative(email_html(msg), subtype="html")
    return mail

"""What `assetflow incidents` and `assetflow alerts` show, as data with a text and a
JSON form (a versioned layout, docs/cli.md). The web UI shows the same rows."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from assetflow.alerts.compose import ranges

if TYPE_CHECKING:
    from assetflow.alerts.settings import Destination
    from assetflow.graph import AssetGraph
    from assetflow.store import MetadataStore
    from assetflow.store.alerts import AlertRecord, IncidentMember, IncidentRecord

#: The version of the `incidents --json` and `alerts --json` layouts.
JSON_VERSION = 1


def utc(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class IncidentRow:
    """One incident with its members and the alerts it queued."""

    incident: IncidentRecord
    members: tuple[IncidentMember, ...]
    alerts: tuple[AlertRecord, ...]
    #: the incident's partitions as ranges, and the downstream steps skipped because of it
    partitions: tuple[str, ...]
    skipped: Mapping[str, tuple[str, ...]]

    @property
    def is_open(self) -> bool:
        return self.incident.resolved_at is None

    def alert_counts(self) -> Counter[str]:
        return Counter(alert.status for alert in self.alerts)

    def to_json(self) -> dict[str, Any]:
        incident = self.incident
        return {
            "incident_id": incident.incident_id,
            "kind": incident.kind,
            "subject": incident.subject,
            "open": self.is_open,
            "opened_at": utc(incident.opened_at),
            "last_seen_at": utc(incident.last_seen_at),
            "resolved_at": utc(incident.resolved_at),
            "run_id": incident.run_id,
            "occurrences": incident.occurrences,
            "summary": incident.summary,
            "partitions": list(self.partitions),
            "skipped": [
                {"asset": asset, "partitions": list(keys)} for asset, keys in self.skipped.items()
            ],
            "alerts": [alert_json(alert) for alert in self.alerts],
        }


def alert_json(alert: AlertRecord) -> dict[str, Any]:
    return {
        "destination": alert.destination,
        "event": alert.event,
        "status": alert.status,
        "attempts": alert.attempts,
        "created_at": utc(alert.created_at),
        "sent_at": utc(alert.sent_at),
        "next_attempt_at": utc(alert.next_attempt_at) if alert.status == "pending" else None,
        "last_error": alert.last_error,
    }


def incident_rows(
    store: MetadataStore,
    graph: AssetGraph | None,
    *,
    open_only: bool = False,
    since: datetime | None = None,
    limit: int = 50,
) -> list[IncidentRow]:
    """The incidents, newest first, with their members and alerts."""
    incidents = store.incidents(open_only=open_only, since=since, limit=limit)
    members = store.incident_members([i.incident_id for i in incidents]) if incidents else {}
    rows = []
    for incident in incidents:
        mine = tuple(members.get(incident.incident_id, ()))
        failed = [m.partition for m in mine if m.role == "failed"]
        skipped: dict[str, list[str]] = {}
        for member in mine:
            if member.role == "skipped":
                skipped.setdefault(member.asset, []).append(member.partition)
        rows.append(
            IncidentRow(
                incident,
                mine,
                tuple(store.alerts(incident_id=incident.incident_id, limit=1000)),
                ranges(graph, incident.subject, failed),
                {asset: ranges(graph, asset, keys) for asset, keys in sorted(skipped.items())},
            )
        )
    return rows


def incidents_text(rows: Sequence[IncidentRow]) -> str:
    """The `assetflow incidents` table: open ones first, then the recent resolved ones."""
    from assetflow.views.text import table, when

    if not rows:
        return "No incidents: nothing has failed, been late or stopped."
    ordered = sorted(rows, key=lambda r: (not r.is_open, -r.incident.opened_at.timestamp()))
    lines = []
    for row in ordered:
        incident = row.incident
        what = incident.subject
        if row.partitions:
            shown = ", ".join(row.partitions[:3])
            more = len(row.partitions) - 3
            what += f"[{shown}{f', +{more} ranges' if more > 0 else ''}]"
        counts = row.alert_counts()
        alerts = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "none"
        state = f"resolved {when(incident.resolved_at)}" if not row.is_open else "OPEN"
        lines.append(
            [
                incident.incident_id[:8],
                incident.kind,
                what,
                when(incident.opened_at),
                state,
                str(incident.occurrences),
                alerts,
            ]
        )
    headers = ["INCIDENT", "KIND", "WHAT", "OPENED (UTC)", "STATE", "SEEN", "ALERTS"]
    text = table(headers, lines)
    details = []
    for row in ordered:
        if row.is_open and row.incident.summary:
            first = row.incident.summary.splitlines()[0]
            details.append(f"{row.incident.incident_id[:8]}: {first}")
            if row.skipped:
                skipped = ", ".join(
                    f"{asset}" + (f"[{', '.join(keys[:2])}]" if keys else "")
                    for asset, keys in row.skipped.items()
                )
                details.append(f"  skipped downstream: {skipped}")
    return text + ("\n\n" + "\n".join(details) if details else "")


def incidents_document(rows: Sequence[IncidentRow]) -> dict[str, Any]:
    return {"version": JSON_VERSION, "incidents": [row.to_json() for row in rows]}


@dataclass(frozen=True, slots=True)
class DestinationRow:
    """One destination as `assetflow alerts` lists it: never a secret, only where one is read."""

    destination: Destination
    last: AlertRecord | None
    counts: Mapping[str, int]

    def target(self, environ: Mapping[str, str]) -> str:
        return describe_target(self.destination, environ)

    def to_json(self, environ: Mapping[str, str]) -> dict[str, Any]:
        d = self.destination
        return {
            "destination": d.name,
            "kind": d.kind,
            "on": list(d.on),
            "select": d.select,
            "target": self.target(environ),
            "last_alert": alert_json(self.last) if self.last else None,
            "alerts": dict(self.counts),
        }


def describe_target(destination: Destination, environ: Mapping[str, str]) -> str:
    """Where a destination sends, without a secret: the env var's name and whether it is set."""

    def from_env(name: str | None) -> str:
        if not name:
            return ""
        state = "set" if environ.get(name) else "NOT SET"
        return f"${name} ({state})"

    kind = destination.kind
    if kind in ("slack", "webhook"):
        url = getattr(destination, "url", None)
        if url:
            from urllib.parse import urlsplit

            parts = urlsplit(url)
            return (
                f"{parts.scheme}://{parts.hostname}{':' + str(parts.port) if parts.port else ''}/…"
            )
        return from_env(getattr(destination, "url_env", None))
    if kind == "email":
        to = ", ".join(getattr(destination, "to", ()))
        host = getattr(destination, "smtp_host", "")
        port = getattr(destination, "port", "")
        return f"{to} via {host}:{port}"
    if kind == "command":
        argv = getattr(destination, "command", ())
        return " ".join(argv[:3]) + (" …" if len(argv) > 3 else "")
    return ""


def destination_rows(
    destinations: Mapping[str, Destination], store: MetadataStore
) -> list[DestinationRow]:
    last = store.last_alerts(destinations)
    rows = []
    for name, destination in destinations.items():
        counts: Counter[str] = Counter(
            alert.status for alert in store.alerts(destination=name, limit=1000)
        )
        rows.append(DestinationRow(destination, last.get(name), dict(counts)))
    return rows


def destinations_text(rows: Sequence[DestinationRow], environ: Mapping[str, str]) -> str:
    from assetflow.views.text import table, when

    if not rows:
        return (
            "No alert destinations. docs/alerts.md shows how to add one "
            "([tool.assetflow.alerts.NAME] in pyproject.toml)."
        )
    lines = []
    for row in rows:
        d = row.destination
        last = row.last
        if last is None:
            delivered = "-"
        else:
            moment = last.sent_at or last.created_at
            delivered = f"{last.status} {when(moment)}"
            if last.status != "sent" and last.last_error:
                delivered += f": {last.last_error.splitlines()[0][:80]}"
        lines.append([d.name, d.kind, ",".join(d.on), d.select, row.target(environ), delivered])
    return table(["DESTINATION", "KIND", "ON", "SELECT", "SENDS TO", "LAST ALERT (UTC)"], lines)


def destinations_document(
    rows: Sequence[DestinationRow], environ: Mapping[str, str]
) -> dict[str, Any]:
    return {"version": JSON_VERSION, "destinations": [row.to_json(environ) for row in rows]}

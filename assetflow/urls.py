"""Connection URLs as messages may show them: the password replaced by ``***``.

Any layer may need to name a server in a message (the metadata store, an io kind
that loads into a database), and none may show its password; this is the one
rule for both, below them all.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, unquote, urlsplit

#: What a password is shown as.
REDACTED = "***"

_AUTHORITY_PASSWORD = re.compile(
    r"^(?P<head>(?:[A-Za-z][A-Za-z0-9+.-]*:)?(?://)?[^/?#:@]*):[^/?#@]*@"
)
_QUERY_PASSWORD = re.compile(r"(?P<head>[?&]password=)[^&#]*", re.IGNORECASE)


def redact_url(url: str) -> str:
    """``url`` with the password of its authority or query replaced by ``***``."""
    shown = _AUTHORITY_PASSWORD.sub(rf"\g<head>:{REDACTED}@", url, count=1)
    return _QUERY_PASSWORD.sub(rf"\g<head>{REDACTED}", shown)


def connection_text(url: str) -> str:
    """The host, port, database and user a PostgreSQL URL names, for messages (no password):
    ``host db.example.com:5432, database meta, user assetflow``. Query options
    (``?host=...&user=...``) count as libpq reads them."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    host = query.get("host") or parts.hostname or "localhost"
    try:
        port = query.get("port") or (str(parts.port) if parts.port else "")
    except ValueError:
        port = ""
    database = query.get("dbname") or unquote(parts.path.lstrip("/")) or "(default database)"
    user = query.get("user") or (unquote(parts.username) if parts.username else "(default user)")
    return f"host {host}{':' + port if port else ''}, database {database}, user {user}"

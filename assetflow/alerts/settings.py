"""Alert destinations: the `[tool.assetflow.alerts.NAME]` tables as frozen pydantic models.

A destination is one of four kinds, `slack`, `webhook`, `email` and `command`, told
apart by its `kind` setting. Settings hold the *names* of environment variables for
every secret (`url_env`, `secret_env`, `headers_env`, `user_env`, `password_env`),
never their values: a secret is read from the environment only when an alert is sent
(`resolve_secret`), so it never reaches a model, its repr, the store or a message.
Every bad setting becomes a one-paragraph `ProjectError` that names the table and
the setting; pydantic's own error text never reaches the user.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Literal, TypeAlias
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from assetflow.errors import (
    EXIT_USAGE,
    AssetflowError,
    ProjectError,
    as_written,
    did_you_mean,
    kind_of,
    suggest,
)

# The events a destination can ask for: the store keeps them on each queued alert.
from assetflow.store.alerts import ALERT_EVENTS as ALERT_EVENTS
from assetflow.store.alerts import AlertEvent as AlertEvent
from assetflow.timetext import parse_duration

#: The kinds of destination, in the order they are documented.
KINDS = ("slack", "webhook", "email", "command")

#: What a destination's name may be: it keys the outbox rows and `assetflow alerts test NAME`.
_NAME = re.compile(r"[A-Za-z0-9_-]{1,100}")
#: An environment variable's name as POSIX shells write it.
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: A header's name: an HTTP token.
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
#: Headers that carry credentials: their values are secrets, so they come from headers_env.
_CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
#: Words in a header's name that say its value is a secret ("X-Api-Key", "X-Auth-Token").
_CREDENTIAL_WORDS = ("token", "secret", "password", "api-key", "apikey")


class MissingSecret(AssetflowError):
    """A secret's environment variable is not set, or empty, when an alert is sent."""

    exit_code = EXIT_USAGE

    def __init__(self, variable: str, destination: str, setting: str, *, empty: bool) -> None:
        self.variable = variable
        self.destination = destination
        self.setting = setting
        self.empty = empty
        state = "is empty" if empty else "is not set"
        super().__init__(
            f"The environment variable {variable} {state}, but the alert destination "
            f"'{destination}' reads its {setting} from it ({setting} = \"{variable}\" in "
            f"[tool.assetflow.alerts.{destination}]). Set {variable} in the environment of "
            "the process that sends alerts (the scheduler, or the command that runs), "
            f"or point {setting} at another variable."
        )

    @property
    def detail(self) -> str:
        """The short form a delivery records: "SLACK_WEBHOOK_URL is not set"."""
        return f"{self.variable} {'is empty' if self.empty else 'is not set'}"


def resolve_secret(
    env_name: str,
    environ: Mapping[str, str],
    destination: Destination | str,
    setting: str,
) -> str:
    """The value of a secret's environment variable, read at send time.

    Args:
        env_name: The variable's name, as the setting gives it ("SLACK_WEBHOOK_URL").
        environ: Where to read it (``os.environ`` in a process that sends alerts).
        destination: The destination (or its name), for the message.
        setting: The setting that names the variable ("url_env"), for the message.

    Raises:
        MissingSecret: the variable is not set or empty (its message names the
            variable and the destination, never a value).
    """
    name = destination if isinstance(destination, str) else destination.name
    value = environ.get(env_name)
    if not value:
        raise MissingSecret(env_name, name, setting, empty=value is not None)
    return value


def is_http_url(url: str) -> bool:
    """Whether a text is an http:// or https:// URL with a host."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


# -- the models ----------------------------------------------------------------------------


class _Common(BaseModel):
    """The settings every kind of destination has."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    on: tuple[AlertEvent, ...] = ALERT_EVENTS
    select: str = "*"
    timeout: float = Field(default=10.0, gt=0, le=600)
    retry_for: str = "1h"
    ui_url: str | None = None

    @field_validator("name")
    @classmethod
    def _check_name(cls, name: str) -> str:
        if not _NAME.fullmatch(name):
            raise ValueError(
                f"'{name}' cannot name an alert destination: use letters, digits, '-' and '_' "
                "(at most 100 characters), e.g. [tool.assetflow.alerts.team-slack]"
            )
        return name

    @field_validator("on")
    @classmethod
    def _check_on(cls, on: tuple[AlertEvent, ...]) -> tuple[AlertEvent, ...]:
        if not on:
            raise ValueError(
                "on = [] asks for no event, so nothing would ever be sent: list the events "
                "you want, from " + ", ".join(ALERT_EVENTS) + ", or remove the line for all"
            )
        return tuple(dict.fromkeys(on))

    @field_validator("retry_for")
    @classmethod
    def _check_retry_for(cls, retry_for: str) -> str:
        _as_value_error(lambda: parse_duration(retry_for, "retry_for", error=ProjectError))
        return retry_for

    @field_validator("ui_url")
    @classmethod
    def _check_ui_url(cls, url: str | None) -> str | None:
        if url is not None and not is_http_url(url):
            raise ValueError(_not_http("ui_url", url))
        return url

    @property
    def retry_period(self) -> timedelta:
        """How long a failing delivery keeps being retried (`retry_for` parsed)."""
        return parse_duration(self.retry_for, "retry_for", error=ProjectError)


class _HttpCommon(_Common):
    """The settings of the destinations that POST to a URL: `url` or `url_env`."""

    url: str | None = Field(default=None, repr=False)
    url_env: str | None = None

    @field_validator("url")
    @classmethod
    def _check_url(cls, url: str | None) -> str | None:
        if url is not None and not is_http_url(url):
            raise ValueError(_not_http("url", url))
        return url

    @field_validator("url_env")
    @classmethod
    def _check_url_env(cls, variable: str | None) -> str | None:
        return _env_name("url_env", variable)

    @model_validator(mode="after")
    def _check_one_url(self) -> _HttpCommon:
        if self.url is not None and self.url_env is not None:
            raise ValueError(
                "has both url and url_env, but the destination posts to one address: keep "
                "url_env (the URL read from that environment variable when sending, the way "
                "to keep a secret URL out of the project) or url, not both"
            )
        if self.url is None and self.url_env is None:
            raise ValueError(
                "has neither url nor url_env, so there is nowhere to send to: add "
                'url_env = "NAME_OF_A_VARIABLE" holding the URL (recommended: a webhook URL '
                'is a secret), or url = "https://..."'
            )
        return self


class SlackSettings(_HttpCommon):
    """A Slack incoming webhook: the alert as blocks, posted to `url` / `url_env`."""

    kind: Literal["slack"] = "slack"
    channel: str | None = None
    username: str | None = None


class WebhookSettings(_HttpCommon):
    """Any HTTP receiver: the versioned JSON body, optionally signed with HMAC-SHA256."""

    kind: Literal["webhook"] = "webhook"
    secret_env: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    headers_env: dict[str, str] = Field(default_factory=dict)

    @field_validator("secret_env")
    @classmethod
    def _check_secret_env(cls, variable: str | None) -> str | None:
        return _env_name("secret_env", variable)

    @field_validator("headers")
    @classmethod
    def _check_headers(cls, headers: dict[str, str]) -> dict[str, str]:
        for header, value in headers.items():
            _check_header_name("headers", header)
            lowered = header.lower()
            if lowered in _CREDENTIAL_HEADERS or any(w in lowered for w in _CREDENTIAL_WORDS):
                raise ValueError(
                    f"headers has '{header}', whose value is a credential, and headers are "
                    "written in the project for everyone to read: use headers_env instead, "
                    f'which names an environment variable holding it: headers_env = {{ "{header}" '
                    '= "NAME_OF_A_VARIABLE" }'
                )
            if "\r" in value or "\n" in value:
                raise ValueError(f"headers: the value of '{header}' has a line break")
        return headers

    @field_validator("headers_env")
    @classmethod
    def _check_headers_env(cls, headers: dict[str, str]) -> dict[str, str]:
        for header, variable in headers.items():
            _check_header_name("headers_env", header)
            _env_name(f"headers_env.{header}", variable)
        return headers

    @model_validator(mode="after")
    def _check_header_twice(self) -> WebhookSettings:
        twice = {h.lower() for h in self.headers} & {h.lower() for h in self.headers_env}
        if twice:
            raise ValueError(
                f"the header '{sorted(twice)[0]}' is in both headers and headers_env: keep one"
            )
        return self


def _default_sender() -> str:
    return f"assetflow@{socket.gethostname() or 'localhost'}"


class EmailSettings(_Common):
    """Mail through an SMTP server, with STARTTLS or implicit TLS and an optional login."""

    kind: Literal["email"] = "email"
    smtp_host: str
    smtp_port: int | None = Field(default=None, ge=1, le=65535, strict=True)
    starttls: bool = Field(default=True, strict=True)
    tls: bool = Field(default=False, strict=True)
    user_env: str | None = None
    password_env: str | None = None
    sender: str = Field(default_factory=_default_sender)
    to: tuple[str, ...]

    @model_validator(mode="before")
    @classmethod
    def _starttls_follows_tls(cls, data: Any) -> Any:
        """`tls = true` alone means implicit TLS: starttls then defaults to false."""
        if isinstance(data, Mapping) and data.get("tls") is True and "starttls" not in data:
            return {**data, "starttls": False}
        return data

    @field_validator("smtp_host")
    @classmethod
    def _check_host(cls, host: str) -> str:
        if not host.strip() or "/" in host or ":" in host.strip("[]"):
            raise ValueError(
                f'smtp_host = "{host}" is not a host name: write the server\'s name only, '
                'e.g. smtp_host = "smtp.example.com", and its port in smtp_port'
            )
        return host

    @field_validator("user_env", "password_env")
    @classmethod
    def _check_env(cls, variable: str | None) -> str | None:
        return _env_name("user_env or password_env", variable)

    @field_validator("sender")
    @classmethod
    def _check_sender(cls, sender: str) -> str:
        if "@" not in sender or any(c in sender for c in "\r\n"):
            raise ValueError(
                f'sender = "{sender}" is not a mail address: write e.g. '
                'sender = "assetflow@example.com"'
            )
        return sender

    @field_validator("to")
    @classmethod
    def _check_to(cls, to: tuple[str, ...]) -> tuple[str, ...]:
        if not to:
            raise ValueError(
                "to = [] has no address, so nobody would be told: write e.g. "
                'to = ["data-oncall@example.com"]'
            )
        for address in to:
            if "@" not in address or any(c in address for c in "\r\n,"):
                raise ValueError(
                    f'to has "{address}", which is not a mail address: write one address per '
                    'item, e.g. to = ["data-oncall@example.com"]'
                )
        return to

    @model_validator(mode="after")
    def _check_tls_and_login(self) -> EmailSettings:
        if self.starttls and self.tls:
            raise ValueError(
                "has both starttls = true and tls = true, but a connection is either "
                "upgraded with STARTTLS (port 587) or encrypted from the start (tls = true, "
                "port 465): keep the one your server speaks"
            )
        if (self.user_env is None) != (self.password_env is None):
            given, missing = ("user_env", "password_env")[:: 1 if self.user_env else -1]
            raise ValueError(
                f"has {given} but not {missing}: a login needs both, each naming an "
                "environment variable; give both, or neither for a server without login"
            )
        return self

    @property
    def port(self) -> int:
        """`smtp_port`, else 465 for implicit TLS, 587 for STARTTLS, 25 for neither."""
        if self.smtp_port is not None:
            return self.smtp_port
        return 465 if self.tls else 587 if self.starttls else 25


class CommandSettings(_Common):
    """A program run without a shell, given the alert as JSON on stdin and ASSETFLOW_* vars."""

    kind: Literal["command"] = "command"
    command: tuple[str, ...]
    env: dict[str, str] = Field(default_factory=dict)

    @field_validator("command", mode="before")
    @classmethod
    def _refuse_string(cls, command: Any) -> Any:
        if isinstance(command, str):
            example = json.dumps(command.split() or ["notify-oncall"])
            raise ValueError(
                f"command = {json.dumps(command)} is a string: give a list, it runs without a "
                f"shell, one item per argument, e.g. command = {example}"
            )
        return command

    @field_validator("command")
    @classmethod
    def _check_command(cls, command: tuple[str, ...]) -> tuple[str, ...]:
        if not command or not command[0]:
            raise ValueError(
                "command is empty: give the program and its arguments, e.g. command = "
                '["notify-oncall", "--team", "data"]'
            )
        return command

    @field_validator("env")
    @classmethod
    def _check_env(cls, env: dict[str, str]) -> dict[str, str]:
        for variable in env:
            _env_name("env", variable)
        return env


#: One destination, of any kind; each has `.name` and `.kind`.
Destination: TypeAlias = SlackSettings | WebhookSettings | EmailSettings | CommandSettings
_MODELS: dict[str, type[_Common]] = {
    "slack": SlackSettings,
    "webhook": WebhookSettings,
    "email": EmailSettings,
    "command": CommandSettings,
}


def _not_http(setting: str, url: str) -> str:
    scheme = urlsplit(url).scheme if "://" in url else ""
    what = f"not an http(s) URL (its scheme is {scheme})" if scheme else "not a URL"
    return (
        f'{setting} = "{url}" is {what}, but alerts are sent over HTTP: write an http:// '
        f'or https:// address, e.g. {setting} = "https://example.com/hooks/assetflow"'
    )


def _env_name(setting: str, variable: str | None) -> str | None:
    if variable is not None and not _ENV_NAME.fullmatch(variable):
        raise ValueError(
            f'{setting} = "{variable}" is not the name of an environment variable: it names '
            "the variable that holds the secret (letters, digits and '_'), e.g. "
            '"SLACK_WEBHOOK_URL", never the secret itself'
        )
    return variable


def _check_header_name(setting: str, header: str) -> None:
    if not _HEADER_NAME.fullmatch(header):
        raise ValueError(f"{setting}: '{header}' is not a header name, e.g. 'X-Team'")


def _as_value_error(check: Any) -> None:
    """Run a check; its ProjectError becomes the ValueError pydantic collects."""
    try:
        check()
    except ProjectError as error:
        raise ValueError(error.message) from None


# -- parsing the tables, with our messages -------------------------------------------------


def parse_destinations(
    tables: Mapping[str, Mapping[str, Any]], where: str
) -> dict[str, Destination]:
    """The destinations of a parsed `[tool.assetflow.alerts]` table ({name: {settings}}).

    Args:
        tables: Each destination's name and its table of settings.
        where: The config file's display name ("pyproject.toml"), for messages.

    Returns:
        Each destination by its name, in the order of the tables.

    Raises:
        ProjectError: one message with every problem of every destination.
    """
    built: dict[str, Destination] = {}
    problems: list[str] = []
    for name, settings in tables.items():
        place = f"[tool.assetflow.alerts.{name}] in {where}"
        one, found = _build(str(name), settings, place)
        problems.extend(found)
        if one is not None:
            built[one.name] = one
    if problems:
        sentences = [p if p.endswith((".", "?")) else p + "." for p in problems]
        if len(sentences) == 1:
            raise ProjectError(sentences[0])
        raise ProjectError(
            f"{where} has {len(sentences)} alert destination problems:\n\n" + "\n\n".join(sentences)
        )
    return built


def _build(name: str, settings: Any, place: str) -> tuple[Destination | None, list[str]]:
    """A destination, or None and every problem with its settings, each a sentence."""
    if not isinstance(settings, Mapping):
        return None, [
            f"{place}: an alert destination is a table of settings, not {kind_of(settings)}: "
            f'write [tool.assetflow.alerts.{name}] followed by lines such as kind = "slack"'
        ]
    if "name" in settings:
        return None, [
            f"{place}: has a 'name' setting, but the table's own name is the destination's "
            "name: remove the line"
        ]
    kind = settings.get("kind")
    if kind is None:
        return None, [
            f'{place}: has no kind, so it is not known how to send to it: add kind = "slack" '
            "(or one of " + ", ".join(KINDS) + ")"
        ]
    model = _MODELS.get(kind) if isinstance(kind, str) else None
    if model is None:
        hint = did_you_mean(suggest(str(kind), KINDS))
        return None, [
            f"{place}: kind = {as_written(kind)} is not a kind of alert destination. "
            + (hint + " " if hint else "")
            + "The kinds are: "
            + ", ".join(KINDS)
        ]
    try:
        built = model.model_validate({"name": name, **settings})
    except ValidationError as error:
        problems: list[str] = []
        for item in error.errors():
            text = _explain(item, place, model)
            if text not in problems:
                problems.append(text)
        return None, problems
    assert isinstance(built, SlackSettings | WebhookSettings | EmailSettings | CommandSettings)
    return built, []


def _explain(item: Any, place: str, model: type[_Common]) -> str:
    """One pydantic error as our sentence: the place, the setting, what is allowed."""
    location = [str(part) for part in item["loc"]]
    setting = location[0] if location else "the destination"
    kind = item["type"]
    value = item.get("input")
    if kind == "value_error":
        return f"{place}: {item['ctx']['error']}"
    if kind == "extra_forbidden":
        known = sorted(set(model.model_fields) - {"name"})
        hint = did_you_mean(suggest(location[-1], known))
        return (
            f"{place}: unknown setting '{location[-1]}' for a destination of kind "
            f"{as_written(model.model_fields['kind'].default)}. "
            + (hint + " " if hint else "")
            + "The settings are: "
            + ", ".join(known)
        )
    if kind == "literal_error" and setting == "on":
        hint = did_you_mean(suggest(str(value), ALERT_EVENTS))
        return (
            f"{place}: on has {as_written(value)}, which is not an alert event. "
            + (hint + " " if hint else "")
            + "The events are: "
            + ", ".join(ALERT_EVENTS)
        )
    if kind == "missing":
        return f"{place}: the setting '{setting}' is missing"
    if kind in ("greater_than", "greater_than_equal", "less_than_equal"):
        limits = {"timeout": "more than 0 and at most 600 seconds", "smtp_port": "1 to 65535"}
        return f"{place}: {setting} = {as_written(value)} is out of range: use {limits[setting]}"
    if kind.startswith(("int", "float")):
        return f"{place}: {setting} = {as_written(value)} is not a number"
    if kind.startswith("bool"):
        return f"{place}: {setting} = {as_written(value)} is not true or false"
    if kind.startswith("string"):
        return (
            f"{place}: {'.'.join(location)} = {as_written(value)} is not a string: put it in quotes"
        )
    if kind in ("dict_type", "model_type"):
        return (
            f"{place}: {setting} = {as_written(value)} is not a table, e.g. {setting} = {{ ... }}"
        )
    if kind in ("tuple_type", "list_type"):
        return f"{place}: {setting} = {as_written(value)} is not a list, e.g. {setting} = [...]"
    return f"{place}: {setting} = {as_written(value)} is not valid here"

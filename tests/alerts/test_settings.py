"""The [tool.assetflow.alerts.NAME] tables: each kind's settings, defaults and every refusal."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from assetflow.alerts.settings import (
    ALERT_EVENTS,
    CommandSettings,
    EmailSettings,
    MissingSecret,
    SlackSettings,
    WebhookSettings,
    parse_destinations,
    resolve_secret,
)
from assetflow.errors import EXIT_USAGE, ProjectError

WHERE = "pyproject.toml"


def one(settings: dict[str, Any], name: str = "team") -> Any:
    return parse_destinations({name: settings}, WHERE)[name]


def refused(settings: dict[str, Any], name: str = "team") -> str:
    with pytest.raises(ProjectError) as caught:
        parse_destinations({name: settings}, WHERE)
    assert caught.value.exit_code == EXIT_USAGE
    message = caught.value.message
    assert f"[tool.assetflow.alerts.{name}] in pyproject.toml" in message
    return message


def test_each_kind_parses_with_its_defaults() -> None:
    found = parse_destinations(
        {
            "team-slack": {"kind": "slack", "url_env": "SLACK_WEBHOOK_URL"},
            "hook": {"kind": "webhook", "url": "https://example.com/h", "secret_env": "KEY"},
            "oncall_mail": {"kind": "email", "smtp_host": "smtp.example.com", "to": ["a@b.c"]},
            "page": {"kind": "command", "command": ["notify-oncall", "--team", "data"]},
        },
        WHERE,
    )
    assert list(found) == ["team-slack", "hook", "oncall_mail", "page"]
    slack = found["team-slack"]
    assert isinstance(slack, SlackSettings)
    assert (slack.name, slack.kind, slack.url_env, slack.url) == (
        "team-slack",
        "slack",
        "SLACK_WEBHOOK_URL",
        None,
    )
    assert slack.on == ALERT_EVENTS
    assert (slack.select, slack.timeout, slack.retry_for, slack.ui_url) == ("*", 10, "1h", None)
    assert slack.retry_period == timedelta(hours=1)
    assert isinstance(found["hook"], WebhookSettings)
    mail = found["oncall_mail"]
    assert isinstance(mail, EmailSettings)
    assert (mail.port, mail.starttls, mail.tls) == (587, True, False)
    assert mail.sender.startswith("assetflow@")
    command = found["page"]
    assert isinstance(command, CommandSettings)
    assert command.command == ("notify-oncall", "--team", "data")


def test_models_are_frozen() -> None:
    slack = one({"kind": "slack", "url_env": "X"})
    with pytest.raises(ValueError):
        slack.select = "other"


def test_implicit_tls_defaults_to_port_465_without_starttls() -> None:
    mail = one({"kind": "email", "smtp_host": "h", "to": ["a@b"], "tls": True})
    assert (mail.port, mail.starttls, mail.tls) == (465, False, True)
    plain = one({"kind": "email", "smtp_host": "h", "to": ["a@b"], "starttls": False})
    assert plain.port == 25
    given = one({"kind": "email", "smtp_host": "h", "to": ["a@b"], "smtp_port": 2525})
    assert given.port == 2525


def test_on_and_retry_for_and_select_are_kept() -> None:
    slack = one(
        {
            "kind": "slack",
            "url": "https://hooks.example.com/x",
            "on": ["run_failed", "recovered", "run_failed"],
            "select": "tag:nightly",
            "retry_for": "30m",
            "timeout": 2.5,
        }
    )
    assert slack.on == ("run_failed", "recovered")
    assert slack.select == "tag:nightly"
    assert slack.retry_period == timedelta(minutes=30)
    assert slack.timeout == 2.5


def test_a_direct_url_is_not_in_the_repr() -> None:
    slack = one({"kind": "slack", "url": "https://hooks.example.com/T000/B000/XXXX"})
    assert "XXXX" not in repr(slack)


def test_unknown_kind_suggests_the_closest() -> None:
    message = refused({"kind": "slak", "url": "https://x.example"})
    assert 'kind = "slak" is not a kind of alert destination' in message
    assert "Did you mean 'slack'?" in message
    assert "The kinds are: slack, webhook, email, command" in message


def test_missing_kind_is_named() -> None:
    assert "has no kind" in refused({"url": "https://x.example"})


def test_an_on_typo_suggests_the_event() -> None:
    message = refused({"kind": "slack", "url_env": "X", "on": ["run_faild"]})
    assert 'on has "run_faild", which is not an alert event' in message
    assert "Did you mean 'run_failed'?" in message
    assert "scheduler_down" in message


def test_empty_on_is_refused() -> None:
    assert "on = [] asks for no event" in refused({"kind": "slack", "url_env": "X", "on": []})


@pytest.mark.parametrize("url", ["ftp://example.com/x", "example.com/hook", "file:///etc/x"])
def test_a_url_that_is_not_http_is_refused(url: str) -> None:
    message = refused({"kind": "webhook", "url": url}, name="hook")
    assert f'url = "{url}" is not' in message
    assert "write an http:// or https:// address" in message


def test_a_ui_url_that_is_not_http_is_refused() -> None:
    message = refused({"kind": "slack", "url_env": "X", "ui_url": "localhost:8000"})
    assert 'ui_url = "localhost:8000" is not a URL' in message


def test_url_and_url_env_together_are_refused() -> None:
    message = refused({"kind": "slack", "url": "https://x.example", "url_env": "SLACK"})
    assert "has both url and url_env" in message


def test_neither_url_nor_url_env_is_refused() -> None:
    assert "has neither url nor url_env" in refused({"kind": "webhook"})


def test_url_env_must_name_a_variable() -> None:
    message = refused({"kind": "slack", "url_env": "https://hooks.slack.com/T/B/x"})
    assert "is not the name of an environment variable" in message
    assert "never the secret itself" in message


def test_command_as_a_string_is_refused() -> None:
    message = refused({"kind": "command", "command": "notify-oncall --team data"})
    assert "give a list, it runs without a shell" in message
    assert 'command = ["notify-oncall", "--team", "data"]' in message


def test_an_empty_command_is_refused() -> None:
    assert "command is empty" in refused({"kind": "command", "command": []})


@pytest.mark.parametrize("header", ["Authorization", "authorization", "X-Api-Key", "Cookie"])
def test_credential_headers_are_refused(header: str) -> None:
    message = refused({"kind": "webhook", "url": "https://x.example", "headers": {header: "v"}})
    assert f"headers has '{header}', whose value is a credential" in message
    assert "use headers_env" in message


def test_headers_env_is_accepted_for_authorization() -> None:
    hook = one(
        {
            "kind": "webhook",
            "url": "https://x.example",
            "headers": {"X-Team": "data"},
            "headers_env": {"Authorization": "HOOK_TOKEN"},
        }
    )
    assert hook.headers == {"X-Team": "data"}
    assert hook.headers_env == {"Authorization": "HOOK_TOKEN"}


def test_starttls_and_tls_together_are_refused() -> None:
    message = refused(
        {"kind": "email", "smtp_host": "h", "to": ["a@b"], "starttls": True, "tls": True}
    )
    assert "has both starttls = true and tls = true" in message


def test_user_without_password_is_refused() -> None:
    message = refused({"kind": "email", "smtp_host": "h", "to": ["a@b"], "user_env": "U"})
    assert "has user_env but not password_env" in message
    message = refused({"kind": "email", "smtp_host": "h", "to": ["a@b"], "password_env": "P"})
    assert "has password_env but not user_env" in message


def test_email_needs_recipients() -> None:
    assert "to = [] has no address" in refused({"kind": "email", "smtp_host": "h", "to": []})
    assert "the setting 'to' is missing" in refused({"kind": "email", "smtp_host": "h"})
    message = refused({"kind": "email", "smtp_host": "h", "to": ["oncall"]})
    assert 'to has "oncall", which is not a mail address' in message


def test_smtp_host_with_a_port_is_refused() -> None:
    message = refused({"kind": "email", "smtp_host": "smtp.example.com:587", "to": ["a@b"]})
    assert "is not a host name" in message


def test_unknown_setting_suggests_the_closest() -> None:
    message = refused({"kind": "email", "smtp_host": "h", "to": ["a@b"], "tiemout": 3})
    assert "unknown setting 'tiemout'" in message
    assert "Did you mean 'timeout'?" in message


def test_bad_retry_for_and_timeout() -> None:
    message = refused({"kind": "slack", "url_env": "X", "retry_for": "an hour"})
    assert 'retry_for = "an hour" is not a duration' in message
    assert "timeout = 0 is out of range" in refused({"kind": "slack", "url_env": "X", "timeout": 0})


def test_bad_destination_names() -> None:
    message = refused({"kind": "slack", "url_env": "X"}, name="team slack")
    assert "'team slack' cannot name an alert destination" in message
    message = refused({"kind": "slack", "url_env": "X", "name": "other"})
    assert "has a 'name' setting" in message


def test_a_destination_that_is_not_a_table() -> None:
    with pytest.raises(ProjectError, match="is a table of settings, not a string"):
        parse_destinations({"team": "slack"}, WHERE)  # type: ignore[dict-item]


def test_several_problems_come_in_one_message() -> None:
    with pytest.raises(ProjectError) as caught:
        parse_destinations({"a": {"kind": "slak"}, "b": {"kind": "command", "command": "x"}}, WHERE)
    message = caught.value.message
    assert message.startswith("pyproject.toml has 2 alert destination problems:")
    assert "[tool.assetflow.alerts.a]" in message
    assert "[tool.assetflow.alerts.b]" in message


def test_resolve_secret_reads_the_variable() -> None:
    slack = one({"kind": "slack", "url_env": "SLACK_WEBHOOK_URL"})
    assert resolve_secret("SLACK_WEBHOOK_URL", {"SLACK_WEBHOOK_URL": "v"}, slack, "url_env") == "v"


@pytest.mark.parametrize(
    ("environ", "state"), [({}, "is not set"), ({"SLACK_URL": ""}, "is empty")]
)
def test_a_missing_secret_names_the_variable_and_destination(
    environ: dict[str, str], state: str
) -> None:
    with pytest.raises(MissingSecret) as caught:
        resolve_secret("SLACK_URL", environ, "team-slack", "url_env")
    error = caught.value
    assert error.message.startswith(f"The environment variable SLACK_URL {state}")
    assert "destination 'team-slack'" in error.message
    assert "[tool.assetflow.alerts.team-slack]" in error.message
    assert error.detail == f"SLACK_URL {state}"
    assert error.exit_code == EXIT_USAGE

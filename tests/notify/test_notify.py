from __future__ import annotations

import json
import random
from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stagewise import ConfigError, DataValidationError
from stagewise.notify import (
    AlertMessage,
    DiscordNotifier,
    EmailNotifier,
    Notifier,
    RetryPolicy,
    SlackNotifier,
    WebhookNotifier,
    notifiers_from_env,
)

SLACK = "https://hooks.slack.com/services/T1/B2/verysecrettoken"


def test_every_configured_channel_is_built_from_the_environment() -> None:
    environ = {
        "STAGEWISE_SLACK_WEBHOOK_URL": SLACK,
        "STAGEWISE_DISCORD_WEBHOOK_URL": "https://discord.com/api/webhooks/1/abc",
        "STAGEWISE_WEBHOOK_URL": "https://example.org/hooks/stagewise",
        "STAGEWISE_WEBHOOK_SECRET": "shh",
        "STAGEWISE_SMTP_HOST": "smtp.example.org",
        "STAGEWISE_SMTP_USER": "alerts",
        "STAGEWISE_SMTP_PASSWORD": "pw",
        "STAGEWISE_SMTP_FROM": "bot@example.org",
        "STAGEWISE_SMTP_TO": "ops@example.org",
    }
    notifiers = notifiers_from_env(environ)
    assert [type(n) for n in notifiers] == [SlackNotifier, DiscordNotifier, WebhookNotifier, EmailNotifier]
    assert all(isinstance(n, Notifier) for n in notifiers)
    email = notifiers[3]
    assert isinstance(email, EmailNotifier)
    assert (email.port, email.security) == (587, "starttls")
    assert "verysecrettoken" not in repr(notifiers)


def test_nothing_configured_means_no_notifiers() -> None:
    assert notifiers_from_env({"PATH": "/usr/bin", "STAGEWISE_SLACK_WEBHOOK_URL": "  "}) == []


@pytest.mark.parametrize(
    ("environ", "match"),
    [
        ({"STAGEWISE_SLACK_WEBHOOK_URL": "hooks.slack.com/x/secret"}, "SLACK_WEBHOOK_URL\\) must be an http"),
        ({"STAGEWISE_WEBHOOK_URL": "ftp://secret@host/x"}, "STAGEWISE_WEBHOOK_URL\\) must be an http"),
        ({"STAGEWISE_WEBHOOK_SECRET": "secret"}, "STAGEWISE_WEBHOOK_SECRET is set but STAGEWISE_WEBHOOK_URL"),
        ({"STAGEWISE_SMTP_HOST": "h", "STAGEWISE_SMTP_FROM": "a@b.c"}, "STAGEWISE_SMTP_TO is not"),
        ({"STAGEWISE_SMTP_PASSWORD": "secret"}, "STAGEWISE_SMTP_PASSWORD set but STAGEWISE_SMTP_HOST"),
        (
            {"STAGEWISE_SMTP_HOST": "h", "STAGEWISE_SMTP_FROM": "a@b.c", "STAGEWISE_SMTP_TO": "d@e.f",
             "STAGEWISE_SMTP_PORT": "smtp"},
            "STAGEWISE_SMTP_PORT must be an integer port",
        ),
    ],
    ids=["no-scheme", "ftp", "secret-alone", "no-recipient", "password-alone", "bad-port"],
)  # fmt: skip
def test_half_configured_channels_fail_loudly_without_echoing_secrets(
    environ: dict[str, str], match: str
) -> None:
    with pytest.raises(ConfigError, match=match) as info:
        notifiers_from_env(environ)
    assert "secret" not in str(info.value).replace("SECRET", "")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"title": " "}, "'title' .* non-empty"),
        ({"severity": "fatal"}, "'severity' .* Got 'fatal'"),
        ({"status": "open"}, "'status' .* Got 'open'"),
        ({"fields": {"x": [1, 2]}}, "'fields' .* Got 'x': list"),
        ({"occurred_at": datetime(2024, 5, 1)}, "'occurred_at' .* timezone-aware"),
    ],
)
def test_malformed_messages_are_rejected(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(DataValidationError, match=match):
        AlertMessage(**{"title": "t", "text": "x", **kwargs})  # type: ignore[arg-type]


def test_the_fingerprint_is_stable_and_can_be_given() -> None:
    assert AlertMessage("same", "a").fingerprint == AlertMessage("same", "b").fingerprint
    assert AlertMessage("same", "a").fingerprint != AlertMessage("other", "a").fingerprint
    assert AlertMessage("x", "", fingerprint="rollout:ml_v2").fingerprint == "rollout:ml_v2"


@given(
    title=st.text(min_size=1).filter(str.strip),
    text=st.text(),
    fields=st.dictionaries(
        st.text(), st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text())
    ),
)
def test_any_message_serialises_to_strict_json_within_chat_limits(
    title: str, text: str, fields: dict[str, object]
) -> None:
    message = AlertMessage(title, text, fields=fields)  # type: ignore[arg-type]
    json.dumps(message.to_dict(), allow_nan=False)
    discord = DiscordNotifier("https://discord.com/api/webhooks/1/x").payload(message)
    assert len(discord["content"]) <= 2000
    assert len(discord["embeds"][0]["fields"]) <= 25
    assert all(len(f["value"]) <= 1024 for f in discord["embeds"][0]["fields"])
    slack = SlackNotifier(SLACK).payload(message)
    assert len(slack["blocks"][0]["text"]["text"]) <= 150
    assert all(len(b.get("text", {}).get("text", "")) <= 3000 for b in slack["blocks"])


@given(attempt=st.integers(1, 5000), seed=st.integers(0, 10**6))
def test_backoff_never_exceeds_its_cap_and_never_goes_negative(attempt: int, seed: int) -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=30.0, jitter=0.5)
    wait = policy.delay(attempt, random.Random(seed))
    cap = min(30.0, 0.5 * 2.0 ** min(attempt - 1, 60))
    assert cap / 2 <= wait <= cap


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"max_attempts": 0}, "'max_attempts' .* >= 1. Got 0"),
        ({"timeout": 0}, "'timeout' .* > 0"),
        ({"jitter": 1.5}, "'jitter' .* \\[0, 1\\]. Got 1.5"),
        ({"base_delay": float("nan")}, "'base_delay'"),
    ],
)
def test_bad_retry_policy_is_rejected(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_the_old_monitor_notify_path_names_the_same_objects() -> None:
    import stagewise.monitor
    import stagewise.monitor.notify as old
    import stagewise.notify as new

    for name in new.__all__:
        assert getattr(old, name) is getattr(new, name), name
    for name in ("AlertMessage", "DeliveryResult", "Notifier", "notifiers_from_env", "notify_all"):
        assert getattr(stagewise.monitor, name) is getattr(new, name), name

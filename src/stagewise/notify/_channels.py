"""Sending one message on many channels, and the channels the environment configures."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from stagewise._exceptions import ConfigError
from stagewise.notify._email import SECURITIES, EmailNotifier
from stagewise.notify._http import (
    DiscordNotifier,
    SlackNotifier,
    WebhookNotifier,
)
from stagewise.notify._types import AlertMessage, DeliveryResult, Notifier, RetryPolicy

__all__ = ["notifiers_from_env", "notify_all"]

logger = logging.getLogger("stagewise.notify")

ENV_SLACK = "STAGEWISE_SLACK_WEBHOOK_URL"
ENV_DISCORD = "STAGEWISE_DISCORD_WEBHOOK_URL"
ENV_WEBHOOK = "STAGEWISE_WEBHOOK_URL"
ENV_WEBHOOK_SECRET = "STAGEWISE_WEBHOOK_SECRET"
ENV_SMTP = {
    name: f"STAGEWISE_SMTP_{name.upper()}"
    for name in ("host", "port", "user", "password", "from", "to", "security")
}


def notify_all(
    notifiers: Iterable[Notifier], message: AlertMessage, *, parallel: bool = True
) -> list[DeliveryResult]:
    """Send ``message`` on every channel; one result per notifier, in order; never raises for delivery.

    Channels are tried at the same time (one thread each) unless ``parallel=False``, so a dead
    SMTP server retrying for a minute does not delay the Slack message. A notifier that raises (a
    bug, or a third-party notifier breaking the protocol) is reported as a failed result with the
    exception's type and text, and the other channels are still tried.

    Examples
    --------
    >>> notify_all([], AlertMessage("nothing configured", ""))
    []
    """
    chosen = list(notifiers)
    if not parallel or len(chosen) < 2:
        return [_send_one(notifier, message) for notifier in chosen]
    with ThreadPoolExecutor(max_workers=len(chosen), thread_name_prefix="stagewise-notify") as pool:
        return list(pool.map(lambda notifier: _send_one(notifier, message), chosen))


def _send_one(notifier: Notifier, message: AlertMessage) -> DeliveryResult:
    channel = str(getattr(notifier, "channel", type(notifier).__name__))
    target = str(getattr(notifier, "target", "?"))
    try:
        return notifier.send(message)
    except Exception as exc:  # delivery must never take the caller down
        logger.warning(
            "%s notifier raised while sending %r: %s", channel, message.fingerprint, type(exc).__name__
        )
        return DeliveryResult(channel, target, False, 1, None, f"{type(exc).__name__}: {exc}")


def _get(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name)
    return value.strip() if value is not None and value.strip() else None


def notifiers_from_env(
    environ: Mapping[str, str] | None = None, *, policy: RetryPolicy | None = None, **options: Any
) -> list[Notifier]:
    """The notifiers configured in ``environ`` (default ``os.environ``): Slack, Discord, webhook, e-mail.

    ``options`` (``sleep``, ``now``, ``rng``) are passed to every notifier, for tests and for
    callers with their own clock. A channel that is half configured raises :class:`ConfigError`
    naming the missing or bad variable (never echoing a secret's value).

    Examples
    --------
    >>> [n.channel for n in notifiers_from_env({"STAGEWISE_SLACK_WEBHOOK_URL": "https://hooks.slack.com/x"})]
    ['slack']
    """
    if environ is None:
        import os

        environ = os.environ
    notifiers: list[Notifier] = []
    if url := _get(environ, ENV_SLACK):
        notifiers.append(SlackNotifier(url, policy=policy, **options))
    if url := _get(environ, ENV_DISCORD):
        notifiers.append(DiscordNotifier(url, policy=policy, **options))
    if url := _get(environ, ENV_WEBHOOK):
        notifiers.append(
            WebhookNotifier(url, secret=_get(environ, ENV_WEBHOOK_SECRET), policy=policy, **options)
        )
    elif _get(environ, ENV_WEBHOOK_SECRET):
        raise ConfigError(f"{ENV_WEBHOOK_SECRET} is set but {ENV_WEBHOOK} is not; set both or neither.")
    smtp = {name: _get(environ, variable) for name, variable in ENV_SMTP.items()}
    if smtp["host"]:
        notifiers.append(_email_from(smtp, policy, options))
    else:
        stray = [ENV_SMTP[name] for name, value in smtp.items() if value]
        if stray:
            raise ConfigError(f"{', '.join(stray)} set but {ENV_SMTP['host']} is not; e-mail needs a host.")
    return notifiers


def _email_from(
    smtp: dict[str, str | None], policy: RetryPolicy | None, options: dict[str, Any]
) -> EmailNotifier:
    for name in ("from", "to"):
        if not smtp[name]:
            raise ConfigError(f"{ENV_SMTP['host']} is set but {ENV_SMTP[name]} is not; e-mail needs both.")
    security = smtp["security"] or "starttls"
    if security not in SECURITIES:
        raise ConfigError(f"{ENV_SMTP['security']} must be one of {list(SECURITIES)}. Got {security!r}.")
    default_port = {"starttls": 587, "ssl": 465, "none": 25}[security]
    port_text = smtp["port"] or str(default_port)
    try:
        port = int(port_text)
    except ValueError:
        raise ConfigError(
            f"{ENV_SMTP['port']} must be an integer port in 1..65535. Got {port_text!r}."
        ) from None
    return EmailNotifier(
        str(smtp["host"]),
        port,
        str(smtp["from"]),
        str(smtp["to"]).split(","),
        username=smtp["user"],
        password=smtp["password"],
        security=security,  # type: ignore[arg-type]
        policy=policy,
        **options,
    )

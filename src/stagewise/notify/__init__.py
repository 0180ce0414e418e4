"""Notifications: deliver an alert to Slack, Discord, a generic JSON webhook or e-mail.

A package beside monitor and rollout: the monitor (alerts) and the controller (rollbacks) both
send through it, and it imports neither. Every channel implements :class:`Notifier`
(``send(message) -> DeliveryResult``). Delivery failures are returned, not raised:
:func:`notify_all` tries every channel and gives back one result each, so an alert that could not
be delivered stays recorded by the caller with the reason. Secrets (webhook URLs, the webhook
signing secret, the SMTP password) come from the environment through :func:`notifiers_from_env`
and never appear in results, ``repr`` or logs.

Environment variables (each channel is configured when its first variable is set):

==================================  ==========================================================
``STAGEWISE_SLACK_WEBHOOK_URL``     Slack incoming webhook
``STAGEWISE_DISCORD_WEBHOOK_URL``   Discord webhook
``STAGEWISE_WEBHOOK_URL``           generic JSON webhook; ``STAGEWISE_WEBHOOK_SECRET`` signs it
``STAGEWISE_SMTP_HOST``             SMTP server; with ``STAGEWISE_SMTP_PORT`` (587),
                                    ``STAGEWISE_SMTP_FROM``, ``STAGEWISE_SMTP_TO`` (comma list),
                                    ``STAGEWISE_SMTP_USER`` / ``STAGEWISE_SMTP_PASSWORD`` and
                                    ``STAGEWISE_SMTP_SECURITY`` (starttls | ssl | none)
==================================  ==========================================================
"""

from __future__ import annotations

from stagewise.notify._channels import notifiers_from_env, notify_all
from stagewise.notify._email import EmailNotifier
from stagewise.notify._http import (
    DiscordNotifier,
    SlackNotifier,
    WebhookNotifier,
    sign_payload,
    verify_signature,
)
from stagewise.notify._types import AlertMessage, DeliveryResult, Notifier, RetryPolicy, redact_url

__all__ = [
    "AlertMessage",
    "DeliveryResult",
    "DiscordNotifier",
    "EmailNotifier",
    "Notifier",
    "RetryPolicy",
    "SlackNotifier",
    "WebhookNotifier",
    "notifiers_from_env",
    "notify_all",
    "redact_url",
    "sign_payload",
    "verify_signature",
]

"""Where the notifications lived before they became their own package: :mod:`stagewise.notify`.

Kept so that ``from stagewise.monitor.notify import WebhookNotifier`` (and every other name below)
still works; new code imports :mod:`stagewise.notify`.
"""

from __future__ import annotations

from stagewise.notify import (
    AlertMessage,
    DeliveryResult,
    DiscordNotifier,
    EmailNotifier,
    Notifier,
    RetryPolicy,
    SlackNotifier,
    WebhookNotifier,
    notifiers_from_env,
    notify_all,
    redact_url,
    sign_payload,
    verify_signature,
)

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

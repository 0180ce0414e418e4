"""Slack, Discord and generic JSON webhooks over httpx, with retries that never raise to the caller."""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import logging
import math
import random
import re
import ssl
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from stagewise._exceptions import ConfigError
from stagewise._version import __version__
from stagewise.notify._types import (
    AlertMessage,
    DeliveryResult,
    RetryPolicy,
    format_value,
    redact_url,
)

__all__ = ["DiscordNotifier", "SlackNotifier", "WebhookNotifier", "sign_payload", "verify_signature"]

logger = logging.getLogger("stagewise.notify")

Clock = Callable[[], datetime]
Sleep = Callable[[float], None]

DISCORD_CONTENT_LIMIT = 2000
DISCORD_EMBED_LIMITS = {
    "title": 256,
    "description": 4096,
    "field_name": 256,
    "field_value": 1024,
    "fields": 25,
}
SLACK_SECTION_LIMIT = 3000
SLACK_HEADER_LIMIT = 150
SLACK_FIELDS_LIMIT = 10
SEVERITY_COLOURS = {"info": 0x3498DB, "warning": 0xF1C40F, "critical": 0xE74C3C}
SEVERITY_EMOJI = {"info": ":information_source:", "warning": ":warning:", "critical": ":rotating_light:"}


@functools.cache
def _default_tls() -> ssl.SSLContext:
    # Building a context reloads the CA bundle (~0.1 s); one per process is enough.
    return ssl.create_default_context()


def _utcnow() -> datetime:
    return datetime.now(UTC)


def truncate(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, ending in an ellipsis when cut.

    Examples
    --------
    >>> truncate("abcdef", 4)
    'abc…'
    """
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def sign_payload(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` HMAC-SHA256 of ``timestamp + "." + body`` keyed with ``secret``.

    Examples
    --------
    >>> sign_payload("s3cret", "1700000000", b'{}')[:15]
    'sha256=97926816'
    """
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


_TIMESTAMP = re.compile(r"[0-9]{1,20}(?:\.[0-9]{1,9})?", re.ASCII)
_SIGNATURE = re.compile(r"sha256=[0-9a-f]{64}", re.ASCII)


def verify_signature(
    secret: str,
    body: object,
    timestamp: object,
    signature: object,
    *,
    tolerance: float = 300.0,
    now: datetime | None = None,
) -> bool:
    """Check a webhook delivery on the receiving side (constant-time, rejects stale timestamps).

    Every malformed input is a delivery to refuse, so the answer is ``False`` and never an
    exception: a missing header (``None``), a timestamp that is not ASCII decimal seconds
    (``"nan"``, ``"inf"``, other digits, bytes), a signature that is not ``sha256=`` and 64
    lowercase hex digits (bytes, non-ASCII text), a body that is not bytes, a secret that is
    not a non-empty string. Only ``tolerance`` is the receiver's own setting: a bad one
    raises :class:`~stagewise.ConfigError`.

    Examples
    --------
    >>> sig = sign_payload("k", "100", b"x")
    >>> verify_signature("k", b"x", "100", sig, now=datetime.fromtimestamp(100, UTC))
    True
    >>> verify_signature("k", b"y", "100", sig, now=datetime.fromtimestamp(100, UTC))
    False
    >>> verify_signature("k", b"x", "nan", None, now=datetime.fromtimestamp(100, UTC))
    False
    """
    if isinstance(tolerance, bool) or not isinstance(tolerance, int | float) or not 0 <= tolerance < math.inf:
        raise ConfigError(f"The 'tolerance' must be a finite number of seconds >= 0. Got {tolerance!r}.")
    if type(secret) is not str or not secret:
        return False
    if not isinstance(body, bytes | bytearray | memoryview):
        return False
    if type(timestamp) is not str or not _TIMESTAMP.fullmatch(timestamp):
        return False
    if type(signature) is not str or not _SIGNATURE.fullmatch(signature):
        return False
    moment = (now or _utcnow()).timestamp()
    if abs(moment - float(timestamp)) > tolerance:
        return False
    return hmac.compare_digest(sign_payload(secret, timestamp, bytes(body)), signature)


def _retry_after(response: httpx.Response, now: datetime) -> float | None:
    """Seconds from ``Retry-After`` (delta-seconds or HTTP-date), else Discord's JSON ``retry_after``."""
    header = response.headers.get("retry-after")
    if header:
        try:
            return max(0.0, float(header))
        except ValueError:
            try:
                return max(0.0, (parsedate_to_datetime(header) - now).total_seconds())
            except (TypeError, ValueError):
                return None
    if response.headers.get("content-type", "").startswith("application/json"):
        try:
            value = response.json().get("retry_after")
        except (ValueError, AttributeError):
            return None
        if isinstance(value, int | float):
            return max(0.0, float(value))
    return None


class _RedactWebhookUrls(logging.Filter):
    """Hide webhook URLs in httpx's own request log lines (httpx logs every URL at INFO)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: dict[str, str] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if self.urls and isinstance(record.args, tuple):
            record.args = tuple(self._redact(arg) for arg in record.args)
        if self.urls and isinstance(record.msg, str):
            record.msg = self._redact(record.msg)
        return True

    def _redact(self, value: object) -> object:
        text = str(value)
        for secret, shown in self.urls.items():
            if secret in text:
                text = text.replace(secret, shown)
                value = text
        return value


_REDACT = _RedactWebhookUrls()
for _name in ("httpx", "httpcore"):
    logging.getLogger(_name).addFilter(_REDACT)


def _check_url(url: str, variable: str) -> str:
    if not isinstance(url, str):
        raise ConfigError(f"The {variable} must be an http(s) URL string. Got {type(url).__name__}.")
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        parts = parts._replace(scheme="")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        # The value itself is a secret, so it is not repeated in the message.
        raise ConfigError(
            f"The {variable} must be an http:// or https:// URL with a host; the value given is not."
        )
    return url


class _HttpNotifier:
    """Shared POST-with-retries; subclasses build the body and headers."""

    channel = "http"
    _variable = "webhook URL"

    def __init__(
        self,
        url: str,
        *,
        policy: RetryPolicy | None = None,
        client: httpx.Client | None = None,
        sleep: Sleep = time.sleep,
        now: Clock = _utcnow,
        rng: random.Random | None = None,
    ) -> None:
        self._url = _check_url(url, self._variable)
        _REDACT.urls[self._url] = redact_url(self._url)
        self.policy = policy if policy is not None else RetryPolicy()
        self._client = client
        self._sleep = sleep
        self._now = now
        self._rng = rng if rng is not None else random.Random()

    @property
    def target(self) -> str:
        """The destination with its secret part hidden."""
        return redact_url(self._url)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(target={self.target!r})"

    def payload(self, message: AlertMessage) -> dict[str, Any]:
        """The JSON body sent for ``message``."""
        raise NotImplementedError

    def headers(self, message: AlertMessage, body: bytes) -> dict[str, str]:
        """Extra headers for this body."""
        return {}

    def send(self, message: AlertMessage) -> DeliveryResult:
        """POST the payload; retry connect errors, timeouts, 429 and 5xx; never raise for delivery."""
        body = json.dumps(self.payload(message), ensure_ascii=False, allow_nan=False).encode("utf-8")
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": f"stagewise/{__version__}",
            **self.headers(message, body),
        }
        client = (
            self._client
            if self._client is not None
            else httpx.Client(timeout=self.policy.timeout, verify=_default_tls())
        )
        try:
            return self._deliver(client, body, headers)
        finally:
            if self._client is None:
                client.close()

    def _deliver(self, client: httpx.Client, body: bytes, headers: dict[str, str]) -> DeliveryResult:
        status: int | None = None
        error = "not attempted"
        for attempt in range(1, self.policy.max_attempts + 1):
            retry_after: float | None = None
            try:
                response = client.post(self._url, content=body, headers=headers, timeout=self.policy.timeout)
            except httpx.TransportError as exc:
                status, error = None, f"{type(exc).__name__}: {self._scrub(str(exc)) or 'no detail'}"
            else:
                status = response.status_code
                if response.is_success:
                    return DeliveryResult(self.channel, self.target, True, attempt, status)
                error = f"HTTP {status}: {self._scrub(truncate(response.text.strip(), 200))}"
                if status != 429 and status < 500:
                    logger.warning(
                        "%s delivery to %s failed, not retried: %s", self.channel, self.target, error
                    )
                    return DeliveryResult(self.channel, self.target, False, attempt, status, error)
                retry_after = _retry_after(response, self._now())
            if attempt < self.policy.max_attempts:
                wait = self.policy.delay(attempt, self._rng, retry_after)
                logger.info(
                    "%s delivery to %s failed (%s); retry in %.2fs", self.channel, self.target, error, wait
                )
                self._sleep(wait)
        logger.warning(
            "%s delivery to %s failed after %d attempts: %s",
            self.channel,
            self.target,
            self.policy.max_attempts,
            error,
        )
        return DeliveryResult(self.channel, self.target, False, self.policy.max_attempts, status, error)

    def _scrub(self, text: str) -> str:
        return text.replace(self._url, self.target)


class SlackNotifier(_HttpNotifier):
    """Slack incoming webhook: ``{"text": fallback, "blocks": [header, section, fields, context]}``.

    Examples
    --------
    >>> n = SlackNotifier("https://hooks.slack.com/services/T/B/secret")
    >>> n
    SlackNotifier(target='https://hooks.slack.com/***')
    >>> n.payload(AlertMessage("Drift", "PSI 0.4", fields={"feature": "motor_2rate"}))["blocks"][0]["type"]
    'header'
    """

    channel = "slack"
    _variable = "Slack webhook URL (STAGEWISE_SLACK_WEBHOOK_URL)"

    def payload(self, message: AlertMessage) -> dict[str, Any]:
        """The Block Kit body, every text within Slack's limits."""
        resolved = " (resolved)" if message.status == "resolved" else ""
        header = f"{message.severity.upper()}{resolved}: {message.title}"
        blocks: list[dict[str, Any]] = [
            {"type": "header", "text": {"type": "plain_text", "text": truncate(header, SLACK_HEADER_LIMIT)}}
        ]
        if message.text:
            blocks.append(
                {
                    "type": "section",
                    "text": {"type": "mrkdwn", "text": truncate(message.text, SLACK_SECTION_LIMIT)},
                }
            )
        lines = message.field_lines()
        if lines:
            shown = lines[:SLACK_FIELDS_LIMIT]
            fields = [{"type": "mrkdwn", "text": truncate(line, 2000)} for line in shown]
            blocks.append({"type": "section", "fields": fields})
            if len(lines) > SLACK_FIELDS_LIMIT:
                rest = "\n".join(lines[SLACK_FIELDS_LIMIT:])
                blocks.append(
                    {
                        "type": "section",
                        "text": {"type": "mrkdwn", "text": truncate(rest, SLACK_SECTION_LIMIT)},
                    }
                )
        context = (
            f"{SEVERITY_EMOJI[message.severity]} {message.severity} · fingerprint `{message.fingerprint}`"
        )
        if message.occurred_at is not None:
            context += f" · {message.occurred_at.isoformat()}"
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
        return {"text": truncate(message.plain_text(), SLACK_SECTION_LIMIT), "blocks": blocks}


class DiscordNotifier(_HttpNotifier):
    """Discord webhook: ``{"content": ..., "embeds": [...]}`` within Discord's limits (content 2000).

    Examples
    --------
    >>> n = DiscordNotifier("https://discord.com/api/webhooks/1/secret")
    >>> body = n.payload(AlertMessage("Rollback", "x" * 5000, severity="critical"))
    >>> len(body["content"]) <= 2000, body["embeds"][0]["color"] == 0xE74C3C
    (True, True)
    """

    channel = "discord"
    _variable = "Discord webhook URL (STAGEWISE_DISCORD_WEBHOOK_URL)"

    def payload(self, message: AlertMessage) -> dict[str, Any]:
        """Short content line plus one embed carrying text and fields."""
        limits = DISCORD_EMBED_LIMITS
        resolved = " (resolved)" if message.status == "resolved" else ""
        content = f"**{message.severity.upper()}{resolved}**: {message.title}"
        embed: dict[str, Any] = {
            "title": truncate(message.title, limits["title"]),
            "description": truncate(message.text, limits["description"]),
            "color": SEVERITY_COLOURS[message.severity],
            "fields": [
                {
                    "name": truncate(key, limits["field_name"]),
                    "value": truncate(format_value(value) or "-", limits["field_value"]),
                    "inline": True,
                }
                for key, value in message.fields.items()
            ][: limits["fields"]],
            "footer": {"text": f"stagewise · {message.fingerprint}"},
        }
        if message.occurred_at is not None:
            embed["timestamp"] = message.occurred_at.isoformat()
        return {"content": truncate(content, DISCORD_CONTENT_LIMIT), "embeds": [embed]}


class WebhookNotifier(_HttpNotifier):
    """Generic JSON webhook: :meth:`AlertMessage.to_dict` as the body, optionally HMAC-signed.

    Headers: ``X-Stagewise-Event: alert``, ``X-Stagewise-Delivery`` (the same on every retry, so the
    receiver can drop duplicates), and with a ``secret``: ``X-Stagewise-Timestamp`` (Unix seconds)
    and ``X-Stagewise-Signature: sha256=HMAC_SHA256(secret, timestamp + "." + body)``; check it with
    :func:`verify_signature`.

    Examples
    --------
    >>> n = WebhookNotifier("https://example.org/hook", secret="k")
    >>> sorted(n.headers(AlertMessage("t", "x"), b"{}"))[:2]
    ['X-Stagewise-Delivery', 'X-Stagewise-Event']
    """

    channel = "webhook"
    _variable = "webhook URL (STAGEWISE_WEBHOOK_URL)"

    def __init__(self, url: str, *, secret: str | None = None, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        if secret is not None and not secret:
            raise ConfigError("The webhook 'secret' (STAGEWISE_WEBHOOK_SECRET) must not be empty when given.")
        self._secret = secret

    def payload(self, message: AlertMessage) -> dict[str, Any]:
        """The message's own JSON form."""
        return message.to_dict()

    def headers(self, message: AlertMessage, body: bytes) -> dict[str, str]:
        """Event, delivery id and, with a secret, timestamp and signature."""
        timestamp = str(int(self._now().timestamp()))
        delivery = hashlib.sha256(timestamp.encode("ascii") + b"." + body).hexdigest()[:32]
        headers = {"X-Stagewise-Event": "alert", "X-Stagewise-Delivery": delivery}
        if self._secret is not None:
            headers["X-Stagewise-Timestamp"] = timestamp
            headers["X-Stagewise-Signature"] = sign_payload(self._secret, timestamp, body)
        return headers

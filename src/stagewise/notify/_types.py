"""What every notifier shares: the message, the delivery result, the retry policy, the protocol."""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable
from urllib.parse import urlsplit

from stagewise._exceptions import ConfigError, DataValidationError

__all__ = ["AlertMessage", "DeliveryResult", "Notifier", "RetryPolicy", "format_value", "redact_url"]

Severity = Literal["info", "warning", "critical"]
Status = Literal["firing", "resolved"]
FieldValue = str | int | float | bool | None
SEVERITIES = ("info", "warning", "critical")
STATUSES = ("firing", "resolved")


@dataclass(frozen=True)
class AlertMessage:
    """One alert (or its resolution) to deliver to people.

    Parameters
    ----------
    title : str
        One line, e.g. ``"Win hit rate below 15 %"``.
    text : str
        The body; plain text (Slack and Discord render it as Markdown).
    severity : {"info", "warning", "critical"}
    fields : mapping of str to str, int, float, bool or None
        Facts shown as a table: ``{"date": "2024-05-01", "hit_rate_1st": 0.12}``.
    fingerprint : str
        Stable identity of the problem, so receivers can group a firing and its resolution.
        Defaults to a SHA-256 prefix of the title.
    status : {"firing", "resolved"}
    occurred_at : datetime, optional
        When the condition was seen (timezone-aware); shown and sent, never read from a clock here.

    Examples
    --------
    >>> m = AlertMessage("Drift in exhibition_time", "PSI 0.31", severity="critical")
    >>> m.to_dict()["severity"], len(m.fingerprint)
    ('critical', 16)
    """

    title: str
    text: str
    severity: Severity = "warning"
    fields: Mapping[str, FieldValue] = field(default_factory=dict)
    fingerprint: str = ""
    status: Status = "firing"
    occurred_at: datetime | None = None

    FORMAT_VERSION: ClassVar[int] = 1
    """Version of :meth:`to_dict` (the generic webhook's JSON body)."""

    def __post_init__(self) -> None:
        if not isinstance(self.title, str) or not self.title.strip():
            raise DataValidationError(
                f"The 'title' of an AlertMessage must be a non-empty string. Got {self.title!r}."
            )
        if not isinstance(self.text, str):
            raise DataValidationError(
                f"The 'text' of an AlertMessage must be a string. Got {type(self.text).__name__}."
            )
        if self.severity not in SEVERITIES:
            raise DataValidationError(
                f"The 'severity' of an AlertMessage must be one of {list(SEVERITIES)}. Got {self.severity!r}."
            )
        if self.status not in STATUSES:
            raise DataValidationError(
                f"The 'status' of an AlertMessage must be one of {list(STATUSES)}. Got {self.status!r}."
            )
        for key, value in self.fields.items():
            if not isinstance(key, str) or not isinstance(value, str | int | float | bool | type(None)):
                raise DataValidationError(
                    f"The 'fields' of an AlertMessage map str to str, int, float, bool or None. "
                    f"Got {key!r}: {type(value).__name__}."
                )
        if self.occurred_at is not None and self.occurred_at.tzinfo is None:
            raise DataValidationError(
                "The 'occurred_at' of an AlertMessage must be timezone-aware. "
                f"Got {self.occurred_at.isoformat()}."
            )
        object.__setattr__(self, "fields", dict(self.fields))
        if not self.fingerprint:
            digest = hashlib.sha256(self.title.encode("utf-8")).hexdigest()[:16]
            object.__setattr__(self, "fingerprint", digest)

    def field_lines(self) -> list[str]:
        """``name: value`` lines of :attr:`fields` (floats to 4 significant digits)."""
        return [f"{key}: {format_value(value)}" for key, value in self.fields.items()]

    def plain_text(self) -> str:
        """Title, text and fields as plain text (used by e-mail and as the chat fallback)."""
        head = f"[{self.severity.upper()}{'' if self.status == 'firing' else ' RESOLVED'}] {self.title}"
        parts = [head, "", self.text] if self.text else [head]
        if self.fields:
            parts += ["", *self.field_lines()]
        if self.occurred_at is not None:
            parts += ["", f"occurred at: {self.occurred_at.isoformat()}"]
        parts += [f"fingerprint: {self.fingerprint}"]
        return "\n".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready body, with ``format_version`` and ``source: "stagewise"``."""
        return {
            "format_version": self.FORMAT_VERSION,
            "source": "stagewise",
            "title": self.title,
            "text": self.text,
            "severity": self.severity,
            "status": self.status,
            "fingerprint": self.fingerprint,
            "fields": {k: _json_value(v) for k, v in self.fields.items()},
            "occurred_at": None if self.occurred_at is None else self.occurred_at.isoformat(),
        }


def format_value(value: FieldValue) -> str:
    """A field value as shown to people (floats to 4 significant digits)."""
    if isinstance(value, float) and not isinstance(value, bool):
        return f"{value:.4g}"
    return str(value)


def _json_value(value: FieldValue) -> FieldValue:
    # JSON has no NaN or infinity; send them as strings rather than produce invalid JSON.
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


@dataclass(frozen=True)
class DeliveryResult:
    """What happened to one message on one channel; failures are values, not exceptions.

    Examples
    --------
    >>> DeliveryResult("slack", "https://hooks.slack.com/***", ok=False, attempts=3, error="HTTP 500").ok
    False
    """

    channel: str
    target: str
    ok: bool
    attempts: int
    status_code: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class RetryPolicy:
    """Timeouts and retries with exponential backoff and jitter.

    Attempt ``k`` (from 1) that fails with a retryable error waits
    ``min(max_delay, base_delay * 2**(k-1)) * (1 - jitter * u)`` with ``u`` uniform in [0, 1), or the
    server's ``Retry-After`` if that is longer (capped at ``max_retry_after``).

    Examples
    --------
    >>> RetryPolicy(jitter=0.0).delay(3, random.Random(0))
    2.0
    """

    max_attempts: int = 4
    timeout: float = 10.0
    base_delay: float = 0.5
    max_delay: float = 30.0
    jitter: float = 0.5
    max_retry_after: float = 60.0

    def __post_init__(self) -> None:
        if (
            isinstance(self.max_attempts, bool)
            or not isinstance(self.max_attempts, int)
            or self.max_attempts < 1
        ):
            raise ConfigError(
                f"The 'max_attempts' of RetryPolicy must be an int >= 1. Got {self.max_attempts!r}."
            )
        for name in ("timeout", "base_delay", "max_delay", "max_retry_after"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise ConfigError(f"The '{name}' of RetryPolicy must be a finite number >= 0. Got {value!r}.")
        if self.timeout <= 0:
            raise ConfigError(f"The 'timeout' of RetryPolicy must be > 0 seconds. Got {self.timeout!r}.")
        if not isinstance(self.jitter, int | float) or not 0 <= self.jitter <= 1:
            raise ConfigError(f"The 'jitter' of RetryPolicy must be a number in [0, 1]. Got {self.jitter!r}.")

    def delay(self, attempt: int, rng: random.Random, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt ``attempt`` (1-based)."""
        backoff = min(self.max_delay, self.base_delay * 2.0 ** min(attempt - 1, 60))
        wait = backoff * (1.0 - self.jitter * rng.random())
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.max_retry_after))
        return float(wait)


@runtime_checkable
class Notifier(Protocol):
    """Anything that can deliver an :class:`AlertMessage`; ``send`` reports failure, never raises it."""

    channel: str

    def send(self, message: AlertMessage) -> DeliveryResult:
        """Deliver ``message`` and say what happened."""
        ...


def redact_url(url: str) -> str:
    """Scheme and host only: webhook paths and queries are secrets.

    Examples
    --------
    >>> redact_url("https://hooks.slack.com/services/T000/B000/XXXX")
    'https://hooks.slack.com/***'
    """
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}/***"

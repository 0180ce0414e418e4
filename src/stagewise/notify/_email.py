"""E-mail over SMTP (smtplib): plain STARTTLS, implicit TLS or none; retries on transient failures."""

from __future__ import annotations

import logging
import random
import smtplib
import ssl
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Literal

from stagewise._exceptions import ConfigError
from stagewise.notify._types import AlertMessage, DeliveryResult, RetryPolicy

__all__ = ["EmailNotifier"]

logger = logging.getLogger("stagewise.notify")

Security = Literal["starttls", "ssl", "none"]
SECURITIES = ("starttls", "ssl", "none")


def _utcnow() -> datetime:
    return datetime.now(UTC)


class EmailNotifier:
    """Send alerts as e-mail through an SMTP server.

    Parameters
    ----------
    host, port : str, int
        The SMTP server.
    sender : str
        The ``From`` address.
    recipients : list of str
        The ``To`` addresses (at least one).
    username, password : str, optional
        Login after the TLS handshake; both or neither.
    security : {"starttls", "ssl", "none"}
        ``starttls`` upgrades a plain connection (port 587), ``ssl`` is implicit TLS (port 465),
        ``none`` sends in clear (a local relay only).
    ssl_context : ssl.SSLContext, optional
        Defaults to :func:`ssl.create_default_context` (certificate and host checked).

    Transient failures (connection refused or dropped, timeouts, 4xx replies) are retried with
    backoff; permanent ones (5xx replies such as a refused login or recipient) are not. ``send``
    never raises for a delivery failure, and the password never appears in results or logs.

    Examples
    --------
    >>> n = EmailNotifier("smtp.example.org", 587, "bot@example.org", ["ops@example.org"])
    >>> n.subject(AlertMessage("Trifecta hit rate below 5 %", "", severity="critical"))
    '[stagewise] CRITICAL: Trifecta hit rate below 5 %'
    """

    channel = "email"

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        recipients: Sequence[str],
        *,
        username: str | None = None,
        password: str | None = None,
        security: Security = "starttls",
        ssl_context: ssl.SSLContext | None = None,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = _utcnow,
        rng: random.Random | None = None,
    ) -> None:
        if not host:
            raise ConfigError("The SMTP 'host' (STAGEWISE_SMTP_HOST) must not be empty.")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise ConfigError(
                f"The SMTP 'port' (STAGEWISE_SMTP_PORT) must be an int in 1..65535. Got {port!r}."
            )
        if "@" not in sender:
            raise ConfigError(
                f"The e-mail 'sender' (STAGEWISE_SMTP_FROM) must be an address. Got {sender!r}."
            )
        recipients = [r.strip() for r in recipients if r.strip()]
        bad = [r for r in recipients if "@" not in r]
        if not recipients or bad:
            raise ConfigError(
                "The e-mail 'recipients' (STAGEWISE_SMTP_TO, comma-separated) must be one or more addresses. "
                f"Got {bad or recipients!r}."
            )
        if (username is None) != (password is None):
            raise ConfigError(
                "SMTP login needs both a username (STAGEWISE_SMTP_USER) and a password "
                "(STAGEWISE_SMTP_PASSWORD), or neither."
            )
        if security not in SECURITIES:
            raise ConfigError(
                f"The SMTP 'security' (STAGEWISE_SMTP_SECURITY) must be one of {list(SECURITIES)}. "
                f"Got {security!r}."
            )
        self.host, self.port, self.sender, self.recipients = host, port, sender, recipients
        self.username = username
        self._password = password
        self.security: Security = security
        self._ssl_context = ssl_context
        self.policy = policy if policy is not None else RetryPolicy()
        self._sleep, self._now = sleep, now
        self._rng = rng if rng is not None else random.Random()

    @property
    def target(self) -> str:
        """``smtp://host:port -> recipients`` (no credentials)."""
        return f"smtp://{self.host}:{self.port} -> {', '.join(self.recipients)}"

    def __repr__(self) -> str:
        return f"EmailNotifier(target={self.target!r}, security={self.security!r})"

    def subject(self, message: AlertMessage) -> str:
        """``[stagewise] SEVERITY: title`` (``RESOLVED`` added for a resolution)."""
        resolved = " RESOLVED" if message.status == "resolved" else ""
        return f"[stagewise] {message.severity.upper()}{resolved}: {message.title}"

    def build(self, message: AlertMessage) -> EmailMessage:
        """The e-mail for ``message``: plain-text body, fingerprint and severity headers."""
        mail = EmailMessage()
        mail["Subject"] = self.subject(message)
        mail["From"] = self.sender
        mail["To"] = ", ".join(self.recipients)
        mail["Date"] = format_datetime(self._now())
        mail["Message-ID"] = make_msgid(domain=self.sender.rsplit("@", 1)[1])
        mail["X-Stagewise-Fingerprint"] = message.fingerprint
        mail["X-Stagewise-Severity"] = message.severity
        mail.set_content(message.plain_text())
        return mail

    def send(self, message: AlertMessage) -> DeliveryResult:
        """Deliver by SMTP; retry transient failures; never raise for a delivery failure."""
        mail = self.build(message)
        error = "not attempted"
        code: int | None = None
        for attempt in range(1, self.policy.max_attempts + 1):
            try:
                self._transmit(mail)
            except smtplib.SMTPResponseException as exc:
                code = int(exc.smtp_code)
                error = f"SMTP {code}: {self._scrub(_decode(exc.smtp_error))}"
                if not 400 <= code < 500:
                    break
            except smtplib.SMTPRecipientsRefused as exc:
                codes = sorted({int(c) for c, _ in exc.recipients.values()})
                code = codes[0] if codes else None
                error = f"recipients refused: {self._scrub(str(exc.recipients))}"
                if not all(400 <= c < 500 for c in codes):
                    break
            except (smtplib.SMTPNotSupportedError, ssl.SSLCertVerificationError) as exc:
                # The server cannot do what is configured (no STARTTLS, untrusted certificate): permanent.
                code, error = None, f"{type(exc).__name__}: {self._scrub(str(exc)) or 'no detail'}"
                break
            except (OSError, smtplib.SMTPException) as exc:
                code, error = None, f"{type(exc).__name__}: {self._scrub(str(exc)) or 'no detail'}"
            else:
                return DeliveryResult(self.channel, self.target, True, attempt, 250)
            if attempt < self.policy.max_attempts:
                wait = self.policy.delay(attempt, self._rng)
                logger.info("email delivery to %s failed (%s); retry in %.2fs", self.target, error, wait)
                self._sleep(wait)
        logger.warning("email delivery to %s failed after %d attempt(s): %s", self.target, attempt, error)
        return DeliveryResult(self.channel, self.target, False, attempt, code, error)

    def _transmit(self, mail: EmailMessage) -> None:
        timeout = self.policy.timeout
        context = self._ssl_context or ssl.create_default_context()
        smtp: smtplib.SMTP
        if self.security == "ssl":
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=timeout, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=timeout)
        with smtp:
            smtp.ehlo()
            if self.security == "starttls":
                smtp.starttls(context=context)
                smtp.ehlo()
            if self.username is not None and self._password is not None:
                smtp.login(self.username, self._password)
            smtp.send_message(mail, from_addr=self.sender, to_addrs=self.recipients)

    def _scrub(self, text: str) -> str:
        return text.replace(self._password, "***") if self._password else text


def _decode(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value

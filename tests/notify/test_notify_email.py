from __future__ import annotations

import datetime as dt
import logging
import ssl
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from notify_support import Sleeps, closed_port

from stagewise import ConfigError
from stagewise.notify import AlertMessage, EmailNotifier, RetryPolicy, notifiers_from_env, notify_all

NOW = dt.datetime(2024, 5, 1, 9, 30, tzinfo=dt.UTC)
FAST = RetryPolicy(max_attempts=3, timeout=5.0, jitter=0.0)


class Inbox:
    """aiosmtpd handler that keeps every message and can refuse recipients."""

    def __init__(self, refuse: str | None = None) -> None:
        self.messages: list[tuple[Envelope, Message]] = []
        self.refuse = refuse

    async def handle_RCPT(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.refuse and self.refuse in address:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        self.messages.append((envelope, message_from_bytes(envelope.content, policy=default_policy)))
        return "250 Message accepted"


class Credentials:
    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user, password
        self.seen: list[tuple[str, str]] = []

    def __call__(
        self, server: Any, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        login = (data.login.decode(), data.password.decode())
        self.seen.append(login)
        return AuthResult(success=login == (self.user, self.password), handled=False)


@pytest.fixture
def smtp_server() -> Iterator[tuple[Controller, Inbox]]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=closed_port())
    controller.start()
    try:
        yield controller, inbox
    finally:
        controller.stop()


def _message() -> AlertMessage:
    return AlertMessage(
        "Trifecta hit rate below 5 %",
        "hit_rate_top3 was 0.031 on 2024-05-01",
        severity="critical",
        fields={"date": "2024-05-01", "hit_rate_top3": 0.031, "races": 120},
        occurred_at=NOW,
    )


def test_the_smtp_server_receives_the_alert(smtp_server: tuple[Controller, Inbox]) -> None:
    controller, inbox = smtp_server
    notifier = EmailNotifier(
        "127.0.0.1", controller.port, "stagewise@example.org", ["ops@example.org", "lead@example.org"],
        security="none", policy=FAST, now=lambda: NOW,
    )  # fmt: skip
    result = notifier.send(_message())
    assert result.ok
    assert result.target == f"smtp://127.0.0.1:{controller.port} -> ops@example.org, lead@example.org"
    ((envelope, mail),) = inbox.messages
    assert envelope.mail_from == "stagewise@example.org"
    assert envelope.rcpt_tos == ["ops@example.org", "lead@example.org"]
    assert mail["Subject"] == "[stagewise] CRITICAL: Trifecta hit rate below 5 %"
    assert mail["X-Stagewise-Fingerprint"] == _message().fingerprint
    assert mail["Date"] == "Wed, 01 May 2024 09:30:00 +0000"
    body = mail.get_content()
    assert "hit_rate_top3 was 0.031" in body
    assert "races: 120" in body


def _self_signed(tmp_path: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """Server and client TLS contexts for 127.0.0.1 from a fresh self-signed certificate."""
    pytest.importorskip("cryptography")
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
        .not_valid_after(dt.datetime.now(dt.UTC) + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cafile=str(cert_file))
    return server, client


def test_starttls_and_login_reach_a_tls_server(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    server_tls, client_tls = _self_signed(tmp_path)
    inbox, credentials = Inbox(), Credentials("alerts", "pa55-w0rd")
    controller = Controller(
        inbox, hostname="127.0.0.1", port=closed_port(), tls_context=server_tls, require_starttls=True,
        authenticator=credentials, auth_required=True, server_hostname="127.0.0.1",
    )  # fmt: skip
    controller.start()
    try:
        good = EmailNotifier(
            "127.0.0.1", controller.port, "bot@example.org", ["ops@example.org"],
            username="alerts", password="pa55-w0rd", ssl_context=client_tls, policy=FAST, sleep=Sleeps(),
        )  # fmt: skip
        assert good.send(_message()).ok
        sleeps = Sleeps()
        bad = EmailNotifier(
            "127.0.0.1", controller.port, "bot@example.org", ["ops@example.org"],
            username="alerts", password="wrong-pa55", ssl_context=client_tls, policy=FAST, sleep=sleeps,
        )  # fmt: skip
        refused = bad.send(_message())
    finally:
        controller.stop()
    assert len(inbox.messages) == 1
    # smtplib tries each mechanism the server offers (PLAIN, LOGIN) within the one attempt.
    assert credentials.seen[0] == ("alerts", "pa55-w0rd")
    assert set(credentials.seen[1:]) == {("alerts", "wrong-pa55")}
    # A refused login is permanent: reported once, not retried, and the password is not in the result.
    assert (refused.ok, refused.attempts, refused.status_code) == (False, 1, 535)
    assert sleeps.calls == []
    assert "pa55" not in repr(refused) + repr(bad) + caplog.text


def test_an_untrusted_certificate_is_refused_without_retry(tmp_path: Path) -> None:
    server_tls, _ = _self_signed(tmp_path)
    controller = Controller(
        Inbox(), hostname="127.0.0.1", port=closed_port(), tls_context=server_tls, server_hostname="x"
    )
    controller.start()
    try:
        sleeps = Sleeps()
        result = EmailNotifier(
            "127.0.0.1", controller.port, "bot@example.org", ["ops@example.org"], policy=FAST, sleep=sleeps
        ).send(_message())
    finally:
        controller.stop()
    assert not result.ok
    assert result.error is not None
    assert result.error.startswith("SSLCertVerificationError")
    assert sleeps.calls == []


def test_a_refused_recipient_is_permanent(smtp_server: tuple[Controller, Inbox]) -> None:
    controller, inbox = smtp_server
    inbox.refuse = "gone@"
    sleeps = Sleeps()
    result = EmailNotifier(
        "127.0.0.1", controller.port, "bot@example.org", ["gone@example.org"], security="none",
        policy=FAST, sleep=sleeps,
    ).send(_message())  # fmt: skip
    assert (result.ok, result.attempts, result.status_code) == (False, 1, 550)
    assert sleeps.calls == []
    assert inbox.messages == []


def test_an_unreachable_server_is_retried_then_reported() -> None:
    sleeps = Sleeps()
    notifier = EmailNotifier(
        "127.0.0.1", closed_port(), "bot@example.org", ["ops@example.org"], security="none",
        policy=FAST, sleep=sleeps,
    )  # fmt: skip
    (result,) = notify_all([notifier], _message())
    assert not result.ok
    assert result.attempts == 3
    assert result.error is not None
    assert result.error.startswith("ConnectionRefusedError")
    assert sleeps.calls == [0.5, 1.0]


def test_email_from_env_delivers(smtp_server: tuple[Controller, Inbox]) -> None:
    controller, inbox = smtp_server
    environ = {
        "STAGEWISE_SMTP_HOST": "127.0.0.1",
        "STAGEWISE_SMTP_PORT": str(controller.port),
        "STAGEWISE_SMTP_FROM": "bot@example.org",
        "STAGEWISE_SMTP_TO": "a@example.org, b@example.org",
        "STAGEWISE_SMTP_SECURITY": "none",
    }
    (notifier,) = notifiers_from_env(environ)
    assert notify_all([notifier], _message())[0].ok
    assert inbox.messages[0][0].rcpt_tos == ["a@example.org", "b@example.org"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"port": 0}, "'port' .* 1..65535. Got 0"),
        ({"sender": "nobody"}, "'sender' .* Got 'nobody'"),
        ({"recipients": []}, "'recipients'"),
        ({"recipients": ["ops"]}, "Got \\['ops'\\]"),
        ({"username": "u"}, "both a username .* and a password"),
        ({"security": "tls"}, "'security' .* Got 'tls'"),
    ],
)
def test_bad_email_settings_are_config_errors(kwargs: dict[str, Any], match: str) -> None:
    settings: dict[str, Any] = {"host": "h", "port": 25, "sender": "a@b.c", "recipients": ["d@e.f"], **kwargs}
    with pytest.raises(ConfigError, match=match):
        EmailNotifier(**settings)

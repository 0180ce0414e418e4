from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from notify_support import Reply, Sleeps, closed_port, recording_server

from stagewise.notify import (
    AlertMessage,
    DeliveryResult,
    DiscordNotifier,
    RetryPolicy,
    SlackNotifier,
    WebhookNotifier,
    notify_all,
    verify_signature,
)

NOW = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
FAST = RetryPolicy(max_attempts=4, timeout=2.0, base_delay=0.5, jitter=0.0)
SECRET_PATH = "/services/T0001/B0002/s3cr3tW3bh00kT0ken"


def _message(**kwargs: object) -> AlertMessage:
    base: dict[str, object] = {
        "title": "Win hit rate below 15 %",
        "text": "hit_rate_1st was 0.12 on 2024-05-01 (threshold 0.15)",
        "severity": "critical",
        "fields": {"date": "2024-05-01", "hit_rate_1st": 0.1234567, "races": 140, "venue": None},
        "occurred_at": NOW,
    }
    base.update(kwargs)
    return AlertMessage(**base)  # type: ignore[arg-type]


def _clock() -> datetime:
    return NOW


def test_slack_receives_text_and_blocks() -> None:
    with recording_server(Reply(200, b"ok")) as server:
        result = SlackNotifier(server.url(SECRET_PATH), policy=FAST).send(_message())
    assert result == DeliveryResult("slack", f"http://127.0.0.1:{server.port}/***", True, 1, 200)
    (request,) = server.received
    assert request.path == SECRET_PATH
    assert request.headers["content-type"].startswith("application/json")
    body = request.json()
    assert body["text"].startswith("[CRITICAL] Win hit rate below 15 %")
    header, section, fields, context = body["blocks"]
    assert header["text"]["text"] == "CRITICAL: Win hit rate below 15 %"
    assert "hit_rate_1st was 0.12" in section["text"]["text"]
    assert {f["text"] for f in fields["fields"]} >= {"hit_rate_1st: 0.1235", "races: 140", "venue: None"}
    assert _message().fingerprint in context["elements"][0]["text"]


def test_discord_receives_content_and_embed_within_its_limits() -> None:
    long = _message(title="T" * 3000, text="x" * 9000, fields={f"f{i}": i for i in range(40)})
    with recording_server(Reply(204, b"")) as server:
        result = DiscordNotifier(server.url("/api/webhooks/1/tok"), policy=FAST).send(long)
    assert result.ok
    assert result.status_code == 204
    body = server.received[0].json()
    assert len(body["content"]) <= 2000
    assert body["content"].endswith("…")
    (embed,) = body["embeds"]
    assert len(embed["title"]) <= 256
    assert len(embed["description"]) <= 4096
    assert len(embed["fields"]) == 25
    assert embed["color"] == 0xE74C3C
    assert embed["timestamp"] == NOW.isoformat()


def test_webhook_body_is_the_message_and_the_signature_verifies() -> None:
    message = _message(fields={"psi": float("nan"), "feature": "motor_2rate"})
    with recording_server(Reply(202)) as server:
        notifier = WebhookNotifier(server.url(), secret="hunter2", policy=FAST, now=_clock)
        assert notifier.send(message).ok
    (request,) = server.received
    body = request.json()
    assert body == {**message.to_dict(), "fields": {"psi": "nan", "feature": "motor_2rate"}}
    assert body["format_version"] == 1
    timestamp = request.headers["x-stagewise-timestamp"]
    assert timestamp == str(int(NOW.timestamp()))
    signature = request.headers["x-stagewise-signature"]
    assert verify_signature("hunter2", request.body, timestamp, signature, now=NOW)
    assert not verify_signature("wrong", request.body, timestamp, signature, now=NOW)
    assert not verify_signature("hunter2", request.body + b" ", timestamp, signature, now=NOW)
    assert not verify_signature("hunter2", request.body, timestamp, signature, now=NOW + timedelta(hours=1))
    assert request.headers["x-stagewise-event"] == "alert"


def test_webhook_without_secret_is_not_signed() -> None:
    with recording_server(Reply(200)) as server:
        WebhookNotifier(server.url(), policy=FAST).send(_message())
    assert "x-stagewise-signature" not in server.received[0].headers


def test_two_failures_then_success_is_delivered_on_the_third_attempt() -> None:
    sleeps = Sleeps()
    with recording_server(Reply(503), Reply(500), Reply(200)) as server:
        result = WebhookNotifier(server.url(), secret="k", policy=FAST, sleep=sleeps, now=_clock).send(
            _message()
        )
    assert result.ok
    assert result.attempts == 3
    assert len(server.received) == 3
    # The same delivery (same body, same id) is retried, so a receiver can drop duplicates.
    assert len({r.body for r in server.received}) == 1
    assert len({r.headers["x-stagewise-delivery"] for r in server.received}) == 1
    assert sleeps.calls == [0.5, 1.0]


def test_backoff_jitter_stays_within_its_band() -> None:
    sleeps = Sleeps()
    policy = RetryPolicy(max_attempts=6, base_delay=1.0, max_delay=8.0, jitter=0.5)
    with recording_server(Reply(500)) as server:
        SlackNotifier(server.url(), policy=policy, sleep=sleeps, rng=random.Random(1)).send(_message())
    caps = [1.0, 2.0, 4.0, 8.0, 8.0]
    assert len(sleeps.calls) == 5
    assert all(cap / 2 <= wait <= cap for wait, cap in zip(sleeps.calls, caps, strict=True))


@pytest.mark.parametrize(
    "retry_after",
    [
        {"Retry-After": "7"},
        {"Retry-After": format_datetime(NOW + timedelta(seconds=9), usegmt=True)},
        {"Content-Type": "application/json"},
    ],
    ids=["seconds", "http-date", "discord-json"],
)
def test_429_waits_as_long_as_the_server_asks(retry_after: dict[str, str]) -> None:
    sleeps = Sleeps()
    expected = {"seconds": 7.0, "http-date": 9.0, "discord-json": 3.5}
    body = b'{"message": "You are being rate limited.", "retry_after": 3.5}'
    with recording_server(Reply(429, body, retry_after), Reply(204, b"")) as server:
        result = DiscordNotifier(server.url(), policy=FAST, sleep=sleeps, now=_clock).send(_message())
    assert result.ok
    assert result.attempts == 2
    (wait,) = sleeps.calls
    key = "seconds" if retry_after.get("Retry-After") == "7" else "discord-json"
    key = "http-date" if "GMT" in retry_after.get("Retry-After", "") else key
    assert wait == pytest.approx(expected[key])


def test_retry_after_is_capped() -> None:
    sleeps = Sleeps()
    policy = RetryPolicy(max_attempts=2, jitter=0.0, max_retry_after=5.0)
    with recording_server(Reply(429, b"slow down", {"Retry-After": "3600"})) as server:
        SlackNotifier(server.url(), policy=policy, sleep=sleeps).send(_message())
    assert sleeps.calls == [5.0]


def test_a_server_that_always_fails_gives_a_failed_result_not_an_exception() -> None:
    sleeps = Sleeps()
    with recording_server(Reply(500, b"internal error")) as server:
        result = SlackNotifier(server.url(), policy=FAST, sleep=sleeps).send(_message())
    assert not result.ok
    assert result.attempts == 4
    assert result.status_code == 500
    assert result.error == "HTTP 500: internal error"
    assert len(server.received) == 4
    assert len(sleeps.calls) == 3


def test_a_400_is_not_retried() -> None:
    sleeps = Sleeps()
    with recording_server(Reply(400, b"invalid_payload")) as server:
        result = SlackNotifier(server.url(), policy=FAST, sleep=sleeps).send(_message())
    assert (result.ok, result.attempts, result.status_code) == (False, 1, 400)
    assert result.error == "HTTP 400: invalid_payload"
    assert len(server.received) == 1
    assert sleeps.calls == []


def test_a_server_that_does_not_answer_in_time_is_a_timeout_failure() -> None:
    policy = RetryPolicy(max_attempts=2, timeout=0.2, jitter=0.0)
    with recording_server(Reply(200, delay=5.0)) as server:
        result = WebhookNotifier(server.url(), policy=policy, sleep=Sleeps()).send(_message())
    assert not result.ok
    assert result.attempts == 2
    assert result.error is not None
    assert result.error.startswith("ReadTimeout")
    assert len(server.received) == 2


def test_a_refused_connection_is_retried_then_reported() -> None:
    sleeps = Sleeps()
    result = DiscordNotifier(f"http://127.0.0.1:{closed_port()}/x", policy=FAST, sleep=sleeps).send(
        _message()
    )
    assert not result.ok
    assert result.status_code is None
    assert result.error is not None
    assert result.error.startswith("ConnectError")
    assert len(sleeps.calls) == 3


def test_notify_all_keeps_going_after_a_failure_and_never_raises() -> None:
    class Broken:
        channel = "broken"
        target = "nowhere"

        def send(self, message: AlertMessage) -> DeliveryResult:
            raise RuntimeError("bug in a custom notifier")

    with recording_server(Reply(500)) as failing, recording_server(Reply(200)) as working:
        notifiers = [
            Broken(),
            SlackNotifier(failing.url(), policy=FAST, sleep=Sleeps()),
            WebhookNotifier(working.url(), policy=FAST),
        ]
        results = notify_all(notifiers, _message())
    assert [(r.channel, r.ok) for r in results] == [("broken", False), ("slack", False), ("webhook", True)]
    assert results[0].error == "RuntimeError: bug in a custom notifier"
    assert len(working.received) == 1


def test_the_webhook_secret_never_appears_in_logs_results_or_repr(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with recording_server(Reply(500, b"no")) as server:
        notifier = SlackNotifier(server.url(SECRET_PATH), policy=RetryPolicy(max_attempts=2), sleep=Sleeps())
        result = notifier.send(_message())
    assert "httpx" in {record.name for record in caplog.records}  # httpx did log the request line ...
    token = SECRET_PATH.rsplit("/", 1)[1]
    assert token not in caplog.text  # ... with the URL redacted
    assert token not in repr(result)
    assert token not in repr(notifier)


def test_channels_are_tried_at_the_same_time() -> None:
    # Each server holds its request until the other one has received one too (or 10 s pass): with
    # sequential sending the first would only be released by the timeout and fail.
    arrived = [threading.Event(), threading.Event()]

    def waits_for(mine: int, other: int) -> Callable[[], None]:
        def hook() -> None:
            arrived[mine].set()
            arrived[other].wait(10)

        return hook

    policy = RetryPolicy(max_attempts=1, timeout=5.0)
    with (
        recording_server(Reply(200, before=waits_for(0, 1))) as first,
        recording_server(Reply(200, before=waits_for(1, 0))) as second,
    ):
        results = notify_all(
            [SlackNotifier(first.url(), policy=policy), WebhookNotifier(second.url(), policy=policy)],
            _message(),
        )
    assert [r.ok for r in results] == [True, True]
    assert [r.channel for r in results] == ["slack", "webhook"]

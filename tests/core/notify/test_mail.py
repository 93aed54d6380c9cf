"""Outbound e-mail: delivered over real SMTP after commit, dropped on rollback, logged when no
server is configured."""

from __future__ import annotations

import logging

import pytest

from tests.conftest import SmtpSink
from thingport.core.notify.mail import (
    Outbox,
    SmtpMailer,
    UnconfiguredMailer,
    build_mailer,
    compose,
)
from thingport.platform import Platform
from thingport.settings import Settings


def _mailer(sink: SmtpSink) -> SmtpMailer:
    return SmtpMailer(sink.host, sink.port, sender="thingport@example.com")


async def test_smtp_mailer_delivers_a_message(smtp_sink: SmtpSink) -> None:
    mailer = _mailer(smtp_sink)
    await mailer.send(compose(mailer, to="ann@example.com", subject="Hi", body="Hello, Ann."))
    assert len(smtp_sink.messages) == 1
    message = smtp_sink.messages[0]
    assert message["To"] == "ann@example.com"
    assert message["From"] == "thingport@example.com"
    assert message["Subject"] == "Hi"
    assert message.get_content().strip() == "Hello, Ann."


async def test_outbox_sends_only_after_commit(platform: Platform, smtp_sink: SmtpSink) -> None:
    mailer = _mailer(smtp_sink)
    async with platform.db.unit_of_work() as uow:
        Outbox(uow, mailer).queue(to="ann@example.com", subject="Committed", body="x")
        assert smtp_sink.messages == []
    assert [m["Subject"] for m in smtp_sink.messages] == ["Committed"]


async def test_outbox_drops_mail_on_rollback(platform: Platform, smtp_sink: SmtpSink) -> None:
    mailer = _mailer(smtp_sink)
    with pytest.raises(RuntimeError):
        async with platform.db.unit_of_work() as uow:
            Outbox(uow, mailer).queue(to="ann@example.com", subject="Rolled back", body="x")
            raise RuntimeError("the request failed")
    assert smtp_sink.messages == []


async def test_a_refused_send_after_commit_is_logged_not_raised(
    platform: Platform, caplog: pytest.LogCaptureFixture
) -> None:
    # Nothing listens on port 9 of the loopback: the connection is refused.
    mailer = SmtpMailer("127.0.0.1", 9, sender="thingport@example.com", timeout=2)
    with caplog.at_level(logging.ERROR, logger="thingport.core.notify.mail"):
        async with platform.db.unit_of_work() as uow:
            Outbox(uow, mailer).queue(to="ann@example.com", subject="Lost", body="x")
    assert "sending e-mail 'Lost' to ann@example.com failed" in caplog.text


async def test_without_smtp_host_mail_is_logged_as_not_sent(
    caplog: pytest.LogCaptureFixture,
) -> None:
    mailer = build_mailer(Settings(smtp_host=None))
    assert isinstance(mailer, UnconfiguredMailer)
    with caplog.at_level(logging.WARNING, logger="thingport.core.notify.mail"):
        await mailer.send(compose(mailer, to="ann@example.com", subject="Reset", body="secret"))
    assert "not sent" in caplog.text
    assert "THINGPORT_SMTP_HOST" in caplog.text
    assert "secret" not in caplog.text


def test_smtp_settings_choose_the_smtp_mailer() -> None:
    mailer = build_mailer(
        Settings(
            smtp_host="mail.example.com",
            smtp_port=587,
            smtp_user="u",
            smtp_password="p",  # pydantic turns it into a SecretStr
            smtp_starttls=True,
            smtp_sender="noreply@example.com",
        )
    )
    assert isinstance(mailer, SmtpMailer)
    assert (mailer.host, mailer.port, mailer.username, mailer.password) == (
        "mail.example.com",
        587,
        "u",
        "p",
    )
    assert mailer.starttls
    assert mailer.sender == "noreply@example.com"

"""Outbound e-mail: a `Mailer` per process, and an outbox per transaction.

Services put messages in the `Outbox` of their unit of work; they leave only after the commit
(a rolled-back request sends nothing, so nobody gets a reset link for a token that was never
stored). Which mailer runs is chosen from the settings: SMTP when `smtp_host` is set, otherwise
one that logs a warning instead of sending, so a Thingport without a mail server still answers.
"""

from __future__ import annotations

import logging
from email.message import EmailMessage
from typing import Protocol

import aiosmtplib

from thingport.settings import Settings
from thingport.storage.engine import UnitOfWork

log = logging.getLogger(__name__)


class Mailer(Protocol):
    sender: str

    async def send(self, message: EmailMessage) -> None:
        """Deliver one message; raise if the mail server refused it."""


class SmtpMailer:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        sender: str,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout: float = 10.0,
    ) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self.username = username
        self.password = password
        self.starttls = starttls
        self.timeout = timeout

    async def send(self, message: EmailMessage) -> None:
        await aiosmtplib.send(
            message,
            hostname=self.host,
            port=self.port,
            username=self.username,
            password=self.password,
            start_tls=self.starttls,
            timeout=self.timeout,
        )


class UnconfiguredMailer:
    """No mail server configured: say so loudly, once per message, and carry on."""

    def __init__(self, sender: str) -> None:
        self.sender = sender

    async def send(self, message: EmailMessage) -> None:
        # The body is not logged: it may carry a secret (a password-reset token).
        log.warning(
            "e-mail to %s not sent (%r): no SMTP server configured; set THINGPORT_SMTP_HOST",
            message["To"],
            message["Subject"],
        )


def build_mailer(settings: Settings) -> Mailer:
    if not settings.smtp_host:
        return UnconfiguredMailer(settings.smtp_sender)
    return SmtpMailer(
        settings.smtp_host,
        settings.smtp_port,
        sender=settings.smtp_sender,
        username=settings.smtp_user,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        starttls=settings.smtp_starttls,
    )


def compose(mailer: Mailer, *, to: str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = mailer.sender
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    return message


class Outbox:
    """Messages written during a transaction, sent after it commits."""

    def __init__(self, uow: UnitOfWork, mailer: Mailer) -> None:
        self.uow = uow
        self.mailer = mailer

    def queue(self, *, to: str, subject: str, body: str) -> None:
        message = compose(self.mailer, to=to, subject=subject, body=body)
        mailer = self.mailer

        async def deliver() -> None:
            try:
                await mailer.send(message)
            except Exception:
                # The data is committed; failing the request now would tell the client its
                # change did not happen. The log is where a broken mail server shows.
                log.exception("sending e-mail %r to %s failed", message["Subject"], to)

        self.uow.after_commit(deliver)

"""Commands sent to devices, with their life cycle and the device's answer."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from thingport.storage.base import Base, JSONDoc, UTCDateTime, utcnow


class Command(Base):
    __tablename__ = "commands"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # What travels to the device and comes back in its answer (Cayenne's `seq`).
    request_id: Mapped[str] = mapped_column(
        String(36), unique=True, default=lambda: uuid.uuid4().hex
    )
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    channel: Mapped[str | None] = mapped_column(String(100))
    payload: Mapped[Any] = mapped_column(JSONDoc)
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    response: Mapped[Any | None] = mapped_column(JSONDoc)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The worker that took the command to publish it (a conditional UPDATE, so exactly one
    # does); None while nobody has, e.g. a command recorded by the CLI, which has no broker.
    claimed_by: Mapped[str | None] = mapped_column(String(255))
    # When it was claimed: a claim still pending long after (its worker died between claiming
    # and publishing) is void, and another worker publishes the command.
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

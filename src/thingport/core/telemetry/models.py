"""Tables of the telemetry domain: series, points and raw messages."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Float,
    ForeignKey,
    Integer,
    PrimaryKeyConstraint,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from thingport.storage.base import Base, JSONDoc, UTCDateTime, utcnow


class Series(Base):
    """One time series: (device, key), the key being a metric name, sensor id or channel."""

    __tablename__ = "series"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, default=lambda: str(uuid.uuid4()))
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(255))
    unit: Mapped[str | None] = mapped_column(String(32))
    last_value: Mapped[float | None] = mapped_column(Float)
    last_ts: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        # (device, key) identifies a series; the unique index doubles as the lookup index.
        UniqueConstraint("device_id", "key"),
    )


class Point(Base):
    """A reading. Clustered by (series, time): WITHOUT ROWID on SQLite, PK index on PostgreSQL.

    Deliberately no foreign key to series: on PostgreSQL its per-row check doubled the cost of
    ingest (benchmarks/README.md). Series ids only ever come from committed series rows, and
    whoever deletes a series must delete its points through the point store.
    """

    __tablename__ = "points"
    __table_args__ = (
        PrimaryKeyConstraint("series_id", "ts"),
        {"sqlite_with_rowid": False},
    )

    series_id: Mapped[int] = mapped_column(Integer)
    ts: Mapped[int] = mapped_column(BigInteger)  # epoch milliseconds, UTC
    value: Mapped[float] = mapped_column(Float)


class Message(Base):
    """A raw JSON payload a device sent, kept until it expires."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONDoc)

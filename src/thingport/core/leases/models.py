"""Leases: which worker runs a job that must run on one worker at a time."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from thingport.storage.base import Base, UTCDateTime


class Lease(Base):
    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(255))
    # Past this time the lease is free: a holder that died stops renewing it.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)

"""The events table: one row per thing that happened, kept for redelivery."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from promo.db.metadata import Base, BigId, UtcDateTime


class Event(Base):
    """``payload`` is the public shape of what changed (a RedemptionRead, a
    PayoutRead, ...), as the API answers it: customers only as refs."""

    __tablename__ = "events"
    __table_args__ = (
        # What the fan-out has still to hand to the subscriptions.
        Index(
            "ix_events_undispatched",
            "id",
            postgresql_where=text("dispatched_at IS NULL"),
            sqlite_where=text("dispatched_at IS NULL"),
        ),
        # Events that must exist once (the commission of entry N became
        # available, a budget threshold crossed): a second insert is a no-op.
        Index(
            "uq_events_key",
            "key",
            unique=True,
            postgresql_where=text("key IS NOT NULL"),
            sqlite_where=text("key IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    key: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    # Set by the fan-out once it made the event's deliveries.
    dispatched_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

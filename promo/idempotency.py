"""Idempotency-Key records: replay, conflict and in-flight rules for every money POST.

The first request with a key inserts a row ``in_progress`` in its own short
transaction (the unique key makes the database the judge of "first"), does
its work, and stores the response. A repeat with the same body gets the
stored response; with another body 422; while the first still runs 409.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from promo.db.metadata import Base, BigId, UtcDateTime


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("scope", "key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # The owner the key belongs to: role and affiliate of the API key, and the route.
    scope: Mapped[str] = mapped_column(String(128))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

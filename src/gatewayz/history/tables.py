"""Tables of the history domain."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gatewayz.storage.types import Base, UTCDateTime

ID_LENGTH = 128  # gateway-made ids (`resp_...`); generous, like usage_records.request_id
MODEL_LENGTH = 256  # as usage_records.model
STATUS_LENGTH = 32
ENVIRONMENT_LENGTH = 16  # as api_keys.environment


class StoredResponse(Base):
    """A Responses API response kept because the request had `store: true` (the default).

    `response` and `input_items` are JSON text, not JSON/JSONB columns: the object is given back
    exactly as it was returned (JSONB would reorder keys), and neither database parses it.
    `revision` orders versions of the same response (a stream stores a partial, then the final
    one): a write never replaces a newer revision, so a late replay from the spool is harmless.
    `api_key_id` is a plain reference, like usage_records.key_id (keys are revoked, not deleted).
    """

    __tablename__ = "stored_responses"
    __table_args__ = (
        Index("ix_stored_responses_user_created", "user_id", "created_at"),
        Index("ix_stored_responses_previous", "previous_response_id"),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    api_key_id: Mapped[int | None] = mapped_column(BigInteger)
    environment: Mapped[str] = mapped_column(String(ENVIRONMENT_LENGTH), nullable=False)
    model: Mapped[str] = mapped_column(String(MODEL_LENGTH), nullable=False)
    status: Mapped[str] = mapped_column(String(STATUS_LENGTH), nullable=False)
    previous_response_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    revision: Mapped[int] = mapped_column(BigInteger, nullable=False)
    response: Mapped[str] = mapped_column(Text, nullable=False)
    input_items: Mapped[str] = mapped_column(Text, nullable=False)

"""Tables the storage layer itself owns."""

from __future__ import annotations

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from gatewayz.storage.types import Base


class ChangeCounter(Base):
    """A named counter bumped in the same transaction as a change that caches must see.

    Processes without Redis poll it to learn that, say, a key was revoked somewhere else.
    """

    __tablename__ = "change_counters"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)

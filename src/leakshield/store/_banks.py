"""Tables of the hash banks, their change sequence, and API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from leakshield.store._models import Base

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class BankRow(Base):
    """A named list of hashes: matched against (positive) or a list of known false positives
    (negative)."""

    __tablename__ = "banks"
    # Never reuse a deleted bank's id (SQLite would): matchers know signals by bank id.
    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012 (SQLAlchemy reads it)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    negative: Mapped[bool] = mapped_column(Boolean, default=False)
    # {signal type: largest distance that matches}; a type not named uses the type's default.
    thresholds: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ContentRow(Base):
    """One piece of media in a bank, known by its signals."""

    __tablename__ = "bank_content"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id", ondelete="CASCADE"), index=True)
    # "metadata" is reserved by SQLAlchemy's declarative base.
    content_metadata: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    disabled_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class SignalRow(Base):
    """One signal of one content item. ``seq`` is the change that added it."""

    __tablename__ = "bank_signals"
    __table_args__ = (
        # The same signal twice in a bank is one entry: this makes re-imports idempotent.
        UniqueConstraint("bank_id", "signal_type", "value_key", name="uq_bank_signals_value"),
        Index("ix_bank_signals_seq", "seq"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    content_id: Mapped[int] = mapped_column(
        ForeignKey("bank_content.id", ondelete="CASCADE"), index=True
    )
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id", ondelete="CASCADE"))
    signal_type: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(Text)
    # The value itself when short (hashes), else its SHA-256: unique indexes have a size limit.
    value_key: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(BigInteger)


class ChangeRow(Base):
    """A change other than an added signal, for matchers to follow: a removed signal, a
    content item whose state changed, or a bank whose settings changed."""

    __tablename__ = "bank_changes"
    __table_args__ = (Index("ix_bank_changes_seq", "seq"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))  # signal-removed | content | bank
    object_id: Mapped[int] = mapped_column(BigInteger)


class SequenceRow(Base):
    """The one-row change counter. Writers update it first in their transaction, so its
    row lock orders commits and matchers never miss a change committed out of order."""

    __tablename__ = "bank_sequence"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    # Ids are handed out here and never reused, so a content id always names one item.
    next_content_id: Mapped[int] = mapped_column(BigInteger, default=1)
    next_signal_id: Mapped[int] = mapped_column(BigInteger, default=1)
    # Random, set once: a matcher snapshot of another (or a restored) database is not used.
    database_id: Mapped[str] = mapped_column(String(32))


class ApiKeyRow(Base):
    """An API key, stored as the SHA-256 of its secret."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    role: Mapped[str] = mapped_column(String(16))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

"""Reference photos for derivation: the local features of the user's own photos, by bank."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from leakshield.store._models import Base


class ReferenceRow(Base):
    """One of the user's photos: where it was, its digest and PDQ, and its local features
    (keypoints and binary descriptors), never its pixels."""

    __tablename__ = "forensic_references"
    __table_args__ = (UniqueConstraint("bank", "sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bank: Mapped[str] = mapped_column(String(100), index=True)
    title: Mapped[str] = mapped_column(Text)
    path: Mapped[str | None] = mapped_column(Text, nullable=True)
    sha256: Mapped[str] = mapped_column(String(64))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    pdq: Mapped[str | None] = mapped_column(String(64), nullable=True)
    work_width: Mapped[int] = mapped_column(Integer)
    work_height: Mapped[int] = mapped_column(Integer)
    points: Mapped[bytes] = mapped_column(LargeBinary)
    descriptors: Mapped[bytes] = mapped_column(LargeBinary)
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

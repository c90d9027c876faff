"""The manifest repository: every C2PA manifest leakshield signed, indexed by the soft
bindings that outlive a stripped copy (watermark payload, PDQ, vPDQ)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from leakshield.store._models import Base


class ManifestRow(Base):
    """One signed file: its manifest (bytes and JSON) and what finds it again."""

    __tablename__ = "provenance_manifests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    label: Mapped[str] = mapped_column(String(200), unique=True)
    signed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    title: Mapped[str] = mapped_column(Text)
    media_type: Mapped[str] = mapped_column(String(10))
    mime: Mapped[str] = mapped_column(String(40))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    pdq: Mapped[str | None] = mapped_column(String(64), nullable=True)
    source_pdq: Mapped[str | None] = mapped_column(String(64), nullable=True)
    watermark_payload: Mapped[str | None] = mapped_column(String(16), nullable=True, index=True)
    watermark_key_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    vpdq: Mapped[str | None] = mapped_column(Text, nullable=True)
    output_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    manifest: Mapped[dict[str, Any]] = mapped_column(JSON)
    manifest_data: Mapped[bytes] = mapped_column(LargeBinary)

"""The user's own photos as references for derivation: local features and PDQ, stored by
bank. Only features are kept, never pixels; the photo's path is kept so that a difference
map can be drawn while the photo is still there."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageOps
from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite

from leakshield.forensics._features import (
    REFERENCE_POINTS,
    WORK_SIDE,
    Features,
    describe,
    working_gray,
)
from leakshield.forensics._subject import MAX_ANALYZE_BYTES
from leakshield.media import MediaError, MediaLimits, image_decoding
from leakshield.store import Database, ReferenceRow

__all__ = [
    "Reference",
    "ReferenceSet",
    "ReferenceStore",
    "reference_from_file",
    "reference_from_rgb",
]


@dataclass(frozen=True)
class Reference:
    """One of the user's photos, as derivation knows it."""

    title: str
    sha256: str
    width: int
    height: int
    features: Features
    pdq: str | None = None
    path: str | None = None  # where the photo was when it was registered
    added_at: datetime | None = None


def reference_from_rgb(
    rgb: NDArray[np.uint8],
    *,
    title: str,
    sha256: str,
    path: str | None = None,
    pdq: str | None = None,
    size: tuple[int, int] | None = None,
) -> Reference:
    """A reference made from a photo's upright pixels. ``pdq``: its PDQ hex when the
    caller has it (computed otherwise); ``size``: the photo's full upright size when
    ``rgb`` is a reduced decode of it."""
    height, width = rgb.shape[:2]
    full_width, full_height = size or (width, height)
    gray, _ = working_gray(rgb)
    features = describe(gray, REFERENCE_POINTS)
    # Features are kept at the working size of the full photo, whatever size was decoded.
    work_width = max(1, round(full_width * min(1.0, WORK_SIDE / max(full_width, full_height))))
    work_height = max(1, round(full_height * min(1.0, WORK_SIDE / max(full_width, full_height))))
    if (work_width, work_height) != (features.width, features.height):
        ratio = np.array([work_width / features.width, work_height / features.height], np.float32)
        features = Features(features.points * ratio, features.descriptors, work_width, work_height)
    return Reference(
        title=title,
        sha256=sha256,
        width=full_width,
        height=full_height,
        features=features,
        pdq=pdq if pdq is not None else _pdq(rgb),
        path=path,
        added_at=datetime.now(UTC),
    )


def _pdq(rgb: NDArray[np.uint8]) -> str | None:
    from leakshield.media import rgb_to_luma
    from leakshield.signals import pdq_from_plane

    result = pdq_from_plane(rgb_to_luma(rgb))
    return str(result.hash) if result.usable else None


def reference_from_file(
    path: Path,
    limits: MediaLimits,
    *,
    title: str | None = None,
    sha256: str | None = None,
    pdq: str | None = None,
) -> Reference:
    """A reference made from an image file (read within ``limits``). A JPEG is decoded
    at a reduced scale, which costs a fraction of a full decode and loses nothing at the
    working size; ``sha256`` and ``pdq`` save work when the caller has them."""
    from leakshield.signals import file_digests, pdq_from_file

    limits.check_file(path)
    if path.stat().st_size > MAX_ANALYZE_BYTES:
        raise MediaError("file-too-large", f"a photo is read up to {MAX_ANALYZE_BYTES:,} bytes")
    with image_decoding(), Image.open(path) as image:
        limits.check_pixels(*image.size)
        width, height = image.size
        shrink = min(1.0, WORK_SIDE / max(width, height))  # the decoder keeps at least this
        image.draft("RGB", (max(1, round(width * shrink)), max(1, round(height * shrink))))
        drafted = image.size
        turned = ImageOps.exif_transpose(image)
        rgb = np.asarray(turned.convert("RGB"), dtype=np.uint8)
    # The full photo's upright size: a quarter turn swaps its sides.
    size = (height, width) if turned.size != drafted else (width, height)
    if pdq is None:
        result = pdq_from_file(path, limits)
        pdq = str(result.hash) if result.usable else None
    return reference_from_rgb(
        rgb,
        title=title or path.name,
        sha256=sha256 or str(file_digests(path)[1]),
        path=str(path.resolve()),
        pdq=pdq,
        size=size,
    )


class ReferenceSet:
    """References ready to match: every descriptor in one array, with each photo's range."""

    def __init__(self, references: Sequence[Reference], *, bank: str | None = None) -> None:
        self.references = tuple(references)
        self.bank = bank
        counts = [len(r.features) for r in self.references]
        self.offsets = np.zeros(len(counts) + 1, dtype=np.int64)
        np.cumsum(counts, out=self.offsets[1:])
        if self.references:
            self.descriptors = np.ascontiguousarray(
                np.concatenate([r.features.descriptors for r in self.references])
            )
        else:
            self.descriptors = np.zeros((0, 4), np.uint64)

    def __len__(self) -> int:
        return len(self.references)


class ReferenceStore:
    """References in the database, by bank."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def add(self, bank: str, references: Iterable[Reference]) -> int:
        """Store ``references`` in ``bank``; one already there (same SHA-256) is updated.
        Returns how many were stored."""
        rows = [_row(bank, r) for r in references]
        if not rows:
            return 0
        dialect = self.database.engine.dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        with self.database.engine.begin() as connection:
            for row in rows:
                statement = insert(ReferenceRow).values(**row)
                statement = statement.on_conflict_do_update(
                    index_elements=["bank", "sha256"],
                    set_={k: v for k, v in row.items() if k not in ("bank", "sha256")},
                )
                connection.execute(statement)
        return len(rows)

    def count(self, bank: str) -> int:
        """How many references ``bank`` holds."""
        with self.database.engine.connect() as connection:
            query = select(func.count(ReferenceRow.id)).where(ReferenceRow.bank == bank)
            return int(connection.execute(query).scalar_one())

    def load(self, bank: str) -> ReferenceSet:
        """Every reference of ``bank``, ready to match."""
        with self.database.engine.connect() as connection:
            query = select(ReferenceRow).where(ReferenceRow.bank == bank)
            rows = connection.execute(query.order_by(ReferenceRow.id)).all()
        return ReferenceSet([_reference(row) for row in rows], bank=bank)

    def remove(self, bank: str) -> int:
        """Forget every reference of ``bank``; returns how many there were."""
        with self.database.engine.begin() as connection:
            result = connection.execute(delete(ReferenceRow).where(ReferenceRow.bank == bank))
            return int(result.rowcount or 0)


def _row(bank: str, reference: Reference) -> dict[str, object]:
    features = reference.features
    return {
        "bank": bank,
        "title": reference.title,
        "path": reference.path,
        "sha256": reference.sha256,
        "width": reference.width,
        "height": reference.height,
        "pdq": reference.pdq,
        "work_width": features.width,
        "work_height": features.height,
        "points": features.points.astype("<f4").tobytes(),
        "descriptors": features.descriptors.astype("<u8").tobytes(),
        "added_at": reference.added_at or datetime.now(UTC),
    }


def _reference(row: Any) -> Reference:  # a Row of ReferenceRow's columns
    points = np.frombuffer(row.points, dtype="<f4").reshape(-1, 2).astype(np.float32)
    descriptors = np.frombuffer(row.descriptors, dtype="<u8").reshape(-1, 4).astype(np.uint64)
    added = row.added_at
    return Reference(
        title=row.title,
        sha256=row.sha256,
        width=row.width,
        height=row.height,
        features=Features(points, descriptors, row.work_width, row.work_height),
        pdq=row.pdq,
        path=row.path,
        added_at=added.replace(tzinfo=UTC) if added.tzinfo is None else added,
    )

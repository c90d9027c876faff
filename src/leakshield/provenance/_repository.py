"""The local manifest repository: every manifest leakshield signs is kept, and found again
from what survives when a platform strips it (the watermark payload, the PDQ hash)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import func, insert, select

from leakshield.store import Database, ManifestRow

__all__ = ["ManifestRepository", "StoredManifest"]


@dataclass(frozen=True)
class StoredManifest:
    """A signed file as the repository keeps it."""

    label: str
    signed_at: datetime
    title: str
    media_type: str
    mime: str
    sha256: str
    width: int | None
    height: int | None
    pdq: str | None
    source_pdq: str | None
    watermark_payload: str | None
    watermark_key_id: str | None
    vpdq: str | None
    output_path: str | None
    manifest: dict[str, Any]
    manifest_data: bytes

    @property
    def size(self) -> tuple[int, int] | None:
        return (self.width, self.height) if self.width and self.height else None


_FIELDS = tuple(StoredManifest.__dataclass_fields__)


class ManifestRepository:
    """Signed manifests in the database, looked up by label, payload, PDQ or vPDQ."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def add(self, stored: StoredManifest) -> None:
        values = {name: getattr(stored, name) for name in _FIELDS}
        with self.database.engine.begin() as connection:
            connection.execute(insert(ManifestRow).values(**values))

    def count(self) -> int:
        with self.database.engine.connect() as connection:
            return int(connection.execute(select(func.count(ManifestRow.id))).scalar_one())

    def by_label(self, label: str) -> StoredManifest | None:
        found = self._select(select(ManifestRow).where(ManifestRow.label == label))
        return found[0] if found else None

    def by_sha256(self, sha256: str) -> list[StoredManifest]:
        return self._select(select(ManifestRow).where(ManifestRow.sha256 == sha256))

    def by_watermark(self, payload_hex: str, key_id: str) -> list[StoredManifest]:
        """Manifests of files marked with this payload under this key, newest first."""
        return self._select(
            select(ManifestRow)
            .where(ManifestRow.watermark_payload == payload_hex.lower())
            .where(ManifestRow.watermark_key_id == key_id)
            .order_by(ManifestRow.signed_at.desc())
        )

    def nearest_pdq(self, pdq_hex: str, max_distance: int) -> list[tuple[StoredManifest, int]]:
        """Manifests whose signed copy or original is within ``max_distance`` bits of
        ``pdq_hex``, nearest first (the smaller of the two distances counts)."""
        with self.database.engine.connect() as connection:
            rows = connection.execute(
                select(ManifestRow.id, ManifestRow.pdq, ManifestRow.source_pdq).where(
                    ManifestRow.pdq.is_not(None)
                )
            ).all()
        if not rows:
            return []
        query = np.frombuffer(bytes.fromhex(pdq_hex), dtype=np.uint8)
        best: dict[int, int] = {}
        for column in (1, 2):
            held = [(int(row[0]), str(row[column])) for row in rows if row[column]]
            if not held:
                continue
            ids = [row_id for row_id, _ in held]
            digests = bytes.fromhex("".join(value for _, value in held))
            hashes = np.frombuffer(digests, dtype=np.uint8).reshape(-1, 32)
            distances = np.unpackbits(hashes ^ query, axis=1).sum(axis=1)
            for row_id, distance in zip(ids, distances.tolist(), strict=True):
                if distance <= max_distance:
                    best[row_id] = min(distance, best.get(row_id, distance))
        if not best:
            return []
        found = dict(self._select_with_ids(select(ManifestRow).where(ManifestRow.id.in_(best))))
        return sorted(((found[i], d) for i, d in best.items()), key=lambda item: item[1])

    def videos(self) -> list[StoredManifest]:
        return self._select(select(ManifestRow).where(ManifestRow.vpdq.is_not(None)))

    def _select(self, statement: Any) -> list[StoredManifest]:
        return [stored for _, stored in self._select_with_ids(statement)]

    def _select_with_ids(self, statement: Any) -> list[tuple[int, StoredManifest]]:
        with self.database.session() as session:
            rows = session.scalars(statement).all()
            return [(row.id, _stored(row)) for row in rows]


def _stored(row: ManifestRow) -> StoredManifest:
    values = {name: getattr(row, name) for name in _FIELDS}
    when = values["signed_at"]
    if when.tzinfo is None:  # SQLite hands back naive datetimes
        values["signed_at"] = when.replace(tzinfo=UTC)
    return StoredManifest(**values)

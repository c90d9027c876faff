"""Creating, listing, revoking and checking API keys.

A key is ``lsk_<prefix>_<secret>``: the prefix finds the row, the secret is compared
with its stored SHA-256 in constant time. Secrets are 256 random bits, so a fast hash
is enough; a slow KDF would only slow every request down.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, get_args

from sqlalchemy import insert, select, update

from leakshield.errors import InputError, NotFoundError
from leakshield.store import ApiKeyRow, Database

Role = Literal["lookup", "curate", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)
_RANK: dict[str, int] = {role: rank for rank, role in enumerate(ROLES)}
_CACHE_SECONDS = 2.0


class ApiKeyError(InputError):
    """A role or key name is not acceptable."""

    slug = "bad-api-key-input"
    title = "Bad API key input"


def role_allows(role: str, needed: Role) -> bool:
    """True when ``role`` may do what ``needed`` may: admin > curate > lookup."""
    return _RANK.get(role, -1) >= _RANK[needed]


@dataclass(frozen=True)
class ApiKey:
    """An API key as stored: never its secret."""

    id: int
    name: str
    role: Role
    prefix: str
    created_at: datetime
    revoked_at: datetime | None = None

    def to_record(self) -> dict[str, Any]:
        """The documented JSON form."""
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "prefix": self.prefix,
            "created_at": self.created_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }


class ApiKeys:
    """The API keys of one database, with a short-lived cache of checked keys so that a
    request costs no query; a revoked key stops working within two seconds."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._cache: dict[str, tuple[float, ApiKey | None]] = {}
        self._cache_lock = threading.Lock()

    def create(self, role: str, name: str = "") -> tuple[ApiKey, str]:
        """Create a key; returns it and its secret, which is shown this once only."""
        if role not in ROLES:
            raise ApiKeyError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
        if len(name) > 100:
            raise ApiKeyError("a key name has at most 100 characters")
        prefix = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        with self.database.session() as session:
            key_id = session.execute(
                insert(ApiKeyRow)
                .values(
                    name=name,
                    role=role,
                    prefix=prefix,
                    secret_sha256=_digest(secret),
                    created_at=now,
                )
                .returning(ApiKeyRow.id)
            ).scalar_one()
        return ApiKey(key_id, name, role, prefix, now), f"lsk_{prefix}_{secret}"

    def list(self) -> list[ApiKey]:
        """Every key, revoked ones included, oldest first."""
        with self.database.session() as session:
            rows = session.execute(select(ApiKeyRow).order_by(ApiKeyRow.id)).scalars().all()
            return [_key(row) for row in rows]

    def revoke(self, key_id: int) -> ApiKey:
        """Revoke a key; it stops working within two seconds on every server."""
        with self.database.session() as session:
            row = session.get(ApiKeyRow, key_id)
            if row is None:
                raise NotFoundError(f"There is no API key with id {key_id}. See `apikey list`.")
            if row.revoked_at is None:
                session.execute(
                    update(ApiKeyRow)
                    .where(ApiKeyRow.id == key_id)
                    .values(revoked_at=datetime.now(UTC))
                )
                session.refresh(row)
            return _key(row)

    def check(self, presented: str) -> ApiKey | None:
        """The live key ``presented`` is, or None for an unknown, wrong or revoked key."""
        now = time.monotonic()
        with self._cache_lock:
            cached = self._cache.get(presented)
        if cached is not None and now - cached[0] < _CACHE_SECONDS:
            return cached[1]
        key = self._lookup(presented)
        with self._cache_lock:
            if len(self._cache) > 10_000:  # bounded: random wrong keys cannot fill memory
                self._cache.clear()
            self._cache[presented] = (now, key)
        return key

    def _lookup(self, presented: str) -> ApiKey | None:
        parts = presented.split("_")
        if len(parts) < 3 or parts[0] != "lsk":
            return None
        prefix, secret = parts[1], "_".join(parts[2:])
        with self.database.session() as session:
            row = session.execute(
                select(ApiKeyRow).where(ApiKeyRow.prefix == prefix)
            ).scalar_one_or_none()
            if row is None or row.revoked_at is not None:
                return None
            if not hmac.compare_digest(row.secret_sha256, _digest(secret)):
                return None
            return _key(row)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _key(row: ApiKeyRow) -> ApiKey:
    created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
    revoked = row.revoked_at
    if revoked is not None and revoked.tzinfo is None:
        revoked = revoked.replace(tzinfo=UTC)
    return ApiKey(row.id, row.name, row.role, row.prefix, created, revoked)  # type: ignore[arg-type]

"""Storage: SQLAlchemy 2 over SQLite (embedded default) or PostgreSQL, with Alembic migrations."""

from leakshield.store._banks import (
    ApiKeyRow,
    BankRow,
    ChangeRow,
    ContentRow,
    SequenceRow,
    SignalRow,
)
from leakshield.store._database import Database, SchemaState, normalize_url
from leakshield.store._forensics import ReferenceRow
from leakshield.store._models import Base
from leakshield.store._provenance import ManifestRow

__all__ = [
    "ApiKeyRow",
    "BankRow",
    "Base",
    "ChangeRow",
    "ContentRow",
    "Database",
    "ManifestRow",
    "ReferenceRow",
    "SchemaState",
    "SequenceRow",
    "SignalRow",
    "normalize_url",
]

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
from leakshield.store._models import Base

__all__ = [
    "ApiKeyRow",
    "BankRow",
    "Base",
    "ChangeRow",
    "ContentRow",
    "Database",
    "SchemaState",
    "SequenceRow",
    "SignalRow",
    "normalize_url",
]

"""Storage: SQLAlchemy 2 over SQLite (embedded default) or PostgreSQL, with Alembic migrations."""

from leakshield.store._database import Database, SchemaState, normalize_url
from leakshield.store._models import Base

__all__ = ["Base", "Database", "SchemaState", "normalize_url"]

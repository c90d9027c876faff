"""Alembic environment: always run online, on the connection the store hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from leakshield.store import Base

connection: Connection | None = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through leakshield.store.Database.upgrade")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite cannot ALTER most things in place; batch mode copies the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()

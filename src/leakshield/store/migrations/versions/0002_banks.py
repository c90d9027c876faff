"""Hash banks, their content and signals, the change sequence matchers follow, API keys.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the bank, content, signal, change, sequence and API key tables."""
    op.create_table(
        "banks",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("negative", sa.Boolean(), nullable=False),
        sa.Column("thresholds", sa.JSON(), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("updated_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_banks")),
        sa.UniqueConstraint("name", name=op.f("uq_banks_name")),
        # Never reuse a deleted bank's id (SQLite would): matchers know signals by bank id.
        sqlite_autoincrement=True,
    )
    op.create_table(
        "bank_content",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("bank_id", sa.Integer(), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("disabled_until", _WHEN, nullable=True),
        sa.ForeignKeyConstraint(
            ["bank_id"],
            ["banks.id"],
            name=op.f("fk_bank_content_bank_id_banks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_content")),
    )
    op.create_index(op.f("ix_bank_content_bank_id"), "bank_content", ["bank_id"])
    op.create_table(
        "bank_signals",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("content_id", _BIG_ID, nullable=False),
        sa.Column("bank_id", sa.Integer(), nullable=False),
        sa.Column("signal_type", sa.String(32), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("value_key", sa.String(64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["bank_id"],
            ["banks.id"],
            name=op.f("fk_bank_signals_bank_id_banks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["content_id"],
            ["bank_content.id"],
            name=op.f("fk_bank_signals_content_id_bank_content"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_signals")),
        sa.UniqueConstraint("bank_id", "signal_type", "value_key", name="uq_bank_signals_value"),
    )
    op.create_index(op.f("ix_bank_signals_content_id"), "bank_signals", ["content_id"])
    op.create_index("ix_bank_signals_seq", "bank_signals", ["seq"])
    op.create_table(
        "bank_changes",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("object_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_changes")),
    )
    op.create_index("ix_bank_changes_seq", "bank_changes", ["seq"])
    op.create_table(
        "bank_sequence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("next_content_id", sa.BigInteger(), nullable=False),
        sa.Column("next_signal_id", sa.BigInteger(), nullable=False),
        sa.Column("database_id", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_sequence")),
    )
    op.bulk_insert(
        sa.table(
            "bank_sequence",
            *(sa.column(name) for name in ("id", "seq", "next_content_id", "next_signal_id")),
            sa.column("database_id"),
        ),
        [
            {
                "id": 1,
                "seq": 0,
                "next_content_id": 1,
                "next_signal_id": 1,
                "database_id": uuid.uuid4().hex,
            }
        ],
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("secret_sha256", sa.String(64), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("revoked_at", _WHEN, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_keys_prefix")),
    )


def downgrade() -> None:
    """Drop every table this revision created."""
    for table in ("api_keys", "bank_sequence", "bank_changes", "bank_signals", "bank_content"):
        op.drop_table(table)
    op.drop_table("banks")

"""Reference photos for derivation (local features of the user's own photos).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create the reference table and its bank index."""
    op.create_table(
        "forensic_references",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bank", sa.String(100), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("path", sa.Text(), nullable=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("pdq", sa.String(64), nullable=True),
        sa.Column("work_width", sa.Integer(), nullable=False),
        sa.Column("work_height", sa.Integer(), nullable=False),
        sa.Column("points", sa.LargeBinary(), nullable=False),
        sa.Column("descriptors", sa.LargeBinary(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_forensic_references")),
        sa.UniqueConstraint("bank", "sha256", name=op.f("uq_forensic_references_bank")),
    )
    op.create_index(op.f("ix_forensic_references_bank"), "forensic_references", ["bank"])


def downgrade() -> None:
    """Drop the reference table."""
    op.drop_table("forensic_references")

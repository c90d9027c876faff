"""The manifest repository of signed files.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the manifest table and its indexes."""
    op.create_table(
        "provenance_manifests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("signed_at", _WHEN, nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("media_type", sa.String(10), nullable=False),
        sa.Column("mime", sa.String(40), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("pdq", sa.String(64), nullable=True),
        sa.Column("source_pdq", sa.String(64), nullable=True),
        sa.Column("watermark_payload", sa.String(16), nullable=True),
        sa.Column("watermark_key_id", sa.String(64), nullable=True),
        sa.Column("vpdq", sa.Text(), nullable=True),
        sa.Column("output_path", sa.Text(), nullable=True),
        sa.Column("manifest", sa.JSON(), nullable=False),
        sa.Column("manifest_data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provenance_manifests")),
        sa.UniqueConstraint("label", name=op.f("uq_provenance_manifests_label")),
    )
    op.create_index(op.f("ix_provenance_manifests_sha256"), "provenance_manifests", ["sha256"])
    op.create_index(
        op.f("ix_provenance_manifests_watermark_payload"),
        "provenance_manifests",
        ["watermark_payload"],
    )


def downgrade() -> None:
    """Drop the manifest table."""
    op.drop_table("provenance_manifests")

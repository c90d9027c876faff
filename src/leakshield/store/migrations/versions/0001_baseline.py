"""Baseline: an empty schema that later migrations build on.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Nothing yet: the first subsystem with tables adds the next revision."""


def downgrade() -> None:
    """Nothing to undo."""

"""drop the period indexes of budget and visa rows: their key index starts with the period

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_TABLES = ("budget", "visa")


def upgrade() -> None:
    for name in _TABLES:
        op.drop_index(f"ix_{name}_current_period", table_name=f"{name}_rows")


def downgrade() -> None:
    for name in _TABLES:
        op.create_index(f"ix_{name}_current_period", f"{name}_rows", ["current", "year", "month"])

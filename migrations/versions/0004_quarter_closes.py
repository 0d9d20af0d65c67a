"""quarter close (期末鎖定): the closes of each quarter with their as-reported snapshots

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "quarter_closes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("year", sa.Integer, nullable=False),
        sa.Column("quarter", sa.Integer, nullable=False),
        sa.Column("snapshot", sa.Text, nullable=False),
        sa.Column("closed_at", sa.DateTime, nullable=False),
        sa.Column("closed_by", sa.String(200), nullable=False),
        sa.Column("reopened_at", sa.DateTime),
        sa.Column("reopened_by", sa.String(200)),
        sa.Column("reopen_reason", sa.Text),
    )
    op.create_index("ix_quarter_closes_year_quarter", "quarter_closes", ["year", "quarter"])


def downgrade() -> None:
    op.drop_index("ix_quarter_closes_year_quarter", table_name="quarter_closes")
    op.drop_table("quarter_closes")

"""summary tables (kpi.rollups), filled from the rows already stored

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "summary_periods",
        sa.Column("dataset", sa.String(20), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("dataset", "year", "month"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "summary_visa_months",
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("visa_type", sa.Text(), nullable=False),
        sa.Column("has__avg_days", sa.Boolean(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.Column("s__applications", sa.BigInteger(), nullable=True),
        sa.Column("s__issued", sa.BigInteger(), nullable=True),
        sa.Column("s__refused", sa.BigInteger(), nullable=True),
        sa.Column("w__avg_days__issued", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("year", "month", "visa_type", "has__avg_days"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "summary_visa_missions",
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("quarter", sa.Integer(), nullable=False),
        sa.Column("mission", sa.Text(), nullable=False),
        sa.Column("visa_type", sa.Text(), nullable=False),
        sa.Column("region", sa.Text(), nullable=True),
        sa.Column("applications", sa.BigInteger(), nullable=False),
        sa.Column("issued", sa.BigInteger(), nullable=False),
        sa.Column("refused", sa.BigInteger(), nullable=False),
        sa.Column("day_weight", sa.Float(), nullable=False),
        sa.Column("issued_reported", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("year", "mission", "visa_type", "quarter"),
        sqlite_with_rowid=False,
    )
    from kpi import rollups

    rollups.rebuild(op.get_bind())


def downgrade() -> None:
    for name in ("summary_visa_missions", "summary_visa_months", "summary_periods"):
        op.drop_table(name)

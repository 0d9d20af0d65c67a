"""each batch's rows by id range (batch_rows) instead of a batch_id index on every row

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_DATASETS = ("budget", "visa", "visits", "kpi_values")


def upgrade() -> None:
    op.create_table(
        "batch_rows",
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("dataset", sa.String(20), nullable=False),
        sa.Column("first_id", sa.Integer(), nullable=False),
        sa.Column("last_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["batch_id"], ["batches.id"]),
        sa.PrimaryKeyConstraint("batch_id", "dataset"),
    )
    ranges = sa.table(
        "batch_rows",
        sa.column("batch_id"),
        sa.column("dataset"),
        sa.column("first_id"),
        sa.column("last_id"),
    )
    for name in _DATASETS:
        rows = sa.table(f"{name}_rows", sa.column("id"), sa.column("batch_id"))
        per_batch = sa.select(
            rows.c.batch_id, sa.literal(name), sa.func.min(rows.c.id), sa.func.max(rows.c.id)
        ).group_by(rows.c.batch_id)
        op.execute(
            ranges.insert().from_select(["batch_id", "dataset", "first_id", "last_id"], per_batch)
        )
        op.drop_index(f"ix_{name}_batch", table_name=f"{name}_rows")


def downgrade() -> None:
    for name in _DATASETS:
        op.create_index(f"ix_{name}_batch", f"{name}_rows", ["batch_id"])
    op.drop_table("batch_rows")

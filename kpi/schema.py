"""The database's tables: bookkeeping, and one versioned rows table per dataset.

The rows tables are derived from the dataset schemas (kpi.ingest.datasets), so a new
field is declared once. kpi.store writes them; kpi.figures and kpi.views read them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import sqlalchemy as sa

from kpi.ingest.datasets import (
    DATASETS,
    DATE,
    INT,
    MONEY,
    MONTH,
    NUMBER,
    QUARTER,
    RATE,
    YEAR,
    Dataset,
)

metadata = sa.MetaData()

meta = sa.Table(
    "meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

batches = sa.Table(
    "batches",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("datasets", sa.String(100), nullable=False),
    sa.Column("file_name", sa.Text, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("who", sa.String(200), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Column("new", sa.Integer, nullable=False),
    sa.Column("changed", sa.Integer, nullable=False),
    sa.Column("unchanged", sa.Integer, nullable=False),
    sa.Column("removed", sa.Integer, nullable=False),
    sa.Column("summary", sa.Text, nullable=False),  # JSON: year, months, warnings count …
    sa.Column("status", sa.String(16), nullable=False),  # active | undone
    sa.Column("undone_at", sa.DateTime),
    sa.Column("undone_by", sa.String(200)),
)

batch_files = sa.Table(
    "batch_files",
    metadata,
    sa.Column("batch_id", sa.Integer, sa.ForeignKey("batches.id"), primary_key=True),
    sa.Column("content", sa.LargeBinary, nullable=False),
)

plans = sa.Table(
    "plans",
    metadata,
    sa.Column("year", sa.Integer, primary_key=True),
    sa.Column("agency", sa.String(200), nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("loaded_at", sa.DateTime, nullable=False),
    sa.Column("loaded_by", sa.String(200), nullable=False),
)

target_revisions = sa.Table(
    "target_revisions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kpi", sa.String(32), nullable=False),
    sa.Column("year", sa.Integer, nullable=False),
    sa.Column("quarter", sa.Integer, nullable=False),
    sa.Column("old", sa.Float),
    sa.Column("new", sa.Float, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("who", sa.String(200), nullable=False),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Index("ix_target_revisions_kpi_year", "kpi", "year"),
)

audit = sa.Table(
    "audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Column("who", sa.String(200), nullable=False),
    sa.Column("action", sa.String(40), nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
)

_SQL_TYPES = {
    YEAR: sa.Integer,
    MONTH: sa.Integer,
    QUARTER: sa.Integer,
    INT: sa.BigInteger,
    MONEY: sa.Float,
    NUMBER: sa.Float,
    RATE: sa.Float,
    DATE: sa.Date,
}

# Visits are keyed by date; year and month are derived so figures can filter like the others.
_DERIVED = {"visits": ("year", "month")}


def _row_table(ds: Dataset) -> sa.Table:
    """The versioned rows table of a dataset, derived from its schema."""
    cols = [
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("batch_id", sa.Integer, sa.ForeignKey("batches.id"), nullable=False),
        sa.Column("current", sa.Boolean, nullable=False),
        sa.Column("deleted", sa.Boolean, nullable=False),
    ]
    for f in ds.stored_fields:
        # Key columns are NOT NULL ('' for a blank text) so key equality is plain '='.
        cols.append(
            sa.Column(f.name, _SQL_TYPES.get(f.kind, sa.Text), nullable=f.name not in ds.key)
        )
    for name in _DERIVED.get(ds.name, ()):
        cols.append(sa.Column(name, sa.Integer, nullable=False))
    period = ("year", "month") if ds.name != "kpi_values" else ("year", "quarter")
    indexes = [
        sa.Index(f"ix_{ds.name}_key", *ds.key),
        sa.Index(f"ix_{ds.name}_batch", "batch_id"),
    ]
    if ds.key[: len(period)] != period:
        # A key that starts with the period already finds a period's rows; another index
        # would only slow down every insert.
        indexes.append(sa.Index(f"ix_{ds.name}_current_period", "current", *period))
    return sa.Table(f"{ds.name}_rows", metadata, *cols, *indexes)


ROW_TABLES: dict[str, sa.Table] = {name: _row_table(ds) for name, ds in DATASETS.items()}


def period_in(
    year: sa.ColumnElement, period: sa.ColumnElement, pairs: Iterable[tuple[int, int]]
) -> sa.ColumnElement:
    """Rows of these (year, month or quarter)s, as ``year = y AND period IN (…)`` per year.

    SQLite answers this from an index that starts with (year, period); a row-value
    ``(year, period) IN (…)`` makes it scan the whole table.
    """
    by_year: dict[int, set[int]] = defaultdict(set)
    for y, p in pairs:
        by_year[int(y)].add(int(p))
    if not by_year:
        return sa.false()
    return sa.or_(
        *(sa.and_(year == y, period.in_(sorted(ps))) for y, ps in sorted(by_year.items()))
    )

"""The database's tables, and how frames go into and come out of them.

The rows tables are derived from the dataset schemas (kpi.ingest.datasets), so a new
field is declared once. kpi.store writes them; kpi.figures and kpi.views read them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

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

# The rows a batch wrote to each dataset lie between these ids (every import writes a
# dataset's rows in one insert, under the write lock). With ``batch_id`` this finds them
# by the primary key: no index on batch_id to keep up on every inserted row.
batch_rows = sa.Table(
    "batch_rows",
    metadata,
    sa.Column("batch_id", sa.Integer, sa.ForeignKey("batches.id"), primary_key=True),
    sa.Column("dataset", sa.String(20), primary_key=True),
    sa.Column("first_id", sa.Integer, nullable=False),
    sa.Column("last_id", sa.Integer, nullable=False),
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

# Quarter close (期末鎖定): one row per close, with the figures as reported at that moment.
# A reopen fills the reopened_* columns and lifts the lock; the row and its snapshot stay.
quarter_closes = sa.Table(
    "quarter_closes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("year", sa.Integer, nullable=False),
    sa.Column("quarter", sa.Integer, nullable=False),
    sa.Column("snapshot", sa.Text, nullable=False),  # JSON: the quarter's Status, whole agency
    sa.Column("closed_at", sa.DateTime, nullable=False),
    sa.Column("closed_by", sa.String(200), nullable=False),
    sa.Column("reopened_at", sa.DateTime),
    sa.Column("reopened_by", sa.String(200)),
    sa.Column("reopen_reason", sa.Text),
    sa.Index("ix_quarter_closes_year_quarter", "year", "quarter"),
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
    indexes = [sa.Index(f"ix_{ds.name}_key", *ds.key)]
    if ds.key[: len(period)] != period:
        # A key that starts with the period already finds a period's rows; another index
        # would only slow down every insert.
        indexes.append(sa.Index(f"ix_{ds.name}_current_period", "current", *period))
    return sa.Table(f"{ds.name}_rows", metadata, *cols, *indexes)


ROW_TABLES: dict[str, sa.Table] = {name: _row_table(ds) for name, ds in DATASETS.items()}


def next_id(conn: Connection, t: sa.Table) -> int:
    """A lower bound of the ids the table's next inserts get (the write lock is held)."""
    if conn.dialect.name == "postgresql":
        # Sequences only grow: every id handed out after this one is larger.
        seq = sa.func.pg_get_serial_sequence(t.name, "id")
        return int(conn.execute(sa.select(sa.func.nextval(seq))).scalar_one())
    # SQLite gives a new row the largest rowid plus one.
    return int(conn.execute(sa.select(sa.func.max(t.c.id))).scalar() or 0) + 1


def of_batch(conn: Connection, dataset: str, batch_id: int, t: sa.Table) -> sa.ColumnElement:
    """The rows of ``t`` (the dataset's rows table, or an alias of it) a batch wrote."""
    found = conn.execute(
        sa.select(batch_rows.c.first_id, batch_rows.c.last_id).where(
            batch_rows.c.batch_id == batch_id, batch_rows.c.dataset == dataset
        )
    ).first()
    if found is None:
        return sa.false()
    return sa.and_(t.c.id.between(found.first_id, found.last_id), t.c.batch_id == batch_id)


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


def result_frame(result: sa.CursorResult) -> pd.DataFrame:
    """A query result as a DataFrame.

    The rows are handed over as plain tuples: given SQLAlchemy's Row objects, pandas
    probes each one for attributes and every miss raises inside SQLAlchemy, which costs
    more than the query itself on large results.
    """
    return pd.DataFrame(list(map(tuple, result.fetchall())), columns=list(result.keys()))


def _python_column(values: pd.Series, kind: sa.types.TypeEngine, dialect: str) -> list:
    """One column as plain Python values for the driver, NA → None, with no per-row pandas."""
    if isinstance(kind, sa.Boolean):
        flags = values.astype(bool).to_numpy()
        return flags.astype(int).tolist() if dialect == "sqlite" else flags.tolist()
    if isinstance(kind, sa.Date):
        days = pd.to_datetime(values)
        if dialect == "sqlite":
            # SQLAlchemy's SQLite Date is ISO text; write what it would read back.
            return days.dt.strftime("%Y-%m-%d").to_numpy(dtype=object, na_value=None).tolist()
        return [None if pd.isna(d) else d.date() for d in days]
    if isinstance(kind, sa.Integer) and pd.api.types.is_float_dtype(values):
        values = values.astype("Int64")
    if isinstance(kind, sa.Integer | sa.Float):
        # numpy → object turns each element into a Python int/float.
        return values.to_numpy(dtype=object, na_value=None).tolist()
    return values.astype(object).where(values.notna(), None).tolist()


def bulk_insert(conn: Connection, t: sa.Table, rows: pd.DataFrame) -> None:
    """Insert a frame's rows in one driver call: COPY on PostgreSQL, executemany on SQLite.

    SQLAlchemy's executemany builds a dict and processes parameters per row, which costs
    more than the database's own work at hundreds of thousands of rows. The statement is
    compiled from the table (names quoted by the dialect); values are always bound.
    """
    if rows.empty:
        return
    # The compiled INSERT lists columns in table order; bind them in that order too.
    names = [c.name for c in t.columns if c.name in rows.columns]
    dialect = conn.dialect.name
    columns = [_python_column(rows[n], t.c[n].type, dialect) for n in names]
    raw = conn.connection.driver_connection
    if dialect == "postgresql":
        from psycopg import sql

        copy_sql = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(t.name), sql.SQL(", ").join(map(sql.Identifier, names))
        )
        with raw.cursor() as cur, cur.copy(copy_sql) as copy:
            for row in zip(*columns, strict=True):
                copy.write_row(row)
        return
    insert = str(sa.insert(t).compile(dialect=conn.dialect, column_keys=names))
    cursor = raw.cursor()
    try:
        cursor.executemany(insert, zip(*columns, strict=True))
    finally:
        cursor.close()

"""Summary tables kept beside the rows: the sums that pages and figures read on every run.

A year of a million visa rows must not be scanned each time a manager opens a page. A
summary table holds sums of the current rows at a coarse grain (month × visa type,
quarter × mission × visa type, rows per dataset and month). Every write recomputes the
summaries for exactly the periods it touched, inside its own transaction, so a summary
always equals the GROUP BY over the rows it stands for; undo included. A question that
needs a grain no summary has falls back to the rows.

Each measure is declared once and computed two ways: in SQL from the rows table, and in
pandas from rows an import already holds in memory (the file's rows and the stored rows
of its periods), which spares reading back and sorting what it has just written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from kpi.schema import ROW_TABLES, metadata, of_batch, period_in


class binary_max(FunctionElement):  # noqa: N801 — named like the SQL it renders
    """max() of text by code point on every database (pandas compares strings that way)."""

    inherit_cache = True
    type = sa.Text()


@compiles(binary_max)
def _binary_max(element, compiler, **kw) -> str:
    return f"max({compiler.process(element.clauses, **kw)})"


@compiles(binary_max, "postgresql")
def _binary_max_pg(element, compiler, **kw) -> str:
    return f'max(({compiler.process(element.clauses, **kw)}) COLLATE "C")'


@dataclass(frozen=True)
class Group:
    """A group column: a field's value, or whether the field is reported."""

    field: str
    reported: bool = False

    def sql(self, t: sa.Table) -> sa.ColumnElement:
        return t.c[self.field].is_not(None) if self.reported else t.c[self.field]

    def pandas(self, rows: pd.DataFrame) -> pd.Series:
        return rows[self.field].notna() if self.reported else rows[self.field]


@dataclass(frozen=True)
class Measure:
    """An aggregate of a group's rows: count, max, or the sum of a field (or product)."""

    how: str  # "count" | "max" | "sum"
    fields: tuple[str, ...] = ()  # sum: their product; max: the one field
    only_reported: str | None = None  # sum over rows that report this field (others add 0)
    null_as_zero: bool = False  # a blank adds 0, so the sum is never NULL

    def sql(self, t: sa.Table) -> sa.ColumnElement:
        if self.how == "count":
            return sa.func.count()
        if self.how == "max":
            return binary_max(t.c[self.fields[0]])
        value = t.c[self.fields[0]]
        for name in self.fields[1:]:
            value = value * t.c[name]
        if self.null_as_zero:
            value = sa.func.coalesce(value, 0)
        if self.only_reported:
            value = sa.case((t.c[self.only_reported].is_not(None), value), else_=0)
        return sa.func.sum(value)

    def values(self, rows: pd.DataFrame) -> np.ndarray:
        """The per-row numbers pandas aggregates: float64, NaN for NULL.

        For max, the text's rank among the distinct values (so a fast numeric max
        stands in for a max over strings); ``labels`` turns ranks back into text.
        """
        if self.how == "count":
            return np.ones(len(rows))
        if self.how == "max":
            ranks, _ = pd.factorize(rows[self.fields[0]], sort=True)
            return np.where(ranks < 0, np.nan, ranks.astype(float))
        value = _floats(rows[self.fields[0]])
        for name in self.fields[1:]:
            value = value * _floats(rows[name])
        if self.null_as_zero:
            value = np.nan_to_num(value, nan=0.0)
        if self.only_reported:
            value = np.where(rows[self.only_reported].notna().to_numpy(), value, 0.0)
        return value

    def aggregate(self, groups, rows: pd.DataFrame) -> pd.Series:
        if self.how == "max":
            _, labels = pd.factorize(rows[self.fields[0]], sort=True)
            ranks = groups.max()
            text = np.append(np.asarray(labels, dtype=object), None)  # rank -1: no value
            return pd.Series(
                text[ranks.fillna(-1).to_numpy(dtype=np.intp)], index=ranks.index, dtype=object
            )
        # SQL's SUM of nothing but NULLs is NULL; so is pandas' with min_count=1.
        return groups.sum(min_count=1)


def _floats(values: pd.Series) -> np.ndarray:
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


@dataclass(frozen=True)
class Summary:
    """One summary table: its grain (period and group columns) and its measures."""

    table: sa.Table
    dataset: str
    period: str  # "month" or "quarter"
    groups: dict[str, Group] = field(default_factory=dict)
    measures: dict[str, Measure] = field(default_factory=dict)

    @property
    def columns(self) -> list[str]:
        lead = ["dataset"] if "dataset" in self.table.c else []
        return [*lead, "year", self.period, *self.groups, *self.measures]

    def _period_sql(self, t: sa.Table) -> sa.ColumnElement:
        month = _month_sql(t)
        return month if self.period == "month" else (month + 2) // 3

    def select(self, months: set[tuple[int, int]] | None) -> sa.Select:
        """The summary's rows computed from the rows table (for some months, or all)."""
        t = ROW_TABLES[self.dataset]
        period = self._period_sql(t)
        groups = [g.sql(t) for g in self.groups.values()]
        lead = [sa.literal(self.dataset).label("dataset")] if "dataset" in self.table.c else []
        q = (
            sa.select(*lead, t.c.year, period, *groups, *(m.sql(t) for m in self.measures.values()))
            .where(t.c.current, sa.not_(t.c.deleted))
            .group_by(t.c.year, period, *groups)
        )
        if months is not None:
            if "month" in t.c:
                q = q.where(period_in(t.c.year, t.c.month, months))
            else:
                q = q.where(period_in(t.c.year, t.c.quarter, {(y, m // 3) for y, m in months}))
        return q

    def compute(self, rows: pd.DataFrame) -> pd.DataFrame:
        """The summary's rows computed from rows in memory (year, month and the fields)."""
        keys = {"year": rows["year"], self.period: _period_frame(rows, self.period)}
        keys |= {name: g.pandas(rows) for name, g in self.groups.items()}
        key_frame = pd.DataFrame(keys).reset_index(drop=True)
        values = pd.DataFrame({name: m.values(rows) for name, m in self.measures.items()})
        grouped = pd.concat([key_frame, values], axis=1).groupby(
            list(keys), sort=False, dropna=False
        )
        out = pd.DataFrame(
            {name: m.aggregate(grouped[name], rows) for name, m in self.measures.items()}
        ).reset_index()
        if "dataset" in self.table.c:
            out.insert(0, "dataset", self.dataset)
        # In primary-key order, the rows append to the table's b-tree instead of landing
        # all over it.
        key = [c.name for c in self.table.primary_key.columns]
        return out[self.columns].sort_values(key, kind="stable", ignore_index=True)


def _month_sql(t: sa.Table) -> sa.ColumnElement:
    """A row's month; indicator values report per quarter and count at its last month."""
    return t.c.month if "month" in t.c else t.c.quarter * 3


def _period_frame(rows: pd.DataFrame, period: str) -> pd.Series:
    month = rows["month"].astype("int64")
    return month if period == "month" else (month + 2) // 3


def _table(name: str, *columns: sa.Column, key: tuple[str, ...]) -> sa.Table:
    # WITHOUT ROWID on SQLite stores the rows in key order, so a summary read by
    # (year, mission, …) is one ordered range scan with no sort.
    return sa.Table(
        name, metadata, *columns, sa.PrimaryKeyConstraint(*key), sqlite_with_rowid=False
    )


periods = _table(
    "summary_periods",
    sa.Column("dataset", sa.String(20), nullable=False),
    sa.Column("year", sa.Integer, nullable=False),
    sa.Column("month", sa.Integer, nullable=False),
    sa.Column("rows", sa.BigInteger, nullable=False),
    key=("dataset", "year", "month"),
)

visa_months = _table(
    "summary_visa_months",
    sa.Column("year", sa.Integer, nullable=False),
    sa.Column("month", sa.Integer, nullable=False),
    sa.Column("visa_type", sa.Text, nullable=False),
    sa.Column("has__avg_days", sa.Boolean, nullable=False),
    # Named as kpi.figures labels its sums, so a formula reads them by the same name.
    sa.Column("n", sa.BigInteger, nullable=False),
    sa.Column("s__applications", sa.BigInteger),
    sa.Column("s__issued", sa.BigInteger),
    sa.Column("s__refused", sa.BigInteger),
    sa.Column("w__avg_days__issued", sa.Float),
    key=("year", "month", "visa_type", "has__avg_days"),
)

visa_missions = _table(
    "summary_visa_missions",
    sa.Column("year", sa.Integer, nullable=False),
    sa.Column("quarter", sa.Integer, nullable=False),
    sa.Column("mission", sa.Text, nullable=False),
    sa.Column("visa_type", sa.Text, nullable=False),
    sa.Column("region", sa.Text),
    sa.Column("applications", sa.BigInteger, nullable=False),
    sa.Column("issued", sa.BigInteger, nullable=False),
    sa.Column("refused", sa.BigInteger, nullable=False),
    sa.Column("day_weight", sa.Float, nullable=False),
    sa.Column("issued_reported", sa.BigInteger, nullable=False),
    key=("year", "mission", "visa_type", "quarter"),
)

_COUNT = Measure("count")

SUMMARIES: tuple[Summary, ...] = (
    # One summary per dataset, all in one table.
    *(Summary(periods, name, "month", measures={"rows": _COUNT}) for name in ROW_TABLES),
    Summary(
        visa_months,
        "visa",
        "month",
        groups={"visa_type": Group("visa_type"), "has__avg_days": Group("avg_days", True)},
        measures={
            "n": _COUNT,
            "s__applications": Measure("sum", ("applications",)),
            "s__issued": Measure("sum", ("issued",)),
            "s__refused": Measure("sum", ("refused",)),
            "w__avg_days__issued": Measure("sum", ("avg_days", "issued")),
        },
    ),
    Summary(
        visa_missions,
        "visa",
        "quarter",
        groups={"mission": Group("mission"), "visa_type": Group("visa_type")},
        measures={
            "region": Measure("max", ("region",)),
            "applications": Measure("sum", ("applications",), null_as_zero=True),
            "issued": Measure("sum", ("issued",), null_as_zero=True),
            "refused": Measure("sum", ("refused",), null_as_zero=True),
            "day_weight": Measure("sum", ("avg_days", "issued"), "avg_days", null_as_zero=True),
            "issued_reported": Measure("sum", ("issued",), "avg_days", null_as_zero=True),
        },
    ),
)


def _partition(s: Summary, months: Iterable[tuple[int, int]]) -> tuple[set, set]:
    """The summary's periods that the months touch, and every month of those periods."""
    if s.period == "month":
        keys = set(months)
        return keys, keys
    keys = {(y, (m - 1) // 3 + 1) for y, m in months}
    return keys, {(y, (q - 1) * 3 + i) for y, q in keys for i in (1, 2, 3)}


def in_memory(
    dataset: str, months: Iterable[tuple[int, int]], rows: pd.DataFrame, rows_cover: set
) -> dict[str, pd.DataFrame]:
    """The dataset's summaries of these months that ``rows`` cover, computed in pandas.

    ``rows`` are the current rows of the months in ``rows_cover`` after a write (year and
    month as columns). Keyed by summary table; a summary whose periods the rows do not
    cover is left out (``refresh`` reads it from the rows table). Touches no database, so
    an import computes it while its rows are being inserted.
    """
    months = {(int(y), int(m)) for y, m in months}
    out: dict[str, pd.DataFrame] = {}
    for s in SUMMARIES:
        if s.dataset != dataset or not months:
            continue
        _, all_months = _partition(s, months)
        if all_months <= rows_cover:
            mine = _in_months(rows, all_months)
            out[s.table.name] = s.compute(mine) if len(mine) else pd.DataFrame(columns=s.columns)
    return out


def refresh(
    conn: Connection,
    dataset: str,
    months: Iterable[tuple[int, int]],
    computed: Mapping[str, pd.DataFrame] | None = None,
    insert: Callable[[Connection, sa.Table, pd.DataFrame], None] | None = None,
) -> None:
    """Recompute the dataset's summaries for the periods that hold these (year, month)s.

    A summary in ``computed`` (from ``in_memory``) is written with ``insert``; any other
    is recomputed from the rows table.
    """
    months = {(int(y), int(m)) for y, m in months}
    if not months:
        return
    computed = computed or {}
    for s in SUMMARIES:
        if s.dataset != dataset:
            continue
        keys, all_months = _partition(s, months)
        table = s.table
        stale = period_in(table.c.year, table.c[s.period], keys)
        if "dataset" in table.c:
            stale = sa.and_(table.c.dataset == dataset, stale)
        conn.execute(sa.delete(table).where(stale))
        if table.name in computed and insert is not None:
            if len(computed[table.name]):
                insert(conn, table, computed[table.name])
        else:
            conn.execute(sa.insert(table).from_select(s.columns, s.select(all_months)))


def _in_months(rows: pd.DataFrame, months: set[tuple[int, int]]) -> pd.DataFrame:
    pairs = rows["year"].astype("int64") * 100 + rows["month"].astype("int64")
    return rows[pairs.isin([y * 100 + m for y, m in months]).to_numpy(dtype=bool)]


def rebuild(conn: Connection) -> None:
    """Recompute every summary from the rows (a new summary table, or a check)."""
    for table in {s.table for s in SUMMARIES}:
        conn.execute(sa.delete(table))
    for s in SUMMARIES:
        conn.execute(sa.insert(s.table).from_select(s.columns, s.select(None)))


def months_of_batch(conn: Connection, dataset: str, batch_id: int) -> set[tuple[int, int]]:
    """The (year, month)s a batch's versions belong to: what undoing it touches."""
    t = ROW_TABLES[dataset]
    q = sa.select(t.c.year, _month_sql(t)).where(of_batch(conn, dataset, batch_id, t)).distinct()
    return {(int(y), int(m)) for y, m in conn.execute(q)}


def for_sums(dataset: str, groups: set[str], sums: set[str]) -> Summary | None:
    """A month summary of the dataset that has these group columns and sums, if any."""
    for s in SUMMARIES:
        if (
            s.dataset == dataset
            and s.period == "month"
            and groups <= set(s.groups)
            and sums <= set(s.measures)
        ):
            return s
    return None

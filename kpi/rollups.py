"""Summary tables kept beside the rows: the sums that pages and figures read on every run.

A year of a million visa rows must not be scanned each time a manager opens a page. A
summary table holds sums of the current rows at a coarse grain (month × visa type,
quarter × mission × visa type, rows per dataset and month). Every write recomputes the
summaries from the rows for exactly the periods it touched, inside its own transaction,
so a summary always equals the GROUP BY over the rows it replaces; undo included. A
question that needs a grain no summary has falls back to the rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kpi.schema import ROW_TABLES, metadata, period_in

Expr = Callable[[sa.Table], sa.ColumnElement]


def _month(t: sa.Table) -> sa.ColumnElement:
    """A row's month; indicator values report per quarter and count at its last month."""
    return t.c.quarter * 3 if "month" not in t.c else t.c.month


def _live(t: sa.Table) -> list[sa.ColumnElement]:
    return [t.c.current, sa.not_(t.c.deleted)]


def _reported(t: sa.Table) -> sa.ColumnElement:
    return t.c.avg_days.is_not(None)


@dataclass(frozen=True)
class Summary:
    """One summary table: its grain (period and group columns) and its sums over the rows."""

    table: sa.Table
    dataset: str
    period: str  # "month" or "quarter"
    groups: dict[str, Expr]  # summary column → expression over the rows
    sums: dict[str, Expr]  # summary column → aggregate over the rows of one group

    def period_of(self, t: sa.Table) -> sa.ColumnElement:
        return _month(t) if self.period == "month" else (_month(t) + 2) // 3

    def select(self, months: set[tuple[int, int]] | None) -> sa.Select:
        """The summary's rows recomputed from the rows table (for some months, or all)."""
        t = ROW_TABLES[self.dataset]
        period = self.period_of(t)
        groups = [expr(t) for expr in self.groups.values()]
        lead = [sa.literal(self.dataset).label("dataset")] if "dataset" in self.table.c else []
        q = (
            sa.select(*lead, t.c.year, period, *groups, *(agg(t) for agg in self.sums.values()))
            .where(*_live(t))
            .group_by(t.c.year, period, *groups)
        )
        if months is not None:
            if "month" in t.c:
                q = q.where(period_in(t.c.year, t.c.month, months))
            else:
                q = q.where(period_in(t.c.year, t.c.quarter, {(y, m // 3) for y, m in months}))
        return q

    @property
    def columns(self) -> list[str]:
        lead = ["dataset"] if "dataset" in self.table.c else []
        return [*lead, "year", self.period, *self.groups, *self.sums]


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


def _count(t: sa.Table) -> sa.ColumnElement:
    return sa.func.count()


def _sum(name: str) -> Expr:
    return lambda t: sa.func.sum(t.c[name])


def _when_reported(value: Expr) -> Expr:
    return lambda t: sa.func.sum(sa.case((_reported(t), value(t)), else_=0))


SUMMARIES: tuple[Summary, ...] = (
    *(
        Summary(periods, name, "month", {}, {"rows": _count})
        for name in ROW_TABLES  # one summary per dataset, all in one table
    ),
    Summary(
        visa_months,
        "visa",
        "month",
        {"visa_type": lambda t: t.c.visa_type, "has__avg_days": _reported},
        {
            "n": _count,
            "s__applications": _sum("applications"),
            "s__issued": _sum("issued"),
            "s__refused": _sum("refused"),
            "w__avg_days__issued": lambda t: sa.func.sum(t.c.avg_days * t.c.issued),
        },
    ),
    Summary(
        visa_missions,
        "visa",
        "quarter",
        {"mission": lambda t: t.c.mission, "visa_type": lambda t: t.c.visa_type},
        {
            "region": lambda t: sa.func.max(t.c.region),
            "applications": _sum("applications"),
            "issued": _sum("issued"),
            "refused": lambda t: sa.func.sum(sa.func.coalesce(t.c.refused, 0)),
            "day_weight": _when_reported(lambda t: t.c.avg_days * t.c.issued),
            "issued_reported": _when_reported(lambda t: t.c.issued),
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


def refresh(conn: Connection, dataset: str, months: Iterable[tuple[int, int]]) -> None:
    """Recompute the dataset's summaries for the periods that hold these (year, month)s."""
    months = {(int(y), int(m)) for y, m in months}
    if not months:
        return
    for s in SUMMARIES:
        if s.dataset != dataset:
            continue
        keys, all_months = _partition(s, months)
        table = s.table
        stale = period_in(table.c.year, table.c[s.period], keys)
        if "dataset" in table.c:
            stale = sa.and_(table.c.dataset == dataset, stale)
        conn.execute(sa.delete(table).where(stale))
        conn.execute(sa.insert(table).from_select(s.columns, s.select(all_months)))


def rebuild(conn: Connection) -> None:
    """Recompute every summary from the rows (a new summary table, or a check)."""
    for table in {s.table for s in SUMMARIES}:
        conn.execute(sa.delete(table))
    for s in SUMMARIES:
        conn.execute(sa.insert(s.table).from_select(s.columns, s.select(None)))


def months_of_batch(conn: Connection, dataset: str, batch_id: int) -> set[tuple[int, int]]:
    """The (year, month)s a batch's versions belong to: what undoing it touches."""
    t = ROW_TABLES[dataset]
    q = sa.select(t.c.year, _month(t)).where(t.c.batch_id == batch_id).distinct()
    return {(int(y), int(m)) for y, m in conn.execute(q)}


def for_sums(dataset: str, groups: set[str], sums: set[str]) -> Summary | None:
    """A month summary of the dataset that has these group columns and sums, if any."""
    for s in SUMMARIES:
        if (
            s.dataset == dataset
            and s.period == "month"
            and groups <= set(s.groups)
            and sums <= set(s.sums)
        ):
            return s
    return None

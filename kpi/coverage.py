"""資料完整度 (data completeness): which dataset has arrived for which month or quarter.

Before the quarterly meeting a manager wants to know why a light is white: the budget
report for March has not been uploaded, or nobody reported K5.1 for the quarter. The
months come from the summary table of rows per dataset and month (kpi.rollups), so the
answer costs a few hundred summary rows however many rows are stored; indicator values
are counted per indicator and quarter in SQL.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa

from kpi import rollups
from kpi.catalog import QUARTER_END, Catalog
from kpi.figures import QUARTERS, KpiFigure
from kpi.schema import ROW_TABLES
from kpi.store import Store

MONTHLY = ("budget", "visa")  # reported per month
QUARTERLY = ("visits",)  # reported per visit; counted per quarter
VALUES = "kpi_values"  # reported per indicator and quarter
# A cell of the completeness grid.
PRESENT, MISSING, NOT_DUE = "present", "missing", "not_due"


@dataclass(frozen=True)
class Coverage:
    """What a year holds: months or quarters per dataset, quarters per reported indicator."""

    year: int
    months: dict[str, tuple[int, ...]]  # budget, visa → months with at least one row
    quarters: dict[str, tuple[int, ...]]  # visits → quarters with at least one row
    values: dict[str, tuple[int, ...]]  # indicator fed by kpi_values → quarters with a value

    def as_json(self) -> dict:
        return {
            "year": self.year,
            "datasets": {
                **{name: {"months": list(ms)} for name, ms in self.months.items()},
                **{name: {"quarters": list(qs)} for name, qs in self.quarters.items()},
                VALUES: {kpi: list(qs) for kpi, qs in self.values.items()},
            },
        }

    def month_grid(self, quarter: int) -> dict[str, dict[int, str]]:
        """Monthly dataset → month → present, missing (due by the quarter's end) or not due."""
        return {
            name: {m: _cell(m in months, m <= quarter * 3) for m in range(1, 13)}
            for name, months in self.months.items()
        }

    def quarter_grid(self, quarter: int) -> dict[str, dict[int, str]]:
        """Visits and every uploaded indicator → quarter → present, missing or not due."""
        rows = {**self.quarters, **self.values}
        return {
            name: {q: _cell(q in qs, q <= quarter) for q in QUARTERS} for name, qs in rows.items()
        }


@dataclass(frozen=True)
class Missing:
    """An indicator with no value for a quarter, and whether its dataset has arrived at all."""

    id: str
    name_zh: str
    name_en: str
    dataset: str
    arrived: bool  # the dataset (for uploaded values: this indicator) has rows for the quarter


def _cell(present: bool, due: bool) -> str:
    return PRESENT if present else MISSING if due else NOT_DUE


def value_indicators(catalog: Catalog) -> tuple[str, ...]:
    """The indicators whose values are uploaded (the kpi_values dataset), in catalogue order."""
    return tuple(ind.id for ind in catalog.indicators if ind.dataset == VALUES)


def coverage(store: Store, catalog: Catalog, year: int) -> Coverage:
    """Months and quarters of the year that hold at least one current row, per dataset."""
    p = rollups.periods
    t = ROW_TABLES[VALUES]
    by_month = (
        sa.select(p.c.dataset, p.c.month)
        .where(p.c.year == year, p.c.rows > 0, p.c.dataset.in_(MONTHLY + QUARTERLY))
        .order_by(p.c.dataset, p.c.month)
    )
    values = (
        sa.select(t.c.kpi, t.c.quarter)
        .where(t.c.current, sa.not_(t.c.deleted), t.c.year == year, t.c.value.is_not(None))
        .group_by(t.c.kpi, t.c.quarter)
    )
    with store.read() as conn:
        months: dict[str, list[int]] = {name: [] for name in MONTHLY + QUARTERLY}
        for name, month in conn.execute(by_month):
            months[name].append(int(month))
        reported: dict[str, set[int]] = {}
        for kpi, quarter in conn.execute(values):
            reported.setdefault(kpi, set()).add(int(quarter))
    return Coverage(
        year,
        {name: tuple(months[name]) for name in MONTHLY},
        {name: tuple(sorted({(m - 1) // 3 + 1 for m in months[name]})) for name in QUARTERLY},
        {
            kpi: tuple(q for q in QUARTERS if q in reported.get(kpi, ()))
            for kpi in value_indicators(catalog)
        },
    )


def missing(
    catalog: Catalog, cov: Coverage, kpis: Iterable[KpiFigure], quarter: int
) -> list[Missing]:
    """The quarter's indicators that have no value (white lights), with their source dataset.

    ``kpis`` are the quarter's figures (kpi.figures): an indicator is missing exactly when
    its light is white for lack of a value, so this list and the lights always agree.
    """
    out = []
    for k in kpis:
        if k.actual is not None:
            continue
        ind = catalog.indicator(k.id)
        if ind.dataset == VALUES:
            arrived = quarter in cov.values.get(ind.id, ())
        elif ind.dataset in cov.quarters:
            arrived = quarter in cov.quarters[ind.dataset]
        else:
            # A cumulative report (budget) counts only at the quarter's last month.
            last = (0,) if ind.formula.at == QUARTER_END else (0, 1, 2)
            arrived = any(quarter * 3 - i in cov.months.get(ind.dataset, ()) for i in last)
        out.append(Missing(ind.id, ind.name_zh, ind.name_en, ind.dataset, arrived))
    return out

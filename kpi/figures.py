"""Year-to-date actuals, achievement, lights and goal roll-ups.

The database does the heavy part: one grouped query per dataset and year returns
month-level sums (a few hundred rows however many rows are stored), and the indicator
formulas of data/kpis.yaml are evaluated on those sums. Every ratio is a ratio of sums.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import sqlalchemy as sa

from kpi import projection, rollups
from kpi.catalog import ADDITIVE, Catalog, Indicator, Measure, achievement, light
from kpi.plan import Plan
from kpi.relations import load_relations
from kpi.schema import ROW_TABLES, result_frame
from kpi.store import Store

QUARTERS = (1, 2, 3, 4)
# Fields a formula may name that are not columns: executed = spent + payable (SPEC §4).
_VIRTUAL = {"executed": lambda t: t.c.spent + sa.func.coalesce(t.c.payable, 0)}


@dataclass(frozen=True)
class KpiFigure:
    """One indicator at one quarter."""

    id: str
    name_zh: str
    name_en: str
    goal: str
    quarter: int
    actual: float | None
    target: float | None
    achievement: float | None
    light: str
    previous: float | None = None  # the previous quarter's actual (Q1: None)
    note: str | None = None
    original_target: float | None = None  # the catalogue's target when it was revised
    # Early warning (預警): the year-end projection and what it takes (None where n/a).
    annual_target: float | None = None
    projection: float | None = None
    projected_achievement: float | None = None
    projected_light: str | None = None
    needed_per_quarter: float | None = None
    projection_method: str | None = None  # "plan-pace", "seasonal" or "current-rate"

    @property
    def change(self) -> float | None:
        if self.actual is None or self.previous is None:
            return None
        return self.actual - self.previous

    @property
    def at_risk(self) -> bool:
        """Projected achievement below the yellow threshold (the projected light is red)."""
        return self.projected_light == "red"


@dataclass(frozen=True)
class GoalFigure:
    """A goal's weighted achievement over its indicators that have data."""

    id: str
    title: str
    achievement: float | None
    light: str
    lights: dict[str, int] = field(default_factory=dict)  # light → number of indicators


@dataclass(frozen=True)
class BudgetTotals:
    budget: float | None
    allotted: float | None
    executed: float | None

    @property
    def rate(self) -> float | None:
        if not self.allotted or self.executed is None:
            return None
        return self.executed / self.allotted


@dataclass(frozen=True)
class Status:
    """Everything ``kpi status`` reports for one year, quarter and program filter."""

    year: int
    quarter: int
    programs: tuple[str, ...]
    kpis: tuple[KpiFigure, ...]
    goals: tuple[GoalFigure, ...]
    budget_totals: BudgetTotals

    def as_json(self, lang: str = "zh-TW") -> dict:
        def num(x: float | None) -> float | None:
            if x is None:
                return None
            return int(x) if float(x).is_integer() else round(float(x), 6)

        return {
            "year": self.year,
            "quarter": self.quarter,
            "programs": list(self.programs),
            "kpis": [
                {
                    "id": k.id,
                    "name": k.name_en if lang == "en" else k.name_zh,
                    "goal": k.goal,
                    "actual": num(k.actual),
                    "target": num(k.target),
                    "achievement": num(k.achievement),
                    "light": k.light,
                    "previous": num(k.previous),
                    "note": k.note,
                    "annual_target": num(k.annual_target),
                    "projection": num(k.projection),
                    "projected_achievement": num(k.projected_achievement),
                    "projected_light": k.projected_light,
                    "needed_per_quarter": num(k.needed_per_quarter),
                    "projection_method": k.projection_method,
                    "at_risk": k.at_risk,
                }
                for k in self.kpis
            ],
            "goals": [
                {
                    "id": g.id,
                    "title": g.title,
                    "achievement": num(g.achievement),
                    "light": g.light,
                    "lights": g.lights,
                }
                for g in self.goals
            ],
            "budget_totals": {
                "budget": num(self.budget_totals.budget),
                "allotted": num(self.budget_totals.allotted),
                "executed": num(self.budget_totals.executed),
            },
        }


# -- month-level sums from SQL ---------------------------------------------------------------


def _measures(ind: Indicator) -> list[Measure]:
    f = ind.formula
    return [m for m in (f.numerator, f.denominator) if m is not None]


def _column(t: sa.Table, name: str) -> sa.ColumnElement:
    return _VIRTUAL[name](t) if name in _VIRTUAL else t.c[name]


def _sum_label(m: Measure) -> str:
    if m.measure == "count":
        return "n"
    if m.measure == "weighted":
        return "w__" + "__".join(m.fields)
    return "s__" + m.field


def month_sums(
    store: Store,
    dataset: str,
    year: int,
    indicators: list[Indicator],
    programs: tuple[str, ...] = (),
) -> pd.DataFrame:
    """Sums per month and per value of every field the indicators filter on, for one year."""
    t = ROW_TABLES[dataset]
    measures = [m for ind in indicators for m in _measures(ind)]
    group: dict[str, sa.ColumnElement] = {"month": t.c.month}
    for m in measures:
        for name in m.where:
            if name == "ally":
                if "ally" not in group:
                    group["ally"] = _ally(store, t, year)
            elif name == "reported":
                continue
            else:
                group[name] = t.c[name]
        reported = m.where.get("reported")
        if reported:
            group[f"has__{reported}"] = t.c[reported].is_not(None)
    sums: dict[str, sa.ColumnElement] = {"n": sa.func.count()}
    for m in measures:
        label = _sum_label(m)
        if m.measure == "sum":
            sums[label] = sa.func.sum(_column(t, m.field))
        elif m.measure == "weighted":
            a, b = (_column(t, n) for n in m.fields)
            sums[label] = sa.func.sum(a * b)
    summary = None
    if not (programs and dataset == "budget"):
        summary = rollups.for_sums(dataset, set(group) - {"month"}, set(sums))
    if summary is not None:
        # The same sums, added up from a summary table a few hundred rows long.
        s = summary.table
        group = {k: s.c[k] for k in group}
        sums = {k: sa.func.sum(s.c[k]) for k in sums}
        q = (
            sa.select(
                *(c.label(k) for k, c in group.items()), *(c.label(k) for k, c in sums.items())
            )
            .where(s.c.year == year)
            .group_by(*group.values())
        )
    else:
        q = (
            sa.select(
                *(c.label(k) for k, c in group.items()), *(c.label(k) for k, c in sums.items())
            )
            .where(t.c.current, sa.not_(t.c.deleted), t.c.year == year)
            .group_by(*group.values())
        )
        if programs and dataset == "budget":
            q = q.where(t.c.program.in_(programs))
    with store.read() as conn:
        result = conn.execute(q)
        frame = result_frame(result)
    for k in sums:
        frame[k] = pd.to_numeric(frame[k], errors="coerce").astype(float)
    return frame


def _ally(store: Store, t: sa.Table, year: int) -> sa.ColumnElement:
    """Whether the row's country was an ally on its date, decided in SQL.

    The periods of relations.yaml become one condition, so the database groups visits
    by ally status instead of returning one group per visit for Python to look up. Each
    spelling the year's rows use is normalised here once, as the importer would.
    """
    with store.read() as conn:
        q = sa.select(t.c.country).where(t.c.current, sa.not_(t.c.deleted), t.c.year == year)
        names = [n for (n,) in conn.execute(q.distinct()) if isinstance(n, str)]
    relations = load_relations()
    spellings: dict[str, list[str]] = {}
    for name in names:
        spellings.setdefault(relations.countries.normalize(name), []).append(name)
    periods = []
    for p in relations.periods:
        if p.country not in spellings:
            continue
        held = [t.c.country.in_(spellings[p.country])]
        if p.since is not None:
            held.append(t.c.date >= p.since)
        if p.until is not None:
            held.append(t.c.date < p.until)
        periods.append(sa.and_(*held))
    return sa.case((sa.or_(*periods), 1), else_=0) if periods else sa.literal(0)


def _select(frame: pd.DataFrame, m: Measure) -> pd.DataFrame:
    mask = np.ones(len(frame), dtype=bool)
    for name, wanted in m.where.items():
        if name == "ally":
            ally = frame["ally"].astype(bool).to_numpy()
            mask &= ally if wanted else ~ally
        elif name == "reported":
            mask &= frame[f"has__{wanted}"].astype(bool).to_numpy()
        else:
            mask &= frame[name].isin(list(wanted)).to_numpy()
    return frame[mask]


def _by_month(frame: pd.DataFrame, m: Measure) -> pd.Series:
    """Month → the measure's sum over that month's rows."""
    part = _select(frame, m)
    return part.groupby("month")[_sum_label(m)].sum(min_count=1).reindex(range(1, 13))


def _quarter_value(by_month: pd.Series, quarter: int, at_quarter_end: bool) -> float:
    last = quarter * 3
    if at_quarter_end:
        # A cumulative report (budget): the quarter's last month alone holds year to date.
        return float(np.nan_to_num(by_month.get(last, 0.0)))
    return float(by_month.loc[1:last].fillna(0).sum())


def _has_data(months: set[int], quarter: int, at_quarter_end: bool) -> bool:
    """White light unless the dataset has rows for the quarter (its last month, if cumulative)."""
    wanted = {quarter * 3} if at_quarter_end else {quarter * 3 - 2, quarter * 3 - 1, quarter * 3}
    return bool(months & wanted)


# -- indicators ------------------------------------------------------------------------------


def actuals(
    store: Store, catalog: Catalog, year: int, programs: tuple[str, ...] = ()
) -> pd.DataFrame:
    """Year-to-date actual of every indicator at each quarter: index kpi id, columns 1–4."""
    out: dict[str, list[float | None]] = {}
    by_dataset: dict[str, list[Indicator]] = {}
    for ind in catalog.indicators:
        by_dataset.setdefault(ind.formula.dataset, []).append(ind)
    for dataset, inds in by_dataset.items():
        if dataset == "kpi_values":
            reported = reported_values(store, year)
            for ind in inds:
                out[ind.id] = [reported.get((ind.id, q)) for q in QUARTERS]
            continue
        frame = month_sums(store, dataset, year, inds, programs)
        months = set(int(m) for m in frame.loc[frame["n"] > 0, "month"]) if len(frame) else set()
        for ind in inds:
            f = ind.formula
            at_end = f.at == "quarter_end"
            values: list[float | None] = []
            num = _by_month(frame, f.numerator) if len(frame) else None
            den = _by_month(frame, f.denominator) if len(frame) and f.denominator else None
            for q in QUARTERS:
                if num is None or not _has_data(months, q, at_end):
                    values.append(None)
                    continue
                n = _quarter_value(num, q, at_end)
                if den is None:
                    values.append(n)
                    continue
                d = _quarter_value(den, q, at_end)
                values.append(n / d if d else None)
            out[ind.id] = values
    return pd.DataFrame.from_dict(out, orient="index", columns=list(QUARTERS))


def reported_values(store: Store, year: int) -> dict[tuple[str, int], float]:
    """(kpi, quarter) → the reported year-to-date value (indicator-values sheet)."""
    t = ROW_TABLES["kpi_values"]
    q = sa.select(t.c.kpi, t.c.quarter, t.c.value).where(
        t.c.current, sa.not_(t.c.deleted), t.c.year == year, t.c.value.is_not(None)
    )
    with store.read() as conn:
        return {(k, int(qq)): float(v) for k, qq, v in conn.execute(q)}


def commentary(store: Store, year: int) -> dict[tuple[str, int], str]:
    """(kpi, quarter) → the commentary (說明) reported for it."""
    t = ROW_TABLES["kpi_values"]
    q = sa.select(t.c.kpi, t.c.quarter, t.c.note).where(
        t.c.current, sa.not_(t.c.deleted), t.c.year == year, t.c.note.is_not(None), t.c.note != ""
    )
    with store.read() as conn:
        return {(k, int(qq)): str(n) for k, qq, n in conn.execute(q)}


def targets(
    store: Store, catalog: Catalog, year: int
) -> dict[str, tuple[tuple[float | None, ...], tuple[float | None, ...]]]:
    """Indicator → (current targets Q1–Q4, catalogue targets Q1–Q4); revisions win."""
    overrides = store.target_overrides(year)
    out = {}
    for ind in catalog.indicators:
        base = ind.targets_for(year) or (None, None, None, None)
        current = tuple(overrides.get((ind.id, q), base[q - 1]) for q in QUARTERS)
        out[ind.id] = (current, tuple(base))
    return out


def selected_indicators(catalog: Catalog, programs: tuple[str, ...]) -> tuple[Indicator, ...]:
    return catalog.for_programs(programs) if programs else catalog.indicators


def previous_year_actuals(
    store: Store, catalog: Catalog, year: int, programs: tuple[str, ...] = ()
) -> pd.DataFrame:
    """Last year's actuals of the additive indicators (the seasonal projection's profile).

    Only the datasets that hold rows for last year are read: usually none, or one.
    """
    held = datasets_with_rows(store, year - 1)
    additive = tuple(i for i in catalog.indicators if i.kind == ADDITIVE and i.dataset in held)
    if not additive:
        return pd.DataFrame(columns=list(QUARTERS))
    return actuals(store, replace(catalog, indicators=additive), year - 1, programs)


def datasets_with_rows(store: Store, year: int) -> set[str]:
    """The datasets that hold current rows for the year (from the periods summary)."""
    p = rollups.periods
    q = sa.select(p.c.dataset).where(p.c.year == year, p.c.rows > 0).distinct()
    with store.read() as conn:
        return {d for (d,) in conn.execute(q)}


def _row(frame: pd.DataFrame, ind_id: str) -> list[float | None]:
    """An indicator's Q1–Q4 values from an actuals frame, None where missing."""
    if ind_id not in frame.index:
        return [None] * len(QUARTERS)
    return [None if pd.isna(v) else float(v) for v in frame.loc[ind_id, list(QUARTERS)]]


def indicator_grid(
    store: Store, catalog: Catalog, year: int, programs: tuple[str, ...] = ()
) -> list[KpiFigure]:
    """Every selected indicator at every quarter of the year, with its year-end projection."""
    acts = actuals(store, catalog, year, programs)
    last_year = previous_year_actuals(store, catalog, year, programs)
    tgts = targets(store, catalog, year)
    notes = commentary(store, year)
    out = []
    for ind in selected_indicators(catalog, programs):
        current, base = tgts[ind.id]
        values = _row(acts, ind.id)
        before = _row(last_year, ind.id)
        for q in QUARTERS:
            a = values[q - 1]
            prev = values[q - 2] if q > 1 else None
            target = current[q - 1]
            ach = achievement(a, target, ind.direction)
            p = projection.project(
                ind.kind, ind.direction, q, a, current, before, catalog.thresholds
            )
            out.append(
                KpiFigure(
                    id=ind.id,
                    name_zh=ind.name_zh,
                    name_en=ind.name_en,
                    goal=ind.goal,
                    quarter=q,
                    actual=a,
                    target=target,
                    achievement=ach,
                    light=light(ach, catalog.thresholds),
                    previous=prev,
                    note=notes.get((ind.id, q)),
                    original_target=base[q - 1] if base[q - 1] != target else None,
                    annual_target=p.annual_target,
                    projection=p.value,
                    projected_achievement=p.achievement,
                    projected_light=p.light,
                    needed_per_quarter=p.needed_per_quarter,
                    projection_method=p.method,
                )
            )
    return out


def roll_up(plan: Plan, catalog: Catalog, figures: list[KpiFigure]) -> list[GoalFigure]:
    """Each goal's weighted mean of capped achievements over indicators with data."""
    weights = {ind.id: ind.weight for ind in catalog.indicators}
    out = []
    for goal in plan.goals:
        mine = [k for k in figures if k.goal == goal.id]
        have = [k for k in mine if k.achievement is not None]
        counts = {
            name: sum(1 for k in mine if k.light == name)
            for name in ("green", "yellow", "red", "white")
        }
        if have:
            total_w = sum(weights[k.id] for k in have)
            ach = sum(min(k.achievement, catalog.cap) * weights[k.id] for k in have) / total_w
        else:
            ach = None
        out.append(GoalFigure(goal.id, goal.title, ach, light(ach, catalog.thresholds), counts))
    return out


def budget_totals(
    store: Store, year: int, quarter: int, programs: tuple[str, ...] = ()
) -> BudgetTotals:
    """Budget, allotted and executed (NT$) at the quarter's last month."""
    t = ROW_TABLES["budget"]
    q = sa.select(
        sa.func.sum(t.c.budget),
        sa.func.sum(t.c.allotted),
        sa.func.sum(t.c.spent + sa.func.coalesce(t.c.payable, 0)),
    ).where(t.c.current, sa.not_(t.c.deleted), t.c.year == year, t.c.month == quarter * 3)
    if programs:
        q = q.where(t.c.program.in_(programs))
    with store.read() as conn:
        b, a, e = conn.execute(q).one()
    return BudgetTotals(*(None if v is None else float(v) for v in (b, a, e)))


def status(
    store: Store,
    catalog: Catalog,
    plan: Plan,
    year: int,
    quarter: int,
    programs: tuple[str, ...] = (),
) -> Status:
    """The figures of one quarter: indicators, goals and budget totals."""
    grid = indicator_grid(store, catalog, year, programs)
    now = [k for k in grid if k.quarter == quarter]
    goals = roll_up(plan, catalog, now)
    return Status(
        year,
        quarter,
        tuple(programs),
        tuple(now),
        tuple(goals),
        budget_totals(store, year, quarter, programs),
    )

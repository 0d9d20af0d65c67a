"""The data behind each page's charts and tables, aggregated in SQL.

Every function returns a small tidy DataFrame (dozens to a few thousand rows however
large the store is), in NT dollars and ROC years; pages only format and draw.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import sqlalchemy as sa

from kpi import rollups
from kpi.relations import load_relations, region_of
from kpi.schema import ROW_TABLES, result_frame
from kpi.store import Store

_LIVE = "current"


def _frame(store: Store, query: sa.Select) -> pd.DataFrame:
    with store.read() as conn:
        result = conn.execute(query)
        return result_frame(result)


def _live(t: sa.Table, year: int) -> list[sa.ColumnElement]:
    return [t.c.current, sa.not_(t.c.deleted), t.c.year == year]


# -- budget ---------------------------------------------------------------------------------


def budget_months(store: Store, year: int) -> list[int]:
    """Months of the year that have a budget report."""
    return _months(store, year, ("budget",))


def _months(store: Store, year: int, datasets: Sequence[str]) -> list[int]:
    p = rollups.periods
    q = (
        sa.select(p.c.month)
        .where(p.c.dataset.in_(list(datasets)), p.c.year == year, p.c.rows > 0)
        .distinct()
        .order_by(p.c.month)
    )
    with store.read() as conn:
        return [int(m) for (m,) in conn.execute(q)]


def report_month(store: Store, year: int, quarter: int) -> int | None:
    """The newest budget month up to the quarter's end (the figures use exactly the last one)."""
    months = [m for m in budget_months(store, year) if m <= quarter * 3]
    return months[-1] if months else None


def _budget_sums(
    store: Store, year: int, by: str, programs: tuple[str, ...], *where: sa.ColumnElement
) -> pd.DataFrame:
    """Budget, allotted, executed (spent + payable) and their rate per `by` × 經資門."""
    t = ROW_TABLES["budget"]
    q = (
        sa.select(
            t.c[by],
            t.c.kind,
            sa.func.sum(t.c.budget).label("budget"),
            sa.func.sum(t.c.allotted).label("allotted"),
            sa.func.sum(t.c.spent + sa.func.coalesce(t.c.payable, 0)).label("executed"),
        )
        .where(*_live(t, year), *where)
        .group_by(t.c[by], t.c.kind)
        .order_by(t.c[by], t.c.kind)
    )
    if programs:
        q = q.where(t.c.program.in_(programs))
    df = _frame(store, q)
    for c in ("budget", "allotted", "executed"):
        df[c] = df[c].astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        df["rate"] = (df["executed"] / df["allotted"].where(df["allotted"] != 0)).astype(float)
    return df


def budget_by_program(
    store: Store, year: int, month: int, programs: tuple[str, ...] = ()
) -> pd.DataFrame:
    """Per program × 經資門 at one month: budget, allotted, executed, rate."""
    return _budget_sums(store, year, "program", programs, ROW_TABLES["budget"].c.month == month)


def budget_by_month(store: Store, year: int, programs: tuple[str, ...] = ()) -> pd.DataFrame:
    """Per month × 經資門: budget, allotted, executed and the cumulative rate."""
    return _budget_sums(store, year, "month", programs)


def year_end_projection(by_month: pd.DataFrame) -> dict[str, float | None]:
    """Projected year-end execution from the pace so far.

    Method (stated on the page): executed so far ÷ months elapsed × 12, divided by the
    annual budget; capped at 100% of the budget. Per 經資門 and in total.
    """
    out: dict[str, float | None] = {}
    if by_month.empty:
        return out
    last = int(by_month["month"].max())
    now = by_month[by_month["month"] == last]
    for kind, part in [*now.groupby("kind"), ("total", now)]:
        budget = float(part["budget"].sum())
        executed = float(part["executed"].sum())
        out[str(kind)] = None if budget <= 0 else min(executed / last * 12, budget) / budget
    return out


# -- visas ----------------------------------------------------------------------------------


def visa_by_month(store: Store, year: int) -> pd.DataFrame:
    """Per month × visa type: applications and issued."""
    t = rollups.visa_months
    q = (
        sa.select(
            t.c.month,
            t.c.visa_type,
            sa.func.sum(t.c.s__applications).label("applications"),
            sa.func.sum(t.c.s__issued).label("issued"),
        )
        .where(t.c.year == year)
        .group_by(t.c.month, t.c.visa_type)
        .order_by(t.c.month, t.c.visa_type)
    )
    df = _frame(store, q)
    for c in ("applications", "issued"):
        df[c] = df[c].astype(float)
    return df


def visa_by_mission(store: Store, year: int, upto_month: int = 12) -> pd.DataFrame:
    """Per mission (with region): issued and the issued-weighted average processing days.

    Read from the rows themselves, never from a summary: the reference the tests check
    the summary-based views against (the pages use visa_mission_totals).
    """
    t = ROW_TABLES["visa"]
    reported = t.c.avg_days.is_not(None)
    q = (
        sa.select(
            t.c.mission,
            sa.func.max(t.c.region).label("region"),
            sa.func.sum(t.c.issued).label("issued"),
            sa.func.sum(sa.case((reported, t.c.avg_days * t.c.issued), else_=0)).label(
                "day_weight"
            ),
            sa.func.sum(sa.case((reported, t.c.issued), else_=0)).label("issued_reported"),
        )
        .where(*_live(t, year), t.c.month <= upto_month)
        .group_by(t.c.mission)
        .order_by(t.c.mission)
    )
    df = _frame(store, q)
    for c in ("issued", "day_weight", "issued_reported"):
        df[c] = df[c].astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        df["avg_days"] = (
            df["day_weight"] / df["issued_reported"].where(df["issued_reported"] > 0)
        ).astype(float)
    df["region"] = df["region"].fillna("—")
    return df


def visa_by_region(by_mission: pd.DataFrame) -> pd.DataFrame:
    """Missions rolled up to regions (weighted by issued, over missions that report days)."""
    if by_mission.empty:
        return by_mission.assign(avg_days=pd.Series(dtype=float))
    g = by_mission.groupby("region", as_index=False)[
        ["issued", "day_weight", "issued_reported"]
    ].sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        g["avg_days"] = g["day_weight"] / g["issued_reported"].where(g["issued_reported"] > 0)
    return g


# -- visits ---------------------------------------------------------------------------------


def visits(store: Store, year: int) -> pd.DataFrame:
    """The year's visits with quarter and ally status on the visit date."""
    t = ROW_TABLES["visits"]
    q = (
        sa.select(
            # Untyped: SQLite's ISO text is parsed below in one vectorised call, not row by row.
            sa.type_coerce(t.c.date, sa.String).label("date"),
            t.c.type,
            t.c.country,
            t.c.level,
            t.c.delegation,
            t.c.participants,
            t.c.program,
            t.c.month,
        )
        .where(*_live(t, year))
        .order_by(t.c.date)
    )
    df = _frame(store, q)
    if df.empty:
        return df.assign(
            quarter=pd.Series(dtype=int), ally=pd.Series(dtype=bool), region=pd.Series(dtype=object)
        )
    df["date"] = pd.to_datetime(df["date"].astype(str), format="%Y-%m-%d")
    df["quarter"] = (df["month"].astype(int) - 1) // 3 + 1
    df["ally"] = np.asarray(load_relations().ally_mask(df["country"], df["date"]), dtype=bool)
    # Each distinct country looked up once (a lookup folds the name), not once per visit.
    regions = {c: region_of(c) or "—" for c in df["country"].unique()}
    df["region"] = df["country"].map(regions)
    return df.drop(columns="month")


def data_months(store: Store, year: int) -> list[int]:
    """Months of the year that any dataset reports (indicator values count at quarter end)."""
    return _months(store, year, list(ROW_TABLES))


# -- derived tables for the budget, consular and visits pages --------------------------------

TOTAL = "total"  # the kind (or program) label of a roll-up row; pages translate it
EVISA = "電子簽證"
_MONEY = ["budget", "allotted", "executed"]


def _rate(executed: pd.Series, allotted: pd.Series) -> pd.Series:
    with np.errstate(divide="ignore", invalid="ignore"):
        return (executed / allotted.where(allotted != 0)).astype(float)


def budget_table(by_program: pd.DataFrame) -> pd.DataFrame:
    """Program × 經資門 rows, a subtotal per program with both kinds, and the grand total.

    Column ``row`` is item / subtotal / total; subtotal rows have kind TOTAL, the grand
    total has program and kind TOTAL. Every rate is a ratio of sums.
    """
    cols = ["program", "kind", *_MONEY, "rate", "row"]
    if by_program.empty:
        return pd.DataFrame(columns=cols)
    parts = []
    for program, part in by_program.groupby("program", sort=False):
        parts.append(part.assign(row="item"))
        if len(part) > 1:
            sums = part[_MONEY].sum()
            parts.append(
                pd.DataFrame([{"program": program, "kind": TOTAL, **sums, "row": "subtotal"}])
            )
    total = by_program[_MONEY].sum()
    parts.append(pd.DataFrame([{"program": TOTAL, "kind": TOTAL, **total, "row": "total"}]))
    out = pd.concat(parts, ignore_index=True)
    out["rate"] = _rate(out["executed"], out["allotted"])
    return out[cols]


def budget_curve(by_month: pd.DataFrame) -> pd.DataFrame:
    """Cumulative execution rate by month per 經資門 and in total (kind TOTAL)."""
    cols = ["month", "kind", *_MONEY, "rate"]
    if by_month.empty:
        return pd.DataFrame(columns=cols)
    total = by_month.groupby("month", as_index=False)[_MONEY].sum().assign(kind=TOTAL)
    out = pd.concat([by_month[["month", "kind", *_MONEY]], total], ignore_index=True)
    out["rate"] = _rate(out["executed"], out["allotted"])
    return out.sort_values("month", kind="stable")[cols].reset_index(drop=True)


def projection_table(by_month: pd.DataFrame) -> pd.DataFrame:
    """The year-end projection (see year_end_projection) with its inputs, per 經資門 and total.

    Columns: kind, months (elapsed), budget, executed (so far), projected (year-end
    executed, capped at the budget) and rate (projected ÷ budget).
    """
    cols = ["kind", "months", "budget", "executed", "projected", "rate"]
    if by_month.empty:
        return pd.DataFrame(columns=cols)
    last = int(by_month["month"].max())
    now = by_month[by_month["month"] == last]
    rows = []
    for kind, part in [*now.groupby("kind"), (TOTAL, now)]:
        budget = float(part["budget"].sum())
        executed = float(part["executed"].sum())
        projected = min(executed / last * 12, budget) if budget > 0 else None
        rows.append(
            {
                "kind": str(kind),
                "months": last,
                "budget": budget,
                "executed": executed,
                "projected": projected,
                "rate": None if projected is None else projected / budget,
            }
        )
    return pd.DataFrame(rows, columns=cols).astype({"projected": float, "rate": float})


def evisa_share(by_month: pd.DataFrame) -> pd.DataFrame:
    """By month: eVisas issued, all issued, the month's eVisa share and the year-to-date share."""
    cols = ["month", "evisa", "issued", "share", "evisa_ytd", "issued_ytd", "share_ytd"]
    if by_month.empty:
        return pd.DataFrame(columns=cols)
    m = by_month.assign(evisa=by_month["issued"].where(by_month["visa_type"] == EVISA, 0.0))
    g = m.groupby("month", as_index=False)[["evisa", "issued"]].sum().sort_values("month")
    g["evisa_ytd"] = g["evisa"].cumsum()
    g["issued_ytd"] = g["issued"].cumsum()
    g["share"] = _rate(g["evisa"], g["issued"])
    g["share_ytd"] = _rate(g["evisa_ytd"], g["issued_ytd"])
    return g[cols].reset_index(drop=True)


_MISSION_MEASURES = ("applications", "issued", "refused", "day_weight", "issued_reported")


def _visa_mission_measures(
    year: int, upto_month: int
) -> tuple[sa.Table, list[sa.ColumnElement], dict[str, sa.ColumnElement]]:
    """Where visa figures by mission come from, year to date: table, filter and summed measures."""
    if upto_month % 3 == 0:
        # Quarter ends (what the pages ask for) add up the quarterly summary.
        t = rollups.visa_missions
        where = [t.c.year == year, t.c.quarter <= upto_month // 3]
        measures = {c: t.c[c] for c in _MISSION_MEASURES}
        return t, where, measures
    t = ROW_TABLES["visa"]
    reported = t.c.avg_days.is_not(None)
    measures = {
        "applications": t.c.applications,
        "issued": t.c.issued,
        "refused": sa.func.coalesce(t.c.refused, 0),
        "day_weight": sa.case((reported, t.c.avg_days * t.c.issued), else_=0),
        "issued_reported": sa.case((reported, t.c.issued), else_=0),
    }
    return t, [*_live(t, year), t.c.month <= upto_month], measures


def _with_avg_days(df: pd.DataFrame, measures: Sequence[str]) -> pd.DataFrame:
    for c in measures:
        df[c] = df[c].astype(float)
    df["avg_days"] = _rate(df["day_weight"], df["issued_reported"].where(df["issued_reported"] > 0))
    df["region"] = df["region"].fillna("—")
    return df


def visa_by_mission_type(
    store: Store, year: int, upto_month: int = 12, missions: Sequence[str] | None = None
) -> pd.DataFrame:
    """Per mission × visa type, year to date: applications, issued, refused, weighted average days.

    ``missions`` limits the rows to those missions (a page's first screenful).
    """
    t, where, measures = _visa_mission_measures(year, upto_month)
    if missions is not None:
        where.append(t.c.mission.in_(list(missions)))
    q = (
        sa.select(
            t.c.mission,
            sa.func.max(t.c.region).label("region"),
            t.c.visa_type,
            *(sa.func.sum(c).label(k) for k, c in measures.items()),
        )
        .where(*where)
        .group_by(t.c.mission, t.c.visa_type)
        .order_by(t.c.mission, t.c.visa_type)
    )
    return _with_avg_days(_frame(store, q), _MISSION_MEASURES)


def visa_mission_totals(store: Store, year: int, upto_month: int = 12) -> pd.DataFrame:
    """visa_missions(visa_by_mission_type(…)) in one grouping in SQL, plus ``types``.

    ``types`` is the mission's number of visa types, i.e. its rows in visa_by_mission_type:
    the consular page reads missions, and the mission × type rows only a screenful at a time.
    """
    t, where, measures = _visa_mission_measures(year, upto_month)
    summed = ("issued", "day_weight", "issued_reported")
    q = (
        sa.select(
            t.c.mission,
            sa.func.max(t.c.region).label("region"),
            *(sa.func.sum(measures[k]).label(k) for k in summed),
            sa.func.count(sa.distinct(t.c.visa_type)).label("types"),
        )
        .where(*where)
        .group_by(t.c.mission)
        .order_by(t.c.mission)
    )
    df = _with_avg_days(_frame(store, q), summed)
    df["types"] = df["types"].astype(int)
    return df


def visit_counts(visits_frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Number of visits per combination of the given columns (of views.visits)."""
    if visits_frame.empty:
        return pd.DataFrame(
            {**{c: pd.Series(dtype=object) for c in by}, "visits": pd.Series(dtype=int)}
        )
    return visits_frame.groupby(by, as_index=False).size().rename(columns={"size": "visits"})


def schema_order(values: pd.Series, choices: Sequence[str]) -> pd.Series:
    """Sort key: a dataset's canonical categories in the schema's order, then others by name."""
    rank = {name: i for i, name in enumerate(choices)}
    return values.map(lambda v: (rank.get(v, len(rank)), "" if v in rank else str(v)))


def visa_missions(by_mission_type: pd.DataFrame) -> pd.DataFrame:
    """visa_by_mission_type rolled up to missions: the same columns as visa_by_mission.

    The pages use visa_mission_totals (the same grouping in SQL); the tests check that
    and the summary tables against this roll-up and against visa_by_mission.
    """
    cols = ["issued", "day_weight", "issued_reported"]
    if by_mission_type.empty:
        return pd.DataFrame(columns=["mission", "region", *cols, "avg_days"])
    named = by_mission_type.assign(region=by_mission_type["region"].replace("—", np.nan))
    g = named.groupby("mission", as_index=False).agg(
        region=("region", "max"), **{c: (c, "sum") for c in cols}
    )
    g["region"] = g["region"].fillna("—")
    g["avg_days"] = _rate(g["day_weight"], g["issued_reported"].where(g["issued_reported"] > 0))
    return g

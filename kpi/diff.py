"""上傳差異 (upload diff): what importing a file would change, key by key and light by light.

A dry run counts new, changed and unchanged rows; an uploader about to replace last
quarter's figures also wants to see *which* rows change (old → new, field by field) and
what that does to the indicators. Both are computed without writing anything: the row
comparison reads the stored rows of the file's periods, and the figures after the
import are computed inside a transaction that is rolled back (Store.preview_frames), so
they are the figures a real import would give, summaries and all.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from kpi import figures
from kpi.catalog import Catalog
from kpi.ingest.datasets import DATASETS
from kpi.plan import Plan
from kpi.schema import ROW_TABLES
from kpi.store import Changes, Store, _values_equal, _with_period

CHANGED, REMOVED = "changed", "removed"


@dataclass(frozen=True)
class FieldChange:
    """One field of a stored row that the file changes."""

    field: str
    old: object
    new: object


@dataclass(frozen=True)
class RowChange:
    """A stored row the file changes or (visits replacing their quarters) removes."""

    dataset: str
    key: tuple[tuple[str, object], ...]  # (field, value) in the dataset's key order
    action: str  # CHANGED | REMOVED
    fields: tuple[FieldChange, ...]  # changed: the fields that differ; removed: the old row


@dataclass(frozen=True)
class FigureChange:
    """One indicator at one quarter, now and as it would be after the import."""

    year: int
    quarter: int
    before: figures.KpiFigure
    after: figures.KpiFigure

    @property
    def id(self) -> str:
        return self.before.id

    @property
    def changed(self) -> bool:
        a, b = self.before, self.after
        return a.light != b.light or not _same_number(a.actual, b.actual)


@dataclass(frozen=True)
class ImportPreview:
    """What an import would change: counts, the changed rows and the figures of its quarters."""

    changes: dict[str, Changes]
    rows: tuple[RowChange, ...]
    before: dict[tuple[int, int], figures.Status]  # (year, quarter) → figures now
    after: dict[tuple[int, int], figures.Status]  # … and after the import
    quarters: tuple[tuple[int, int], ...]  # the (year, quarter)s affected, in order

    @property
    def figures(self) -> tuple[FigureChange, ...]:
        """Every indicator of the affected quarters, before and after."""
        out = []
        for yq in self.quarters:
            after = {k.id: k for k in self.after[yq].kpis}
            out += [FigureChange(*yq, k, after[k.id]) for k in self.before[yq].kpis]
        return tuple(out)

    @property
    def goals(self) -> tuple[tuple[int, int, figures.GoalFigure, figures.GoalFigure], ...]:
        """(year, quarter, goal now, goal after) for the affected quarters."""
        out = []
        for yq in self.quarters:
            after = {g.id: g for g in self.after[yq].goals}
            out += [(*yq, g, after[g.id]) for g in self.before[yq].goals]
        return tuple(out)


def preview(
    store: Store,
    catalog: Catalog,
    plan_of: Callable[[int], Plan],
    frames: dict[str, pd.DataFrame],
    replace: bool = False,
) -> ImportPreview:
    """The preview of importing canonical frames (as Store.import_frames takes them)."""
    frames = {name: _with_period(name, f) for name, f in frames.items() if len(f)}
    touched = _quarters(frames)
    years = sorted({y for y, _ in touched})
    plans = {y: plan_of(y) for y in years}

    def rows_and_figures(view: Store):
        rows = [
            change
            for name, frame in frames.items()
            for change in row_changes(view, name, frame, replace and name == "visits")
        ]
        return rows, _statuses(view, catalog, plans)

    outcome, (rows, before), after = store.preview_frames(
        frames,
        before=rows_and_figures,
        after=lambda view: _statuses(view, catalog, plans),
        replace_quarters=replace,
    )
    # Year-to-date figures: a change in one quarter also moves the later quarters.
    moved = {
        yq
        for yq in before
        if any(
            FigureChange(*yq, a, b).changed
            for a, b in zip(before[yq].kpis, after[yq].kpis, strict=True)
        )
    }
    return ImportPreview(
        outcome.changes, tuple(rows), before, after, tuple(sorted(touched | moved))
    )


def _quarters(frames: dict[str, pd.DataFrame]) -> set[tuple[int, int]]:
    """The (ROC year, quarter)s the frames hold rows for."""
    out: set[tuple[int, int]] = set()
    for name, frame in frames.items():
        if name == "kpi_values":
            pairs = frame[["year", "quarter"]].drop_duplicates().to_numpy()
            out |= {(int(y), int(q)) for y, q in pairs}
        else:
            pairs = frame[["year", "month"]].drop_duplicates().to_numpy()
            out |= {(int(y), (int(m) - 1) // 3 + 1) for y, m in pairs}
    return out


def _statuses(
    store: Store, catalog: Catalog, plans: dict[int, Plan]
) -> dict[tuple[int, int], figures.Status]:
    """Every quarter's figures of these years (the whole ministry: no program filter)."""
    out = {}
    for year, plan in plans.items():
        grid = figures.indicator_grid(store, catalog, year)
        for q in figures.QUARTERS:
            now = tuple(k for k in grid if k.quarter == q)
            out[(year, q)] = figures.Status(
                year,
                q,
                (),
                now,
                tuple(figures.roll_up(plan, catalog, list(now))),
                figures.budget_totals(store, year, q),
            )
    return out


def row_changes(store: Store, dataset: str, frame: pd.DataFrame, replace: bool) -> list[RowChange]:
    """The stored rows the frame changes (with the fields that differ) or removes.

    The comparison is Store._diff's (same key, same tolerance for numbers), so the number
    of changed rows listed is the dry run's "changed" count.
    """
    ds = DATASETS[dataset]
    t = ROW_TABLES[dataset]
    key = list(ds.key)
    value_cols = [f.name for f in ds.stored_fields if f.name not in ds.key]
    scope = Store._scope_months(ds, frame, replace)
    old = store.current_rows(dataset, where=[Store._scope(ds, t, scope)])
    new = frame[key + value_cols].copy()
    if dataset == "visits":
        old["date"] = pd.to_datetime(old["date"])
        new["date"] = pd.to_datetime(new["date"])
    for k in key:
        if new[k].dtype != old[k].dtype:
            if pd.api.types.is_numeric_dtype(new[k]):
                old[k] = pd.to_numeric(old[k])
            else:
                old[k] = old[k].astype(new[k].dtype)
    both = new.merge(old, on=key, how="inner", suffixes=("", "__old"))
    same = {v: _values_equal(both[v], both[f"{v}__old"]) for v in value_cols}
    out = []
    differs = ~np.logical_and.reduce([same[v] for v in value_cols])
    for i in np.flatnonzero(differs):
        row = both.iloc[i]
        out.append(
            RowChange(
                dataset,
                tuple((k, _plain(row[k])) for k in key),
                CHANGED,
                tuple(
                    FieldChange(v, _plain(row[f"{v}__old"]), _plain(row[v]))
                    for v in value_cols
                    if not same[v][i]
                ),
            )
        )
    if replace and len(old):
        pairs = frame[["year", "month"]].drop_duplicates().to_numpy()
        quarters = {(int(y), (int(m) - 1) // 3) for y, m in pairs}
        in_q = [
            (int(y), (int(m) - 1) // 3) in quarters
            for y, m in zip(old["year"], old["month"], strict=True)
        ]
        gone = old[in_q].merge(new[key], on=key, how="left", indicator=True)
        for _, row in gone[gone["_merge"].eq("left_only")].iterrows():
            out.append(
                RowChange(
                    dataset,
                    tuple((k, _plain(row[k])) for k in key),
                    REMOVED,
                    tuple(FieldChange(v, _plain(row[v]), None) for v in value_cols),
                )
            )
    return out


def _plain(value: object) -> object:
    """A value as plain Python for the page and JSON: None for NA, dates as dates."""
    if value is None:
        return None
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.date()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, np.generic):
        value = value.item()
        return None if isinstance(value, float) and math.isnan(value) else value
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    return value


def _same_number(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)

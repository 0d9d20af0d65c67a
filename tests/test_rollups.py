"""Summary tables always equal the GROUP BY over the rows, through imports, re-imports and undo.

Checked on SQLite and PostgreSQL, for hand-written sequences and for random ones.
"""

from __future__ import annotations

import itertools

import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kpi import rollups, views
from kpi import store as store_module
from kpi.store import Store
from tests.test_store import (
    base_files,
    changed_files,
    do_import,
    snapshot,
    total_versions,
    visa,
)


def _normal(rows) -> list[tuple]:
    def cell(v):
        if isinstance(v, bool):
            return int(v)
        if isinstance(v, float):
            return round(v, 6)
        return v

    return sorted((tuple(cell(v) for v in r) for r in rows), key=repr)


def summary_state(store: Store) -> dict[tuple[str, str], list[tuple]]:
    """Each summary's stored rows, per (table, dataset)."""
    out = {}
    with store.read() as conn:
        for s in rollups.SUMMARIES:
            t = s.table
            q = sa.select(*(t.c[c] for c in s.columns))
            if "dataset" in t.c:
                q = q.where(t.c.dataset == s.dataset)
            out[(t.name, s.dataset)] = _normal(conn.execute(q))
    return out


def assert_summaries_match_rows(store: Store) -> None:
    with store.read() as conn:
        fresh = {
            (s.table.name, s.dataset): _normal(conn.execute(s.select(None)))
            for s in rollups.SUMMARIES
        }
    assert summary_state(store) == fresh


def test_summaries_follow_imports_and_undo(store):
    assert_summaries_match_rows(store)
    first = do_import(store, base_files())
    assert_summaries_match_rows(store)
    before = summary_state(store)
    second = do_import(store, changed_files(), name="changed.xlsx")
    assert_summaries_match_rows(store)
    assert summary_state(store) != before
    store.undo(second.batch_id)
    assert summary_state(store) == before
    store.undo(first.batch_id)
    assert_summaries_match_rows(store)
    assert all(not rows for rows in summary_state(store).values())


def test_undoing_an_older_batch_keeps_the_summaries_exact(store):
    first = do_import(store, base_files())
    do_import(store, changed_files(), name="changed.xlsx")
    store.undo(first.batch_id)
    assert_summaries_match_rows(store)


def test_data_years_and_months_come_from_the_period_summary(store):
    do_import(store, base_files())
    years = store.data_years()
    assert years
    for year in years:
        months = views.data_months(store, year)
        expected = set()
        for frame in base_files().values():
            if "month" in frame:
                expected |= set(frame.loc[frame["year"] == year, "month"])
            elif "quarter" in frame:
                expected |= set(frame.loc[frame["year"] == year, "quarter"] * 3)
            else:
                dates = pd.to_datetime(frame["date"])
                expected |= set(dates[dates.dt.year - 1911 == year].dt.month)
        assert months == sorted(int(m) for m in expected)


def test_the_mission_summary_equals_the_rows_at_every_quarter_end(store):
    do_import(store, base_files())
    do_import(store, changed_files(), name="changed.xlsx")
    for month in (3, 6, 9, 12):
        # At a quarter's end the mission view adds up the summary; visa_by_mission reads the rows.
        summed = views.visa_by_mission_type(store, 108, month)
        direct = views.visa_missions(summed).set_index("mission")
        reference = views.visa_by_mission(store, 108, month).set_index("mission")
        pd.testing.assert_frame_equal(
            direct[["issued", "day_weight", "issued_reported"]].sort_index(),
            reference[["issued", "day_weight", "issued_reported"]].sort_index(),
            check_dtype=False,
        )


# -- random visa imports and undos ---------------------------------------------------------

_years = itertools.count(150)
MISSIONS = ("駐日本代表處", "駐美國代表處", "駐泰國代表處")
TYPES = ("停留簽證", "居留簽證", "電子簽證")

visa_row = st.tuples(
    st.integers(1, 12),
    st.sampled_from(MISSIONS),
    st.sampled_from(TYPES),
    st.integers(0, 500),
    st.one_of(st.none(), st.floats(0.5, 20, allow_nan=False).map(lambda x: round(x, 1))),
    st.sampled_from(("亞太", "北美", None)),
)
# A quarter's file: every row repeated in the quarter's three months, so the file covers
# the quarter and the import computes the quarterly summary from memory.
quarter_file = st.tuples(st.integers(1, 4), st.lists(visa_row, min_size=1, max_size=4)).map(
    lambda qr: [((qr[0] - 1) * 3 + i, *row[1:]) for row in qr[1] for i in (1, 2, 3)]
)
operation = st.one_of(
    st.tuples(st.just("import"), st.lists(visa_row, min_size=1, max_size=8)),
    st.tuples(st.just("import"), quarter_file),
    st.tuples(st.just("undo"), st.integers(0, 10)),
)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=st.lists(operation, min_size=1, max_size=6))
def test_summaries_equal_the_rows_after_any_imports_and_undos(store, ops):
    year = next(_years)
    live: list[int] = []
    for op in ops:
        if op[0] == "import":
            rows = {
                (m, mission, kind): (n, days, region) for m, mission, kind, n, days, region in op[1]
            }
            frame = visa(
                [
                    (year, m, mission, region, kind, n + 3, n, 3, days)
                    for (m, mission, kind), (n, days, region) in rows.items()
                ]
            )
            out = do_import(store, {"visa": frame})
            if out.written:
                live.append(out.batch_id)
        elif live:
            store.undo(live.pop(op[1] % len(live)))
        assert_summaries_match_rows(store)


def test_figures_from_summaries_equal_figures_from_the_rows(store, monkeypatch):
    from kpi.catalog import load_catalog
    from kpi.figures import actuals

    do_import(store, base_files())
    do_import(store, changed_files(), name="changed.xlsx")
    catalog = load_catalog()
    with_summaries = actuals(store, catalog, 108)
    monkeypatch.setattr(rollups, "for_sums", lambda *args: None)
    from_rows = actuals(store, catalog, 108)
    pd.testing.assert_frame_equal(with_summaries, from_rows)
    visa_based = [i.id for i in catalog.indicators if i.formula.dataset == "visa"]
    assert with_summaries.loc[visa_based].notna().any(axis=None)


def test_an_import_computes_the_summaries_of_the_periods_its_file_covers_in_memory(
    store, monkeypatch
):
    computed: list[str] = []
    original = rollups.Summary.compute

    def spy(self, rows):
        computed.append(self.table.name)
        return original(self, rows)

    monkeypatch.setattr(rollups.Summary, "compute", spy)
    year = next(_years)
    rows = [
        (year, m, mission, region, kind, 10 + m, 7 + m, 3, None if m == 2 else 4.5)
        for m in (4, 5, 6)
        for mission, region in zip(MISSIONS, ("亞太", "北美", "亞太"), strict=True)
        for kind in TYPES
    ]
    do_import(store, {"visa": visa(rows)})
    assert set(computed) == {"summary_periods", "summary_visa_months", "summary_visa_missions"}
    assert_summaries_match_rows(store)
    # A file of one month does not cover its quarter: that summary is read from the rows.
    computed.clear()
    do_import(store, {"visa": visa([r[:5] + (99, 98, 1, 3.0) for r in rows if r[1] == 5])})
    assert "summary_visa_missions" not in computed
    assert_summaries_match_rows(store)


# -- the summaries an import computes while its rows are inserted ------------------------------


def _quarter_of_visas(year: int) -> pd.DataFrame:
    return visa(
        [
            (year, m, mission, region, kind, 10 + m, 7 + m, 3, None if m == 2 else 4.5)
            for m in (1, 2, 3)
            for mission, region in zip(MISSIONS, ("亞太", None, "亞太"), strict=True)
            for kind in TYPES
        ]
    )


def test_summaries_computed_beside_the_insert_equal_those_the_database_computes(store):
    year = next(_years)
    do_import(store, {"visa": _quarter_of_visas(year)})
    # Re-imported with changes, so stored rows that stay current are added in too.
    changed = _quarter_of_visas(year)
    changed.loc[::4, "issued"] += 1
    do_import(store, {"visa": changed.iloc[::2]}, name="changed.xlsx")
    in_memory = summary_state(store)
    with store.engine.begin() as conn:
        rollups.rebuild(conn)
    assert summary_state(store) == in_memory


def test_a_summary_that_fails_beside_the_insert_leaves_nothing_written(store, monkeypatch):
    do_import(store, base_files())
    before = (store.version(), store.batches(), total_versions(store), snapshot(store))
    summaries = summary_state(store)

    def broken(self, rows):
        raise RuntimeError("summary failed")

    monkeypatch.setattr(rollups.Summary, "compute", broken)
    with pytest.raises(RuntimeError, match="summary failed"):
        do_import(store, {"visa": _quarter_of_visas(next(_years))}, name="broken.xlsx")
    assert (store.version(), store.batches(), total_versions(store), snapshot(store)) == before
    assert summary_state(store) == summaries


def test_an_insert_that_fails_beside_the_summaries_leaves_nothing_written(store, monkeypatch):
    do_import(store, base_files())
    before = (store.version(), store.batches(), total_versions(store), snapshot(store))
    summaries = summary_state(store)
    insert = store_module.bulk_insert

    def broken(conn, table, rows):
        if table.name == "visa_rows":
            insert(conn, table, rows)  # the rows are written, then the transaction fails
            raise RuntimeError("insert failed")
        insert(conn, table, rows)

    monkeypatch.setattr(store_module, "bulk_insert", broken)
    with pytest.raises(RuntimeError, match="insert failed"):
        do_import(store, {"visa": _quarter_of_visas(next(_years))}, name="broken.xlsx")
    assert (store.version(), store.batches(), total_versions(store), snapshot(store)) == before
    assert summary_state(store) == summaries

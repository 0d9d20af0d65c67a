"""The versioned store on SQLite and PostgreSQL: imports, re-imports, undo, replace, dry runs.

Frames are built here in canonical form (the stored fields of kpi/ingest/datasets.py), so
these tests check the store alone, whatever the importer does.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kpi.ingest.datasets import DATASETS
from kpi.paths import ROOT
from kpi.schema import batch_rows, batches
from kpi.store import ROW_TABLES, Store, StoreError, _id_runs, make_engine

BUDGET_COLUMNS = [
    "year",
    "month",
    "agency",
    "program",
    "kind",
    "budget",
    "allotted",
    "spent",
    "payable",
]
VISA_COLUMNS = [
    "year",
    "month",
    "mission",
    "region",
    "visa_type",
    "applications",
    "issued",
    "refused",
    "avg_days",
]
VISIT_COLUMNS = ["date", "type", "country", "level", "delegation", "participants", "program"]
KPI_COLUMNS = ["kpi", "year", "quarter", "value", "note"]


def budget(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=BUDGET_COLUMNS)


def visa(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=VISA_COLUMNS)
    for col in ("applications", "issued", "refused"):
        frame[col] = frame[col].astype("Int64")
    frame["avg_days"] = frame["avg_days"].astype(float)
    return frame


def visits(rows: list[tuple]) -> pd.DataFrame:
    """Visits with the derived year (ROC) and month the store expects next to the date."""
    frame = pd.DataFrame(rows, columns=VISIT_COLUMNS)
    frame["date"] = pd.to_datetime(frame["date"])
    frame["participants"] = pd.array(frame["participants"], dtype="Int64")
    frame["year"] = frame["date"].dt.year - 1911
    frame["month"] = frame["date"].dt.month
    return frame


def kpi_values(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=KPI_COLUMNS)
    frame["value"] = frame["value"].astype(float)
    return frame


def base_files() -> dict[str, pd.DataFrame]:
    """A workbook with a sheet of each dataset (one batch covers them all)."""
    return {
        "budget": budget(
            [
                (
                    108,
                    3,
                    "外交部",
                    "外交管理業務",
                    "經常門",
                    240_961_000,
                    60_000_000,
                    52_000_000,
                    1_200_000,
                ),
                (108, 3, "外交部", "營建工程", "資本門", 355_582_000, 80_000_000, 20_000_000, 0),
                (
                    108,
                    3,
                    "領事事務局",
                    "一般行政",
                    "經常門",
                    277_956_000,
                    70_000_000,
                    65_000_000,
                    500_000,
                ),
            ]
        ),
        "visa": visa(
            [
                (108, 1, "駐日本代表處", "亞太", "停留簽證", 1200, 1150, 50, 4.2),
                (108, 1, "駐日本代表處", "亞太", "電子簽證", 900, 880, 20, None),
                (108, 2, "駐美國代表處", None, "居留簽證", 300, 290, 10, 6.5),
            ]
        ),
        "visits": visits(
            [
                ("2019-01-05", "來訪", "巴拉圭", "部長", "巴拉圭外交部長訪團", 8, "國際會議及交流"),
                ("2019-02-10", "出訪", "日本", "國會議員", "", None, "國際會議及交流"),
                ("2019-03-31", "國際會議", "瑞士", "官員", "WHA", 3, "國際會議及交流"),
                ("2019-05-02", "來訪", "美國", "部長", "美國商務部長訪團", 12, "國際會議及交流"),
            ]
        ),
        "kpi_values": kpi_values(
            [
                ("K4.1", 108, 1, 48, "NGO 活動集中於下半年"),
                ("K5.1", 108, 1, 1310, None),
                ("K6.2", 108, 1, None, "電子簽證方案 4 月實施"),
            ]
        ),
    }


def canon(value):
    """A stored or given cell as a plain comparable value."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp | dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool):
        return round(float(value), 6)
    return value


def rows_of(frame: pd.DataFrame, dataset: str) -> list[tuple]:
    """A frame's stored fields as sorted tuples of plain values."""
    cols = [f.name for f in DATASETS[dataset].stored_fields]
    out = [tuple(canon(v) for v in row) for row in frame[cols].itertuples(index=False)]
    return sorted(out, key=repr)


def snapshot(store: Store) -> dict[str, list[tuple]]:
    """Every current row of every dataset."""
    return {name: rows_of(store.current_rows(name), name) for name in DATASETS}


def current_versions_per_key(store: Store) -> int:
    """The largest number of current versions (tombstones included) any key has."""
    worst = 0
    with store.read() as conn:
        for name, ds in DATASETS.items():
            t = ROW_TABLES[name]
            q = sa.select(sa.func.count()).where(t.c.current).group_by(*(t.c[k] for k in ds.key))
            worst = max([worst, *(n for (n,) in conn.execute(q))])
    return worst


def total_versions(store: Store) -> int:
    with store.read() as conn:
        return sum(
            conn.execute(sa.select(sa.func.count()).select_from(t)).scalar()
            for t in ROW_TABLES.values()
        )


def do_import(store: Store, frames: dict[str, pd.DataFrame], name: str = "file.xlsx", **kwargs):
    return store.import_frames(frames, file_name=name, content=name.encode(), **kwargs)


# -- first import, identical import, changed file ------------------------------------------


def test_first_import_counts_every_row_as_new_and_stores_it(store):
    files = base_files()
    v0 = store.version()
    out = do_import(store, files, who="uploader")
    assert out.written and out.batch_id is not None
    for name, frame in files.items():
        assert out.changes[name].as_dict() == {
            "new": len(frame),
            "changed": 0,
            "unchanged": 0,
            "removed": 0,
        }
        assert rows_of(store.current_rows(name), name) == rows_of(frame, name)
    assert store.version() != v0
    [info] = store.batches()
    assert info.id == out.batch_id
    assert set(info.datasets) == set(files)
    assert (info.rows, info.new, info.changed, info.unchanged, info.removed) == (13, 13, 0, 0, 0)
    assert info.status == "active" and info.who == "uploader"


def test_visits_get_their_roc_year_and_month_from_the_date(store):
    do_import(store, {"visits": base_files()["visits"]})
    stored = store.current_rows("visits").sort_values("date")
    assert stored["year"].tolist() == [108, 108, 108, 108]
    assert stored["month"].tolist() == [1, 2, 3, 5]
    assert len(store.current_rows("visits", year=108)) == 4
    assert store.current_rows("visits", year=107).empty


def test_importing_the_same_file_again_writes_nothing(store):
    files = base_files()
    do_import(store, files)
    before = (store.version(), len(store.batches()), total_versions(store), snapshot(store))
    again = do_import(store, base_files(), name="again.xlsx")
    assert not again.written and again.batch_id is None
    for name, frame in files.items():
        assert again.changes[name].as_dict() == {
            "new": 0,
            "changed": 0,
            "unchanged": len(frame),
            "removed": 0,
        }
    assert (store.version(), len(store.batches()), total_versions(store), snapshot(store)) == before


def test_a_changed_file_counts_changed_new_and_unchanged_exactly(store):
    do_import(store, base_files())
    files = base_files()
    files["budget"].loc[0, "spent"] += 1_000  # changed
    files["budget"].loc[2, "payable"] = 0  # changed
    files["budget"] = pd.concat(
        [
            files["budget"],
            budget(
                [(108, 3, "外交部", "國際會議及交流", "經常門", 1_760_144_000, 400_000_000, 1, 0)]
            ),
        ],
        ignore_index=True,
    )  # new
    files["visa"].loc[1, "avg_days"] = 2.0  # a value where there was none: changed
    files["visits"].loc[1, "participants"] = 4  # changed
    files["kpi_values"].loc[2, "note"] = None  # changed
    files["kpi_values"].loc[1, "value"] = 1310.0000000001  # float noise is not a change
    out = do_import(store, files)
    counts = {name: c.as_dict() for name, c in out.changes.items()}
    assert counts == {
        "budget": {"new": 1, "changed": 2, "unchanged": 1, "removed": 0},
        "visa": {"new": 0, "changed": 1, "unchanged": 2, "removed": 0},
        "visits": {"new": 0, "changed": 1, "unchanged": 3, "removed": 0},
        "kpi_values": {"new": 0, "changed": 1, "unchanged": 2, "removed": 0},
    }
    info = store.batch(out.batch_id)
    assert (info.new, info.changed, info.unchanged, info.removed) == (1, 5, 8, 0)
    for name, frame in files.items():
        assert rows_of(store.current_rows(name), name) == rows_of(frame, name)
    assert current_versions_per_key(store) == 1


def test_rows_of_other_periods_are_left_alone(store):
    # The store holds nothing of the file's month: the diff has no key to compare.
    do_import(store, base_files())
    before = (snapshot(store), total_versions(store))
    q2 = budget(
        [(108, 6, "外交部", "外交管理業務", "經常門", 240_961_000, 120_000_000, 99_000_000, 0)]
    )
    out = do_import(store, {"budget": q2}, replace_quarters=True)
    assert out.changes["budget"].as_dict() == {"new": 1, "changed": 0, "unchanged": 0, "removed": 0}
    assert len(store.current_rows("budget")) == 4
    assert total_versions(store) == before[1] + 1  # nothing superseded, nothing tombstoned
    store.undo(out.batch_id)
    assert (snapshot(store), total_versions(store) - 1) == before


# -- undo ---------------------------------------------------------------------------------


def changed_files() -> dict[str, pd.DataFrame]:
    """A second upload: changes, new rows and (with replace) a visit removed."""
    files = base_files()
    files["budget"].loc[0, "spent"] = 59_000_000
    files["visa"].loc[0, "issued"] = 1100
    files["visits"] = files["visits"].drop(index=2).reset_index(drop=True)  # WHA no longer listed
    files["visits"].loc[0, "level"] = "元首"
    files["kpi_values"].loc[0, "value"] = 52.0
    files["kpi_values"] = pd.concat(
        [files["kpi_values"], kpi_values([("K4.1", 108, 2, 104, None)])], ignore_index=True
    )
    return files


def test_undo_of_the_newest_batch_restores_exactly_the_previous_rows(store):
    do_import(store, base_files())
    before = snapshot(store)
    newer = do_import(store, changed_files(), replace_quarters=True)
    assert newer.changes["visits"].removed == 1
    assert snapshot(store) != before
    restored = store.undo(newer.batch_id, who="admin")
    assert restored == {"budget": 3, "visa": 3, "visits": 4, "kpi_values": 4}
    assert snapshot(store) == before
    assert current_versions_per_key(store) == 1
    info = store.batch(newer.batch_id)
    assert info.status == "undone" and info.undone_by == "admin" and info.undone_at is not None


def test_undo_of_every_batch_newest_first_walks_back_to_an_empty_store(store):
    snapshots = [snapshot(store)]
    ids = []
    for files, replace in ((base_files(), False), (changed_files(), True), (base_files(), False)):
        ids.append(do_import(store, files, replace_quarters=replace).batch_id)
        snapshots.append(snapshot(store))
    for batch_id, expected in zip(reversed(ids), reversed(snapshots[:-1]), strict=True):
        store.undo(batch_id)
        assert snapshot(store) == expected
    assert all(v == [] for v in snapshot(store).values())


def test_undo_of_a_file_that_changed_every_other_row_of_a_large_one(store):
    # Thousands of superseded versions, scattered (every other id) and in runs: the
    # statements that mark rows current or not take them in groups.
    from kpi import sample

    big = sample.visa_frame(rows_target=4_000)
    first = do_import(store, {"visa": big})
    before = snapshot(store)
    changed = big.copy()
    changed.loc[changed.index % 2 == 0, "issued"] = changed["issued"] + 1
    second = do_import(store, {"visa": changed})
    assert second.changes["visa"].changed == (len(big) + 1) // 2
    assert current_versions_per_key(store) == 1
    store.undo(second.batch_id)
    assert snapshot(store) == before
    store.undo(first.batch_id)
    assert snapshot(store)["visa"] == []


@given(st.lists(st.integers(min_value=1, max_value=300), max_size=200))
def test_id_runs_cover_every_id_once_in_maximal_runs(ids):
    runs, singles = _id_runs(ids)
    covered = [i for lo, hi in runs for i in range(lo, hi + 1)] + singles
    assert sorted(covered) == sorted(set(ids))
    assert all(hi > lo for lo, hi in runs)
    # Maximal: no run or single touches another.
    edges = sorted([(lo, hi) for lo, hi in runs] + [(i, i) for i in singles])
    assert all(b[0] > a[1] + 1 for a, b in zip(edges, edges[1:], strict=False))


def test_undo_of_an_older_batch_keeps_the_values_that_replaced_it(store):
    first = do_import(store, base_files())
    second = do_import(store, changed_files())
    after_second = snapshot(store)
    store.undo(first.batch_id)
    now = snapshot(store)
    # Keys the second file also holds keep its values; keys only the first had are gone.
    for name in ("budget", "visa", "kpi_values"):
        assert now[name] == after_second[name]
    assert now["visits"] == rows_of(changed_files()["visits"], "visits")
    # Undoing the second too leaves nothing: the first is already undone.
    store.undo(second.batch_id)
    assert all(v == [] for v in snapshot(store).values())


def test_undo_twice_or_of_an_unknown_batch_is_refused(store):
    out = do_import(store, base_files())
    store.undo(out.batch_id)
    before = (store.version(), snapshot(store))
    with pytest.raises(StoreError) as twice:
        store.undo(out.batch_id)
    assert str(out.batch_id) in twice.value.message_en and twice.value.message_zh
    with pytest.raises(StoreError):
        store.undo(out.batch_id + 100)
    assert (store.version(), snapshot(store)) == before


def test_a_guard_that_refuses_writes_nothing(store):
    def closed(conn, frames):
        raise StoreError("第1季已關帳。", "Q1 is closed.")

    before = (store.version(), snapshot(store), store.batches())
    with pytest.raises(StoreError):
        do_import(store, base_files(), guard=closed)
    assert (store.version(), snapshot(store), store.batches()) == before


# -- dry run --------------------------------------------------------------------------------


def test_a_dry_run_reports_the_changes_and_writes_nothing(store):
    do_import(store, base_files())
    before = (store.version(), store.batches(), total_versions(store), snapshot(store))
    dry = do_import(store, changed_files(), replace_quarters=True, dry_run=True)
    assert not dry.written and dry.batch_id is None
    assert dry.changes["budget"].as_dict() == {"new": 0, "changed": 1, "unchanged": 2, "removed": 0}
    assert dry.changes["visits"].as_dict() == {"new": 0, "changed": 1, "unchanged": 2, "removed": 1}
    assert dry.changes["kpi_values"].as_dict() == {
        "new": 1,
        "changed": 1,
        "unchanged": 2,
        "removed": 0,
    }
    assert (store.version(), store.batches(), total_versions(store), snapshot(store)) == before
    # The same file for real gives the very counts the dry run promised.
    real = do_import(store, changed_files(), replace_quarters=True)
    assert real.changes == dry.changes


def test_a_dry_run_on_an_empty_store_writes_nothing(store):
    v0 = store.version()
    dry = do_import(store, base_files(), dry_run=True)
    assert dry.total.new == 13
    assert store.version() == v0 and store.batches() == [] and total_versions(store) == 0


# -- visits that replace their quarters -------------------------------------------------------


def test_replacing_quarters_removes_only_unlisted_visits_of_the_files_quarters(store):
    stored = visits(
        [
            ("2019-01-05", "來訪", "巴拉圭", "部長", "A", 8, "國際會議及交流"),
            ("2019-02-10", "出訪", "日本", "部長", "B", None, "國際會議及交流"),
            ("2019-03-31", "國際會議", "瑞士", "官員", "C", 3, "國際會議及交流"),
            ("2019-04-01", "來訪", "美國", "部長", "D", 2, "國際會議及交流"),
            ("2018-02-10", "來訪", "美國", "部長", "E", 2, "國際會議及交流"),
        ]
    )
    do_import(store, {"visits": stored})
    before = snapshot(store)
    # A Q1 file that lists only January's visit (changed) and a new one, also in January.
    q1 = visits(
        [
            ("2019-01-05", "來訪", "巴拉圭", "元首", "A", 8, "國際會議及交流"),
            ("2019-01-20", "來訪", "帛琉", "部長", "F", 5, "國際會議及交流"),
        ]
    )
    plain = do_import(store, {"visits": q1}, dry_run=True)
    assert plain.changes["visits"].removed == 0
    out = do_import(store, {"visits": q1}, replace_quarters=True)
    assert out.changes["visits"].as_dict() == {"new": 1, "changed": 1, "unchanged": 0, "removed": 2}
    now = store.current_rows("visits")
    assert sorted(now["delegation"]) == ["A", "D", "E", "F"]  # B (Feb) and C (Mar) removed
    assert now.loc[now["delegation"] == "A", "level"].item() == "元首"
    assert store.batch(out.batch_id).removed == 2
    assert current_versions_per_key(store) == 1
    # Undo brings the removed visits (and the old January value) back.
    store.undo(out.batch_id)
    assert snapshot(store) == before
    assert current_versions_per_key(store) == 1


def test_a_removed_visit_that_comes_back_is_new_and_undo_keeps_it_removed(store):
    do_import(store, {"visits": base_files()["visits"]})
    removing = do_import(store, {"visits": base_files()["visits"].iloc[[0]]}, replace_quarters=True)
    assert removing.changes["visits"].removed == 2  # Feb and Mar of Q1; May (Q2) stays
    removed_state = snapshot(store)
    back = do_import(store, {"visits": base_files()["visits"].iloc[[1]]})
    assert back.changes["visits"].as_dict() == {
        "new": 1,
        "changed": 0,
        "unchanged": 0,
        "removed": 0,
    }
    assert len(store.current_rows("visits")) == 3
    assert current_versions_per_key(store) == 1
    store.undo(back.batch_id)
    assert snapshot(store) == removed_state
    store.undo(removing.batch_id)
    assert snapshot(store)["visits"] == rows_of(base_files()["visits"], "visits")


# -- files, versions, purge ------------------------------------------------------------------


def test_the_original_file_comes_back_byte_for_byte(store):
    content = bytes(range(256)) * 50 + "中文檔名".encode()
    out = store.import_frames(base_files(), file_name="108Q1 預算執行.xlsx", content=content)
    assert store.batch_file(out.batch_id) == ("108Q1 預算執行.xlsx", content)
    info = store.batch(out.batch_id)
    assert info.sha256 == hashlib.sha256(content).hexdigest()
    assert info.size == len(content)
    assert store.batch_file(out.batch_id + 1) is None


def test_a_flag_is_claimed_once_and_claiming_it_again_changes_no_version(store):
    assert store.claim_meta("initialised", "tests")
    version = store.version()
    assert not store.claim_meta("initialised", "again")  # every app start does this
    assert store.version() == version
    assert store.get_meta("initialised") == "tests"


def test_the_version_changes_with_every_write(store):
    seen = [store.version()]

    def changed() -> bool:
        seen.append(store.version())
        return seen[-1] not in seen[:-1]

    first = do_import(store, base_files())
    assert changed()
    second = do_import(store, changed_files())
    assert changed()
    do_import(store, changed_files())  # identical: nothing written
    assert not changed()
    do_import(store, base_files(), dry_run=True)
    assert not changed()
    store.undo(second.batch_id)
    assert changed()
    store.set_target("K1.1", 108, 1, 12, old=10, reason="修正", who="admin")
    assert changed()
    store.undo(first.batch_id)
    assert changed()
    store.purge_batches([first.batch_id, second.batch_id])
    assert changed()


def test_purge_refuses_active_batches_and_deletes_undone_ones(store):
    first = do_import(store, base_files())
    second = do_import(store, changed_files())
    store.undo(first.batch_id)
    before = (store.version(), snapshot(store), total_versions(store))
    with pytest.raises(StoreError):
        store.purge_batches([first.batch_id, second.batch_id])
    assert (store.version(), snapshot(store), total_versions(store)) == before
    store.purge_batches([first.batch_id])
    assert [b.id for b in store.batches()] == [second.batch_id]
    assert store.batch_file(first.batch_id) is None
    assert snapshot(store) == before[1]
    assert total_versions(store) == before[2] - 13


# -- the model: a key's value comes from the newest batch that is not undone ------------------

KPIS = ("K4.1", "K5.1")
# Visit days in Q1 (January, the last day of March) and Q2, so replacing Q1 touches a month
# a file may not list.
VISIT_DAYS = ((1, 10), (3, 31), (4, 5))
VISIT_KEYS = [
    (day, kind, who)
    for day in VISIT_DAYS
    for kind, who in (("來訪", "甲團"), ("來訪", "乙團"), ("國際會議", "甲團"))
]
KPI_KEYS = [(k, q) for k in KPIS for q in (1, 2, 3)]
TOMBSTONE = object()

kpi_file = st.dictionaries(
    st.sampled_from(KPI_KEYS),
    st.tuples(st.sampled_from([1.0, 2.5, None]), st.sampled_from([None, "說明"])),
    max_size=5,
)
visit_file = st.dictionaries(
    st.sampled_from(VISIT_KEYS),
    st.tuples(st.sampled_from(["部長", "其他"]), st.sampled_from([None, 5])),
    min_size=1,
    max_size=4,
)
an_import = st.tuples(st.just("import"), kpi_file, visit_file, st.booleans())
operation = st.one_of(an_import, an_import, st.tuples(st.just("undo"), st.integers(0, 7)))
_years = itertools.count(1)


class Model:
    """The rule of SPEC §4 in plain Python."""

    def __init__(self) -> None:
        self.batches: list[tuple[int, dict[str, dict]]] = []
        self.undone: set[int] = set()

    def current(self, dataset: str) -> dict:
        out: dict = {}
        for batch_id, content in self.batches:  # oldest first: newer ones overwrite
            if batch_id in self.undone:
                continue
            out.update(content.get(dataset, {}))
        return {k: v for k, v in out.items() if v is not TOMBSTONE}

    def plan(
        self, files: dict[str, dict], replace: bool
    ) -> tuple[dict[str, dict], dict[str, dict]]:
        """(expected change counts, the batch's content) for an import."""
        counts, content = {}, {}
        for dataset, rows in files.items():
            now = self.current(dataset)
            same = sum(1 for k, v in rows.items() if k in now and now[k] == v)
            new = sum(1 for k in rows if k not in now)
            content[dataset] = dict(rows)
            removed = 0
            if replace and dataset == "visits":
                quarters = {quarter_of(k) for k in rows}
                for k in now:
                    if quarter_of(k) in quarters and k not in rows:
                        content[dataset][k] = TOMBSTONE
                        removed += 1
            counts[dataset] = {
                "new": new,
                "changed": len(rows) - new - same,
                "unchanged": same,
                "removed": removed,
            }
        return counts, content


def quarter_of(visit_key) -> int:
    (month, _), _, _ = visit_key
    return (month - 1) // 3 + 1


def kpi_frame(rows: dict, year: int) -> pd.DataFrame:
    return kpi_values(
        [(k, year, q, value, note) for (k, q), (value, note) in sorted(rows.items(), key=repr)]
    )


def visit_frame(rows: dict, year: int) -> pd.DataFrame:
    return visits(
        [
            (
                dt.date(year + 1911, m, d).isoformat(),
                kind,
                "日本",
                level,
                who,
                people,
                "國際會議及交流",
            )
            for ((m, d), kind, who), (level, people) in sorted(rows.items(), key=repr)
        ]
    )


def stored_state(store: Store, year: int) -> dict[str, dict]:
    kv = store.current_rows("kpi_values", year=year)
    vs = store.current_rows("visits", year=year)

    def none(x):
        return None if x is None or (not isinstance(x, str) and pd.isna(x)) else x

    return {
        "kpi_values": {
            (r.kpi, int(r.quarter)): (
                none(r.value) if none(r.value) is None else float(r.value),
                none(r.note),
            )
            for r in kv.itertuples()
        },
        "visits": {
            ((pd.Timestamp(r.date).month, pd.Timestamp(r.date).day), r.type, r.delegation): (
                r.level,
                None if none(r.participants) is None else int(r.participants),
            )
            for r in vs.itertuples()
        },
    }


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=st.lists(operation, min_size=2, max_size=6))
def test_current_rows_always_follow_the_newest_batch_not_undone(store, ops):
    # Every example works in a year of its own, so examples sharing the store never meet.
    year = next(_years)
    model = Model()
    ours: list[int] = []  # this example's batches, oldest first
    for op in ops:
        if op[0] == "import":
            _, kpi_rows, visit_rows, replace = op
            files = {
                name: rows
                for name, rows in (("kpi_values", kpi_rows), ("visits", visit_rows))
                if rows
            }
            frames = {
                name: kpi_frame(rows, year) if name == "kpi_values" else visit_frame(rows, year)
                for name, rows in files.items()
            }
            counts, content = model.plan(files, replace)
            version = store.version()
            out = do_import(store, frames, replace_quarters=replace)
            assert {name: c.as_dict() for name, c in out.changes.items()} == counts
            writes = any(c["new"] or c["changed"] or c["removed"] for c in counts.values())
            assert out.written == writes
            assert (store.version() != version) == writes
            if writes:
                model.batches.append((out.batch_id, content))
                ours.append(out.batch_id)
        else:
            if not ours:
                continue
            batch_id = ours[op[1] % len(ours)]
            if batch_id in model.undone:
                with pytest.raises(StoreError):
                    store.undo(batch_id)
            else:
                store.undo(batch_id)
                model.undone.add(batch_id)
        state = stored_state(store, year)
        for name in ("kpi_values", "visits"):
            expected = model.current(name)
            assert state[name] == expected, name
    assert current_versions_per_key(store) <= 1


# -- each batch's rows by id range -------------------------------------------------------------


def test_every_batch_records_the_id_range_of_each_datasets_rows(store):
    first = do_import(store, base_files())
    second = do_import(store, changed_files(), name="changed.xlsx", replace_quarters=True)
    with store.read() as conn:
        ranges = {
            (b, name): (lo, hi)
            for b, name, lo, hi in conn.execute(
                sa.select(
                    batch_rows.c.batch_id,
                    batch_rows.c.dataset,
                    batch_rows.c.first_id,
                    batch_rows.c.last_id,
                )
            )
        }
        for batch in (first.batch_id, second.batch_id):
            for name, t in ROW_TABLES.items():
                ids = [i for (i,) in conn.execute(sa.select(t.c.id).where(t.c.batch_id == batch))]
                if not ids:
                    assert (batch, name) not in ranges
                    continue
                lo, hi = ranges[batch, name]
                # The range holds the batch's rows and nobody else's.
                assert lo <= min(ids) and max(ids) <= hi
                inside = conn.execute(
                    sa.select(sa.func.count()).where(t.c.id.between(lo, hi))
                ).scalar_one()
                assert inside == len(ids)


def test_purging_batches_deletes_their_rows_and_ranges(store):
    first = do_import(store, base_files())
    kept = do_import(store, changed_files(), name="changed.xlsx")
    store.undo(kept.batch_id)
    store.purge_batches([kept.batch_id])
    with store.read() as conn:
        assert {b for (b,) in conn.execute(sa.select(batch_rows.c.batch_id))} == {first.batch_id}
        for t in ROW_TABLES.values():
            left = {b for (b,) in conn.execute(sa.select(t.c.batch_id).distinct())}
            assert left <= {first.batch_id}


def _migrate(url: str, revision: str) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    engine = make_engine(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    engine.dispose()


def test_the_batch_range_migration_records_the_rows_stored_before_it(empty_url):
    _migrate(empty_url, "0003")
    engine = make_engine(empty_url)
    visa_rows = ROW_TABLES["visa"]
    with engine.begin() as conn:
        ids = []
        for n in (1, 2):
            ids.append(
                conn.execute(
                    sa.insert(batches)
                    .values(
                        datasets="visa",
                        file_name=f"{n}.xlsx",
                        sha256="0" * 64,
                        size=1,
                        who="test",
                        created_at=dt.datetime(2020, 1, n),
                        rows=2,
                        new=2,
                        changed=0,
                        unchanged=0,
                        removed=0,
                        summary="{}",
                        status="active",
                    )
                    .returning(batches.c.id)
                ).scalar_one()
            )
            conn.execute(
                sa.insert(visa_rows),
                [
                    {
                        "batch_id": ids[-1],
                        "current": n == 2,
                        "deleted": False,
                        "year": 108,
                        "month": month,
                        "mission": "駐日本代表處",
                        "region": None,
                        "visa_type": "停留簽證",
                        "applications": 10 * n,
                        "issued": 5 * n,
                        "refused": 0,
                        "avg_days": None,
                    }
                    for month in (1, 2)
                ],
            )
    engine.dispose()
    store = Store(empty_url)  # brings it to the newest migration
    try:
        with store.read() as conn:
            ranges = sorted(conn.execute(sa.select(batch_rows)).all())
            by_batch = {
                b: sorted(
                    i
                    for (i,) in conn.execute(
                        sa.select(visa_rows.c.id).where(visa_rows.c.batch_id == b)
                    )
                )
                for b in ids
            }
        assert ranges == [(b, "visa", by_batch[b][0], by_batch[b][-1]) for b in ids]
        indexes = {i["name"] for i in sa.inspect(store.engine).get_indexes("visa_rows")}
        assert "ix_visa_batch" not in indexes
        assert store.undo(ids[1]) == {"visa": 2}
        assert snapshot(store)["visa"] == [
            (108, month, "駐日本代表處", None, "停留簽證", 10, 5, 0, None) for month in (1, 2)
        ]
    finally:
        store.dispose()

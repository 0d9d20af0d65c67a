"""Quarter close (期末鎖定) and the target ledger, on SQLite and PostgreSQL.

A closed quarter keeps its figures as reported; the store refuses, inside the write
transaction, any import, undo or target revision that would change one of its rows, and
writes nothing. Reopening (with a reason) lifts the lock; closing again takes a new
snapshot, and the old one stays in the history.
"""

from __future__ import annotations

import json
import threading
import time

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from kpi.auth import PermissionDenied, Role, User
from kpi.closing import as_reported_json, goal_revisions, kpi_revisions
from kpi.engine import Engine
from kpi.paths import ROOT
from kpi.store import Store, StoreError, make_engine
from tests.test_store import (
    base_files,
    budget,
    do_import,
    kpi_values,
    snapshot,
    total_versions,
    visa,
    visits,
)

VIEWER = User("vera", Role.VIEWER)
UPLOADER = User("uma", Role.UPLOADER)


def state(store: Store) -> tuple:
    """Everything a refused write must leave as it was."""
    return (
        store.version(),
        store.batches(),
        total_versions(store),
        snapshot(store),
        store.quarter_closes(),
        len(store.audit_log()),
        store.target_revisions().to_dict("records"),
    )


def corrections() -> dict[str, dict]:
    """For each dataset, a file that changes one row of 108 Q1 (the base files' quarter)."""
    return {
        "budget": {
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
                        55_000_000,
                        0,
                    )
                ]
            )
        },
        "visa": {"visa": visa([(108, 1, "駐日本代表處", "亞太", "停留簽證", 1200, 1190, 10, 4.2)])},
        "visits": {
            "visits": visits(
                [("2019-03-20", "來訪", "帛琉", "元首", "帛琉總統訪團", 20, "國際會議及交流")]
            )
        },
        "kpi_values": {"kpi_values": kpi_values([("K4.1", 108, 1, 52, "更正")])},
    }


def q2_files() -> dict:
    return {
        "kpi_values": kpi_values([("K4.1", 108, 2, 97, None)]),
        "visits": visits(
            [("2019-04-10", "來訪", "巴拉圭", "元首", "巴拉圭總統訪團", 30, "國際會議及交流")]
        ),
    }


@pytest.fixture
def eng(store) -> Engine:
    return Engine(store)


# -- the lock ------------------------------------------------------------------------------------


def test_a_correcting_import_of_a_closed_quarter_is_refused_and_writes_nothing(store, eng):
    do_import(store, base_files())
    eng.close_quarter(108, 1)
    before = state(store)
    for name, frames in corrections().items():
        for dry_run in (True, False):
            with pytest.raises(StoreError) as refused:
                do_import(store, frames, dry_run=dry_run)
            assert "108年第1季" in refused.value.message_zh, name
            assert "2019 Q1" in refused.value.message_en, name
            assert state(store) == before, name


def test_what_changes_nothing_in_the_closed_quarter_still_imports(store, eng):
    do_import(store, base_files())
    eng.close_quarter(108, 1)
    # The same file again changes nothing: no refusal, no batch.
    again = do_import(store, base_files())
    assert not again.written
    # Rows of another quarter, also in one file with unchanged rows of the closed one.
    out = do_import(store, {**q2_files(), "budget": base_files()["budget"]})
    assert out.written and out.total.new == 2
    assert {r[2] for r in snapshot(store)["kpi_values"]} == {1, 2}


def test_replacing_a_closed_quarters_visits_is_refused(store, eng):
    do_import(store, base_files())
    eng.close_quarter(108, 1)
    before = state(store)
    # Lists only one of the quarter's three visits: the others would be removed.
    only = visits(
        [("2019-01-05", "來訪", "巴拉圭", "部長", "巴拉圭外交部長訪團", 8, "國際會議及交流")]
    )
    with pytest.raises(StoreError, match="108年第1季"):
        do_import(store, {"visits": only}, replace_quarters=True)
    assert state(store) == before


def test_undo_of_a_batch_touching_the_closed_quarter_is_refused(store, eng):
    first = do_import(store, base_files())
    q2 = do_import(store, q2_files())
    eng.close_quarter(108, 1)
    before = state(store)
    with pytest.raises(StoreError) as refused:
        store.undo(first.batch_id)
    assert "108年第1季" in refused.value.message_zh and "2019 Q1" in refused.value.message_en
    assert state(store) == before
    # A batch of an open quarter still undoes.
    store.undo(q2.batch_id)
    assert {r[2] for r in snapshot(store)["kpi_values"]} == {1}


def test_undo_of_a_batch_whose_closed_rows_were_all_replaced_is_allowed(store, eng):
    do_import(store, base_files())
    later = do_import(store, {"kpi_values": kpi_values([("K4.1", 108, 1, 50, "修正")])})
    again = do_import(store, {"kpi_values": kpi_values([("K4.1", 108, 1, 51, "再修正")])})
    eng.close_quarter(108, 1)
    # `later`'s version is superseded by `again`: undoing it changes no current row.
    store.undo(later.batch_id)
    with pytest.raises(StoreError):
        store.undo(again.batch_id)


def test_a_target_revision_of_a_closed_quarter_is_refused(store, eng):
    do_import(store, base_files())
    eng.close_quarter(108, 1)
    before = state(store)
    with pytest.raises(StoreError, match="108年第1季"):
        eng.set_target("K4.1", 108, 1, 40, "較實際")
    assert state(store) == before
    eng.set_target("K4.1", 108, 2, 110, "下半年活動增加")
    assert eng.status(108, 2).kpis[3].target == 110


def test_a_close_that_commits_first_wins_over_an_import_in_flight(store, eng):
    """The lock is checked inside the write transaction: an import that starts while the
    close takes its snapshot waits for it, then is refused."""
    do_import(store, base_files())
    taking = threading.Event()

    def slow_snapshot() -> dict:
        taking.set()
        time.sleep(0.8)
        return {"kpis": [], "goals": []}

    closer = threading.Thread(target=store.close_quarter, args=(108, 1, slow_snapshot, "admin"))
    closer.start()
    assert taking.wait(10)
    try:
        with pytest.raises(StoreError, match="108年第1季"):
            do_import(store, corrections()["kpi_values"])
    finally:
        closer.join(10)
    assert store.quarter_close(108, 1) is not None


# -- snapshot, reopen, close again ------------------------------------------------------------------


def test_the_snapshot_stays_as_reported_and_reopen_lifts_the_lock(store, eng):
    do_import(store, base_files())
    at_close = eng.status(108, 1)
    closed = eng.close_quarter(108, 1)
    assert closed.snapshot["kpis"][3]["id"] == "K4.1"
    assert closed.snapshot["kpis"][3]["actual"] == 48
    # A later change elsewhere (another quarter, a target of it) leaves the snapshot alone.
    do_import(store, q2_files())
    eng.set_target("K4.1", 108, 2, 110, "下半年活動增加")
    held = eng.quarter_close(108, 1)
    assert held == closed
    doc = as_reported_json(held)
    expected = at_close.as_json()
    parts = ("year", "quarter", "goals", "budget_totals")
    assert {k: doc[k] for k in parts} == {k: expected[k] for k in parts}
    assert [{k: v for k, v in row.items() if k != "original_target"} for row in doc["kpis"]] == (
        expected["kpis"]
    )
    assert doc["as_reported"]["closed_by"] == "local"
    assert not kpi_revisions(held, eng.status(108, 1))

    # Reopen: a reason is required; then the correction goes in and the figures move.
    for blank in ("", "   "):
        with pytest.raises(StoreError):
            eng.reopen_quarter(108, 1, blank)
    assert eng.quarter_close(108, 1) is not None
    eng.reopen_quarter(108, 1, "NGO 場次漏報")
    assert eng.quarter_close(108, 1) is None
    out = do_import(store, corrections()["kpi_values"])
    assert out.written
    now = eng.status(108, 1)
    assert now.kpis[3].actual == 52
    # The reopened close keeps its snapshot, and shows the revision.
    (old,) = store.quarter_closes(108)
    assert old.is_open and old.reopen_reason == "NGO 場次漏報" and old.reopened_by == "local"
    assert kpi_revisions(old, now)["K4.1"].actual == 48
    assert "G4" in goal_revisions(old, now)

    # Closing again takes a new snapshot; the history holds both.
    again = eng.close_quarter(108, 1)
    assert again.id != old.id and again.snapshot["kpis"][3]["actual"] == 52
    assert [c.id for c in store.quarter_closes(108)] == [old.id, again.id]
    actions = list(store.audit_log()["action"])
    assert actions[:3] == ["quarter_close", "import", "quarter_reopen"]
    detail = json.loads(store.audit_log()["detail"].iloc[2])
    assert detail == {"year": 108, "quarter": 1, "close": old.id, "reason": "NGO 場次漏報"}


def test_closing_twice_or_reopening_an_open_quarter_is_refused(store, eng):
    with pytest.raises(StoreError, match="尚未結算"):
        eng.reopen_quarter(108, 2, "原因")
    eng.close_quarter(108, 2)
    with pytest.raises(StoreError, match="已經結算過了"):
        eng.close_quarter(108, 2)
    with pytest.raises(StoreError):
        eng.close_quarter(108, 5)
    assert len(store.quarter_closes()) == 1


def test_removing_the_sample_year_with_a_closed_quarter_is_refused_whole(store, eng):
    eng.load_sample()
    eng.close_quarter(108, 2)
    before = state(store)
    with pytest.raises(StoreError, match="108年第2季"):
        eng.remove_sample()
    assert state(store) == before


# -- roles ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("user", [VIEWER, UPLOADER])
def test_only_administrators_close_reopen_and_revise_targets(store, eng, user):
    eng.close_quarter(108, 1)
    before = state(store)
    someone = eng.as_user(user)
    with pytest.raises(PermissionDenied):
        someone.close_quarter(108, 2)
    with pytest.raises(PermissionDenied):
        someone.reopen_quarter(108, 1, "原因")
    with pytest.raises(PermissionDenied):
        someone.set_target("K4.1", 108, 2, 110, "原因")
    assert state(store) == before


# -- the target ledger --------------------------------------------------------------------------------


def test_the_target_ledger_names_the_target_each_revision_replaced(store, eng):
    eng.set_target("K6.1", 108, 2, 260_000, "簽證需求增加")
    eng.set_target("K4.1", 108, 1, 45, "活動延期")
    eng.set_target("K6.1", 108, 2, 270_000, "再次上修")
    ledger = [r.as_json() for r in eng.target_history(108)]
    assert [(r["kpi"], r["quarter"], r["old"], r["new"]) for r in ledger] == [
        ("K6.1", 2, 250_000, 260_000),
        ("K4.1", 1, 50, 45),
        ("K6.1", 2, 260_000, 270_000),
    ]
    assert set(ledger[0]) == {"kpi", "year", "quarter", "old", "new", "reason", "who", "when"}
    assert ledger[0]["year"] == 108 and ledger[0]["who"] == "local"
    assert [r.new for r in eng.target_history(108, "K6.1")] == [260_000, 270_000]
    assert eng.target_history(109) == []
    # Figures use the newest revision, and keep the catalogue's beside it.
    k61 = next(k for k in eng.status(108, 2).kpis if k.id == "K6.1")
    assert (k61.target, k61.original_target) == (270_000, 250_000)
    with pytest.raises(StoreError):
        eng.target_history(108, "K9.9")


# -- migration ------------------------------------------------------------------------------------------


def test_migration_0004_adds_the_closes_table_to_an_existing_store(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    cfg = Config()
    cfg.set_main_option("script_location", str(ROOT / "migrations"))

    def migrate(step, target: str) -> set[str]:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            step(cfg, target)
        return set(sa.inspect(engine).get_table_names())

    assert "quarter_closes" not in migrate(command.upgrade, "0003")
    assert "quarter_closes" in migrate(command.upgrade, "head")
    assert "quarter_closes" not in migrate(command.downgrade, "0003")
    engine.dispose()
    store = Store(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    assert store.quarter_closes() == []
    store.dispose()

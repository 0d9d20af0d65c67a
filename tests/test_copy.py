"""Copying a whole store between databases (issue 5, item 7): nothing stranded.

A store with every kind of history — superseded versions, an undone batch, tombstones,
a revised target, a plan — goes SQLite → PostgreSQL → SQLite, and each copy is compared
with the original here, independently of the copy's own checks: every table row by row,
every batch and its original file, the figures of every quarter; then undo is shown to
work on the copies exactly as on the original.
"""

from __future__ import annotations

import contextlib
import json

import pytest
import sqlalchemy as sa

from kpi.cli import main
from kpi.copy import CopyError, copy_store
from kpi.engine import Engine, bundled_source
from kpi.schema import metadata
from kpi.store import Store
from tests.conftest import pg_schema
from tests.workbooks import xlsx_bytes

pytestmark = pytest.mark.postgres

PASSWORD = "s3cret-pw"
TABLES = {t.name for t in metadata.sorted_tables}

VISA_FIX = [
    ["年月", "駐外館處", "地區", "簽證類別", "申請件數", "核發件數", "拒發件數", "平均處理天數"],
    ["108/01", "駐日本代表處", "亞太", "停留簽證", 2500, 2300, 150, 5.5],
]
BUDGET_MISTAKE = [
    ["年度", "月份", "機關", "工作計畫", "經資門", "預算數", "分配數", "實支數", "應付未付數"],
    [108, 3, "外交部", "外交管理業務", "經常門", 240961, 60000, 52000, 1200],
]
VISITS_Q1 = [
    ["日期", "類型", "國家", "層級", "團名", "人數"],
    ["108/02/15", "來訪", "巴拉圭", "部長", "巴拉圭外交部長訪團", 8],
    ["2019-03-01", "國際會議", "瑞士", "官員", "WHA", 3],
]


# -- stores ----------------------------------------------------------------------------------


@pytest.fixture
def stores():
    """Open stores by URL; every one is disposed of afterwards."""
    opened: list[Store] = []

    def open_(url: str) -> Store:
        opened.append(Store(url))
        return opened[-1]

    yield open_
    for s in opened:
        s.dispose()


@pytest.fixture
def pg_url():
    """URLs of new, empty schemas on the test server (conftest's pg_schema), dropped after."""
    with contextlib.ExitStack() as stack:
        yield lambda: stack.enter_context(pg_schema())


def with_password(url: str) -> str:
    return sa.make_url(url).set(password=PASSWORD).render_as_string(hide_password=False)


def full_history(store: Store) -> dict[str, int]:
    """The sample year and, over it, every kind of write the store keeps history of."""
    e = Engine(store)
    assert all(r.status == "imported" for r in e.load_sample())
    fix = e.import_bytes(xlsx_bytes({"簽證": VISA_FIX}), "visa_fix.xlsx", who="alice")
    assert fix.status == "imported" and fix.changes["visa"].changed == 1
    mistake = e.import_bytes(xlsx_bytes({"預算執行": BUDGET_MISTAKE}), "budget.xlsx", who="bob")
    assert mistake.status == "imported"
    store.undo(mistake.batch, who="bob")
    visits = e.import_bytes(
        xlsx_bytes({"訪問": VISITS_Q1}), "visits_q1.xlsx", replace=True, who="alice"
    )
    assert visits.status == "imported" and visits.changes["visits"].removed > 0
    e.set_target("K1.1", 108, 4, 44, "mid-year review")
    # Closes and their snapshots: one reopened (history), one in force.
    e.close_quarter(108, 4)
    e.reopen_quarter(108, 4, "late budget report")
    e.close_quarter(108, 3)
    store.save_plan(108, "外交部", bundled_source(), who="alice")
    return {"visa_fix": fix.batch, "mistake": mistake.batch, "visits": visits.batch}


def dump(store: Store) -> dict[str, list[tuple]]:
    """Every table's rows in primary-key order (sorted here, by code point)."""
    out = {}
    with store.read() as conn:
        for t in metadata.sorted_tables:
            key = [list(t.columns).index(c) for c in t.primary_key.columns]
            rows = [tuple(r) for r in conn.execute(sa.select(t))]
            out[t.name] = sorted(rows, key=lambda r, key=key: [r[i] for i in key])
    return out


def figures(store: Store) -> dict[tuple[int, int], dict]:
    e = Engine(store)
    return {(y, q): e.status(y, q).as_json() for y in e.years() for q in (1, 2, 3, 4)}


def assert_copy_of(copy: Store, original: Store) -> None:
    """The copy holds what the original holds, plus the copy's own audit entry."""
    a, b = dump(original), dump(copy)
    for name in TABLES - {"audit", "meta"}:
        assert b[name] == a[name], name
    assert b["audit"][: len(a["audit"])] == a["audit"]
    (entry,) = b["audit"][len(a["audit"]) :]
    _id, _at, who, action, detail = entry
    assert (who, action) == ("local", "copy")
    detail = json.loads(detail)
    assert detail["from"] == sa.make_url(original.url).render_as_string(hide_password=True)
    assert detail["tables"] == {name: len(rows) for name, rows in a.items()}
    # The flags come along; the version moves past both stores' so no cache matches it.
    versions = {k: v for k, v in a["meta"] if k != "version"}
    assert {k: v for k, v in b["meta"] if k != "version"} == versions
    assert copy.version() > original.version()
    assert copy.batches() == original.batches()
    for batch in original.batches():
        assert copy.batch_file(batch.id) == original.batch_file(batch.id)
    assert figures(copy) == figures(original)


# -- round trip ------------------------------------------------------------------------------


def test_round_trip_sqlite_postgres_sqlite_keeps_everything_and_undo_works(
    tmp_path, stores, pg_url
):
    original = stores(f"sqlite:///{tmp_path / 'original.sqlite3'}")
    batches = full_history(original)
    before = dump(original)
    assert before["target_revisions"] and before["plans"] and before["batch_files"]
    assert len(before["quarter_closes"]) == 2
    # Superseded versions, tombstones and the undone batch's rows all travel.
    visits = dump(original)["visits_rows"]
    assert any(not r[2] for r in visits) and any(r[3] for r in visits)

    pg, back = pg_url(), f"sqlite:///{tmp_path / 'back.sqlite3'}"
    first = copy_store(original.url, pg)
    assert first.verified and first.tables == {name: len(rows) for name, rows in before.items()}
    on_pg = stores(pg)
    assert_copy_of(on_pg, original)
    # The closes travel with their snapshots, and the lock holds on the copy.
    assert on_pg.quarter_closes() == original.quarter_closes()
    assert on_pg.quarter_close(108, 3) is not None and on_pg.quarter_close(108, 4) is None
    copy_store(pg, back)
    on_sqlite = stores(back)
    assert_copy_of(on_sqlite, on_pg)
    for name in TABLES - {"audit", "meta"}:
        assert dump(on_sqlite)[name] == before[name], name
    assert dump(original) == before  # reading the source wrote nothing to it

    # Undo on each copy does what it does on the original: tombstoned visits come back.
    was = figures(original)
    for store in (original, on_pg, on_sqlite):
        store.undo(batches["visits"])
    now = figures(original)
    assert now != was
    assert figures(on_pg) == now and figures(on_sqlite) == now
    for store in (on_pg, on_sqlite):
        for name in ("visits_rows", "summary_periods"):
            assert dump(store)[name] == dump(original)[name], name
        # New ids follow the copied ones (PostgreSQL's sequences were moved on).
        again = Engine(store).import_bytes(xlsx_bytes({"預算執行": BUDGET_MISTAKE}), "b.xlsx")
        assert again.batch == max(batches.values()) + 1


# -- refusals ----------------------------------------------------------------------------------


def test_a_target_holding_data_is_refused_and_left_as_it_was(tmp_path, stores, pg_url, capsys):
    source = stores(f"sqlite:///{tmp_path / 'source.sqlite3'}")
    Engine(source).import_bytes(xlsx_bytes({"簽證": VISA_FIX}), "visa.xlsx")
    target = stores(pg_url())
    target.save_plan(108, "外交部", bundled_source())
    before = dump(target)

    code = main(["copy", "--from", source.url, "--to", target.url, "--json"])
    out, _ = capsys.readouterr()
    assert code == 1
    assert "目的資料庫已有資料" in json.loads(out)["error"] and "plans" in json.loads(out)["error"]
    assert dump(target) == before

    code = main(["copy", "--from", source.url, "--to", target.url, "--lang", "en"])
    _, err = capsys.readouterr()
    assert code == 1 and "already holds data (audit, plans)" in err
    assert dump(target) == before


def test_a_copy_that_does_not_verify_is_rolled_back(tmp_path, stores, pg_url, monkeypatch):
    source = stores(f"sqlite:///{tmp_path / 'source.sqlite3'}")
    Engine(source).import_bytes(xlsx_bytes({"簽證": VISA_FIX}), "visa.xlsx")
    target = stores(pg_url())
    before = dump(target)

    import kpi.copy

    real = kpi.copy.bulk_insert

    def loses_a_row(conn, t, rows):
        real(conn, t, rows.iloc[:-1] if t.name == "visa_rows" else rows)

    monkeypatch.setattr(kpi.copy, "bulk_insert", loses_a_row)
    with pytest.raises(CopyError) as refused:
        copy_store(source.url, target.url)
    assert "visa_rows" in refused.value.message_en
    assert dump(target) == before and not any(before[name] for name in TABLES - {"meta"})


def test_the_target_takes_the_source_flags_and_a_version_past_both(tmp_path, stores):
    source = stores(f"sqlite:///{tmp_path / 'source.sqlite3'}")
    Engine(source).import_bytes(xlsx_bytes({"簽證": VISA_FIX}), "visa.xlsx")
    target = stores(f"sqlite:///{tmp_path / 'target.sqlite3'}")
    for flag in ("initialised", "a", "b", "c"):
        assert target.claim_meta(flag, "x")  # flags only: still an empty store
    assert target.version() > source.version()
    was = target.version()

    copy_store(source.url, target.url)
    assert dump(target)["meta"] == [("version", str(was + 1))]
    assert target.batches() == source.batches()


def test_a_store_is_not_copied_onto_itself(tmp_path, stores):
    url = f"sqlite:///{tmp_path / 'one.sqlite3'}"
    stores(url)
    with pytest.raises(CopyError, match="同一個資料庫"):
        copy_store(url, url)


# -- command line ----------------------------------------------------------------------------


def test_cli_json_contract_hides_passwords(tmp_path, stores, pg_url, capsys):
    source = stores(f"sqlite:///{tmp_path / 'source.sqlite3'}")
    Engine(source).import_bytes(xlsx_bytes({"簽證": VISA_FIX}), "visa.xlsx")
    secret_pg = with_password(pg_url())

    code = main(["copy", "--from", source.url, "--to", secret_pg, "--json"])
    out, err = capsys.readouterr()
    assert code == 0 and PASSWORD not in out + err
    doc = json.loads(out)
    assert set(doc) == {"from", "to", "tables", "verified"}
    assert doc["verified"] is True and doc["from"] == source.url
    assert doc["to"] == sa.make_url(secret_pg).render_as_string(hide_password=True)
    assert "***" in doc["to"]
    assert set(doc["tables"]) == TABLES
    assert doc["tables"]["batches"] == 1 and doc["tables"]["visa_rows"] == 1

    # Back out of PostgreSQL: the audit entry names the source without its password.
    back = f"sqlite:///{tmp_path / 'back.sqlite3'}"
    code = main(["copy", "--from", secret_pg, "--to", back, "--who", "carol"])
    out, err = capsys.readouterr()
    assert code == 0 and "核對相符" in out and PASSWORD not in out + err
    entry = stores(back).audit_log().iloc[0]
    assert (entry.who, entry.action) == ("carol", "copy")
    assert PASSWORD not in entry.detail and "***" in json.loads(entry.detail)["from"]


@pytest.mark.parametrize(
    "args",
    [["copy", "--from", "sqlite:///x.sqlite3"], ["copy", "--to", "sqlite:///x.sqlite3"]],
)
def test_cli_usage_errors_exit_2(args, capsys):
    assert main([*args, "--json"]) == 2
    out, _ = capsys.readouterr()
    assert "required" in json.loads(out)["error"]
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert out == "" and "required" in err

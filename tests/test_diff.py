"""上傳差異: a corrected workbook's dry run counts exactly the rows it changes, lists them
old → new, and shows the figures before → after without writing anything."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from kpi import rollups
from kpi.diff import CHANGED, REMOVED
from kpi.engine import Engine
from kpi.schema import ROW_TABLES
from kpi.store import Store
from tests.workbooks import xlsx_bytes

BUDGET_HEAD = ["年度", "月份", "工作計畫", "經資門", "預算數", "分配數", "實支數", "應付未付數"]
BUDGET = [
    [108, 3, "外交管理業務", "經常門", 240961, 60000, 52000, 1200],
    [108, 3, "外交管理業務", "資本門", 10000, 3000, 2000, 0],
    [108, 3, "國際會議及交流", "經常門", 1760144, 400000, 380000, 0],
    [108, 3, "營建工程", "資本門", 355582, 80000, 20000, 0],
]
VISA_HEAD = [
    "年月",
    "駐外館處",
    "地區",
    "簽證類別",
    "申請件數",
    "核發件數",
    "拒發件數",
    "平均處理天數",
]
VISA = [
    ["108/01", "駐日本代表處", "亞太", "停留簽證", 1200, 1150, 50, 4.2],
    ["108/01", "駐日本代表處", "亞太", "電子簽證", 900, 880, 20, None],
    ["108/02", "駐美國代表處", "北美", "停留簽證", 700, 690, 10, 6.0],
    ["108/03", "駐美國代表處", "北美", "居留簽證", 100, 95, 5, 9.0],
]
VISITS_HEAD = ["日期", "類型", "國家", "層級", "團名", "人數"]
VISITS = [
    ["108/02/15", "來訪", "巴拉圭", "部長", "巴拉圭外交部長訪團", 8],
    ["108/02/20", "出訪", "日本", "國會議員", "日本議員交流團", 5],
    ["2019-03-01", "國際會議", "瑞士", "官員", "WHA", 3],
    ["2019-03-10", "來訪", "帛琉", "元首", "帛琉總統訪團", 12],
]
VALUES_HEAD = ["指標代碼", "年度", "季別", "實際值", "說明"]
VALUES = [
    ["K4.1", 108, "第1季", 40, "NGO活動"],
    ["K5.1", 108, "第1季", 1100, "觸及人次"],
    ["K4.1", 108, "第2季", 90, ""],
]


def _book(sheet: str, head: list, rows: list[list]) -> bytes:
    return xlsx_bytes({sheet: [head, *rows]})


def _edit(rows: list[list], changes: dict[tuple[int, int], object]) -> list[list]:
    out = [list(r) for r in rows]
    for (i, j), value in changes.items():
        out[i][j] = value
    return out


# (sheet, head, stored rows, corrected rows, k changed rows, new rows) for each dataset kind.
CASES = {
    "budget": (
        "預算執行",
        BUDGET_HEAD,
        BUDGET,
        _edit(BUDGET, {(0, 6): 53000, (3, 6): 25000, (3, 7): 100})
        + [[108, 3, "國際合作及關懷", "經常門", 9605721, 2000000, 1500000, 0]],
        2,
        1,
    ),
    "visa": (
        "簽證",
        VISA_HEAD,
        VISA,
        _edit(VISA, {(1, 5): 870, (2, 7): 5.5, (3, 6): 7})
        + [["108/03", "駐日本代表處", "亞太", "停留簽證", 1300, 1250, 50, 4.0]],
        3,
        1,
    ),
    "visits": (
        "訪問交流",
        VISITS_HEAD,
        VISITS,
        _edit(VISITS, {(1, 5): 7}) + [["108/03/20", "出訪", "美國", "部長", "部長訪美", 6]],
        1,
        1,
    ),
    "kpi_values": (
        "指標填報",
        VALUES_HEAD,
        VALUES,
        _edit(VALUES, {(0, 3): 45, (2, 4): "補充說明"}) + [["K5.1", 108, "第2季", 2600, ""]],
        2,
        1,
    ),
}


def _state(store: Store) -> dict:
    """Everything a preview must leave alone: version, rows, summaries, batches."""
    with store.read() as conn:
        counts = {
            name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar()
            for name, t in ROW_TABLES.items()
        }
        summaries = {
            t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar()
            for t in {s.table for s in rollups.SUMMARIES}
        }
    return {
        "version": store.version(),
        "rows": counts,
        "current": {name: store.count_rows(name) for name in ROW_TABLES},
        "summaries": summaries,
        "batches": [b.id for b in store.batches()],
    }


@pytest.fixture
def eng(store: Store) -> Engine:
    return Engine(store)


@pytest.mark.parametrize("dataset", list(CASES))
def test_a_corrected_workbook_counts_and_lists_exactly_the_rows_it_changes(eng, dataset):
    sheet, head, rows, corrected, k, n_new = CASES[dataset]
    first = eng.import_bytes(_book(sheet, head, rows), f"{dataset}.xlsx")
    assert first.status == "imported", [p.message_zh for p in first.report.errors]
    before = _state(eng.store)

    result = eng.import_bytes(_book(sheet, head, corrected), f"{dataset}_v2.xlsx", dry_run=True)
    assert result.status == "valid"
    changes = result.changes[dataset]
    assert (changes.new, changes.changed, changes.unchanged, changes.removed) == (
        n_new,
        k,
        len(rows) - k,
        0,
    )
    assert result.as_json()["changes"] == {
        "new": n_new,
        "changed": k,
        "unchanged": len(rows) - k,
        "removed": 0,
    }

    pv = eng.preview_import(result.report)
    assert pv.changes[dataset] == changes
    listed = [r for r in pv.rows if r.action == CHANGED]
    assert len(listed) == k and all(r.dataset == dataset and r.fields for r in listed)
    assert _state(eng.store) == before


def test_changed_rows_name_the_fields_with_old_and_new_values(eng):
    sheet, head, rows, corrected, _, _ = CASES["budget"]
    eng.import_bytes(_book(sheet, head, rows), "budget.xlsx")
    report = eng.import_bytes(_book(sheet, head, corrected), "v2.xlsx", dry_run=True).report
    pv = eng.preview_import(report)
    by_program = {dict(r.key)["program"]: r for r in pv.rows}
    assert set(by_program) == {"外交管理業務", "營建工程"}
    first = by_program["外交管理業務"]
    assert dict(first.key) == {
        "year": 108,
        "month": 3,
        "agency": "",
        "program": "外交管理業務",
        "kind": "經常門",
    }
    # Amounts in 千元 are stored (and compared) in NT dollars.
    assert [(f.field, f.old, f.new) for f in first.fields] == [("spent", 52_000_000, 53_000_000)]
    assert [(f.field, f.old, f.new) for f in by_program["營建工程"].fields] == [
        ("spent", 20_000_000, 25_000_000),
        ("payable", 0, 100_000),
    ]


def test_a_visit_changed_lists_its_date_and_a_replaced_quarter_lists_removed_rows(eng):
    sheet, head, rows, _, _, _ = CASES["visits"]
    eng.import_bytes(_book(sheet, head, rows), "visits.xlsx")
    # Q1 again without the Palau visit and with one more participant in Japan.
    again = _edit(rows[:3], {(1, 5): 9})
    report = eng.import_bytes(_book(sheet, head, again), "v2.xlsx", dry_run=True).report
    pv = eng.preview_import(report, replace=True)
    assert pv.changes["visits"].changed == 1 and pv.changes["visits"].removed == 1
    changed = next(r for r in pv.rows if r.action == CHANGED)
    assert dict(changed.key)["date"] == dt.date(2019, 2, 20)
    assert [(f.field, f.old, f.new) for f in changed.fields] == [("participants", 5, 9)]
    removed = next(r for r in pv.rows if r.action == REMOVED)
    assert dict(removed.key)["country"] == "帛琉"


@pytest.mark.parametrize("dataset", list(CASES))
def test_figures_after_equal_the_figures_of_a_real_import(eng, dataset):
    sheet, head, rows, corrected, _, _ = CASES[dataset]
    eng.import_bytes(_book(sheet, head, rows), f"{dataset}.xlsx")
    content = _book(sheet, head, corrected)
    report = eng.import_bytes(content, "v2.xlsx", dry_run=True).report
    pv = eng.preview_import(report)
    assert pv.quarters
    for year, q in pv.quarters:
        assert pv.before[(year, q)].as_json() == eng.status(year, q).as_json()
    assert any(f.changed for f in pv.figures)

    batch = eng.import_bytes(content, "v2.xlsx")
    assert batch.status == "imported"
    for year, q in pv.quarters:
        assert pv.after[(year, q)].as_json() == eng.status(year, q).as_json()


def test_the_indicator_figure_moves_from_before_to_after(eng):
    sheet, head, rows, corrected, _, _ = CASES["kpi_values"]
    eng.import_bytes(_book(sheet, head, rows), "values.xlsx")
    report = eng.import_bytes(_book(sheet, head, corrected), "v2.xlsx", dry_run=True).report
    pv = eng.preview_import(report)
    k41 = next(f for f in pv.figures if (f.year, f.quarter, f.id) == (108, 1, "K4.1"))
    assert (k41.before.actual, k41.after.actual) == (40, 45)
    assert (k41.before.light, k41.after.light) == ("red", "yellow")  # 45 ÷ 50 = 0.90
    k51 = next(f for f in pv.figures if (f.year, f.quarter, f.id) == (108, 2, "K5.1"))
    assert (k51.before.light, k51.after.light, k51.changed) == ("white", "green", True)


def test_a_preview_keeps_the_batch_numbers_and_writes_nothing(eng):
    sheet, head, rows, corrected, _, _ = CASES["visa"]
    first = eng.import_bytes(_book(sheet, head, rows), "visa.xlsx")
    before = _state(eng.store)
    report = eng.import_bytes(_book(sheet, head, corrected), "v2.xlsx", dry_run=True).report
    for _ in range(2):
        eng.preview_import(report)
    assert _state(eng.store) == before
    second = eng.import_bytes(_book(sheet, head, corrected), "v2.xlsx")
    assert second.batch == first.batch + 1

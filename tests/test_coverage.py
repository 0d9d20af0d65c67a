"""資料完整度: which months and quarters hold data, per dataset and per uploaded indicator."""

from __future__ import annotations

import pytest

from kpi.coverage import MISSING, NOT_DUE, PRESENT, coverage, missing, value_indicators
from kpi.engine import Engine
from kpi.store import Store
from tests.workbooks import xlsx_bytes

BUDGET = [
    ["年度", "月份", "工作計畫", "經資門", "預算數", "分配數", "實支數"],
    [108, 1, "外交管理業務", "經常門", 240961, 20000, 15000],
    [108, 3, "外交管理業務", "經常門", 240961, 60000, 52000],
    [108, 5, "外交管理業務", "經常門", 240961, 90000, 80000],
]
VISA = [
    ["年月", "駐外館處", "簽證類別", "申請件數", "核發件數"],
    ["108/02", "駐日本代表處", "停留簽證", 1200, 1150],
]
VISITS = [
    ["日期", "類型", "國家", "層級", "團名"],
    ["108/08/15", "來訪", "巴拉圭", "部長", "巴拉圭外交部長訪團"],
]
VALUES = [
    ["指標代碼", "年度", "季別", "實際值", "說明"],
    ["K5.1", 108, "第1季", 1100, ""],
    ["K4.1", 108, "第1季", None, "只有說明，沒有數值"],
]


@pytest.fixture
def eng(store: Store) -> Engine:
    e = Engine(store)
    for name, rows in {"預算執行": BUDGET, "簽證": VISA, "訪問": VISITS, "指標": VALUES}.items():
        assert e.import_bytes(xlsx_bytes({name: rows}), f"{name}.xlsx").status == "imported"
    return e


def test_coverage_lists_the_months_and_quarters_that_hold_rows(eng):
    cov = coverage(eng.store, eng.catalog, 108)
    assert cov.months == {"budget": (1, 3, 5), "visa": (2,)}
    assert cov.quarters == {"visits": (3,)}
    # A commentary without a value is no value.
    assert cov.values == {"K4.1": (), "K5.1": (1,)}
    assert value_indicators(eng.catalog) == ("K4.1", "K5.1")
    assert coverage(eng.store, eng.catalog, 107).months == {"budget": (), "visa": ()}


def test_an_undone_upload_is_no_longer_covered(eng):
    visa = next(b for b in eng.store.batches() if b.datasets == ("visa",))
    eng.undo(visa.id)
    assert coverage(eng.store, eng.catalog, 108).months["visa"] == ()


def test_the_grid_marks_missing_months_up_to_the_quarter_and_later_ones_not_due(eng):
    cov = coverage(eng.store, eng.catalog, 108)
    budget = cov.month_grid(2)["budget"]
    assert [budget[m] for m in range(1, 8)] == [
        PRESENT,
        MISSING,
        PRESENT,
        MISSING,
        PRESENT,
        MISSING,
        NOT_DUE,
    ]
    quarters = cov.quarter_grid(1)
    assert quarters["visits"] == {1: MISSING, 2: NOT_DUE, 3: PRESENT, 4: NOT_DUE}
    assert quarters["K5.1"][1] == PRESENT and quarters["K4.1"][1] == MISSING


def test_missing_lists_exactly_the_white_lights_with_their_dataset(eng):
    status = eng.status(108, 2)
    gaps = {
        m.id: m for m in missing(eng.catalog, coverage(eng.store, eng.catalog, 108), status.kpis, 2)
    }
    assert set(gaps) == {k.id for k in status.kpis if k.actual is None}
    # June's budget report has not arrived (May's has): K7.x are white for Q2.
    assert gaps["K7.2"].dataset == "budget" and not gaps["K7.2"].arrived
    assert gaps["K5.1"].dataset == "kpi_values" and not gaps["K5.1"].arrived
    assert "K6.1" in gaps and gaps["K6.1"].dataset == "visa"

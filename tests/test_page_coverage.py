"""資料完整度 page (AppTest from dashboard.py): the month/quarter grid shows what has not
arrived, the quarter's indicators without a value are listed, and every white light links here."""

from __future__ import annotations

import pytest

from kpi.i18n import EN
from tests.app_helpers import app_store, errors, open_page, store_url

PAGE = "pages/coverage.py"


@pytest.fixture(scope="module")
def eng(tmp_path_factory):
    with app_store(store_url(tmp_path_factory, sample=True)) as engine:
        # The second quarter's visa report goes missing: April to June have no visa rows.
        visa_q2 = next(b for b in engine.store.batches() if "108Q2_visa" in b.file_name)
        engine.undo(visa_q2.id)
        yield engine


def _table(at, column: str):
    return next(df.value for df in at.dataframe if column in df.value.columns)


def _links(at) -> list[tuple[str, str]]:
    return [(e.proto.page, e.proto.label) for e in at.get("page_link")]


def test_a_missing_month_shows_as_missing_and_its_indicators_as_white(eng):
    at = open_page(PAGE, quarter=2)
    assert errors(at) == []
    months = _table(at, "1月").set_index("資料類別")
    visa = months.loc["簽證"]
    assert [visa[f"{m}月"] for m in range(1, 13)] == ["✅"] * 3 + ["❌ 缺"] * 3 + ["✅"] * 6
    assert set(months.loc["預算執行"][[f"{m}月" for m in range(1, 7)]]) == {"✅"}
    quarters = _table(at, "第1季").set_index("資料類別")
    assert list(quarters.loc["訪問交流"]) == ["✅"] * 4
    assert list(quarters.loc["K4.1 協助NGO參與國際活動場次"]) == ["✅"] * 4

    gaps = _table(at, "狀況")
    assert list(gaps["代碼"]) == ["K6.1", "K6.2", "K6.3"]
    assert set(gaps["資料來源"]) == {"簽證"}
    assert set(gaps["狀況"]) == {"本季尚未上傳「簽證」資料"}
    assert {k.id for k in eng.status(108, 2).kpis if k.light == "white"} == set(gaps["代碼"])


def test_a_complete_quarter_says_so(eng):
    at = open_page(PAGE, quarter=1)
    assert errors(at) == []
    assert any("每項指標都有數值" in s.value for s in at.success)
    assert not [df for df in at.dataframe if "狀況" in df.value.columns]


def test_the_page_in_english(eng):
    at = open_page(PAGE, lang=EN, quarter=2)
    assert errors(at) == []
    assert at.title[0].value == "Data completeness"
    months = _table(at, "M1").set_index("Dataset")
    assert months.loc["Visas"]["M4"] == "❌ missing"


@pytest.mark.parametrize("page", ["pages/overview.py", "pages/goals.py"])
def test_a_white_light_links_to_the_completeness_page(eng, page):
    at = open_page(page, quarter=2, goal="G6")
    assert errors(at) == []
    assert ("coverage", "查看資料完整度") in _links(at)
    # No white light, no link.
    at = open_page(page, quarter=1, goal="G6")
    assert errors(at) == []
    assert ("coverage", "查看資料完整度") not in _links(at)

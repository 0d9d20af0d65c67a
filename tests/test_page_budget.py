"""The budget page (AppTest through dashboard.py): what it shows equals what the engine computes."""

from __future__ import annotations

import json

import pytest

from kpi import views
from kpi.i18n import fmt_percent
from pages.common import md_escape
from tests.app_helpers import app_store, errors, open_page, store_url
from tests.workbooks import xlsx_bytes

PAGE = "pages/budget.py"
ZH_STATE = {"lang": "zh-TW", "year": 108, "quarter": 2, "programs": []}
MARKUP = "<b>粗</b>*機密*計畫"


@pytest.fixture(scope="module")
def eng(tmp_path_factory):
    """The app and the assertions on one copy of the sample year, for this module."""
    with app_store(store_url(tmp_path_factory, sample=True)) as engine:
        yield engine


def show(**state):
    """The budget page through dashboard.py (its sidebar ran), with no exception or error."""
    at = open_page(PAGE, **{**ZH_STATE, **state})
    assert errors(at) == []
    assert at.sidebar.selectbox, "dashboard.py's sidebar did not run"
    return at


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def kpi(eng, kpi_id: str, quarter: int, programs: tuple[str, ...] = ()):
    return next(k for k in eng.status(108, quarter, programs).kpis if k.id == kpi_id)


def test_rates_projection_and_table_equal_the_engine(eng):
    at = show()
    assert at.title[0].value == "預算執行"
    assert any("資料月份：108年6月" in c.value for c in at.caption)
    shown = metrics(at)
    assert shown["分配預算執行率"] == fmt_percent(kpi(eng, "K7.2", 2).actual)
    assert shown["資本門執行率"] == fmt_percent(kpi(eng, "K7.1", 2).actual)
    by_month = views.budget_by_month(eng.store, 108)
    assert shown["預估年底執行率"] == fmt_percent(
        views.year_end_projection(by_month[by_month["month"] <= 6])["total"]
    )

    table = at.dataframe[-1].value
    items = views.budget_by_program(eng.store, 108, 6)
    rows = table.merge(
        items, left_on=["工作計畫", "經資門"], right_on=["program", "kind"], validate="one_to_one"
    )
    assert len(rows) == len(items)
    assert rows["執行率（%）"].to_numpy() == pytest.approx(
        (rows["executed"] / rows["allotted"] * 100).to_numpy(), nan_ok=True
    )
    assert rows["累計分配數（千元）"].to_numpy() == pytest.approx(
        (rows["allotted"] / 1000).to_numpy()
    )
    # With no filter every row of the ministry counts, also programs outside the plan.
    assert {"一般行政", "第一預備金"} <= set(table["工作計畫"])
    total = table[table["工作計畫"] == "合計"].iloc[0]
    assert total["執行率（%）"] == pytest.approx(kpi(eng, "K7.2", 2).actual * 100)
    assert total["預算數（千元）"] == pytest.approx(items["budget"].sum() / 1000)
    # Every chart and table has its Excel and CSV download.
    assert len(at.download_button) == 2 * 4


def test_program_filter_restricts_the_budget_rows(eng):
    at = show(programs=["領事事務管理"])
    table = at.dataframe[-1].value
    assert set(table["工作計畫"]) == {"領事事務管理", "合計"}
    k72 = kpi(eng, "K7.2", 2, ("領事事務管理",)).actual
    assert metrics(at)["分配預算執行率"] == fmt_percent(k72)
    assert table.loc[table["工作計畫"] == "合計", "執行率（%）"].iloc[0] == pytest.approx(k72 * 100)
    assert any("範圍：領事事務管理" in c.value for c in at.caption)


def test_english_labels_and_ad_years(eng):
    at = show(lang="en", quarter=1)
    assert at.title[0].value == "Budget execution"
    assert any("Mar 2019 (2019 Q1" in c.value for c in at.caption)
    assert metrics(at)["Budget execution rate"] == fmt_percent(kpi(eng, "K7.2", 1).actual)
    table = at.dataframe[-1].value
    assert list(table.columns) == [
        "Work program",
        "Current/capital",
        "Budget (NT$ thousand)",
        "Allotted to date (NT$ thousand)",
        "Executed (NT$ thousand)",
        "Execution rate (%)",
    ]
    assert {"Current", "Capital", "Subtotal"} <= set(table["Current/capital"])


def test_empty_store_then_a_report_short_of_the_quarter_end(tmp_path_factory):
    with app_store(store_url(tmp_path_factory, sample=False)) as empty:
        at = show()
        assert any("108年尚無預算執行資料" in i.value for i in at.info)
        assert not at.dataframe and not at.metric

        # Only May has been reported by the end of Q2: the page says so and shows May. One
        # program name is markup; it is shown as written, never run as Markdown or HTML.
        head = [
            "年度",
            "月份",
            "工作計畫",
            "經資門",
            "預算數",
            "累計分配數",
            "累計實支數",
            "應付未付數",
        ]
        sheet = [
            head,
            [108, 5, "外交管理業務", "經常門", 1200, 500, 430, 20],
            [108, 5, MARKUP, "資本門", 300, 100, 40, None],
        ]
        assert empty.import_bytes(xlsx_bytes({"預算": sheet}), "may.xlsx").status == "imported"
        at.run()  # the same session: figures are cached by store version, so the import shows
        assert errors(at) == []
    assert any("108年5月" in w.value and "108年6月" in w.value for w in at.warning)
    assert metrics(at)["分配預算執行率"] == fmt_percent(490 / 600)
    assert metrics(at)["資本門執行率"] == fmt_percent(0.4)
    table = at.dataframe[-1].value
    assert table.loc[table["工作計畫"] == "合計", "執行數（千元）"].iloc[0] == pytest.approx(490)
    assert MARKUP in set(table["工作計畫"])
    assert any(md_escape(MARKUP) in c.value for c in at.caption)
    spec = json.loads(at.get_by_key("budget_rates").proto.spec)
    assert "&lt;b&gt;粗&lt;/b&gt;*機密*計畫" in {x for trace in spec["data"] for x in trace["x"]}

"""The work program page (AppTest): linked indicators, budget by 經資門, plan items and actions."""

from __future__ import annotations

from kpi import views
from kpi.i18n import fmt_percent, fmt_thousands, fmt_value
from pages.common import md_escape
from tests import test_page_overview as shared

YEAR = 108
# The page tests share their stores, engine and app runner (fixtures of test_page_overview.py).
page_stores, eng, open_page = shared.page_stores, shared.eng, shared.open_page

PAGE = "pages/programs.py"
CONSULAR = "領事事務管理"
MEETINGS = "國際會議及交流"


def test_the_filtered_program_its_indicators_and_budget(open_page, eng):
    at = open_page(PAGE, year=YEAR, quarter=4, programs=[CONSULAR])
    assert at.selectbox(key="program_pick").value == CONSULAR
    assert at.selectbox(key="program_pick").options == [CONSULAR]
    assert at.query_params["program"] == CONSULAR

    now = eng.status(YEAR, 4, (CONSULAR,))
    linked = [i.id for i in eng.catalog.for_programs((CONSULAR,))]
    assert linked == ["K6.1", "K6.2", "K6.3", "K7.1", "K7.2"]
    table = at.table[0].value
    assert list(table.iloc[:, 0]) == linked
    formats = {i: eng.catalog.indicator(i).format for i in linked}
    assert list(table.iloc[:, 3]) == [fmt_value(k.actual, formats[k.id]) for k in now.kpis]

    month = views.report_month(eng.store, YEAR, 4)
    budget = views.budget_by_program(eng.store, YEAR, month, (CONSULAR,))
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["年度預算數（千元）"] == fmt_thousands(budget["budget"].sum())
    assert metrics["累計分配數（千元）"] == fmt_thousands(budget["allotted"].sum())
    assert metrics["累計執行數（千元）"] == fmt_thousands(budget["executed"].sum())
    rate = budget["executed"].sum() / budget["allotted"].sum()
    assert metrics["執行率"] == fmt_percent(rate)
    # The same figure by two roads: K7.2 under this program's filter is its execution rate.
    assert metrics["執行率"] == fmt_percent(next(k.actual for k in now.kpis if k.id == "K7.2"))
    rows = at.table[1].value
    assert list(rows.iloc[:, 0]) == ["經常門", "資本門", "合計"]
    assert any("單位：新臺幣千元" in c.value for c in at.caption)


def test_plan_items_actions_and_sub_items_as_written(open_page, eng):
    at = open_page(PAGE, year=YEAR, quarter=2, query={"program": MEETINGS})
    assert at.selectbox(key="program_pick").value == MEETINGS
    program = eng.plan(YEAR).program(MEETINGS)
    labels = [e.label for e in at.expander]
    assert [label.split("　")[0] for label in labels] == [md_escape(i.name) for i in program.items]
    text = "\n".join(m.value for m in at.markdown)
    actions = [a for item in program.items for a in item.actions]
    assert any(a.sub_items for a in actions)
    for a in actions:
        assert md_escape(a.text) in text
        for sub in a.sub_items:
            assert f"- {md_escape(sub)}" in text


def test_the_program_follows_the_selectbox_in_english(open_page):
    at = open_page(PAGE, year=YEAR, quarter=4, lang="en")
    assert at.selectbox(key="program_pick").value == "外交管理業務"
    at.selectbox(key="program_pick").select(MEETINGS).run()
    assert not at.exception
    assert at.session_state["program"] == MEETINGS
    assert at.query_params["program"] == MEETINGS
    assert "Annual budget (NT$ thousand)" in {m.label for m in at.metric}
    assert list(at.table[1].value.iloc[:, 0]) == ["Current", "Capital", "Total"]


def test_an_empty_store_lists_the_plan_and_says_there_is_no_data(open_page, eng):
    at = open_page(PAGE, store="empty")
    assert any("尚無任何執行資料" in i.value for i in at.info)
    assert not at.metric
    assert not at.table
    first = eng.plan(YEAR).programs[0]
    assert len(at.expander) == len(first.items)

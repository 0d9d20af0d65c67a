"""The goal page (AppTest): strategies as planned, the year-to-date trends, the commentary."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from kpi.figures import indicator_grid
from kpi.i18n import fmt_percent, fmt_value
from pages.common import md_escape
from tests import test_page_overview as shared

YEAR = 108
# The page tests share their stores, engine and app runner (fixtures of test_page_overview.py).
page_stores, eng, open_page = shared.page_stores, shared.eng, shared.open_page

PAGE = "pages/goals.py"


def charts(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def test_the_chosen_goal_its_strategies_trends_tables_and_commentary(open_page, eng):
    at = open_page(PAGE, year=YEAR, quarter=3, goal="G6")
    goal = eng.plan(YEAR).goal("G6")
    assert at.selectbox(key="goal_pick").value == "G6"
    assert at.query_params["goal"] == "G6"
    strategies = "\n".join(f"- **{s.id}**　{md_escape(s.title)}" for s in goal.strategies)
    assert strategies in [m.value for m in at.markdown]

    grid = [k for k in indicator_grid(eng.store, eng.catalog, YEAR) if k.goal == "G6"]
    ids = list(dict.fromkeys(k.id for k in grid))
    assert ids == ["K6.1", "K6.2", "K6.3"]
    figures = charts(at)
    assert len(figures) == len(ids)
    for ind_id, fig, table in zip(ids, figures, at.table, strict=True):
        ind = eng.catalog.indicator(ind_id)
        rows = sorted((k for k in grid if k.id == ind_id), key=lambda k: k.quarter)
        scale = 100 if ind.format == "percent" else 1
        target, actual, projection = fig["data"]
        # Q3: a dashed line from Q3's actual to the year-end projection at Q4.
        now = rows[2]
        assert projection["line"]["dash"] == "dash"
        assert projection["x"] == ["第3季", "第4季"]
        assert projection["y"] == pytest.approx([now.actual * scale, now.projection * scale])
        assert actual["y"] == pytest.approx([k.actual * scale for k in rows])
        assert target["y"] == pytest.approx([k.target * scale for k in rows])
        assert fig["layout"]["yaxis"].get("ticksuffix", "") == (
            "%" if ind.format == "percent" else ""
        )
        shown = table.value
        assert list(shown.iloc[:, 1]) == [fmt_value(k.actual, ind.format) for k in rows]
        assert list(shown.iloc[:, 3]) == [fmt_percent(k.achievement) for k in rows]
    # Every quarter's commentary, as plain text, in indicator then quarter order.
    assert [t.value for t in at.text] == [k.note for i in ids for k in grid if k.id == i and k.note]


def test_the_goal_comes_from_the_url_and_follows_the_selectbox(open_page):
    at = open_page(PAGE, year=YEAR, quarter=2, query={"goal": "G5"})
    assert at.selectbox(key="goal_pick").value == "G5"
    at.selectbox(key="goal_pick").select("G2").run()
    assert not at.exception
    assert at.session_state["goal"] == "G2"
    assert at.query_params["goal"] == "G2"
    assert at.subheader[0].value.endswith("G2　" + md_escape("強化我與無邦交國家實質關係"))


def test_english(open_page):
    at = open_page(PAGE, year=YEAR, quarter=4, goal="G7", lang="en")
    assert at.title[0].value == "Goals"
    assert at.caption[0].value.startswith("2019 Q4")
    assert charts(at)[0]["data"][1]["name"] == "Actual (YTD)"


def test_a_program_filter_keeps_only_its_indicators(open_page):
    at = open_page(PAGE, year=YEAR, quarter=4, goal="G1", programs=["領事事務管理"])
    assert any("沒有與所選工作計畫相關" in i.value for i in at.info)
    at.selectbox(key="goal_pick").select("G6").run()
    assert not at.exception
    assert len(charts(at)) == 3


def test_an_empty_store_shows_the_strategies_and_says_there_is_no_data(open_page, eng):
    at = open_page(PAGE, store="empty", goal="G2")
    assert any("尚無任何執行資料" in i.value for i in at.info)
    assert len(eng.plan(YEAR).goal("G2").strategies) == 5
    assert sum(m.value.count("- **G2.S") for m in at.markdown) == 5
    assert not charts(at)


def test_each_indicator_chart_draws_its_projection_to_year_end(open_page, eng):
    at = open_page(PAGE, year=YEAR, quarter=2, goal="G6", lang="en")
    grid = [k for k in indicator_grid(eng.store, eng.catalog, YEAR) if k.goal == "G6"]
    for ind_id, fig in zip(("K6.1", "K6.2", "K6.3"), charts(at), strict=True):
        ind = eng.catalog.indicator(ind_id)
        scale = 100 if ind.format == "percent" else 1
        q2 = next(k for k in grid if k.id == ind_id and k.quarter == 2)
        assert q2.projection is not None
        dashed = [d for d in fig["data"] if d["line"].get("dash") == "dash"]
        assert len(dashed) == 1
        line = dashed[0]
        assert line["name"] == "Year-end projection"
        assert line["x"] == ["Q2", "Q4"]
        assert line["y"][-1] == pytest.approx(q2.projection * scale)
        assert line["y"][0] == pytest.approx(q2.actual * scale)
    # The additive K6.1 at Q2, against the plan's pace: actual ÷ Q2 target × annual target.
    k61 = next(k for k in grid if k.id == "K6.1" and k.quarter == 2)
    assert k61.projection == pytest.approx(k61.actual / k61.target * k61.annual_target)
    captions = [c.value for c in at.caption]
    assert any(
        "at the pace of the plan's quarterly targets" in c
        and fmt_value(k61.projection, "count") in c
        and f"{fmt_value(k61.needed_per_quarter, 'count')} is needed in each remaining quarter" in c
        for c in captions
    )


def test_no_projection_line_at_q4(open_page):
    # At year end the projection is the actual: there is nothing left to draw.
    at = open_page(PAGE, year=YEAR, quarter=4, goal="G6")
    for fig in charts(at):
        assert [d["line"].get("dash") for d in fig["data"]] == ["dot", None]

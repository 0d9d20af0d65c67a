"""The overview page (AppTest): the engine's figures, the red lights' commentary, a click to a goal."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from streamlit.proto.Metric_pb2 import Metric
from streamlit.testing.v1 import AppTest

from kpi.engine import Engine
from kpi.i18n import fmt_percent, fmt_value
from kpi.paths import ROOT
from kpi.store import Store
from tests.workbooks import xlsx_bytes

YEAR = 108
PAGE = "pages/overview.py"


def copy_sqlite(source: Path, target: Path) -> None:
    """A consistent copy of a SQLite store (WAL included), through SQLite's backup API."""
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


@pytest.fixture(scope="module")
def page_stores(tmp_path_factory) -> dict[str, str]:
    """A store with the sample year and one that never had data, for one test module.

    The sample year is loaded once per test process and copied (loading it is the slow part);
    the page tests of tests/test_page_goals.py and tests/test_page_programs.py share this.
    """
    built = tmp_path_factory.getbasetemp() / "pages_sample.sqlite3"
    if not built.exists():
        store = Store(f"sqlite:///{built}")
        Engine(store).first_run()
        store.dispose()
    tmp = tmp_path_factory.mktemp("pages")
    copy_sqlite(built, tmp / "sample.sqlite3")
    empty = Store(f"sqlite:///{tmp / 'empty.sqlite3'}")
    empty.claim_meta("initialised", "tests")  # so the app's first start loads no sample
    empty.dispose()
    return {
        "sample": f"sqlite:///{tmp / 'sample.sqlite3'}",
        "empty": f"sqlite:///{tmp / 'empty.sqlite3'}",
    }


@pytest.fixture(scope="module")
def eng(page_stores) -> Iterator[Engine]:
    """The engine the assertions compare the page with: the sample store's."""
    engine = Engine(Store(page_stores["sample"]))
    yield engine
    engine.store.dispose()


@pytest.fixture
def open_page(page_stores, monkeypatch):
    """Run dashboard.py on a store ("sample", "empty" or a URL) with the given session state and
    query parameters, then switch to a page."""

    def run(
        page: str, store: str = "sample", query: dict[str, str] | None = None, **state
    ) -> AppTest:
        monkeypatch.setenv("KPI_DATABASE_URL", page_stores.get(store, store))
        # One engine per process (st.cache_resource) and figures cached by store version.
        st.cache_resource.clear()
        st.cache_data.clear()
        at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=90)
        for key, value in state.items():
            at.session_state[key] = value
        for key, value in (query or {}).items():
            at.query_params[key] = value
        at.run()
        at.switch_page(page).run()
        assert not at.exception
        assert not at.error, [e.value for e in at.error]
        return at

    yield run
    st.cache_resource.clear()
    st.cache_data.clear()


def metric_values(at: AppTest) -> dict[str, Metric]:
    return {m.label: m.proto for m in at.metric}


def test_cards_show_the_engines_actuals_and_changes(open_page, eng):
    at = open_page(PAGE, year=YEAR, quarter=3)
    now = eng.status(YEAR, 3)
    cards = metric_values(at)
    assert [m.body for m in cards.values()] == [
        fmt_value(k.actual, eng.catalog.indicator(k.id).format) for k in now.kpis
    ]
    assert list(cards) == [k.name_zh for k in now.kpis]
    # Lower is better (K6.3, days): a fall is good news and shows green; a fall in the budget
    # execution rate (K7.2) is bad news and shows red. Percent changes are in percentage points.
    days = eng.catalog.indicator("K6.3")
    assert days.direction == "lower"
    k63 = next(k for k in now.kpis if k.id == "K6.3")
    assert k63.change < 0
    assert cards[days.name_zh].color == Metric.MetricColor.GREEN
    k72 = next(k for k in now.kpis if k.id == "K7.2")
    assert k72.change < 0
    assert cards[k72.name_zh].color == Metric.MetricColor.RED
    assert cards[k72.name_zh].delta == f"-{abs(k72.change) * 100:,.1f} 百分點"


def test_goals_and_the_red_lights_with_their_commentary(open_page, eng):
    at = open_page(PAGE, year=YEAR, quarter=3)
    now = eng.status(YEAR, 3)
    text = "\n".join(m.value for m in at.markdown)
    for g in now.goals:
        assert f"**{g.id}**" in text
        assert fmt_percent(g.achievement) in text
    assert [b.key for b in at.button if b.key.startswith("open_")] == [
        f"open_{g.id}" for g in now.goals
    ]
    reds = [k for k in now.kpis if k.light == "red"]
    assert reds, "the sample year has red lights in Q3"
    # Commentary is shown as plain text (st.text), exactly as uploaded: one per red light, then
    # one per indicator at risk (the early warning beside them).
    at_risk = [k for k in now.kpis if k.at_risk]
    assert [t.value for t in at.text] == [k.note for k in reds] + [
        k.note or "（未填報說明）" for k in at_risk
    ]
    for k in reds:
        assert f"**{k.id}　{k.name_zh}**" in text


def test_a_goal_button_opens_its_goal_page(open_page, eng):
    at = open_page(PAGE, year=YEAR, quarter=3)
    at.button(key="open_G3").click().run()
    assert not at.exception
    assert at.session_state["goal"] == "G3"
    assert at.selectbox(key="goal_pick").value == "G3"
    goal = eng.plan(YEAR).goal("G3")
    assert any(goal.strategies[0].id in m.value for m in at.markdown)
    # The quarter chosen in the sidebar survives the switch.
    assert at.session_state["quarter"] == 3


def test_english_labels_and_ad_years(open_page, eng):
    at = open_page(PAGE, year=YEAR, quarter=2, lang="en")
    assert at.title[0].value == "Performance overview"
    assert at.caption[0].value.startswith("2019 Q2")
    now = eng.status(YEAR, 2)
    assert list(metric_values(at)) == [k.name_en for k in now.kpis]


def test_a_program_filter_keeps_its_indicators_and_goals(open_page, eng):
    at = open_page(PAGE, year=YEAR, quarter=1, programs=["領事事務管理"])
    now = eng.status(YEAR, 1, ("領事事務管理",))
    assert [k.id for k in now.kpis] == ["K6.1", "K6.2", "K6.3", "K7.1", "K7.2"]
    assert [m.proto.body for m in at.metric] == [
        fmt_value(k.actual, eng.catalog.indicator(k.id).format) for k in now.kpis
    ]
    assert sorted(b.key for b in at.button if b.key.startswith("open_")) == ["open_G6", "open_G7"]
    assert [t.value for t in at.text] == [k.note for k in now.kpis if k.light == "red"] + [
        k.note or "（未填報說明）" for k in now.kpis if k.at_risk
    ]


def test_an_empty_store_says_there_is_no_data_yet(open_page):
    at = open_page(PAGE, store="empty")
    assert any("尚無任何執行資料" in i.value for i in at.info)
    assert not at.metric


def test_commentary_is_shown_as_text_never_as_markup(open_page, page_stores, tmp_path):
    url = f"sqlite:///{tmp_path / 'hostile.sqlite3'}"
    copy_sqlite(
        Path(page_stores["sample"].removeprefix("sqlite:///")), tmp_path / "hostile.sqlite3"
    )
    note = "<img src=x onerror=alert(1)> **不是粗體** [連結](javascript:alert(1))"
    sheet = [["指標代碼", "年度", "季別", "實際值", "說明"], ["K4.1", YEAR, "第3季", 10, note]]
    store = Store(url)
    result = Engine(store).import_bytes(xlsx_bytes({"指標填報": sheet}), "hostile.xlsx")
    store.dispose()
    assert result.status == "imported", result.as_json()
    at = open_page(PAGE, store=url, year=YEAR, quarter=3)
    assert note in [t.value for t in at.text]
    assert not any("<img" in m.value for m in at.markdown)


def last_year_visas(issued_by_month: dict[int, int]) -> pd.DataFrame:
    """Visa rows of the year before the sample year (107), one mission and type."""
    rows = [
        (YEAR - 1, m, "駐日本代表處", "亞太", "停留簽證", n, n, 0, None)
        for m, n in issued_by_month.items()
    ]
    cols = ["year", "month", "mission", "region", "visa_type", "applications", "issued"]
    frame = pd.DataFrame(rows, columns=[*cols, "refused", "avg_days"])
    frame["avg_days"] = frame["avg_days"].astype(float)
    return frame


def test_the_early_warning_lists_indicators_at_risk_beside_the_red_ones(
    open_page, page_stores, tmp_path
):
    # Last year issued 90% of its visas by Q3: at that season, K6.1 (green at Q3) would end
    # the year well short of its annual target, so it is at risk while its light is green.
    copy_sqlite(Path(page_stores["sample"].removeprefix("sqlite:///")), tmp_path / "s.sqlite3")
    url = f"sqlite:///{tmp_path / 's.sqlite3'}"
    store = Store(url)
    store.import_frames(
        {"visa": last_year_visas({1: 30_000, 6: 30_000, 9: 30_000, 12: 10_000})},
        file_name="visa107.xlsx",
        content=b"visa107",
    )
    engine = Engine(store)
    now = engine.status(YEAR, 3)
    store.dispose()
    k61 = next(k for k in now.kpis if k.id == "K6.1")
    assert (k61.light, k61.projection_method, k61.at_risk) == ("green", "seasonal", True)
    at_risk = [k for k in now.kpis if k.at_risk]
    reds = [k for k in now.kpis if k.light == "red"]
    assert k61 in at_risk and k61 not in reds

    at = open_page(PAGE, store=url, year=YEAR, quarter=3)
    heads = [h.value for h in at.subheader]
    red = heads.index("本季紅燈指標及說明")
    assert heads[red + 1] == "預警：預估年底未達標的指標"
    text = "\n".join(m.value for m in at.markdown)
    for k in at_risk:
        assert f"⚠️ **{k.id}　{k.name_zh}**" in text
    captions = [c.value for c in at.caption]
    k61_line = next(c for c in captions if "依去年同季占全年比例推估" in c)
    assert fmt_value(k61.projection, "count") in k61_line
    assert fmt_percent(k61.projected_achievement) in k61_line
    assert f"其餘各季平均每季尚需 {fmt_value(k61.needed_per_quarter, 'count')}" in k61_line
    # Commentary as plain text: the red lights', then the indicators' at risk.
    assert [t.value for t in at.text] == [k.note or "（未填報說明）" for k in reds] + [
        k.note or "（未填報說明）" for k in at_risk
    ]


def test_no_indicator_at_risk_says_so(open_page, eng):
    at = open_page(PAGE, year=YEAR, quarter=4)
    now = eng.status(YEAR, 4)
    assert not any(k.at_risk for k in now.kpis), "the sample year ends with no red light"
    assert any("沒有指標預估年底未達黃燈門檻" in s.value for s in at.success)

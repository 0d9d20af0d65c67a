"""The visits page (AppTest through dashboard.py): counts, allies by the visit date, search."""

from __future__ import annotations

import datetime as dt
import io

import pandas as pd
import pytest

from kpi import views
from kpi.i18n import fmt_number
from tests.app_helpers import app_store, errors, open_page, store_url
from tests.workbooks import xlsx_bytes

PAGE = "pages/visits.py"
ZH_STATE = {"lang": "zh-TW", "year": 108, "quarter": 4, "programs": [], "visits_search": ""}
HOSTILE = "<b>粗體</b> **強調** [連結](javascript:alert(1))"


@pytest.fixture(scope="module")
def eng(tmp_path_factory):
    """The sample year plus one visit whose delegation is markup (it must stay text)."""
    with app_store(store_url(tmp_path_factory, sample=True)) as engine:
        sheet = [
            ["日期", "類型", "國家", "層級", "團名"],
            [dt.date(2019, 12, 30), "來訪", "巴拉圭", "部長", HOSTILE],
        ]
        assert engine.import_bytes(xlsx_bytes({"訪問": sheet}), "hostile.xlsx").status == "imported"
        yield engine


def show(**state):
    """The visits page through dashboard.py (its sidebar ran), with no exception or error."""
    at = open_page(PAGE, **{**ZH_STATE, **state})
    assert errors(at) == []
    assert at.sidebar.selectbox, "dashboard.py's sidebar did not run"
    return at


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def kpi(eng, kpi_id: str, quarter: int):
    return next(k for k in eng.status(108, quarter).kpis if k.id == kpi_id)


def test_counts_and_indicators_equal_the_engine(eng):
    at = show(quarter=2)
    visits = views.visits(eng.store, 108)
    visits = visits[visits["quarter"] <= 2]
    shown = metrics(at)
    assert shown["來訪"] == fmt_number((visits["type"] == "來訪").sum())
    assert shown["國際會議"] == fmt_number((visits["type"] == "國際會議").sum())
    assert shown["訪問交流合計"] == fmt_number(len(visits))
    for kpi_id in ("K1.1", "K2.1", "K3.1"):
        k = kpi(eng, kpi_id, 2)
        assert shown[k.name_zh] == fmt_number(k.actual)
    assert any("108年第1季至108年第2季" in c.value for c in at.caption)
    assert len(at.dataframe[-1].value) == len(visits)
    # Four charts' data are downloads at once; the list of visits is written on request.
    assert len(at.download_button) == 2 * 4
    at.button(key="dl_table_prepare").click().run()
    assert len(at.download_button) == 2 * 5
    _, csv = at.session_state["_download_dl_table"][1]
    assert len(pd.read_csv(io.BytesIO(csv), encoding="utf-8-sig")) == len(visits)


def test_table_shows_allies_by_the_visit_date_and_markup_as_text(eng):
    at = show()
    table = at.dataframe[-1].value
    visits = views.visits(eng.store, 108)
    assert len(table) == len(visits)
    assert table["邦交國"].sum() == visits["ally"].sum()
    solomons = table[table["國家"] == "索羅門群島"]
    before = solomons["日期"] < "108/09/16"
    assert solomons.loc[before, "邦交國"].all() and not solomons.loc[~before, "邦交國"].any()
    assert table["日期"].iloc[0].startswith("108/01/")
    # Uploaded text is shown as written, in the table only, never as Markdown or HTML.
    assert HOSTILE in set(table["團名"])
    assert not any("粗體" in m.value for m in at.markdown)


def test_search_filters_by_delegation_or_country_in_either_language(eng):
    visits = views.visits(eng.store, 108)
    want = visits[
        (visits["country"] == "巴拉圭") | visits["delegation"].fillna("").str.contains("巴拉圭")
    ]
    at = show(visits_search="巴拉圭")
    table = at.dataframe[-1].value
    assert len(table) == len(want) > 1
    assert any(f"符合 {len(want)} 筆" in c.value for c in at.caption)
    at = show(lang="en", visits_search="paraguay")
    table = at.dataframe[-1].value
    assert set(table["Country"]) == {"Paraguay"}
    assert len(table) >= (want["country"] == "巴拉圭").sum()
    assert table["Date"].iloc[0].startswith("2019-")


def test_english_and_the_program_filter_note(eng):
    at = show(lang="en", quarter=3, programs=["國際會議及交流"])
    assert at.title[0].value == "Visits and exchanges"
    assert any("restricts budget rows only" in c.value for c in at.caption)
    assert any("2019 Q1 to 2019 Q3" in c.value for c in at.caption)
    k = kpi(eng, "K1.1", 3)
    assert metrics(at)[k.name_en] == fmt_number(k.actual)
    table = at.dataframe[-1].value
    assert {"Inbound visit", "Outbound visit", "International meeting"} == set(table["Type"])


def test_empty_store(tmp_path_factory):
    with app_store(store_url(tmp_path_factory, sample=False)):
        at = show()
    assert any("尚無訪問交流資料" in i.value for i in at.info)
    assert not at.metric and not at.dataframe


def test_a_long_list_shows_its_first_rows_and_search_narrows_it(tmp_path_factory):
    from kpi import sample

    frame = sample.visits_frame(n=1500)  # the store derives year and month from the date
    with app_store(store_url(tmp_path_factory, sample=False)) as engine:
        engine.store.import_frames({"visits": frame}, file_name="v.xlsx", content=b"v")
        at = show(quarter=4)
        assert len(at.dataframe[-1].value) == 1000
        assert any("顯示前 1,000 筆" in c.value for c in at.caption)
        country = frame["country"].value_counts().index[-1]
        at.text_input(key="visits_search").input(country).run()
        shown = at.dataframe[-1].value
        want = frame[frame["country"] == country]
        assert len(shown) >= len(want) and len(shown) < 1000
        assert not any("顯示前" in c.value for c in at.caption)

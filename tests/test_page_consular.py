"""The consular page (AppTest through dashboard.py): its figures equal K6.1–K6.3 and the views."""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import openpyxl
import pandas as pd
import pytest

from kpi import views
from kpi.i18n import fmt_number, fmt_percent
from tests.app_helpers import app_store, errors, open_page, store_url

PAGE = "pages/consular.py"
ZH_STATE = {"lang": "zh-TW", "year": 108, "quarter": 2, "programs": []}


@pytest.fixture(scope="module")
def eng(tmp_path_factory):
    with app_store(store_url(tmp_path_factory, sample=True)) as engine:
        yield engine


def show(**state):
    """The consular page through dashboard.py (its sidebar ran), with no exception or error."""
    at = open_page(PAGE, **{**ZH_STATE, **state})
    assert errors(at) == []
    assert at.sidebar.selectbox, "dashboard.py's sidebar did not run"
    return at


def plotly_values(data) -> np.ndarray:
    """A trace's numbers from a figure spec: a list, or Plotly's base64 typed array."""
    if isinstance(data, dict):
        return np.frombuffer(base64.b64decode(data["bdata"]), dtype=data["dtype"])
    return np.asarray(data, dtype=float)


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def kpi(eng, kpi_id: str, quarter: int):
    return next(k for k in eng.status(108, quarter).kpis if k.id == kpi_id)


def test_headline_figures_equal_the_indicators(eng):
    at = show()
    assert at.title[0].value == "領事服務"
    assert any("108年1月至6月" in c.value for c in at.caption)
    shown = metrics(at)
    assert shown["簽證核發件數"] == fmt_number(kpi(eng, "K6.1", 2).actual)
    assert shown["電子簽證核發占比"] == fmt_percent(kpi(eng, "K6.2", 2).actual)
    assert shown["平均簽證處理天數"] == fmt_number(kpi(eng, "K6.3", 2).actual, 2)
    assert [m.delta for m in at.metric][:2] == ["目標 250,000", "目標 30.0%"]


def test_table_and_charts_data(eng):
    at = show()
    table = at.dataframe[-1].value
    assert table["核發件數"].sum() == pytest.approx(kpi(eng, "K6.1", 2).actual)
    detail = views.visa_by_mission_type(eng.store, 108, 6)
    assert len(table) == len(detail)
    row = table[(table["駐外館處"] == "領事事務局") & (table["簽證類別"] == "電子簽證")].iloc[0]
    want = detail[(detail["mission"] == "領事事務局") & (detail["visa_type"] == "電子簽證")].iloc[0]
    assert row["平均處理天數"] == pytest.approx(want["avg_days"])
    assert row["核發件數"] == want["issued"]
    # The by-month chart covers January to June only (year to date at Q2), stacked by type.
    spec = json.loads(at.get_by_key("visa_by_month").proto.spec)
    assert {x for trace in spec["data"] for x in trace["x"]} == {f"{m}月" for m in range(1, 7)}
    assert [trace["name"] for trace in spec["data"]] == [
        "停留簽證",
        "居留簽證",
        "電子簽證",
        "落地簽證",
    ]
    issued = sum(plotly_values(trace["y"]).sum() for trace in spec["data"])
    assert issued == pytest.approx(kpi(eng, "K6.1", 2).actual)
    # Every chart's data has its downloads; the full table is written on request.
    assert len(at.download_button) == 2 * 4
    assert len(at.tabs) == 2


def test_the_full_table_download_is_written_on_request_and_kept_until_the_view_changes(eng):
    at = show()
    assert not [b for b in at.download_button if b.key.startswith("dl_table")]
    at.button(key="dl_table_prepare").click().run()
    assert errors(at) == []
    assert {"dl_table_xlsx", "dl_table_csv"} <= {b.key for b in at.download_button}
    xlsx, csv = at.session_state["_download_dl_table"][1]
    book = openpyxl.load_workbook(io.BytesIO(xlsx))
    written = pd.read_csv(io.BytesIO(csv), encoding="utf-8-sig")
    table = at.dataframe[-1].value
    assert book.active.max_row == len(table) + 1 == len(written) + 1
    assert written["核發件數"].sum() == table["核發件數"].sum()
    # Another run of the same view keeps the files; a different filter asks again.
    at.run()
    assert "dl_table_csv" in {b.key for b in at.download_button}
    at.text_input(key="visa_table_filter").input("領事事務局").run()
    assert "dl_table_csv" not in {b.key for b in at.download_button}
    assert at.button(key="dl_table_prepare")


def test_program_filter_does_not_apply_to_visas(eng):
    at = show(programs=["外交管理業務"])
    assert any("不適用於本頁" in c.value for c in at.caption)
    assert metrics(at)["電子簽證核發占比"] == fmt_percent(kpi(eng, "K6.2", 2).actual)


def test_english(eng):
    at = show(lang="en", quarter=4)
    assert at.title[0].value == "Consular services"
    assert any("Jan to Dec 2019 (2019 Q4" in c.value for c in at.caption)
    assert metrics(at)["eVisa share of visas issued"] == fmt_percent(kpi(eng, "K6.2", 4).actual)
    table = at.dataframe[-1].value
    assert {"Visitor visa", "Resident visa", "eVisa"} <= set(table["Visa type"])
    assert "Asia-Pacific" in set(table["Region"])


def test_empty_store(tmp_path_factory):
    with app_store(store_url(tmp_path_factory, sample=False)):
        at = show()
    assert any("尚無簽證資料" in i.value for i in at.info)
    assert not at.metric and not at.dataframe


def test_a_large_table_shows_its_first_rows_and_filters_by_mission(tmp_path_factory):
    from kpi import sample

    frame = sample.visa_frame(rows_target=15_000)  # about 1,250 mission × type rows
    with app_store(store_url(tmp_path_factory, sample=False)) as engine:
        engine.store.import_frames({"visa": frame}, file_name="visa.xlsx", content=b"visa")
        combos = views.visa_by_mission_type(engine.store, 108, 6)
        assert len(combos) > 1000
        at = show()
        assert len(at.dataframe[-1].value) == 1000
        assert any(f"共 {len(combos):,} 列" in c.value for c in at.caption)
        mission = combos["mission"].iloc[-1]
        at.text_input(key="visa_table_filter").input(mission).run()
        shown = at.dataframe[-1].value
        assert set(shown["駐外館處"]) == {m for m in combos["mission"] if mission in m}
        assert not any("共" in c.value and "列" in c.value for c in at.caption)
        at.text_input(key="visa_table_filter").input("不存在的館處").run()
        assert any("沒有符合" in c.value for c in at.caption)

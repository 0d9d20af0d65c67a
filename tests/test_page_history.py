"""上傳紀錄 page (AppTest from dashboard.py): batches, original files, undo with a
confirmation that puts the figures back, the read-only audit log."""

from __future__ import annotations

import pytest

from kpi.i18n import EN
from tests.app_helpers import app_store, errors, open_page, store_url
from tests.workbooks import xlsx_bytes

PAGE = "pages/history.py"


@pytest.fixture(scope="module")
def eng(tmp_path_factory):
    with app_store(store_url(tmp_path_factory, sample=True)) as engine:
        yield engine


def _k41(eng, quarter: int = 1) -> float | None:
    return next(k for k in eng.status(108, quarter).kpis if k.id == "K4.1").actual


def _values_file(value: int, note: str = "修正數") -> bytes:
    return xlsx_bytes(
        {
            "指標填報": [
                ["指標代碼", "年度", "季別", "實際值", "說明"],
                ["K4.1", 108, "第1季", value, note],
            ]
        }
    )


def _table(at, column: str):
    return next(df.value for df in at.dataframe if column in df.value.columns)


def test_the_page_lists_every_batch_and_the_audit_log(eng):
    at = open_page(PAGE)
    assert errors(at) == []
    batches = _table(at, "批次")
    assert list(batches["批次"]) == [b.id for b in eng.store.batches()]
    assert set(batches["匯入者"]) == {"sample"}
    assert set(batches["狀態"]) == {"有效"}
    assert "108_visits_訪問交流.xlsx" in set(batches["檔案"])
    audit = _table(at, "動作")
    assert "匯入" in set(audit["動作"])
    # Newest batch first in the chooser; its undo is offered (but nothing happens yet).
    assert at.selectbox(key="history_batch").value == eng.store.batches()[0].id
    assert not at.button(key="history_undo").disabled


def test_undo_asks_for_confirmation_then_puts_the_figures_back(eng):
    before = _k41(eng)
    result = eng.import_bytes(_values_file(999), "k41_fix.xlsx")
    assert result.status == "imported"
    assert _k41(eng) == 999

    at = open_page(PAGE)
    at.selectbox(key="history_batch").set_value(result.batch).run()
    at.button(key="history_undo").click().run()
    # Step one only asks.
    assert eng.store.batch(result.batch).status == "active"
    assert any(f"批次 #{result.batch}" in w.value for w in at.warning)
    at.button(key="history_confirm_undo").click().run()

    assert errors(at) == []
    assert any(f"已復原批次 #{result.batch}" in s.value for s in at.success)
    assert eng.store.batch(result.batch).status == "undone"
    assert _k41(eng) == before
    batches = _table(at, "批次")
    assert batches[batches["批次"] == result.batch].iloc[0]["狀態"] == "已復原"
    assert "復原" in set(_table(at, "動作")["動作"])
    # An undone batch cannot be undone again.
    assert at.button(key="history_undo").disabled
    assert not [b for b in at.button if b.key == "history_confirm_undo"]


def test_cancel_leaves_the_batch_alone(eng):
    result = eng.import_bytes(_values_file(555), "k41_cancel.xlsx")
    at = open_page(PAGE)
    at.selectbox(key="history_batch").set_value(result.batch).run()
    at.button(key="history_undo").click().run()
    at.button(key="history_cancel").click().run()
    assert errors(at) == []
    assert eng.store.batch(result.batch).status == "active"
    assert _k41(eng) == 555
    eng.undo(result.batch)


def test_an_already_undone_batch_shows_who_undid_it_and_cannot_be_undone(eng):
    result = eng.import_bytes(_values_file(321), "k41_twice.xlsx")
    eng.undo(result.batch)
    at = open_page(PAGE, lang=EN)
    at.selectbox(key="history_batch").set_value(result.batch).run()
    assert errors(at) == []
    assert at.button(key="history_undo").disabled
    assert any(f"Batch #{result.batch} was undone" in c.value for c in at.caption)
    batches = _table(at, "Batch")
    assert batches[batches["Batch"] == result.batch].iloc[0]["Status"] == "Undone"


def test_the_original_file_is_offered_for_download(eng):
    original = _values_file(77, "原檔保存")
    result = eng.import_bytes(original, "k41_original.xlsx")
    at = open_page(PAGE)
    at.selectbox(key="history_batch").set_value(result.batch).run()
    assert errors(at) == []
    assert any(b.proto.label == "下載原始檔案" for b in at.get("download_button"))
    assert eng.store.batch_file(result.batch) == ("k41_original.xlsx", original)
    eng.undo(result.batch)


def test_the_page_in_english_uses_ad_years_and_english_headers(eng):
    at = open_page(PAGE, lang=EN)
    assert errors(at) == []
    assert at.title[0].value == "Upload history"
    batches = _table(at, "Batch")
    assert {"Imported at", "By", "File", "Dataset", "Period", "Status"} <= set(batches.columns)
    assert batches["Imported at"].str.match(r"^20\d\d-\d\d-\d\d ").all()
    visits = batches[batches["File"] == "108_visits_訪問交流.xlsx"].iloc[0]
    assert visits["Period"] == "2019 Jan–Dec"
    assert visits["Dataset"] == "Visits"

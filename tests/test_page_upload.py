"""資料上傳 page (AppTest from dashboard.py): the dry-run report first, then import; a
refused file writes nothing; year/quarter given at upload; several files at once."""

from __future__ import annotations

import hashlib

import pytest

from kpi.catalog import LIGHT_SYMBOLS, LIGHT_ZH
from kpi.i18n import EN
from tests.app_helpers import app_store, errors, open_page, store_url
from tests.workbooks import text_named_xlsx, xlsx_bytes

PAGE = "pages/upload.py"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
VALUES_HEADER = ["指標代碼", "年度", "季別", "實際值", "說明"]


@pytest.fixture(scope="module")
def eng(tmp_path_factory):
    with app_store(store_url(tmp_path_factory, sample=True)) as engine:
        yield engine


def _key(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()[:16]


def _upload(at, *files: tuple[str, bytes]):
    at.file_uploader(key="upload_files").set_value([(n, c, XLSX) for n, c in files]).run()
    return at


def _table(at, column: str):
    return next(df.value for df in at.dataframe if column in df.value.columns)


def _k51(eng, quarter: int) -> float | None:
    return next(k for k in eng.status(108, quarter).kpis if k.id == "K5.1").actual


def test_the_page_offers_the_uploader_and_all_four_templates(eng):
    at = open_page(PAGE)
    assert errors(at) == []
    uploader = at.file_uploader(key="upload_files")
    assert uploader.accept_multiple_files
    assert set(uploader.allowed_type) == {".xlsx", ".xlsm", ".xls", ".ods"}
    templates = {b.proto.label for b in at.get("download_button")}
    assert templates >= {"預算執行", "簽證", "訪問交流", "指標填報"}


def test_a_valid_file_is_reported_first_and_imported_on_request(eng):
    content = xlsx_bytes(
        {"指標填報": [VALUES_HEADER, ["K5.1", 108, "第1季", 1400, "國際傳播觸及人次上修"]]}
    )
    batches = len(eng.store.batches())
    at = _upload(open_page(PAGE), ("k51_108Q1.xlsx", content))
    assert errors(at) == []
    # The report: what was found, where it came from, the rows and what would change.
    assert {m.label: m.value for m in at.metric} == {
        "年度": "108年",
        "期間": "第1季",
        "資料列數": "1",
    }
    assert any(m.value == "資料類別：:blue-badge[指標填報]" for m in at.markdown)
    sheets = _table(at, "年度來源")
    assert sheets.iloc[0]["年度來源"] == "欄位「年度」"
    preview = _table(at, "實際值")
    assert list(preview["指標代碼"]) == ["K5.1"] and list(preview["實際值"]) == [1400]
    changes = _table(at, "未變更")
    assert (changes.iloc[0]["新增"], changes.iloc[0]["變更"]) == (0, 1)
    assert len(eng.store.batches()) == batches  # nothing stored by the dry run

    button = at.button(key=f"upload_import_{_key(content)}")
    assert button.label == "匯入此檔" and not button.disabled
    button.click().run()
    assert errors(at) == []
    newest = eng.store.batches()[0]
    assert len(eng.store.batches()) == batches + 1 and newest.file_name == "k51_108Q1.xlsx"
    assert any(f"已匯入，批次 #{newest.id}：新增 0 筆、變更 1 筆" in s.value for s in at.success)
    assert _k51(eng, 1) == 1400
    # Now the file matches the store: nothing left to import.
    assert at.button(key=f"upload_import_{_key(content)}").disabled
    eng.undo(newest.id)


def test_a_refused_file_cannot_be_imported_and_writes_nothing(eng):
    content = xlsx_bytes(
        {
            "指標填報": [
                VALUES_HEADER,
                ["K5.1", 108, "第5季", 1400, ""],
                ["K5.1", 108, "第2季", "很多", ""],
            ]
        }
    )
    batches = len(eng.store.batches())
    at = _upload(open_page(PAGE), ("bad.xlsx", content))
    assert not at.exception
    assert any("2 個錯誤，無法匯入" in e.value for e in at.error)
    problems = _table(at, "問題說明")
    assert list(problems["列"]) == ["2", "3"]
    assert list(problems["欄"]) == ["C", "D"]
    assert list(problems["內容"]) == ["第5季", "很多"]
    assert list(problems["欄位名稱"]) == ["季別", "實際值"]
    button = at.button(key=f"upload_import_{_key(content)}")
    assert button.disabled and button.label == "有錯誤，無法匯入"
    assert len(eng.store.batches()) == batches


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("text.xlsx", text_named_xlsx(), "不是試算表"),
        ("empty.xlsx", b"", "空"),
    ],
)
def test_a_hostile_or_broken_file_gets_a_clear_message(eng, name, content, message):
    batches = len(eng.store.batches())
    at = _upload(open_page(PAGE), (name, content))
    assert not at.exception
    assert any(message in row for row in _table(at, "問題說明")["問題說明"])
    assert at.button(key=f"upload_import_{_key(content)}").disabled
    assert len(eng.store.batches()) == batches


def test_year_and_quarter_are_asked_for_when_the_file_does_not_say(eng):
    content = xlsx_bytes(
        {
            "Sheet1": [
                ["工作計畫", "經資門", "預算數", "分配數", "實支數"],
                ["外交管理業務", "經常門", 240961, 60000, 55000],
            ]
        }
    )
    key = _key(content)
    at = _upload(open_page(PAGE), ("no_period.xlsx", content))
    assert not at.exception
    assert at.button(key=f"upload_import_{key}").disabled
    assert any("找不到年度" in row for row in _table(at, "問題說明")["問題說明"])
    at.selectbox(key=f"upload_year_{key}").set_value(108)
    at.selectbox(key=f"upload_quarter_{key}").set_value(1).run()
    assert errors(at) == []
    sheets = _table(at, "年度來源")
    assert sheets.iloc[0]["年度來源"] == "上傳時指定"
    assert sheets.iloc[0]["期間來源"] == "上傳時指定（季末月份）"
    assert {m.label: m.value for m in at.metric}["期間"] == "3月"
    assert not at.button(key=f"upload_import_{key}").disabled


def test_several_files_are_checked_and_all_valid_ones_imported_at_once(eng):
    q2 = xlsx_bytes({"指標填報": [VALUES_HEADER, ["K5.1", 108, "Q2", 2700, ""]]})
    q3 = xlsx_bytes({"指標填報": [VALUES_HEADER, ["K5.1", 108, "Q3", 3900, ""]]})
    bad = xlsx_bytes({"指標填報": [VALUES_HEADER, ["K5.1", 108, "Q9", 1, ""]]})
    batches = len(eng.store.batches())
    at = _upload(open_page(PAGE), ("q2.xlsx", q2), ("q3.xlsx", q3), ("bad.xlsx", bad))
    summary = _table(at, "檢查結果")
    assert list(summary["檢查結果"]) == ["可匯入", "可匯入", "拒收（有錯誤）"]
    button = at.button(key="upload_import_all")
    assert button.label == "匯入所有可匯入的檔案（2）"
    button.click().run()
    assert errors(at) == [e.value for e in at.error if "無法匯入" in e.value]
    assert len(eng.store.batches()) == batches + 2
    assert (_k51(eng, 2), _k51(eng, 3)) == (2700, 3900)
    assert list(_table(at, "檢查結果")["檢查結果"]) == ["已匯入", "已匯入", "拒收（有錯誤）"]
    for b in eng.store.batches()[:2]:
        eng.undo(b.id)


def test_a_visits_file_offers_to_replace_its_quarters(eng):
    content = xlsx_bytes(
        {
            "訪問": [
                ["日期", "類型", "國家", "層級", "團名"],
                ["108/02/15", "來訪", "巴拉圭", "部長", "巴拉圭外交部長訪團"],
            ]
        }
    )
    key = _key(content)
    at = _upload(open_page(PAGE), ("visits.xlsx", content))
    assert errors(at) == []
    assert at.checkbox(key=f"upload_replace_{key}").value is False
    at.checkbox(key=f"upload_replace_{key}").check().run()
    changes = _table(at, "移除")
    assert changes.iloc[0]["移除"] > 0  # the stored Q1 visits this file does not list


def test_the_report_in_english(eng):
    content = xlsx_bytes({"Sheet": [VALUES_HEADER, ["K5.1", 2019, "Q1", 1300, "note"]]})
    at = _upload(open_page(PAGE, lang=EN), ("k51.xlsx", content))
    assert errors(at) == []
    assert at.title[0].value == "Upload"
    assert {m.label: m.value for m in at.metric} == {"Year": "2019", "Period": "Q1", "Rows": "1"}
    assert any(m.value == "Dataset: :blue-badge[Indicator values]" for m in at.markdown)
    preview = _table(at, "Value (YTD)")
    assert list(preview["Year"]) == [2019]
    assert at.button(key=f"upload_import_{_key(content)}").label == "Import this file"


def test_a_corrected_file_lists_its_changed_rows_and_the_lights_before_and_after(eng):
    stored = eng.store.current_rows("kpi_values", 108)
    k41 = stored[(stored["kpi"] == "K4.1") & (stored["quarter"] == 3)].iloc[0]
    assert k41["value"] != 120
    content = xlsx_bytes({"指標填報": [VALUES_HEADER, ["K4.1", 108, "第3季", 120, k41["note"]]]})
    before = next(k for k in eng.status(108, 3).kpis if k.id == "K4.1")
    at = open_page(PAGE)
    version, batches = eng.store.version(), len(eng.store.batches())
    _upload(at, ("k41_108Q3.xlsx", content))
    assert errors(at) == []

    # The changed row: its key, the field, the stored value and the file's.
    diff = _table(at, "原值")
    assert diff.to_dict("records") == [
        {
            "指標代碼": "K4.1",
            "年度": "108年",
            "季別": "3",
            "異動": "變更",
            "欄位": "實際值",
            "原值": f"{int(k41['value']):,}",
            "新值": "120",
        }
    ]
    # The indicator figures of the affected quarter, now and as they would be after.
    figures = _table(at, "匯入後燈號")
    row = figures[figures["代碼"] == "K4.1"].iloc[0]
    assert row["季別"] == "108年第3季" and row["有變動"] == "✓"
    assert (row["匯入前累計實際值"], row["匯入後累計實際值"]) == (f"{before.actual:,.0f}", "120")
    assert row["匯入前燈號"] == f"{LIGHT_SYMBOLS[before.light]} {LIGHT_ZH[before.light]}"
    assert row["匯入後燈號"] == "🔴 紅燈"
    assert set(figures["季別"]) == {"108年第3季"}
    assert (eng.store.version(), len(eng.store.batches())) == (version, batches)

    at.button(key=f"upload_import_{_key(content)}").click().run()
    assert errors(at) == []
    after = next(k for k in eng.status(108, 3).kpis if k.id == "K4.1")
    assert (after.actual, after.light) == (120, "red")


def test_uploaded_text_in_the_diff_is_shown_as_text(eng):
    stored = eng.store.current_rows("kpi_values", 108)
    k51 = stored[(stored["kpi"] == "K5.1") & (stored["quarter"] == 4)].iloc[0]
    note = "**粗體** <b>x</b> [連結](http://example.com) =1+2"
    content = xlsx_bytes({"指標填報": [VALUES_HEADER, ["K5.1", 108, "第4季", k51["value"], note]]})
    at = _upload(open_page(PAGE), ("k51_note.xlsx", content))
    assert errors(at) == []
    diff = _table(at, "原值")
    assert list(diff["欄位"]) == ["說明"] and list(diff["新值"]) == [note]
    assert not any("粗體" in m.value for m in at.markdown)

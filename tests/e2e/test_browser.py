"""End to end in a real headless Chromium against `streamlit run`: every page, and a
workbook uploaded through the real file input, imported, seen on the overview, undone."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook

from tests.app_helpers import page_list
from tests.e2e.conftest import screenshot, wait_for_app

pytestmark = pytest.mark.e2e

PAGES = [key for _, key, _ in page_list()]  # every page dashboard.py registers
K41_ZH = "協助NGO參與國際活動場次"


def _url(server, key: str, query: str = "") -> str:
    path = "" if key == "overview" else key
    return f"{server['url']}/{path}{query}"


def _assert_clean(pg) -> None:
    assert pg.locator('[data-testid="stException"]').count() == 0, pg.inner_text("body")[:2000]
    body = pg.inner_text("body")
    assert "Traceback" not in body
    assert "這一頁發生錯誤" not in body
    assert pg.errors == [], pg.errors


def _wait_sidebar_text(pg, text: str) -> None:
    """The sidebar (filters, sample notice) shows the text within a few seconds."""
    pg.wait_for_function(
        "t => (document.querySelector('[data-testid=\"stSidebar\"]') || {}).innerText?.includes(t)",
        arg=text,
        timeout=30_000,
    )


def test_a_fresh_servers_first_page_is_the_dashboard(server, page):
    """The very first request (a shared link to a page) gets the sidebar and the page."""
    page.goto(_url(server, "budget", "?lang=zh-TW&year=108&quarter=2"))
    wait_for_app(page)
    _wait_sidebar_text(page, "範例資料")
    _assert_clean(page)
    assert "預算執行" in page.inner_text("h1")


@pytest.mark.parametrize("lang", ["zh-TW", "en"])
def test_every_page_renders(server, page, lang):
    for key in PAGES:
        page.goto(_url(server, key, f"?lang={lang}&year=108&quarter=3"))
        wait_for_app(page)
        _assert_clean(page)
        if lang == "zh-TW":
            _wait_sidebar_text(page, "範例資料")
        screenshot(page, f"{key}_{lang}")
        # No horizontal scroll at 1366 px.
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 1, f"{key}: {overflow}px horizontal overflow"


def _k41_value(pg) -> str:
    card = pg.locator('[data-testid="stMetric"]').filter(has_text=K41_ZH).first
    return card.locator('[data-testid="stMetricValue"]').inner_text().strip()


def _kpi_workbook(value: int) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "指標填報"
    ws.append(["108年度 指標填報"])
    ws.append(["指標代碼", "年度", "季別", "實際值", "說明"])
    ws.append(["K4.1", 108, "第1季", value, "瀏覽器測試填報"])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_upload_import_and_undo_through_the_browser(server, page):
    overview = _url(server, "overview", "?lang=zh-TW&year=108&quarter=1")
    page.goto(overview)
    wait_for_app(page)
    before = _k41_value(page)
    assert before == "48"

    page.goto(_url(server, "upload", "?lang=zh-TW&year=108&quarter=1"))
    wait_for_app(page)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        files=[
            {
                "name": "K41_修正.xlsx",
                "mimeType": "application/octet-stream",
                "buffer": _kpi_workbook(999),
            }
        ]
    )
    page.get_by_role("button", name="匯入此檔").first.wait_for(timeout=60_000)
    wait_for_app(page)
    _assert_clean(page)
    assert "指標填報" in page.inner_text("body")
    page.get_by_role("button", name="匯入此檔").first.click()
    page.get_by_text("批次").first.wait_for(timeout=60_000)
    wait_for_app(page)
    screenshot(page, "upload_imported")

    page.goto(overview)
    wait_for_app(page)
    assert _k41_value(page) == "999"

    page.goto(_url(server, "history", "?lang=zh-TW&year=108&quarter=1"))
    wait_for_app(page)
    page.get_by_role("button", name="復原此批次…").click()
    wait_for_app(page)
    page.get_by_role("button", name="確認復原").click()
    wait_for_app(page)
    _assert_clean(page)

    page.goto(overview)
    wait_for_app(page)
    assert _k41_value(page) == before

"""Hostile input through a real browser: uploaded text stays text, hostile files are refused.

Delegation names and commentary are typed by whoever fills in a workbook. Uploaded through
the real file input, they must show as plain text on every page (no script runs, no link or
image or bold text appears) and leave in the downloads as text cells, never as formulas.
Workbooks that would cost the server too much are refused by the page with the importer's
own message, and nothing is written.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import openpyxl
import pytest
from openpyxl.cell.cell import TYPE_STRING
from playwright.sync_api import expect

from pages.common import WORD_JOINER
from tests.e2e.conftest import wait_for_app
from tests.workbooks import raw_xlsx, zip_bomb_xlsx

pytestmark = pytest.mark.e2e

SCRIPT = "<script>alert(1)</script>"
IMAGE = "<img src=x onerror=alert(2)>"
MARKDOWN = "**bold** [click](https://evil.example/)"
HYPERLINK = '=HYPERLINK("https://evil.example","click")'
HEADING = "# big\n" + "這是一行很長的說明文字，" * 30
HOSTILE = (
    SCRIPT,
    IMAGE,
    MARKDOWN,
    HYPERLINK,
    "@SUM(1+1)",
    "+cmd|' /C calc'!A0",
    "-2+3",
    HEADING,
)
FORMULA_START = ("=", "+", "-", "@")
# Commentary, four quarters each; the tiny values make both indicators red lights in Q1.
NOTES = {("K4.1", q): HOSTILE[q - 1] for q in (1, 2, 3, 4)} | {
    ("K5.1", q): HOSTILE[q + 3] for q in (1, 2, 3, 4)
}
VISITS_FILE = "<img src=x onerror=alert(3)>訪問.xlsx"
KPI_FILE = "**填報** [說明](https://evil.example).xlsx"
QUERY = "?lang=zh-TW&year=108&quarter=1"


def _workbook(sheet: str, rows: list[list[object]]) -> bytes:
    """One sheet whose text cells are all string cells: '=…' stays the text a user typed
    (openpyxl would otherwise save it as a formula)."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = sheet
    for row in rows:
        ws.append(row)
    for row in ws.iter_rows():
        for cell in row:
            if isinstance(cell.value, str):
                cell.data_type = TYPE_STRING
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def visits_workbook() -> bytes:
    rows: list[list[object]] = [["日期", "類型", "國家", "層級", "團名", "人數"]]
    rows += [
        [f"108/02/{10 + i}", "來訪", "巴拉圭", "部長", name, 3] for i, name in enumerate(HOSTILE)
    ]
    return _workbook("訪問交流", rows)


def kpi_workbook() -> bytes:
    values = {"K4.1": (1, 2, 3, 4), "K5.1": (10, 20, 30, 40)}
    rows: list[list[object]] = [["指標代碼", "年度", "季別", "實際值", "說明"]]
    rows += [[kpi, 108, f"第{q}季", values[kpi][q - 1], note] for (kpi, q), note in NOTES.items()]
    return _workbook("指標填報", rows)


def row_bomb_xlsx() -> bytes:
    """Two cells, the second one row past the importer's row limit (1,100,000)."""
    return raw_xlsx(
        '<row r="1"><c r="A1"><v>1</v></c></row><row r="1100001"><c r="A1100001"><v>1</v></c></row>'
    )


def _file(name: str, content: bytes) -> dict:
    return {"name": name, "mimeType": "application/octet-stream", "buffer": content}


# -- driving the pages ------------------------------------------------------------------------

WAIT = 60_000  # ms; generous, the tests share the machine with other servers and browsers


def _open(pg, server, path: str, query: str = QUERY) -> None:
    pg.goto(f"{server['url']}/{path}{query}")
    wait_for_app(pg)


def _watch_dialogs(pg) -> list[str]:
    """Every alert/confirm/prompt the page opens (dismissed, so the page goes on)."""
    dialogs: list[str] = []

    def seen(dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    pg.on("dialog", seen)
    return dialogs


def _shown(text: str) -> str:
    """Text as a reader sees it: without the invisible joiners md_escape adds."""
    return text.replace(WORD_JOINER, "")


def _wait_text(pg, present: tuple[str, ...] = (), absent: tuple[str, ...] = ()) -> None:
    """Until the page's main area shows every `present` text and none of the `absent` ones."""
    pg.wait_for_function(
        """([present, absent, joiner]) => {
            const main = document.querySelector('[data-testid="stMain"]');
            const text = (main ? main.textContent : "").replaceAll(joiner, "");
            return present.every(t => text.includes(t)) && !absent.some(t => text.includes(t));
        }""",
        arg=[list(present), list(absent), WORD_JOINER],
        timeout=WAIT,
    )
    wait_for_app(pg)


def _upload(pg, files: list[dict]) -> None:
    """Choose files in the real file input; until each file's report (its name heads it)."""
    pg.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(files=files)
    _wait_text(pg, present=tuple(f["name"] for f in files))


def _search(pg, query: str, caption: str | None) -> None:
    """Type into the visits search box; until the match count shows (or is gone)."""
    box = pg.get_by_label("搜尋團名或國家")
    box.fill(query)
    box.press("Enter")
    if caption is None:
        _wait_text(pg, absent=("符合 ",))
    else:
        _wait_text(pg, present=(caption,))


def _download(pg, key: str) -> bytes:
    """Click a download button (by its widget key) and return the file it sends.

    A table written on request shows a "prepare" button first (key ``<table>_prepare``);
    the download buttons carry finished files, so one click always delivers.
    """
    prepare = pg.locator(f".st-key-{key.rsplit('_', 1)[0]}_prepare button")
    button = pg.locator(f".st-key-{key} button")
    button.or_(prepare).first.wait_for(timeout=WAIT)
    if not button.count():
        prepare.click()
        button.wait_for(timeout=WAIT)
    with pg.expect_download(timeout=WAIT) as info:
        button.click()
    return Path(info.value.path()).read_bytes()


def _csv_rows(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))


def _neutralised(text: str) -> str:
    """How kpi.exports writes a text cell that a spreadsheet would run as a formula."""
    return "'" + text if text.startswith(FORMULA_START) else text


def _assert_inert(pg, dialogs: list[str]) -> None:
    """Nothing uploaded turned into a script, a dialog, a link, an image, bold or a heading."""
    app = pg.locator('[data-testid="stApp"]')
    assert dialogs == []
    assert pg.errors == [], pg.errors
    assert app.locator('a[href*="evil.example"]').count() == 0
    assert app.locator('img[src="x"]').count() == 0
    assert app.locator("strong", has_text=re.compile(r"^(bold|填報)$")).count() == 0
    assert app.locator("h1, h2, h3", has_text=re.compile(r"^\s*big\s*$")).count() == 0
    assert not pg.evaluate("[...document.scripts].some(s => s.textContent.includes('alert('))")
    assert pg.locator('[data-testid="stException"]').count() == 0
    assert "Traceback" not in pg.inner_text("body")


# -- tests ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def imported(server, browser) -> None:
    """The two hostile workbooks uploaded through the real file input and imported."""
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-TW")
    pg = context.new_page()
    pg.errors = []
    pg.on("pageerror", lambda exc: pg.errors.append(str(exc)))
    dialogs = _watch_dialogs(pg)
    try:
        _open(pg, server, "upload")
        _upload(pg, [_file(VISITS_FILE, visits_workbook()), _file(KPI_FILE, kpi_workbook())])
        # The reports are headed by the file names (Markdown): shown as text, not as a link.
        _assert_inert(pg, dialogs)
        pg.get_by_role("button", name="匯入所有可匯入的檔案（2）").click()
        pg.get_by_text("已匯入，批次").nth(1).wait_for(timeout=WAIT)
        wait_for_app(pg)
        _assert_inert(pg, dialogs)
    finally:
        context.close()


def test_red_light_commentary_on_the_overview_is_text(server, page, imported):
    dialogs = _watch_dialogs(page)
    _open(page, server, "")
    _wait_text(page, present=(SCRIPT, NOTES[("K5.1", 1)]))
    # st.text: the exact text, in the red-lights list only.
    shown = page.locator('[data-testid="stText"]').all_text_contents()
    assert SCRIPT in shown and NOTES[("K5.1", 1)] in shown
    _assert_inert(page, dialogs)


@pytest.mark.parametrize("goal, kpi", [("G4", "K4.1"), ("G5", "K5.1")])
def test_commentary_on_the_goals_page_is_text(server, page, imported, goal, kpi):
    dialogs = _watch_dialogs(page)
    _open(page, server, "goals", f"{QUERY}&goal={goal}")
    notes = tuple(NOTES[(kpi, q)] for q in (1, 2, 3, 4))
    _wait_text(page, present=notes)
    shown = page.locator('[data-testid="stText"]').all_text_contents()
    assert all(note in shown for note in notes)
    _assert_inert(page, dialogs)


def test_delegation_names_are_text_on_the_visits_page_and_in_its_downloads(server, page, imported):
    dialogs = _watch_dialogs(page)
    _open(page, server, "visits")
    table = page.locator('[data-testid="stDataFrame"]').last
    _search(page, SCRIPT, "符合 1 筆")
    # st.dataframe draws on a canvas; its accessible copy of the cells holds the text.
    expect(table).to_contain_text(SCRIPT, timeout=WAIT)
    _assert_inert(page, dialogs)
    _search(page, "evil.example", "符合 2 筆")
    expect(table).to_contain_text(MARKDOWN, timeout=WAIT)
    expect(table).to_contain_text(HYPERLINK, timeout=WAIT)
    _assert_inert(page, dialogs)

    _open(page, server, "visits")  # the downloads hold every visit, without a search
    book = openpyxl.load_workbook(io.BytesIO(_download(page, "dl_table_xlsx")))
    ws = book.active
    column = [c.value for c in ws[1]].index("團名")
    cells = {row[column].value: row[column] for row in ws.iter_rows(min_row=2)}
    for name in HOSTILE:
        assert _neutralised(name) in cells, name
        assert cells[_neutralised(name)].data_type == "s"
    assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)

    delegations = {r["團名"] for r in _csv_rows(_download(page, "dl_table_csv"))}
    assert {_neutralised(name) for name in HOSTILE} <= delegations
    _assert_inert(page, dialogs)


def _batches(pg, server) -> list[dict[str, str]]:
    """The history page's list of batches, as its CSV download."""
    _open(pg, server, "history")
    return _csv_rows(_download(pg, "history_batches_csv"))


def test_file_names_are_text_on_the_history_page(server, page, imported):
    dialogs = _watch_dialogs(page)
    files = {b["檔案"] for b in _batches(page, server)}
    assert {VISITS_FILE, KPI_FILE} <= files
    expect(page.locator('[data-testid="stDataFrame"]').first).to_contain_text(
        KPI_FILE, timeout=WAIT
    )
    # The newest batch is chosen; its undo confirmation quotes the file name in Markdown.
    page.get_by_role("button", name="復原此批次…").click()
    warning = page.locator('[data-testid="stAlertContentWarning"]')
    warning.wait_for(timeout=WAIT)
    assert KPI_FILE in _shown(warning.text_content())
    _assert_inert(page, dialogs)
    page.get_by_role("button", name="取消").click()
    warning.wait_for(state="detached", timeout=WAIT)


def test_workbooks_over_the_limits_are_refused_by_the_upload_page(server, page, imported):
    dialogs = _watch_dialogs(page)
    before = _batches(page, server)

    bombs = {
        "壓縮炸彈.xlsx": (
            zip_bomb_xlsx(),
            "檔案解壓縮後異常龐大（疑似壓縮炸彈），為保護系統已拒絕",
        ),
        "列數過多.xlsx": (row_bomb_xlsx(), "活頁簿共有 1,100,001 列，超過上限 1,100,000 列"),
    }
    _open(page, server, "upload")
    _upload(page, [_file(name, content) for name, (content, _) in bombs.items()])
    refused = page.get_by_text("這個檔案有 1 個錯誤，無法匯入；資料庫不會有任何變更")
    expect(refused).to_have_count(2, timeout=WAIT)
    # Each report's error table (the accessible copy of its cells) gives the importer's reason.
    errors = page.locator('[data-testid="stDataFrame"]')
    for _content, message in bombs.values():
        expect(errors.filter(has_text=message)).to_have_count(1, timeout=WAIT)
    assert page.get_by_role("button", name="匯入所有可匯入的檔案（0）").is_disabled()
    _assert_inert(page, dialogs)

    assert _batches(page, server) == before

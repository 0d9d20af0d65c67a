"""Reading workbooks: every format gives the same rows; hostile files are refused quickly."""

from __future__ import annotations

import datetime as dt
import io
import resource
import threading
import time
import zipfile
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kpi.ingest import read as read_module
from kpi.ingest.read import (
    DEFAULT_LIMITS,
    OLE_MAGIC,
    ZIP_MAGIC,
    Limits,
    ReadError,
    Workbook,
    read_workbook,
)
from tests import workbooks as W

ROWS = [
    ["108年度 預算執行表", "", "", "", ""],
    ["工作計畫", "經資門", "預算數", "日期", "完成"],
    ["一般行政", "經常門", 8004178, dt.date(2019, 2, 15), True],
    ["", "資本門", 1234.5, dt.datetime(2019, 3, 1, 12, 30), False],
    ["國際會議及交流", "經常門", 0, dt.date(2019, 12, 31), True],
]
BUILDERS: dict[str, Callable[[dict[str, list[list[object]]]], bytes]] = {
    "xlsx": W.xlsx_bytes,
    "xlsm": W.xlsm_bytes,
    "ods": W.ods_bytes,
    "xls": W.xls_bytes,
}
MB = 1024 * 1024


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def refused(content: bytes, code: str, limits: Limits = DEFAULT_LIMITS) -> ReadError:
    """Read, expecting a refusal with `code` in under two seconds and < 300 MB more memory."""
    before, start = peak_rss_mb(), time.perf_counter()
    with pytest.raises(ReadError) as caught:
        read_workbook(content, "upload.xlsx", limits)
    assert time.perf_counter() - start < 2
    assert peak_rss_mb() - before < 300
    assert caught.value.code == code, caught.value.message_en
    assert caught.value.message_zh and caught.value.message_en
    return caught.value


# ---------------------------------------------------------------- well-formed files


@pytest.mark.parametrize("fmt", list(BUILDERS))
def test_formats_read_to_identical_rows(fmt: str) -> None:
    book = read_workbook(BUILDERS[fmt]({"預算": ROWS}), f"upload.{fmt}")
    assert isinstance(book, Workbook)
    assert book.format == fmt
    [sheet] = book.sheets
    assert sheet.name == "預算"
    assert sheet.rows == ROWS
    assert type(sheet.rows[2][3]) is dt.date
    assert type(sheet.rows[3][3]) is dt.datetime


@pytest.mark.parametrize("fmt", ["xlsx", "ods", "xls"])
def test_merged_ranges_are_reported(fmt: str) -> None:
    rows = [["計畫", "經資門"], ["一般行政", "經常門"], ["", "資本門"], ["外交管理", "經常門"]]
    merged = {"S": ["A2:A3", "A4:B4"]}
    build = {"xlsx": W.xlsx_bytes, "ods": W.ods_bytes, "xls": W.xls_bytes}[fmt]
    [sheet] = read_workbook(build({"S": rows}, merged=merged), "f").sheets
    assert sheet.merged == ((1, 0, 2, 0), (3, 0, 3, 1))
    assert sheet.rows[1][0] == "一般行政" and sheet.rows[2][0] == ""


def test_merges_past_the_data_are_clipped() -> None:
    book = W.xlsx_bytes({"S": [["標題"], [1]]}, merged={"S": ["A1:H1"]})
    assert read_workbook(book, "f").sheets[0].merged == ((0, 0, 0, 0),)


@pytest.mark.parametrize("fmt", ["xlsx", "ods"])
def test_formulas_without_cached_values(fmt: str) -> None:
    rows = [["a", "b", "sum"], [1, 2, None], [3, 4, None]]
    if fmt == "xlsx":
        content = W.xlsx_bytes({"S": rows}, formulas={"S": {"C2": "=A2+B2", "C3": "=A3+B3"}})
    else:
        content = W.ods_bytes(
            {"S": rows}, formulas={"S": {"C2": "[.A2]+[.B2]", "C3": "[.A3]+[.B3]"}}
        )
    [sheet] = read_workbook(content, "f").sheets
    assert sheet.formula_without_value == ((1, 2), (2, 2))


def test_formulas_with_cached_values_are_fine() -> None:
    sheet_xml = (
        '<row r="1"><c r="A1"><v>1</v></c><c r="B1"><f>A1*2</f><v>2</v></c>'
        '<c r="C1" t="str"><f>""</f><v></v></c><c r="D1"><f>A1</f><v/></c>'
        '<c r="E1"><f t="shared" si="0"/></c></row>'
    )
    [sheet] = read_workbook(W.raw_xlsx(sheet_xml), "f").sheets
    assert sheet.formula_without_value == ((0, 3), (0, 4))
    assert sheet.rows[0][:2] == [1.0, 2.0]


def test_formula_scan_across_chunks() -> None:
    # Far more than one streaming chunk, with formulas all the way down.
    rows = "".join(
        f'<row r="{r}"><c r="A{r}"><v>{r}</v></c><c r="B{r}"><f>A{r}*2</f></c></row>'
        for r in range(1, 30001)
    )
    [sheet] = read_workbook(W.raw_xlsx(rows), "f").sheets
    assert len(sheet.formula_without_value) == 30000
    assert sheet.formula_without_value[-1] == (29999, 1)


def test_visibility_and_sheet_order() -> None:
    content = W.xlsx_bytes({"說明": [["填表說明"]], "資料": [[1]], "隱藏": [[2]]}, hidden=("隱藏",))
    book = read_workbook(content, "f")
    assert [(s.name, s.visible) for s in book.sheets] == [
        ("說明", True),
        ("資料", True),
        ("隱藏", False),
    ]


def test_leading_empty_rows_kept_trailing_trimmed() -> None:
    rows = [[], [], ["", "", "標題"], ["", "", 1, ""]]
    [sheet] = read_workbook(W.xlsx_bytes({"S": rows}), "f").sheets
    assert sheet.rows == [["", "", ""], ["", "", ""], ["", "", "標題"], ["", "", 1.0]]


def test_ods_trailing_repeated_empties_are_cheap() -> None:
    # LibreOffice pads every sheet with a million repeated empty rows.
    content = W.raw_ods(
        '<table:table-row><table:table-cell office:value-type="float" office:value="7"/>'
        '<table:table-cell table:number-columns-repeated="1023"/></table:table-row>'
        '<table:table-row table:number-rows-repeated="1048575">'
        '<table:table-cell table:number-columns-repeated="1024"/></table:table-row>'
    )
    assert read_workbook(content, "f").sheets[0].rows == [[7.0]]


def test_empty_sheet() -> None:
    book = read_workbook(W.xlsx_bytes({"空白": [], "資料": [[1]]}), "f")
    assert [s.rows for s in book.sheets] == [[], [[1.0]]]


# ---------------------------------------------------------------- refusals


def test_size_is_checked_before_anything_else() -> None:
    # Whitespace would be "empty", but the size limit must answer first.
    refused(b" " * 2000, "too_big", Limits(max_bytes=1000))


@pytest.mark.parametrize("content", [b"", b"   \n\t  "])
def test_empty_file(content: bytes) -> None:
    refused(content, "empty")


@pytest.mark.parametrize(
    "content",
    [
        W.text_named_xlsx(),
        b"<!DOCTYPE html><html><body><table><tr><td>1</td></tr></table></body></html>",
        b"%PDF-1.7\n...",
        bytes(range(256)) * 4,
        W.word_document_like(),
    ],
    ids=["csv", "html", "pdf", "binary", "doc"],
)
def test_not_a_spreadsheet(content: bytes) -> None:
    error = refused(content, "not_spreadsheet")
    assert ".xlsx" in error.message_zh and ".ods" in error.message_en


def test_other_zip_documents_are_not_spreadsheets() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("word/document.xml", "<w:document/>")
    refused(out.getvalue(), "not_spreadsheet")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.text")
    refused(out.getvalue(), "not_spreadsheet")


def test_encrypted_office_file() -> None:
    error = refused(W.encrypted_xlsx_like(), "encrypted")
    assert "密碼" in error.message_zh


def test_encrypted_ods() -> None:
    refused(W.raw_ods("", encrypted=True), "encrypted")


def test_zip_bomb() -> None:
    content = W.zip_bomb_xlsx()
    assert len(content) < 2 * MB
    refused(content, "zip_bomb")


def test_lying_zip_bomb() -> None:
    refused(W.lying_zip_bomb(), "zip_bomb")


def test_uncompressed_total_limit() -> None:
    content = W.xlsx_bytes({"S": [[f"cell {i}" for i in range(50)] for _ in range(200)]})
    refused(content, "zip_bomb", Limits(max_uncompressed=10_000))


def test_entity_bomb() -> None:
    refused(W.entity_bomb_xlsx(), "xml_entities")


def test_too_many_rows() -> None:
    content = W.xlsx_bytes({"A": [[i] for i in range(30)], "B": [[i] for i in range(30)]})
    error = refused(content, "too_many_rows", Limits(max_rows=50))
    assert "60" in error.message_en
    assert read_workbook(content, "f", Limits(max_rows=60)).sheets


@pytest.mark.parametrize(
    "build",
    [W.sparse_grid_xlsx, W.repeated_cells_ods, W.sparse_grid_xls],
    ids=["xlsx", "ods", "xls"],
)
def test_grid_bombs_are_refused_before_calamine(build: Callable[[], bytes]) -> None:
    # A few hundred bytes that calamine would expand to a grid of billions of cells
    # (and abort the whole process when the allocation fails).
    content = build()
    assert len(content) < 10_000
    refused(content, "too_many_cells")


@pytest.mark.parametrize(
    "sheet_xml",
    [
        '<row r="1"><c r="A1"><v>1</v></c><c r = "xfd1048576"><v>1</v></c></row>',
        "<row r='1'><c r='A1'><v>1</v></c><c r='XFD1048576'><v>1</v></c></row>",
        '<row r="1048576"><c><v>1</v></c>' + "<c><v>1</v></c>" * 20 + "</row>",
        '<x:row r="1"><x:c r="A1"><v>1</v></x:c><x:c\tr="XFD1048576"><v>1</v></x:c></x:row>',
        # Excel's own row attributes put colons on every row, none of them before a tag.
        '<row r="1" spans="1:2" x14ac:dyDescent="0.25"><c r="A1"><v>1</v></c>'
        '<c r="XFD1048576"><v>1</v></c></row>',
        '<x:row r="1" spans="1:2" x14ac:dyDescent="0.25"><x:c r="A1"><v>1</v></x:c>'
        '<x:c r="XFD1048576"><v>1</v></x:c></x:row>',
    ],
    ids=[
        "spaces-lowercase",
        "single-quotes",
        "no-addresses",
        "prefixed",
        "excel-row-attributes",
        "prefixed-excel-row-attributes",
    ],
)
def test_grid_bombs_in_unusual_spellings(sheet_xml: str) -> None:
    refused(W.raw_xlsx(sheet_xml), "too_many_cells", Limits(max_cells=1_000_000))


def test_damaged_zip() -> None:
    content = W.xlsx_bytes({"S": ROWS})
    refused(content[: len(content) // 2], "damaged")
    flipped = bytearray(content)
    start = content.find(b"xl/worksheets/sheet1.xml") + 40
    flipped[start : start + 20] = b"\xff" * 20
    refused(bytes(flipped), "damaged")


def test_damaged_xml() -> None:
    refused(W.raw_xlsx('<row r="1"><c r="A1"><v>1</v></c'), "damaged")


_BASE_FILES: dict[str, bytes] = {}


def _base_file(fmt: str) -> bytes:
    """Built once: a writer that stamps the time could change the length between draws,
    which hypothesis reports as a flaky strategy."""
    if fmt not in _BASE_FILES:
        _BASE_FILES[fmt] = bytes(BUILDERS[fmt]({"S": ROWS}))
    return _BASE_FILES[fmt]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_files_raise_only_read_error(data: st.DataObject) -> None:
    fmt = data.draw(st.sampled_from(["xlsx", "ods", "xls"]))
    content = bytearray(_base_file(fmt))
    for _ in range(data.draw(st.integers(1, 8))):
        pos = data.draw(st.integers(0, len(content) - 1))
        content[pos] = data.draw(st.integers(0, 255))
    try:
        read_workbook(bytes(content), "f")
    except ReadError as error:
        assert error.code in {
            "damaged",
            "not_spreadsheet",
            "encrypted",
            "zip_bomb",
            "too_many_cells",
            "too_many_rows",
            "xml_entities",
        }


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=600), st.sampled_from([b"", ZIP_MAGIC, OLE_MAGIC]))
def test_random_bytes_raise_only_read_error(tail: bytes, head: bytes) -> None:
    with pytest.raises(ReadError):
        read_workbook(head + tail, "f")


# ---------------------------------------------------------------- inflating in a second thread


def test_chunks_inflated_ahead_arrive_in_order_and_errors_after_them() -> None:
    def chunks():
        yield from (bytes([i]) * 10 for i in range(20))
        raise ReadError("damaged", "壞了", "damaged")

    got = []
    with pytest.raises(ReadError):
        for chunk in read_module._ahead(chunks()):
            got.append(chunk)
    assert got == [bytes([i]) * 10 for i in range(20)]


def test_a_consumer_that_stops_early_stops_the_inflating_thread() -> None:
    produced = []

    def chunks():
        for i in range(1000):
            produced.append(i)
            yield b"x"

    ahead = read_module._ahead(chunks(), depth=2)
    assert next(ahead) == b"x"
    ahead.close()
    assert not [t for t in threading.enumerate() if t.name == "kpi-inflate"]
    assert len(produced) <= 4  # the chunk taken, the ones queued, one being put


@pytest.mark.parametrize(
    "content, code",
    [
        (W.entity_bomb_xlsx(), "xml_entities"),
        (W.sparse_grid_xlsx(), "too_many_cells"),
        (W.raw_xlsx('<row r="1"><c r="A1"><v>1</v></c'), "damaged"),
    ],
    ids=["entities", "grid-bomb", "damaged"],
)
def test_members_inflated_ahead_are_refused_alike(monkeypatch, content: bytes, code: str) -> None:
    monkeypatch.setattr(read_module, "PREFETCH_FROM", 0)
    refused(content, code)
    assert not [t for t in threading.enumerate() if t.name == "kpi-inflate"]


def test_worksheets_scanned_in_threads_find_every_formula_and_the_bound(monkeypatch) -> None:
    rows = "".join(
        f'<row r="{r}"><c r="A{r}"><v>{r}</v></c><c r="B{r}"><f>A{r}*2</f></c></row>'
        for r in range(1, 3001)
    )
    content = W.raw_xlsx(rows + '<row r="4000"><c r="F4000"><v>1</v></c></row>')
    plain = read_workbook(content, "f.xlsx")
    monkeypatch.setattr(read_module, "CHUNK", 4096)  # regions merge in any order
    monkeypatch.setattr(read_module, "PREFETCH_FROM", 0)
    scans: list[read_module._SheetScan] = []
    calamine = read_module._calamine

    def spy(content, fmt, found):
        scans.extend(found.values())
        return calamine(content, fmt, found)

    monkeypatch.setattr(read_module, "_calamine", spy)
    threaded = read_workbook(content, "f.xlsx")
    assert threaded == plain
    assert len(threaded.sheets[0].formula_without_value) == 3000
    assert (scans[0].extent.rows, scans[0].extent.cols) == (4000, 6)


def test_members_inflated_ahead_read_the_same(monkeypatch) -> None:
    rows = [[f"mission {i}", i, i * 1.5, "" if i % 7 else "note"] for i in range(3000)]
    content = W.xlsx_bytes({"S": ROWS, "T": rows})
    plain = read_workbook(content, "f.xlsx")
    monkeypatch.setattr(read_module, "CHUNK", 4096)  # many chunks, each cut mid-element
    monkeypatch.setattr(read_module, "PREFETCH_FROM", 0)
    assert read_workbook(content, "f.xlsx") == plain


def _address_by_hand(text: bytes) -> tuple[int, int]:
    """Row and column of an address the slow way: letters, then digits, within 11 bytes."""
    huge, width = 10**9, 11
    col = row = k = 0
    while k < width and k < len(text) and chr(text[k]).upper() in "ABCDEFGHIJKLMNOPQRSTUVWXYZ":
        col = col * 26 + ord(chr(text[k]).upper()) - 64
        k += 1
    while k < width and k < len(text) and chr(text[k]) in "0123456789":
        row = row * 10 + text[k] - 48
        k += 1
    if k == width and row > 0:
        row = huge  # the address runs past the window: far past Excel's last row
    return min(row, huge), min(col, huge)


_ADDRESS_BYTES = st.one_of(
    st.text(alphabet="AHXZahxz0179@[`{/: '", max_size=14).map(str.encode),
    st.binary(max_size=14).map(lambda b: b.replace(b"\0", b"")),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_ADDRESS_BYTES, max_size=20))
def test_addresses_read_with_array_arithmetic_as_by_hand(spelled: list[bytes]) -> None:
    # Each address ends at a quote, as in r="B7"; the quote is never part of one.
    spelled = [t.replace(b'"', b"") for t in spelled]
    region = b"".join(t + b'"' for t in spelled)
    starts, pos = [], 0
    for t in spelled:
        starts.append(pos)
        pos += len(t) + 1
    a = np.frombuffer(region + b"\0" * 19, dtype=np.uint8)
    rows, cols = read_module._parse_addresses(a, np.array(starts, dtype=np.int64))
    expected = [_address_by_hand(t) for t in spelled]
    assert list(zip(rows.tolist(), cols.tolist(), strict=True)) == expected

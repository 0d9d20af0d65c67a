"""Build workbooks in code, so each test shows the exact layout it checks.

Well-formed builders (xlsx, xlsm, ods, xls) take sheets as {name: rows}; hostile builders
make the files an attacker or a broken export would upload, without the test itself
needing much memory.
"""

from __future__ import annotations

import datetime as dt
import io
import struct
import zipfile
import zlib

import openpyxl
import xlwt
from odf.opendocument import OpenDocumentSpreadsheet
from odf.table import CoveredTableCell, Table, TableCell, TableRow
from odf.text import P
from openpyxl.utils.cell import range_boundaries

Rows = list[list[object]]

MB = 1024 * 1024

_XLSX_MAIN = b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
_XLSM_MAIN = b"application/vnd.ms-excel.sheet.macroEnabled.main+xml"


def xlsx_bytes(
    sheets: dict[str, Rows],
    merged: dict[str, list[str]] | None = None,
    formulas: dict[str, dict[str, str]] | None = None,
    hidden: tuple[str, ...] = (),
) -> bytes:
    """An .xlsx written by openpyxl; formulas are saved without cached values."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for r, row in enumerate(rows, start=1):
            for c, value in enumerate(row, start=1):
                if value is not None and value != "":
                    ws.cell(row=r, column=c, value=value)
        for ref in (merged or {}).get(name, []):
            ws.merge_cells(ref)
        for ref, formula in (formulas or {}).get(name, {}).items():
            ws[ref] = formula
        if name in hidden:
            ws.sheet_state = "hidden"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def xlsm_bytes(sheets: dict[str, Rows]) -> bytes:
    """The same workbook declared macro-enabled, as Excel saves an .xlsm."""
    return _rewrite_zip(
        xlsx_bytes(sheets),
        {"[Content_Types].xml": lambda b: b.replace(_XLSX_MAIN, _XLSM_MAIN)},
    )


def ods_bytes(
    sheets: dict[str, Rows],
    merged: dict[str, list[str]] | None = None,
    formulas: dict[str, dict[str, str]] | None = None,
) -> bytes:
    """An .ods written with odfpy: float, date and string cells; merges as spanned + covered."""
    doc = OpenDocumentSpreadsheet()
    for name, rows in sheets.items():
        spans: dict[tuple[int, int], tuple[int, int]] = {}
        covered: set[tuple[int, int]] = set()
        for ref in (merged or {}).get(name, []):
            c0, r0, c1, r1 = range_boundaries(ref)
            spans[(r0 - 1, c0 - 1)] = (r1 - r0 + 1, c1 - c0 + 1)
            covered |= {(r, c) for r in range(r0 - 1, r1) for c in range(c0 - 1, c1)}
            covered.discard((r0 - 1, c0 - 1))
        cell_formulas = {_coords(ref): f for ref, f in (formulas or {}).get(name, {}).items()}
        height = max([len(rows), *(r + 1 for r, _ in covered | set(cell_formulas))])
        table = Table(name=name)
        for r in range(height):
            row = rows[r] if r < len(rows) else []
            width = max([len(row), *(c + 1 for rr, c in covered | set(cell_formulas) if rr == r)])
            tr = TableRow()
            for c in range(width):
                if (r, c) in covered:
                    tr.addElement(CoveredTableCell())
                    continue
                span = {}
                if (r, c) in spans:
                    rows_spanned, cols_spanned = spans[(r, c)]
                    span = {"numberrowsspanned": rows_spanned, "numbercolumnsspanned": cols_spanned}
                if (r, c) in cell_formulas:
                    tr.addElement(TableCell(formula="of:" + cell_formulas[(r, c)], **span))
                    continue
                tr.addElement(_ods_cell(row[c] if c < len(row) else None, span))
            table.addElement(tr)
        doc.spreadsheet.addElement(table)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def _ods_cell(value: object, span: dict[str, int]) -> TableCell:
    if value is None or value == "":
        return TableCell(**span)
    if isinstance(value, bool):
        cell = TableCell(valuetype="boolean", booleanvalue=str(value).lower(), **span)
    elif isinstance(value, int | float):
        cell = TableCell(valuetype="float", value=repr(float(value)), **span)
    elif isinstance(value, dt.date):
        cell = TableCell(valuetype="date", datevalue=value.isoformat(), **span)
    else:
        cell = TableCell(valuetype="string", **span)
    cell.addElement(P(text=str(value)))
    return cell


def _coords(ref: str) -> tuple[int, int]:
    c0, r0, _, _ = range_boundaries(ref)
    return r0 - 1, c0 - 1


def xls_bytes(sheets: dict[str, Rows], merged: dict[str, list[str]] | None = None) -> bytes:
    """A BIFF8 .xls written by xlwt (dates carry a date format, as Excel writes them)."""
    wb = xlwt.Workbook()
    date_style = xlwt.easyxf(num_format_str="yyyy-mm-dd")
    datetime_style = xlwt.easyxf(num_format_str="yyyy-mm-dd hh:mm:ss")
    for name, rows in sheets.items():
        ws = wb.add_sheet(name)
        anchors = {}
        skip: set[tuple[int, int]] = set()
        for ref in (merged or {}).get(name, []):
            c0, r0, c1, r1 = range_boundaries(ref)
            anchors[(r0 - 1, c0 - 1)] = (r1 - 1, c1 - 1)
            skip |= {(r, c) for r in range(r0 - 1, r1) for c in range(c0 - 1, c1)}
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if (r, c) in anchors:
                    r1, c1 = anchors[(r, c)]
                    ws.write_merge(r, r1, c, c1, value)
                elif (r, c) in skip or value is None or value == "":
                    continue
                elif isinstance(value, dt.datetime):
                    ws.write(r, c, value, datetime_style)
                elif isinstance(value, dt.date):
                    ws.write(r, c, value, date_style)
                else:
                    ws.write(r, c, value)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


# ---------------------------------------------------------------- raw zip building


def _rewrite_zip(content: bytes, edits: dict[str, object]) -> bytes:
    """Copy a zip, passing the named members' bytes through the given functions."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(content)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename in edits:
                data = edits[info.filename](data)  # type: ignore[operator]
            dst.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="'
    + _XLSX_MAIN.decode()
    + '"/><Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
    "</Types>"
)
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/worksheet" Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>'
)
_SHEET_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
)
_SHEET_TAIL = "</sheetData></worksheet>"
_EMPTY_STRINGS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="0" '
    'uniqueCount="0"/>'
)


def raw_xlsx(sheet_xml: str, shared_strings: str = _EMPTY_STRINGS) -> bytes:
    """A one-sheet xlsx from hand-written sheet XML (<row>… elements inside sheetData)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", _CONTENT_TYPES)
        z.writestr("_rels/.rels", _ROOT_RELS)
        z.writestr("xl/workbook.xml", _WORKBOOK)
        z.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        z.writestr("xl/sharedStrings.xml", shared_strings)
        z.writestr("xl/worksheets/sheet1.xml", _SHEET_HEAD + sheet_xml + _SHEET_TAIL)
    return out.getvalue()


_ODS_MANIFEST = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" '
    'manifest:version="1.2"><manifest:file-entry manifest:full-path="/" '
    'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
    '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"'
    "{encryption}</manifest:manifest>"
)


def raw_ods(table_xml: str, encrypted: bool = False) -> bytes:
    """A one-table ods from hand-written <table:table-row> XML."""
    encryption = (
        '><manifest:encryption-data manifest:checksum-type="SHA1/1K" manifest:checksum="x">'
        '<manifest:algorithm manifest:algorithm-name="Blowfish CFB" '
        'manifest:initialisation-vector="x"/></manifest:encryption-data></manifest:file-entry>'
        if encrypted
        else "/>"
    )
    content = (
        '<?xml version="1.0" encoding="UTF-8"?><office:document-content '
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        '<office:body><office:spreadsheet><table:table table:name="Sheet1">'
        + table_xml
        + "</table:table></office:spreadsheet></office:body></office:document-content>"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet")
        z.writestr("META-INF/manifest.xml", _ODS_MANIFEST.format(encryption=encryption))
        z.writestr("content.xml", content)
    return out.getvalue()


# ---------------------------------------------------------------- hostile files


def _deflate_repeated(size: int, fill: bytes) -> tuple[bytes, int]:
    """Raw deflate of `size` bytes of `fill` and their CRC, built in a few MB of memory.

    A full flush after each megabyte resets the compressor, so every megabyte compresses
    to the same ~1 KB block: one block repeated is the whole stream.
    """
    block = fill * MB
    comp = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    one = comp.compress(block) + comp.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(size // MB):
        crc = zlib.crc32(block, crc)
    return one * (size // MB) + comp.flush(), crc


def _xlsx_parts() -> list[tuple[str, bytes, int, int, int]]:
    entries = []
    for name, text in (
        ("[Content_Types].xml", _CONTENT_TYPES),
        ("_rels/.rels", _ROOT_RELS),
        ("xl/workbook.xml", _WORKBOOK),
        ("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS),
    ):
        data, crc, size = _deflated(text)
        entries.append((name, data, 8, crc, size))
    return entries


def zip_bomb_xlsx(size: int = 400 * MB) -> bytes:
    """A valid-looking xlsx whose sheet1.xml is `size` bytes of spaces, honestly declared."""
    data, crc = _deflate_repeated(size, b" ")
    return _handmade_zip([*_xlsx_parts(), ("xl/worksheets/sheet1.xml", data, 8, crc, size)])


def lying_zip_bomb(real_size: int = 1024 * MB, declared: int = 1000) -> bytes:
    """An xlsx whose directory declares sheet1.xml tiny while its data inflates to a GB."""
    data, crc = _deflate_repeated(real_size, b"\0")
    return _handmade_zip([*_xlsx_parts(), ("xl/worksheets/sheet1.xml", data, 8, crc, declared)])


def _zip_entry(name: str, data: bytes, method: int, crc: int, declared: int, offset: int):
    """Local header + data, and the matching central directory record."""
    n = name.encode()
    local = (
        struct.pack(
            "<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0, crc, len(data), declared, len(n), 0
        )
        + n
        + data
    )
    central = (
        struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50,
            20,
            20,
            0,
            method,
            0,
            0,
            crc,
            len(data),
            declared,
            len(n),
            0,
            0,
            0,
            0,
            0,
            offset,
        )
        + n
    )
    return local, central


def _handmade_zip(entries: list[tuple[str, bytes, int, int, int]]) -> bytes:
    """A zip whose directory says whatever each entry claims: (name, data, method, crc, size)."""
    body, directory = b"", b""
    for name, data, method, crc, declared in entries:
        local, central = _zip_entry(name, data, method, crc, declared, len(body))
        body += local
        directory += central
    end = struct.pack(
        "<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(directory), len(body), 0
    )
    return body + directory + end


def _deflated(text: str) -> tuple[bytes, int, int]:
    data = text.encode()
    comp = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return comp.compress(data) + comp.flush(), zlib.crc32(data), len(data)


def entity_bomb_xlsx() -> bytes:
    """Billion laughs in sharedStrings.xml."""
    entities = "".join(
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10)
    )
    strings = (
        '<?xml version="1.0"?><!DOCTYPE sst [<!ENTITY lol0 "lol">' + entities + "]>"
        '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" '
        'uniqueCount="1"><si><t>&lol9;</t></si></sst>'
    )
    return raw_xlsx('<row r="1"><c r="A1" t="s"><v>0</v></c></row>', strings)


def sparse_grid_xlsx() -> bytes:
    """Two cells, A1 and XFD1048576: a few hundred bytes that span Excel's whole grid."""
    return raw_xlsx(
        '<row r="1"><c r="A1"><v>1</v></c></row>'
        '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>'
    )


def repeated_cells_ods(rows: int = 100_000, cols: int = 1000) -> bytes:
    """An ods row repeated `rows` times, each with one value repeated over `cols` columns."""
    return raw_ods(
        f'<table:table-row table:number-rows-repeated="{rows}">'
        f'<table:table-cell table:number-columns-repeated="{cols}" office:value-type="float" '
        'office:value="1"/></table:table-row>'
    )


def sparse_grid_xls() -> bytes:
    """An xls with cells at A1 and IV65536, the corners of the BIFF8 grid."""
    wb = xlwt.Workbook()
    ws = wb.add_sheet("Sheet1")
    ws.write(0, 0, 1)
    ws.write(65535, 255, 1)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


# ---------------------------------------------------------------- OLE2 compound files

_END_OF_CHAIN, _FAT_SECTOR, _FREE = 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF
_NO_STREAM = 0xFFFFFFFF


def compound_file(streams: dict[str, bytes]) -> bytes:
    """A minimal OLE2 compound file (512-byte sectors) holding the given streams.

    Streams are padded to 4096 bytes so all live in regular sectors (no mini stream).
    """
    sector = 512
    padded = {name: data.ljust(max(len(data), 4096), b"\0") for name, data in streams.items()}
    fat: list[int] = [_FAT_SECTOR, _END_OF_CHAIN]  # sector 0: FAT, sector 1: directory
    starts = {}
    body = b""
    for name, data in padded.items():
        count = -(-len(data) // sector)
        first = len(fat)
        starts[name] = first
        fat += [first + i + 1 for i in range(count - 1)] + [_END_OF_CHAIN]
        body += data.ljust(count * sector, b"\0")
    if len(fat) > sector // 4 or len(padded) > 3:
        raise ValueError("compound_file builds one FAT sector and one directory sector only")
    fat += [_FREE] * (sector // 4 - len(fat))

    def entry(name: str, kind: int, start: int, size: int, child: int, right: int) -> bytes:
        encoded = name.encode("utf-16-le") + b"\0\0"
        return (
            encoded.ljust(64, b"\0")
            + struct.pack("<HBB", len(encoded), kind, 1)
            + struct.pack("<III", _NO_STREAM, right, child)
            + b"\0" * 16  # class id
            + b"\0" * 4  # state bits
            + b"\0" * 16  # creation and modification times
            + struct.pack("<IQ", start, size)
        )

    names = list(padded)
    directory = entry("Root Entry", 5, _END_OF_CHAIN, 0, 1 if names else _NO_STREAM, _NO_STREAM)
    for i, name in enumerate(names):
        right = i + 2 if i + 1 < len(names) else _NO_STREAM
        directory += entry(name, 2, starts[name], len(streams[name]), _NO_STREAM, right)
    directory = directory.ljust(sector, b"\0")
    header = (
        bytes.fromhex("d0cf11e0a1b11ae1")
        + b"\0" * 16
        + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
        + b"\0" * 6
        + struct.pack("<IIIIIIIII", 0, 1, 1, 0, 4096, _END_OF_CHAIN, 0, _END_OF_CHAIN, 0)
        + struct.pack("<I", 0)
        + struct.pack("<108I", *([_FREE] * 108))
    )
    return header + struct.pack(f"<{sector // 4}I", *fat) + directory + body


def encrypted_xlsx_like() -> bytes:
    """What Excel saves for a password-protected .xlsx: OLE2 with EncryptionInfo/EncryptedPackage."""
    return compound_file(
        {"EncryptionInfo": b"\x04\x00\x04\x00" + b"\0" * 60, "EncryptedPackage": b"\1" * 5000}
    )


def word_document_like() -> bytes:
    """An OLE2 file that is not a workbook (a legacy .doc)."""
    return compound_file({"WordDocument": b"\0" * 100})


def text_named_xlsx() -> bytes:
    """A CSV export that someone renamed to .xlsx."""
    return "年度,工作計畫,預算數\n108,一般行政,8004178\n".encode()

"""Bytes → sheets of raw cell values, refusing hostile files before they cost memory.

Order matters: the size is checked before anything is parsed; the container is sniffed by
its magic bytes, not its name; zip directories, XML parts and cell extents are checked by
streaming before python-calamine (which builds each sheet as a dense grid in memory, and
aborts the whole process when that grid cannot be allocated) ever sees the file.
"""

from __future__ import annotations

import html
import io
import re
import struct
import threading
import zipfile
import zlib
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field, replace
from queue import Full, Queue

import numpy as np
import python_calamine as pc

MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """What an upload may cost; checked before the workbook is parsed."""

    max_bytes: int = 50 * MB
    max_uncompressed: int = 300 * MB
    max_ratio: int = 200  # per zip member larger than 1 MB
    max_rows: int = 1_100_000  # over all sheets of a workbook
    # Rows × columns over all sheets: calamine holds every sheet as a dense grid
    # (32 bytes a cell) and the rows come back as python objects; 8 M cells stay < 1 GB.
    max_cells: int = 8_000_000


DEFAULT_LIMITS = Limits()

Cell = object  # str, int, float, bool, date, datetime, time, timedelta; "" when empty
Range = tuple[int, int, int, int]  # first_row, first_col, last_row, last_col (0-based)


@dataclass(frozen=True)
class Sheet:
    """One sheet: raw rows padded to one width (row 0 is Excel row 1), merges, formula gaps."""

    name: str
    rows: list[list[Cell]]
    merged: tuple[Range, ...] = ()
    # Formula cells saved without their result (the file was never recalculated).
    formula_without_value: tuple[tuple[int, int], ...] = ()
    visible: bool = True


@dataclass(frozen=True)
class Workbook:
    """The readable sheets of one uploaded file."""

    format: str  # "xlsx", "xlsm", "xls" or "ods"
    sheets: tuple[Sheet, ...]


class ReadError(Exception):
    """An upload that cannot be read, with a message for the user in both languages."""

    def __init__(self, code: str, message_zh: str, message_en: str) -> None:
        super().__init__(message_en)
        self.code = code
        self.message_zh = message_zh
        self.message_en = message_en


_SAVE_AS_ZH = "請在 Excel 或 LibreOffice 開啟後另存為 .xlsx 或 .ods 再上傳。"
_SAVE_AS_EN = "Open it in Excel or LibreOffice, save it as .xlsx or .ods, and upload it again."


def _empty() -> ReadError:
    return ReadError(
        "empty",
        "檔案是空的。請確認選對了檔案，並在存檔後再上傳。",
        "The file is empty. Check that you chose the right file and that it was saved.",
    )


def _too_big(size: int, limit: int) -> ReadError:
    return ReadError(
        "too_big",
        f"檔案大小 {size / MB:.1f} MB 超過上限 {limit / MB:.0f} MB。請刪除不需要的工作表或圖片，或分成幾個檔案上傳。",
        f"The file is {size / MB:.1f} MB, over the {limit / MB:.0f} MB limit. Remove sheets or "
        "pictures that are not needed, or split it into several files.",
    )


def _not_spreadsheet(detail_zh: str = "", detail_en: str = "") -> ReadError:
    return ReadError(
        "not_spreadsheet",
        f"這個檔案不是試算表{detail_zh}（可接受 .xlsx、.xlsm、.xls、.ods）。"
        "CSV、網頁或文字檔即使副檔名是 .xlsx 也無法讀取；" + _SAVE_AS_ZH,
        f"This file is not a spreadsheet{detail_en} (accepted: .xlsx, .xlsm, .xls, .ods). "
        "A CSV, web page or text file cannot be read even when named .xlsx. " + _SAVE_AS_EN,
    )


def _encrypted() -> ReadError:
    return ReadError(
        "encrypted",
        "活頁簿設有密碼保護，無法讀取。請在 Excel 或 LibreOffice 中移除密碼（檔案 → 資訊 → 保護活頁簿）後另存新檔再上傳。",
        "The workbook is password-protected and cannot be read. Remove the password in Excel "
        "or LibreOffice (File → Info → Protect Workbook), save a copy and upload that.",
    )


def _bomb(why_en: str) -> ReadError:
    return ReadError(
        "zip_bomb",
        "檔案解壓縮後異常龐大（疑似壓縮炸彈），為保護系統已拒絕。若這是正常的報表，請刪除多餘內容後重新存檔再上傳。",
        f"The file expands to an abnormal size when decompressed ({why_en}) and was refused "
        "to protect the system. If it is a genuine report, remove unneeded content, save it "
        "again and upload it.",
    )


def _entities() -> ReadError:
    return ReadError(
        "xml_entities",
        "檔案內含 XML 實體宣告（DOCTYPE/ENTITY），正常的 Excel 或 LibreOffice 檔案不會有，為安全起見已拒絕。"
        + _SAVE_AS_ZH,
        "The file contains XML entity declarations (DOCTYPE/ENTITY), which genuine Excel or "
        "LibreOffice files never have; it was refused for safety. " + _SAVE_AS_EN,
    )


def _too_many_rows(rows: int, limit: int) -> ReadError:
    return ReadError(
        "too_many_rows",
        f"活頁簿共有 {rows:,} 列，超過上限 {limit:,} 列。請刪除多餘的列或分成幾個檔案上傳。",
        f"The workbook has {rows:,} rows, over the limit of {limit:,}. Delete unneeded rows or "
        "split it into several files.",
    )


def _too_many_cells(cells: int, limit: int) -> ReadError:
    return ReadError(
        "too_many_cells",
        f"活頁簿的資料範圍共 {cells:,} 格，超過上限 {limit:,} 格。請刪除遠離資料的空白格式或多餘欄位後再上傳。",
        f"The workbook's data range spans {cells:,} cells, over the limit of {limit:,}. Delete "
        "stray cells far from the data and unneeded columns, then upload again.",
    )


def _damaged(detail: str = "") -> ReadError:
    return ReadError(
        "damaged",
        "檔案已損壞，無法讀取。請在 Excel 或 LibreOffice 開啟確認內容，另存新檔後再上傳。",
        "The file is damaged and cannot be read"
        + (f" ({detail})" if detail else "")
        + ". Open it in Excel or LibreOffice to check it, save a copy and upload that.",
    )


# ---------------------------------------------------------------- entry point

ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def read_workbook(content: bytes, filename: str, limits: Limits = DEFAULT_LIMITS) -> Workbook:
    """Read every sheet of an uploaded workbook; raises ReadError and nothing else.

    The format is decided by the bytes; filename only makes the messages more helpful.
    """
    # Size first: nothing below may look at more than max_bytes.
    if len(content) > limits.max_bytes:
        raise _too_big(len(content), limits.max_bytes)
    if not content or content.isspace():
        raise _empty()
    try:
        if content.startswith(ZIP_MAGIC):
            return _read_zip(content, limits)
        if content.startswith(OLE_MAGIC):
            return _read_ole(content, limits)
    except ReadError:
        raise
    except MemoryError:
        raise _bomb("out of memory") from None
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # pyo3 reports a Rust panic as a BaseException
        raise _damaged(type(exc).__name__) from None
    raise _sniffed_not_spreadsheet(content, filename)


def _sniffed_not_spreadsheet(content: bytes, filename: str) -> ReadError:
    head = content[:1024].lstrip().lower()
    if filename.lower().endswith((".csv", ".txt")):
        return _not_spreadsheet("（是 CSV 或文字檔）", " (it is a CSV or text file)")
    if head.startswith((b"<!doctype html", b"<html")) or b"<table" in head:
        return _not_spreadsheet("（看起來是網頁 HTML）", " (it looks like a web page)")
    if head.startswith(b"%pdf"):
        return _not_spreadsheet("（是 PDF）", " (it is a PDF)")
    return _not_spreadsheet()


# ---------------------------------------------------------------- zip containers


@dataclass(frozen=True)
class _Member:
    name: str
    offset: int  # of the local file header
    method: int
    flags: int
    compressed: int
    size: int


@dataclass
class _Extent:
    """Upper bound of a sheet's grid as calamine will build it (1-based maxima)."""

    rows: int = 0
    cols: int = 0

    def add(self, rows: int, cols: int) -> None:
        self.rows = max(self.rows, rows)
        self.cols = max(self.cols, cols)


@dataclass
class _SheetScan:
    """What the streaming pass learns about one sheet before calamine reads it."""

    extent: _Extent = field(default_factory=_Extent)
    formulas: list[tuple[int, int]] = field(default_factory=list)
    merged: list[Range] = field(default_factory=list)


_ODS_MIME = b"application/vnd.oasis.opendocument.spreadsheet"
CHUNK = MB
# Excel caps a cell at 32,767 characters; one XML element beyond this is not a spreadsheet.
MAX_ELEMENT = 16 * MB
_ENTITY = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_ENTITY_OVERLAP = 16
# Members larger than this are inflated in a second thread, this many chunks ahead.
PREFETCH_FROM = 4 * MB
PREFETCH = 2
# Their worksheets are scanned in a thread pool, this many regions ahead of the merge.
SCAN_THREADS = 2
SCAN_AHEAD = 2


def _read_zip(content: bytes, limits: Limits) -> Workbook:
    members = _zip_directory(content)
    _check_zip_sizes(members.values(), limits)
    if any(m.flags & 0x1 for m in members.values()):
        raise _encrypted()
    if "mimetype" in members:
        kind = _member_bytes(content, members["mimetype"], 256).strip()
        if kind != _ODS_MIME:
            raise _not_spreadsheet(
                "（是其他 OpenDocument 文件）", " (it is another OpenDocument file)"
            )
        return _read_ods(content, members, limits)
    if "[Content_Types].xml" in members and "xl/workbook.xml" in members:
        types = _member_bytes(content, members["[Content_Types].xml"], 4 * MB)
        fmt = "xlsm" if b"macroEnabled" in types else "xlsx"
        return _read_xlsx(content, members, fmt, limits)
    if "xl/workbook.bin" in members:
        raise _not_spreadsheet("（是 .xlsb 二進位活頁簿）", " (it is an .xlsb binary workbook)")
    raise _not_spreadsheet()


def _zip_directory(content: bytes) -> dict[str, _Member]:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError):
        raise _damaged("zip directory") from None
    return {
        i.filename: _Member(
            i.filename,
            i.header_offset,
            i.compress_type,
            i.flag_bits,
            i.compress_size,
            i.file_size,
        )
        for i in infos
    }


def _check_zip_sizes(members: Iterable[_Member], limits: Limits) -> None:
    """Refuse by the directory's own numbers, before anything is decompressed."""
    total = 0
    for m in members:
        total += m.size
        ratio = m.size / max(m.compressed, 1)
        if m.size > MB and ratio > limits.max_ratio:
            raise _bomb(f"{m.name} expands {ratio:,.0f}×")
    if total > limits.max_uncompressed:
        raise _bomb(f"{total / MB:,.0f} MB uncompressed")


def _stream(content: bytes, m: _Member) -> Generator[bytes]:
    """Decompress one member in chunks, never producing more than its declared size."""
    if content[m.offset : m.offset + 4] != ZIP_MAGIC:
        raise _damaged("zip member header")
    name_len, extra_len = struct.unpack_from("<HH", content, m.offset + 26)
    start = m.offset + 30 + name_len + extra_len
    end = start + m.compressed
    if end > len(content):
        raise _damaged("truncated zip")
    # No CRC here: python-calamine checks it when it reads the member.
    produced = 0
    if m.method == 0:
        for pos in range(start, end, CHUNK):
            yield content[pos : min(pos + CHUNK, end)]
        produced = m.compressed
    elif m.method == 8:
        d = zlib.decompressobj(-zlib.MAX_WBITS)
        pos = start
        while not d.eof:
            if d.unconsumed_tail:
                data = d.unconsumed_tail
            elif pos < end:
                data = content[pos : min(pos + CHUNK, end)]
                pos += len(data)
            else:
                raise _damaged("truncated zip member")
            # max_length bounds memory even when the directory lies about the size.
            out = d.decompress(data, CHUNK)
            produced += len(out)
            if produced > m.size:
                raise _bomb(f"{m.name} inflates past its declared size")
            if out:
                yield out
    else:
        raise _damaged(f"zip compression method {m.method}")
    if produced != m.size:
        raise _damaged(f"{m.name} size")


def _member_bytes(content: bytes, m: _Member, cap: int) -> bytes:
    if m.size > cap:
        raise _damaged(f"{m.name} too large")
    data = b"".join(_stream(content, m))
    if _ENTITY.search(data):
        raise _entities()
    return data


def _ahead(chunks: Iterator[bytes], depth: int = PREFETCH) -> Generator[bytes]:
    """The same chunks, produced in a second thread up to ``depth`` ahead of the consumer.

    zlib releases the GIL while it inflates, so a large member decompresses while the
    previous chunk is scanned (numpy releases it too). Errors reach the consumer in order;
    a consumer that stops early stops the producer, and at most ``depth`` chunks wait.
    """
    queue: Queue[tuple[bytes | None, BaseException | None]] = Queue(depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for chunk in chunks:
                while not stop.is_set():
                    try:
                        queue.put((chunk, None), timeout=0.1)
                        break
                    except Full:
                        continue
                if stop.is_set():
                    return
            item: tuple[bytes | None, BaseException | None] = (None, None)
        except BaseException as exc:  # handed to the consumer, raised there
            item = (None, exc)
        while not stop.is_set():
            try:
                queue.put(item, timeout=0.1)
                return
            except Full:
                continue

    worker = threading.Thread(target=produce, name="kpi-inflate", daemon=True)
    worker.start()
    try:
        while True:
            chunk, error = queue.get()
            if error is not None:
                raise error
            if chunk is None:
                return
            yield chunk
    finally:
        stop.set()
        worker.join()


def _scan_member(content: bytes, m: _Member, sink: Callable[[bytes, bool], None] | None) -> None:
    """Stream one member: refuse entity declarations; feed complete chunks to sink."""
    chunks: Generator[bytes] = _stream(content, m)
    if m.size > PREFETCH_FROM:
        chunks = _ahead(chunks)
    # Closed at once when the scan refuses the member: the inflating thread stops too.
    with closing(chunks):
        _scan_chunks(chunks, sink)


def _scan_chunks(chunks: Iterator[bytes], sink: Callable[[bytes, bool], None] | None) -> None:
    tail = b""
    for chunk in chunks:
        # find() first: the regex is case-insensitive and far slower than a byte search.
        if b"<!" in tail + chunk[:_ENTITY_OVERLAP] and _ENTITY.search(tail + chunk[:64]):
            raise _entities()
        # "<" is everywhere in XML and "!" almost nowhere: look for the rare byte first.
        if b"!" in chunk and b"<!" in chunk and _ENTITY.search(chunk):
            raise _entities()
        tail = chunk[-_ENTITY_OVERLAP:]
        if sink is not None:
            sink(chunk, False)
    if sink is not None:
        sink(b"", True)


def _check_extents(scans: dict[str, _SheetScan], limits: Limits) -> None:
    rows = sum(s.extent.rows for s in scans.values())
    if rows > limits.max_rows:
        raise _too_many_rows(rows, limits.max_rows)
    cells = sum(s.extent.rows * s.extent.cols for s in scans.values())
    if cells > limits.max_cells:
        raise _too_many_cells(cells, limits.max_cells)


# ---------------------------------------------------------------- xlsx / xlsm

_FORMULA = re.compile(rb"<f[\s>/]")
_PREFIXED_FORMULA = re.compile(rb"<(?:\w+:)?f[\s>/]")  # slower: tries every "<"
_CELL_CLOSE = re.compile(rb"</(?:\w+:)?c\s*>")
_LOOKBACK = 4096
_TAG_END = (b" ", b"\t", b"\r", b"\n", b">")
_REF = re.compile(rb"""\sr\s*=\s*["']([A-Za-z]{1,3})(\d{1,7})["']""")
_VALUE = re.compile(rb"<(?:\w+:)?v\s*>([^<]*)</(?:\w+:)?v\s*>")
_STRING_RESULT = re.compile(rb"""\st\s*=\s*["']str["']""")


@dataclass(frozen=True)
class _RegionScan:
    """What one region of a worksheet's XML tells about the sheet's grid."""

    cell_rows: int = 0  # the largest row and column of an addressed cell that is not empty
    cell_cols: int = 0
    row_tags: int = 0  # the largest r="…" of a <row> tag
    cells_without_ref: int = 0
    rows_without_ref: int = 0
    formulas: tuple[tuple[int, int], ...] = ()  # formula cells saved without a value


class _XlsxSheetScanner:
    """Streams a worksheet's XML: bounds the cell grid and finds formulas without a value.

    Given a thread pool, regions are scanned in it, a few at a time, while the next ones
    are cut (numpy releases the GIL); what they find is merged in any order.
    """

    def __init__(self, scan: _SheetScan, pool: ThreadPoolExecutor | None = None) -> None:
        self.scan = scan
        self.pool = pool
        self.pending: deque[Future[_RegionScan]] = deque()
        self.carry = b""
        self.cells_without_ref = 0
        self.rows_without_ref = 0
        self.max_row_tag = 0

    def __call__(self, chunk: bytes, last: bool) -> None:
        buf = self.carry + chunk
        if last:
            cut = len(buf)
        else:
            # Keep an unfinished cell element (or, failing that, tag) for the next chunk.
            cut = _last_cell_start(buf)
            if cut < 0:
                cut = buf.rfind(b"<")
            cut = max(cut, 0)
        region, self.carry = buf[:cut], buf[cut:]
        if len(self.carry) > MAX_ELEMENT:
            raise _damaged("oversized cell")
        if region and self.pool is None:
            self._merge(_XlsxSheetScanner._region(region))
        elif region:
            self.pending.append(self.pool.submit(_XlsxSheetScanner._region, region))
            while len(self.pending) > SCAN_AHEAD:
                self._merge(self.pending.popleft().result())
        if not last:
            return
        while self.pending:
            self._merge(self.pending.popleft().result())
        if self.cells_without_ref:
            # Cells written without an address continue from the previous one (or the row's).
            e = self.scan.extent
            e.add(
                max(e.rows, self.max_row_tag) + self.rows_without_ref,
                e.cols + self.cells_without_ref,
            )

    def _merge(self, found: _RegionScan) -> None:
        self.scan.extent.add(found.cell_rows, found.cell_cols)
        self.max_row_tag = max(self.max_row_tag, found.row_tags)
        self.cells_without_ref += found.cells_without_ref
        self.rows_without_ref += found.rows_without_ref
        self.scan.formulas.extend(found.formulas)

    @staticmethod
    def _region(region: bytes) -> _RegionScan:
        """Scan one region of whole elements (and tags) for the grid's bound and formulas."""
        found, formula_tags = _XlsxSheetScanner._extent(region)
        if not formula_tags:
            return found
        prefixed = b":f>" in region or b":f " in region
        formulas = _XlsxSheetScanner._formulas(region, _PREFIXED_FORMULA if prefixed else _FORMULA)
        return replace(found, formulas=tuple(formulas))

    @staticmethod
    def _extent(region: bytes) -> tuple[_RegionScan, bool]:
        """The bound the region's cells and rows give; whether it holds formula tags."""
        n = len(region)
        a = np.frombuffer(region + b"\0" * _PAD, dtype=np.uint8)
        # Tag names start after "<", or after "prefix:" (calamine ignores the prefix).
        lt = np.flatnonzero(a[:n] == ord("<"))
        starts = lt + 1
        prefixed = _PREFIXED_NAME.search(region) is not None
        if prefixed:
            # Excel puts colons on every row (spans="1:8", x14ac:dyDescent): only a colon
            # before c, row or f can start a tag name, and most regions have none.
            colons = np.flatnonzero(a[:n] == ord(":")) + 1
            starts = np.sort(np.concatenate([starts, colons]))
        first = a[starts]
        cells = np.flatnonzero(first == ord("c"))
        cells = cells[_ends_name(a[starts[cells] + 1])]
        rows = np.flatnonzero(first == ord("r"))
        at = starts[rows]
        rows = rows[(a[at + 1] == ord("o")) & (a[at + 2] == ord("w")) & _ends_name(a[at + 3])]
        f = starts[first == ord("f")]
        formula_tags = bool(_ends_name(a[f + 1]).any())
        maxima, missing = [], []
        for tags, name_len in ((cells, 1), (rows, 3)):
            after = starts[tags] + name_len
            # The "<" that follows each tag: the next one in lt, unless colons joined starts.
            nxt = np.searchsorted(lt, after) if prefixed else tags + 1
            r, c, closed = _XlsxSheetScanner._addresses(region, a, after, lt, nxt)
            keep = ~closed & (r > 0)
            maxima.append((int(r[keep].max()), int(c[keep].max())) if keep.any() else (0, 0))
            missing.append(int((r == 0).sum()))
        (cell_rows, cell_cols), (row_tags, _) = maxima
        found = _RegionScan(cell_rows, cell_cols, row_tags, missing[0], missing[1])
        return found, formula_tags

    @staticmethod
    def _addresses(
        region: bytes, a: np.ndarray, after: np.ndarray, lt: np.ndarray, nxt: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The r="…" address of each tag (row, column; 0 when absent) and if it self-closes.

        ``nxt`` is the index in ``lt`` of the "<" after each tag. Excel, LibreOffice and
        openpyxl all write r first (<c r="B7" …>): those addresses are read with array
        arithmetic; any other spelling is read with a regex, tag by tag.
        """
        quote = (a[after + 3] == ord('"')) | (a[after + 3] == ord("'"))
        fast = (
            (a[after] == ord(" ")) & (a[after + 1] == ord("r")) & (a[after + 2] == ord("=")) & quote
        )
        rows, cols = _parse_addresses(a, after[fast] + 4)
        r = np.zeros(len(after), dtype=np.int64)
        c = np.zeros(len(after), dtype=np.int64)
        r[fast], c[fast] = rows, cols
        for i in np.flatnonzero(~fast):
            end = region.find(b">", int(after[i]))
            m = _ANY_REF.match(region, int(after[i]), end if end >= 0 else len(region))
            if m and m.group(2):
                r[i] = min(int(m.group(2)), _HUGE)
                c[i] = min(_col_index(m.group(1)) + 1, _HUGE) if m.group(1) else 0
        # Self-closed when the next tag follows "/>" (pretty-printed files count as open).
        closed = np.zeros(len(after), dtype=bool)
        has = nxt < len(lt)
        follow = lt[nxt[has]]
        closed[has] = (a[follow - 1] == ord(">")) & (a[follow - 2] == ord("/"))
        return r, c, closed

    @staticmethod
    def _formulas(region: bytes, pattern: re.Pattern[bytes]) -> list[tuple[int, int]]:
        found = []
        for f in pattern.finditer(region):
            # <f> is the first child of its cell, so the cell's start tag is close behind.
            start = _cell_start(region, f.start())
            close = _CELL_CLOSE.search(region, f.end())
            if start < 0 or close is None:
                continue
            head = region[start : region.find(b">", start) + 1]
            cell = region[start : close.start()]
            ref = _REF.search(head)
            if ref is None:
                continue  # no address: cannot name the cell (Excel always writes one)
            value = _VALUE.search(cell)
            has_value = value is not None and (value.group(1) != b"" or _STRING_RESULT.search(head))
            if not has_value:
                found.append((int(ref.group(2)) - 1, _col_index(ref.group(1))))
        return found


_PREFIXED_NAME = re.compile(rb":(?:c|row|f)[ \t\r\n>/]")
_ANY_REF = re.compile(rb"""[^>]*?\sr\s*=\s*["']([A-Za-z]*)(\d*)""")
_REF_WIDTH = 11  # "XFD1048576" and a closing quote; longer addresses are capped anyway
_PAD = _REF_WIDTH + 8
_HUGE = 10**9


def _parse_addresses(a: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Addresses starting at pos ("B7", "xfd1048576", "12" for a row): 1-based row, column."""
    # Each address's bytes side by side, so that every step below reads one narrow column.
    # Taken as rows of a sliding view: one index per address, not a matrix of indexes.
    window = np.lib.stride_tricks.sliding_window_view(a, _REF_WIDTH)[pos]
    cols = np.zeros(len(pos), dtype=np.int64)
    rows = np.zeros(len(pos), dtype=np.int64)
    in_letters = np.ones(len(pos), dtype=bool)
    in_digits = np.ones(len(pos), dtype=bool)
    for k in range(_REF_WIDTH):
        ch = window[:, k]
        # Byte arithmetic wraps below "A" and "0", so one comparison tests each range.
        letter_value = (ch & ~np.uint8(32)) - np.uint8(64)  # calamine accepts lowercase letters
        letter = in_letters & (letter_value - np.uint8(1) < 26)
        digit_value = ch - np.uint8(48)
        digit = ~letter & in_digits & (digit_value < 10)
        # Eleven letters or digits fit in 64 bits: the caps below come once, at the end.
        cols = np.where(letter, cols * 26 + letter_value, cols)
        rows = np.where(digit, rows * 10 + digit_value, rows)
        in_letters = letter
        in_digits = letter | digit
        if not in_digits.any():
            break
    # More digits than the window holds: far past Excel's last row. A fourth letter is
    # already past Excel's last column.
    rows = np.where(in_digits & (rows > 0), _HUGE, np.minimum(rows, _HUGE))
    return rows, np.minimum(cols, _HUGE)


def _is_space(a: np.ndarray) -> np.ndarray:
    return (a == 32) | (a == 9) | (a == 10) | (a == 13)


def _ends_name(a: np.ndarray) -> np.ndarray:
    return _is_space(a) | (a == ord(">")) | (a == ord("/"))


def _last_cell_start(buf: bytes) -> int:
    """Where the last <c …> tag starts; -1 if none."""
    i = len(buf)
    while (i := buf.rfind(b"<c", 0, i)) >= 0:
        if buf[i + 2 : i + 3] in _TAG_END:
            return i
    return -1


def _cell_start(region: bytes, pos: int) -> int:
    """Start of the <c> (or <x:c>) tag that holds the formula at pos; -1 if not close by."""
    low = max(0, pos - _LOOKBACK)
    i = pos
    while (i := region.rfind(b"c", low, i)) > 0:
        if region[i + 1 : i + 2] in _TAG_END:
            if region[i - 1 : i] == b"<":
                return i - 1
            if region[i - 1 : i] == b":":
                return region.rfind(b"<", low, i)
    return -1


def _col_index(letters: bytes) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ch - 64
    return n - 1


_XML_TAG = re.compile(rb"<(?:\w+:)?(sheet|Relationship)\s([^>]*)>")
_ATTR = re.compile(rb"""([\w:]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")


def _sheet_paths(workbook_xml: bytes, rels_xml: bytes) -> dict[str, str]:
    """Sheet name → worksheet XML member, via xl/workbook.xml and its relationships."""
    targets: dict[str, str] = {}
    for tag in _XML_TAG.finditer(rels_xml):
        if tag.group(1) == b"Relationship":
            a = _attrs(tag.group(2))
            target = a.get("Target", "")
            path = target.lstrip("/") if target.startswith("/") else "xl/" + target
            targets[a.get("Id", "")] = _normpath(path)
    paths: dict[str, str] = {}
    for tag in _XML_TAG.finditer(workbook_xml):
        if tag.group(1) == b"sheet":
            a = _attrs(tag.group(2))
            rid = next((v for k, v in a.items() if k.endswith(":id")), "")
            if rid in targets and "name" in a:
                paths[a["name"]] = targets[rid]
    return paths


def _attrs(text: bytes) -> dict[str, str]:
    return {
        m.group(1).decode(): html.unescape(
            (m.group(2) or m.group(3) or b"").decode("utf-8", "replace")
        )
        for m in _ATTR.finditer(text)
    }


def _normpath(path: str) -> str:
    parts: list[str] = []
    for p in path.split("/"):
        if p == "..":
            if parts:
                parts.pop()
        elif p not in ("", "."):
            parts.append(p)
    return "/".join(parts)


def _read_xlsx(content: bytes, members: dict[str, _Member], fmt: str, limits: Limits) -> Workbook:
    rels = members.get("xl/_rels/workbook.xml.rels")
    paths = _sheet_paths(
        _member_bytes(content, members["xl/workbook.xml"], 16 * MB),
        _member_bytes(content, rels, 16 * MB) if rels else b"",
    )
    by_path = {p: name for name, p in paths.items()}
    scans: dict[str, _SheetScan] = {}
    # Threads start with the first large worksheet, if any.
    with ThreadPoolExecutor(SCAN_THREADS, thread_name_prefix="kpi-scan") as pool:

        def scanner(m: _Member, scan: _SheetScan) -> _XlsxSheetScanner:
            return _XlsxSheetScanner(scan, pool if m.size > PREFETCH_FROM else None)

        for m in members.values():
            sheet = by_path.get(m.name)
            if sheet is not None:
                scans[sheet] = _SheetScan()
                _scan_member(content, m, scanner(m, scans[sheet]))
            else:
                _scan_member(content, m, None)
        # A worksheet calamine finds but the relationships do not name would escape the bound.
        for m in members.values():
            if m.name.startswith("xl/worksheets/") and m.name not in by_path:
                orphan = _SheetScan()
                _scan_member(content, m, scanner(m, orphan))
                scans[f"\0{m.name}"] = orphan
    _check_extents(scans, limits)
    return _calamine(content, fmt, scans)


# ---------------------------------------------------------------- ods

_ODS_TABLE = re.compile(rb"<table:table[\s>]")
_ODS_ROW = re.compile(rb"<table:table-row[\s/>]")
_ODS_ROW_END = b"</table:table-row>"
_ODS_CELL = re.compile(rb"<table:(covered-)?table-cell(?=[\s/>])([^>]*?)(/?)>")
_ODS_ROWS_REPEATED = re.compile(rb"table:number-rows-repeated\s*=\s*[\"'](\d+)")
_ODS_COLS_REPEATED = re.compile(rb"table:number-columns-repeated\s*=\s*[\"'](\d+)")
_ODS_ROWS_SPANNED = re.compile(rb"table:number-rows-spanned\s*=\s*[\"'](\d+)")
_ODS_COLS_SPANNED = re.compile(rb"table:number-columns-spanned\s*=\s*[\"'](\d+)")
_ODS_NAME = re.compile(rb"""table:name\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_ODS_VALUE_ATTR = re.compile(
    rb"office:(?:value|date-value|time-value|string-value|boolean-value)\s*="
)
_ODS_CONTENT = (b"office:value-type", b"<text:", b"table:formula")
# ODF cells may not repeat past Excel's grid; a larger count is a repetition bomb.
_BIG = 10**9


class _OdsScanner:
    """Streams content.xml: per table, the grid bound, merged ranges and formula gaps.

    calamine 0.9.1 reports no merged ranges for ODS, so they are read here from
    table:number-rows-spanned / number-columns-spanned. Rows and cells repeated with
    number-rows-repeated / number-columns-repeated are counted, not expanded, so a tiny
    file declaring millions of repeated cells is caught before calamine materialises them.
    """

    def __init__(self) -> None:
        self.scans: dict[str, _SheetScan] = {}
        self.current: _SheetScan | None = None
        self.row = 0
        self.carry = b""

    def __call__(self, chunk: bytes, last: bool) -> None:
        buf = self.carry + chunk
        pos = 0
        while True:
            t = _ODS_TABLE.search(buf, pos)
            r = _ODS_ROW.search(buf, pos)
            if t is None and r is None:
                pos = max(pos, len(buf) - 64)  # keep a tail: a tag may be split
                break
            start = t.start() if t is not None and (r is None or t.start() < r.start()) else None
            if start is not None:
                end = buf.find(b">", start)
                if end < 0:
                    pos = start
                    break
                self._table(buf[start:end])
                pos = end + 1
                continue
            assert r is not None
            head_end = buf.find(b">", r.start())
            if head_end < 0:
                pos = r.start()
                break
            if buf[head_end - 1 : head_end] == b"/":
                body, after = b"", head_end + 1
            else:
                close = buf.find(_ODS_ROW_END, head_end)
                if close < 0:
                    pos = r.start()
                    break
                body, after = buf[head_end + 1 : close], close + len(_ODS_ROW_END)
            self._row(buf[r.start() : head_end], body)
            pos = after
        self.carry = buf[pos:]
        if len(self.carry) > MAX_ELEMENT:
            raise _damaged("oversized row")

    def _table(self, head: bytes) -> None:
        name = _ODS_NAME.search(head)
        label = (
            html.unescape((name.group(1) or name.group(2) or b"").decode("utf-8", "replace"))
            if name
            else ""
        )
        self.current = self.scans.setdefault(label, _SheetScan())
        self.row = 0

    def _row(self, head: bytes, body: bytes) -> None:
        repeat = _int(_ODS_ROWS_REPEATED.search(head), 1)
        if self.current is None:  # rows outside any table still count against the limits
            self._table(b"")
        scan = self.current
        assert scan is not None
        if not any(k in body for k in _ODS_CONTENT):
            self.row += repeat
            return
        simple = not any(k in body for k in (b"repeated", b"spanned", b"table:formula"))
        if simple:
            width = body.count(b"<table:table-cell") + body.count(b"<table:covered-table-cell")
        else:
            width = self._cells(body)
        scan.extent.add(self.row + repeat, width)
        self.row += repeat

    def _cells(self, body: bytes) -> int:
        """Walk one row's cells; returns the column after the last non-empty one."""
        scan = self.current
        assert scan is not None
        col = 0
        width = 0
        cells = list(_ODS_CELL.finditer(body))
        for i, c in enumerate(cells):
            attrs, closed = c.group(2), c.group(3) == b"/"
            repeat = _int(_ODS_COLS_REPEATED.search(attrs), 1)
            inner = (
                b""
                if closed
                else body[c.end() : cells[i + 1].start() if i + 1 < len(cells) else len(body)]
            )
            filled = (
                b"office:value-type" in attrs or b"<text:" in inner or b"table:formula" in attrs
            )
            if filled:
                width = col + repeat
            rows = _int(_ODS_ROWS_SPANNED.search(attrs), 1)
            cols = _int(_ODS_COLS_SPANNED.search(attrs), 1)
            if (rows > 1 or cols > 1) and not c.group(1):
                scan.merged.append((self.row, col, self.row + rows - 1, col + cols - 1))
            if (
                b"table:formula" in attrs
                and not _ODS_VALUE_ATTR.search(attrs)
                and b"<text:" not in inner
            ):
                scan.formulas.append((self.row, col))
            col = min(col + repeat, _BIG)
        return width


def _int(m: re.Match[bytes] | None, default: int) -> int:
    return min(int(m.group(1)), _BIG) if m else default


def _read_ods(content: bytes, members: dict[str, _Member], limits: Limits) -> Workbook:
    manifest = members.get("META-INF/manifest.xml")
    if manifest is not None and b"encryption-data" in _member_bytes(content, manifest, 16 * MB):
        raise _encrypted()
    if "content.xml" not in members:
        raise _damaged("no content.xml")
    scanner = _OdsScanner()
    for m in members.values():
        _scan_member(content, m, scanner if m.name == "content.xml" else None)
    _check_extents(scanner.scans, limits)
    return _calamine(content, "ods", scanner.scans)


# ---------------------------------------------------------------- xls (OLE2 compound file)

_MAX_SECTOR = 0xFFFFFFFA  # above this, sector numbers are markers (free, end of chain…)


class _Ole:
    """Just enough of the compound file format to list streams and read one."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        if len(data) < 512:
            raise _damaged("compound file header")
        shift, mini_shift = struct.unpack_from("<HH", data, 30)
        if shift not in (9, 12) or mini_shift != 6:
            raise _damaged("compound file header")
        self.size = 1 << shift
        self.mini_size = 1 << mini_shift
        (n_fat, self.dir_start, _, self.mini_cutoff, mini_fat_start, _, difat_start, n_difat) = (
            struct.unpack_from("<IIIIIIII", data, 44)
        )
        sectors = [s for s in struct.unpack_from("<109I", data, 76) if s < _MAX_SECTOR]
        per = self.size // 4 - 1
        s = difat_start
        for _ in range(min(n_difat, len(data) // self.size)):
            if s >= _MAX_SECTOR:
                break
            entries = struct.unpack_from(f"<{per + 1}I", self._sector(s))
            sectors += [e for e in entries[:per] if e < _MAX_SECTOR]
            s = entries[per]
        self.fat = self._table(sectors[:n_fat])
        self.entries = self._directory()
        root = next((e for e in self.entries if e[1] == 5), None)
        if root is None:
            raise _damaged("compound file root")
        self.mini_stream_start = root[2]
        self.mini_fat_start = mini_fat_start

    def _sector(self, n: int) -> bytes:
        off = (n + 1) * self.size
        if off >= len(self.data):
            raise _damaged("compound file sector")
        return self.data[off : off + self.size]  # the last sector may be cut short

    def _table(self, sectors: list[int]) -> np.ndarray:
        """Sector-number table (FAT or mini FAT) stored in the given sectors."""
        raw = b"".join(self._sector(s) for s in sectors)
        return np.frombuffer(raw[: len(raw) // 4 * 4], dtype="<u4")

    def _chain(self, start: int, fat: np.ndarray) -> list[int]:
        chain: list[int] = []
        s = start
        while s < _MAX_SECTOR:
            if s >= len(fat) or len(chain) > len(fat):
                raise _damaged("compound file chain")
            chain.append(s)
            s = int(fat[s])
        return chain

    def _directory(self) -> list[tuple[str, int, int, int]]:
        raw = b"".join(self._sector(s) for s in self._chain(self.dir_start, self.fat))
        out = []
        for off in range(0, len(raw) - 127, 128):
            name_len, kind = struct.unpack_from("<HB", raw, off + 64)
            if kind == 0:
                continue
            name = raw[off : off + max(0, min(name_len, 64) - 2)].decode("utf-16-le", "replace")
            start, size = struct.unpack_from("<IQ", raw, off + 116)
            out.append((name, kind, start, size if self.size == 4096 else size & 0xFFFFFFFF))
        return out

    def names(self) -> set[str]:
        return {name.lower() for name, kind, _, _ in self.entries if kind in (1, 2)}

    def read(self, wanted: str) -> bytes:
        entry = next(
            (e for e in self.entries if e[0].lower() == wanted.lower() and e[1] == 2), None
        )
        if entry is None:
            raise _damaged(f"no {wanted} stream")
        _, _, start, size = entry
        if size >= self.mini_cutoff:
            data = b"".join(self._sector(s) for s in self._chain(start, self.fat))
        else:
            mini = b"".join(self._sector(s) for s in self._chain(self.mini_stream_start, self.fat))
            mini_fat = self._table(self._chain(self.mini_fat_start, self.fat))
            data = b"".join(
                mini[s * self.mini_size : (s + 1) * self.mini_size]
                for s in self._chain(start, mini_fat)
            )
        if len(data) < size:
            raise _damaged(f"{wanted} stream truncated")
        return data[:size]


# BIFF records that put a value in a cell (blank cells do not widen calamine's grid).
_BIFF_CELLS = frozenset({0x0203, 0x027E, 0x00FD, 0x0204, 0x0205, 0x0006, 0x00D6})
_BIFF_MULRK, _BIFF_BOF, _BIFF_FILEPASS = 0x00BD, 0x0809, 0x002F


def _biff_extents(stream: bytes) -> dict[str, _SheetScan]:
    """Grid bound of every sheet substream (and refuse encrypted xls: FILEPASS)."""
    scans: dict[str, _SheetScan] = {}
    current = _Extent()
    unpack = struct.unpack_from
    pos, n, sub = 0, len(stream), -1
    max_row = max_col = -1
    while pos + 4 <= n:
        rtype, rlen = unpack("<HH", stream, pos)
        body = pos + 4
        if rtype in _BIFF_CELLS and rlen >= 4:
            row, col = unpack("<HH", stream, body)
            if row > max_row:
                max_row = row
            if col > max_col:
                max_col = col
        elif rtype == _BIFF_MULRK and rlen >= 6:
            row, _ = unpack("<HH", stream, body)
            (last,) = unpack("<H", stream, body + rlen - 2)
            max_row, max_col = max(max_row, row), max(max_col, last)
        elif rtype == _BIFF_BOF:
            current.add(max_row + 1, max_col + 1)
            sub += 1
            current = scans.setdefault(str(sub), _SheetScan()).extent
            max_row = max_col = -1
        elif rtype == _BIFF_FILEPASS:
            raise _encrypted()
        pos = body + rlen
    current.add(max_row + 1, max_col + 1)
    return scans


def _read_ole(content: bytes, limits: Limits) -> Workbook:
    ole = _Ole(content)
    names = ole.names()
    if {"encryptioninfo", "encryptedpackage"} & names:
        raise _encrypted()
    stream = "workbook" if "workbook" in names else "book" if "book" in names else None
    if stream is None:
        raise _not_spreadsheet("（是其他 Office 文件）", " (it is another Office document)")
    scans = _biff_extents(ole.read(stream))
    _check_extents(scans, limits)
    return _calamine(content, "xls", {})


# ---------------------------------------------------------------- calamine


def _calamine(content: bytes, fmt: str, scans: dict[str, _SheetScan]) -> Workbook:
    try:
        book = pc.CalamineWorkbook.from_filelike(io.BytesIO(content))
    except pc.PasswordError:
        raise _encrypted() from None
    except Exception:
        raise _damaged("workbook") from None
    sheets = []
    with book:
        for index, meta in enumerate(book.sheets_metadata):
            # Chart and dialog sheets hold no cells.
            if meta.typ != pc.SheetTypeEnum.WorkSheet:
                continue
            try:
                sheet = book.get_sheet_by_index(index)
                merges = sheet.merged_cell_ranges
                rows = sheet.to_python(skip_empty_area=False)
            except pc.PasswordError:
                raise _encrypted() from None
            except Exception:
                raise _damaged(f"sheet {meta.name}") from None
            scan = scans.get(meta.name, _SheetScan())
            rows = _trimmed(rows)
            if merges is None:
                found = tuple(scan.merged)
            else:
                found = tuple((r0, c0, r1, c1) for (r0, c0), (r1, c1) in merges)
            sheets.append(
                Sheet(
                    name=meta.name,
                    rows=rows,
                    merged=_clipped(found, rows),
                    formula_without_value=tuple(sorted(set(scan.formulas))),
                    visible=meta.visible == pc.SheetVisibleEnum.Visible,
                )
            )
    return Workbook(format=fmt, sheets=tuple(sheets))


def _trimmed(rows: list[list[Cell]]) -> list[list[Cell]]:
    """Drop trailing empty rows and columns (calamine's rows all have one width)."""
    while rows and all(c == "" for c in rows[-1]):
        rows.pop()
    full = width = len(rows[0]) if rows else 0
    while width and all(r[width - 1] == "" for r in rows):
        width -= 1
    if width < full:
        for r in rows:
            del r[width:]
    return rows


def _clipped(merged: tuple[Range, ...], rows: list[list[Cell]]) -> tuple[Range, ...]:
    """Merged ranges limited to the cells that exist (a merge may run past the data)."""
    height, width = len(rows), len(rows[0]) if rows else 0
    out = []
    for r0, c0, r1, c1 in sorted(merged):
        if r0 < height and c0 < width:
            out.append((r0, c0, min(r1, height - 1), min(c1, width - 1)))
    return tuple(out)

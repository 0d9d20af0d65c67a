"""Fuzzing the importer: random cells, header spellings and sheet layouts (issue 5, item 8).

Whatever a workbook holds, ``analyze`` answers with its own report and never a traceback;
every problem reads in both languages and names the sheet it is about; a refused file
writes nothing, a dry run never writes, and an accepted file stores exactly its rows.

A workbook is drawn as a plain spec (a format, sheets of rows, merged ranges, hidden
sheets) and built in the test body, so a failing example prints a spec that rebuilds the
same file, and the draws never depend on a writer's output. Imports run on SQLite and
PostgreSQL (the ``store`` fixture); ``analyze`` alone writes nothing, so SQLite serves.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from dataclasses import dataclass, field
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from kpi.catalog import load_catalog
from kpi.engine import Engine
from kpi.ingest import FileReport, analyze, layout
from kpi.ingest.datasets import (
    CHOICE,
    DATASETS,
    DATE,
    INT,
    MONEY,
    MONTH,
    NUMBER,
    QUARTER,
    RATE,
    YEAR,
    YEAR_MONTH,
    Dataset,
    Field,
)
from kpi.ingest.layout import column_letter, match_header
from kpi.ingest.read import DEFAULT_LIMITS, ZIP_MAGIC
from kpi.ingest.report import ERROR, WARNING
from kpi.plan import load_bundled_plan
from kpi.store import Store
from tests.workbooks import MB, ods_bytes, xls_bytes, xlsx_bytes

Rows = list[list[object]]

# Problems about the whole file rather than one sheet: the reader's refusals, no sheet
# recognised, and the store's refusal.
FILE_LEVEL = {
    "empty",
    "too_big",
    "not_spreadsheet",
    "encrypted",
    "zip_bomb",
    "xml_entities",
    "too_many_rows",
    "too_many_cells",
    "damaged",
    "no_data_sheet",
    "store_refused",
}

# ---------------------------------------------------------------- cell values

_CJK = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)
_FULL_WIDTH = st.characters(min_codepoint=0xFF01, max_codepoint=0xFF5E)  # ！ … ～, ０–９, Ａ–ｚ
_EMOJI = st.characters(min_codepoint=0x1F300, max_codepoint=0x1F64F)
# C0 controls cannot be stored in .xlsx (the builder drops them there); .ods and .xls keep them.
_CONTROL = st.sampled_from(
    ["\x00", "\x01", "\x08", "\x0b", "\x1f", "\t", "\n", "\r", "\x7f", "\x85", "\u200b"]
    + ["\u2028", "\ufeff", "\u202e", "\u3000", "{", "}", "%", "'", '"', "\\", "&", "<", ">"]
)
_CHAR = st.one_of(_CJK, _FULL_WIDTH, _EMOJI, _CONTROL, st.characters(codec="utf-8"))
_TEXT = st.text(_CHAR, max_size=12)
# Up to Excel's 32,767 characters a cell, drawn as a short seed repeated.
_LONG_TEXT = st.builds(
    lambda seed, n: ((seed or "長") * n)[:n], st.text(_CHAR, max_size=3), st.integers(256, 32767)
)
_SPECIAL = st.sampled_from(
    [
        "",
        " ",
        "\u3000",
        "-",
        "—",
        "–",
        "－",
        "--",
        "N/A",
        "合計",
        "小計",
        "Total",
        "註：",
        "說明",
        '=HYPERLINK("http://example.com/x","點我")',
        "=SUM(A1:A3)",
        "=1/0",
        "=",
        "+cmd|' /C calc'!A0",
        "@SUM(1)",
        "<script>alert(1)</script>",
        "<b>粗體</b>",
        "[連結](javascript:alert(1))",
        "第5季",
        "Q0",
        "13月",
        "108/02/30",
        "0/0/0",
        "1,2,3",
        "(5)",
        "((5))",
        "1e999",
        "-0",
        "NaN",
        "inf",
        "TRUE",
    ]
)


def _full_width(text: str) -> str:
    """ASCII → full-width forms, as some Chinese input methods type digits and letters."""
    return "".join(
        chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else "\u3000" if c == " " else c for c in text
    )


_SMALL = st.integers(-3, 3000)
_PERIOD_TEXT = st.builds(
    lambda pattern, y, m, d: pattern.format(y=y, m=m, d=d),
    st.sampled_from(
        [
            "{y}/{m:02d}/{d:02d}",
            "{y}.{m}.{d}",
            "{y}年{m}月{d}日",
            "民國{y}年{m}月{d}日",
            "{y}-{m:02d}-{d:02d}",
            "{y}{m:02d}{d:02d}",
            "{y}/{m:02d}",
            "{y}年{m}月",
            "{y}年度",
            "{y}Q{m}",
            "{y}年第{m}季",
            "第{m}季",
            "Q{m}",
            "{m}月",
            "截至{m}月底",
            "{y}/{m}/{d} 12:30",
        ]
    ),
    st.one_of(st.sampled_from([0, 1, 99, 108, 109, 200, 201, 1911, 1912, 2019, 2111]), _SMALL),
    st.integers(0, 13),
    st.integers(0, 32),
)
_NUMBER_TEXT = st.one_of(
    st.integers(-(10**15), 10**15).map("{:,}".format),
    st.floats(-1e6, 1e6).map("{:.2f}%".format),
    st.floats(0, 1e9).map("{:,.3f}".format),
    st.integers(0, 10**9).map(lambda n: _full_width(f"{n:,}")),
    st.integers(0, 10**6).map("({:,})".format),
    st.integers(0, 10**6).map("−{}".format),
    st.integers(0, 10**6).map(lambda n: f" {n // 1000} {n % 1000:03d} "),
)
CELLS = st.one_of(
    st.none(),
    _SPECIAL,
    _TEXT,
    _LONG_TEXT,
    _PERIOD_TEXT,
    _NUMBER_TEXT,
    st.integers(-(10**30), 10**30),
    st.floats(),  # NaN and ±inf included: .ods and .xls store them, .xlsx writes a blank
    st.floats(min_value=-1e-300, max_value=1e-300),
    st.booleans(),
    st.dates(dt.date(1800, 1, 1), dt.date(9999, 12, 31)),
    st.datetimes(dt.datetime(1900, 1, 1), dt.datetime(9999, 12, 31)),
    st.times(),
    st.timedeltas(dt.timedelta(days=-3), dt.timedelta(days=3)),
)

# ---------------------------------------------------------------- plausible values per field

CATALOG = load_catalog()
_PROGRAMS = [p.name for p in load_bundled_plan().programs] + ["一般行政", "第一預備金"]
_TEXT_VALUES = {
    "program": _PROGRAMS,
    "agency": ["外交部", "領事事務局", ""],
    "mission": ["駐日本代表處", "駐美國代表處", "駐法國代表處", "駐巴拉圭大使館"],
    "region": ["亞太", "北美", "歐洲", "拉丁美洲", ""],
    "country": ["日本", "巴拉圭", "Paraguay", "美國", "史瓦濟蘭", "吉里巴斯", "索羅門群島"],
    "delegation": ["友好訪問團", "國會議員訪團", "APEC 會議", "", "合計訪團"],
    "kpi": [i.id for i in CATALOG.indicators] + [CATALOG.indicators[0].name_zh, "K9.9"],
    "note": ["進度符合預期", "", "受疫情影響延後", "Total 說明"],
}
_DASH_OR_BLANK = st.sampled_from(["", "-", "—", None])
_GOOD_BY_KIND: dict[str, st.SearchStrategy[object]] = {
    YEAR: st.sampled_from([108, 2019, "108", "108年", "民國108年度", "2019年", 108.0]),
    MONTH: st.one_of(st.integers(1, 12), st.sampled_from(["3月", "三月", "12月底", "截至6月"])),
    QUARTER: st.one_of(st.integers(1, 4), st.sampled_from(["第2季", "Q3", "108Q2", "2019Q4"])),
    YEAR_MONTH: st.one_of(
        st.sampled_from(["108/01", "108年4月", "2019-01", "108/12/31", 201905, "10803"]),
        st.dates(dt.date(2019, 1, 1), dt.date(2019, 12, 31)),
    ),
    DATE: st.one_of(
        st.dates(dt.date(2019, 1, 1), dt.date(2019, 12, 31)),
        st.datetimes(dt.datetime(2019, 1, 1), dt.datetime(2019, 12, 31)),
        st.sampled_from(["108/02/15", "108.2.15", "108年2月15日", "2019-02-15", 20190215]),
    ),
    MONEY: st.one_of(
        st.integers(0, 10**10),
        st.floats(0, 1e9),
        st.sampled_from(["1,234", "12,345.6", "０", "８,０００"]),
        _DASH_OR_BLANK,
    ),
    INT: st.one_of(st.integers(0, 10**6), st.sampled_from(["1,234", "１２"]), _DASH_OR_BLANK),
    NUMBER: st.one_of(st.integers(0, 1000), st.floats(0, 1000), _DASH_OR_BLANK),
    RATE: st.one_of(st.floats(0, 2), st.floats(0, 200), st.sampled_from(["92.35%", "100%", "-"])),
}


def good_values(f: Field, first: bool = False) -> st.SearchStrategy[object]:
    """Values an office would plausibly write in this field's column (``first``: top row)."""
    if f.kind == CHOICE:
        spellings = sorted({s for key, sps in f.choices.items() for s in (key, *sps)})
        return st.sampled_from(spellings + ([] if f.strict else ["其他簽證", "大使"]))
    strategy = (
        _GOOD_BY_KIND[f.kind] if f.kind in _GOOD_BY_KIND else st.sampled_from(_TEXT_VALUES[f.name])
    )
    # A blank below a value is a ditto mark where the field fills down.
    return st.one_of(strategy, st.just("")) if f.fill_down and not first else strategy


# ---------------------------------------------------------------- header spellings

_UNITS = ["（千元）", "(元)", "(%)", "【件】", "〔新臺幣萬元〕", "<百萬元>", "《天》", "(千元)"]


@st.composite
def spelled(draw: st.DrawFn, header: str, meaning_kept: bool = True) -> str:
    """A synonym as offices type it: spaces, line breaks, full width, case, a unit.

    With ``meaning_kept=False`` the noise may also change the words (a prefix, braces).
    """
    text = header
    ops = ["pad", "break", "wide", "case", "unit"]
    if not meaning_kept:
        ops += ["prefix", "odd"]
    for op in draw(st.lists(st.sampled_from(ops), max_size=3)):
        if op == "pad":
            space = draw(st.sampled_from([" ", "  ", "\u3000", "\t"]))
            text = f"{space}{text}{draw(st.sampled_from(['', space]))}"
        elif op == "break":
            at = draw(st.integers(0, len(text)))
            text = text[:at] + draw(st.sampled_from(["\n", "\r\n", " ", "\u3000"])) + text[at:]
        elif op == "wide":
            text = _full_width(text)
        elif op == "case":
            text = draw(st.sampled_from([str.upper, str.title, str.swapcase]))(text)
        elif op == "unit":
            text += draw(st.sampled_from(_UNITS))
        elif op == "prefix":
            text = draw(st.sampled_from(["本月", "累計", "108年", "全年", "合計"])) + text
        else:
            text += draw(st.sampled_from(["{註}", "{0}", "{", "}", "%", "{v}", "*", "#"]))
    return text


# ---------------------------------------------------------------- sheet layouts

_TITLES = st.one_of(
    st.builds(
        lambda t, y, a, b, u, q: t.format(y=y, a=a, b=b, u=u, q=q),
        st.sampled_from(
            [
                "外交部{y}年度預算執行表",
                "中華民國{y}年{a}月至{b}月",
                "截至{b}月底",
                "單位：新臺幣{u}元",
                "{y}年第{q}季簽證核發統計",
                "{y}Q{q}",
                "{y}年度施政績效指標填報（第{q}季）",
                "近10年 單位:{u}元",
            ]
        ),
        st.sampled_from([0, 99, 108, 109, 201, 2019, 2020, 9999]),
        st.integers(0, 13),
        st.integers(0, 13),
        st.sampled_from(["", "千", "仟", "萬", "百萬", "千萬", "億", "美"]),
        st.integers(0, 5),
    ),
    _TEXT,
)
# A footnote starts with 註, 說明, 資料來源…; the lines below it continue it.
_FOOTNOTES = st.tuples(
    st.sampled_from(
        ["註：1.本表依會計月報編製。", "資料來源：外交部", "說明：", "Note: figures are YTD"]
    ),
    st.lists(st.sampled_from(["　2.金額四捨五入。", "(3) 含追加預算", ""]), max_size=2),
).map(lambda t: [t[0], *t[1]])
_TOTAL_LABELS = st.sampled_from(["合計", "總計", "小計", "Total", "Grand total", "共 計"])
_SHEET_NAMES = [
    "預算",
    "簽證",
    "訪問交流",
    "指標",
    "2019Q4",
    "108Q2",
    "說明",
    "Sheet1",
    "108年1-3月",
    "空白",
    "去年 (隱藏)",
    "{v}表{0}",
    "O'Brien",
]
_SPANNING = ("program", "mission", "country", "kpi")  # fields a merge typically spans
# Not required, but a visa sheet says its month somewhere; the title rarely does.
_PERIOD_COLUMNS = {"visa": ("period",)}


@dataclass(frozen=True)
class Sheet:
    """One sheet's cells (row 0 is Excel row 1) and merged ranges such as "A5:A6"."""

    rows: Rows
    merged: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Book:
    """A workbook spec; ``build`` writes it in its format."""

    fmt: str
    sheets: dict[str, Sheet]
    hidden: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return f"fuzz.{self.fmt}"

    def build(self) -> bytes:
        rows = {name: s.rows for name, s in self.sheets.items()}
        merged = {name: s.merged for name, s in self.sheets.items()}
        if self.fmt == "xlsx":
            clean = {n: [[_xml_safe(c) for c in row] for row in r] for n, r in rows.items()}
            return xlsx_bytes(clean, merged=merged, hidden=self.hidden)
        if self.fmt == "ods":
            return ods_bytes(rows, merged=merged, formulas=_ods_formulas(rows))
        clean = {n: [[_biff_safe(c) for c in row] for row in r] for n, r in rows.items()}
        return xls_bytes(clean, merged=merged)


def _xml_safe(value: object) -> object:
    """openpyxl refuses C0 control characters (XML 1.0 cannot hold them)."""
    return ILLEGAL_CHARACTERS_RE.sub("", value) if isinstance(value, str) else value


def _ods_formulas(sheets: dict[str, Rows]) -> dict[str, dict[str, str]]:
    """Text starting with = as a formula saved without its result, as openpyxl writes it."""
    return {
        name: {
            _ref(r, c): value[1:]
            for r, row in enumerate(rows)
            for c, value in enumerate(row)
            if isinstance(value, str) and value.startswith("=") and len(value) > 1
        }
        for name, rows in sheets.items()
    }


def _biff_safe(value: object) -> object:
    """xlwt writes no durations: a duration is a number of days, as Excel stores it."""
    return value / dt.timedelta(days=1) if isinstance(value, dt.timedelta) else value


def _ref(row: int, col: int) -> str:
    return f"{column_letter(col)}{row + 1}"


@st.composite
def header_row(draw: st.DrawFn, ds: Dataset, wild: bool) -> list[tuple[object, Field | None]]:
    """The header: (text, field) per column; fields missing, duplicated, unknown, shuffled."""
    columns: list[tuple[object, Field | None]] = []
    for f in ds.fields:
        needed = f.required or f.name in _PERIOD_COLUMNS.get(ds.name, ())
        keep = draw(st.integers(0, 9)) < (10 - wild * 2 if needed else 5)
        if keep:
            columns.append((draw(spelled(draw(st.sampled_from(f.headers)), not wild)), f))
    if columns and draw(st.integers(0, 4)) == 0:
        text, f = draw(st.sampled_from(columns))
        columns.append((draw(st.sampled_from([text, *(f.headers if f else ())])), f))
    for _ in range(draw(st.integers(0, 2))):
        unknown = st.one_of(st.sampled_from(["序號", "備考", "No.", "", 108, 2019]), _TEXT, CELLS)
        columns.append((draw(unknown), None))
    return draw(st.permutations(columns)) if draw(st.booleans()) else columns


@st.composite
def data_sheet(draw: st.DrawFn, ds: Dataset, tame: bool = False) -> Sheet:
    """One dataset's sheet as offices lay it out, clean or with wild cells mixed in."""
    # Out of 10 cells, how many are drawn from anything at all rather than plausible values.
    wildness = 0 if tame else draw(st.sampled_from([0, 0, 0, 0, 1, 3, 10]))
    header = draw(header_row(ds, wild=wildness > 0))
    indent = draw(st.sampled_from([0, 0, 1, 2]))  # blank columns left of the table
    width = indent + len(header)

    def cell(f: Field | None) -> object:
        if f is None or draw(st.integers(0, 9)) < wildness:
            return draw(CELLS)
        return draw(good_values(f, first=not data_rows))

    def line(cells: list[object]) -> list[object]:
        return [""] * indent + cells + [""] * (width - indent - len(cells))

    # Blank rows above the title; past HEADER_SEARCH_ROWS the header is not looked for.
    rows: Rows = [line([]) for _ in range(draw(st.sampled_from([0, 0, 0, 0, 1, 5, 19, 22])))]
    titles = draw(st.lists(_TITLES, max_size=3))
    title_at = len(rows)
    for title in titles:
        unit = draw(st.sampled_from(["", "單位：千元", "單位：新臺幣元", "(萬元)"]))
        rows.append(line([title, *([""] * (len(header) - 2)), unit][: max(len(header), 1)]))
    if titles and draw(st.booleans()):
        rows.append(line([]))
    head_at = len(rows)
    rows.append(line([text for text, _ in header]))
    data_rows: list[int] = []
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from(["data", "data", "data", "data", "blank", "total"]))
        if kind == "blank":
            rows.append(line([]))
        elif kind == "total":
            rows.append(line([draw(_TOTAL_LABELS), *(cell(f) for _, f in header[1:])]))
        else:
            rows.append(line([cell(f) for _, f in header]))
            data_rows.append(len(rows) - 1)
    if data_rows and draw(st.integers(0, 9)) == 0:
        # Long enough for more than MAX_PROBLEMS_PER_CODE problems (and repeated keys).
        rows.extend(list(rows[r]) for _ in range(60 // len(data_rows) + 1) for r in data_rows)
    if draw(st.booleans()):
        rows.extend(line([note]) for note in draw(_FOOTNOTES))

    merged: list[str] = []
    taken: set[tuple[int, int]] = set()

    def merge(r0: int, c0: int, r1: int, c1: int) -> None:
        """Merge a range unless it overlaps another; covered cells are empty, as saved."""
        cells = {(r, c) for r in range(r0, r1 + 1) for c in range(c0, c1 + 1)}
        if len(cells) < 2 or cells & taken or r1 >= len(rows) or c1 >= width:
            return
        taken.update(cells)
        for r, c in cells - {(r0, c0)}:
            rows[r][c] = ""
        merged.append(f"{_ref(r0, c0)}:{_ref(r1, c1)}")

    if titles and draw(st.booleans()):
        merge(title_at, indent, title_at, width - 1)
    # A name spanning its rows (經常門 and 資本門 of one program)…
    span_col = next(
        (indent + i for i, (_, f) in enumerate(header) if f and f.name in _SPANNING), indent
    )
    pairs = [r for r in data_rows if r + 1 in data_rows]
    for r in draw(st.lists(st.sampled_from(pairs), unique=True, max_size=2)) if pairs else []:
        merge(r, span_col, r + 1, span_col)
    # …a header cell merged down into the row below, and merges anywhere at all.
    if header and draw(st.integers(0, 5)) == 0:
        col = draw(st.integers(indent, width - 1))
        merge(head_at, col, head_at + 1, col)
    if rows and width and not tame:
        for _ in range(draw(st.integers(0, 2))):
            r0, c0 = draw(st.integers(0, len(rows) - 1)), draw(st.integers(0, width - 1))
            merge(r0, c0, r0 + draw(st.integers(0, 2)), c0 + draw(st.integers(0, 2)))
    return Sheet(rows, merged)


_OTHER_SHEETS = {
    "empty": st.just(Sheet([])),
    "notes": st.lists(st.lists(st.one_of(_TITLES, _FOOTNOTES.map(" ".join)), max_size=2))
    .filter(bool)
    .map(Sheet),
    "junk": st.lists(st.lists(CELLS, min_size=1, max_size=5), min_size=1, max_size=5).map(Sheet),
}
_KINDS = [*DATASETS, *DATASETS, *_OTHER_SHEETS]


@st.composite
def books(draw: st.DrawFn, tame: bool = False) -> Book:
    """A workbook of one to three sheets: data of any dataset, empty, instructions, junk."""
    fmt = draw(st.sampled_from(["xlsx", "ods", "xls"]))
    names = draw(st.lists(st.sampled_from(_SHEET_NAMES), min_size=1, max_size=3, unique=True))
    sheets = {}
    for name in names:
        kind = draw(st.sampled_from(_KINDS))
        sheets[name] = draw(
            data_sheet(DATASETS[kind], tame) if kind in DATASETS else _OTHER_SHEETS[kind]
        )
    # The first sheet stays visible: a workbook needs one.
    hidden = tuple(n for n in names[1:] if draw(st.integers(0, 3)) == 0) if fmt == "xlsx" else ()
    return Book(fmt, sheets, hidden)


# ---------------------------------------------------------------- checks


def over_ratio(content: bytes) -> bool:
    """Whether a zip member trips the bomb guard's ratio: over 1 MB, expanding > max_ratio×.

    A well-formed file can: openpyxl writes strings inline, so a long note repeated down
    the rows makes a sheet of a few MB that deflates 400-fold.
    """
    if not content.startswith(ZIP_MAGIC):
        return False
    with zipfile.ZipFile(io.BytesIO(content)) as z:
        return any(
            i.file_size > MB and i.file_size > DEFAULT_LIMITS.max_ratio * max(i.compress_size, 1)
            for i in z.infolist()
        )


def check_report(report: FileReport, book: Book, content: bytes) -> None:
    """What every report must satisfy, whatever the file held."""
    assert isinstance(report, FileReport)
    if report.format is None and over_ratio(content):
        assert [p.code for p in report.problems] == ["zip_bomb"]
        return
    # The builders write well-formed files: the reader must read them, not refuse them.
    assert report.format == book.fmt, [p.message_en for p in report.errors]
    for p in report.problems:
        assert p.severity in (ERROR, WARNING)
        assert p.message_zh.strip() and p.message_en.strip(), p
        assert p.message_zh != p.message_en, p
        assert p.sheet is None or p.sheet in book.sheets, p
        assert p.row is None or p.row >= 1, p
        if p.severity == ERROR and p.code not in FILE_LEVEL:
            assert p.sheet is not None, p
    assert report.rows == sum(len(f) for f in report.frames.values())
    if not report.ok:
        return
    for name, frame in report.frames.items():
        key = list(DATASETS[name].key)
        assert frame[key].notna().all().all(), name
        assert not frame.duplicated(key).any(), name
        for column in ("budget", "allotted", "spent", "payable", "applications", "issued"):
            if column in frame:
                values = frame[column].astype(float).fillna(0)
                assert np.isfinite(values).all() and (values >= 0).all(), column


def snapshot(store: Store) -> tuple:
    """Everything an import could change: the version, the batches and the row counts."""
    return (
        store.version(),
        [(b.id, b.status) for b in store.batches()],
        {name: store.count_rows(name) for name in DATASETS},
    )


# ---------------------------------------------------------------- properties

_YEARS = st.sampled_from([None, 108, 109])
_QUARTERS = st.sampled_from([None, 1, 2, 3, 4])
_FUZZ = settings(
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # the store is shared; each example checks deltas
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


@pytest.fixture
def engine(store: Store) -> Engine:
    return Engine(store, CATALOG)


@pytest.fixture
def sqlite_engine(sqlite_store: Store) -> Engine:
    return Engine(sqlite_store, CATALOG)


@settings(max_examples=40)
@given(data=st.data())
def test_noisy_synonyms_are_recognised(data: st.DataObject) -> None:
    """Spaces, line breaks, full width, case and a bracketed unit never hide a header."""
    ds = DATASETS[data.draw(st.sampled_from(list(DATASETS)))]
    f = data.draw(st.sampled_from(ds.fields))
    synonym = data.draw(st.sampled_from(f.headers))
    expected, _ = match_header([synonym], ds)
    columns, _ = match_header([data.draw(spelled(synonym))], ds)
    assert columns == expected


@settings(_FUZZ, max_examples=200)
@given(book=books(), year=_YEARS, quarter=_QUARTERS, bare=st.booleans())
def test_analyze_answers_every_workbook_with_a_report(
    book: Book, year: int | None, quarter: int | None, bare: bool, sqlite_engine: Engine
) -> None:
    """Random cells, headers and layouts: a report comes back, never an exception."""
    ctx = None if bare else sqlite_engine.context(year, quarter)
    content = book.build()
    report = analyze(content, book.name, ctx)
    check_report(report, book, content)
    event(f"{book.fmt} {'accepted' if report.ok else 'refused'} with {report.rows} rows")


@settings(_FUZZ, max_examples=40)
@given(
    book=st.one_of(books(tame=True), books()), year=_YEARS, quarter=_QUARTERS, replace=st.booleans()
)
def test_imports_write_all_or_nothing(
    book: Book, year: int | None, quarter: int | None, replace: bool, engine: Engine
) -> None:
    """A dry run never writes; a refused file writes nothing; an accepted one its rows exactly.

    Each example undoes its batch, so every example starts from an empty store.
    """
    store = engine.store
    content = book.build()
    before = snapshot(store)
    assert before[2] == dict.fromkeys(DATASETS, 0)
    options = {"year": year, "quarter": quarter, "replace": replace}

    dry = engine.import_bytes(content, book.name, dry_run=True, **options)
    check_report(dry.report, book, content)
    assert dry.status == ("valid" if dry.report.ok else "refused")
    assert snapshot(store) == before

    result = engine.import_bytes(content, book.name, **options)
    event(result.status)
    # What the upload page and the CLI show: plain JSON in either language.
    for lang in ("zh-TW", "en"):
        json.dumps(result.as_json(lang), ensure_ascii=False)
    assert result.status == ("imported" if result.report.ok else "refused")
    if result.status == "refused" or result.batch is None:
        assert snapshot(store) == before
        assert result.report.rows == 0 or result.status == "refused"
        return
    assert result.changes == dry.changes
    report = result.report
    for name in DATASETS:
        assert store.count_rows(name) == len(report.frames.get(name, ())), name
    assert store.batch(result.batch).rows == report.rows

    engine.undo(result.batch)
    assert snapshot(store)[2] == before[2]


# ---------------------------------------------------------------- regressions the fuzzer found


def test_braces_in_a_header_are_quoted_not_formatted() -> None:
    """A header such as 預算數{0} is still 預算數; quoting it in a message raised IndexError."""
    rows = [
        ["外交部108年度預算執行表"],
        ["截至3月底"],
        ["工作計畫", "經資門", "預算數{0}", "累計分配數{註}", "實支數{"],
        ["一般行政", "經常門", "abc", "x", "y"],
    ]
    report = analyze(xlsx_bytes({"預算": rows}), "budget.xlsx")

    found = {p.code: p for p in report.errors}
    assert set(found) == {"bad_budget", "bad_allotted", "bad_spent"}
    assert found["bad_budget"].message_zh == "「預算數{0}」的值「abc」不是有效的金額。"
    assert found["bad_allotted"].message_zh == "「累計分配數{註}」的值「x」不是有效的金額。"
    assert found["bad_spent"].message_en == "Spent (YTD) 'y' is not a valid amount."


@settings(_FUZZ, max_examples=25)
@given(book=books(), year=_YEARS, quarter=_QUARTERS)
def test_parsers_read_alike_with_and_without_the_layouts_classification(
    book: Book, year: int | None, quarter: int | None, sqlite_engine: Engine
) -> None:
    """The parsers reuse how the layout classified each column's cells: same report."""
    ctx = sqlite_engine.context(year, quarter)
    content = book.build()
    shared = analyze(content, book.name, ctx)

    def unclassified(*args, **kwargs) -> layout.Table:
        return layout.Table(layout.read_table(*args, **kwargs).frame, {})

    with mock.patch("kpi.ingest.read_table", unclassified):
        alone = analyze(content, book.name, ctx)
    assert (shared.format, shared.sheets, shared.problems) == (
        alone.format,
        alone.sheets,
        alone.problems,
    )
    assert shared.frames.keys() == alone.frames.keys()
    for name, frame in shared.frames.items():
        pd.testing.assert_frame_equal(frame, alone.frames[name])

"""Sheet layout: find the header row, read title-row facts, fill merged cells, drop non-data rows.

Real reports put a title, the period and the unit above the header, merge a program's
name over its 經常門 and 資本門 rows, and end with 合計 rows and footnotes. This module
turns such a sheet into a plain table of data rows that keep their Excel row numbers.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from dataclasses import dataclass

import numpy as np
import pandas as pd

from kpi.ingest.datasets import DATASETS, Dataset
from kpi.ingest.values import Kinds, header_key, kinds_of, title_facts

HEADER_SEARCH_ROWS = 20

_TOTAL_RE = re.compile(
    r"^(合\s*計|總\s*計|小\s*計|共\s*計|總\s*數|grand\s*total|sub-?total|total)\b", re.I
)
_NONE = type(None)
_NOTE_RE = re.compile(r"^(註|注|附註|備註|說明|資料來源|填表|製表|主辦|審核|note|source)", re.I)


@dataclass(frozen=True)
class Fact:
    """A value read from the sheet's surroundings, and where it was found."""

    value: int
    source_zh: str
    source_en: str


@dataclass(frozen=True)
class Header:
    """The recognised header row of a sheet: which column holds which field."""

    dataset: Dataset
    row: int  # 0-based row index in the sheet
    columns: dict[str, int]  # field name → 0-based column
    texts: dict[str, str]  # field name → header text as written


@dataclass(frozen=True)
class SheetFacts:
    """Year, period and unit read from title rows and the sheet name."""

    year: Fact | None = None
    month_to: Fact | None = None
    quarter: Fact | None = None
    unit: Fact | None = None


def _synonym_index(ds: Dataset) -> dict[str, str]:
    index: dict[str, str] = {}
    for f in ds.fields:
        for h in f.headers:
            index.setdefault(header_key(h), f.name)
    return index


_SYNONYMS = {name: _synonym_index(ds) for name, ds in DATASETS.items()}


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return unicodedata.normalize("NFKC", str(value)).strip()


def match_header(cells: list[object], ds: Dataset) -> tuple[dict[str, int], dict[str, str]]:
    """Map header cells to the dataset's fields: exact synonyms first, then containment."""
    index = _SYNONYMS[ds.name]
    columns: dict[str, int] = {}
    texts: dict[str, str] = {}
    keys = [header_key(_cell_text(c)) for c in cells]
    for col, key in enumerate(keys):
        name = index.get(key)
        if key and name and name not in columns:
            columns[name] = col
            texts[name] = _cell_text(cells[col])
    # A header such as "本月累計實支數" still names 實支數; only unclaimed columns qualify,
    # and the longest synonym wins so 年度預算數 never reads as 年度.
    for col, key in enumerate(keys):
        if not key or col in columns.values():
            continue
        best = None
        for syn, name in index.items():
            # Header cells are short; a sentence that mentions a field is not its header.
            if name in columns or len(syn) < 2 or syn not in key or len(key) > len(syn) + 6:
                continue
            if best is None or len(syn) > len(best[0]):
                best = (syn, name)
        if best:
            columns[best[1]] = col
            texts[best[1]] = _cell_text(cells[col])
    return columns, texts


def find_header(rows: list[list[object]]) -> Header | None:
    """The row (within the first 20) that best matches one dataset's headers."""
    best: tuple[int, int, Header] | None = None
    for r, cells in enumerate(rows[:HEADER_SEARCH_ROWS]):
        if sum(1 for c in cells if _cell_text(c)) < 2:
            continue
        for ds in DATASETS.values():
            columns, texts = match_header(cells, ds)
            required = sum(1 for f in ds.fields if f.required and f.name in columns)
            score = len(columns)
            if score < ds.min_headers:
                continue
            rank = (required, score)
            if best is None or rank > best[:2]:
                best = (*rank, Header(ds, r, columns, texts))
    return best[2] if best else None


def read_facts(rows: list[list[object]], header_row: int, sheet_name: str) -> SheetFacts:
    """Year, period and unit from the title rows above the header, then the sheet name."""
    found: dict[str, Fact] = {}

    def take(text: str, where_zh: str, where_en: str) -> None:
        facts = title_facts(text)
        for name in ("year", "month_to", "quarter", "unit"):
            value = getattr(facts, name)
            if value is not None and name not in found:
                found[name] = Fact(int(value), where_zh, where_en)

    for r in range(header_row):
        text = " ".join(_cell_text(c) for c in rows[r] if _cell_text(c))
        if text:
            take(text, f"標題列第 {r + 1} 列", f"title row {r + 1}")
    # Units are often written at the right end of the header row itself.
    header_text = " ".join(_cell_text(c) for c in rows[header_row] if "單位" in _cell_text(c))
    if header_text:
        take(header_text, f"第 {header_row + 1} 列", f"row {header_row + 1}")
    take(sheet_name, f"工作表名稱「{sheet_name}」", f"sheet name '{sheet_name}'")
    return SheetFacts(
        found.get("year"), found.get("month_to"), found.get("quarter"), found.get("unit")
    )


@dataclass(frozen=True)
class Table:
    """A sheet's data rows (``data_table``) and how their cells were classified."""

    frame: pd.DataFrame
    kinds: dict[str, Kinds]  # field name → its column's cells, row for row


def data_table(
    rows: list[list[object]],
    header: Header,
    merged: tuple[tuple[int, int, int, int], ...],
    formulas: tuple[tuple[int, int], ...] = (),
) -> pd.DataFrame:
    """The data rows below the header as raw cells, one column per field, plus ``_row``.

    Merged ranges are filled from their top-left cell; blank, total and footnote rows are
    dropped. ``_row`` is the Excel row number (1-based). Cells in ``formulas`` (formulas
    saved without a result) read as empty but are not blank: their row stays, so the
    validator can report them.
    """
    return read_table(rows, header, merged, formulas).frame


def read_table(
    rows: list[list[object]],
    header: Header,
    merged: tuple[tuple[int, int, int, int], ...],
    formulas: tuple[tuple[int, int], ...] = (),
) -> Table:
    """``data_table``, with each field's cells classified (for the parsers to reuse)."""
    start = header.row + 1
    grid = _grid(rows, start, formulas)
    height, width = grid.shape
    # A merge fills down its first column only: a program name spans its rows, while a
    # footnote or a 合計 label spanning columns is one cell of text, not one per column.
    # A title or header cell merged downwards is not a data value.
    for r0, c0, r1, _c1 in merged:
        if start <= r0 < r1 and r0 < len(rows) and c0 < len(rows[r0]):
            grid[r0 + 1 - start : r1 - start + 1, c0] = rows[r0][c0]
    # Column by column: which cells are blank, which rows are labelled as totals.
    free_text = {
        col for name, col in header.columns.items() if header.dataset.field(name).free_text
    }
    blank = np.ones((height, width), dtype=bool)
    is_total = np.zeros(height, dtype=bool)
    kinds = [kinds_of(grid[:, col]) for col in range(width)]
    for col in range(width):
        texts = _Texts.of(grid[:, col], kinds[col])
        blank[:, col] = texts.blank
        if col not in free_text:
            is_total[texts.starting_with(_TOTAL_RE)] = True
    for r, c in formulas:
        if r >= start:
            blank[r - start, c] = False
    filled = (~blank).sum(axis=1)
    # Footnotes are short rows that start with 註, 說明, 資料來源…; only those rows are read.
    short = np.flatnonzero((filled > 0) & (filled <= 2))
    is_note = np.zeros(height, dtype=bool)
    if len(short):
        firsts = _Texts.of(grid[short, np.argmax(~blank[short], axis=1)])
        is_note[short[firsts.starting_with(_NOTE_RE)]] = True
    # A footnote often runs over several rows ("註：1.…" then "　2.…"): below the first
    # one, short rows are footnote too.
    after_note = np.maximum.accumulate(is_note) & (filled <= 2)
    keep = np.flatnonzero((filled > 0) & ~is_total & ~after_note)
    names, cols = list(header.columns), list(header.columns.values())
    if len(keep) == height and cols == list(range(width)):
        # Every row and column is data (a sheet as the template writes it): no copies.
        out = pd.DataFrame(grid, columns=names, dtype=object, copy=False)
        fields = {name: kinds[col] for name, col in header.columns.items()}
    else:
        out = pd.DataFrame(grid[np.ix_(keep, cols)], columns=names, dtype=object, copy=False)
        fields = {name: kinds[col].take(keep) for name, col in header.columns.items()}
    out["_row"] = keep + start + 1
    return Table(out, fields)


def _grid(
    rows: list[list[object]], start: int, formulas: tuple[tuple[int, int], ...]
) -> np.ndarray:
    """The rows from ``start`` down as one 2-D object array, padded with "" to one width."""
    # Formula cells without a result may lie in rows or columns the reader saw as empty.
    width = max([max(map(len, rows), default=0), *(c + 1 for _, c in formulas)])
    height = max(max([len(rows), *(r + 1 for r, _ in formulas)]) - start, 0)
    body = rows[start:]
    if body and len(set(map(len, body))) == 1 and (len(body), len(body[0])) == (height, width):
        # The reader pads every row to one width: one copy, no per-row work (fromiter over
        # the chained rows; np.array would first probe the nesting of every row).
        cells = itertools.chain.from_iterable(body)
        return np.fromiter(cells, dtype=object, count=height * width).reshape(height, width)
    grid = np.full((height, width), "", dtype=object)
    for i, r in enumerate(body):
        grid[i, : len(r)] = r
    return grid


def blank_cells(cells: np.ndarray) -> np.ndarray:
    """Which cells are empty: None, NaN, or a string of nothing but spaces."""
    return _Texts.of(np.asarray(cells, dtype=object)).blank


@dataclass(frozen=True)
class _Texts:
    """The string cells of one column, trimmed, as codes into their distinct values.

    calamine gives "" for an empty cell; numbers and dates are never blank. Trimming and
    label matching run once per distinct text, and a column repeats a few names, periods
    and labels many times.
    """

    where: np.ndarray  # positions of the string cells
    codes: np.ndarray  # for each string cell, its index in ``distinct``
    distinct: list[str]  # distinct trimmed texts
    blank: np.ndarray  # per cell: None, NaN or only spaces

    @classmethod
    def of(cls, cells: np.ndarray, kinds: Kinds | None = None) -> _Texts:
        kinds = kinds_of(cells) if kinds is None else kinds
        where = np.flatnonzero(kinds.text_codes >= 0)
        codes = kinds.text_codes[where]
        distinct = [u.strip() for u in kinds.texts]
        blank = kinds.of_type([_NONE]) | kinds.missing_floats()
        empty = np.array([not t for t in distinct], dtype=bool)
        blank[where[empty[codes]]] = True
        return cls(where, codes, distinct, blank)

    def starting_with(self, pattern: re.Pattern[str]) -> np.ndarray:
        """Positions of the cells whose text starts with a label such as 合計 or 註."""
        hits = np.array([bool(pattern.match(t)) for t in self.distinct], dtype=bool)
        return self.where[hits[self.codes]] if len(hits) else self.where[:0]


def column_letter(col: int) -> str:
    """0-based column index → Excel letters (0 → A, 27 → AB)."""
    letters = ""
    col += 1
    while col:
        col, rem = divmod(col - 1, 26)
        letters = chr(65 + rem) + letters
    return letters

"""Sheet layout: find the header row, read title-row facts, fill merged cells, drop non-data rows.

Real reports put a title, the period and the unit above the header, merge a program's
name over its 經常門 and 資本門 rows, and end with 合計 rows and footnotes. This module
turns such a sheet into a plain table of data rows that keep their Excel row numbers.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import pandas as pd

from kpi.ingest.datasets import DATASETS, Dataset
from kpi.ingest.values import header_key, title_facts

HEADER_SEARCH_ROWS = 20

_TOTAL_RE = re.compile(r"^(合\s*計|總\s*計|小\s*計|共\s*計|總\s*數|grand\s*total|sub-?total|total)\b", re.I)
_TEXTY = {"string", "mixed", "mixed-integer", "mixed-integer-float", "empty"}
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
    return SheetFacts(found.get("year"), found.get("month_to"), found.get("quarter"), found.get("unit"))


def data_table(rows: list[list[object]], header: Header, merged: tuple[tuple[int, int, int, int], ...]) -> pd.DataFrame:
    """The data rows below the header as raw cells, one column per field, plus ``_row``.

    Merged ranges are filled from their top-left cell; blank, total and footnote rows are
    dropped. ``_row`` is the Excel row number (1-based).
    """
    start = header.row + 1
    body = rows[start:]
    width = max((len(r) for r in rows), default=0)
    grid = [list(r) + [""] * (width - len(r)) for r in body]
    for r0, c0, r1, c1 in merged:
        if r1 < start:
            continue
        top = rows[r0][c0] if r0 < len(rows) and c0 < len(rows[r0]) else ""
        for r in range(max(r0, start), r1 + 1):
            for c in range(c0, c1 + 1):
                if r - start < len(grid) and c < width and (r, c) != (r0, c0):
                    grid[r - start][c] = top
    raw = pd.DataFrame(grid, dtype=object) if grid else pd.DataFrame(columns=range(width), dtype=object)
    raw["_row"] = range(start + 1, start + 1 + len(raw))
    # Column-wise: calamine gives "" for an empty cell; numbers and dates are never blank.
    blank = pd.DataFrame(index=raw.index)
    is_total = pd.Series(False, index=raw.index)
    first_text = pd.Series("", index=raw.index, dtype=object)
    for col in range(width):
        s = raw[col]
        if pd.api.types.infer_dtype(s, skipna=True) in _TEXTY:
            stripped = s.where(s.map(type).eq(str), None).str.strip()
            blank[col] = stripped.eq("").fillna(False).astype(bool) | s.isna()
            is_total |= stripped.str.match(_TOTAL_RE).fillna(False).astype(bool)
            text = stripped.fillna("")
        else:
            blank[col] = s.isna()
            text = pd.Series("", index=raw.index, dtype=object)
        take = first_text.eq("") & ~blank[col]
        first_text = first_text.where(~take, text.where(text.ne(""), "#"))
    filled = (~blank).sum(axis=1)
    is_note = first_text.str.match(_NOTE_RE).fillna(False).astype(bool) & (filled <= 2)
    # A footnote often runs over several rows ("註：1.…" then "　2.…"): below the first
    # one, short rows are footnote too.
    after_note = is_note.cummax() & (filled <= 2)
    keep = (filled > 0) & ~is_total & ~is_note & ~after_note
    out = pd.DataFrame({name: raw.loc[keep, col] for name, col in header.columns.items()})
    out["_row"] = raw.loc[keep, "_row"]
    return out.reset_index(drop=True)


def column_letter(col: int) -> str:
    """0-based column index → Excel letters (0 → A, 27 → AB)."""
    letters = ""
    col += 1
    while col:
        col, rem = divmod(col - 1, 26)
        letters = chr(65 + rem) + letters
    return letters

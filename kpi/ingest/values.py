"""Cell values as real offices write them: ROC years, quarters, dates, numbers, choices.

Every parser takes one column (a pandas Series of raw python-calamine values: str, int,
float, bool, date, datetime, time, timedelta, or "" for empty) and returns a `Parsed`:
the values, which cells were blank and which held something that could not be read.
Parsers work column-wise with pandas string methods; they never raise on bad input.
Given the column's `Kinds` (its cells as kpi.ingest.layout classified them), they do not
classify the cells again.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from dataclasses import dataclass, replace
from typing import TypeVar

import numpy as np
import pandas as pd

# ROC year 1 is AD 1912; years beyond ROC 200 (AD 2111) are typing errors, not plans.
ROC_OFFSET = 1911
MAX_ROC_YEAR = 200

# Excel stores dates as days since 1899-12-30; serials in this range are 1954–2119.
EXCEL_EPOCH = pd.Timestamp("1899-12-30")
MIN_SERIAL, MAX_SERIAL = 20000, 80000

# A lone dash is how offices write "nothing to report" (nil, not zero-or-error).
DASHES = frozenset({"-", "—", "–", "−", "－", "--", "——", "─"})

CN_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}

# Written units of money → NT dollars; longest spellings first so 百萬元 is not read as 萬元.
UNIT_WORDS = {
    "百萬": 1_000_000,
    "千萬": 10_000_000,
    "千": 1000,
    "仟": 1000,
    "萬": 10_000,
    "億": 100_000_000,
    "": 1,
}
_UNIT = r"(?:新[臺台]幣)?\s*(百萬|千萬|千|仟|萬|億)?元"

_TEXT_TYPES = [str, np.str_]
_BOOL_TYPES = [bool, np.bool_]
_NUMBER_TYPES = [int, float, np.int64, np.float64, np.int32, np.float32]
_DATE_TYPES = [dt.date, dt.datetime, pd.Timestamp]

_Frame = TypeVar("_Frame", pd.Series, pd.DataFrame)


@dataclass(frozen=True)
class Parsed:
    """One parsed column: values (NA where blank or bad) and per-cell masks."""

    values: pd.Series
    bad: np.ndarray  # the cell held something that could not be read
    blank: np.ndarray  # empty, whitespace or a lone dash
    percent: np.ndarray | None = None  # numbers: the text carried a % sign
    year: pd.Series | None = None  # quarters and year-months: the ROC year, where written


@dataclass(frozen=True)
class TitleFacts:
    """Facts read from a title row or a sheet name."""

    year: int | None = None  # ROC
    month_to: int | None = None
    months: tuple[int, ...] | None = None
    quarter: int | None = None
    unit: int | None = None  # NT dollars per written unit


# ---------------------------------------------------------------- text helpers
#
# Text cells are parsed once per distinct value and broadcast back to the column: a
# column of 200,000 cells holds a few hundred distinct months, dates or spellings.


def _fold_one(text: str) -> str:
    """fold_text for a single string."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


def _factorize(s: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """Each cell's code into the distinct values (-1 for NA), and those values."""
    codes, uniques = pd.factorize(s.astype(object))
    return codes, _texts(np.asarray(uniques, dtype=object))


def _texts(values: object) -> pd.Series:
    # Plain object dtype: pandas would infer its arrow-backed str, slow to iterate.
    return pd.Series(values, dtype=object)


def _broadcast(per_value: _Frame, codes: np.ndarray, index: pd.Index) -> _Frame:
    """Per-distinct-value results back onto the column (NA where the code is -1)."""
    return per_value.reindex(codes).set_axis(index)


def fold_text(s: pd.Series) -> pd.Series:
    """NFKC (full-width → half-width), trim, collapse inner whitespace; non-text is NA."""
    codes, uniques = _factorize(s.where(s.map(type).isin(_TEXT_TYPES)))
    return _broadcast(_texts([_fold_one(t) for t in uniques]), codes, s.index)


@dataclass(frozen=True)
class _Cells:
    """A column split by python type; text as its distinct folded values plus codes."""

    codes: np.ndarray  # into `texts` for non-blank text cells, else -1
    texts: pd.Series  # distinct folded texts
    number: np.ndarray
    boolean: np.ndarray
    date: np.ndarray
    blank: np.ndarray
    other: np.ndarray
    index: pd.Index
    floats: np.ndarray | None = None  # the float cells' values (Kinds.floats)

    @property
    def text(self) -> np.ndarray:
        return self.codes >= 0

    def on_text(self, per_value: _Frame) -> _Frame:
        """Results computed over `texts`, broadcast onto the column."""
        return _broadcast(per_value, self.codes, self.index)


_TYPE_OF = np.frompyfunc(type, 1, 1)
_MISSING_TYPES = [type(None), type(pd.NaT), type(pd.NA)]
_FLOAT_TYPES = [float, np.float64, np.float32]


@dataclass(frozen=True)
class Kinds:
    """Each cell's python type, and each text cell as a code into the distinct texts.

    The sheet layout classifies every column once to find blank and total rows; the
    parsers reuse that classification of the rows kept (``take``) instead of taking every
    cell's type and hashing every text again.
    """

    type_codes: np.ndarray  # per cell, its index in ``types``
    types: tuple[type, ...]  # the distinct python types of the column
    text_codes: np.ndarray  # per text cell, its index in ``texts``; -1 for other cells
    texts: np.ndarray  # the distinct texts, as written
    # Per cell, the value of a float cell and NaN for any other; None when there are no
    # float cells. Converted once, in C, for the layout's blank test and the parsers.
    floats: np.ndarray | None = None

    def of_type(self, group: list[type]) -> np.ndarray:
        """Which cells are exactly of one of these types (bool does not count as int)."""
        hits = np.array([t in group for t in self.types], dtype=bool)
        return hits[self.type_codes] if len(hits) else np.zeros(len(self.type_codes), bool)

    def take(self, positions: np.ndarray) -> Kinds:
        """The kinds of some cells, in that order (the distinct types and texts are kept)."""
        floats = None if self.floats is None else self.floats[positions]
        return Kinds(
            self.type_codes[positions], self.types, self.text_codes[positions], self.texts, floats
        )

    def missing_floats(self) -> np.ndarray:
        """Which cells are a float NaN."""
        if self.floats is None:
            return np.zeros(len(self.type_codes), dtype=bool)
        return np.isnan(self.floats) & self.of_type(_FLOAT_TYPES)


def kinds_of(values: np.ndarray) -> Kinds:
    """Classify a column of raw cells (an object array) by type, factorizing its texts."""
    type_codes = np.zeros(len(values), dtype=np.intp)
    if len(values) and type(values[0]) is str:
        # A column of names or periods: its distinct values tell its types as well, since
        # only a str equals a str (a numpy str_ may pass for one: both are text).
        codes, texts = pd.factorize(values)
        if (codes >= 0).all() and all(type(t) is str for t in texts):
            return Kinds(type_codes, (str,), codes, np.asarray(texts, dtype=object))
    # Most columns hold cells of one type: the set of types then is all there is to know.
    types = tuple(set(map(type, values)))
    if len(types) == 1 and types[0] in _TEXT_TYPES:
        codes, texts = pd.factorize(values)
        return Kinds(type_codes, types, codes, np.asarray(texts, dtype=object))
    if len(types) > 1:
        # One comparison per extra type.
        cell_types = _TYPE_OF(values)
        for i, t in enumerate(types[1:], start=1):
            # Boxed: numpy would take a numpy scalar type such as float64 for a dtype.
            boxed = np.empty((), dtype=object)
            boxed[()] = t
            type_codes[np.equal(cell_types, boxed).astype(bool)] = i
    text_codes = np.full(len(values), -1, dtype=np.intp)
    untyped = Kinds(type_codes, types, text_codes, np.array([], dtype=object))
    untyped = replace(untyped, floats=_float_values(values, untyped.of_type(_FLOAT_TYPES)))
    text = untyped.of_type(_TEXT_TYPES)
    if not text.any():
        return untyped
    text_codes[text], texts = pd.factorize(values[text])
    return replace(untyped, texts=np.asarray(texts, dtype=object))


def _float_values(values: np.ndarray, is_float: np.ndarray) -> np.ndarray | None:
    """The float cells' values (NaN elsewhere), converted in one C loop; None if none."""
    if is_float.all():
        return values.astype(float)
    if not is_float.any():
        return None
    out = np.full(len(values), np.nan)
    out[is_float] = values[is_float].astype(float)
    return out


def _cells(s: pd.Series, kinds: Kinds | None = None) -> _Cells:
    # Exact python types: calamine returns plain builtins, and bool must not count as int.
    values = s.to_numpy(dtype=object)
    kinds = kinds_of(values) if kinds is None else kinds
    missing = kinds.of_type(_MISSING_TYPES) | kinds.missing_floats()
    texts = _texts([_fold_one(t) for t in kinds.texts])
    codes = kinds.text_codes
    if len(texts):
        empty = (texts == "").to_numpy()
        codes = np.where((codes >= 0) & empty[np.maximum(codes, 0)], -1, codes)
    blank_text = (kinds.text_codes >= 0) & (codes < 0)
    boolean = kinds.of_type(_BOOL_TYPES)
    number = kinds.of_type(_NUMBER_TYPES) & ~missing
    date = kinds.of_type(_DATE_TYPES) & ~missing
    blank = blank_text | missing
    other = ~((codes >= 0) | number | boolean | date | blank)
    return _Cells(codes, texts, number, boolean, date, blank, other, s.index, kinds.floats)


def _extract(texts: pd.Series, pattern: str) -> pd.DataFrame:
    """Named regex groups of each text (case-insensitive, whole string); None where absent."""
    rx = re.compile(pattern, re.IGNORECASE)
    names = sorted(rx.groupindex, key=rx.groupindex.__getitem__)
    none = (None,) * len(names)
    rows = [m.groups() if (m := rx.match(t)) else none for t in texts.to_numpy(dtype=object)]
    return pd.DataFrame(rows, columns=names, index=texts.index, dtype=object)


def _first(g: pd.DataFrame, *names: str) -> pd.Series:
    """The first of several alternative groups that matched."""
    out = g[names[0]].to_numpy(dtype=object)
    for name in names[1:]:
        out = np.where(pd.isna(out), g[name].to_numpy(dtype=object), out)
    return pd.Series(out, index=g.index, dtype=object)


def _digit_value(col: pd.Series) -> pd.Series:
    """'3' or '三' → 3 as float, NaN elsewhere."""
    return pd.to_numeric(col.replace(CN_DIGITS), errors="coerce").astype(float)


def _roc(year: pd.Series) -> pd.Series:
    """ROC (1–200) or AD (1912–2111) year → ROC year as float; NaN when out of range."""
    y = pd.to_numeric(year, errors="coerce").to_numpy(dtype=float)
    roc = np.where(y <= MAX_ROC_YEAR, y, y - ROC_OFFSET)
    ok = (roc >= 1) & (roc <= MAX_ROC_YEAR) & (roc == np.floor(roc))
    return pd.Series(np.where(ok, roc, np.nan), index=year.index)


def _number_values(s: pd.Series, cells: _Cells) -> pd.Series:
    """Numeric cells as float64 (NaN elsewhere)."""
    mask = cells.number
    out = np.full(len(s), np.nan)
    if cells.floats is not None:
        # Float cells were converted by kinds_of; a number cell that is not NaN there is
        # an int (a number cell of float type is never NaN: that one is blank).
        out = np.where(mask, cells.floats, np.nan)
        mask = mask & np.isnan(out)
    if mask.any():
        ints = s.to_numpy(dtype=object)[mask]
        try:
            # Python and numpy numbers convert in C; an int past float's range does not.
            out[mask] = ints.astype(float)
        except (OverflowError, TypeError, ValueError):
            out[mask] = [_float_or_nan(v) for v in ints]
    return pd.Series(out, index=s.index)


def _float_or_nan(value: object) -> float:
    try:
        return float(value)
    except (OverflowError, TypeError, ValueError):
        return math.nan


def _whole(v: pd.Series, below: float = 2**53) -> pd.Series:
    """Whole numbers (finite, |v| < below); NaN elsewhere."""
    a = v.to_numpy(dtype=float)
    return pd.Series(np.where((a == np.floor(a)) & (np.abs(a) < below), a, np.nan), index=v.index)


def _as_datetime(v: dt.date) -> dt.datetime:
    return v if isinstance(v, dt.datetime) else dt.datetime(v.year, v.month, v.day)


def _stamps(s: pd.Series, mask: np.ndarray) -> pd.Series:
    """Date and datetime cells as timestamps (microsecond unit: any year a cell can hold)."""
    cells = s[mask].astype(object).map(_as_datetime)
    return pd.to_datetime(cells, errors="coerce").astype("datetime64[us]")


def _date_parts(s: pd.Series, mask: np.ndarray) -> pd.DataFrame:
    """Year, month, day (float) of date cells."""
    parts = np.full((len(s), 3), np.nan)
    if mask.any():
        stamps = _stamps(s, mask).dt
        parts[mask] = np.column_stack([stamps.year, stamps.month, stamps.day])
    return pd.DataFrame(parts, index=s.index, columns=["y", "m", "d"])


def _result(values: pd.Series, cells: _Cells, bad: np.ndarray, **extra: object) -> Parsed:
    bad = np.asarray(bad, dtype=bool) & ~cells.blank
    return Parsed(values=values, bad=bad, blank=np.asarray(cells.blank, dtype=bool), **extra)


def _pick(cells: _Cells, text: pd.Series, number: pd.Series, date: pd.Series) -> pd.Series:
    """One column from the readings of text, number and date cells."""
    return text.where(cells.text, number.where(cells.number, date.where(cells.date)))


# ---------------------------------------------------------------- numbers

_NUMBER_RE = (
    r"^(?P<open>\()?(?P<sign>[-+−])?"
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d*)?|\d+(?:\.\d*)?|\.\d+)"
    r"(?P<exp>e[-+]?\d+)?(?P<pct>%)?(?P<close>\))?$"
)


def _text_numbers(texts: pd.Series) -> pd.DataFrame:
    """value, percent and dash for each distinct text."""
    dash = texts.isin(DASHES)
    # Spaces inside a number are thousands separators ("1 234"), or typing noise.
    g = _extract(_texts([t.replace(" ", "") for t in texts]), _NUMBER_RE)
    digits = g["num"].str.replace(",", "", regex=False) + g["exp"].fillna("")
    value = pd.to_numeric(digits, errors="coerce").astype(float)
    paired = g["open"].isna() == g["close"].isna()
    negative = g["sign"].isin(["-", "−"]) | g["open"].notna()
    value = value.where(~negative, -value).where(paired & ~dash)
    percent = g["pct"].notna()
    value = value.where(~percent, value / 100)
    value = value.where(np.isfinite(value))
    return pd.DataFrame({"value": value, "percent": percent & value.notna(), "dash": dash})


def parse_number(s: pd.Series, blank_is_zero: bool = False, kinds: Kinds | None = None) -> Parsed:
    """Numbers: commas, full-width digits, (1,234) negatives, unicode minus, 92.35% → 0.9235."""
    cells = _cells(s, kinds)
    t = _text_numbers(cells.texts)
    # Per distinct text, then onto the cells; code -1 (not text) takes the appended default.
    text_value = np.append(t["value"].to_numpy(dtype=float), np.nan)[cells.codes]
    dash = np.append(t["dash"].to_numpy(dtype=bool), False)[cells.codes]
    percent = np.append(t["percent"].to_numpy(dtype=bool), False)[cells.codes]
    values = np.where(cells.number, _number_values(s, cells).to_numpy(), text_value)
    values = np.where(np.isfinite(values), values, np.nan)
    read = ~np.isnan(values)
    blank = cells.blank | dash
    if blank_is_zero:
        values = np.where(blank, 0.0, values)
    cells = replace(cells, blank=blank)
    return _result(pd.Series(values, index=s.index), cells, ~read, percent=percent)


def parse_int(s: pd.Series, blank_is_zero: bool = False, kinds: Kinds | None = None) -> Parsed:
    """Whole numbers (counts) as Int64; 12.5 is bad."""
    p = parse_number(s, blank_is_zero=blank_is_zero, kinds=kinds)
    whole = _whole(p.values)
    bad = p.bad | (p.values.notna() & whole.isna()).to_numpy()
    return Parsed(values=whole.astype("Int64"), bad=bad, blank=p.blank, percent=p.percent)


# ---------------------------------------------------------------- years, months, quarters

_YEAR_RE = r"^(?:中華民國|民國)?\s*(?P<y>\d{1,4})\s*(?:年度|年)?$"


def parse_year(s: pd.Series, kinds: Kinds | None = None) -> Parsed:
    """108, 108年, 民國108年度, 2019, 2019年, a date cell → ROC year (Int64)."""
    cells = _cells(s, kinds)
    text = cells.on_text(_roc(_extract(cells.texts, _YEAR_RE)["y"]))
    number = _roc(_whole(_number_values(s, cells)))
    date = _roc(_date_parts(s, cells.date)["y"])
    values = _pick(cells, text, number, date)
    return _result(values.astype("Int64"), cells, values.isna().to_numpy())


_MONTH_RE = (
    r"^(?:截至|截止|至)?\s*(?P<m>\d{1,2}|十[一二]?|[一二三四五六七八九元])\s*"
    r"(?:月份|月底|月)?\s*(?:底|止)?$"
)
_CN_MONTHS = {"元": 1, "十": 10, "十一": 11, "十二": 12} | CN_DIGITS


def _month(col: pd.Series) -> pd.Series:
    m = pd.to_numeric(col.replace(_CN_MONTHS), errors="coerce").to_numpy(dtype=float)
    ok = (m >= 1) & (m <= 12) & (m == np.floor(m))
    return pd.Series(np.where(ok, m, np.nan), index=col.index)


def parse_month(s: pd.Series, kinds: Kinds | None = None) -> Parsed:
    """3, 03, 3月, 三月, 12月底, 截至3月, a date cell → 1–12 (Int64)."""
    cells = _cells(s, kinds)
    text = cells.on_text(_month(_extract(cells.texts, _MONTH_RE)["m"]))
    number = _month(_number_values(s, cells))
    date = _date_parts(s, cells.date)["m"]
    values = _pick(cells, text, number, date)
    return _result(values.astype("Int64"), cells, values.isna().to_numpy())


_Q_YEAR = r"(?:(?:中華民國|民國)?(?P<y>\d{2,4})\s*(?:年度|年)?\s*[-/]?\s*)?"
_QUARTER_RE = (
    r"^(?:" + _Q_YEAR + r"(?:第\s*(?P<a>\d|[一二三四五六七八九])\s*季度?"
    r"|q\s*(?P<b>\d)|(?P<c>\d)\s*q|(?P<d>\d)\s*季度?)"
    r"|q\s*(?P<e>\d)\s*[-/]?\s*(?P<y2>\d{4})"
    r"|(?P<f>\d))$"
)


def _text_quarters(texts: pd.Series) -> pd.DataFrame:
    g = _extract(texts, _QUARTER_RE)
    quarter = _digit_value(_first(g, "a", "b", "c", "d", "e", "f"))
    written = _first(g, "y", "y2")
    year = _roc(written)
    ok = (quarter >= 1) & (quarter <= 4) & (written.isna() | year.notna())
    return pd.DataFrame({"quarter": quarter.where(ok), "year": year.where(ok)})


def parse_quarter(s: pd.Series, kinds: Kinds | None = None) -> Parsed:
    """第2季, 第二季, Q2, 2, 108Q2, 2019Q2, 108年第2季, 2019 Q2, 2Q → 1–4; year where written."""
    cells = _cells(s, kinds)
    t = cells.on_text(_text_quarters(cells.texts))
    number = _whole(_number_values(s, cells))
    number = number.where((number >= 1) & (number <= 4))
    values = t["quarter"].where(cells.text, number.where(cells.number))
    year = t["year"].where(cells.text)
    return _result(
        values.astype("Int64"), cells, values.isna().to_numpy(), year=year.astype("Int64")
    )


# ---------------------------------------------------------------- dates

_TIME = r"(?:\s*T?\s*\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
_DATE_RE = (
    r"^(?:中華民國|民國)?\s*(?:"
    r"(?P<y>\d{1,4})\s*(?:[/.\-]|年)\s*(?P<m>\d{1,2})\s*(?:[/.\-]|月)\s*(?P<d>\d{1,2})\s*日?"
    r"|(?P<y8>\d{4})(?P<m8>\d{2})(?P<d8>\d{2})"
    r"|(?P<y7>\d{3})(?P<m7>\d{2})(?P<d7>\d{2})"
    r")" + _TIME + r"$"
)


def _assemble(year_roc: pd.Series, month: pd.Series, day: pd.Series) -> pd.Series:
    """ROC year, month, day (floats) → datetime64[ns]; NaT where impossible."""
    parts = pd.DataFrame({"year": year_roc + ROC_OFFSET, "month": month, "day": day})
    ok = parts.notna().all(axis=1)
    out = pd.Series(pd.NaT, index=parts.index, dtype="datetime64[ns]")
    if ok.any():
        # errors="coerce" turns Feb 30 and month 13 into NaT.
        out[ok] = pd.to_datetime(parts[ok].astype(int), errors="coerce").astype("datetime64[ns]")
    return out


def _text_dates(texts: pd.Series) -> pd.Series:
    if texts.empty:
        return pd.Series(pd.NaT, index=texts.index, dtype="datetime64[ns]")
    g = _extract(texts, _DATE_RE)
    year = _roc(_first(g, "y", "y8", "y7"))
    month = pd.to_numeric(_first(g, "m", "m8", "m7"), errors="coerce").astype(float)
    day = pd.to_numeric(_first(g, "d", "d8", "d7"), errors="coerce").astype(float)
    return _assemble(year, month, day)


def _serial_dates(n: pd.Series) -> pd.Series:
    """Excel serial day numbers → datetime64[ns] at midnight; NaT outside the plausible range."""
    ok = (n >= MIN_SERIAL) & (n <= MAX_SERIAL)
    days = np.floor(n.where(ok))
    return (EXCEL_EPOCH + pd.to_timedelta(days, unit="D")).astype("datetime64[ns]")


def _cell_dates(s: pd.Series, mask: np.ndarray) -> pd.Series:
    """Date cells at midnight; NaT outside ROC 1–200 (nanosecond timestamps end in 2262)."""
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
    stamps = _stamps(s, mask).dt.normalize()
    year = stamps.dt.year
    ok = (year > ROC_OFFSET) & (year <= ROC_OFFSET + MAX_ROC_YEAR)
    out[mask] = stamps.where(ok).astype("datetime64[ns]").to_numpy()
    return out


def _digit_strings(numbers: pd.Series, low: float, high: float) -> pd.Series:
    """Whole numbers in [low, high) as text: 20190215 typed without separators."""
    n = _whole(numbers).where((numbers >= low) & (numbers < high))
    return n.dropna().astype("int64").astype(str).astype(object)


def parse_date(s: pd.Series, kinds: Kinds | None = None) -> Parsed:
    """108/02/15, 108.2.15, 108年2月15日, 2019-02-15, 20190215, date cells, Excel serials."""
    cells = _cells(s, kinds)
    numbers = _number_values(s, cells)
    typed = _digit_strings(numbers, 1_000_000, 100_000_000)
    number = _serial_dates(numbers).fillna(_text_dates(typed).reindex(s.index))
    text = cells.on_text(_text_dates(cells.texts))
    values = _pick(cells, text, number, _cell_dates(s, cells.date))
    return _result(values.astype("datetime64[ns]"), cells, values.isna().to_numpy())


_YM_RE = (
    r"^(?:中華民國|民國)?\s*(?:"
    r"(?P<y>\d{1,4})\s*(?:[/.\-]|年)\s*(?P<m>\d{1,2})\s*(?:月份|月)?"
    r"|(?P<y6>\d{4})(?P<m6>\d{2})"
    r"|(?P<y5>\d{3})(?P<m5>\d{2})"
    r")$"
)


def _text_year_months(texts: pd.Series) -> pd.DataFrame:
    g = _extract(texts, _YM_RE)
    year = _roc(_first(g, "y", "y6", "y5"))
    month = _month(_first(g, "m", "m6", "m5"))
    ok = year.notna() & month.notna()
    # A full date (108/01/31) names its month too.
    full = _text_dates(texts[~ok]).reindex(texts.index)
    year = year.where(ok, _roc(full.dt.year.astype(float)))
    month = month.where(ok, full.dt.month.astype(float))
    return pd.DataFrame({"year": year, "month": month})


def parse_year_month(s: pd.Series, kinds: Kinds | None = None) -> Parsed:
    """108/01, 108年4月, 2019-01, 201901, 108/01/31, a date cell → month, with `year` (ROC)."""
    cells = _cells(s, kinds)
    text = cells.on_text(_text_year_months(cells.texts))
    numbers = _number_values(s, cells)
    typed = _text_year_months(_digit_strings(numbers, 10_000, 1_000_000)).reindex(s.index)
    serial = _serial_dates(numbers)
    n_year = typed["year"].fillna(_roc(serial.dt.year.astype(float)))
    n_month = typed["month"].fillna(serial.dt.month.astype(float))
    d = _date_parts(s, cells.date)
    year = _pick(cells, text["year"], n_year, _roc(d["y"]))
    month = _pick(cells, text["month"], n_month, d["m"])
    ok = (year.notna() & month.notna()).to_numpy()
    return _result(month.where(ok).astype("Int64"), cells, ~ok, year=year.where(ok).astype("Int64"))


# ---------------------------------------------------------------- choices and text


def _choice_key(text: str) -> str:
    """Fold for exact matching: NFKC, lowercase, no whitespace."""
    return "".join(unicodedata.normalize("NFKC", text).split()).lower()


def _contained_key(value: str, spellings: list[tuple[str, str]]) -> str | None:
    """The one key whose spelling (≥2 chars) appears in value; longer matches win over parts."""
    spaced = _fold_one(value).lower()
    spans: list[tuple[int, int, str]] = []
    for spelling, key in spellings:
        if spelling.isascii():
            # Latin spellings must be whole words: "mp" is not in "campaign".
            pattern = r"(?<![a-z0-9])" + re.escape(spelling) + r"(?![a-z0-9])"
        else:
            pattern = re.escape(spelling)
        spans += [(m.start(), m.end(), key) for m in re.finditer(pattern, spaced)]
    kept = {
        key
        for start, end, key in spans
        if not any(s <= start and end <= e and (e - s) > (end - start) for s, e, _ in spans)
    }
    return kept.pop() if len(kept) == 1 else None


def parse_choice(
    s: pd.Series, choices: dict[str, tuple[str, ...]], kinds: Kinds | None = None
) -> Parsed:
    """Map any listed spelling to its canonical value; unknown values are NA and bad."""
    text = parse_text(s, kinds)
    exact = {_choice_key(sp): key for key, sps in choices.items() for sp in (key, *sps)}
    spellings = sorted(
        {(_fold_one(sp).lower(), key) for key, sps in choices.items() for sp in (key, *sps)},
        key=lambda x: -len(x[0]),
    )
    spellings = [(sp, key) for sp, key in spellings if len(sp) >= 2]
    codes, texts = _factorize(text.values)

    def lookup(value: str) -> str | None:
        key = exact.get(_choice_key(value))
        return key if key is not None else _contained_key(value, spellings)

    values = _broadcast(texts.map(lookup).astype(object), codes, s.index)
    values = values.where(values.notna(), pd.NA)
    bad = text.values.notna().to_numpy() & values.isna().to_numpy()
    return Parsed(values=values, bad=bad | text.bad, blank=text.blank)


def parse_text(s: pd.Series, kinds: Kinds | None = None) -> Parsed:
    """Folded text; numbers become text as written (12, not 12.0); "" is blank."""
    cells = _cells(s, kinds)
    values = cells.on_text(cells.texts).astype(object)
    if cells.number.any():
        numbers = _number_values(s, cells)[cells.number]
        whole = _whole(numbers).notna()
        rendered = numbers.astype(str).astype(object)
        rendered[whole] = numbers[whole].astype("int64").astype(str).to_numpy(dtype=object)
        values[cells.number] = rendered.to_numpy(dtype=object)
    if cells.date.any():
        values[cells.date] = s[cells.date].map(lambda v: v.isoformat()).to_numpy(dtype=object)
    rest = cells.boolean | cells.other
    if rest.any():
        values[rest] = s[rest].map(str).to_numpy(dtype=object)
    values = values.where(values.notna(), pd.NA)
    return _result(values, cells, np.zeros(len(s), dtype=bool))


# ---------------------------------------------------------------- headers and titles

_BRACKETS = r"\([^()]*\)|\[[^\[\]]*\]|【[^【】]*】|〔[^〔〕]*〕|<[^<>]*>|《[^《》]*》"


def header_key(text: str) -> str:
    """Normalise a header cell for synonym matching: NFKC, no whitespace or bracketed units."""
    folded = unicodedata.normalize("NFKC", str(text))
    stripped = re.sub(_BRACKETS, "", folded)
    key = re.sub(r"\s+", "", stripped).lower()
    return key or re.sub(r"[\s()\[\]【】〔〕<>《》]+", "", folded).lower()


def header_unit(text: str) -> int | None:
    """The money multiplier a header states, e.g. 預算數（千元） → 1000; None if none."""
    folded = re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(text)))
    # 元 must end the word: 元首 is a level, not a unit.
    m = re.search(_UNIT + r"(?![\u4e00-\u9fff])", folded)
    return UNIT_WORDS[m.group(1) or ""] if m else None


def header_is_percent(text: str) -> bool:
    """Whether a header marks its column as percentages, e.g. 執行率(%)."""
    return "%" in unicodedata.normalize("NFKC", str(text))


# Title years need a marker (年, 年度, Q) and a plausible value: "近10年" is not a year.
_TITLE_YEAR = re.compile(
    r"(?<!\d)(?:(?P<roc>\d{2,3})|(?P<ad>(?:19|20)\d{2}))\s*(?:年度|年|(?=q\s*[1-4](?!\d)))",
    re.IGNORECASE,
)
_TITLE_MIN_ROC = 70
_MONTH_RANGE = re.compile(
    r"(?<!\d)(?P<a>1[0-2]|0?[1-9])\s*月?\s*(?:[-~〜～至到]|–|—)\s*(?P<b>1[0-2]|0?[1-9])\s*月"
)
_MONTH_UNTIL = re.compile(r"(?:截至|截止|至)\s*(?:\d{2,4}\s*年)?\s*(?P<b>1[0-2]|0?[1-9])\s*月")
_MONTH_SINGLE = re.compile(r"(?:年|^|\s)\s*(?P<b>1[0-2]|0?[1-9])\s*月(?!\s*[-~〜～至到])")
_TITLE_QUARTER = re.compile(
    r"第\s*(?P<a>[1-4一二三四])\s*季|(?<![a-z])q\s*(?P<b>[1-4])(?!\d)", re.IGNORECASE
)
_TITLE_UNIT = re.compile(r"單位\s*:?\s*" + _UNIT + r"|\(\s*" + _UNIT + r"\s*\)")


def title_facts(text: str) -> TitleFacts:
    """Year, period and unit stated in a title row or sheet name (each None if absent)."""
    folded = _fold_one(str(text))
    year = None
    for m in _TITLE_YEAR.finditer(folded):
        if m.group("ad"):
            year = int(m.group("ad")) - ROC_OFFSET
        elif _TITLE_MIN_ROC <= int(m.group("roc")) <= MAX_ROC_YEAR:
            year = int(m.group("roc"))
        if year is not None:
            break
    month_to: int | None = None
    months: tuple[int, ...] | None = None
    if m := _MONTH_RANGE.search(folded):
        first, month_to = int(m.group("a")), int(m.group("b"))
        months = tuple(range(first, month_to + 1)) if first <= month_to else None
    elif m := _MONTH_UNTIL.search(folded):
        month_to = int(m.group("b"))
        months = tuple(range(1, month_to + 1))
    elif m := _MONTH_SINGLE.search(folded):
        month_to = int(m.group("b"))
        months = (month_to,)
    quarter = None
    if m := _TITLE_QUARTER.search(folded):
        q = m.group("a") or m.group("b")
        quarter = CN_DIGITS.get(q) or int(q)
    unit = None
    if m := _TITLE_UNIT.search(folded):
        unit = UNIT_WORDS[m.group(1) or m.group(2) or ""]
    return TitleFacts(year=year, month_to=month_to, months=months, quarter=quarter, unit=unit)

"""Cell-value parsers: every written form parses back; junk is flagged, never raised."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kpi.ingest import values as V
from kpi.ingest.datasets import DATASETS, LEVELS, VISA_TYPES, VISIT_TYPES

FULL_WIDTH = str.maketrans("0123456789-/.:%()", "０１２３４５６７８９－／．：％（）")
CN = {1: "一", 2: "二", 3: "三", 4: "四", 5: "五", 6: "六", 7: "七", 8: "八", 9: "九"}
CN_MONTH = CN | {10: "十", 11: "十一", 12: "十二"}

settings.register_profile("kpi", max_examples=25, deadline=None)
settings.load_profile("kpi")


def col(*cells: object) -> pd.Series:
    return pd.Series(list(cells), dtype=object)


def listed(p: V.Parsed) -> list[object]:
    return [None if pd.isna(v) else v for v in p.values]


# Raw cells as python-calamine returns them (and numpy floats and huge ints, as a frame may
# hold), for "never raises" checks.
raw_cells = st.one_of(
    st.text(max_size=30),
    st.integers(min_value=-(10**15), max_value=10**15),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(allow_nan=True, allow_infinity=True).map(np.float64),  # from a frame, not a file
    st.integers(min_value=10**308, max_value=10**400),  # past float's range
    st.booleans(),
    st.dates(),
    st.datetimes(),
    st.times(),
    st.timedeltas(),
    st.just(""),
    st.none(),
)
padding = st.sampled_from(["", " ", "  ", "\u3000", "\t"])
width = st.sampled_from(["half", "full"])


def written(text: str, pad: str, form: str) -> str:
    """Render text as an office might: full-width digits, padding spaces."""
    return pad + (text.translate(FULL_WIDTH) if form == "full" else text) + pad


def check_never_raises(parser, cells: list[object]) -> None:
    p = parser(col(*cells))
    assert len(p.values) == len(cells)
    assert not (np.asarray(p.bad) & np.asarray(p.blank)).any()


# ---------------------------------------------------------------- fold_text


def test_fold_text_normalises_width_and_spaces() -> None:
    folded = V.fold_text(col("ＡＢＣ　１２３", "  a \n b  ", "", 5, None))
    assert list(folded[:3]) == ["ABC 123", "a b", ""]
    assert folded[3:].isna().all()


# ---------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("1,234", 1234.0),
        ("１２３４", 1234.0),
        ("1 234", 1234.0),
        (" 12.5 ", 12.5),
        ("(1,234)", -1234.0),
        ("（1,234）", -1234.0),
        ("-1234", -1234.0),
        ("−1234", -1234.0),
        ("+12", 12.0),
        ("92.35%", 0.9235),
        ("１２％", 0.12),
        ("1e3", 1000.0),
        (1234, 1234.0),
        (12.5, 12.5),
        ("1,234,567.89", 1234567.89),
    ],
)
def test_number_forms(cell: object, expected: float) -> None:
    p = V.parse_number(col(cell))
    assert p.values[0] == pytest.approx(expected)
    assert not p.bad[0] and not p.blank[0]


def test_percent_mask() -> None:
    p = V.parse_number(col("92.35%", "92.35", 92.35))
    assert list(p.percent) == [True, False, False]


@pytest.mark.parametrize("cell", ["-", "—", "–", "－", "", "   ", "\u3000", None])
def test_number_dashes_and_blanks(cell: object) -> None:
    as_na = V.parse_number(col(cell))
    as_zero = V.parse_number(col(cell), blank_is_zero=True)
    assert pd.isna(as_na.values[0]) and as_zero.values[0] == 0
    assert as_na.blank[0] and not as_na.bad[0] and not as_zero.bad[0]


@pytest.mark.parametrize(
    "cell", ["abc", "12abc", "1.2.3", "(12", "12)", "1,23", True, dt.date(2019, 1, 1), "%"]
)
def test_number_bad(cell: object) -> None:
    p = V.parse_number(col(cell), blank_is_zero=True)
    assert p.bad[0] and pd.isna(p.values[0])


number_cells = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(allow_nan=True, allow_infinity=True).map(np.float64),
    st.floats(width=32, allow_nan=True).map(np.float32),
    st.integers(-(10**15), 10**15),
    st.integers(-(10**15), 10**15).map(np.int64),
    st.integers(min_value=10**308, max_value=10**400),  # past float's range
    st.booleans(),
    st.none(),
    st.sampled_from(["", "12", "x", "-"]),
)


def _one_number(cell: object) -> tuple[float, bool, bool]:
    """What one numeric cell reads as, cell by cell in Python: value, bad, blank."""
    if cell is None or cell in ("", "-") and isinstance(cell, str):
        return math.nan, False, True
    if isinstance(cell, str):
        return (12.0, False, False) if cell == "12" else (math.nan, True, False)
    if isinstance(cell, bool | np.bool_):
        return math.nan, True, False
    try:
        value = float(cell)
    except OverflowError:
        return math.nan, True, False
    if math.isnan(value):
        return math.nan, False, True
    return (value, False, False) if math.isfinite(value) else (math.nan, True, False)


@given(st.lists(number_cells, min_size=1, max_size=40))
def test_numbers_converted_once_read_as_cell_by_cell(cells: list[object]) -> None:
    # Float cells are converted in one C loop by kinds_of and shared with the layout's
    # blank test; ints and the rest still convert apart. Each cell reads as on its own.
    p = V.parse_number(col(*cells))
    for i, cell in enumerate(cells):
        value, bad, blank = _one_number(cell)
        got = p.values[i]
        assert (math.isnan(got), bool(p.bad[i]), bool(p.blank[i])) == (
            math.isnan(value),
            bad,
            blank,
        ), (cell, got)
        if not math.isnan(value):
            assert got == value, cell


def test_number_keeps_index() -> None:
    s = pd.Series(["1", "x", ""], index=[10, 20, 30], dtype=object)
    p = V.parse_number(s)
    assert list(p.values.index) == [10, 20, 30]
    assert p.values.dtype == "float64"


@given(
    st.lists(
        st.tuples(
            st.integers(min_value=-(10**12), max_value=10**12),
            st.integers(min_value=0, max_value=99),
            st.sampled_from(["plain", "commas", "accounting", "unicode_minus", "percent", "cell"]),
            padding,
            width,
        ),
        min_size=1,
        max_size=20,
    )
)
def test_number_round_trip(items: list[tuple[int, int, str, str, str]]) -> None:
    cells, expected = [], []
    for whole, cents, form, pad, w in items:
        value = whole + math.copysign(cents / 100, whole or 1)
        magnitude = f"{abs(whole):,}.{cents:02d}" if form == "commas" else f"{abs(value):.2f}"
        sign = "-" if value < 0 else ""
        if form == "cell":
            cells.append(value)
            expected.append(value)
            continue
        if form == "accounting" and value < 0:
            text = f"({magnitude})"
        elif form == "unicode_minus":
            text = ("−" if value < 0 else "") + magnitude
        elif form == "percent":
            text = f"{sign}{magnitude}%"
            value = value / 100
        else:
            text = sign + magnitude
        cells.append(written(text, pad, w))
        expected.append(value)
    p = V.parse_number(col(*cells))
    assert not p.bad.any()
    assert np.allclose(p.values.to_numpy(), expected, rtol=1e-12, atol=1e-9)


@given(st.lists(st.integers(min_value=0, max_value=10**15), min_size=1, max_size=20))
def test_thousands_separators_round_trip(numbers: list[int]) -> None:
    p = V.parse_int(col(*(f"{n:,}" for n in numbers)))
    assert list(p.values) == numbers


@given(st.lists(raw_cells, max_size=20), st.booleans())
def test_number_never_raises(cells: list[object], zero: bool) -> None:
    check_never_raises(lambda s: V.parse_number(s, blank_is_zero=zero), cells)
    check_never_raises(lambda s: V.parse_int(s, blank_is_zero=zero), cells)


# ---------------------------------------------------------------- integers


def test_int_forms() -> None:
    p = V.parse_int(col("12", 3.0, "1,000", "-", "", "12.5", "x"), blank_is_zero=True)
    assert str(p.values.dtype) == "Int64"
    assert listed(p)[:5] == [12, 3, 1000, 0, 0]
    assert list(p.bad) == [False] * 5 + [True, True]


@given(st.lists(st.tuples(st.integers(-(10**9), 10**9), padding, width), min_size=1, max_size=20))
def test_int_round_trip(items: list[tuple[int, str, str]]) -> None:
    p = V.parse_int(col(*(written(str(n), pad, w) for n, pad, w in items)))
    assert listed(p) == [n for n, _, _ in items]


# ---------------------------------------------------------------- years


@pytest.mark.parametrize(
    "cell",
    [108, "108", "108年", "108年度", "民國108年", "中華民國108年度", 2019, "2019", "2019年", 108.0],
)
def test_year_forms(cell: object) -> None:
    p = V.parse_year(col(cell))
    assert p.values[0] == 108 and not p.bad[0]


def test_year_from_date_cell() -> None:
    assert V.parse_year(col(dt.date(2019, 5, 1))).values[0] == 108


@pytest.mark.parametrize("cell", [0, 201, 1500, 1911, 2112, "abc", 108.5, "108年度x", True])
def test_year_bad(cell: object) -> None:
    assert V.parse_year(col(cell)).bad[0]


@given(
    st.lists(
        st.tuples(
            st.integers(min_value=1, max_value=200),
            st.sampled_from(
                [
                    "roc",
                    "roc年",
                    "roc年度",
                    "民國roc年",
                    "中華民國roc年度",
                    "ad",
                    "ad年",
                    "int",
                    "adint",
                    "date",
                ]
            ),
            padding,
            width,
        ),
        min_size=1,
        max_size=20,
    )
)
def test_year_round_trip(items: list[tuple[int, str, str, str]]) -> None:
    cells: list[object] = []
    for roc, form, pad, w in items:
        ad = roc + 1911
        if form == "int":
            cells.append(roc)
        elif form == "adint":
            cells.append(ad)
        elif form == "date":
            cells.append(dt.date(ad, 6, 1))
        else:
            text = form.replace("roc", str(roc)) if "roc" in form else form.replace("ad", str(ad))
            cells.append(written(text, pad, w))
    p = V.parse_year(col(*cells))
    assert listed(p) == [roc for roc, _, _, _ in items]


@given(st.lists(raw_cells, max_size=20))
def test_year_never_raises(cells: list[object]) -> None:
    check_never_raises(V.parse_year, cells)


# ---------------------------------------------------------------- months


@pytest.mark.parametrize(
    ("cell", "month"),
    [(3, 3), ("3", 3), ("3月", 3), ("03", 3), ("三月", 3), ("12月底", 12), ("截至3月", 3),
     ("十二月", 12), ("3月份", 3), (dt.date(2019, 5, 1), 5), (dt.datetime(2019, 7, 1, 8), 7)],
)  # fmt: skip
def test_month_forms(cell: object, month: int) -> None:
    p = V.parse_month(col(cell))
    assert p.values[0] == month and not p.bad[0]


@pytest.mark.parametrize("cell", [0, 13, "abc", "13月", 2.5, "0月"])
def test_month_bad(cell: object) -> None:
    assert V.parse_month(col(cell)).bad[0]


@given(
    st.lists(
        st.tuples(
            st.integers(1, 12),
            st.sampled_from(
                ["int", "m", "mm", "m月", "cn月", "m月底", "截至m月", "mm月份", "date"]
            ),
            padding,
            width,
        ),
        min_size=1,
        max_size=20,
    )
)
def test_month_round_trip(items: list[tuple[int, str, str, str]]) -> None:
    cells: list[object] = []
    for m, form, pad, w in items:
        if form == "int":
            cells.append(m)
        elif form == "date":
            cells.append(dt.date(2019, m, 28))
        else:
            text = form.replace("cn", CN_MONTH[m]).replace("mm", f"{m:02d}").replace("m", str(m), 1)
            cells.append(written(text, pad, w))
    assert listed(V.parse_month(col(*cells))) == [m for m, _, _, _ in items]


@given(st.lists(raw_cells, max_size=20))
def test_month_never_raises(cells: list[object]) -> None:
    check_never_raises(V.parse_month, cells)


# ---------------------------------------------------------------- quarters


@pytest.mark.parametrize(
    ("cell", "quarter", "year"),
    [("第2季", 2, None), ("第二季", 2, None), ("Q2", 2, None), ("q2", 2, None), ("2", 2, None),
     (2, 2, None), (2.0, 2, None), ("108Q2", 2, 108), ("2019Q2", 2, 108), ("108年第2季", 2, 108),
     ("2019 Q2", 2, 108), ("2Q", 2, None), ("Q2 2019", 2, 108), ("第 2 季", 2, None)],
)  # fmt: skip
def test_quarter_forms(cell: object, quarter: int, year: int | None) -> None:
    p = V.parse_quarter(col(cell))
    assert p.values[0] == quarter and not p.bad[0]
    assert p.year is not None
    assert (None if pd.isna(p.year[0]) else p.year[0]) == year


@pytest.mark.parametrize("cell", [0, 5, "Q5", "第五季", "abc", "12", 2.5, "3000Q1"])
def test_quarter_bad(cell: object) -> None:
    assert V.parse_quarter(col(cell)).bad[0]


@given(
    st.lists(
        st.tuples(
            st.integers(1, 4),
            st.integers(
                10, 200
            ),  # a one-digit ROC year before Q ("1Q1") is not a form anyone writes
            st.sampled_from(
                [
                    "第qq季",
                    "第cn季",
                    "Qqq",
                    "qqq",
                    "qq",
                    "int",
                    "rocQqq",
                    "adQqq",
                    "roc年第qq季",
                    "ad Qqq",
                    "qqQ",
                ]
            ),
            padding,
            width,
        ),
        min_size=1,
        max_size=20,
    )
)
def test_quarter_round_trip(items: list[tuple[int, int, str, str, str]]) -> None:
    cells: list[object] = []
    years: list[int | None] = []
    for q, roc, form, pad, w in items:
        if form == "int":
            cells.append(q)
            years.append(None)
            continue
        text = (
            form.replace("qq", str(q))
            .replace("cn", CN[q])
            .replace("roc", str(roc))
            .replace("ad", str(roc + 1911))
        )
        cells.append(written(text, pad, w))
        years.append(roc if ("roc" in form or "ad" in form) else None)
    p = V.parse_quarter(col(*cells))
    assert listed(p) == [q for q, *_ in items]
    assert p.year is not None
    assert [None if pd.isna(y) else y for y in p.year] == years


@given(st.lists(raw_cells, max_size=20))
def test_quarter_never_raises(cells: list[object]) -> None:
    check_never_raises(V.parse_quarter, cells)


# ---------------------------------------------------------------- year and month


@pytest.mark.parametrize(
    "cell",
    ["108/01", "108/1", "108.01", "108-01", "108年1月", "108年01月", "2019-01", "2019/1",
     "2019年1月", "201901", "10801", "108/01/31", "2019-01-31", dt.date(2019, 1, 9),
     dt.datetime(2019, 1, 9, 10, 30), 201901, 43480],
)  # fmt: skip
def test_year_month_forms(cell: object) -> None:
    p = V.parse_year_month(col(cell))
    assert (p.year[0], p.values[0]) == (108, 1)
    assert not p.bad[0]


@pytest.mark.parametrize("cell", ["108/13", "2019-13", "108/00", "abc", "108", 108, "2019"])
def test_year_month_bad(cell: object) -> None:
    assert V.parse_year_month(col(cell)).bad[0]


YM_FORMS = ["roc/mm", "roc/m", "roc.mm", "roc-mm", "roc年m月", "roc年mm月", "ad-mm", "ad/m",
            "ad年m月", "admm", "roc/mm/dd", "date", "datetime"]  # fmt: skip


@given(
    st.lists(
        st.tuples(
            st.dates(dt.date(1912, 1, 1), dt.date(2111, 12, 31)),
            st.sampled_from(YM_FORMS),
            padding,
            width,
        ),
        min_size=1,
        max_size=20,
    )
)
def test_year_month_round_trip(items: list[tuple[dt.date, str, str, str]]) -> None:
    cells: list[object] = []
    for d, form, pad, w in items:
        if form == "date":
            cells.append(d)
        elif form == "datetime":
            cells.append(dt.datetime(d.year, d.month, d.day, 13, 5))
        else:
            text = (
                form.replace("roc", str(d.year - 1911))
                .replace("ad", str(d.year))
                .replace("mm", f"{d.month:02d}")
                .replace("dd", f"{d.day:02d}")
                .replace("m", str(d.month))
            )
            cells.append(written(text, pad, w))
    p = V.parse_year_month(col(*cells))
    assert p.year is not None
    assert list(zip(p.year, p.values, strict=True)) == [(d.year - 1911, d.month) for d, *_ in items]


@given(st.lists(raw_cells, max_size=20))
def test_year_month_never_raises(cells: list[object]) -> None:
    check_never_raises(V.parse_year_month, cells)


# ---------------------------------------------------------------- dates

FEB_15 = pd.Timestamp("2019-02-15")


@pytest.mark.parametrize(
    "cell",
    ["108/02/15", "108.2.15", "108-2-15", "108年2月15日", "2019-02-15", "2019/2/15",
     "2019.02.15", "20190215", "1080215", "民國108年2月15日", "2019-02-15 13:45:00",
     dt.date(2019, 2, 15), dt.datetime(2019, 2, 15, 13, 45), 43511, 43511.75, 20190215],
)  # fmt: skip
def test_date_forms(cell: object) -> None:
    p = V.parse_date(col(cell))
    assert p.values[0] == FEB_15 and not p.bad[0]
    assert p.values.dtype == "datetime64[ns]"


@pytest.mark.parametrize(
    "cell", ["108/02/30", "2019-13-01", "2019-02-29", "abc", 12, 100000.0, True, dt.time(12, 0)]
)
def test_date_bad(cell: object) -> None:
    p = V.parse_date(col(cell))
    assert p.bad[0] and pd.isna(p.values[0])


DATE_FORMS = ["roc/mm/dd", "roc.m.d", "roc-m-d", "roc年m月d日", "ad-mm-dd", "ad/m/d", "ad.mm.dd",
              "admmdd", "date", "datetime", "serial"]  # fmt: skip


@given(
    st.lists(
        st.tuples(
            st.dates(dt.date(1912, 1, 1), dt.date(2100, 12, 31)),
            st.sampled_from(DATE_FORMS),
            padding,
            width,
        ),
        min_size=1,
        max_size=20,
    )
)
def test_date_round_trip(items: list[tuple[dt.date, str, str, str]]) -> None:
    cells: list[object] = []
    expected = []
    for d, form, pad, w in items:
        serial = (d - dt.date(1899, 12, 30)).days
        if form == "serial" and not V.MIN_SERIAL <= serial <= V.MAX_SERIAL:
            form = "date"
        if form == "date":
            cells.append(d)
        elif form == "datetime":
            cells.append(dt.datetime(d.year, d.month, d.day, 23, 59, 59))
        elif form == "serial":
            cells.append(float(serial) + 0.5)
        else:
            text = (
                form.replace("roc", str(d.year - 1911))
                .replace("ad", str(d.year))
                .replace("mm", f"{d.month:02d}")
                .replace("dd", f"{d.day:02d}")
                .replace("m", str(d.month))
                .replace("d", str(d.day))
            )
            cells.append(written(text, pad, w))
        expected.append(pd.Timestamp(d))
    p = V.parse_date(col(*cells))
    assert not p.bad.any()
    assert list(p.values) == expected


@given(st.lists(raw_cells, max_size=20))
def test_date_never_raises(cells: list[object]) -> None:
    check_never_raises(V.parse_date, cells)


# ---------------------------------------------------------------- choices


@pytest.mark.parametrize(
    ("cell", "expected"),
    [("電子簽證", "電子簽證"), (" E-Visa ", "電子簽證"), ("ＥＶＩＳＡ", "電子簽證"),
     ("電子簽證(eVisa)", "電子簽證"), ("停留", "停留簽證"), ("Visitor  Visa", "停留簽證")],
)  # fmt: skip
def test_choice_spellings(cell: str, expected: str) -> None:
    p = V.parse_choice(col(cell), VISA_TYPES)
    assert p.values[0] == expected and not p.bad[0]


def test_choice_longest_match_wins() -> None:
    p = V.parse_choice(col("外交部副部長", "副總統", "前總統"), LEVELS)
    assert listed(p) == ["副部長", "副元首", "元首"]


def test_choice_unknown_and_blank() -> None:
    p = V.parse_choice(col("觀光", "", "campaign", "停留或居留"), VISA_TYPES | LEVELS)
    assert listed(p) == [None, None, None, None]
    assert list(p.bad) == [True, False, True, True]
    assert list(p.blank) == [False, True, False, False]


ALL_CHOICES = [
    (key, sp)
    for table in (VISA_TYPES, VISIT_TYPES, LEVELS)
    for key, sps in table.items()
    for sp in sps
]


@given(
    st.lists(
        st.tuples(st.sampled_from(ALL_CHOICES), st.booleans(), padding), min_size=1, max_size=10
    ),
    st.sampled_from([VISA_TYPES, VISIT_TYPES, LEVELS]),
)
def test_choice_round_trip(items: list[tuple[tuple[str, str], bool, str]], table: dict) -> None:
    items = [i for i in items if i[0][0] in table] or [
        ((next(iter(table)), next(iter(table))), False, "")
    ]
    cells = [pad + (sp.upper() if upper else sp) + pad for (_, sp), upper, pad in items]
    p = V.parse_choice(col(*cells), table)
    assert listed(p) == [key for (key, _), _, _ in items]


@given(st.lists(raw_cells, max_size=20))
def test_choice_never_raises(cells: list[object]) -> None:
    check_never_raises(lambda s: V.parse_choice(s, LEVELS), cells)


# ---------------------------------------------------------------- text


def test_text_forms() -> None:
    p = V.parse_text(col(12, 12.0, 12.5, " a\u3000 b ", "", "ＡＢＣ１", dt.date(2019, 1, 2), None))
    assert listed(p) == ["12", "12", "12.5", "a b", None, "ABC1", "2019-01-02", None]
    assert list(p.blank) == [False] * 4 + [True, False, False, True]


@given(
    st.lists(
        st.one_of(st.text(max_size=20), st.integers(-(10**12), 10**12)), min_size=1, max_size=20
    )
)
def test_text_round_trip(cells: list[object]) -> None:
    p = V.parse_text(col(*cells))
    for cell, value in zip(cells, listed(p), strict=True):
        expected = str(cell) if isinstance(cell, int) else V._fold_one(cell) or None
        assert value == expected


@given(st.lists(raw_cells, max_size=20))
def test_text_never_raises(cells: list[object]) -> None:
    check_never_raises(V.parse_text, cells)


# ---------------------------------------------------------------- headers and titles


@pytest.mark.parametrize(
    ("text", "key"),
    [("預算數（千元）", "預算數"), ("執行率\n(%)", "執行率"), ("累計 實支數 [元]", "累計實支數"),
     ("【 】名稱", "名稱"), ("Budget (NT$)", "budget"), ("  年　度 ", "年度")],
)  # fmt: skip
def test_header_key(text: str, key: str) -> None:
    assert V.header_key(text) == key


ALL_HEADERS = sorted({h for ds in DATASETS.values() for f in ds.fields for h in f.headers})


@given(
    st.sampled_from(ALL_HEADERS),
    st.sampled_from(["", "(%)", "（千元）", "[元]", "【單位】", " (NT$) "]),
    st.sampled_from(["", " ", "\n", "\u3000"]),
    st.booleans(),
)
def test_header_key_round_trip(header: str, unit: str, space: str, full: bool) -> None:
    text = space.join(header) + unit
    if full:
        text = text.translate(str.maketrans("()[]", "（）［］"))
    assert V.header_key(text) == V.header_key(header) == header.lower().replace(" ", "")


@pytest.mark.parametrize(
    ("text", "unit"),
    [("預算數（千元）", 1000), ("金額(元)", 1), ("實支數[萬元]", 10_000), ("預算數（百萬元）", 1_000_000),
     ("預算數(億元)", 100_000_000), ("預算數(新臺幣仟元)", 1000), ("預算數", None), ("元首", None)],
)  # fmt: skip
def test_header_unit(text: str, unit: int | None) -> None:
    assert V.header_unit(text) == unit


def test_header_is_percent() -> None:
    assert V.header_is_percent("執行率(%)") and V.header_is_percent("執行率（％）")
    assert not V.header_is_percent("執行率")


@pytest.mark.parametrize(
    ("text", "facts"),
    [
        ("108年度", {"year": 108}),
        ("2019年度", {"year": 108}),
        ("中華民國108年1月至3月", {"year": 108, "month_to": 3, "months": (1, 2, 3)}),
        ("108年1-6月", {"year": 108, "month_to": 6, "months": (1, 2, 3, 4, 5, 6)}),
        ("截至12月底", {"month_to": 12, "months": tuple(range(1, 13))}),
        ("108年第2季", {"year": 108, "quarter": 2}),
        ("2019Q4", {"year": 108, "quarter": 4}),
        ("108Q2", {"year": 108, "quarter": 2}),
        ("108年Q3", {"year": 108, "quarter": 3}),
        ("Q1", {"quarter": 1}),
        ("單位：新臺幣千元", {"unit": 1000}),
        ("單位:元", {"unit": 1}),
        ("（單位：新台幣萬元）", {"unit": 10_000}),
        ("金額單位：百萬元", {"unit": 1_000_000}),
        ("本部近10年來共有1234人參與 2345 項", {}),
        (
            "外交部108年度預算執行表 截至3月底 單位：千元",
            {"year": 108, "month_to": 3, "months": (1, 2, 3), "unit": 1000},
        ),
    ],
)
def test_title_facts(text: str, facts: dict[str, object]) -> None:
    assert V.title_facts(text) == V.TitleFacts(**facts)


@given(
    st.integers(80, 150),
    st.integers(1, 12),
    st.sampled_from(
        ["中華民國{y}年1月至{m}月 預算執行表", "{ad}年度 截至{m}月底", "{y}年度 1-{m}月 單位：千元"]
    ),
)
def test_title_facts_round_trip(roc: int, month: int, template: str) -> None:
    facts = V.title_facts(template.format(y=roc, ad=roc + 1911, m=month))
    assert (facts.year, facts.month_to) == (roc, month)


@given(st.text(max_size=60))
def test_title_facts_never_raise(text: str) -> None:
    V.title_facts(text)
    V.header_key(text)
    V.header_unit(text)


# ---------------------------------------------------------------- shared classification

_PARSERS = {
    "number": V.parse_number,
    "int": lambda s, kinds=None: V.parse_int(s, blank_is_zero=True, kinds=kinds),
    "year": V.parse_year,
    "month": V.parse_month,
    "quarter": V.parse_quarter,
    "date": V.parse_date,
    "year_month": V.parse_year_month,
    "text": V.parse_text,
    "choice": lambda s, kinds=None: V.parse_choice(s, VISA_TYPES, kinds),
}


@given(
    st.lists(
        st.one_of(
            raw_cells,
            st.sampled_from(["108/01", "駐日本代表處", "停留簽證", ""]),
            st.text(max_size=3).map(np.str_),
        ),
        min_size=1,
        max_size=30,
    ),
    st.booleans(),
)
def test_kinds_of_reads_each_cell_as_it_is(cells: list[object], text_first: bool) -> None:
    # kinds_of takes a column's types from its distinct values when it starts with text,
    # from a pass over the cells otherwise; cell by cell, the answer is the cell itself.
    if text_first:
        cells = ["108/01", *cells]
    values = np.empty(len(cells), dtype=object)
    values[:] = cells
    kinds = V.kinds_of(values)
    for i, cell in enumerate(cells):
        kind = kinds.types[kinds.type_codes[i]]
        is_text = isinstance(cell, str)
        assert kind is type(cell) or (is_text and issubclass(kind, str)), (cell, kind)
        code = kinds.text_codes[i]
        assert (code >= 0) == is_text, cell
        if is_text:
            assert kinds.texts[code] == cell
        is_float = type(cell) in (float, np.float64)
        if kinds.floats is None:
            assert not is_float, cell
        elif is_float and not math.isnan(cell):
            assert kinds.floats[i] == cell
        else:
            assert math.isnan(kinds.floats[i]), cell


def test_a_column_of_texts_is_one_kind_and_a_late_number_is_seen() -> None:
    names = np.array(["駐日本代表處", "駐美國代表處", "駐日本代表處"], dtype=object)
    kinds = V.kinds_of(names)
    assert kinds.types == (str,) and list(kinds.text_codes) == [0, 1, 0]
    mixed = np.array(["駐日本代表處", "", 12.0, None], dtype=object)
    kinds = V.kinds_of(mixed)
    assert set(kinds.types) == {str, float, type(None)}
    assert list(kinds.of_type([float])) == [False, False, True, False]
    assert list(kinds.text_codes >= 0) == [True, True, False, False]


def _same(a: V.Parsed, b: V.Parsed) -> None:
    pd.testing.assert_series_equal(a.values, b.values)
    for name in ("bad", "blank", "percent"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None) and (x is None or np.array_equal(x, y)), name
    assert (a.year is None) == (b.year is None)
    if a.year is not None:
        pd.testing.assert_series_equal(a.year, b.year)


@given(
    st.lists(
        st.one_of(
            raw_cells, st.sampled_from(["108/03", "第2季", "3月", " 1,234 ", "停留", "合計"])
        ),
        min_size=1,
        max_size=30,
    ),
    st.data(),
)
def test_parsers_given_the_layouts_kinds_read_as_without(cells: list[object], data) -> None:
    # The layout classifies the whole column and keeps some rows: the kinds of those rows
    # carry texts of rows that were dropped, which must change nothing.
    kept = sorted(data.draw(st.sets(st.integers(0, len(cells) - 1), min_size=1)))
    values = np.empty(len(cells), dtype=object)
    values[:] = cells
    kinds = V.kinds_of(values).take(np.array(kept))
    column = col(*(cells[i] for i in kept))
    for name, parse in _PARSERS.items():
        try:
            _same(parse(column, kinds=kinds), parse(column))
        except AssertionError as exc:
            raise AssertionError(f"{name}: {exc}") from exc

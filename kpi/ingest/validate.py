"""Raw data rows → canonical rows of a dataset, with every error and warning found.

Each column is parsed in one go by kpi.ingest.values; problems are gathered from the
masks the parsers return, so a 200,000-row sheet is validated column by column, not
cell by cell.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from kpi.ingest import values as V
from kpi.ingest.datasets import (
    CHOICE,
    DATE,
    DEFAULT_MONEY_UNIT,
    INT,
    MONEY,
    MONTH,
    NUMBER,
    QUARTER,
    RATE,
    TEXT,
    YEAR,
    YEAR_MONTH,
    Dataset,
)
from kpi.ingest.layout import Header, SheetFacts, blank_cells, column_letter
from kpi.ingest.report import ERROR, MAX_PROBLEMS_PER_CODE, WARNING, Problem, SheetReport
from kpi.ingest.values import Kinds

DEFAULT_VISIT_PROGRAM = "國際會議及交流"
RATE_TOLERANCE = 0.005  # half a percentage point

_UNIT_NAMES = {1: "元", 1000: "千元", 10000: "萬元", 1_000_000: "百萬元", 100_000_000: "億元"}


@dataclass(frozen=True)
class Context:
    """What the validator needs to know beyond the file itself."""

    year: int | None = None  # given by the uploader (ROC)
    quarter: int | None = None
    given_zh: str = "上傳時指定"
    given_en: str = "given at upload"
    plan_programs: frozenset[str] | None = None
    program_aliases: dict[str, str] = field(default_factory=dict)
    resolve_kpi: object = None  # callable text → indicator id or None
    normalize_country: object = None  # callable text → canonical name
    is_known_country: object = None  # callable canonical name → bool


class _Sheet:
    """Collects the problems of one sheet while its columns are parsed."""

    def __init__(
        self, name: str, table: pd.DataFrame, header: Header, kinds: Mapping[str, Kinds]
    ) -> None:
        self.name = name
        self.table = table
        self.header = header
        self.kinds = kinds  # the columns' cells as the layout classified them, if given
        self.rows = table["_row"].to_numpy()
        self.problems: list[Problem] = []
        # Rows that already have an error, so a later check does not report them twice.
        self.erroneous = np.zeros(len(table), dtype=bool)

    def flag(
        self,
        mask: np.ndarray | pd.Series,
        field_name: str | None,
        severity: str,
        code: str,
        zh: str,
        en: str,
        values: pd.Series | None = None,
    ) -> None:
        """Add one problem per flagged row (the first few; the rest are summarised later)."""
        mask = np.asarray(mask, dtype=bool)
        idx = np.flatnonzero(mask)
        if not len(idx):
            return
        if severity == ERROR:
            self.erroneous |= mask
        col = self.header.columns.get(field_name) if field_name else None
        letter = column_letter(col) if col is not None else None
        head = self.header.texts.get(field_name) if field_name else None
        raw = values if values is not None else self.table.get(field_name)
        for i in idx[: MAX_PROBLEMS_PER_CODE + 1]:
            value = None if raw is None else _show(raw.iloc[i])
            # Not str.format: the messages quote header texts, and a header may hold braces.
            shown = value or ""
            self.problems.append(
                Problem(
                    severity,
                    code,
                    self.name,
                    int(self.rows[i]),
                    letter,
                    head,
                    value,
                    zh.replace("{v}", shown),
                    en.replace("{v}", shown),
                )
            )
        for _ in idx[MAX_PROBLEMS_PER_CODE + 1 :]:
            # Counted, not described: report.capped() turns these into one summary line.
            self.problems.append(
                Problem(severity, code, self.name, None, letter, head, None, zh, en)
            )

    def whole(
        self, severity: str, code: str, zh: str, en: str, field_name: str | None = None
    ) -> None:
        col = self.header.columns.get(field_name) if field_name else None
        self.problems.append(
            Problem(
                severity,
                code,
                self.name,
                self.header.row + 1,
                column_letter(col) if col is not None else None,
                self.header.texts.get(field_name) if field_name else None,
                None,
                zh,
                en,
            )
        )


def _show(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _parse(sheet: _Sheet, ds: Dataset, name: str, facts_unit: int | None) -> pd.Series | None:
    """Parse one field's column; flag unreadable cells; None when the column is absent."""
    if name not in sheet.table:
        return None
    f = ds.field(name)
    raw = sheet.table[name]
    kinds = sheet.kinds.get(name)
    label = sheet.header.texts.get(name, f.label_zh)
    if f.kind == TEXT:
        text = V.parse_text(raw, kinds).values
        if f.free_text:
            written = raw.where(raw.map(type).eq(str)).str.strip()
            text = text.where(~written.fillna("").astype(bool), written)
        return text
    if f.kind == YEAR_MONTH:
        return None  # read together with year by the visa assembler
    if f.kind in (MONEY, NUMBER, RATE):
        parsed = V.parse_number(raw, blank_is_zero=f.blank_is_zero, kinds=kinds)
    elif f.kind == INT:
        parsed = V.parse_int(raw, blank_is_zero=f.blank_is_zero, kinds=kinds)
    elif f.kind == YEAR:
        parsed = V.parse_year(raw, kinds)
    elif f.kind == MONTH:
        parsed = V.parse_month(raw, kinds)
    elif f.kind == QUARTER:
        parsed = V.parse_quarter(raw, kinds)
    elif f.kind == DATE:
        parsed = V.parse_date(raw, kinds)
    elif f.kind == CHOICE:
        parsed = V.parse_choice(raw, f.choices, kinds)
    else:  # pragma: no cover - the schema only uses the kinds above
        raise ValueError(f.kind)
    values = parsed.values
    bad = np.asarray(parsed.bad, dtype=bool)
    if f.kind == CHOICE and not f.strict:
        unknown = bad
        if f.unknown_as:
            sheet.flag(
                unknown,
                name,
                WARNING,
                f"unknown_{name}",
                f"「{label}」的值「{{v}}」無法辨識，以「{f.unknown_as}」計。",
                f"{f.label_en} '{{v}}' is not recognised and is counted as '{f.unknown_as}'.",
            )
            values = values.where(~unknown, f.unknown_as)
        elif unknown.any():
            # Kept as written, so once per distinct value is enough (not once per row).
            written = V.parse_text(raw, kinds).values
            sheet.flag(
                unknown & ~written.duplicated().to_numpy(),
                name,
                WARNING,
                f"unknown_{name}",
                f"「{label}」的值「{{v}}」不在常用清單中，照原文保存。",
                f"{f.label_en} '{{v}}' is not one of the usual values; it is kept as written.",
            )
            values = values.where(~unknown, written)
        return values
    if f.kind == CHOICE:
        choices = "、".join(f.choices)
        sheet.flag(
            bad,
            name,
            ERROR,
            f"bad_{name}",
            f"「{label}」的值「{{v}}」無法辨識，應為：{choices}。",
            f"{f.label_en} '{{v}}' is not recognised; expected one of: {', '.join(f.choices)}.",
        )
        return values
    what_zh, what_en = _KIND_WORDS[f.kind]
    sheet.flag(
        bad,
        name,
        ERROR,
        f"bad_{name}",
        f"「{label}」的值「{{v}}」不是有效的{what_zh}。",
        f"{f.label_en} '{{v}}' is not a valid {what_en}.",
    )
    if f.kind == MONEY:
        unit = V.header_unit(sheet.header.texts.get(name, "")) or facts_unit or DEFAULT_MONEY_UNIT
        values = values * unit
    if f.kind == RATE and (V.header_is_percent(sheet.header.texts.get(name, ""))):
        pct = np.asarray(getattr(parsed, "percent", np.zeros(len(values), dtype=bool)), dtype=bool)
        values = values.where(pct, values / 100)
    if f.kind in (MONEY, INT):
        negative = np.asarray(values.fillna(0) < 0, dtype=bool)
        sheet.flag(
            negative,
            name,
            ERROR,
            f"negative_{name}",
            f"「{label}」不可為負數：{{v}}。",
            f"{f.label_en} cannot be negative: {{v}}.",
        )
    return values


_KIND_WORDS = {
    MONEY: ("金額", "amount"),
    NUMBER: ("數值", "number"),
    RATE: ("比率", "rate"),
    INT: ("整數", "whole number"),
    YEAR: ("年度", "year"),
    MONTH: ("月份（1–12）", "month (1–12)"),
    QUARTER: ("季別（1–4）", "quarter (1–4)"),
    DATE: ("日期", "date"),
    YEAR_MONTH: ("年月", "year and month"),
}


def _fill_down(values: pd.Series) -> pd.Series:
    return values.ffill()


def _require(
    sheet: _Sheet, values: pd.Series, name: str, ds: Dataset, rows: pd.Series | None = None
) -> None:
    """Flag the rows (of ``rows``, default all) that leave a required field blank."""
    f = ds.field(name)
    label = sheet.header.texts.get(name, f.label_zh)
    blank = np.array(values.isna(), dtype=bool)
    if rows is not None:
        blank &= np.asarray(rows, dtype=bool)
    # Only cells that gave nothing are looked at again: blank, or unreadable (flagged already).
    maybe = np.flatnonzero(blank)
    blank[maybe] = _blank(sheet.table[name].iloc[maybe])
    sheet.flag(
        blank,
        name,
        ERROR,
        f"blank_{name}",
        f"「{label}」是必填欄位，這一列是空白。",
        f"{f.label_en} is required but this row leaves it blank.",
    )


def _blank(raw: pd.Series) -> np.ndarray:
    return blank_cells(raw.to_numpy(dtype=object))


def _fact(
    sheet: _Sheet,
    report: SheetReport,
    name: str,
    column: pd.Series | None,
    facts_value,
    ctx_value,
    ctx: Context,
    zh: str,
    en: str,
):
    """A sheet-wide value from a column, else a title fact, else the uploader; records the source."""
    if column is not None and column.notna().any():
        report.sources[name] = {
            "zh": f"欄位「{sheet.header.texts.get(name, zh)}」",
            "en": f"column '{sheet.header.texts.get(name, en)}'",
        }
        return column
    if facts_value is not None:
        report.sources[name] = {"zh": facts_value.source_zh, "en": facts_value.source_en}
        return pd.Series(facts_value.value, index=sheet.table.index, dtype="Int64")
    if ctx_value is not None:
        report.sources[name] = {"zh": ctx.given_zh, "en": ctx.given_en}
        return pd.Series(ctx_value, index=sheet.table.index, dtype="Int64")
    return None


def validate_sheet(
    name: str,
    table: pd.DataFrame,
    header: Header,
    facts: SheetFacts,
    ctx: Context,
    formula_cells: tuple[tuple[int, int], ...] = (),
    kinds: Mapping[str, Kinds] | None = None,
) -> tuple[pd.DataFrame, list[Problem], SheetReport]:
    """Canonical rows of one sheet (with ``_sheet``/``_row``), its problems and a summary.

    ``kinds`` are the columns' cells as ``layout.read_table`` classified them (it saves
    classifying them again); without them each parser classifies its column.
    """
    ds = header.dataset
    sheet = _Sheet(name, table, header, kinds or {})
    report = SheetReport(name=name, dataset=ds.name, header_row=header.row + 1)
    _formula_problems(sheet, formula_cells)
    missing = [
        f
        for f in ds.fields
        if f.required
        and f.name not in header.columns
        and f.name not in _FACT_FIELDS.get(ds.name, ())
    ]
    for f in missing:
        sheet.whole(
            ERROR,
            "missing_column",
            f"工作表缺少必要欄位「{f.label_zh}」（可用標題：{'、'.join(f.headers[:4])}）。",
            f"The sheet has no '{f.label_en}' column (accepted headers: {', '.join(f.headers[:4])}).",
        )
    if missing:
        return pd.DataFrame(), sheet.problems, report
    unit = facts.unit.value if facts.unit else None
    parsed = {f.name: _parse(sheet, ds, f.name, unit) for f in ds.fields}
    for f in ds.fields:
        if f.fill_down and parsed[f.name] is not None:
            parsed[f.name] = _fill_down(parsed[f.name])
    out = _ASSEMBLE[ds.name](sheet, parsed, facts, ctx, report)
    if out is None:
        return pd.DataFrame(), sheet.problems, report
    _incomplete_keys(sheet, out)
    out["_sheet"] = name
    # An assembler may leave out rows that say nothing; the others keep their Excel rows.
    out["_row"] = sheet.rows[out.index.to_numpy()]
    out = out.reset_index(drop=True)
    report.rows = len(out)
    if "year" in out and out["year"].notna().any():
        report.year = int(out["year"].dropna().iloc[0])
    if "month" in out:
        report.months = sorted(int(m) for m in out["month"].dropna().unique())
    return out, sheet.problems, report


_FACT_FIELDS = {
    "budget": ("year", "month"),
    "visa": ("year", "month"),
    "kpi_values": ("year", "quarter"),
}


def _money_unit(header: Header, facts: SheetFacts) -> int:
    for name in ("allotted", "spent", "budget"):
        u = V.header_unit(header.texts.get(name, ""))
        if u:
            return u
    return facts.unit.value if facts.unit else DEFAULT_MONEY_UNIT


def _formula_problems(sheet: _Sheet, cells: tuple[tuple[int, int], ...]) -> None:
    """Formula cells saved without their result, where the importer would read them.

    A formula in a total row (=SUM(…)), a title or a column no field uses is never read,
    so it does not refuse the file.
    """
    names = {col: name for name, col in sheet.header.columns.items()}
    cells = tuple((r, c) for r, c in cells if c in names)
    if not cells or not len(sheet.rows):
        return
    # Data rows keep their Excel numbers in ascending order: find each cell's row by bisection.
    wanted = np.array([r + 1 for r, _ in cells])
    at = np.minimum(np.searchsorted(sheet.rows, wanted), len(sheet.rows) - 1)
    for (r, c), i in zip(cells, at, strict=True):
        if sheet.rows[i] != r + 1:
            continue
        sheet.erroneous[i] = True
        sheet.problems.append(
            Problem(
                ERROR,
                "formula_without_value",
                sheet.name,
                r + 1,
                column_letter(c),
                sheet.header.texts[names[c]],
                None,
                "這個儲存格是公式，但檔案沒有存下計算結果。請在 Excel 或 LibreOffice 開啟後重新計算並存檔，或將公式改為數值。",
                "This cell holds a formula whose result was not saved in the file. Open it in Excel or LibreOffice, recalculate and save, or paste the values.",
            )
        )


def _period_months(sheet, parsed, facts, ctx, report) -> pd.Series | None:
    """Budget: the report's month, from a month or quarter column, the title, or the uploader."""
    month = parsed.get("month")
    if month is not None and month.notna().any():
        report.sources["month"] = {
            "zh": f"欄位「{sheet.header.texts['month']}」",
            "en": f"column '{sheet.header.texts['month']}'",
        }
        return month
    quarter = parsed.get("quarter")
    if quarter is not None and quarter.notna().any():
        report.sources["month"] = {
            "zh": f"欄位「{sheet.header.texts['quarter']}」（季末月份）",
            "en": f"column '{sheet.header.texts['quarter']}' (last month of the quarter)",
        }
        return quarter * 3
    if facts.month_to is not None:
        report.sources["month"] = {"zh": facts.month_to.source_zh, "en": facts.month_to.source_en}
        return pd.Series(facts.month_to.value, index=sheet.table.index, dtype="Int64")
    if facts.quarter is not None:
        report.sources["month"] = {
            "zh": facts.quarter.source_zh + "（季末月份）",
            "en": facts.quarter.source_en + " (last month of the quarter)",
        }
        return pd.Series(facts.quarter.value * 3, index=sheet.table.index, dtype="Int64")
    if ctx.quarter is not None:
        report.sources["month"] = {
            "zh": ctx.given_zh + "（季末月份）",
            "en": ctx.given_en + " (last month of the quarter)",
        }
        return pd.Series(ctx.quarter * 3, index=sheet.table.index, dtype="Int64")
    return None


def _no_fact(sheet: _Sheet, what_zh: str, what_en: str, hint_zh: str, hint_en: str) -> None:
    sheet.whole(
        ERROR,
        "missing_period",
        f"找不到{what_zh}：工作表沒有這個欄位，標題列與工作表名稱也沒有寫明。{hint_zh}",
        f"The {what_en} cannot be found: no column for it, and neither the title rows nor the sheet name state it. {hint_en}",
    )


# Where a key part comes from, in order of preference: the column of the same name, else
# the column it is read from (a 年月 cell names the year, a 季別 cell the budget's month).
_KEY_SOURCES = {
    "year": ("year", "period", "quarter", "date"),
    "month": ("month", "period", "quarter", "date"),
}
_KEY_WORDS = {"year": ("年度", "year"), "month": ("月份", "month"), "quarter": ("季別", "quarter")}


def _incomplete_keys(sheet: _Sheet, out: pd.DataFrame) -> None:
    """A row without a full natural key cannot be stored: an error, unless it has one already.

    Sheet-wide columns fill down, so this is a blank year, month or quarter above the first
    written one (or a 年月 cell left blank at the top).
    """
    ds = sheet.header.dataset
    for k in ds.key:
        # Refreshed for every key part: a blank 年月 cell is one problem, not two.
        missing = out[k].isna() & ~sheet.erroneous[out.index.to_numpy()]
        if not missing.any():
            continue
        source = next((s for s in _KEY_SOURCES.get(k, (k,)) if s in sheet.header.columns), None)
        label = sheet.header.texts.get(source, "") if source else ""
        what_zh, what_en = _KEY_WORDS.get(k, (ds.field(k).label_zh, ds.field(k).label_en))
        mask = np.zeros(len(sheet.table), dtype=bool)
        mask[out.index[missing.to_numpy()]] = True
        sheet.flag(
            mask,
            source,
            ERROR,
            f"blank_{k}",
            f"這一列沒有{what_zh}：「{label}」空白，上方也沒有可沿用的值。",
            f"This row has no {what_en}: the '{label}' cell is blank and there is no value above it to carry down.",
        )


def _year(sheet, parsed, facts, ctx, report) -> pd.Series | None:
    year = _fact(
        sheet, report, "year", parsed.get("year"), facts.year, ctx.year, ctx, "年度", "year"
    )
    if year is None:
        _no_fact(
            sheet,
            "年度",
            "year",
            "請在上傳時指定年度（CLI：--year）。",
            "Give the year when uploading (CLI: --year).",
        )
    return year


def _program(values: pd.Series, ctx: Context) -> pd.Series:
    return _per_value(values, lambda p: ctx.program_aliases.get(p, p))


def _per_value(values: pd.Series, fn) -> pd.Series:
    """``fn`` applied once per distinct text (a column repeats a few names many times)."""
    texts = values.where(values.map(type).eq(str))
    mapping = {t: fn(t) for t in texts.dropna().unique()}
    return texts.map(mapping).where(texts.notna(), values).astype(object)


def _warn_programs(sheet: _Sheet, programs: pd.Series, ctx: Context, field_name: str) -> None:
    if ctx.plan_programs is None:
        return
    outside = programs.notna() & ~programs.isin(ctx.plan_programs)
    first = outside & ~programs.duplicated()
    sheet.flag(
        np.asarray(first, dtype=bool),
        field_name,
        WARNING,
        "program_not_in_plan",
        "工作計畫「{v}」不在本年度施政計畫中；資料照存，僅計入預算總數。",
        "Work program '{v}' is not in this year's plan; the rows are stored and count towards budget totals only.",
        values=programs,
    )


def _assemble_budget(sheet, parsed, facts, ctx, report) -> pd.DataFrame | None:
    year = _year(sheet, parsed, facts, ctx, report)
    month = _period_months(sheet, parsed, facts, ctx, report)
    if month is None:
        _no_fact(
            sheet,
            "資料期間（月份）",
            "period (month)",
            "請在上傳時指定季別（CLI：--quarter）。",
            "Give the quarter when uploading (CLI: --quarter).",
        )
    if year is None or month is None:
        return None
    for name in ("program", "kind"):
        _require(sheet, parsed[name], name, sheet.header.dataset)
    zero = pd.Series(0.0, index=sheet.table.index)
    out = pd.DataFrame(
        {
            "year": year.astype("Int64"),
            "month": month.astype("Int64"),
            "agency": (
                parsed["agency"]
                if parsed.get("agency") is not None
                else pd.Series("", index=sheet.table.index)
            ).fillna(""),
            "program": _program(parsed["program"], ctx),
            "kind": parsed["kind"],
            "budget": parsed["budget"].astype(float),
            "allotted": parsed["allotted"].astype(float),
            "spent": parsed["spent"].astype(float),
            "payable": parsed["payable"].astype(float)
            if parsed.get("payable") is not None
            else zero,
        }
    )
    out["payable"] = out["payable"].fillna(0.0)
    executed = out["spent"] + out["payable"]
    over = executed > out["allotted"] + 0.5
    sheet.flag(
        np.asarray(over, dtype=bool),
        "spent",
        WARNING,
        "executed_over_allotted",
        "實支數加應付未付數（{v}）超過累計分配數。",
        "Spent plus payable ({v}) exceeds the allotted amount.",
        values=executed[over].map("{:,.0f}".format).reindex(executed.index),
    )
    rate = parsed.get("rate")
    if rate is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            computed = executed / out["allotted"].where(out["allotted"] != 0)
        if not V.header_is_percent(sheet.header.texts["rate"]):
            # Under a plain 執行率 header offices write 83.33 (points) as often as 0.8333:
            # read each cell the way that agrees better with the amounts.
            points = rate / 100
            rate = rate.where((rate - computed).abs() <= (points - computed).abs(), points)
        mismatch = rate.notna() & computed.notna() & ((rate - computed).abs() > RATE_TOLERANCE)
        pairs = zip(rate[mismatch], computed[mismatch], strict=True)
        shown = pd.Series(
            [f"{r:.2%} ≠ {c:.2%}" for r, c in pairs], index=rate.index[mismatch], dtype=object
        )
        sheet.flag(
            np.asarray(mismatch, dtype=bool),
            "rate",
            WARNING,
            "rate_mismatch",
            "填報的執行率與重新計算的（實支＋應付）÷分配數相差超過 0.5 個百分點：{v}；以重新計算者為準。",
            "The reported execution rate differs from (spent + payable) ÷ allotted by more than 0.5 points: {v}; the recomputed rate is used.",
            values=shown.reindex(rate.index),
        )
    _warn_programs(sheet, out["program"], ctx, "program")
    report.sources.setdefault("unit", {})
    unit = _money_unit(sheet.header, facts)
    unit_src = next(
        (
            n
            for n in ("allotted", "spent", "budget")
            if V.header_unit(sheet.header.texts.get(n, ""))
        ),
        None,
    )
    if unit_src:
        report.sources["unit"] = {
            "zh": f"欄位標題「{sheet.header.texts[unit_src]}」",
            "en": f"header '{sheet.header.texts[unit_src]}'",
        }
    elif facts.unit:
        report.sources["unit"] = {"zh": facts.unit.source_zh, "en": facts.unit.source_en}
    else:
        report.sources["unit"] = {
            "zh": "未標示，依慣例以千元計",
            "en": "not stated; NT$ thousands by convention",
        }
    report.unit = unit
    return out


def _assemble_visa(sheet, parsed, facts, ctx, report) -> pd.DataFrame | None:
    ds = sheet.header.dataset
    year = month = None
    if "period" in sheet.table:
        ym = V.parse_year_month(sheet.table["period"], sheet.kinds.get("period"))
        bad = np.asarray(ym.bad, dtype=bool)
        sheet.flag(
            bad,
            "period",
            ERROR,
            "bad_period",
            "「年月」的值「{v}」不是有效的年月（例：108/01、108年4月、2019-01）。",
            "Period '{v}' is not a valid year and month (e.g. 108/01, 108年4月, 2019-01).",
        )
        year, month = ym.year.ffill(), ym.values.ffill()
        label = sheet.header.texts["period"]
        report.sources["year"] = report.sources["month"] = {
            "zh": f"欄位「{label}」",
            "en": f"column '{label}'",
        }
    else:
        if parsed.get("month") is not None and parsed["month"].notna().any():
            month = parsed["month"]
            report.sources["month"] = {
                "zh": f"欄位「{sheet.header.texts['month']}」",
                "en": f"column '{sheet.header.texts['month']}'",
            }
        elif facts.month_to is not None:
            month = pd.Series(facts.month_to.value, index=sheet.table.index, dtype="Int64")
            report.sources["month"] = {
                "zh": facts.month_to.source_zh,
                "en": facts.month_to.source_en,
            }
        year = _fact(
            sheet, report, "year", parsed.get("year"), facts.year, ctx.year, ctx, "年度", "year"
        )
        if year is None:
            _no_fact(
                sheet,
                "年度",
                "year",
                "請在上傳時指定年度（CLI：--year）。",
                "Give the year when uploading (CLI: --year).",
            )
        if month is None:
            _no_fact(
                sheet,
                "月份",
                "month",
                "請加上「年月」或「月份」欄位。",
                "Add a 年月 (period) or 月份 (month) column.",
            )
    if year is None or month is None:
        return None
    for name in ("mission", "visa_type"):
        _require(sheet, parsed[name], name, ds)
    out = pd.DataFrame(
        {
            "year": year.astype("Int64"),
            "month": month.astype("Int64"),
            "mission": parsed["mission"],
            "region": parsed["region"]
            if parsed.get("region") is not None
            else pd.Series(pd.NA, index=sheet.table.index, dtype=object),
            "visa_type": parsed["visa_type"],
            "applications": parsed["applications"].astype("Int64"),
            "issued": parsed["issued"].astype("Int64"),
            "refused": parsed["refused"].astype("Int64")
            if parsed.get("refused") is not None
            else pd.Series(pd.NA, index=sheet.table.index, dtype="Int64"),
            "avg_days": parsed["avg_days"].astype(float)
            if parsed.get("avg_days") is not None
            else pd.Series(np.nan, index=sheet.table.index),
        }
    )
    over = out["issued"].fillna(0) > out["applications"].fillna(0)
    sheet.flag(
        np.asarray(over, dtype=bool),
        "issued",
        WARNING,
        "issued_over_applications",
        "核發件數（{v}）多於申請件數。",
        "Issued ({v}) exceeds applications.",
    )
    negative_days = out["avg_days"].fillna(0) < 0
    sheet.flag(
        np.asarray(negative_days, dtype=bool),
        "avg_days",
        ERROR,
        "negative_avg_days",
        "平均處理天數不可為負數：{v}。",
        "Average processing days cannot be negative: {v}.",
    )
    return out


def _assemble_visits(sheet, parsed, facts, ctx, report) -> pd.DataFrame | None:
    ds = sheet.header.dataset
    for name in ("date", "type", "country"):
        _require(sheet, parsed[name], name, ds)
    country = parsed["country"]
    if ctx.normalize_country is not None:
        country = _per_value(country, ctx.normalize_country)
        if ctx.is_known_country is not None:
            unknown = _per_value(country, lambda c: not ctx.is_known_country(c)).eq(True)
            first = unknown & ~country.duplicated()
            sheet.flag(
                np.asarray(first, dtype=bool),
                "country",
                WARNING,
                "unknown_country",
                "國家「{v}」不在國家清單中（是否有錯字？）；照原文保存，並視為無邦交國。",
                "Country '{v}' is not in the country list (a typo?); it is kept as written and counted as a non-ally.",
                values=country,
            )
    level = parsed["level"]
    blank_level = level.isna()
    sheet.flag(
        np.asarray(blank_level, dtype=bool),
        "level",
        WARNING,
        "blank_level",
        "「層級」空白，以「其他」計。",
        "Level is blank and is counted as 其他 (other).",
    )
    program = parsed.get("program")
    program = (
        _program(program, ctx).fillna(DEFAULT_VISIT_PROGRAM)
        if program is not None
        else pd.Series(DEFAULT_VISIT_PROGRAM, index=sheet.table.index)
    )
    _warn_programs(sheet, program, ctx, "program")
    dates = parsed["date"]
    out = pd.DataFrame(
        {
            "date": dates,
            "type": parsed["type"],
            "country": country,
            "level": level.fillna("其他"),
            "delegation": parsed["delegation"].fillna("")
            if parsed.get("delegation") is not None
            else pd.Series("", index=sheet.table.index),
            "participants": parsed["participants"].astype("Int64")
            if parsed.get("participants") is not None
            else pd.Series(pd.NA, index=sheet.table.index, dtype="Int64"),
            "program": program,
        }
    )
    out["year"] = (dates.dt.year - 1911).astype("Int64")
    out["month"] = dates.dt.month.astype("Int64")
    report.sources["year"] = report.sources["month"] = {
        "zh": f"欄位「{sheet.header.texts['date']}」",
        "en": f"column '{sheet.header.texts['date']}'",
    }
    return out


def _assemble_kpi_values(sheet, parsed, facts, ctx, report) -> pd.DataFrame | None:
    quarter = parsed.get("quarter")
    qyear = None
    if quarter is not None and "quarter" in sheet.table:
        qyear = V.parse_quarter(sheet.table["quarter"], sheet.kinds.get("quarter")).year
    year_col = parsed.get("year")
    if (year_col is None or year_col.isna().all()) and qyear is not None and qyear.notna().any():
        year_col = qyear.ffill()
    year = _fact(sheet, report, "year", year_col, facts.year, ctx.year, ctx, "年度", "year")
    quarter = _fact(
        sheet, report, "quarter", quarter, facts.quarter, ctx.quarter, ctx, "季別", "quarter"
    )
    if year is None:
        _no_fact(
            sheet,
            "年度",
            "year",
            "請在上傳時指定年度（CLI：--year）。",
            "Give the year when uploading (CLI: --year).",
        )
    if quarter is None:
        _no_fact(
            sheet,
            "季別",
            "quarter",
            "請在上傳時指定季別（CLI：--quarter）。",
            "Give the quarter when uploading (CLI: --quarter).",
        )
    if year is None or quarter is None:
        return None
    value = parsed.get("value")
    note = parsed.get("note")
    value = value.astype(float) if value is not None else pd.Series(np.nan, index=sheet.table.index)
    note = note if note is not None else pd.Series(pd.NA, index=sheet.table.index, dtype=object)
    # A template lists every indicator; a row whose value and note are left blank (or a
    # lone dash) says nothing, whatever its indicator cell holds.
    said = value.notna() | note.notna() | pd.Series(sheet.erroneous, index=sheet.table.index)
    kpi_text = parsed["kpi"].where(said)
    _require(sheet, kpi_text, "kpi", sheet.header.dataset, rows=said)
    kpi = _per_value(kpi_text, ctx.resolve_kpi) if ctx.resolve_kpi else kpi_text
    unknown = kpi_text.notna() & kpi.isna()
    sheet.flag(
        np.asarray(unknown, dtype=bool),
        "kpi",
        ERROR,
        "unknown_kpi",
        "指標「{v}」不在指標目錄中；請填指標代碼（如 K4.1）或目錄中的指標名稱。",
        "Indicator '{v}' is not in the catalogue; give its code (e.g. K4.1) or its catalogue name.",
    )
    out = pd.DataFrame(
        {
            "kpi": kpi,
            "year": year.astype("Int64"),
            "quarter": quarter.astype("Int64"),
            "value": value,
            "note": note,
        }
    )
    return out[said]


_ASSEMBLE = {
    "budget": _assemble_budget,
    "visa": _assemble_visa,
    "visits": _assemble_visits,
    "kpi_values": _assemble_kpi_values,
}

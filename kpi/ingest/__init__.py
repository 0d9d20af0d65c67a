"""Reading workbooks into canonical rows: ``analyze`` is the whole dry run of one file."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kpi.ingest.datasets import DATASETS
from kpi.ingest.layout import data_table, find_header, read_facts
from kpi.ingest.read import DEFAULT_LIMITS, Limits, ReadError, read_workbook
from kpi.ingest.report import ERROR, WARNING, FileReport, Problem, SheetReport, capped
from kpi.ingest.validate import Context, validate_sheet

__all__ = ["Context", "FileReport", "Limits", "Problem", "analyze"]


def analyze(content: bytes, filename: str, ctx: Context | None = None, limits: Limits = DEFAULT_LIMITS) -> FileReport:
    """Read, recognise and validate every sheet of a workbook; never raises for bad input."""
    ctx = ctx or Context()
    report = FileReport(file=filename)
    try:
        workbook = read_workbook(content, filename, limits)
    except ReadError as exc:
        report.problems.append(Problem(ERROR, exc.code, None, None, None, None, None, exc.message_zh, exc.message_en))
        return report
    report.format = workbook.format
    parts: dict[str, list[pd.DataFrame]] = {}
    for sheet in workbook.sheets:
        header = find_header(sheet.rows)
        if header is None:
            if any(str(c).strip() for row in sheet.rows for c in row):
                report.sheets.append(
                    SheetReport(
                        sheet.name,
                        None,
                        skipped_zh="找不到可辨識的標題列（預算執行、簽證、訪問交流或指標填報），已略過。",
                        skipped_en="No recognisable header row (budget, visa, visits or indicator values); skipped.",
                    )
                )
                report.problems.append(
                    Problem(
                        WARNING,
                        "sheet_skipped",
                        sheet.name,
                        None,
                        None,
                        None,
                        None,
                        f"工作表「{sheet.name}」不是可匯入的資料表（找不到可辨識的標題列），已略過。",
                        f"Sheet '{sheet.name}' holds no importable table (no recognisable header row); skipped.",
                    )
                )
            continue
        facts = read_facts(sheet.rows, header.row, sheet.name)
        table = data_table(sheet.rows, header, sheet.merged)
        frame, problems, sheet_report = validate_sheet(sheet.name, table, header, facts, ctx, sheet.formula_without_value)
        report.sheets.append(sheet_report)
        report.problems.extend(problems)
        if len(frame):
            parts.setdefault(header.dataset.name, []).append(frame)
    if not any(s.dataset for s in report.sheets):
        report.problems.append(
            Problem(
                ERROR,
                "no_data_sheet",
                None,
                None,
                None,
                None,
                None,
                "檔案中沒有可辨識的資料表。請確認標題列含有規定的欄位名稱（可下載範本參考）。",
                "No sheet in the file could be recognised. Check that the header row uses the expected column names (download a template for reference).",
            )
        )
    for name, frames in parts.items():
        combined = pd.concat(frames, ignore_index=True)
        report.frames[name] = _dedupe(name, combined, report.problems)
    report.problems = capped(_once_per_value(report.problems, {"program_not_in_plan", "unknown_country"}))
    return report


def _dedupe(name: str, frame: pd.DataFrame, problems: list[Problem]) -> pd.DataFrame:
    """One row per natural key: amounts of repeated keys add up, other datasets keep the last."""
    ds = DATASETS[name]
    key = list(ds.key)
    frame = frame.dropna(subset=[k for k in key if k in frame])
    if name == "kpi_values":
        frame = frame[frame["value"].notna() | frame["note"].notna()]
    dup = frame.duplicated(key, keep=False)
    if not dup.any():
        return frame.reset_index(drop=True)
    first_rows = frame[dup].groupby(key, sort=False)["_row"].transform("first")
    for (_, row), sheet, first in zip(frame[dup].iterrows(), frame.loc[dup, "_sheet"], first_rows, strict=True):
        if row["_row"] == first:
            continue
        if name in ("budget", "visa"):
            zh, en = (
                f"與第 {first} 列的鍵值相同（{'、'.join(str(row[k]) for k in key)}），兩列金額／件數相加。",
                f"Same key as row {first} ({', '.join(str(row[k]) for k in key)}); the two rows are added together.",
            )
        else:
            zh, en = (
                f"與第 {first} 列重複（{'、'.join(str(row[k]) for k in key)}），以後出現的這一列為準。",
                f"Duplicates row {first} ({', '.join(str(row[k]) for k in key)}); this later row is kept.",
            )
        problems.append(Problem(WARNING, "duplicate_key", sheet, int(row["_row"]), None, None, None, zh, en))
    if name == "budget":
        sums = ["budget", "allotted", "spent", "payable"]
        agg = frame.groupby(key, sort=False, dropna=False).agg({**{c: "sum" for c in sums}, "_sheet": "first", "_row": "first"})
        return agg.reset_index()
    if name == "visa":
        f = frame.copy()
        f["_wd"] = f["avg_days"] * f["issued"].astype(float)
        f["_wi"] = f["issued"].astype(float).where(f["avg_days"].notna())
        agg = f.groupby(key, sort=False, dropna=False).agg(
            applications=("applications", "sum"),
            issued=("issued", "sum"),
            refused=("refused", lambda s: s.sum(min_count=1)),
            _wd=("_wd", lambda s: s.sum(min_count=1)),
            _wi=("_wi", lambda s: s.sum(min_count=1)),
            region=("region", "first"),
            _sheet=("_sheet", "first"),
            _row=("_row", "first"),
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            agg["avg_days"] = agg["_wd"] / agg["_wi"]
        return agg.drop(columns=["_wd", "_wi"]).reset_index()
    return frame.drop_duplicates(key, keep="last").reset_index(drop=True)


def _once_per_value(problems: list[Problem], codes: set[str]) -> list[Problem]:
    """Warnings about a name (a program, a country) once per file, not once per sheet."""
    seen: set[tuple[str, str | None]] = set()
    out = []
    for p in problems:
        if p.code in codes:
            if (p.code, p.value) in seen:
                continue
            seen.add((p.code, p.value))
        out.append(p)
    return out

"""Reading workbooks into canonical rows: ``analyze`` is the whole dry run of one file."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kpi.ingest.datasets import DATASETS
from kpi.ingest.layout import find_header, read_facts, read_table
from kpi.ingest.read import DEFAULT_LIMITS, Limits, ReadError, read_workbook
from kpi.ingest.report import (
    ERROR,
    MAX_PROBLEMS_PER_CODE,
    WARNING,
    FileReport,
    Problem,
    SheetReport,
    capped,
)
from kpi.ingest.validate import Context, validate_sheet

__all__ = ["Context", "FileReport", "Limits", "Problem", "analyze"]


def analyze(
    content: bytes, filename: str, ctx: Context | None = None, limits: Limits = DEFAULT_LIMITS
) -> FileReport:
    """Read, recognise and validate every sheet of a workbook; never raises for bad input."""
    ctx = ctx or Context()
    report = FileReport(file=filename)
    try:
        workbook = read_workbook(content, filename, limits)
    except ReadError as exc:
        report.problems.append(
            Problem(ERROR, exc.code, None, None, None, None, None, exc.message_zh, exc.message_en)
        )
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
        table = read_table(sheet.rows, header, sheet.merged, sheet.formula_without_value)
        frame, problems, sheet_report = validate_sheet(
            sheet.name, table.frame, header, facts, ctx, sheet.formula_without_value, table.kinds
        )
        report.sheets.append(sheet_report)
        report.problems.extend(problems)
        if len(frame) and not sheet.visible:
            # A hidden sheet is often last quarter's copy; its rows count, so say so.
            report.problems.append(
                Problem(
                    WARNING,
                    "hidden_sheet",
                    sheet.name,
                    None,
                    None,
                    None,
                    None,
                    f"工作表「{sheet.name}」是隱藏的工作表，其中 {len(frame)} 列資料也會匯入；若不需要，請刪除該工作表後重新上傳。",
                    f"Sheet '{sheet.name}' is hidden; its {len(frame)} rows are imported too. If they are not wanted, delete the sheet and upload again.",
                )
            )
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
    report.problems = capped(
        _once_per_value(report.problems, {"program_not_in_plan", "unknown_country"})
    )
    return report


def _dedupe(name: str, frame: pd.DataFrame, problems: list[Problem]) -> pd.DataFrame:
    """One row per natural key: amounts of repeated keys add up, other datasets keep the last."""
    key = list(DATASETS[name].key)
    present = [k for k in key if k in frame]
    if frame[present].isna().to_numpy().any():
        frame = frame.dropna(subset=present).reset_index(drop=True)
    dup = frame.duplicated(key, keep=False)
    if not dup.any():
        return frame
    problems.extend(_duplicate_warnings(name, frame[dup], key))
    if name not in _ADDED_UP:
        return frame.drop_duplicates(key, keep="last").reset_index(drop=True)
    # Only the repeated keys are grouped: a large sheet with a few repeats stays fast.
    repeated = frame[dup].assign(_order=frame.index[dup])
    added = _ADDED_UP[name](repeated.groupby(key, sort=False, dropna=False)).reset_index()
    combined = pd.concat([frame[~dup].assign(_order=frame.index[~dup]), added], ignore_index=True)
    return (
        combined.sort_values("_order", kind="stable").drop(columns="_order").reset_index(drop=True)
    )


def _add_budget(groups) -> pd.DataFrame:
    sums = groups[["budget", "allotted", "spent", "payable"]].sum()
    return sums.join(groups[["_sheet", "_row", "_order"]].first())


def _add_visa(groups) -> pd.DataFrame:
    counts = groups[["applications", "issued"]].sum()
    refused = groups["refused"].sum(min_count=1)
    # The average of the rows' averages, weighted by what each row issued.
    frame = groups.obj
    issued = frame["issued"].astype(float)
    weighted = frame.assign(
        _days=frame["avg_days"] * issued, _issued=issued.where(frame["avg_days"].notna())
    )
    wgroups = weighted.groupby(groups.keys, sort=False, dropna=False)
    with np.errstate(divide="ignore", invalid="ignore"):
        avg = wgroups["_days"].sum(min_count=1) / wgroups["_issued"].sum(min_count=1)
    firsts = groups[["region", "_sheet", "_row", "_order"]].first()
    return counts.assign(refused=refused, avg_days=avg).join(firsts)


_ADDED_UP = {"budget": _add_budget, "visa": _add_visa}


def _duplicate_warnings(name: str, rows: pd.DataFrame, key: list[str]) -> list[Problem]:
    """One warning for every repeat of a key, naming where the key first appeared."""
    groups = rows.groupby(key, sort=False, dropna=False)
    first_sheet = groups["_sheet"].transform("first")
    first_row = groups["_row"].transform("first")
    later = (rows["_sheet"] != first_sheet) | (rows["_row"] != first_row)
    rows, first_sheet, first_row = rows[later], first_sheet[later], first_row[later]
    added = name in _ADDED_UP
    out: list[Problem] = []
    for i, (sheet, row, f_sheet, f_row) in enumerate(
        zip(rows["_sheet"], rows["_row"], first_sheet, first_row, strict=True)
    ):
        if i > MAX_PROBLEMS_PER_CODE:
            # Counted, not described: capped() turns these into one summary line.
            out.append(Problem(WARNING, "duplicate_key", sheet, None, None, None, None, "", ""))
            continue
        values = rows.iloc[i][key]
        shown = [_key_text(v) for v in values if _key_text(v)]
        where_zh = f"第 {f_row} 列" if f_sheet == sheet else f"工作表「{f_sheet}」第 {f_row} 列"
        where_en = f"row {f_row}" if f_sheet == sheet else f"row {f_row} of sheet '{f_sheet}'"
        if added:
            zh = f"與{where_zh}的鍵值相同（{'、'.join(shown)}），兩列金額／件數相加。"
            en = f"Same key as {where_en} ({', '.join(shown)}); the two rows are added together."
        else:
            zh = f"與{where_zh}重複（{'、'.join(shown)}），以後出現的這一列為準。"
            en = f"Duplicates {where_en} ({', '.join(shown)}); this later row is kept."
        out.append(
            Problem(WARNING, "duplicate_key", sheet, int(row), None, None, "、".join(shown), zh, en)
        )
    return out


def _key_text(value: object) -> str:
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    return "" if pd.isna(value) else str(value)


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

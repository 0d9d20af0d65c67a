"""資料上傳 Upload — several workbooks at once: the dry-run report first, then import.

Each file is checked with the same engine call that imports it (a dry run), so the report
shows exactly what an import would do: the detected dataset, year, period and unit and
where each came from, every error and warning, a preview of the canonical rows and the
rows it would add or change. Dry runs are cached in session state per file content,
given year/quarter, "replace quarters" choice and store version, so a rerun never parses a
file again unless the store changed underneath it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging

import pandas as pd
import streamlit as st

from kpi.auth import Role
from kpi.catalog import LIGHT_SYMBOLS
from kpi.diff import REMOVED, ImportPreview
from kpi.engine import Engine, ImportResult
from kpi.i18n import (
    ROC_OFFSET,
    fmt_category,
    fmt_date,
    fmt_months,
    fmt_percent,
    fmt_quarters,
    fmt_value,
)
from kpi.ingest.datasets import CHOICE, DATASETS
from kpi.ingest.report import Problem
from kpi.templates import template_bytes
from pages.common import acting_engine, downloads, may, md_escape, translator

PAGE_STRINGS: dict[str, tuple[str, str]] = {
    "viewer_cannot_import": (
        "檢視者只能試算，不能匯入；需要上傳者以上的角色。",
        "Viewers can check files but not import them; that needs the uploader role.",
    ),
    "title": ("資料上傳", "Upload"),
    "intro": (
        "可一次選擇多個檔案（.xlsx、.xlsm、.xls、.ods）。每個檔案先檢查（不寫入資料庫），確認報告無誤後再按「匯入此檔」。",
        "Choose one or more files (.xlsx, .xlsm, .xls, .ods). Each file is checked first "
        "(nothing is stored); read its report, then press “Import this file”.",
    ),
    "templates": ("空白範本", "Blank templates"),
    "templates_help": (
        "範本含標題列、範例列與填寫說明；各機關自己的報表格式也可直接上傳。",
        "Templates hold the header row, an example row and instructions; your office's own report layouts can be uploaded as they are.",
    ),
    "template_file": ("{label}_範本.xlsx", "{label}_template.xlsx"),
    "uploader": ("選擇要上傳的檔案", "Choose files to upload"),
    "uploader_help": (
        "單檔上限 50 MB；匯入前會檢查檔案大小、解壓縮後大小與列數。",
        "At most 50 MB a file; size, uncompressed size and row count are checked before reading.",
    ),
    "no_files": (
        "尚未選擇檔案。可先下載上方範本，或直接上傳預算執行、簽證、訪問交流或指標填報報表。",
        "No file chosen yet. Download a template above, or upload a budget, visa, visits or indicator-values report as it is.",
    ),
    "checking": ("正在檢查 {name}（{size}）…", "Checking {name} ({size})…"),
    "check_failed": (
        "檢查「{name}」時發生未預期的錯誤，已記錄。請確認檔案可以用 Excel 或 LibreOffice 開啟後再試一次。",
        "Checking “{name}” failed unexpectedly; this has been logged. Make sure the file opens in Excel or LibreOffice and try again.",
    ),
    "duplicate_file": (
        "「{name}」與「{other}」內容完全相同，只列出一次。",
        "“{name}” has exactly the same content as “{other}”; it is listed once.",
    ),
    "summary": ("檢查結果一覽", "Files at a glance"),
    "import_all": ("匯入所有可匯入的檔案（{n}）", "Import all valid files ({n})"),
    "importing": ("正在匯入 {name}…", "Importing {name}…"),
    "importing_all": ("正在匯入 {n} 個檔案…", "Importing {n} files…"),
    "import_done": ("匯入完成。", "Import finished."),
    "col_file": ("檔案", "File"),
    "col_status": ("檢查結果", "Result"),
    "dataset_line": ("資料類別：{badges}", "Dataset: {badges}"),
    "col_dataset": ("資料類別", "Dataset"),
    "col_period": ("期間", "Period"),
    "col_rows": ("資料列數", "Rows"),
    "col_errors": ("錯誤", "Errors"),
    "col_warnings": ("警告", "Warnings"),
    "col_new": ("新增", "New"),
    "col_changed": ("變更", "Changed"),
    "col_unchanged": ("未變更", "Unchanged"),
    "col_removed": ("移除", "Removed"),
    "col_sheet": ("工作表", "Sheet"),
    "col_row": ("列", "Row"),
    "col_column": ("欄", "Column"),
    "col_header": ("欄位名稱", "Header"),
    "col_value": ("內容", "Value"),
    "col_message": ("問題說明", "Problem"),
    "col_header_row": ("標題列", "Header row"),
    "col_unit": ("金額單位", "Unit"),
    "col_year_source": ("年度來源", "Year from"),
    "col_period_source": ("期間來源", "Period from"),
    "col_unit_source": ("單位來源", "Unit from"),
    "col_skipped": ("略過原因", "Skipped because"),
    "col_month": ("月份", "Month"),
    "status_valid": ("可匯入", "Ready to import"),
    "status_nothing": ("與資料庫相同", "Same as stored"),
    "status_refused": ("拒收（有錯誤）", "Refused (errors)"),
    "status_imported": ("已匯入", "Imported"),
    "status_failed": ("無法檢查", "Could not be checked"),
    "refused": (
        "這個檔案有 {n} 個錯誤，無法匯入；資料庫不會有任何變更。請依下表修正後重新上傳。",
        "This file has {n} error(s) and cannot be imported; nothing will be stored. Fix them as listed below and upload it again.",
    ),
    "refused_button": ("有錯誤，無法匯入", "Has errors; cannot be imported"),
    "valid": ("檢查通過，可以匯入。", "The file passed the check and can be imported."),
    "valid_warnings": (
        "檢查通過，有 {n} 個警告（不影響匯入，但請確認）。",
        "The file passed the check with {n} warning(s) (they do not stop the import, but read them).",
    ),
    "nothing_to_import": (
        "檔案內容與資料庫中的資料相同，匯入不會有任何變更。",
        "The file matches what is stored; importing it would change nothing.",
    ),
    "imported": (
        "已匯入，批次 #{batch}：新增 {new} 筆、變更 {changed} 筆、未變更 {unchanged} 筆、移除 {removed} 筆。可在「上傳紀錄」頁復原。",
        "Imported as batch #{batch}: {new} new, {changed} changed, {unchanged} unchanged, {removed} removed rows. It can be undone on the History page.",
    ),
    "imported_nothing": (
        "已處理，但沒有任何變更，因此未建立批次。",
        "Processed, but nothing changed, so no batch was created.",
    ),
    "import_refused": (
        "匯入被拒絕，資料庫沒有變更：{message}",
        "The import was refused and nothing was stored: {message}",
    ),
    "import_failed": (
        "匯入時發生未預期的錯誤，資料庫沒有變更；已記錄。",
        "The import failed unexpectedly and nothing was stored; this has been logged.",
    ),
    "import": ("匯入此檔", "Import this file"),
    "already_imported": ("已匯入", "Imported"),
    "facts": ("偵測結果", "Detected"),
    "sheets": ("各工作表偵測結果與來源", "What each sheet holds, and where each fact came from"),
    "errors": ("錯誤（{n}）", "Errors ({n})"),
    "warnings": ("警告（{n}）", "Warnings ({n})"),
    "preview": (
        "預覽：標準化後的資料列（前 {n} 列，共 {total} 列）",
        "Preview: canonical rows (first {n} of {total})",
    ),
    "changes": ("匯入後的變更", "What an import would change"),
    "changes_help": (
        "與資料庫目前的資料比較：相同鍵值（例如年度、月份、工作計畫、經資門）的列會被取代。",
        "Compared with what is stored now: rows with the same key (e.g. year, month, program, kind) replace the stored ones.",
    ),
    "diff_rows": ("變更的資料列（原值 → 新值）", "Changed rows (old → new)"),
    "diff_rows_help": (
        "列出此檔會改變的每一列：哪個欄位、原本的值與匯入後的值。新增的列請見上方預覽。",
        "Every stored row this file would change: which field, its stored value and the value after the import. New rows are in the preview above.",
    ),
    "diff_none": ("沒有既有資料列會被變更。", "No stored row would change."),
    "col_change": ("異動", "Change"),
    "col_field": ("欄位", "Field"),
    "col_old": ("原值", "Old value"),
    "col_new_value": ("新值", "New value"),
    "action_changed": ("變更", "Changed"),
    "action_removed": ("移除", "Removed"),
    "removed_row": ("（整列移除）", "(row removed)"),
    "diff_figures": ("匯入前後的指標燈號", "Indicators before → after the import"),
    "diff_figures_help": (
        "試算結果（未寫入資料庫）：匯入此檔後受影響季別的累計實際值與燈號；「有變動」標示會改變的指標。",
        "A what-if (nothing is stored): year-to-date values and lights of the affected quarters now and after importing this file; “Moves” marks the indicators that would change.",
    ),
    "diff_figures_moved": (
        "匯入後有 {n} 項指標的數值或燈號會改變。",
        "{n} indicator figure(s) would change after the import.",
    ),
    "diff_goals": ("施政目標燈號（匯入前 → 匯入後）", "Goal lights (before → after)"),
    "col_before": ("匯入前累計實際值", "Actual now"),
    "col_after": ("匯入後累計實際值", "Actual after"),
    "col_light_before": ("匯入前燈號", "Light now"),
    "col_light_after": ("匯入後燈號", "Light after"),
    "col_ach_before": ("匯入前達成度", "Achievement now"),
    "col_ach_after": ("匯入後達成度", "Achievement after"),
    "col_moved": ("有變動", "Moves"),
    "col_code": ("代碼", "ID"),
    "diff_large": (
        "此檔有 {rows} 列；逐列差異與燈號試算需要完整試算一次匯入，請按下方按鈕計算。",
        "This file has {rows} rows; the row-by-row diff and the what-if lights take a full trial import. Press the button to compute them.",
    ),
    "diff_compute": (
        "計算逐列差異與匯入後燈號",
        "Compute the row diff and the lights after import",
    ),
    "diff_failed": (
        "計算差異時發生未預期的錯誤，已記錄；仍可依上方的列數匯入。",
        "Computing the diff failed unexpectedly; this has been logged. The counts above still hold.",
    ),
    "given": (
        "檔案中找不到年度或期間。請指定後系統會重新檢查：",
        "The file does not state its year or period. Give them and the file is checked again:",
    ),
    "given_year": ("年度（檔案未寫明時使用）", "Year (used where the file does not say)"),
    "given_quarter": ("季別（檔案未寫明時使用）", "Quarter (used where the file does not say)"),
    "not_given": ("（未指定）", "(not given)"),
    "replace": (
        "以此檔取代所涵蓋季別的全部訪問資料",
        "Replace all stored visits of the quarters this file covers",
    ),
    "replace_help": (
        "勾選後，資料庫中同季別但不在此檔的訪問紀錄會被移除（可復原）。",
        "Stored visits of those quarters that this file does not list are removed (undo brings them back).",
    ),
    "unit_1": ("元", "NT$"),
    "unit_1000": ("千元", "NT$ thousand"),
    "unit_10000": ("萬元", "NT$ 10 thousand"),
    "unit_1000000": ("百萬元", "NT$ million"),
    "unit_100000000": ("億元", "NT$ 100 million"),
    "money_note": (
        "預覽中的金額已換算為新臺幣元。",
        "Amounts in the preview are converted to NT dollars.",
    ),
}

MAX_PREVIEW_ROWS = 50
# Files up to this many rows get the row diff and the what-if lights at once; a larger one
# on request (the what-if is a full trial import, rolled back).
AUTO_DIFF_ROWS = 20_000
FILE_TYPES = ["xlsx", "xlsm", "xls", "ods"]
UPLOADER_KEY = "upload_files"
# session state: (sha256, year, quarter, replace) → (store version, ImportResult or None)
_DRY_RUNS = "upload_dry_runs"
_RESULTS = "upload_results"  # session state: sha256 → the ImportResult of this session's import
_USED = "upload_dry_runs_used"  # session state: the dry-run keys this run asked for
_PREVIEWS = "upload_previews"  # session state: (dry-run key, store version) → ImportPreview

log = logging.getLogger("kpi.pages.upload")
t = translator(PAGE_STRINGS)
eng = acting_engine()


@dataclasses.dataclass(frozen=True)
class Upload:
    """One chosen file: its name and bytes, identified by the SHA-256 of its content."""

    name: str
    content: bytes
    sha256: str

    @property
    def key(self) -> str:
        """A widget-key fragment that stays the same for the same content across reruns."""
        return self.sha256[:16]


@dataclasses.dataclass(frozen=True)
class Options:
    """What the uploader adds to a file: year/quarter the file does not state, replace quarters."""

    year: int | None = None
    quarter: int | None = None
    replace: bool = False


# -- the engine calls (kept small so the tests can follow them) ---------------------------------


def as_upload(name: str, content: bytes) -> Upload:
    return Upload(name, content, hashlib.sha256(content).hexdigest())


def dry_run(eng: Engine, up: Upload, opts: Options) -> ImportResult | None:
    """The dry-run report of a file: parsed once per content and options, compared again
    (without parsing) when the store has changed since; None when the check itself failed."""
    cache: dict = st.session_state.setdefault(_DRY_RUNS, {})
    key = (up.sha256, opts.year, opts.quarter, opts.replace)
    version = eng.store.version()
    entry = cache.get(key)
    try:
        if entry is None:
            with st.spinner(t("checking", name=md_escape(up.name), size=_size(len(up.content)))):
                result = eng.import_bytes(
                    up.content,
                    up.name,
                    year=opts.year,
                    quarter=opts.quarter,
                    replace=opts.replace,
                    dry_run=True,
                )
            entry = (version, result)
        elif entry[0] != version and entry[1] is not None:
            entry = (version, eng.compare(entry[1].report, replace=opts.replace))
    except Exception:  # a bug in the importer must not hide the other files
        log.exception("dry run of %s failed", up.name)
        entry = (version, None)
    cache[key] = entry
    st.session_state.setdefault(_USED, set()).add(key)
    return entry[1]


def import_preview(
    eng: Engine, up: Upload, opts: Options, result: ImportResult
) -> ImportPreview | None:
    """The changed rows and the lights before → after, once per file, options and store
    version (nothing is written); None when the computation itself failed."""
    cache: dict = st.session_state.setdefault(_PREVIEWS, {})
    key = (up.sha256, opts.year, opts.quarter, opts.replace)
    version = eng.store.version()
    entry = cache.get(key)
    if entry is None or entry[0] != version:
        try:
            entry = (version, eng.preview_import(result.report, replace=opts.replace))
        except Exception:
            log.exception("preview of %s failed", up.name)
            entry = (version, None)
        cache[key] = entry
    return entry[1]


def run_import(eng: Engine, up: Upload, opts: Options) -> ImportResult | None:
    """Import a file for real; the result is kept for this session's later reruns."""
    try:
        result = eng.import_bytes(
            up.content, up.name, year=opts.year, quarter=opts.quarter, replace=opts.replace
        )
    except Exception:
        log.exception("import of %s failed", up.name)
        result = None
    if result is not None:
        # Kept for the session without its rows: the message needs only counts and problems.
        result = dataclasses.replace(result, report=dataclasses.replace(result.report, frames={}))
    st.session_state.setdefault(_RESULTS, {})[up.sha256] = result
    # Every figure on every page depends on the stored rows.
    st.cache_data.clear()
    return result


def importable(result: ImportResult | None) -> bool:
    """A checked file that would write something."""
    return (
        result is not None
        and result.status == "valid"
        and any(c.writes_anything for c in result.changes.values())
    )


def prune_cache() -> None:
    """Forget dry runs this run did not use (files removed, options changed, store changed)."""
    used = st.session_state.pop(_USED, set())
    for name in (_DRY_RUNS, _PREVIEWS):
        cache: dict = st.session_state.get(name, {})
        for key in [k for k in cache if k not in used]:
            del cache[key]


# -- formatting ---------------------------------------------------------------------------------


def _size(n: int) -> str:
    return f"{n / 1048576:.1f} MB" if n >= 1048576 else f"{max(1, n // 1024)} KB"


def months_text(months: list[int]) -> str:
    return fmt_months(months, t.lang)


def quarters_text(quarters: list[int]) -> str:
    return fmt_quarters(quarters, t.lang)


def years_text(years: list[int]) -> str:
    return "、".join(t.year(y) for y in years) if years else "—"


def period_text(result: ImportResult) -> str:
    r = result.report
    if r.months:
        return months_text(r.months)
    if r.quarters:
        return quarters_text(r.quarters)
    return "—"


def dataset_label(name: str | None) -> str:
    if not name:
        return "—"
    ds = DATASETS[name]
    return t.pick(ds.label_zh, ds.label_en)


def datasets_text(result: ImportResult) -> str:
    names = result.report.datasets or [s.dataset for s in result.report.sheets if s.dataset]
    return "、".join(dataset_label(n) for n in dict.fromkeys(names)) or "—"


def unit_text(unit: int | None) -> str:
    key = f"unit_{unit}"
    return t(key) if unit and key in PAGE_STRINGS else "—"


def status_text(result: ImportResult | None, imported: bool) -> str:
    if result is None:
        return t("status_failed")
    if imported:
        return t("status_imported")
    if result.status == "refused":
        return t("status_refused")
    return t("status_valid") if importable(result) else t("status_nothing")


def total_changes(result: ImportResult) -> dict[str, int]:
    out = {"new": 0, "changed": 0, "unchanged": 0, "removed": 0}
    for c in result.changes.values():
        for k, v in c.as_dict().items():
            out[k] += v
    return out


# -- tables -------------------------------------------------------------------------------------


def summary_table(checked: list[tuple[Upload, ImportResult | None]]) -> pd.DataFrame:
    done = st.session_state.get(_RESULTS, {})
    rows = []
    for up, result in checked:
        row = {t("col_file"): up.name, t("col_status"): status_text(result, up.sha256 in done)}
        if result is not None:
            changes = total_changes(result)
            row |= {
                t("col_dataset"): datasets_text(result),
                t("year"): years_text(result.report.years),
                t("col_period"): period_text(result),
                t("col_rows"): result.report.rows,
                t("col_errors"): len(result.report.errors),
                t("col_warnings"): len(result.report.warnings),
                t("col_new"): changes["new"],
                t("col_changed"): changes["changed"],
                t("col_unchanged"): changes["unchanged"],
                t("col_removed"): changes["removed"],
            }
        rows.append(row)
    return pd.DataFrame(rows)


def sheets_table(result: ImportResult) -> pd.DataFrame:
    lang = "en" if t.en else "zh"
    rows = []
    for s in result.report.sheets:
        period = s.sources.get("month") or s.sources.get("quarter")
        rows.append(
            {
                t("col_sheet"): s.name,
                t("col_dataset"): dataset_label(s.dataset),
                t("col_header_row"): s.header_row,
                t("col_rows"): s.rows,
                t("year"): t.year(s.year) if s.year else "—",
                t("col_period"): months_text(s.months) if s.months else "—",
                t("col_unit"): unit_text(s.unit),
                t("col_year_source"): s.sources["year"][lang] if "year" in s.sources else "—",
                t("col_period_source"): period[lang] if period else "—",
                t("col_unit_source"): s.sources["unit"][lang] if "unit" in s.sources else "—",
                t("col_skipped"): t.pick(s.skipped_zh, s.skipped_en) or "",
            }
        )
    frame = pd.DataFrame(rows)
    if len(frame) and (frame[t("col_unit")] == "—").all():
        frame = frame.drop(columns=[t("col_unit"), t("col_unit_source")])
    return frame


def problems_table(problems: list[Problem]) -> pd.DataFrame:
    """Sheet, row (as Excel numbers it), column, header, value and message: all as text."""
    return pd.DataFrame(
        [
            {
                t("col_sheet"): p.sheet or "",
                t("col_row"): "" if p.row is None else str(p.row),
                t("col_column"): p.column or "",
                t("col_header"): p.header or "",
                t("col_value"): "" if p.value is None else str(p.value),
                t("col_message"): p.message(t.lang),
            }
            for p in problems
        ],
        columns=[
            t(c)
            for c in (
                "col_sheet",
                "col_row",
                "col_column",
                "col_header",
                "col_value",
                "col_message",
            )
        ],
    )


def _column_label(dataset: str, name: str) -> str:
    if name == "_sheet":
        return t("col_sheet")
    if name == "_row":
        return t("col_row")
    try:
        f = DATASETS[dataset].field(name)
    except KeyError:
        return (
            t("col_month") if name == "month" else t(name) if name in ("year", "quarter") else name
        )
    return t.pick(f.label_zh, f.label_en)


def preview_table(dataset: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Canonical rows with the interface's headers; years as the interface shows them."""
    out = frame.copy()
    if t.en and "year" in out:
        out["year"] = out["year"] + ROC_OFFSET
    if "date" in out:
        out["date"] = [fmt_date(d, t.lang) for d in pd.to_datetime(out["date"]).dt.date]
    for f in DATASETS[dataset].fields:
        if f.kind == CHOICE and f.name in out:
            out[f.name] = out[f.name].map(lambda v: fmt_category(v, t.lang))
    front = [c for c in ("_sheet", "_row") if c in out]
    out = out[front + [c for c in out.columns if c not in front]]
    return out.rename(columns={c: _column_label(dataset, c) for c in out.columns})


def changes_table(result: ImportResult) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                t("col_dataset"): dataset_label(name),
                t("col_new"): c.new,
                t("col_changed"): c.changed,
                t("col_unchanged"): c.unchanged,
                t("col_removed"): c.removed,
            }
            for name, c in result.changes.items()
        ]
    )


def value_text(value: object) -> str:
    """A stored value as the diff shows it: numbers with separators, dates and categories
    as the interface writes them. Always text: uploaded text is never Markdown here."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{int(value):,}" if value.is_integer() else f"{value:,.4f}".rstrip("0").rstrip(".")
    if isinstance(value, dt.date):
        return fmt_date(value, t.lang)
    return fmt_category(value, t.lang)


def key_text(name: str, value: object) -> str:
    return t.year(int(value)) if name == "year" else value_text(value)


def row_diff_table(pv: ImportPreview, dataset: str) -> pd.DataFrame:
    """The stored rows a file changes or removes: the key, then each changed field old → new."""
    rows = []
    for r in pv.rows:
        if r.dataset != dataset:
            continue
        base = {_column_label(dataset, k): key_text(k, v) for k, v in r.key}
        if r.action == REMOVED:
            old = "；".join(
                f"{_column_label(dataset, f.field)} {value_text(f.old)}" for f in r.fields
            )
            rows.append(
                base
                | {
                    t("col_change"): t("action_removed"),
                    t("col_field"): t("removed_row"),
                    t("col_old"): old,
                    t("col_new_value"): "—",
                }
            )
            continue
        for f in r.fields:
            rows.append(
                base
                | {
                    t("col_change"): t("action_changed"),
                    t("col_field"): _column_label(dataset, f.field),
                    t("col_old"): value_text(f.old),
                    t("col_new_value"): value_text(f.new),
                }
            )
    return pd.DataFrame(rows)


def figures_table(pv: ImportPreview) -> pd.DataFrame:
    """Every indicator of the affected quarters: value, achievement and light now and after."""
    rows = []
    for fc in pv.figures:
        fmt = eng.catalog.indicator(fc.id).format
        a, b = fc.before, fc.after
        rows.append(
            {
                t("quarter"): t.quarter(fc.year, fc.quarter),
                t("col_code"): fc.id,
                t("indicator"): t.pick(a.name_zh, a.name_en),
                t("col_before"): fmt_value(a.actual, fmt),
                t("col_after"): fmt_value(b.actual, fmt),
                t("col_ach_before"): fmt_percent(a.achievement),
                t("col_ach_after"): fmt_percent(b.achievement),
                t("col_light_before"): f"{LIGHT_SYMBOLS[a.light]} {t.light(a.light)}",
                t("col_light_after"): f"{LIGHT_SYMBOLS[b.light]} {t.light(b.light)}",
                t("col_moved"): "✓" if fc.changed else "",
            }
        )
    return pd.DataFrame(rows)


def goals_table(pv: ImportPreview) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                t("quarter"): t.quarter(year, q),
                t("col_code"): a.id,
                t("goal"): a.title,
                t("col_ach_before"): fmt_percent(a.achievement),
                t("col_ach_after"): fmt_percent(b.achievement),
                t("col_light_before"): f"{LIGHT_SYMBOLS[a.light]} {t.light(a.light)}",
                t("col_light_after"): f"{LIGHT_SYMBOLS[b.light]} {t.light(b.light)}",
            }
            for year, q, a, b in pv.goals
        ]
    )


# -- drawing ------------------------------------------------------------------------------------


def template_downloads() -> None:
    st.subheader(t("templates"))
    st.caption(t("templates_help"))
    cols = st.columns(len(DATASETS))
    for col, (name, ds) in zip(cols, DATASETS.items(), strict=True):
        label = t.pick(ds.label_zh, ds.label_en)
        col.download_button(
            label,
            _template(name, t.lang),
            file_name=t("template_file", label=label),
            mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            key=f"template_{name}",
            icon=":material/download:",
            on_click="ignore",
        )


@st.cache_data(show_spinner=False)
def _template(dataset: str, lang: str) -> bytes:
    return template_bytes(dataset, lang)


def chosen_files() -> list[Upload]:
    """The files in the uploader, each content once."""
    files = st.file_uploader(
        t("uploader"),
        type=FILE_TYPES,
        accept_multiple_files=True,
        key=UPLOADER_KEY,
        help=t("uploader_help"),
    )
    out: list[Upload] = []
    seen: dict[str, str] = {}
    for f in files or []:
        up = as_upload(f.name, f.getvalue())
        if up.sha256 in seen:
            st.info(t("duplicate_file", name=md_escape(up.name), other=md_escape(seen[up.sha256])))
            continue
        seen[up.sha256] = up.name
        out.append(up)
    return out


def options_for(up: Upload, base: ImportResult | None) -> Options:
    """Year/quarter inputs when the file lacks them, and the visits replace choice."""
    state = st.session_state
    year_key, quarter_key = f"upload_year_{up.key}", f"upload_quarter_{up.key}"
    missing = base is not None and any(p.code == "missing_period" for p in base.report.errors)
    year = quarter = None
    if missing or state.get(year_key) is not None or state.get(quarter_key) is not None:
        st.warning(t("given"), icon=":material/edit_calendar:")
        years = eng.years()
        choices = [None, *range(years[0] - 2, years[-1] + 3)]
        a, b, _ = st.columns([1, 1, 2])
        year = a.selectbox(
            t("given_year"),
            choices,
            key=year_key,
            format_func=lambda y: t("not_given") if y is None else t.year(y),
        )
        quarter = b.selectbox(
            t("given_quarter"),
            [None, 1, 2, 3, 4],
            key=quarter_key,
            format_func=lambda q: t("not_given") if q is None else t.pick(f"第{q}季", f"Q{q}"),
        )
    replace = False
    if base is not None and "visits" in base.report.datasets:
        replace = st.checkbox(t("replace"), key=f"upload_replace_{up.key}", help=t("replace_help"))
    return Options(year, quarter, replace)


def show_result(result: ImportResult | None) -> None:
    """The outcome of this session's import of a file."""
    if result is None:
        st.error(t("import_failed"))
    elif result.status == "refused":
        message = "；".join(p.message(t.lang) for p in result.report.errors) or "—"
        st.error(t("import_refused", message=md_escape(message)))
    elif result.batch is None:
        st.info(t("imported_nothing"))
    else:
        st.success(t("imported", batch=result.batch, **total_changes(result)))


def show_report(up: Upload, result: ImportResult, opts: Options) -> None:
    """The dry-run report: verdict, facts, sheets and sources, problems, preview, changes."""
    r = result.report
    if result.status == "refused":
        st.error(t("refused", n=len(r.errors)))
    elif not importable(result):
        if up.sha256 not in st.session_state.get(_RESULTS, {}):
            st.info(t("nothing_to_import"))
    elif r.warnings:
        st.warning(t("valid_warnings", n=len(r.warnings)))
    else:
        st.success(t("valid"))

    if r.sheets:
        names = r.datasets or [s.dataset for s in r.sheets if s.dataset]
        badges = [f":blue-badge[{dataset_label(n)}]" for n in dict.fromkeys(names)]
        st.markdown(t("dataset_line", badges=" ".join(badges) or "—"))
        a, b, c, _ = st.columns(4)
        a.metric(t("year"), years_text(r.years))
        b.metric(t("col_period"), period_text(result))
        c.metric(t("col_rows"), f"{r.rows:,}")

    stem = up.name.rsplit(".", 1)[0]
    if r.sheets:
        st.markdown(f"**{t('sheets')}**")
        sheets = sheets_table(result)
        st.dataframe(sheets, hide_index=True)
        downloads(sheets, f"{stem}_sheets", f"up_{up.key}_sheets")
    if r.errors:
        st.markdown(f"**{t('errors', n=len(r.errors))}**")
        errors = problems_table(r.errors)
        st.dataframe(errors, hide_index=True)
        downloads(errors, f"{stem}_errors", f"up_{up.key}_errors")
    if r.warnings:
        with st.expander(t("warnings", n=len(r.warnings)), expanded=result.status != "refused"):
            warnings = problems_table(r.warnings)
            st.dataframe(warnings, hide_index=True)
            downloads(warnings, f"{stem}_warnings", f"up_{up.key}_warnings")
    for name, frame in r.frames.items():
        shown = min(MAX_PREVIEW_ROWS, len(frame))
        with st.expander(
            f"{dataset_label(name)} — {t('preview', n=shown, total=f'{len(frame):,}')}"
        ):
            if name == "budget":
                st.caption(t("money_note"))
            st.dataframe(preview_table(name, frame.head(shown)), hide_index=True)
            downloads(preview_table(name, frame), f"{stem}_{name}", f"up_{up.key}_{name}")
    if result.changes:
        st.markdown(f"**{t('changes')}**")
        st.caption(t("changes_help"))
        changes = changes_table(result)
        st.dataframe(changes, hide_index=True)
        downloads(changes, f"{stem}_changes", f"up_{up.key}_changes")
    if importable(result) and up.sha256 not in st.session_state.get(_RESULTS, {}):
        show_diff(up, result, opts)


def show_diff(up: Upload, result: ImportResult, opts: Options) -> None:
    """上傳差異: the rows the file changes, old → new, and the lights before → after."""
    flag = f"upload_diff_asked_{up.key}"
    if result.report.rows > AUTO_DIFF_ROWS and not st.session_state.get(flag):
        st.caption(t("diff_large", rows=f"{result.report.rows:,}"))
        if not st.button(
            t("diff_compute"), key=f"upload_diff_{up.key}", icon=":material/difference:"
        ):
            return
        st.session_state[flag] = True
    pv = import_preview(eng, up, opts, result)
    if pv is None:
        st.warning(t("diff_failed"))
        return
    stem = up.name.rsplit(".", 1)[0]
    st.markdown(f"**{t('diff_rows')}**")
    st.caption(t("diff_rows_help"))
    listed = False
    for name in pv.changes:
        table = row_diff_table(pv, name)
        if table.empty:
            continue
        listed = True
        st.caption(dataset_label(name))
        st.dataframe(table, hide_index=True)
        downloads(table, f"{stem}_{name}_diff", f"up_{up.key}_{name}_diff")
    if not listed:
        st.caption(t("diff_none"))
    st.markdown(f"**{t('diff_figures')}**")
    st.caption(t("diff_figures_help"))
    figs = figures_table(pv)
    st.caption(t("diff_figures_moved", n=sum(1 for f in pv.figures if f.changed)))
    st.dataframe(figs, hide_index=True)
    downloads(figs, f"{stem}_lights_before_after", f"up_{up.key}_figures")
    with st.expander(t("diff_goals")):
        goals = goals_table(pv)
        st.dataframe(goals, hide_index=True)
        downloads(goals, f"{stem}_goals_before_after", f"up_{up.key}_goals")


def import_button(up: Upload, result: ImportResult | None, opts: Options) -> None:
    done = up.sha256 in st.session_state.get(_RESULTS, {})
    if result is not None and result.status == "refused":
        label, disabled, why = t("refused_button"), True, t("refused", n=len(result.report.errors))
    elif done and not importable(result):
        label, disabled, why = t("already_imported"), True, None
    elif not may(Role.UPLOADER):
        label, disabled, why = t("import"), True, t("viewer_cannot_import")
    else:
        label, disabled = t("import"), not importable(result)
        why = t("nothing_to_import") if result is not None and disabled else None
    clicked = st.button(
        label,
        key=f"upload_import_{up.key}",
        type="primary",
        disabled=disabled,
        help=why,
        icon=":material/publish:",
    )
    if clicked:
        with st.spinner(t("importing", name=md_escape(up.name))):
            run_import(eng, up, opts)
        st.rerun()


def import_all(checked: list[tuple[Upload, ImportResult | None, Options]]) -> None:
    ready = [(up, opts) for up, result, opts in checked if importable(result)]
    if not may(Role.UPLOADER):
        ready = []
    if st.button(
        t("import_all", n=len(ready)),
        key="upload_import_all",
        type="primary",
        disabled=not ready,
        icon=":material/publish:",
    ):
        with st.status(t("importing_all", n=len(ready)), expanded=True) as status:
            bar = st.progress(0.0)
            for i, (up, opts) in enumerate(ready, start=1):
                status.update(label=t("importing", name=md_escape(up.name)))
                run_import(eng, up, opts)
                bar.progress(i / len(ready))
            status.update(label=t("import_done"), state="complete")
        st.rerun()


# -- the page -----------------------------------------------------------------------------------

st.title(t("title"))
st.caption(t("intro"))
template_downloads()
st.divider()
uploads = chosen_files()
if not uploads:
    st.info(t("no_files"))

summary_box = st.container()
checked: list[tuple[Upload, ImportResult | None, Options]] = []
sections = []
for up in uploads:
    box = st.container(border=True)
    with box:
        st.markdown(f"### {md_escape(up.name)}")
        base = dry_run(eng, up, Options())
        opts = options_for(up, base)
        result = dry_run(eng, up, opts) if opts != Options() else base
    checked.append((up, result, opts))
    sections.append(box)
prune_cache()

if len(checked) > 1:
    with summary_box:
        st.subheader(t("summary"))
        summary = summary_table([(up, result) for up, result, _ in checked])
        st.dataframe(summary, hide_index=True)
        downloads(summary, "upload_summary", "up_summary")
        import_all(checked)

for box, (up, result, opts) in zip(sections, checked, strict=True):
    with box:
        done = st.session_state.get(_RESULTS, {})
        if up.sha256 in done:
            show_result(done[up.sha256])
        if result is None:
            st.error(t("check_failed", name=md_escape(up.name)))
        else:
            show_report(up, result, opts)
        import_button(up, result, opts)

"""Interface strings in zh-TW and English, and locale-aware number and period formatting.

Plan text and uploaded text stay as written; everything the interface itself says comes
from here (shared words) or from the page's own string table passed to ``Translator``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping

from kpi.catalog import LIGHT_EN, LIGHT_ZH
from kpi.relations import load_countries

ZH, EN = "zh-TW", "en"
LANGS = (ZH, EN)
LANG_NAMES = {ZH: "中文", EN: "English"}
ROC_OFFSET = 1911

# Words every page uses. Page-specific strings live in a table at the top of each page.
COMMON: dict[str, tuple[str, str]] = {
    "app_title": ("施政績效儀表板", "Performance dashboard"),
    "year": ("年度", "Year"),
    "quarter": ("季別", "Quarter"),
    "programs": ("工作計畫", "Work programs"),
    "all_programs": ("全部工作計畫", "All work programs"),
    "language": ("語言", "Language"),
    "login_title": ("施政績效儀表板", "Performance dashboard"),
    "login_help": (
        "請以系統管理者提供的帳號登入。",
        "Log in with the account your administrator gave you.",
    ),
    "login_name": ("帳號", "Account"),
    "login_password": ("密碼", "Password"),
    "login_submit": ("登入", "Log in"),
    "login_failed": ("帳號或密碼不正確。", "Wrong account or password."),
    "login_locked": (
        "此帳號登入失敗次數過多，請約 {minutes} 分鐘後再試。",
        "Too many failed logins for this account; try again in about {minutes} min.",
    ),
    "logged_in": ("已登入：{name}（{role}）", "Logged in as {name} ({role})"),
    "logout": ("登出", "Log out"),
    "sso_help": (
        "以機關的單一登入帳號登入。",
        "Log in with your agency's single sign-on account.",
    ),
    "sso_no_access": (
        "{email} 已登入，但尚未獲得本系統的權限；請洽系統管理者。",
        "{email} is logged in but has no access to this dashboard yet; ask your administrator.",
    ),
    "local_mode": (
        "本機單人模式：不需登入，所有操作以「local」記錄。",
        "Local single-user mode: no login; every action is recorded as 'local'.",
    ),
    "sample_notice": (
        "目前顯示範例資料（範例資料 / sample data）：數字為虛構，僅年度預算數取自 108 年度中央政府總預算。",
        "Showing sample data (範例資料): figures are invented except the 2019 appropriations.",
    ),
    "remove_sample": ("移除範例資料", "Remove sample data"),
    "sample_removed": ("已移除範例資料。", "Sample data removed."),
    "no_data": ("尚無資料。", "No data yet."),
    "go_upload": ("前往資料上傳", "Go to Upload"),
    "coverage_link": ("查看資料完整度", "See data completeness"),
    "download_xlsx": ("下載 Excel", "Excel"),
    "download_csv": ("下載 CSV", "CSV"),
    "download_prepare": ("準備下載檔案（Excel、CSV）", "Prepare download (Excel, CSV)"),
    "download_preparing": ("正在產生下載檔案…", "Writing the download files…"),
    "actual": ("累計實際值", "Actual (YTD)"),
    "target": ("累計目標值", "Target (YTD)"),
    "annual_target": ("年度目標值", "Annual target"),
    "achievement": ("達成度", "Achievement"),
    "light": ("燈號", "Light"),
    "indicator": ("衡量指標", "Indicator"),
    "goal": ("施政目標", "Goal"),
    "note": ("說明", "Commentary"),
    "change": ("較上季", "vs last quarter"),
    # Early warning (預警): the year-end projection of kpi/projection.py.
    "projection": ("預估年底值", "Year-end projection"),
    "projected_achievement": ("預估達成度", "Projected achievement"),
    "projected_light": ("預估燈號", "Projected light"),
    "needed_per_quarter": ("每季尚需", "Needed per quarter"),
    "projection_method": ("推估方法", "Projection method"),
    "method_plan-pace": ("依計畫各季進度推估", "at the pace of the plan's quarterly targets"),
    "method_seasonal": ("依去年同季占全年比例推估", "by last year's share reached by this quarter"),
    "method_current-rate": ("比率指標，以目前值推估", "a rate: its current value"),
    "error_page": (
        "這一頁發生錯誤，已記錄。請重新整理；若持續發生請通知系統管理者。",
        "This page ran into an error, which has been logged. Reload the page; if it persists, tell the administrator.",
    ),
}

PAGE_TITLES: dict[str, tuple[str, str]] = {
    "overview": ("總覽", "Overview"),
    "goals": ("施政目標", "Goals"),
    "programs": ("工作計畫", "Programs"),
    "budget": ("預算執行", "Budget"),
    "consular": ("領事服務", "Consular"),
    "visits": ("訪問交流", "Visits"),
    "coverage": ("資料完整度", "Data completeness"),
    "upload": ("資料上傳", "Upload"),
    "history": ("上傳紀錄", "History"),
    "plan": ("計畫與指標", "Plan & indicators"),
}


class Translator:
    """t("key") in the chosen language, from a page's table then the common one."""

    def __init__(self, lang: str, table: Mapping[str, tuple[str, str]] | None = None) -> None:
        self.lang = lang if lang in LANGS else ZH
        self.table = {**COMMON, **(table or {})}

    @property
    def en(self) -> bool:
        return self.lang == EN

    def __call__(self, key: str, **values: object) -> str:
        zh, en = self.table[key]
        text = en if self.en else zh
        return text.format(**values) if values else text

    def pick(self, zh: str, en: str) -> str:
        return en if self.en else zh

    def light(self, name: str) -> str:
        return (LIGHT_EN if self.en else LIGHT_ZH)[name]

    def year(self, roc: int) -> str:
        return fmt_year(roc, self.lang)

    def quarter(self, roc: int, quarter: int) -> str:
        return fmt_quarter(roc, quarter, self.lang)


def fmt_year(roc: int, lang: str = ZH) -> str:
    """108 → 108年 (zh-TW) or 2019 (en)."""
    return str(roc + ROC_OFFSET) if lang == EN else f"{roc}年"


def fmt_quarter(roc: int, quarter: int, lang: str = ZH) -> str:
    """(108, 2) → 108年第2季 (zh-TW) or 2019 Q2 (en)."""
    return f"{roc + ROC_OFFSET} Q{quarter}" if lang == EN else f"{roc}年第{quarter}季"


def fmt_quarter_short(quarter: int, lang: str = ZH) -> str:
    return f"Q{quarter}" if lang == EN else f"第{quarter}季"


def _missing(x: float | None) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def fmt_number(x: float | None, digits: int = 0) -> str:
    """Thousands separators; '—' for no value."""
    if _missing(x):
        return "—"
    return f"{x:,.{digits}f}"


def fmt_percent(x: float | None, digits: int = 1) -> str:
    """0.9235 → 92.4%."""
    if _missing(x):
        return "—"
    return f"{x * 100:,.{digits}f}%"


def fmt_value(x: float | None, fmt: str) -> str:
    """An indicator value in its declared format (count, percent, number)."""
    if fmt == "percent":
        return fmt_percent(x)
    if fmt == "count":
        return fmt_number(x)
    return fmt_number(x, 2) if not _missing(x) and abs(x) < 100 else fmt_number(x)


def fmt_thousands(x: float | None) -> str:
    """NT dollars shown in NT$ thousands (the unit budget tables use)."""
    return "—" if _missing(x) else f"{x / 1000:,.0f}"


_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def fmt_month_short(month: int, lang: str = ZH) -> str:
    """6 → 6月 (zh-TW) or Jun (en)."""
    return _MONTHS_EN[month - 1] if lang == EN else f"{month}月"


def fmt_month(roc: int, month: int, lang: str = ZH) -> str:
    """(108, 6) → 108年6月 (zh-TW) or Jun 2019 (en)."""
    return f"{_MONTHS_EN[month - 1]} {roc + ROC_OFFSET}" if lang == EN else f"{roc}年{month}月"


# English names of the datasets' canonical categories (kpi.ingest.datasets choices). A value
# the schema does not know (an uploaded visa type of its own) is shown as written.
CATEGORY_EN: dict[str, str] = {
    "經常門": "Current",
    "資本門": "Capital",
    "停留簽證": "Visitor visa",
    "居留簽證": "Resident visa",
    "電子簽證": "eVisa",
    "落地簽證": "Landing visa",
    "來訪": "Inbound visit",
    "出訪": "Outbound visit",
    "國際會議": "International meeting",
    "元首": "Head of state",
    "副元首": "Deputy head of state",
    "閣揆": "Head of government",
    "部長": "Minister",
    "副部長": "Deputy minister",
    "國會議員": "Parliamentarian",
    "官員": "Official",
    "其他": "Other",
}


def fmt_category(value: object, lang: str = ZH) -> str:
    """A canonical category in the interface language (經常門 → Current); others as written."""
    text = "" if value is None else str(value)
    return CATEGORY_EN.get(text, text) if lang == EN else text


def fmt_datetime(when: dt.datetime | None, lang: str = ZH) -> str:
    """A timestamp as the interface shows it: 114/03/05 14:30:00 (zh-TW, ROC) or 2025-03-05 14:30:00."""
    if when is None or when != when:  # None or NaT
        return ""
    if lang == EN:
        return when.strftime("%Y-%m-%d %H:%M:%S")
    return f"{when.year - ROC_OFFSET}/{when:%m/%d %H:%M:%S}"


def fmt_date(day: dt.date | None, lang: str = ZH) -> str:
    """2019-02-15 → 108/02/15 (zh-TW, ROC) or 2019-02-15 (en); '—' for no date."""
    if day is None or day != day:  # None, NaN or NaT
        return "—"
    return (
        day.strftime("%Y-%m-%d")
        if lang == EN
        else f"{day.year - ROC_OFFSET}/{day.month:02d}/{day.day:02d}"
    )


def _runs(numbers: list[int]) -> list[tuple[int, int]]:
    """[1, 2, 3, 5] → [(1, 3), (5, 5)]."""
    out: list[tuple[int, int]] = []
    for n in sorted(set(numbers)):
        if out and n == out[-1][1] + 1:
            out[-1] = (out[-1][0], n)
        else:
            out.append((n, n))
    return out


def fmt_months(months: list[int], lang: str = ZH) -> str:
    """[1, 2, 3, 5] → 1月至3月、5月 (zh-TW) or Jan–Mar, May (en); '—' for none."""
    if not months:
        return "—"
    if lang == EN:
        return ", ".join(
            _MONTHS_EN[a - 1] if a == b else f"{_MONTHS_EN[a - 1]}–{_MONTHS_EN[b - 1]}"
            for a, b in _runs(months)
        )
    return "、".join(f"{a}月" if a == b else f"{a}月至{b}月" for a, b in _runs(months))


def fmt_quarters(quarters: list[int], lang: str = ZH) -> str:
    """[1, 2, 3, 4] → 第1季至第4季 (zh-TW) or Q1–Q4 (en); '—' for none."""
    if not quarters:
        return "—"
    if lang == EN:
        return ", ".join(f"Q{a}" if a == b else f"Q{a}–Q{b}" for a, b in _runs(quarters))
    return "、".join(f"第{a}季" if a == b else f"第{a}季至第{b}季" for a, b in _runs(quarters))


def fmt_country(name: str, lang: str = ZH) -> str:
    """A known country in the interface language (巴拉圭 → Paraguay); an unknown one as written."""
    found = load_countries().get(name) if lang == EN else None
    return found.en if found else name


def fmt_region(region: str, lang: str = ZH) -> str:
    """One of the Ministry's regions in the interface language (亞太 → Asia-Pacific); others as written."""
    return load_countries().region_en(region) if lang == EN else region

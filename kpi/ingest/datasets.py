"""One declarative schema per dataset: fields, header synonyms, types, natural keys.

The importer, the store (its tables), the template writer and the README all read
these tables, so a new header spelling or a new field is added here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Field kinds. Each names a parser in kpi.ingest.values and a storage type in kpi.store.
TEXT = "text"  # free text, trimmed
INT = "int"  # whole number (counts)
MONEY = "money"  # amount; scaled by the sheet's unit to NT dollars
NUMBER = "number"  # any number (days, reported values)
RATE = "rate"  # a ratio; "92.35%" or 92.35 under a (%) header → 0.9235
YEAR = "year"  # ROC (108) or AD (2019) → ROC year
MONTH = "month"  # 1–12
QUARTER = "quarter"  # 第2季, Q2, 2, 108Q2 → 1–4
YEAR_MONTH = "year_month"  # 108/01, 108年4月, 2019-01, a date cell → (year, month)
DATE = "date"  # 108/02/15, 108.2.15, 108年2月15日, 2019-02-15, a date cell
CHOICE = "choice"  # one of a closed list after synonym folding


@dataclass(frozen=True)
class Field:
    """One canonical column of a dataset."""

    name: str
    kind: str
    headers: tuple[str, ...]
    label_zh: str
    label_en: str
    required: bool = True
    # Blank, "-" or "—" reads as zero (amounts that were simply not spent).
    blank_is_zero: bool = False
    # Merged cells and "ditto" blanks: a blank takes the value above it.
    fill_down: bool = False
    # For CHOICE: canonical value → accepted spellings (the canonical one included).
    choices: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # For CHOICE: an unknown value is an error (True) or kept/mapped with a warning (False).
    strict: bool = True
    # For CHOICE with strict=False: what an unknown value becomes ("" keeps it as written).
    unknown_as: str = ""
    # Stored in the dataset's table (derived helper columns are not).
    stored: bool = True
    # Written freely (commentary, a delegation's name): kept as written (trimmed, no width
    # folding, line breaks kept), and a cell starting 合計 or Total is not a total row.
    free_text: bool = False
    help_zh: str = ""
    help_en: str = ""


@dataclass(frozen=True)
class Dataset:
    """A kind of upload: its fields, natural key and period grain."""

    name: str
    label_zh: str
    label_en: str
    fields: tuple[Field, ...]
    key: tuple[str, ...]
    # Minimum number of recognised headers for a row to count as this dataset's header row.
    min_headers: int = 3

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def stored_fields(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.stored)


# One line per field reads as a table; keep the formatter from breaking it apart.
# fmt: off
BUDGET_KINDS = {
    "經常門": ("經常門", "經常", "經常支出", "current"),
    "資本門": ("資本門", "資本", "資本支出", "capital"),
}

VISA_TYPES = {
    "停留簽證": ("停留簽證", "停留", "visitor visa", "visitor"),
    "居留簽證": ("居留簽證", "居留", "resident visa", "resident"),
    "電子簽證": ("電子簽證", "電子", "evisa", "e-visa", "electronic visa"),
    "落地簽證": ("落地簽證", "落地", "landing visa", "visa on arrival"),
}

VISIT_TYPES = {
    "來訪": ("來訪", "訪賓", "外賓來訪", "來臺", "來台", "inbound", "incoming", "visit to taiwan"),
    "出訪": ("出訪", "出國訪問", "出國", "outbound", "outgoing"),
    "國際會議": ("國際會議", "會議", "conference", "meeting", "international conference"),
}

LEVELS = {
    "元首": ("元首", "總統", "國王", "女王", "國家元首", "總督", "head of state", "president", "king", "queen"),
    "副元首": ("副元首", "副總統", "vice president", "deputy head of state"),
    "閣揆": ("閣揆", "總理", "首相", "院長", "行政院長", "prime minister", "premier", "head of government"),
    "部長": ("部長", "外長", "外交部長", "大臣", "minister", "foreign minister", "secretary of state"),
    "副部長": ("副部長", "次長", "政務次長", "deputy minister", "vice minister"),
    "國會議員": ("國會議員", "議員", "參議員", "眾議員", "立法委員", "國會議長", "議長", "parliamentarian", "mp", "senator", "legislator"),
    "官員": ("官員", "政府官員", "official", "officials"),
    "其他": ("其他", "其它", "other", "others"),
}

BUDGET = Dataset(
    name="budget",
    label_zh="預算執行",
    label_en="Budget execution",
    key=("year", "month", "agency", "program", "kind"),
    fields=(
        Field("year", YEAR, ("年度", "預算年度", "會計年度", "year"), "年度", "Year", fill_down=True),
        Field("month", MONTH, ("月份", "截至月份", "期間", "月", "month"), "月份", "Month", fill_down=True),
        Field("quarter", QUARTER, ("季別", "季", "quarter"), "季別", "Quarter", required=False, stored=False, fill_down=True),
        Field("agency", TEXT, ("機關", "機關名稱", "單位", "單位名稱", "agency"), "機關", "Agency", required=False, fill_down=True),
        Field("program", TEXT, ("工作計畫", "工作計畫名稱", "計畫名稱", "計畫", "program"), "工作計畫", "Work program", fill_down=True),
        Field("kind", CHOICE, ("經資門", "經資門別", "經費類別", "經資別", "kind"), "經資門", "Current/capital", choices=BUDGET_KINDS),
        Field("budget", MONEY, ("預算數", "年度預算數", "法定預算數", "全年預算數", "budget"), "預算數", "Budget", blank_is_zero=True),
        Field("allotted", MONEY, ("分配數", "累計分配數", "截至本期分配數", "分配預算數", "累計分配預算數", "allotted"), "累計分配數", "Allotted (YTD)", blank_is_zero=True),
        Field("spent", MONEY, ("實支數", "累計實支數", "實際支出數", "累計實際支出數", "spent"), "累計實支數", "Spent (YTD)", blank_is_zero=True),
        Field("payable", MONEY, ("應付未付數", "應付數", "累計應付未付數", "payable"), "應付未付數", "Payable", required=False, blank_is_zero=True),
        Field("rate", RATE, ("執行率", "預算執行率", "分配預算執行率", "rate"), "執行率", "Execution rate", required=False, stored=False),
    ),
)

VISA = Dataset(
    name="visa",
    label_zh="簽證",
    label_en="Visas",
    key=("year", "month", "mission", "visa_type"),
    fields=(
        Field("period", YEAR_MONTH, ("年月", "期間", "統計期間", "period"), "年月", "Month", required=False, stored=False, fill_down=True),
        Field("year", YEAR, ("年度", "year"), "年度", "Year", required=False, fill_down=True),
        Field("month", MONTH, ("月份", "月", "month"), "月份", "Month", required=False, fill_down=True),
        Field("mission", TEXT, ("駐外館處", "館處", "受理館處", "館處名稱", "mission"), "駐外館處", "Mission", fill_down=True),
        Field("region", TEXT, ("地區", "區域", "地域", "region"), "地區", "Region", required=False, fill_down=True),
        Field("visa_type", CHOICE, ("簽證類別", "種類", "簽證種類", "類別", "visa type"), "簽證類別", "Visa type", choices=VISA_TYPES, strict=False),
        Field("applications", INT, ("申請件數", "受理件數", "申請數", "applications"), "申請件數", "Applications", blank_is_zero=True),
        Field("issued", INT, ("核發件數", "核准件數", "核發數", "issued"), "核發件數", "Issued", blank_is_zero=True),
        Field("refused", INT, ("拒發件數", "拒件數", "refused"), "拒發件數", "Refused", required=False, blank_is_zero=True),
        Field("avg_days", NUMBER, ("平均處理天數", "平均作業天數", "處理天數", "average days"), "平均處理天數", "Average processing days", required=False),
    ),
)

VISITS = Dataset(
    name="visits",
    label_zh="訪問交流",
    label_en="Visits",
    key=("date", "type", "country", "delegation"),
    fields=(
        Field("date", DATE, ("日期", "起始日期", "抵達日期", "訪問日期", "開始日期", "date"), "日期", "Date"),
        Field("type", CHOICE, ("類型", "性質", "訪問類型", "type"), "類型", "Type", choices=VISIT_TYPES),
        Field("country", TEXT, ("國家", "國別", "國家名稱", "country"), "國家", "Country", fill_down=True),
        Field("level", CHOICE, ("層級", "職級", "level"), "層級", "Level", choices=LEVELS, strict=False, unknown_as="其他"),
        Field("delegation", TEXT, ("團名", "訪團", "人員", "訪團名稱", "會議名稱", "delegation"), "團名", "Delegation", required=False, free_text=True),
        Field("participants", INT, ("人數", "團員人數", "participants"), "人數", "Participants", required=False),
        Field("program", TEXT, ("工作計畫", "工作計畫名稱", "program"), "工作計畫", "Work program", required=False),
    ),
)

KPI_VALUES = Dataset(
    name="kpi_values",
    label_zh="指標填報",
    label_en="Indicator values",
    key=("kpi", "year", "quarter"),
    min_headers=2,
    fields=(
        Field("kpi", TEXT, ("指標代碼", "指標編號", "指標名稱", "衡量指標", "指標", "kpi", "indicator"), "指標代碼", "Indicator"),
        Field("year", YEAR, ("年度", "year"), "年度", "Year", fill_down=True),
        Field("quarter", QUARTER, ("季別", "季", "quarter"), "季別", "Quarter", fill_down=True),
        Field("value", NUMBER, ("實際值", "累計實際值", "數值", "value", "actual"), "實際值", "Value (YTD)", required=False),
        Field("note", TEXT, ("說明", "備註", "note", "commentary"), "說明", "Commentary", required=False, free_text=True),
    ),
)

# fmt: on

DATASETS: dict[str, Dataset] = {d.name: d for d in (BUDGET, VISA, VISITS, KPI_VALUES)}

# Budget amounts carry no unit marker in most reports: the custom is NT$ thousands.
DEFAULT_MONEY_UNIT = 1000

"""The quarterly briefing report (季報告): one quarter's figures as HTML, .xlsx or .ods.

The HTML is one self-contained file for the review meeting: Plotly's script is inlined
once, nothing is fetched (it works on a closed network and from a USB stick), it prints
on A4 with each goal on a new page, and every uploaded text is HTML-escaped. The
spreadsheets carry the performance table in the layout reviews use (施政目標 … 說明),
one row per indicator, numbers as numbers, the light as text and as fill colour.

The figures are Engine.status for the same filters: the report shows what the
dashboard shows, never a second computation of it.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from kpi import charts, figures, views
from kpi.catalog import LIGHT_COLOURS, LIGHTS, Indicator, Thresholds
from kpi.exports import neutralise
from kpi.figures import QUARTERS, GoalFigure, KpiFigure, Status
from kpi.i18n import (
    EN,
    ZH,
    Translator,
    fmt_category,
    fmt_datetime,
    fmt_month,
    fmt_percent,
    fmt_quarter_short,
    fmt_thousands,
    fmt_value,
)
from kpi.plan import Plan, load_bundled_plan
from kpi.relations import canonical_program

if TYPE_CHECKING:
    from kpi.engine import Engine

FORMATS = ("html", "xlsx", "ods")
MIME = {
    "html": "text/html",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
}
MISSING = "—"  # a figure that does not exist (yet): no data, no projection

STRINGS: dict[str, tuple[str, str]] = {
    "title": ("{agency}{period}施政績效報告", "{agency}Performance report, {period}"),
    "filters": ("篩選條件", "Filters"),
    "as_of": ("資料截至", "Data as of"),
    "as_of_none": ("（尚無任何匯入資料）", "(nothing imported yet)"),
    "made": ("報告產製時間", "Report written"),
    "scope": ("工作計畫", "Work programs"),
    "summary": ("施政目標達成情形", "Goals at a glance"),
    "risks": ("紅燈及預警指標", "Red lights and indicators at risk"),
    "risks_help": (
        "紅燈：本季累計達成度低於 {yellow}。預警：依年底預估，達成度將低於 {yellow}。",
        "Red: achievement to date below {yellow}. At risk: the year-end projection's achievement "
        "falls below {yellow}.",
    ),
    "no_risks": ("本季沒有紅燈或預警指標。", "No indicator is red or at risk this quarter."),
    "joiner": ("、", ", "),
    "colon": ("：", ": "),
    "gap": ("　", "   "),
    "why": ("紅燈", "Red"),
    "at_risk": ("預警", "At risk"),
    "no_note": ("（未填報說明）", "(no commentary reported)"),
    "goal_line": (
        "{period}達成度 {ach}　{light}",
        "Achievement, {period}: {ach} · {light}",
    ),
    "no_indicators": ("此施政目標沒有所選範圍的衡量指標。", "No indicators in the chosen scope."),
    "chart": ("各衡量指標年度累計達成度", "Year-to-date achievement by indicator"),
    "chart_goal": ("施政目標（加權）", "Goal (weighted)"),
    "chart_line": ("黃燈門檻 {yellow}", "Yellow threshold {yellow}"),
    "original": ("原 {value}", "originally {value}"),
    "original_note": ("累計目標值已修正，原為 {value}。", "Target revised; originally {value}."),
    "projection": ("年底預估", "Year-end projection"),
    "projected_light": ("預估燈號", "Projected light"),
    "budget": ("預算執行（工作計畫及經資門）", "Budget execution by program and current/capital"),
    "budget_month": (
        "資料月份：{month}（累計數）；單位：新臺幣千元。執行率 =（實支數 + 應付未付數）÷ 累計分配數。",
        "Figures as of {month} (year to date), NT$ thousand. Execution rate = (spent + payable) "
        "÷ allotted to date.",
    ),
    "budget_stale": (
        "尚未上傳季末（{end}）的預算報表，以下為最近一期。",
        "The budget report for the quarter's end ({end}) has not been uploaded; showing the latest one.",
    ),
    "no_budget": ("本季尚無預算執行資料。", "No budget execution data for this quarter."),
    "chart_budget": ("各工作計畫分配預算執行率", "Execution rate by work program"),
    "axis_rate": ("執行率", "Execution rate"),
    "line_90": ("90% 執行標準", "90% benchmark"),
    "col_program": ("工作計畫", "Work program"),
    "col_kind": ("經資門", "Current/capital"),
    "col_budget": ("預算數", "Budget"),
    "col_allotted": ("累計分配數", "Allotted to date"),
    "col_executed": ("執行數", "Executed"),
    "col_rate": ("執行率", "Rate"),
    "subtotal": ("小計", "Subtotal"),
    "total": ("合計", "Total"),
    "count_lights": ("{n} 項衡量指標：{lights}", "{n} indicators: {lights}"),
    "sheet": ("績效報告", "Performance"),
    # The columns of the performance table, in the order reviews use.
    "col_goal": ("施政目標", "Goal"),
    "col_indicator": ("衡量指標", "Indicator"),
    "col_annual": ("年度目標值", "Annual target"),
    "col_target": ("累計目標值", "Target to date"),
    "col_actual": ("累計實際值", "Actual to date"),
    "col_achievement": ("達成度", "Achievement"),
    "col_light": ("燈號", "Light"),
    "col_projection": ("年底預估", "Year-end projection"),
    "col_note": ("說明", "Commentary"),
    "no_plan": (
        "{year}沒有施政計畫。請先載入該年度的施政計畫（python -m kpi plan import）。",
        "There is no plan for {year}. Load that year's plan first (python -m kpi plan import).",
    ),
    "unknown_program": (
        "找不到工作計畫「{name}」。可用：{known}",
        "There is no work program '{name}'. Known: {known}",
    ),
}

COLUMNS = (
    "col_goal",
    "col_indicator",
    "col_annual",
    "col_target",
    "col_actual",
    "col_achievement",
    "col_light",
    "col_projection",
    "col_note",
)
# Text on a light's fill: white where the fill is dark enough to need it.
LIGHT_TEXT = {"green": "#ffffff", "yellow": "#000000", "red": "#ffffff", "white": "#000000"}
# Number formats of the spreadsheet cells, by the indicator's declared format.
XLSX_FORMATS = {"count": "#,##0", "number": "#,##0.00", "percent": "0.0%"}
ACHIEVEMENT_FORMAT = "0.0%"
# Fixed chart width: Plotly draws at load time, so a chart as wide as the screen would
# overflow the A4 page when printed. 180 mm of usable width ≈ 680 CSS pixels.
CHART_WIDTH = 680


class ReportError(Exception):
    """A report that cannot be written as asked (unknown program, no plan for the year)."""

    def __init__(self, message_zh: str, message_en: str) -> None:
        super().__init__(message_zh)
        self.message_zh = message_zh
        self.message_en = message_en

    def message(self, lang: str) -> str:
        return self.message_en if lang == EN else self.message_zh


@dataclass(frozen=True)
class BudgetSection:
    """Budget execution at the report month: program × 經資門 rows with subtotals and total."""

    month: int | None
    # views.budget_table's columns: program, kind, budget, allotted, executed, rate, row.
    table: pd.DataFrame


@dataclass(frozen=True)
class Report:
    """Everything one briefing report shows, in the language it is written in."""

    agency: str
    year: int
    quarter: int
    programs: tuple[str, ...]
    lang: str
    as_of: dt.datetime | None
    made: dt.datetime
    status: Status
    goals: tuple[GoalFigure, ...]  # the goals with indicators in scope, plan order
    history: tuple[KpiFigure, ...]  # the selected indicators at quarters 1 … quarter
    goal_history: tuple[tuple[GoalFigure, ...], ...]  # every goal at quarter 1, 2, … quarter
    indicators: dict[str, Indicator]
    thresholds: Thresholds
    budget: BudgetSection

    @property
    def t(self) -> Translator:
        return Translator(self.lang, STRINGS)

    def kpis_of(self, goal_id: str) -> list[KpiFigure]:
        return [k for k in self.status.kpis if k.goal == goal_id]

    @property
    def flagged(self) -> list[KpiFigure]:
        """Red now or at risk by year end, in catalogue order."""
        return [k for k in self.status.kpis if k.light == "red" or k.at_risk]


# -- building -------------------------------------------------------------------------------


def has_plan(engine: Engine, year: int) -> bool:
    """Whether the year has a plan: stored, or the bundled one."""
    return engine.store.plan_source(year) is not None or load_bundled_plan().year == year


def resolve_programs(engine: Engine, year: int, names: Sequence[str]) -> tuple[str, ...]:
    """Program names as the plan spells them; ReportError for a name neither plan nor budget has."""
    plan = engine.plan(year)
    known = set(plan.program_names)
    budget = set(engine.store.budget_programs(year))
    out = []
    for name in names:
        canon = canonical_program(unicodedata.normalize("NFKC", name).strip())
        if canon not in known and canon not in budget:
            zh, en = STRINGS["unknown_program"]
            raise ReportError(
                zh.format(name=name, known="、".join(plan.program_names)),
                en.format(name=name, known=", ".join(plan.program_names)),
            )
        out.append(canon)
    return tuple(dict.fromkeys(out))


def data_as_of(engine: Engine) -> dt.datetime | None:
    """When the stored data last changed: the newest import or undo."""
    batches = engine.store.batches()
    times = [b.created_at for b in batches] + [b.undone_at for b in batches if b.undone_at]
    return max(times) if times else None


def build_report(
    engine: Engine,
    year: int,
    quarter: int,
    programs: Sequence[str] = (),
    lang: str = ZH,
    made: dt.datetime | None = None,
) -> Report:
    """The report's figures for one quarter and program filter (ReportError when it cannot be)."""
    if not has_plan(engine, year):
        zh, en = (Translator(lang, STRINGS) for lang in (ZH, EN))
        raise ReportError(zh("no_plan", year=zh.year(year)), en("no_plan", year=en.year(year)))
    programs = resolve_programs(engine, year, programs)
    plan: Plan = engine.plan(year)
    status = engine.status(year, quarter, programs)
    grid = figures.indicator_grid(engine.store, engine.catalog, year, programs)
    history = tuple(k for k in grid if k.quarter <= quarter)
    goal_history = tuple(
        tuple(figures.roll_up(plan, engine.catalog, [k for k in history if k.quarter == q]))
        for q in QUARTERS[:quarter]
    )
    return Report(
        agency=plan.agency,
        year=year,
        quarter=quarter,
        programs=programs,
        lang=lang if lang in (ZH, EN) else ZH,
        as_of=data_as_of(engine),
        made=made or dt.datetime.now().replace(microsecond=0),
        status=status,
        goals=tuple(g for g in status.goals if sum(g.lights.values())),
        history=history,
        goal_history=goal_history,
        indicators={ind.id: ind for ind in engine.catalog.indicators},
        thresholds=engine.catalog.thresholds,
        budget=_budget(engine, plan, year, quarter, programs),
    )


def _budget(
    engine: Engine, plan: Plan, year: int, quarter: int, programs: tuple[str, ...]
) -> BudgetSection:
    month = views.report_month(engine.store, year, quarter)
    if month is None:
        return BudgetSection(None, views.budget_table(pd.DataFrame()))
    by_program = views.budget_by_program(engine.store, year, month, programs)
    names = list(plan.program_names)

    def order(name: str) -> tuple[int, int, str]:
        # The plan's programs in the plan's order, then the rest of the budget by name.
        return (0, names.index(name), name) if name in names else (1, 0, name)

    by_program = by_program.sort_values("program", key=lambda s: s.map(order), kind="stable")
    return BudgetSection(month, views.budget_table(by_program))


def render(report: Report, fmt: str) -> bytes:
    """The report as a file of the given format (html, xlsx or ods)."""
    writers: dict[str, Callable[[Report], bytes]] = {
        "html": to_html,
        "xlsx": to_xlsx,
        "ods": to_ods,
    }
    return writers[fmt](report)


def file_name(report: Report, fmt: str) -> str:
    suffix = "_" + "_".join(report.programs) if report.programs else ""
    return f"report_{report.year}Q{report.quarter}{suffix}.{fmt}"


# -- shared wording ---------------------------------------------------------------------------


def title(report: Report) -> str:
    t = report.t
    agency = f"{report.agency} " if report.agency else ""
    return t("title", agency=agency, period=t.quarter(report.year, report.quarter))


def scope(report: Report) -> str:
    t = report.t
    return t("joiner").join(report.programs) if report.programs else t("all_programs")


def filters_line(report: Report) -> str:
    """Year, quarter, programs and the data's as-of time, in one line (the spreadsheets' title)."""
    t = report.t
    as_of = fmt_datetime(report.as_of, report.lang) if report.as_of else t("as_of_none")
    parts = (
        (t("year"), t.year(report.year)),
        (t("quarter"), fmt_quarter_short(report.quarter, report.lang)),
        (t("scope"), scope(report)),
        (t("as_of"), as_of),
    )
    return t("gap").join(f"{name}{t('colon')}{value}" for name, value in parts)


def goal_label(report: Report, goal_id: str) -> str:
    g = next((g for g in report.status.goals if g.id == goal_id), None)
    return f"{goal_id} {g.title}" if g else goal_id


def indicator_label(report: Report, k: KpiFigure) -> str:
    return f"{k.id} {report.t.pick(k.name_zh, k.name_en)}"


def note_text(report: Report, k: KpiFigure) -> str:
    """The commentary, with a sentence on a revised target (the spreadsheets have no column for it)."""
    parts = [k.note] if k.note else []
    if k.original_target is not None:
        fmt = report.indicators[k.id].format
        parts.append(report.t("original_note", value=fmt_value(k.original_target, fmt)))
    return "\n".join(parts)


# -- the performance table (xlsx and ods) -------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """One spreadsheet cell: a value (number, text or None) and how to show it."""

    value: float | str | None
    number_format: str | None = None  # an XLSX_FORMATS value for numbers
    light: str | None = None  # fill colour by this light


def table_rows(report: Report) -> list[list[Cell]]:
    """One row per indicator: the review layout's nine columns."""
    rows = []
    for k in report.status.kpis:
        fmt = XLSX_FORMATS[report.indicators[k.id].format]

        def number(x: float | None, number_format: str = fmt) -> Cell:
            return Cell(MISSING) if x is None else Cell(float(x), number_format)

        rows.append(
            [
                Cell(goal_label(report, k.goal)),
                Cell(indicator_label(report, k)),
                number(k.annual_target),
                number(k.target),
                number(k.actual),
                number(k.achievement, ACHIEVEMENT_FORMAT),
                Cell(report.t.light(k.light), light=k.light),
                number(k.projection),
                Cell(note_text(report, k)),
            ]
        )
    return rows


def headers(report: Report) -> list[str]:
    return [report.t(c) for c in COLUMNS]


def _text(value: str) -> str:
    """Text for a spreadsheet cell: without the control characters XML cannot hold (removed
    first, so "\x08=1" cannot become a formula once they are gone), then neutralised."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    return str(neutralise(ILLEGAL_CHARACTERS_RE.sub("", value)))


def to_xlsx(report: Report) -> bytes:
    """The performance table as .xlsx: title row, frozen header, typed and formatted cells."""
    from openpyxl import Workbook
    from openpyxl.cell.cell import TYPE_STRING
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    ws.title = report.t("sheet")
    ws.append([_text(f"{title(report)}{report.t('gap')}{filters_line(report)}")])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(COLUMNS))
    ws["A1"].font = Font(bold=True, size=13)
    ws.append(headers(report))
    for cell in ws[2]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    fills = {n: PatternFill("solid", fgColor=LIGHT_COLOURS[n].lstrip("#").upper()) for n in LIGHTS}
    for r, row in enumerate(table_rows(report), start=3):
        for c, item in enumerate(row, start=1):
            value = item.value
            cell = ws.cell(r, c)
            if isinstance(value, str):
                cell.value = _text(value)
                cell.data_type = TYPE_STRING  # never a formula, whatever the text
                cell.alignment = Alignment(vertical="top", wrap_text=True)
            else:
                cell.value = value
                cell.number_format = item.number_format or "General"
                cell.alignment = Alignment(vertical="top")
            if item.light:
                cell.fill = fills[item.light]
                cell.font = Font(bold=True, color=LIGHT_TEXT[item.light].lstrip("#").upper())
                cell.alignment = Alignment(horizontal="center", vertical="top")
    widths = (30, 30, 14, 14, 14, 10, 10, 14, 50)
    for c, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(c)].width = width
    ws.freeze_panes = "A3"
    ws.print_title_rows = "2:2"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


# ODF number styles for the formats above: (style name, decimals, grouping, percent).
_ODS_NUMBERS = {
    "#,##0": ("N0", 0, True, False),
    "#,##0.00": ("N2", 2, True, False),
    "0.0%": ("P1", 1, False, True),
}


def to_ods(report: Report) -> bytes:
    """The performance table as .ods (odfpy): the same layout, typed cells and colours."""
    from odf.config import (
        ConfigItem,
        ConfigItemMapEntry,
        ConfigItemMapIndexed,
        ConfigItemMapNamed,
        ConfigItemSet,
    )
    from odf.number import Number, NumberStyle, PercentageStyle
    from odf.number import Text as NumberText
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.style import (
        ParagraphProperties,
        Style,
        TableCellProperties,
        TableColumnProperties,
        TextProperties,
    )
    from odf.table import CoveredTableCell, Table, TableCell, TableColumn, TableRow
    from odf.text import P

    doc = OpenDocumentSpreadsheet()
    data_styles = {}
    for fmt, (name, decimals, grouping, percent) in _ODS_NUMBERS.items():
        style = (PercentageStyle if percent else NumberStyle)(name=name)
        style.addElement(
            Number(
                decimalplaces=decimals, minintegerdigits=1, grouping="true" if grouping else "false"
            )
        )
        if percent:
            style.addElement(NumberText(text="%"))
        doc.automaticstyles.addElement(style)
        data_styles[fmt] = name

    def cell_style(name: str, **props) -> str:
        style = Style(name=name, family="table-cell", **props)
        style.addElement(TableCellProperties(verticalalign="top", wrapoption="wrap"))
        doc.automaticstyles.addElement(style)
        return name

    number_styles = {fmt: cell_style(f"c{n}", datastylename=n) for fmt, n in data_styles.items()}
    text_style = cell_style("ctext")
    light_styles = {}
    for n in LIGHTS:
        style = Style(name=f"light_{n}", family="table-cell")
        style.addElement(TableCellProperties(backgroundcolor=LIGHT_COLOURS[n], verticalalign="top"))
        style.addElement(ParagraphProperties(textalign="center"))
        style.addElement(TextProperties(color=LIGHT_TEXT[n], fontweight="bold"))
        doc.automaticstyles.addElement(style)
        light_styles[n] = style.getAttribute("name")
    bold = Style(name="bold", family="table-cell")
    bold.addElement(TextProperties(fontweight="bold"))
    bold.addElement(TableCellProperties(verticalalign="middle", wrapoption="wrap"))
    doc.automaticstyles.addElement(bold)

    table = Table(name=report.t("sheet"))
    for c, width in enumerate((6, 6, 2.6, 2.6, 2.6, 2, 2, 2.6, 9)):
        col = Style(name=f"col{c}", family="table-column")
        col.addElement(TableColumnProperties(columnwidth=f"{width}cm"))
        doc.automaticstyles.addElement(col)
        table.addElement(TableColumn(stylename=col))

    def text_cell(text: str, style: str = text_style, **attrs) -> TableCell:
        cell = TableCell(valuetype="string", stylename=style, **attrs)
        for line in _text(text).split("\n"):
            cell.addElement(P(text=line))
        return cell

    row = TableRow()
    row.addElement(
        text_cell(
            f"{title(report)}{report.t('gap')}{filters_line(report)}",
            "bold",
            numbercolumnsspanned=len(COLUMNS),
        )
    )
    for _ in COLUMNS[1:]:
        row.addElement(CoveredTableCell())
    table.addElement(row)
    row = TableRow()
    for h in headers(report):
        row.addElement(text_cell(h, "bold"))
    table.addElement(row)
    for cells in table_rows(report):
        row = TableRow()
        for item in cells:
            if isinstance(item.value, float):
                fmt = item.number_format or "#,##0.00"
                percent = _ODS_NUMBERS[fmt][3]
                cell = TableCell(
                    valuetype="percentage" if percent else "float",
                    value=repr(item.value),
                    stylename=number_styles[fmt],
                )
                shown = (
                    f"{item.value * 100:.1f}%"
                    if percent
                    else f"{item.value:,.{_ODS_NUMBERS[fmt][1]}f}"
                )
                cell.addElement(P(text=shown))
                row.addElement(cell)
            elif item.light:
                row.addElement(text_cell(str(item.value), light_styles[item.light]))
            else:
                row.addElement(text_cell(str(item.value or "")))
        table.addElement(row)
    doc.spreadsheet.addElement(table)

    # The header stays in view: LibreOffice's frozen rows are view settings (settings.xml).
    view = ConfigItemSet(name="ooo:view-settings")
    views_ = ConfigItemMapIndexed(name="Views")
    entry = ConfigItemMapEntry()
    entry.addElement(ConfigItem(name="ViewId", type="string", text="view1"))
    tables = ConfigItemMapNamed(name="Tables")
    sheet = ConfigItemMapEntry(name=report.t("sheet"))
    for name, kind, value in (
        ("VerticalSplitMode", "short", "2"),
        ("VerticalSplitPosition", "int", "2"),
        ("ActiveSplitRange", "short", "2"),
        ("PositionBottom", "int", "2"),
    ):
        sheet.addElement(ConfigItem(name=name, type=kind, text=value))
    tables.addElement(sheet)
    entry.addElement(tables)
    views_.addElement(entry)
    view.addElement(views_)
    doc.settings.addElement(view)

    buf = io.BytesIO()
    doc.write(buf)
    return buf.getvalue()


# -- html -----------------------------------------------------------------------------------------

CSS = """
@page { size: A4; margin: 15mm 14mm; }
* { box-sizing: border-box; }
body { font-family: %(font)s; font-size: 10.5pt; color: #222; margin: 0 auto; max-width: 190mm;
       padding: 8mm 4mm; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
h1 { font-size: 17pt; margin: 0 0 4pt; }
h2 { font-size: 14pt; margin: 14pt 0 6pt; border-bottom: 2px solid #1f4e79; padding-bottom: 3pt; }
h3 { font-size: 11.5pt; margin: 10pt 0 4pt; }
table { border-collapse: collapse; width: 100%%; margin: 4pt 0 8pt; }
th, td { border: 1px solid #bbb; padding: 3pt 4pt; vertical-align: top; }
th { background: #eef2f7; font-weight: 600; text-align: left; }
td.num { text-align: right; white-space: nowrap; }
dl.filters { display: grid; grid-template-columns: max-content 1fr; gap: 2pt 10pt; margin: 6pt 0; }
dl.filters dt { font-weight: 600; }
dl.filters dd { margin: 0; }
.light { display: inline-block; width: 0.8em; height: 0.8em; border-radius: 50%%;
         vertical-align: -0.05em; margin-right: 0.3em; border: 1px solid #999; }
.note { white-space: pre-wrap; }
.muted { color: #666; }
.flag { font-weight: 600; }
.chart { width: %(width)dpx; margin: 6pt 0; break-inside: avoid; page-break-inside: avoid; }
section.goal, section.budget { break-before: page; page-break-before: always; }
tr { break-inside: avoid; page-break-inside: avoid; }
@media print { body { padding: 0; max-width: none; } }
"""


def _e(text: object) -> str:
    """Any text into HTML: escaped, whoever wrote it."""
    return html.escape("" if text is None else str(text))


def _light(report: Report, name: str | None) -> str:
    if name is None:
        return MISSING
    colour = LIGHT_COLOURS[name]
    return f'<span class="light" style="background:{colour}"></span>{_e(report.t.light(name))}'


def _chart(fig: go.Figure) -> str:
    fig.update_layout(width=CHART_WIDTH, autosize=False)
    return (
        '<div class="chart">'
        + pio.to_html(
            fig,
            full_html=False,
            include_plotlyjs=False,
            include_mathjax=False,
            config={"displayModeBar": False, "responsive": False, "staticPlot": False},
            default_width=f"{CHART_WIDTH}px",
            default_height=f"{fig.layout.height or 320}px",
        )
        + "</div>"
    )


def _goal_chart(report: Report, goal: GoalFigure) -> go.Figure:
    """Each indicator's year-to-date achievement by quarter, the goal's roll-up, the yellow line."""
    t = report.t
    rows = [
        {
            "quarter": fmt_quarter_short(k.quarter, report.lang),
            "series": indicator_label(report, k),
            "achievement": k.achievement,
        }
        for k in report.history
        if k.goal == goal.id
    ]
    for q, goals in enumerate(report.goal_history, start=1):
        rolled = next(g for g in goals if g.id == goal.id)
        rows.append(
            {
                "quarter": fmt_quarter_short(q, report.lang),
                "series": t("chart_goal"),
                "achievement": rolled.achievement,
            }
        )
    frame = pd.DataFrame(rows).astype({"achievement": float})
    # Plotly renders some HTML in labels: names are shown as written, never as markup.
    frame["series"] = charts.plain_text(frame["series"])
    fig = charts.lines(
        frame,
        "quarter",
        "achievement",
        "series",
        t("chart"),
        t("achievement"),
        percent=True,
        hline=report.thresholds.yellow,
        hline_label=t("chart_line", yellow=fmt_percent(report.thresholds.yellow, 0)),
    )
    # Several indicators' names do not fit beside the title: the legend goes below the plot.
    fig.update_layout(height=380, legend={"y": -0.15, "yanchor": "top", "x": 0, "xanchor": "left"})
    return fig


def _kind(report: Report, kind: str, row: str) -> str:
    if kind != views.TOTAL:
        return fmt_category(kind, report.lang)
    return report.t("subtotal") if row == "subtotal" else ""


def _budget_html(report: Report) -> list[str]:
    t = report.t
    out = ['<section class="budget">', f"<h2>{_e(t('budget'))}</h2>"]
    b = report.budget
    if b.month is None or b.table.empty:
        out += [f'<p class="muted">{_e(t("no_budget"))}</p>', "</section>"]
        return out
    out.append(
        f'<p class="muted">{_e(t("budget_month", month=fmt_month(report.year, b.month, report.lang)))}</p>'
    )
    if b.month < report.quarter * 3:
        end = fmt_month(report.year, report.quarter * 3, report.lang)
        out.append(f'<p class="flag">{_e(t("budget_stale", end=end))}</p>')
    cols = ("col_program", "col_kind", "col_budget", "col_allotted", "col_executed", "col_rate")
    out.append(
        "<table><thead><tr>"
        + "".join(f"<th>{_e(t(c))}</th>" for c in cols)
        + "</tr></thead><tbody>"
    )
    for r in b.table.itertuples(index=False):
        program = t("total") if r.row == "total" else r.program
        strong = ' style="font-weight:600"' if r.row != "item" else ""
        out.append(
            f"<tr{strong}><td>{_e(program)}</td><td>{_e(_kind(report, r.kind, r.row))}</td>"
            + "".join(
                f'<td class="num">{fmt_thousands(v)}</td>'
                for v in (r.budget, r.allotted, r.executed)
            )
            + f'<td class="num">{fmt_percent(r.rate)}</td></tr>'
        )
    out.append("</tbody></table>")
    items = b.table[b.table["row"] == "item"]
    bars = pd.DataFrame(
        {
            "program": charts.plain_text(items["program"]),
            "kind": [_kind(report, k, "item") for k in items["kind"]],
            "rate": items["rate"].astype(float),
        }
    )
    fig = charts.rate_bars(
        bars, "program", "rate", "kind", t("chart_budget"), t("axis_rate"), t("line_90")
    )
    out += [_chart(fig), "</section>"]
    return out


def _indicator_table(report: Report, kpis: Sequence[KpiFigure]) -> list[str]:
    t = report.t
    cols = (
        t("col_indicator"),
        t("col_actual"),
        t("col_target"),
        t("col_achievement"),
        t("col_light"),
        t("projection"),
        t("projected_light"),
        t("col_note"),
    )
    out = [
        "<table><thead><tr>" + "".join(f"<th>{_e(c)}</th>" for c in cols) + "</tr></thead><tbody>"
    ]
    for k in kpis:
        fmt = report.indicators[k.id].format
        target = _e(fmt_value(k.target, fmt))
        if k.original_target is not None:
            target += f'<br><span class="muted">{_e(t("original", value=fmt_value(k.original_target, fmt)))}</span>'
        flag = ""
        if k.at_risk:
            flag = f' <span class="flag">（{_e(t("at_risk"))}）</span>'
        out.append(
            f"<tr><td>{_e(indicator_label(report, k))}</td>"
            f'<td class="num">{_e(fmt_value(k.actual, fmt))}</td>'
            f'<td class="num">{target}</td>'
            f'<td class="num">{_e(fmt_percent(k.achievement))}</td>'
            f"<td>{_light(report, k.light)}</td>"
            f'<td class="num">{_e(fmt_value(k.projection, fmt))}</td>'
            f"<td>{_light(report, k.projected_light)}{flag}</td>"
            f'<td class="note">{_e(k.note or "")}</td></tr>'
        )
    out.append("</tbody></table>")
    return out


def to_html(report: Report) -> bytes:
    """One self-contained HTML file: inlined Plotly, no fetches, A4 print CSS, escaped text."""
    from plotly.offline import get_plotlyjs

    t = report.t
    head = title(report)
    as_of = fmt_datetime(report.as_of, report.lang) if report.as_of else t("as_of_none")
    lang = "en" if report.lang == EN else "zh-Hant-TW"
    out = [
        "<!DOCTYPE html>",
        f'<html lang="{lang}"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(head)}</title>",
        "<style>" + CSS % {"font": charts.FONT, "width": CHART_WIDTH} + "</style>",
        # Plotly's library, once, inline: the file opens with no network at all.
        '<script type="text/javascript">' + get_plotlyjs() + "</script>",
        "</head><body>",
        f"<header><h1>{_e(head)}</h1>",
        f'<dl class="filters"><dt>{_e(t("year"))}</dt><dd>{_e(t.year(report.year))}</dd>',
        f"<dt>{_e(t('quarter'))}</dt><dd>{_e(fmt_quarter_short(report.quarter, report.lang))}</dd>",
        f"<dt>{_e(t('scope'))}</dt><dd>{_e(scope(report))}</dd>",
        f"<dt>{_e(t('as_of'))}</dt><dd>{_e(as_of)}</dd>",
        f"<dt>{_e(t('made'))}</dt><dd>{_e(fmt_datetime(report.made, report.lang))}</dd></dl>",
        "</header>",
        '<section class="summary">',
        f"<h2>{_e(t('summary'))}</h2>",
    ]
    kpis = report.status.kpis
    counts = {n: sum(1 for k in kpis if k.light == n) for n in LIGHTS}
    lights = "　".join(f"{_light(report, n)} {counts[n]}" for n in LIGHTS)
    out.append(f"<p>{t('count_lights', n=len(kpis), lights=lights)}</p>")
    out.append(
        "<table><thead><tr>"
        + "".join(f"<th>{_e(t(c))}</th>" for c in ("col_goal", "col_achievement", "col_light"))
        + "</tr></thead><tbody>"
    )
    for g in report.goals:
        out.append(
            f'<tr><td>{_e(g.id)} {_e(g.title)}</td><td class="num">{_e(fmt_percent(g.achievement))}</td>'
            f"<td>{_light(report, g.light)}</td></tr>"
        )
    out.append("</tbody></table>")
    yellow = fmt_percent(report.thresholds.yellow, 0)
    out += [
        f"<h2>{_e(t('risks'))}</h2>",
        f'<p class="muted">{_e(t("risks_help", yellow=yellow))}</p>',
    ]
    flagged = report.flagged
    if not flagged:
        out.append(f"<p>{_e(t('no_risks'))}</p>")
    for k in flagged:
        fmt = report.indicators[k.id].format
        why = [t("why")] if k.light == "red" else []
        if k.at_risk:
            why.append(t("at_risk"))
        out.append(
            f"<h3>{_light(report, k.light)} {_e(indicator_label(report, k))}"
            f' <span class="flag">［{_e(t("joiner").join(why))}］</span></h3>'
            f"<p>{_e(t('col_actual'))} {_e(fmt_value(k.actual, fmt))}／{_e(t('col_target'))} "
            f"{_e(fmt_value(k.target, fmt))}（{_e(t('col_achievement'))} {_e(fmt_percent(k.achievement))}）"
            f"　{_e(t('projection'))} {_e(fmt_value(k.projection, fmt))}"
            f"　{_e(t('col_goal'))} {_e(k.goal)}</p>"
            f'<p class="note">{_e(k.note or t("no_note"))}</p>'
        )
    out.append("</section>")
    period = t.quarter(report.year, report.quarter)
    for g in report.goals:
        out += [
            f'<section class="goal" id="{_e(g.id)}">',
            f"<h2>{_light(report, g.light)} {_e(g.id)}　{_e(g.title)}</h2>",
            f"<p>{_e(t('goal_line', period=period, ach=fmt_percent(g.achievement), light=t.light(g.light)))}</p>",
            *_indicator_table(report, report.kpis_of(g.id)),
            _chart(_goal_chart(report, g)),
            "</section>",
        ]
    out += _budget_html(report)
    out.append("</body></html>")
    return "\n".join(out).encode("utf-8")

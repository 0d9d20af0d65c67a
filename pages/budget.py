"""預算執行 Budget — execution rate by program and 經資門, the monthly curve, a year-end projection.

Budget reports are cumulative: the quarter's report month alone holds the year to date,
so every figure here is read at that one month (views.report_month).
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from kpi import charts, views
from kpi.charts import EXECUTION_LINE
from kpi.i18n import fmt_category, fmt_month, fmt_month_short, fmt_percent
from pages.common import chart, current_filters, downloads, engine, md_escape, translator, view

PAGE_STRINGS: dict[str, tuple[str, str]] = {
    "title": ("預算執行", "Budget execution"),
    "as_of": (
        "資料月份：{month}（{quarter}，累計數）",
        "Figures as of {month} ({quarter}, year to date)",
    ),
    "stale": (
        "尚未上傳{quarter}季末（{end}）的預算報表，以下為最近一期：{month}。",
        "The budget report for the end of {quarter} ({end}) has not been uploaded yet; showing the latest one, {month}.",
    ),
    "scope_all": (
        "範圍：本部全部預算，包括未列入施政計畫的 {others}。",
        "Scope: the ministry's whole budget, including programs not in the plan: {others}.",
    ),
    "scope_all_plain": ("範圍：本部全部預算。", "Scope: the ministry's whole budget."),
    "scope_programs": (
        "範圍：{programs}（側欄工作計畫篩選）。",
        "Scope: {programs} (sidebar program filter).",
    ),
    "no_budget": (
        "{year}尚無預算執行資料。請至「資料上傳」頁上傳預算執行月報表。",
        "No budget execution data for {year} yet. Upload the monthly budget report on the Upload page.",
    ),
    "no_rows": (
        "所選工作計畫在 {month} 沒有預算資料。",
        "The selected work programs have no budget rows in {month}.",
    ),
    "rate_total": ("分配預算執行率", "Budget execution rate"),
    "rate_kind": ("{kind}執行率", "{kind} execution rate"),
    "projection": ("預估年底執行率", "Projected year-end execution"),
    "vs_line": ("{pp} 個百分點（對 90%）", "{pp} pp vs 90%"),
    "rate_help": (
        "執行率 =（實支數 + 應付未付數）÷ 累計分配數，各列加總後相除。",
        "Execution rate = (spent + payable) ÷ allotted to date, summed over the rows and then divided.",
    ),
    "chart_rate": (
        "各工作計畫分配預算執行率（{month}）",
        "Execution rate by work program ({month})",
    ),
    "axis_rate": ("執行率", "Execution rate"),
    "line_90": ("90% 執行標準", "90% benchmark"),
    "chart_curve": ("累計執行率（按月）", "Cumulative execution rate by month"),
    "axis_month": ("月份", "Month"),
    "projection_head": ("年底執行預估", "Year-end projection"),
    "projection_method": (
        "預估方法：截至 {month} 的執行數（實支 + 應付未付）÷ 已過月數（{months}）× 12，即按目前進度推估的全年執行數，再除以年度預算數；上限 100%。",
        "Method: executed so far (spent + payable) to {month} ÷ months elapsed ({months}) × 12 — the year's execution at the pace so far — divided by the annual budget; capped at 100%.",
    ),
    "table_head": ("預算執行明細", "Budget execution by program"),
    "unit": ("單位：新臺幣千元；執行率為百分比。", "Unit: NT$ thousands; rates in per cent."),
    "col_program": ("工作計畫", "Work program"),
    "col_kind": ("經資門", "Current/capital"),
    "col_budget": ("預算數（千元）", "Budget (NT$ thousand)"),
    "col_allotted": ("累計分配數（千元）", "Allotted to date (NT$ thousand)"),
    "col_executed": ("執行數（千元）", "Executed (NT$ thousand)"),
    "col_rate": ("執行率（%）", "Execution rate (%)"),
    "col_month": ("月份", "Month"),
    "col_months": ("已過月數", "Months elapsed"),
    "col_projected": ("預估全年執行數（千元）", "Projected year's execution (NT$ thousand)"),
    "col_projected_rate": ("預估年底執行率（%）", "Projected year-end rate (%)"),
    "subtotal": ("小計", "Subtotal"),
    "total": ("合計", "Total"),
}

t = translator(PAGE_STRINGS)
f = current_filters()
plan_programs = engine().plan(f.year).program_names


def kind_label(kind: str, row: str = "item") -> str:
    """經常門 / 資本門 in the interface language; 小計 on a program's subtotal, blank on the grand total."""
    if kind != views.TOTAL:
        return fmt_category(kind, f.lang)
    return {"subtotal": t("subtotal"), "total": ""}.get(row, t("total"))


def thousands(x: pd.Series) -> pd.Series:
    return x / 1000


def money_column(label: str) -> st.column_config.NumberColumn:
    return st.column_config.NumberColumn(label, format="%,.0f")


def rate_column(label: str) -> st.column_config.NumberColumn:
    return st.column_config.NumberColumn(label, format="%.1f%%")


def program_order(name: str) -> tuple[int, int, str]:
    """Plan programs in the plan's order first, then the rest of the ministry's budget by name."""
    if name in plan_programs:
        return (0, plan_programs.index(name), name)
    return (1, 0, name)


st.title(t("title"))
month = view("report_month", f.year, f.quarter)
if month is None:
    st.info(t("no_budget", year=t.year(f.year)))
    st.page_link("pages/upload.py", label=t("go_upload"), icon=":material/upload_file:")
    st.stop()

month_text = fmt_month(f.year, month, f.lang)
st.caption(t("as_of", month=month_text, quarter=t.quarter(f.year, f.quarter)))
if month < f.quarter * 3:
    st.warning(
        t(
            "stale",
            quarter=t.quarter(f.year, f.quarter),
            end=fmt_month(f.year, f.quarter * 3, f.lang),
            month=month_text,
        )
    )

by_program = view("budget_by_program", f.year, month, f.programs)
if f.programs:
    st.caption(t("scope_programs", programs="、".join(map(md_escape, f.programs))))
else:
    others = sorted(
        (p for p in by_program["program"].unique() if p not in plan_programs), key=program_order
    )
    st.caption(
        t("scope_all", others="、".join(map(md_escape, others))) if others else t("scope_all_plain")
    )
if by_program.empty:
    st.info(t("no_rows", month=month_text))
    st.stop()

by_program = by_program.sort_values("program", key=lambda s: s.map(program_order), kind="stable")
table = views.budget_table(by_program)
by_month = view("budget_by_month", f.year, f.programs)
by_month = by_month[by_month["month"] <= month]
curve = views.budget_curve(by_month)
projection = views.projection_table(by_month)

# -- headline figures -------------------------------------------------------------------------

now = curve[curve["month"] == month].set_index("kind")["rate"]
projected = projection.set_index("kind")["rate"].get(views.TOTAL)


def vs_line(rate: float | None) -> str | None:
    if rate is None or pd.isna(rate):
        return None
    return t("vs_line", pp=f"{(rate - EXECUTION_LINE) * 100:+.1f}")


kinds = [k for k in now.index if k != views.TOTAL]  # 經常門, 資本門 (those the rows have)
cols = st.columns(len(kinds) + 2)
cols[0].metric(
    t("rate_total"), fmt_percent(now[views.TOTAL]), vs_line(now[views.TOTAL]), help=t("rate_help")
)
for col, kind in zip(cols[1:], kinds, strict=False):
    col.metric(
        t("rate_kind", kind=fmt_category(kind, f.lang)), fmt_percent(now[kind]), vs_line(now[kind])
    )
cols[-1].metric(
    t("projection"),
    fmt_percent(projected),
    vs_line(projected),
    help=t("projection_method", month=month_text, months=month),
)

# -- rate by program and 經資門 ------------------------------------------------------------------

items = by_program.assign(kind=by_program["kind"].map(kind_label))
bars = items.assign(program=charts.plain_text(items["program"]))
rate_frame = pd.DataFrame(
    {
        t("col_program"): items["program"],
        t("col_kind"): items["kind"],
        t("col_allotted"): thousands(items["allotted"]),
        t("col_executed"): thousands(items["executed"]),
        t("col_rate"): items["rate"] * 100,
    }
)
chart(
    "budget_rates",
    lambda: charts.rate_bars(
        bars,
        "program",
        "rate",
        "kind",
        t("chart_rate", month=month_text),
        t("axis_rate"),
        t("line_90"),
    ),
)
downloads(rate_frame, "budget_rates", "dl_rates")

# -- cumulative curve and projection ------------------------------------------------------------

curve = curve.assign(
    label=curve["month"].map(lambda m: fmt_month_short(int(m), f.lang)),
    kind=curve["kind"].map(kind_label),
)


def budget_curve_figure() -> go.Figure:
    fig = charts.lines(
        curve,
        "label",
        "rate",
        "kind",
        t("chart_curve"),
        t("axis_rate"),
        percent=True,
        hline=EXECUTION_LINE,
        hline_label=t("line_90"),
    )
    fig.update_xaxes(title=t("axis_month"), type="category")
    return fig


chart("budget_curve", budget_curve_figure)
downloads(
    pd.DataFrame(
        {
            t("col_month"): curve["month"].astype(int),
            t("col_kind"): curve["kind"],
            t("col_allotted"): thousands(curve["allotted"]),
            t("col_executed"): thousands(curve["executed"]),
            t("col_rate"): curve["rate"] * 100,
        }
    ),
    "budget_by_month",
    "dl_curve",
)

st.subheader(t("projection_head"))
st.caption(t("projection_method", month=month_text, months=month))
shown = pd.DataFrame(
    {
        t("col_kind"): projection["kind"].map(kind_label),
        t("col_budget"): thousands(projection["budget"]),
        t("col_executed"): thousands(projection["executed"]),
        t("col_projected"): thousands(projection["projected"]),
        t("col_projected_rate"): projection["rate"] * 100,
    }
)
st.dataframe(
    shown,
    hide_index=True,
    placeholder="—",
    column_config={
        **{t(c): money_column(t(c)) for c in ("col_budget", "col_executed", "col_projected")},
        t("col_projected_rate"): rate_column(t("col_projected_rate")),
    },
    key="budget_projection",
)
downloads(shown.assign(**{t("col_months"): month}), "budget_projection", "dl_projection")

# -- the table ------------------------------------------------------------------------------------

st.subheader(t("table_head"))
st.caption(f"{t('unit')} {t('rate_help')}")
shown = pd.DataFrame(
    {
        t("col_program"): table["program"].where(table["row"] != "total", t("total")),
        t("col_kind"): [
            kind_label(k, row) for k, row in zip(table["kind"], table["row"], strict=True)
        ],
        t("col_budget"): thousands(table["budget"]),
        t("col_allotted"): thousands(table["allotted"]),
        t("col_executed"): thousands(table["executed"]),
        t("col_rate"): table["rate"] * 100,
    }
)
st.dataframe(
    shown,
    hide_index=True,
    height="content",
    placeholder="—",
    column_config={
        **{t(c): money_column(t(c)) for c in ("col_budget", "col_allotted", "col_executed")},
        t("col_rate"): rate_column(t("col_rate")),
    },
    key="budget_table",
)
downloads(shown, f"budget_{f.year}_{month:02d}", "dl_table")

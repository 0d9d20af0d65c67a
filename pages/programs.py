"""工作計畫 — one work program: its indicators, its budget by 經資門, its plan items and actions."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from kpi import charts
from kpi.catalog import LIGHT_SYMBOLS
from kpi.charts import EXECUTION_LINE
from kpi.i18n import fmt_category, fmt_month, fmt_percent, fmt_thousands, fmt_value
from pages.common import (
    as_reported,
    close_caption,
    current_filters,
    downloads,
    engine,
    md_escape,
    status,
    translator,
    version,
    view,
)

PAGE_STRINGS: dict[str, tuple[str, str]] = {
    "go_upload": ("前往資料上傳", "Go to Upload"),
    "title": ("工作計畫", "Work programs"),
    "pick_program": ("選擇工作計畫", "Choose a work program"),
    "no_programs": ("{year}施政計畫沒有工作計畫。", "The {year} plan has no work programs."),
    "indicators": ("衡量指標（{period}，年度累計）", "Indicators ({period}, year to date)"),
    "no_indicators": (
        "此工作計畫沒有相關的衡量指標。",
        "No indicator is linked to this work program.",
    ),
    "no_data_year": (
        "{year}尚無任何執行資料。請至「資料上傳」上傳資料；以下先列出計畫內容。",
        "There is no data for {year} yet. Upload data on the Upload page; the plan's content is listed below.",
    ),
    "budget_note": (
        "預算執行率指標（K7）只計入本工作計畫的預算列。",
        "The budget execution indicators (K7) count this program's budget rows only.",
    ),
    "budget": ("預算執行（{month}）", "Budget execution ({month})"),
    "as_of": ("截至{month}底", "as of the end of {month}"),
    "no_budget": (
        "{period}尚無預算執行資料。",
        "There is no budget execution data for {period} yet.",
    ),
    "no_budget_program": (
        "此工作計畫在{month}沒有預算執行資料。",
        "This program has no budget execution data for {month}.",
    ),
    "unit_note": (
        "單位：新臺幣千元。執行數＝實支數＋應付未付數；執行率＝執行數÷分配數；以 90% 為執行標準。",
        "Amounts in NT$ thousands. Executed = spent + payable; execution rate = executed ÷ allotted; the benchmark is 90%.",
    ),
    "budget_amount": ("年度預算數（千元）", "Annual budget (NT$ thousand)"),
    "allotted": ("累計分配數（千元）", "Allotted to date (NT$ thousand)"),
    "executed": ("累計執行數（千元）", "Executed to date (NT$ thousand)"),
    "rate": ("執行率", "Execution rate"),
    "vs_line": ("與 90% 差距", "vs 90%"),
    "vs_line_pp": ("與 90% 差距（百分點）", "vs 90% (pp)"),
    "pp": ("{x} 百分點", "{x} pp"),
    "kind": ("經資門", "Current / capital"),
    "total": ("合計", "Total"),
    "rate_title": ("經資門執行率", "Execution rate by type"),
    "line_label": ("90% 執行標準", "90% benchmark"),
    "meets": ("達標", "meets"),
    "below": ("未達", "below"),
    "items": ("重要計畫項目及實施內容", "Key plan items and their actions"),
    "n_actions": ("{n} 項實施內容", "{n} actions"),
    "category": ("（計畫類別：{category}）", "(category: {category})"),
    "code": ("代碼", "ID"),
    "name": ("衡量指標名稱", "Indicator name"),
    "unit": ("單位", "Unit"),
    "previous": ("上季累計值", "Previous quarter (YTD)"),
    "original_target": ("原目標值", "Original target"),
}

t = translator(PAGE_STRINGS)
f = current_filters()
eng = engine()
plan = eng.plan(f.year)
period = t.quarter(f.year, f.quarter)
state = st.session_state

st.title(t("title"))
names = list(plan.program_names)
if not names:
    st.info(t("no_programs", year=t.year(f.year)), icon=":material/info:")
    st.stop()


def remember_program() -> None:
    state["program"] = state["program_pick"]


# The chosen program survives page switches (session state) and reloads (?program=…); the
# sidebar's program filter, when set, narrows the choice (its first program by default).
choices = [n for n in names if n in f.programs] or names
wanted = state.get("program") or st.query_params.get("program") or ""
state["program"] = wanted if wanted in choices else choices[0]
if state.get("program_pick") != state["program"]:
    state["program_pick"] = state["program"]

st.selectbox(t("pick_program"), choices, key="program_pick", on_change=remember_program)
st.query_params["program"] = state["program"]
program = plan.program(state["program"])
st.subheader(md_escape(program.name))
st.caption(period)
# The close's figures are the whole agency's: a program's view only says the quarter is closed.
close_caption(t, as_reported(version(), f.year, f.quarter, (program.name,)), (program.name,))

has_data = bool(view("data_months", f.year))
if not has_data:
    st.info(t("no_data_year", year=t.year(f.year)), icon=":material/info:")
    st.page_link("pages/upload.py", label=t("go_upload"), icon=":material/upload_file:")

# -- indicators linked to the program, at the quarter ------------------------------------------

if has_data:
    st.markdown(f"##### {t('indicators', period=period)}")
    linked = {ind.id: ind for ind in eng.catalog.for_programs((program.name,))}
    figs = [k for k in status(version(), f.year, f.quarter, (program.name,)).kpis if k.id in linked]
    if not figs:
        st.caption(t("no_indicators"))
    else:
        shown, raw = [], []
        for k in figs:
            ind = linked[k.id]
            name = t.pick(k.name_zh, k.name_en)
            unit = t.pick(ind.unit_zh, ind.unit_en)
            shown.append(
                {
                    t("code"): k.id,
                    t("indicator"): name,
                    t("goal"): k.goal,
                    t("actual"): fmt_value(k.actual, ind.format),
                    t("target"): fmt_value(k.target, ind.format),
                    **(
                        {t("original_target"): fmt_value(k.original_target, ind.format)}
                        if any(x.original_target is not None for x in figs)
                        else {}
                    ),
                    t("achievement"): fmt_percent(k.achievement),
                    t("light"): f"{LIGHT_SYMBOLS[k.light]} {t.light(k.light)}",
                    t("previous"): fmt_value(k.previous, ind.format),
                }
            )
            raw.append(
                {
                    t("code"): k.id,
                    t("name"): name,
                    t("goal"): k.goal,
                    t("unit"): unit,
                    t("actual"): k.actual,
                    t("target"): k.target,
                    t("original_target"): k.original_target,
                    t("achievement"): k.achievement,
                    t("light"): t.light(k.light),
                    t("previous"): k.previous,
                    t("note"): k.note or "",
                }
            )
        st.table(pd.DataFrame(shown), hide_index=True, border="horizontal")
        if any(ind.all_programs for ind in linked.values()):
            st.caption(t("budget_note"))
        downloads(
            pd.DataFrame(raw),
            f"indicators_{program.name}_{f.year}Q{f.quarter}",
            "program_indicators",
        )

# -- budget by 經資門 at the quarter's report month ----------------------------------------------

month = view("report_month", f.year, f.quarter) if has_data else None
if has_data and month is None:
    st.markdown(f"##### {t('budget', month=period)}")
    st.info(t("no_budget", period=period), icon=":material/info:")
elif month is not None:
    as_of = t("as_of", month=fmt_month(f.year, month, t.lang))
    st.markdown(f"##### {t('budget', month=as_of)}")
    frame = view("budget_by_program", f.year, month, (program.name,))
    if frame.empty:
        st.info(t("no_budget_program", month=as_of), icon=":material/info:")
    else:
        by_kind = frame.groupby("kind", as_index=False, sort=True)[
            ["budget", "allotted", "executed"]
        ].sum()
        total = by_kind[["budget", "allotted", "executed"]].sum()
        rows = [*by_kind.to_dict("records"), {"kind": None, **total.to_dict()}]
        for r in rows:
            r["rate"] = r["executed"] / r["allotted"] if r["allotted"] else None
        labels = [
            t("total") if r["kind"] is None else fmt_category(r["kind"], t.lang) for r in rows
        ]

        def gap(rate: float | None) -> str:
            """Percentage points above (+) or below (−) the 90% execution benchmark."""
            if rate is None:
                return "—"
            x = rate - EXECUTION_LINE
            return ("+" if x >= 0 else "-") + f"{abs(x) * 100:,.1f}"

        whole = rows[-1]
        cols = st.columns(4)
        cols[0].metric(t("budget_amount"), fmt_thousands(whole["budget"]))
        cols[1].metric(t("allotted"), fmt_thousands(whole["allotted"]))
        cols[2].metric(t("executed"), fmt_thousands(whole["executed"]))
        cols[3].metric(
            t("rate"),
            fmt_percent(whole["rate"]),
            None if whole["rate"] is None else t("pp", x=gap(whole["rate"])),
            delta_description=t("vs_line") if whole["rate"] is not None else None,
        )
        st.caption(t("unit_note"))
        chart, table = st.columns([1, 2])
        with chart:
            rates = pd.DataFrame(
                {"kind": labels, "rate": [r["rate"] for r in rows], "series": t("rate")}
            )
            st.plotly_chart(
                charts.rate_bars(
                    rates,
                    "kind",
                    "rate",
                    "series",
                    t("rate_title"),
                    t("rate"),
                    t("line_label"),
                ),
                key="program_budget_rates",
                theme=None,
                width="stretch",
            )
        with table:
            st.table(
                pd.DataFrame(
                    {
                        t("kind"): labels,
                        t("budget_amount"): [fmt_thousands(r["budget"]) for r in rows],
                        t("allotted"): [fmt_thousands(r["allotted"]) for r in rows],
                        t("executed"): [fmt_thousands(r["executed"]) for r in rows],
                        t("rate"): [fmt_percent(r["rate"]) for r in rows],
                        t("vs_line_pp"): [gap(r["rate"]) for r in rows],
                    }
                ),
                hide_index=True,
                border="horizontal",
            )
        downloads(
            pd.DataFrame(
                {
                    t("kind"): labels,
                    t("budget_amount"): [round(r["budget"] / 1000) for r in rows],
                    t("allotted"): [round(r["allotted"] / 1000) for r in rows],
                    t("executed"): [round(r["executed"] / 1000) for r in rows],
                    t("rate"): [r["rate"] for r in rows],
                }
            ),
            f"budget_{program.name}_{f.year}_{month:02d}",
            "program_budget",
        )

# -- the plan's items and actions, as written ----------------------------------------------------

st.markdown(f"##### {t('items')}")
for i, item in enumerate(program.items):
    category = t("category", category=md_escape(item.category))
    label = f"{md_escape(item.name)}　{category}　{t('n_actions', n=len(item.actions))}"
    with st.expander(label, expanded=i == 0):
        # The plan's own numbers are kept (a Markdown numbered list would renumber them);
        # sub-items belong to their action. Plan text may be uploaded: every character escaped.
        blocks = []
        for action in item.actions:
            number = f"**{action.number}.**　" if action.number else ""
            blocks.append(number + md_escape(action.text))
            if action.sub_items:
                blocks.append("\n".join(f"- {md_escape(sub)}" for sub in action.sub_items))
        st.markdown("\n\n".join(blocks))

"""總覽 — which goals are in trouble this quarter, and why (the red lights' commentary)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from kpi import charts, report
from kpi.catalog import LIGHT_SYMBOLS, LIGHTS, LOWER
from kpi.figures import KpiFigure
from kpi.i18n import fmt_percent, fmt_quarter_short, fmt_value
from pages.common import (
    as_reported,
    chart,
    close_caption,
    coverage_link,
    current_filters,
    downloads,
    engine,
    goal_grid,
    indicator_grid,
    md_escape,
    status,
    translator,
    version,
    view,
)

PAGE_STRINGS: dict[str, tuple[str, str]] = {
    "go_upload": ("前往資料上傳", "Go to Upload"),
    "title": ("施政績效總覽", "Performance overview"),
    "scope": ("工作計畫：{names}", "Work programs: {names}"),
    "filtered_goals": (
        "僅列出與所選工作計畫相關指標的施政目標。",
        "Only goals with indicators linked to the chosen work programs are listed.",
    ),
    "no_data_year": (
        "{year}尚無任何執行資料。請至「資料上傳」上傳預算執行、簽證、訪問交流或指標填報資料。",
        "There is no data for {year} yet. Upload budget execution, visa, visit or indicator-value workbooks on the Upload page.",
    ),
    "no_data_quarter": (
        "{period}尚無資料，燈號皆為白燈。請選擇其他季別，或上傳本季資料。",
        "There is no data for {period} yet, so every light is white. Choose another quarter or upload this quarter's data.",
    ),
    "no_indicators": (
        "所選工作計畫沒有相關的衡量指標。",
        "The chosen work programs have no linked indicators.",
    ),
    "summary": ("{n} 項衡量指標：{lights}", "{n} indicators: {lights}"),
    "goals_header": ("施政目標達成情形", "Goals at a glance"),
    "open_goal": ("開啟 ›", "Open ›"),
    "open_goal_help": (
        "開啟 {goal} 的指標趨勢與說明",
        "Open {goal}: its indicators' trends and commentary",
    ),
    "goal_bars_title": (
        "各施政目標達成度（點選長條開啟該目標）",
        "Achievement by goal (click a bar to open the goal)",
    ),
    "grid_title": ("施政目標燈號（{year}各季）", "Goal lights by quarter ({year})"),
    "grid_download": ("各季燈號及達成度：", "Lights and achievement by quarter:"),
    "red_header": ("本季紅燈指標及說明", "This quarter's red lights and their commentary"),
    "no_red": ("本季沒有紅燈指標。", "No indicator is red this quarter."),
    "no_note": ("（未填報說明）", "(no commentary reported)"),
    "red_line": (
        "累計實際值 {actual}／累計目標值 {target}（達成度 {ach}）　施政目標 {goal}",
        "Actual {actual} / target {target} (achievement {ach}) · goal {goal}",
    ),
    "risk_header": (
        "預警：預估年底未達標的指標",
        "Early warning: indicators projected to miss the annual target",
    ),
    "risk_help": (
        "依目前進度推估年底值；預估達成度低於黃燈門檻（{yellow}）即列為預警。",
        "Projected to year end from the pace so far; listed when the projected achievement is "
        "below the yellow threshold ({yellow}).",
    ),
    "no_risk": (
        "依目前進度，沒有指標預估年底未達黃燈門檻。",
        "At the pace so far, no indicator is projected below the yellow threshold.",
    ),
    "risk_line": (
        "預估年底值 {projection}／年度目標值 {annual}（預估達成度 {ach}）　{method}　施政目標 {goal}",
        "Projected {projection} / annual target {annual} (projected achievement {ach}) · {method} · goal {goal}",
    ),
    "risk_needed": (
        "其餘各季平均每季尚需 {needed}",
        "{needed} needed in each remaining quarter",
    ),
    "cards_header": ("衡量指標（{period}，年度累計）", "Indicators ({period}, year to date)"),
    "card_caption": (
        "{light}　{ach}  \n累計目標 {target}  \n年度目標 {annual}",
        "{light} {ach}  \nTarget to date {target}  \nAnnual target {annual}",
    ),
    "cards_note": (
        "箭頭為較上季累計值的變化；標示「越低越好」的指標，下降以綠色表示。百分比指標的變化以百分點計。",
        "Arrows show the change from the previous quarter's year-to-date value; for indicators marked "
        "'lower is better' a fall shows green. Changes in percentages are in percentage points.",
    ),
    "lower_better": ("（越低越好）", " (lower is better)"),
    "pp": ("{x} 百分點", "{x} pp"),
    "code": ("代碼", "ID"),
    "goal_title": ("施政目標名稱", "Goal title"),
    "name": ("衡量指標名稱", "Indicator name"),
    "unit": ("單位", "Unit"),
    "previous": ("上季累計值", "Previous quarter (YTD)"),
    "count_of": ("{light}指標數", "{light} indicators"),
    "report_header": ("季報告", "Quarterly briefing report"),
    "report_help": (
        "依目前的篩選條件（年度、季別、工作計畫、語言）產製報告：HTML 可離線開啟並以 A4 列印；"
        "Excel 及 ODS 為審查用的績效表。",
        "A report for the filters on screen (year, quarter, work programs, language): HTML opens "
        "offline and prints on A4; Excel and ODS hold the performance table reviews use.",
    ),
    "report_format": ("格式", "Format"),
    "report_prepare": ("產製報告", "Prepare the report"),
    "report_preparing": ("正在產製報告…", "Writing the report…"),
    "report_download": ("下載報告", "Download the report"),
    # Quarter close and target revisions: what was reported beside what is current.
    "revised_header": (
        "結算後數值有變動的指標（結算時 → 目前）",
        "Indicators revised since the close (as reported → current)",
    ),
    "reported_actual": ("結算時實際值", "Actual as reported"),
    "reported_target": ("結算時目標值", "Target as reported"),
    "reported_light": ("結算時燈號", "Light as reported"),
    "original_target": ("原目標值", "Original target"),
    "card_reported": (
        "結算時 {actual}／{target}　{light}",
        "As reported {actual} / {target} {light}",
    ),
    "card_original": ("原目標 {target}（已修正）", "Original target {target} (revised)"),
    "goal_reported": ("結算時 {ach}　{light}", "As reported {ach} {light}"),
}
REPORT_FORMAT_NAMES = {"html": "HTML", "xlsx": "Excel (.xlsx)", "ods": "ODS (.ods)"}

t = translator(PAGE_STRINGS)
f = current_filters()
eng = engine()
period = t.quarter(f.year, f.quarter)

st.title(t("title"))
st.caption(
    f"{period}　·　"
    + (t("scope", names="、".join(f.programs)) if f.programs else t("all_programs"))
)
reported = as_reported(version(), f.year, f.quarter, f.programs)
close_caption(t, reported, f.programs)

if not view("data_months", f.year):
    st.info(t("no_data_year", year=t.year(f.year)), icon=":material/info:")
    st.page_link("pages/upload.py", label=t("go_upload"), icon=":material/upload_file:")
    st.stop()

now = status(version(), f.year, f.quarter, f.programs)
if not now.kpis:
    st.info(t("no_indicators"), icon=":material/info:")
    st.stop()
if all(k.light == "white" for k in now.kpis):
    st.info(t("no_data_quarter", period=period), icon=":material/info:")

indicators = {ind.id: ind for ind in eng.catalog.indicators}
# The annual target is the fourth quarter's cumulative one, as revised for the year.
annual = {k.id: k.target for k in indicator_grid(version(), f.year, f.programs) if k.quarter == 4}
# Under a program filter, goals with none of the chosen programs' indicators say nothing.
goals = [g for g in now.goals if sum(g.lights.values())]
goal_ids = [g.id for g in goals]


RISK_SYMBOL = "⚠️"


def light_label(name: str) -> str:
    return f"{LIGHT_SYMBOLS[name]} {t.light(name)}"


def short_label(goal_id: str, title: str, width: int = 10) -> str:
    """A chart's label for a goal: its id and the start of its title (the list above has it whole)."""
    return f"{goal_id} {title if len(title) <= width else title[: width - 1] + '…'}"


def open_goal(goal_id: str) -> None:
    st.session_state["goal"] = goal_id
    # st.switch_page clears the URL, and the sidebar falls back to the URL when its widget state
    # does not survive the switch: carry the filters over so year and quarter stay as chosen.
    st.switch_page("pages/goals.py", query_params={**st.query_params.to_dict(), "goal": goal_id})


def clicked_goal(event) -> str | None:
    """The goal a click on the achievement bars picked, if any."""
    points = (event or {}).get("selection", {}).get("points", [])
    for point in points:
        data = point.get("customdata")
        data = data[0] if isinstance(data, list) and data else data
        if data in goal_ids:
            return data
        index = point.get("point_index", point.get("point_number"))
        if isinstance(index, int) and 0 <= index < len(goal_ids):
            return goal_ids[index]
    return None


def signed(x: float, fmt: str) -> str:
    text = t("pp", x=f"{abs(x) * 100:,.1f}") if fmt == "percent" else fmt_value(abs(x), fmt)
    return ("+" if x > 0 else "-") + text


def delta(k: KpiFigure, fmt: str) -> str | int | None:
    """Change from the previous quarter's year-to-date value (percent in percentage points)."""
    if k.change is None:
        return None
    return 0 if k.change == 0 else signed(k.change, fmt)


def indicator_frame(figs: list[KpiFigure] | tuple[KpiFigure, ...]) -> pd.DataFrame:
    """The indicators as a download: numbers as numbers, names and lights in the interface language."""
    rows = []
    for k in figs:
        ind = indicators[k.id]
        rows.append(
            {
                t("code"): k.id,
                t("name"): t.pick(k.name_zh, k.name_en),
                t("goal"): k.goal,
                t("unit"): t.pick(ind.unit_zh, ind.unit_en),
                t("actual"): k.actual,
                t("target"): k.target,
                t("achievement"): k.achievement,
                t("light"): t.light(k.light),
                t("previous"): k.previous,
                t("change"): k.change,
                t("annual_target"): k.annual_target,
                t("projection"): k.projection,
                t("projected_achievement"): k.projected_achievement,
                t("projected_light"): t.light(k.projected_light or "white"),
                t("needed_per_quarter"): k.needed_per_quarter,
                t("projection_method"): (
                    t(f"method_{k.projection_method}") if k.projection_method else ""
                ),
                t("note"): k.note or "",
                t("original_target"): k.original_target,
                **reported_columns(k.id),
            }
        )
    return pd.DataFrame(rows)


def reported_columns(kpi_id: str) -> dict[str, object]:
    """As reported at the quarter's close (only where it differs from the current figures)."""
    if reported.close is None or f.programs:
        return {}
    was = reported.kpi(kpi_id)
    return {
        t("reported_actual"): was.actual if was else None,
        t("reported_target"): was.target if was else None,
        t("reported_light"): t.light(was.light) if was else "",
    }


def revised_frame() -> pd.DataFrame:
    """The indicators whose figures moved since the close: as reported beside current."""
    rows = []
    for k in now.kpis:
        was = reported.kpi(k.id)
        if was is None:
            continue
        fmt = indicators[k.id].format
        rows.append(
            {
                t("code"): k.id,
                t("name"): t.pick(k.name_zh, k.name_en),
                t("reported_actual"): fmt_value(was.actual, fmt),
                t("actual"): fmt_value(k.actual, fmt),
                t("reported_target"): fmt_value(was.target, fmt),
                t("target"): fmt_value(k.target, fmt),
                t("reported_light"): light_label(was.light),
                t("light"): light_label(k.light),
            }
        )
    return pd.DataFrame(rows)


# -- goals: light, achievement, indicators by light; a click opens the goal ----------------------

counts = {name: sum(1 for k in now.kpis if k.light == name) for name in LIGHTS}
st.markdown(
    t(
        "summary",
        n=len(now.kpis),
        lights="　".join(f"{light_label(n)} **{counts[n]}**" for n in LIGHTS),
    )
)
if counts["white"]:
    coverage_link(t)

if reported.kpis:
    with st.container(border=True):
        st.markdown(f"**:material/history: {t('revised_header')}**")
        # Names are catalogue text shown in a table cell: never interpreted as markup.
        st.dataframe(revised_frame(), hide_index=True, key="overview_revised")

st.subheader(t("goals_header"))
if f.programs:
    st.caption(t("filtered_goals"))
with st.container(border=True):
    for g in goals:
        # One text and a button per goal: a row of four columns was nine elements for the
        # browser to lay out, and the overview's goal list is most of its elements.
        text, button = st.columns([12.2, 1.4], vertical_alignment="center")
        tally = "　".join(f"{LIGHT_SYMBOLS[n]} {g.lights[n]}" for n in LIGHTS if g.lights.get(n))
        was = reported.goal(g.id)
        line = (
            f"{LIGHT_SYMBOLS[g.light]} **{g.id}**　{md_escape(g.title)}"
            f"　·　**{fmt_percent(g.achievement)}**　{t.light(g.light)}　·　{tally}"
        )
        text.markdown(line)
        if was is not None:
            text.caption(
                t("goal_reported", ach=fmt_percent(was.achievement), light=light_label(was.light))
            )
        if button.button(
            t("open_goal"),
            key=f"open_{g.id}",
            help=t("open_goal_help", goal=g.id),
            width="stretch",
        ):
            open_goal(g.id)

goal_frame = pd.DataFrame(
    [
        {
            t("code"): g.id,
            t("goal_title"): g.title,
            t("achievement"): g.achievement,
            t("light"): t.light(g.light),
            **{t("count_of", light=t.light(n)): g.lights.get(n, 0) for n in LIGHTS},
        }
        for g in goals
    ]
)
downloads(goal_frame, f"goals_{f.year}Q{f.quarter}", "overview_goals")

left, right = st.columns(2)
with left:
    event = chart(
        "overview_goal_bars",
        lambda: charts.achievement_bars(
            [short_label(g.id, g.title) for g in goals],
            [g.achievement for g in goals],
            [g.light for g in goals],
            goal_ids,
            t("goal_bars_title"),
            t("achievement"),
        ),
        on_select="rerun",
        selection_mode="points",
        theme=None,
        width="stretch",
    )
    picked = clicked_goal(event)
    if picked:
        open_goal(picked)
with right:
    grid = goal_grid(version(), f.year, f.programs)
    grid = grid[grid["goal"].isin(goal_ids)]
    chart(
        "overview_light_grid",
        lambda: charts.light_grid(
            grid.rename(columns={"goal": "row", "quarter": "col"}),
            {g.id: short_label(g.id, g.title) for g in goals},
            {q: fmt_quarter_short(q, t.lang) for q in (1, 2, 3, 4)},
            {n: t.light(n) for n in LIGHTS},
            t("grid_title", year=t.year(f.year)),
        ),
        theme=None,
        width="stretch",
    )
grid_frame = pd.DataFrame(
    {
        t("code"): grid["goal"],
        t("goal_title"): grid["title"],
        t("quarter"): [fmt_quarter_short(q, t.lang) for q in grid["quarter"]],
        t("achievement"): grid["achievement"],
        t("light"): [t.light(n) for n in grid["light"]],
    }
)
st.caption(t("grid_download"))
downloads(grid_frame, f"goal_lights_{f.year}", "overview_grid")

# -- the red lights and why, and the early warning beside them ----------------------------------------

reds = [k for k in now.kpis if k.light == "red"]
at_risk = [k for k in now.kpis if k.at_risk]
red_col, risk_col = st.columns(2)
with red_col:
    st.subheader(t("red_header"))
    if not reds:
        st.success(t("no_red"), icon=":material/check_circle:")
    for k in reds:
        fmt = indicators[k.id].format
        with st.container(border=True):
            st.markdown(f"{LIGHT_SYMBOLS['red']} **{k.id}　{t.pick(k.name_zh, k.name_en)}**")
            st.caption(
                t(
                    "red_line",
                    actual=fmt_value(k.actual, fmt),
                    target=fmt_value(k.target, fmt),
                    ach=fmt_percent(k.achievement),
                    goal=k.goal,
                )
            )
            # Commentary is uploaded text: shown as text, never as Markdown or HTML.
            st.text(k.note or t("no_note"))
    if reds:
        downloads(indicator_frame(reds), f"red_lights_{f.year}Q{f.quarter}", "overview_red")
with risk_col:
    st.subheader(t("risk_header"))
    st.caption(t("risk_help", yellow=fmt_percent(eng.catalog.thresholds.yellow, 0)))
    if not at_risk:
        st.success(t("no_risk"), icon=":material/check_circle:")
    for k in at_risk:
        fmt = indicators[k.id].format
        with st.container(border=True):
            st.markdown(f"{RISK_SYMBOL} **{k.id}　{t.pick(k.name_zh, k.name_en)}**")
            line = t(
                "risk_line",
                projection=fmt_value(k.projection, fmt),
                annual=fmt_value(k.annual_target, fmt),
                ach=fmt_percent(k.projected_achievement),
                method=t(f"method_{k.projection_method}"),
                goal=k.goal,
            )
            if k.needed_per_quarter is not None:
                line += "  \n" + t("risk_needed", needed=fmt_value(k.needed_per_quarter, fmt))
            st.caption(line)
            # Commentary is uploaded text: shown as text, never as Markdown or HTML.
            st.text(k.note or t("no_note"))
    if at_risk:
        downloads(indicator_frame(at_risk), f"at_risk_{f.year}Q{f.quarter}", "overview_risk")

# -- indicator cards -------------------------------------------------------------------------------

st.subheader(t("cards_header", period=period))
st.caption(t("cards_note"))
if counts["white"]:
    coverage_link(t)
PER_ROW = 5
for start in range(0, len(now.kpis), PER_ROW):
    for col, k in zip(st.columns(PER_ROW), now.kpis[start : start + PER_ROW], strict=False):
        ind = indicators[k.id]
        fmt = ind.format
        unit = "" if fmt == "percent" else f" {t.pick(ind.unit_zh, ind.unit_en)}"
        with col.container(border=True, height="stretch"):
            lower = t("lower_better") if ind.direction == LOWER else ""
            st.markdown(f"**{k.id}**　{t.pick(k.name_zh, k.name_en)}{lower}")
            st.metric(
                t.pick(k.name_zh, k.name_en),
                fmt_value(k.actual, fmt),
                delta(k, fmt),
                delta_color="inverse" if ind.direction == LOWER else "normal",
                label_visibility="collapsed",
            )
            st.caption(
                t(
                    "card_caption",
                    target=fmt_value(k.target, fmt) + unit,
                    ach=fmt_percent(k.achievement),
                    light=light_label(k.light),
                    annual=fmt_value(annual.get(k.id), fmt) + unit,
                )
            )
            if k.original_target is not None:
                st.caption(t("card_original", target=fmt_value(k.original_target, fmt) + unit))
            was = reported.kpi(k.id)
            if was is not None:
                st.caption(
                    t(
                        "card_reported",
                        actual=fmt_value(was.actual, fmt),
                        target=fmt_value(was.target, fmt),
                        light=light_label(was.light),
                    )
                )
downloads(indicator_frame(now.kpis), f"indicators_{f.year}Q{f.quarter}", "overview_indicators")

# -- the briefing report (季報告) for the filters on screen ----------------------------------------

st.subheader(t("report_header"))
st.caption(t("report_help"))
fmt = st.radio(
    t("report_format"),
    report.FORMATS,
    key="report_format",
    horizontal=True,
    format_func=REPORT_FORMAT_NAMES.get,
)
# Written only on request (the HTML carries Plotly's 4 MB script) and kept in the session
# until the data, the filters or the format change.
token = (version(), f.year, f.quarter, f.programs, f.lang, fmt)
held = st.session_state.get("_report_file")
if held is None or held[0] != token:
    held = None
    if st.button(t("report_prepare"), key="report_prepare", icon=":material/description:"):
        with st.spinner(t("report_preparing")):
            try:
                briefing = report.build_report(eng, f.year, f.quarter, f.programs, f.lang)
            except report.ReportError as err:
                st.error(err.message(f.lang))
            else:
                held = (token, report.file_name(briefing, fmt), report.render(briefing, fmt))
                st.session_state["_report_file"] = held
if held is not None:
    st.download_button(
        t("report_download"),
        held[2],
        file_name=held[1],
        mime=report.MIME[fmt],
        key="report_download",
        icon=":material/download:",
        on_click="ignore",  # a download needs no rerun of the page
    )

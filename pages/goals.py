"""施政目標 — one goal: its strategies, its indicators' year-to-date trend, the commentary."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from kpi import charts
from kpi.catalog import LIGHT_SYMBOLS, LIGHTS, LOWER
from kpi.figures import QUARTERS, KpiFigure
from kpi.i18n import fmt_percent, fmt_quarter_short, fmt_value
from pages.common import (
    as_reported,
    close_caption,
    coverage_link,
    current_filters,
    downloads,
    engine,
    goal_grid,
    indicator_grid,
    md_escape,
    translator,
    version,
    view,
)

PAGE_STRINGS: dict[str, tuple[str, str]] = {
    "go_upload": ("前往資料上傳", "Go to Upload"),
    "title": ("施政目標", "Goals"),
    "scope": ("工作計畫：{names}", "Work programs: {names}"),
    "pick_goal": ("選擇施政目標", "Choose a goal"),
    "strategies": ("策略", "Strategies"),
    "no_strategies": ("此施政目標未列策略。", "The plan lists no strategies for this goal."),
    "no_data_year": (
        "{year}尚無任何執行資料，因此還沒有指標趨勢。請至「資料上傳」上傳資料。",
        "There is no data for {year} yet, so there are no indicator trends. Upload data on the Upload page.",
    ),
    "no_indicators": ("此施政目標沒有衡量指標。", "This goal has no indicators."),
    "no_indicators_filtered": (
        "此施政目標沒有與所選工作計畫相關的衡量指標。",
        "This goal has no indicators linked to the chosen work programs.",
    ),
    "indicators": ("衡量指標年度累計趨勢", "Indicators: year to date against cumulative targets"),
    "n_indicators": ("衡量指標數", "Indicators"),
    "goal_light": ("{period}燈號", "Light, {period}"),
    "goal_achievement": ("{period}達成度", "Achievement, {period}"),
    "pp": ("{x} 百分點", "{x} pp"),
    "chart_title": ("年度累計實際值與累計目標值", "Year to date against cumulative targets"),
    "lower_better": ("數值越低越好", "lower is better"),
    "higher_better": ("數值越高越好", "higher is better"),
    "commentary": ("各季說明", "Commentary by quarter"),
    "projection_line": (
        "{period}預估年底值 {value}（預估達成度 {ach}，{light}；{method}）",
        "Year-end projection at {period}: {value} (projected achievement {ach}, {light}; {method})",
    ),
    "needed_line": (
        "要達成年度目標 {annual}，其餘各季平均每季尚需 {needed}。",
        "To reach the annual target of {annual}, {needed} is needed in each remaining quarter.",
    ),
    "at_risk": (
        "預警：預估年底未達黃燈門檻",
        "Early warning: projected below the yellow threshold",
    ),
    "no_commentary": ("尚無填報說明。", "No commentary reported yet."),
    "code": ("代碼", "ID"),
    "name": ("衡量指標名稱", "Indicator name"),
    "unit": ("單位", "Unit"),
    "original_target": ("原目標值", "Original target"),
    "reported_actual": ("結算時實際值", "Actual as reported"),
    "reported_target": ("結算時目標值", "Target as reported"),
    "reported_light": ("結算時燈號", "Light as reported"),
    "goal_reported": (
        "結算時：達成度 {ach}　{light}",
        "As reported at the close: achievement {ach} {light}",
    ),
}

t = translator(PAGE_STRINGS)
f = current_filters()
eng = engine()
plan = eng.plan(f.year)
period = t.quarter(f.year, f.quarter)
state = st.session_state


def remember_goal() -> None:
    state["goal"] = state["goal_pick"]


# The chosen goal survives page switches in session state ("goal", which the overview sets)
# and reloads or shared links in the URL (?goal=G3).
ids = [g.id for g in plan.goals]
wanted = str(state.get("goal") or st.query_params.get("goal") or "").upper()
state["goal"] = wanted if wanted in ids else ids[0]
if state.get("goal_pick") != state["goal"]:
    state["goal_pick"] = state["goal"]

st.title(t("title"))
st.caption(
    f"{period}　·　"
    + (t("scope", names="、".join(f.programs)) if f.programs else t("all_programs"))
)
titles = {g.id: f"{g.id}　{g.title}" for g in plan.goals}
# Each quarter's newest close: where figures moved since, they are shown beside the current ones.
reported = {q: as_reported(version(), f.year, q, f.programs) for q in QUARTERS}
close_caption(t, reported[f.quarter], f.programs)
st.selectbox(t("pick_goal"), ids, key="goal_pick", format_func=titles.get, on_change=remember_goal)
st.query_params["goal"] = state["goal"]
goal = plan.goal(state["goal"])

grid = goal_grid(version(), f.year, f.programs)
mine = grid[grid["goal"] == goal.id].set_index("quarter") if len(grid) else pd.DataFrame()
now = mine.loc[f.quarter] if f.quarter in mine.index else None
light = now["light"] if now is not None else "white"

st.subheader(f"{LIGHT_SYMBOLS[light]} {goal.id}　{md_escape(goal.title)}")

figs = [k for k in indicator_grid(version(), f.year, f.programs) if k.goal == goal.id]
ach = None if now is None or pd.isna(now["achievement"]) else float(now["achievement"])
before = mine.loc[f.quarter - 1, "achievement"] if f.quarter - 1 in mine.index else None
change = None if ach is None or before is None or pd.isna(before) else ach - float(before)
a, b, c = st.columns(3)
a.metric(
    t("goal_achievement", period=period),
    fmt_percent(ach),
    None
    if change is None
    else ("+" if change >= 0 else "-") + t("pp", x=f"{abs(change) * 100:,.1f}"),
    delta_description=t("change") if change is not None else None,
)
b.metric(t("goal_light", period=period), f"{LIGHT_SYMBOLS[light]} {t.light(light)}")
was = reported[f.quarter].goal(goal.id)
if was is not None:
    a.caption(
        t(
            "goal_reported",
            ach=fmt_percent(was.achievement),
            light=f"{LIGHT_SYMBOLS[was.light]} {t.light(was.light)}",
        )
    )
quarter_figs = [k for k in figs if k.quarter == f.quarter]
tally = {n: sum(1 for k in quarter_figs if k.light == n) for n in LIGHTS}
c.metric(
    t("n_indicators"),
    len(quarter_figs),
    "　".join(f"{LIGHT_SYMBOLS[n]} {tally[n]}" for n in LIGHTS if tally[n]) or None,
    delta_color="off",
    delta_arrow="off",
)
if tally["white"]:
    coverage_link(t)

st.markdown(f"##### {t('strategies')}")
if goal.strategies:
    # Plan text may come from an uploaded plan: every Markdown character is escaped.
    st.markdown("\n".join(f"- **{s.id}**　{md_escape(s.title)}" for s in goal.strategies))
else:
    st.caption(t("no_strategies"))

st.markdown(f"##### {t('indicators')}")
if not view("data_months", f.year):
    st.info(t("no_data_year", year=t.year(f.year)), icon=":material/info:")
    st.page_link("pages/upload.py", label=t("go_upload"), icon=":material/upload_file:")
    st.stop()
if not figs:
    st.info(t("no_indicators_filtered" if f.programs else "no_indicators"), icon=":material/info:")
    st.stop()

quarter_names = [fmt_quarter_short(q, t.lang) for q in QUARTERS]
indicators = {ind.id: ind for ind in eng.catalog.indicators}
HOVER = {"percent": ",.1f", "count": ",.0f", "number": ",.2f"}


def table(rows: list[KpiFigure], fmt: str) -> pd.DataFrame:
    """The indicator's four quarters as shown: formatted for the interface language, with the
    original target beside a revised one and the figures as reported at a close beside
    current ones that moved since (columns only where there is something to show)."""
    frame = pd.DataFrame(
        {
            t("quarter"): quarter_names,
            t("actual"): [fmt_value(k.actual, fmt) for k in rows],
            t("target"): [fmt_value(k.target, fmt) for k in rows],
            t("achievement"): [fmt_percent(k.achievement) for k in rows],
            t("light"): [f"{LIGHT_SYMBOLS[k.light]} {t.light(k.light)}" for k in rows],
        }
    )
    if any(k.original_target is not None for k in rows):
        frame.insert(
            3,
            t("original_target"),
            [
                fmt_value(k.original_target, fmt) if k.original_target is not None else ""
                for k in rows
            ],
        )
    was = [reported[k.quarter].kpi(k.id) for k in rows]
    if any(w is not None for w in was):
        frame[t("reported_actual")] = [fmt_value(w.actual, fmt) if w else "" for w in was]
        frame[t("reported_target")] = [fmt_value(w.target, fmt) if w else "" for w in was]
        frame[t("reported_light")] = [
            f"{LIGHT_SYMBOLS[w.light]} {t.light(w.light)}" if w else "" for w in was
        ]
    return frame


def _reported(k: KpiFigure, field: str) -> float | None:
    was = reported[k.quarter].kpi(k.id)
    return getattr(was, field) if was is not None else None


def download_frame(rows: list[KpiFigure], unit: str) -> pd.DataFrame:
    """The chart's and the table's data: numbers as numbers, with the commentary."""
    return pd.DataFrame(
        {
            t("code"): [k.id for k in rows],
            t("name"): [t.pick(k.name_zh, k.name_en) for k in rows],
            t("unit"): unit,
            t("quarter"): quarter_names,
            t("actual"): [k.actual for k in rows],
            t("target"): [k.target for k in rows],
            t("original_target"): [k.original_target for k in rows],
            t("achievement"): [k.achievement for k in rows],
            t("light"): [t.light(k.light) for k in rows],
            t("annual_target"): [k.annual_target for k in rows],
            t("projection"): [k.projection for k in rows],
            t("projected_achievement"): [k.projected_achievement for k in rows],
            t("projected_light"): [t.light(k.projected_light or "white") for k in rows],
            t("needed_per_quarter"): [k.needed_per_quarter for k in rows],
            t("projection_method"): [
                t(f"method_{k.projection_method}") if k.projection_method else "" for k in rows
            ],
            t("reported_actual"): [_reported(k, "actual") for k in rows],
            t("reported_target"): [_reported(k, "target") for k in rows],
            t("note"): [k.note or "" for k in rows],
        }
    )


def projection_caption(k: KpiFigure, fmt: str) -> str:
    """The quarter's year-end projection and, for amounts, what each remaining quarter needs."""
    text = t(
        "projection_line",
        period=fmt_quarter_short(k.quarter, t.lang),
        value=fmt_value(k.projection, fmt),
        ach=fmt_percent(k.projected_achievement),
        light=f"{LIGHT_SYMBOLS[k.projected_light or 'white']} {t.light(k.projected_light or 'white')}",
        method=t(f"method_{k.projection_method}"),
    )
    if k.needed_per_quarter is not None:
        needed = fmt_value(k.needed_per_quarter, fmt)
        text += "  \n" + t("needed_line", annual=fmt_value(k.annual_target, fmt), needed=needed)
    return text


for ind_id in dict.fromkeys(k.id for k in figs):
    ind = indicators[ind_id]
    rows = sorted((k for k in figs if k.id == ind_id), key=lambda k: k.quarter)
    current = next(k for k in rows if k.quarter == f.quarter)
    unit = t.pick(ind.unit_zh, ind.unit_en)
    percent = ind.format == "percent"
    direction = t("lower_better") if ind.direction == LOWER else t("higher_better")
    with st.container(border=True):
        st.markdown(
            f"**{ind.id}　{t.pick(ind.name_zh, ind.name_en)}**　"
            f"{LIGHT_SYMBOLS[current.light]} {t.light(current.light)}　·　{unit}　·　{direction}"
        )
        chart, side = st.columns([11, 9])
        with chart:
            ahead = current.projection is not None and current.quarter < QUARTERS[-1]
            fig = charts.ytd_lines(
                quarter_names,
                [k.actual for k in rows],
                [k.target for k in rows],
                (t("actual"), t("target")),
                t("chart_title"),
                percent=percent,
                projection=(current.quarter - 1, current.projection) if ahead else None,
                projection_name=t("projection"),
            )
            suffix = "%" if percent else ""
            fig.update_traces(
                hovertemplate=f"%{{x}}: %{{y:{HOVER[ind.format]}}}{suffix}<extra>%{{fullData.name}}</extra>"
            )
            fig.update_xaxes(title=t("quarter"))
            fig.update_yaxes(title=unit, rangemode="tozero")
            st.plotly_chart(fig, key=f"goal_ytd_{ind.id}", theme=None, width="stretch")
            if current.projection is not None:
                if current.at_risk:
                    st.warning(t("at_risk"), icon=":material/warning:")
                st.caption(projection_caption(current, ind.format))
        with side:
            st.table(table(rows, ind.format), hide_index=True, border="horizontal")
            st.markdown(f"**{t('commentary')}**")
            notes = [k for k in rows if k.note]
            for k in notes:
                st.caption(fmt_quarter_short(k.quarter, t.lang))
                # Commentary is uploaded text: shown as text, never as Markdown or HTML.
                st.text(k.note)
            if not notes:
                st.caption(t("no_commentary"))
        downloads(download_frame(rows, unit), f"{ind.id}_{f.year}", f"goal_{ind.id}")

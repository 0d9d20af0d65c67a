"""計畫與指標 Plan & indicators — the plan tree, the indicator catalogue and its targets,
target revisions (administrators), and loading another year's plan text.

Plan text is shown as written and always as text (st.text, or st.markdown with md_escape).
Targets are cumulative year to date, like the values they are compared with.
"""

from __future__ import annotations

import dataclasses
import logging

import pandas as pd
import streamlit as st

from kpi import figures
from kpi.auth import Role
from kpi.i18n import fmt_datetime, fmt_value
from kpi.ingest.datasets import DATASETS
from kpi.plan import Plan, PlanError, parse_plan
from kpi.store import StoreError
from pages.common import acting_engine, current_filters, downloads, may, md_escape, translator

PAGE_STRINGS: dict[str, tuple[str, str]] = {
    "admin_only_targets": (
        "只有管理者能修正目標值；修正紀錄如下。",
        "Only administrators revise targets; the revisions so far are below.",
    ),
    "admin_only_plans": ("只有管理者能載入施政計畫。", "Only administrators load plans."),
    "title": ("{year}度施政計畫　{agency}", "{year} administrative plan — {agency}"),
    "other_year": (
        "{year}尚未載入施政計畫，以下顯示{shown}的計畫。可在「載入施政計畫」分頁上傳。",
        "No plan is loaded for {year}; the {shown} plan is shown. Load one on the “Load a plan” tab.",
    ),
    "goals": ("施政目標", "Goals"),
    "strategies": ("策略", "Strategies"),
    "programs_n": ("工作計畫", "Work programs"),
    "items": ("重要計畫項目", "Key plan items"),
    "actions": ("實施內容", "Actions"),
    "tab_tree": ("計畫架構", "Plan"),
    "tab_catalog": ("衡量指標與目標值", "Indicators and targets"),
    "tab_targets": ("修訂目標值", "Revise targets"),
    "tab_load": ("載入施政計畫", "Load a plan"),
    "vision": ("施政願景", "Vision"),
    "goals_title": ("年度施政目標及策略", "Annual goals and strategies"),
    "programs_title": ("年度重要計畫", "Key plans of the year"),
    "category": ("計畫類別", "Category"),
    "download_goals": ("施政目標及策略（表格）", "Goals and strategies (as a table)"),
    "download_programs": (
        "年度重要計畫：工作計畫、重要計畫項目與實施內容（表格）",
        "Key plans: programs, items and actions (as a table)",
    ),
    "col_id": ("代碼", "ID"),
    "col_goal": ("目標", "Goal"),
    "col_goal_title": ("施政目標", "Goal"),
    "col_strategy": ("策略", "Strategy"),
    "col_program": ("工作計畫", "Work program"),
    "col_item": ("重要計畫項目", "Key plan item"),
    "col_category": ("計畫類別", "Category"),
    "col_action_no": ("項次", "No."),
    "col_action": ("實施內容", "Action"),
    "col_sub_items": ("細項", "Sub-items"),
    "col_indicator": ("指標", "Indicator"),
    "col_dataset": ("資料來源", "Source dataset"),
    "col_unit": ("單位", "Unit"),
    "col_direction": ("方向", "Better when"),
    "col_weight": ("權重", "Weight"),
    "col_quarter": ("季別", "Quarter"),
    "col_revised": ("已修訂", "Revised"),
    "col_q_target": ("第{q}季目標", "Q{q} target"),
    "col_q_catalog": ("第{q}季原訂", "Q{q} catalogue"),
    "col_when": ("修訂時間", "Revised at"),
    "col_who": ("修訂者", "By"),
    "col_old": ("原目標值", "Old target"),
    "col_new": ("新目標值", "New target"),
    "col_reason": ("修訂原因", "Reason"),
    "all_programs_link": ("全部工作計畫", "Every work program"),
    "higher": ("越高越好", "Higher"),
    "lower": ("越低越好", "Lower"),
    "catalog_intro": (
        "{year}各季累計目標值（年初至季末）。已修訂的季別以「新值（原訂 舊值）」顯示。",
        "Cumulative targets (year to date) for {year}. Revised quarters show “new (catalogue: old)”.",
    ),
    "revised_cell": ("{new}（原訂 {old}）", "{new} (catalogue: {old})"),
    "admin_note": (
        "修訂目標值屬管理者作業；本機單人模式下不需登入，修訂會以「local」記錄在稽核紀錄中。",
        "Revising targets is an administrator's task; in local single-user mode no login is needed and revisions are audited as 'local'.",
    ),
    "target_year": ("修訂{year}的累計目標值", "Revise the cumulative targets of {year}"),
    "target_indicator": ("指標", "Indicator"),
    "target_quarter": ("季別", "Quarter"),
    "target_current": (
        "目前目標值：{current}（指標目錄原訂：{catalog}）",
        "Current target: {current} (catalogue: {catalog})",
    ),
    "target_value": ("新目標值", "New target"),
    "target_value_pct": ("新目標值（%）", "New target (%)"),
    "target_reason": ("修訂原因（必填）", "Reason (required)"),
    "target_save": ("儲存目標值", "Save the target"),
    "target_saved": (
        "已將 {kpi} {quarter}的目標值由 {old} 改為 {new}。",
        "The {quarter} target of {kpi} changed from {old} to {new}.",
    ),
    "target_failed": ("目標值未儲存：{message}", "The target was not saved: {message}"),
    "revisions": ("目標值修訂紀錄", "Target revisions"),
    "no_revisions": ("{year}尚無目標值修訂。", "No target of {year} has been revised."),
    "load_intro": (
        "上傳施政計畫的純文字檔（.txt，UTF-8 或 Big5）。系統先解析並顯示結果，確認後才儲存。",
        "Upload a plan as plain text (.txt, UTF-8 or Big5). It is parsed and shown first; it is stored only when you confirm.",
    ),
    "load_file": ("施政計畫文字檔", "Plan text file"),
    "load_error": (
        "無法讀取這個施政計畫：{message}",
        "The plan cannot be read (the parser's message is in Chinese): {message}",
    ),
    "load_agency": ("機關名稱", "Agency"),
    "load_parsed": (
        "解析結果：{year}度施政計畫　{agency}",
        "Parsed: the {year} administrative plan — {agency}",
    ),
    "load_replaces": (
        "{year}已有施政計畫；儲存後會取代它（原計畫仍記錄於稽核紀錄）。",
        "A plan for {year} is already stored; storing replaces it (the audit log keeps a record).",
    ),
    "load_problems": (
        "指標目錄與這個計畫有不一致之處（指標仍會顯示，但連結可能失效）：",
        "The indicator catalogue does not match this plan everywhere (indicators still show, but these links may not work):",
    ),
    "load_store": ("儲存為{year}度施政計畫", "Store as the {year} plan"),
    "load_stored": (
        "已儲存{year}度施政計畫。可在側欄選擇年度。",
        "The {year} plan is stored. Choose the year in the sidebar.",
    ),
    "load_failed": ("施政計畫未儲存：{message}", "The plan was not stored: {message}"),
    "load_unexpected": (
        "儲存施政計畫時發生未預期的錯誤，已記錄。",
        "Storing the plan failed unexpectedly; this has been logged.",
    ),
    "no_catalog_target": ("—", "—"),
}

PLAN_MAX_MB = 2  # a plan is some 50 KB of text
COUNT_KEYS = ("goals", "strategies", "programs", "items", "actions")
COUNT_LABELS = {"programs": "programs_n"}
_MESSAGE = "plan_message"  # session state: (kind, text) of the last target or plan write

log = logging.getLogger("kpi.pages.plan")
t = translator(PAGE_STRINGS)
eng = acting_engine()
filters = current_filters()


def count_label(key: str) -> str:
    return t(COUNT_LABELS.get(key, key))


def show_counts(plan: Plan) -> None:
    counts = plan.counts()
    for col, key in zip(st.columns(len(COUNT_KEYS)), COUNT_KEYS, strict=True):
        col.metric(count_label(key), counts[key])


def plan_title(plan: Plan, key: str = "title") -> str:
    # Titles and alerts render Markdown; the agency comes from the plan text.
    return t(key, year=t.year(plan.year), agency=md_escape(plan.agency or ""))


# -- the plan tree --------------------------------------------------------------------------------


def goals_table(plan: Plan) -> pd.DataFrame:
    rows = [
        {t("col_id"): s.id, t("col_goal_title"): g.title, t("col_strategy"): s.title}
        for g in plan.goals
        for s in g.strategies
    ]
    return pd.DataFrame(rows, columns=[t("col_id"), t("col_goal_title"), t("col_strategy")])


def programs_table(plan: Plan) -> pd.DataFrame:
    cols = [
        t(c)
        for c in (
            "col_program",
            "col_item",
            "col_category",
            "col_action_no",
            "col_action",
            "col_sub_items",
        )
    ]
    rows = [
        dict(
            zip(
                cols,
                (p.name, item.name, item.category, a.number, a.text, "\n".join(a.sub_items)),
                strict=True,
            )
        )
        for p in plan.programs
        for item in p.items
        for a in item.actions
    ]
    return pd.DataFrame(rows, columns=cols)


def show_tree(plan: Plan) -> None:
    if plan.vision:
        with st.expander(t("vision")):
            st.text(plan.vision)
    left, right = st.columns(2)
    with left:
        st.subheader(t("goals_title"))
        for goal in plan.goals:
            with st.expander(md_escape(f"{goal.id}　{goal.title}")):
                for s in goal.strategies:
                    st.text(f"{s.id}　{s.title}")
    with right:
        st.subheader(t("programs_title"))
        for program in plan.programs:
            with st.expander(md_escape(program.name)):
                for item in program.items:
                    st.markdown(
                        f"**{md_escape(item.name)}**　{t('category')}：{md_escape(item.category)}"
                    )
                    for action in item.actions:
                        st.text(f"{action.number}. {action.text}" if action.number else action.text)
                        for sub in action.sub_items:
                            st.text(f"　　{sub}")
    # Full width: the download buttons do not fit in half a page.
    st.caption(t("download_goals"))
    downloads(goals_table(plan), f"plan_{plan.year}_goals", "plan_goals")
    st.caption(t("download_programs"))
    downloads(programs_table(plan), f"plan_{plan.year}_programs", "plan_programs")


# -- the catalogue and its targets ----------------------------------------------------------------


def _fmt(value: float | None, fmt: str) -> str:
    return fmt_value(value, fmt) if value is not None else t("no_catalog_target")


def catalog_tables(year: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(shown, download): targets as text with revisions marked, and the same as numbers."""
    targets = figures.targets(eng.store, eng.catalog, year)
    shown, numbers = [], []
    for ind in eng.catalog.indicators:
        current, base = targets[ind.id]
        head = {
            t("col_id"): ind.id,
            t("col_indicator"): t.pick(ind.name_zh, ind.name_en),
            t("col_goal"): ind.goal,
            t("col_strategy"): ind.strategy or "",
            t("col_program"): t("all_programs_link")
            if ind.all_programs
            else "、".join(ind.programs),
            t("col_dataset"): t.pick(DATASETS[ind.dataset].label_zh, DATASETS[ind.dataset].label_en)
            if ind.dataset in DATASETS
            else ind.dataset,
            t("col_unit"): t.pick(ind.unit_zh, ind.unit_en),
            t("col_direction"): t(ind.direction),
            t("col_weight"): ind.weight,
        }
        cells = {}
        for q in figures.QUARTERS:
            now, was = current[q - 1], base[q - 1]
            text = _fmt(now, ind.format)
            if was != now:
                text = t("revised_cell", new=text, old=_fmt(was, ind.format))
            cells[t("col_q_target", q=q)] = text
        shown.append(head | cells)
        numbers.append(
            head
            | {t("col_q_target", q=q): current[q - 1] for q in figures.QUARTERS}
            | {t("col_q_catalog", q=q): base[q - 1] for q in figures.QUARTERS}
        )
    return pd.DataFrame(shown), pd.DataFrame(numbers)


def show_catalog(year: int) -> None:
    st.caption(t("catalog_intro", year=t.year(year)))
    shown, numbers = catalog_tables(year)
    # The quarters first so they stay in view; strategy and weight are in the download.
    quarters = [t("col_q_target", q=q) for q in figures.QUARTERS]
    rest = ("col_unit", "col_direction", "col_program", "col_dataset")
    order = [t("col_id"), t("col_indicator"), t("col_goal"), *quarters, *(t(c) for c in rest)]
    st.dataframe(shown, hide_index=True, column_order=order)
    downloads(numbers, f"indicators_{year}", "plan_catalog")


def revisions_table(year: int) -> pd.DataFrame:
    revs = eng.store.target_revisions(year)
    formats = {ind.id: ind.format for ind in eng.catalog.indicators}
    names = {ind.id: t.pick(ind.name_zh, ind.name_en) for ind in eng.catalog.indicators}
    return pd.DataFrame(
        [
            {
                t("col_when"): fmt_datetime(r.at, t.lang),
                t("col_who"): r.who,
                t("col_id"): r.kpi,
                t("col_indicator"): names.get(r.kpi, r.kpi),
                t("col_quarter"): t.quarter(year, int(r.quarter)),
                t("col_old"): _fmt(None if pd.isna(r.old) else r.old, formats.get(r.kpi, "number")),
                t("col_new"): _fmt(r.new, formats.get(r.kpi, "number")),
                t("col_reason"): r.reason,
            }
            for r in revs.itertuples()
        ],
        columns=[
            t(c)
            for c in (
                "col_when",
                "col_who",
                "col_id",
                "col_indicator",
                "col_quarter",
                "col_old",
                "col_new",
                "col_reason",
            )
        ],
    )


def show_target_form(year: int) -> None:
    """Indicator, quarter, new value and a required reason; stored via Engine.set_target."""
    st.caption(t("admin_note"))
    st.markdown(f"**{t('target_year', year=t.year(year))}**")
    catalog = eng.catalog
    names = {ind.id: f"{ind.id}　{t.pick(ind.name_zh, ind.name_en)}" for ind in catalog.indicators}
    a, b = st.columns([3, 1])
    kpi = a.selectbox(t("target_indicator"), list(names), key="target_kpi", format_func=names.get)
    quarter = b.selectbox(
        t("target_quarter"),
        list(figures.QUARTERS),
        key="target_quarter",
        format_func=lambda q: t.quarter(year, q),
    )
    ind = catalog.indicator(kpi)
    current, base = figures.targets(eng.store, catalog, year)[kpi]
    now, was = current[quarter - 1], base[quarter - 1]
    st.info(t("target_current", current=_fmt(now, ind.format), catalog=_fmt(was, ind.format)))
    percent = ind.format == "percent"
    default = (now or 0.0) * (100 if percent else 1)
    # One input per indicator and quarter, so its starting value follows the choice.
    value = st.number_input(
        t("target_value_pct") if percent else t("target_value"),
        min_value=0.0,
        max_value=100.0 if percent else None,
        value=float(default),
        step=1.0 if percent or ind.format == "count" else 0.1,
        format="%.0f" if ind.format == "count" else "%.1f" if percent else "%.2f",
        key=f"target_value_{kpi}_{quarter}",
    )
    reason = st.text_area(t("target_reason"), key="target_reason", max_chars=500)
    if st.button(t("target_save"), key="target_save", type="primary", icon=":material/save:"):
        new = value / 100 if percent else value
        try:
            old = eng.set_target(kpi, year, quarter, new, reason)
        except StoreError as exc:
            st.error(t("target_failed", message=md_escape(t.pick(exc.message_zh, exc.message_en))))
        else:
            st.session_state[_MESSAGE] = (
                "success",
                t(
                    "target_saved",
                    kpi=kpi,
                    quarter=t.quarter(year, quarter),
                    old=_fmt(old, ind.format),
                    new=_fmt(new, ind.format),
                ),
            )
            st.session_state.pop("target_reason", None)
            st.cache_data.clear()
            st.rerun()


def show_revisions(year: int) -> None:
    st.subheader(t("revisions"))
    revs = revisions_table(year)
    if revs.empty:
        st.caption(t("no_revisions", year=t.year(year)))
        return
    st.dataframe(revs, hide_index=True)
    downloads(revs, f"target_revisions_{year}", "plan_revisions")


# -- loading a plan -------------------------------------------------------------------------------


def show_loader() -> None:
    """Upload a plan text: parse and show it first, store it on confirmation."""
    st.caption(t("load_intro"))
    upload = st.file_uploader(
        t("load_file"), type=["txt"], key="plan_file", max_upload_size=PLAN_MAX_MB
    )
    if upload is None:
        return
    try:
        text = eng.plan_text(upload.getvalue(), max_bytes=PLAN_MAX_MB * 1024 * 1024)
        parsed = parse_plan(text)
    except StoreError as exc:
        st.error(t("load_error", message=md_escape(t.pick(exc.message_zh, exc.message_en))))
        return
    except PlanError as exc:
        st.error(t("load_error", message=md_escape(str(exc))))
        return
    # The text may not name its agency (the bundled plan takes it from its file name);
    # the agency of the plan in use is the likely one.
    agency = st.text_input(
        t("load_agency"), value=parsed.agency or plan.agency, key="plan_agency", max_chars=100
    ).strip()
    parsed = dataclasses.replace(parsed, agency=agency)
    st.success(plan_title(parsed, "load_parsed"))
    show_counts(parsed)
    goals = goals_table(parsed)
    st.dataframe(goals, hide_index=True)
    downloads(goals, f"plan_{parsed.year}_goals", "plan_load_goals")
    problems = eng.catalog.problems_with(parsed)
    if problems:
        st.warning(t("load_problems"))
        for problem in problems:
            st.text(problem)
    if eng.store.plan_source(parsed.year) is not None:
        st.warning(t("load_replaces", year=t.year(parsed.year)))
    if st.button(
        t("load_store", year=t.year(parsed.year)),
        key="plan_store",
        type="primary",
        icon=":material/save:",
    ):
        try:
            stored = eng.load_plan(text, agency=agency)
        except (PlanError, StoreError) as exc:
            message = (
                str(exc) if isinstance(exc, PlanError) else t.pick(exc.message_zh, exc.message_en)
            )
            st.error(t("load_failed", message=md_escape(message)))
            return
        except Exception:
            log.exception("storing a plan failed")
            st.error(t("load_unexpected"))
            return
        st.session_state[_MESSAGE] = ("success", t("load_stored", year=t.year(stored.year)))
        st.cache_data.clear()
        st.rerun()


# -- the page -------------------------------------------------------------------------------------

plan = eng.plan(filters.year)
st.title(plan_title(plan))
if plan.year != filters.year:
    st.info(t("other_year", year=t.year(filters.year), shown=t.year(plan.year)))
if _MESSAGE in st.session_state:
    kind, text = st.session_state.pop(_MESSAGE)
    (st.success if kind == "success" else st.error)(text)
show_counts(plan)

tree, catalog, revise, load = st.tabs(
    [t("tab_tree"), t("tab_catalog"), t("tab_targets"), t("tab_load")]
)
with tree:
    show_tree(plan)
with catalog:
    show_catalog(filters.year)
with revise:
    if may(Role.ADMIN):
        show_target_form(filters.year)
    else:
        st.caption(t("admin_only_targets"))
    show_revisions(filters.year)
with load:
    if may(Role.ADMIN):
        show_loader()
    else:
        st.caption(t("admin_only_plans"))

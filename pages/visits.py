"""訪問交流 Visits — by quarter and type, allies vs others, by country and level, the list.

Whether a visit was with an ally is decided by the country's relations on the visit's
date (data/relations.yaml), so a 2019 Q3 visit to 索羅門群島 counts as an ally's before
2019-09-16 and as a non-ally's after. Delegation names are uploaded text: they are only
ever shown in tables (st.dataframe shows text as text).
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from kpi import charts, views
from kpi.i18n import (
    EN,
    fmt_category,
    fmt_country,
    fmt_date,
    fmt_number,
    fmt_quarter_short,
    fmt_region,
)
from kpi.ingest.datasets import LEVELS, VISIT_TYPES
from pages.common import chart, current_filters, downloads, status, translator, version, view

PAGE_STRINGS: dict[str, tuple[str, str]] = {
    "title": ("訪問交流", "Visits and exchanges"),
    "period": ("資料期間：{first}至{last}（累計）", "Figures for {first} to {last} (year to date)"),
    "not_by_program": (
        "訪問交流統計涵蓋全部工作計畫；側欄的工作計畫篩選只限縮預算資料（各筆的工作計畫見下表）。",
        "Visit figures cover every work program; the sidebar program filter restricts budget rows only (each visit's program is in the table).",
    ),
    "no_data": (
        "{period}尚無訪問交流資料。請至「資料上傳」頁上傳訪問交流紀錄。",
        "No visits recorded up to {period} yet. Upload the visits workbook on the Upload page.",
    ),
    "total": ("訪問交流合計", "All visits and meetings"),
    "help_K1.1": (
        "來訪或出訪，國家於訪問當日為邦交國，層級為元首、副元首、閣揆或部長。",
        "Inbound or outbound visits with a country that was an ally on the visit date, at head of state, deputy, head of government or minister level.",
    ),
    "help_K2.1": (
        "來訪或出訪，國家於訪問當日非邦交國，層級為元首、副元首、閣揆、部長或國會議員。",
        "Inbound or outbound visits with a country that was not an ally on the visit date, at minister level or above or by parliamentarians.",
    ),
    "help_K3.1": ("類型為國際會議的場次。", "Visits of type international meeting."),
    "target": ("目標 {value}", "Target {value}"),
    "chart_quarter": ("各季訪問交流團次（依類型）", "Visits by quarter and type"),
    "chart_ally": (
        "邦交國與非邦交國（依訪問日期判定）",
        "Allies and non-allies (on the visit date)",
    ),
    "ally_note": (
        "是否為邦交國依訪問當日的外交關係判定：例如 2019-09-16 以前赴索羅門群島的訪問計為邦交國，之後計為非邦交國。",
        "Whether a country was an ally is decided by relations on the visit date: a visit to the Solomon Islands before 2019-09-16 counts as an ally's, after it as a non-ally's.",
    ),
    "chart_country": ("各國訪問交流團次（前 {n} 名）", "Visits by country (top {n})"),
    "chart_level": ("各層級訪問交流團次", "Visits by level"),
    "axis_visits": ("團次", "Visits"),
    "axis_quarter": ("季別", "Quarter"),
    "ally": ("邦交國", "Ally"),
    "non_ally": ("非邦交國", "Non-ally"),
    "table_head": ("訪問交流紀錄", "Visits and meetings"),
    "search": ("搜尋團名或國家", "Search delegation or country"),
    "search_placeholder": ("例如：巴拉圭、議員", "e.g. Paraguay, parliament"),
    "matches": ("符合 {n} 筆，共 {total} 筆。", "{n} of {total} visits match."),
    "capped": (
        "顯示前 {n} 筆（依日期）；輸入關鍵字可縮小範圍，完整清單請下載。",
        "Showing the first {n} by date; search to narrow them down, or download the full list.",
    ),
    "col_date": ("日期", "Date"),
    "col_quarter": ("季別", "Quarter"),
    "col_type": ("類型", "Type"),
    "col_country": ("國家", "Country"),
    "col_region": ("地區", "Region"),
    "col_ally": ("邦交國", "Ally"),
    "col_level": ("層級", "Level"),
    "col_delegation": ("團名", "Delegation"),
    "col_participants": ("人數", "Participants"),
    "col_program": ("工作計畫", "Work program"),
    "col_visits": ("團次", "Visits"),
    "col_status": ("邦交", "Relations"),
}
COUNTRIES_SHOWN = 20
INDICATORS = ("K1.1", "K2.1", "K3.1")  # the indicators computed from visits
TABLE_ROWS_SHOWN = 1000  # on screen; the downloads hold every visit


@st.cache_data(show_spinner=False, max_entries=16)
def visit_tables(store_version: int, year: int, quarter: int) -> dict[str, pd.DataFrame]:
    """The year's visits up to the quarter, and their counts."""
    visits = view("visits", year)
    visits = visits[visits["quarter"] <= quarter]
    counts = {
        name: views.visit_counts(visits, by)
        for name, by in {
            "type": ["type"],
            "quarter": ["quarter", "type"],
            "ally": ["type", "ally"],
            "country": ["country", "type"],
            "level": ["level", "type"],
        }.items()
    }
    return {"visits": visits, **counts}


@st.cache_data(show_spinner=False, max_entries=16)
def search_texts(store_version: int, year: int, quarter: int) -> pd.Series:
    """A text per visit to search, in either language: the delegation, and the country as
    stored and in English (made on the first search, not on every first view)."""
    visits = visit_tables(store_version, year, quarter)["visits"]
    english = visits["country"].map({c: fmt_country(c, EN) for c in visits["country"].unique()})
    return (
        visits["delegation"].fillna("").astype(str)
        + "\n"
        + visits["country"].astype(str)
        + "\n"
        + english.astype(str)
    ).str.casefold()


t = translator(PAGE_STRINGS)
f = current_filters()


def country_label(name: str) -> str:
    return fmt_country(name, f.lang)


def region_label(region: str) -> str:
    return fmt_region(region, f.lang)


def category(value: str) -> str:
    return fmt_category(value, f.lang)


def order(values: pd.Series, choices) -> pd.Series:
    return views.schema_order(values, list(choices))


def indicator(kpi_id: str):
    """The engine's figure for an indicator (no program filter: visits count for every program)."""
    return next((k for k in status(version(), f.year, f.quarter, ()).kpis if k.id == kpi_id), None)


def ally_label(ally: bool) -> str:
    return t("ally") if ally else t("non_ally")


st.title(t("title"))
if f.programs:
    st.caption(t("not_by_program"))

tables = visit_tables(version(), f.year, f.quarter)
visits = tables["visits"]
if visits.empty:
    st.info(t("no_data", period=t.quarter(f.year, f.quarter)))
    st.page_link("pages/upload.py", label=t("go_upload"), icon=":material/upload_file:")
    st.stop()

st.caption(t("period", first=t.quarter(f.year, 1), last=t.quarter(f.year, f.quarter)))

# -- headline figures -----------------------------------------------------------------------------

by_type = tables["type"].set_index("type")["visits"]
cols = st.columns(4)
for col, kind in zip(cols, VISIT_TYPES, strict=False):
    col.metric(category(kind), fmt_number(by_type.get(kind, 0)))
cols[3].metric(t("total"), fmt_number(len(visits)))
cols = st.columns(len(INDICATORS))
for col, kpi_id in zip(cols, INDICATORS, strict=True):
    k = indicator(kpi_id)
    if k is not None:
        target = None if k.target is None else t("target", value=fmt_number(k.target))
        col.metric(
            k.name_en if t.en else k.name_zh,
            fmt_number(k.actual),
            target,
            delta_color="off",
            delta_arrow="off",
            help=f"{k.id}: {t(f'help_{kpi_id}')}",
        )

# -- by quarter and type --------------------------------------------------------------------------

quarterly = tables["quarter"].sort_values(
    ["quarter", "type"], key=lambda s: order(s, VISIT_TYPES) if s.name == "type" else s
)
quarterly = quarterly.assign(
    label=quarterly["quarter"].map(lambda q: fmt_quarter_short(int(q), f.lang)),
    kind=quarterly["type"].map(category),
)


def visits_by_quarter_figure() -> go.Figure:
    fig = charts.stacked_bars(
        quarterly, "label", "visits", "kind", t("chart_quarter"), t("axis_visits")
    )
    fig.update_xaxes(title=t("axis_quarter"), type="category")
    return fig


chart("visits_by_quarter", visits_by_quarter_figure)
downloads(
    pd.DataFrame(
        {
            t("col_quarter"): quarterly["label"],
            t("col_type"): quarterly["kind"],
            t("col_visits"): quarterly["visits"],
        }
    ),
    "visits_by_quarter",
    "dl_quarter",
)

# -- allies and non-allies ------------------------------------------------------------------------------

allies = tables["ally"].sort_values(
    ["ally", "type"],
    ascending=[False, True],
    key=lambda s: order(s, VISIT_TYPES) if s.name == "type" else s,
)
allies = allies.assign(
    kind=allies["type"].map(category),
    status=allies["ally"].map(ally_label),
)
chart(
    "visits_ally",
    lambda: charts.stacked_bars(
        allies, "kind", "visits", "status", t("chart_ally"), t("axis_visits")
    ),
)
st.caption(t("ally_note"))
downloads(
    pd.DataFrame(
        {
            t("col_type"): allies["kind"],
            t("col_status"): allies["status"],
            t("col_visits"): allies["visits"],
        }
    ),
    "visits_allies",
    "dl_ally",
)

# -- by country and by level ----------------------------------------------------------------------------

by_country = tables["country"]
totals = by_country.groupby("country")["visits"].sum().sort_values(ascending=False, kind="stable")
top = list(totals.index[:COUNTRIES_SHOWN])
shown_countries = by_country[by_country["country"].isin(top)].sort_values(
    "type", key=lambda s: order(s, VISIT_TYPES), kind="stable"
)
shown_countries = shown_countries.assign(
    label=charts.plain_text(shown_countries["country"].map(country_label)),
    kind=shown_countries["type"].map(category),
)


def visits_by_country_figure() -> go.Figure:
    fig = charts.stacked_bars(
        shown_countries,
        "label",
        "visits",
        "kind",
        t("chart_country", n=min(COUNTRIES_SHOWN, len(totals))),
        t("axis_visits"),
        horizontal=True,
    )
    fig.update_yaxes(
        categoryorder="array",
        categoryarray=list(charts.plain_text(pd.Series(top).map(country_label))),
    )
    return fig


chart("visits_by_country", visits_by_country_figure)
downloads(
    pd.DataFrame(
        {
            t("col_country"): by_country["country"].map(country_label),
            t("col_type"): by_country["type"].map(category),
            t("col_visits"): by_country["visits"],
        }
    ),
    "visits_by_country",
    "dl_country",
)

by_level = tables["level"].sort_values(
    ["level", "type"], key=lambda s: order(s, LEVELS if s.name == "level" else VISIT_TYPES)
)
levels = list(dict.fromkeys(by_level["level"]))
by_level = by_level.assign(
    label=by_level["level"].map(category),
    kind=by_level["type"].map(category),
)


def visits_by_level_figure() -> go.Figure:
    fig = charts.stacked_bars(
        by_level.sort_values("type", key=lambda s: order(s, VISIT_TYPES), kind="stable"),
        "label",
        "visits",
        "kind",
        t("chart_level"),
        t("axis_visits"),
    )
    fig.update_xaxes(
        type="category", categoryorder="array", categoryarray=[category(v) for v in levels]
    )
    return fig


chart("visits_by_level", visits_by_level_figure)
downloads(
    pd.DataFrame(
        {
            t("col_level"): by_level["label"],
            t("col_type"): by_level["kind"],
            t("col_visits"): by_level["visits"],
        }
    ),
    "visits_by_level",
    "dl_level",
)

# -- the list, searchable -----------------------------------------------------------------------------

st.subheader(t("table_head"))
query = st.text_input(t("search"), key="visits_search", placeholder=t("search_placeholder")).strip()
rows = visits
if query:
    search = search_texts(version(), f.year, f.quarter)
    rows = visits[search.str.contains(query.casefold(), regex=False).to_numpy()]
    st.caption(t("matches", n=fmt_number(len(rows)), total=fmt_number(len(visits))))
if len(rows) > TABLE_ROWS_SHOWN:
    st.caption(t("capped", n=fmt_number(TABLE_ROWS_SHOWN)))


def table(rows: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            t("col_date"): rows["date"].map(lambda d: fmt_date(d, f.lang)),
            t("col_type"): rows["type"].map(category),
            t("col_country"): rows["country"].map(country_label),
            t("col_ally"): rows["ally"].astype(bool),
            t("col_level"): rows["level"].map(category),
            t("col_delegation"): rows["delegation"],
            t("col_participants"): rows["participants"],
            t("col_program"): rows["program"],
        }
    )


def download_table() -> pd.DataFrame:
    return table(rows).assign(
        **{
            t("col_ally"): rows["ally"].map(ally_label).to_numpy(),
            t("col_region"): rows["region"].map(region_label).to_numpy(),
        }
    )


# Widths that fit a 1366 px screen without a horizontal scroll bar; the delegation takes the rest.
st.dataframe(
    table(rows.head(TABLE_ROWS_SHOWN)),
    hide_index=True,
    placeholder="—",
    column_config={
        t("col_date"): st.column_config.TextColumn(width=90),
        t("col_type"): st.column_config.TextColumn(width=t.pick(70, 150)),
        t("col_country"): st.column_config.TextColumn(width=t.pick(100, 115)),
        t("col_ally"): st.column_config.CheckboxColumn(width=t.pick(50, 45), help=t("ally_note")),
        t("col_level"): st.column_config.TextColumn(width=t.pick(70, 110)),
        t("col_delegation"): st.column_config.TextColumn(width=t.pick(330, 180)),
        t("col_participants"): st.column_config.NumberColumn(format="%,d", width=t.pick(50, 85)),
        t("col_program"): st.column_config.TextColumn(width=110),
    },
    key="visits_table",
)
downloads(download_table, f"visits_{f.year}_Q{f.quarter}", "dl_table", token=(version(), f, query))

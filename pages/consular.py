"""領事服務 Consular — visas issued by month and type, the eVisa share, processing days.

Visa figures add up month by month, so everything here is year to date at the end of
the chosen quarter. Processing days are weighted by visas issued, over the rows that
report them (K6.3); the eVisa share is eVisas issued ÷ all visas issued (K6.2).
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from kpi import charts, figures, views
from kpi.i18n import fmt_category, fmt_month_short, fmt_number, fmt_percent, fmt_region
from kpi.ingest.datasets import VISA_TYPES
from pages.common import chart, current_filters, downloads, engine, translator, version, view

PAGE_STRINGS: dict[str, tuple[str, str]] = {
    "title": ("領事服務", "Consular services"),
    "period": (
        "資料期間：{year}{first}至{last}（{quarter}，累計）",
        "Figures for {first} to {last} {year} ({quarter}, year to date)",
    ),
    "not_by_program": (
        "簽證資料不分工作計畫，側欄的工作計畫篩選不適用於本頁。",
        "Visa data is not split by work program; the sidebar program filter does not apply to this page.",
    ),
    "no_data": (
        "{period}尚無簽證資料。請至「資料上傳」頁上傳簽證統計表。",
        "No visa data up to {period} yet. Upload the visa statistics on the Upload page.",
    ),
    "issued": ("簽證核發件數", "Visas issued"),
    "evisa_share": ("電子簽證核發占比", "eVisa share of visas issued"),
    "avg_days": ("平均簽證處理天數", "Average processing days"),
    "applications": ("申請件數", "Applications"),
    "target": ("目標 {value}", "Target {value}"),
    "issued_help": ("累計核發件數（各類簽證合計）。", "Visas issued year to date, all types."),
    "share_help": (
        "電子簽證核發件數 ÷ 全部核發件數，累計至本季末。",
        "eVisas issued ÷ all visas issued, year to date.",
    ),
    "days_help": (
        "各列平均處理天數以核發件數加權平均，只計有填報處理天數的列。",
        "The rows' average processing days weighted by visas issued, over the rows that report days.",
    ),
    "chart_by_month": ("各月簽證核發件數（依簽證類別）", "Visas issued by month and type"),
    "chart_share": ("電子簽證核發占比", "eVisa share of visas issued"),
    "share_month": ("當月占比", "In the month"),
    "share_ytd": ("累計占比", "Year to date"),
    "share_target": ("目標", "Target"),
    "days_target": ("目標 {days} 天", "Target {days} days"),
    "axis_issued": ("核發件數", "Visas issued"),
    "axis_share": ("占比", "Share"),
    "axis_month": ("月份", "Month"),
    "axis_days": ("平均處理天數", "Average processing days"),
    "days_head": ("簽證處理天數", "Processing days"),
    "tab_region": ("依地區", "By region"),
    "tab_mission": ("依館處", "By mission"),
    "chart_region": ("各地區平均處理天數", "Average processing days by region"),
    "chart_mission": ("各館處平均處理天數", "Average processing days by mission"),
    "slowest": (
        "顯示處理天數最長的 {n} 個館處（共 {total} 個有填報）；全部館處見下載檔。",
        "Showing the {n} slowest missions of {total} that report days; the downloads have them all.",
    ),
    "table_filter": ("篩選館處", "Filter missions"),
    "table_filter_help": (
        "輸入館處名稱的一部分，例如「日本」。",
        "Part of a mission's name, for example 'Japan' as written in the upload.",
    ),
    "table_capped": (
        "顯示前 {n:,} 列（共 {total:,} 列）；輸入館處名稱可縮小範圍，完整明細請下載。",
        "Showing the first {n:,} of {total:,} rows; type part of a mission's name to narrow them down, or download the full table.",
    ),
    "table_none": ("沒有符合「{query}」的館處。", "No mission matches '{query}'."),
    "unreported": (
        "{n} 個館處未填報處理天數，未列入。",
        "{n} missions did not report processing days and are left out.",
    ),
    "table_head": ("館處與簽證類別明細", "By mission and visa type"),
    "col_month": ("月份", "Month"),
    "col_type": ("簽證類別", "Visa type"),
    "col_mission": ("駐外館處", "Mission"),
    "col_region": ("地區", "Region"),
    "col_applications": ("申請件數", "Applications"),
    "col_issued": ("核發件數", "Issued"),
    "col_refused": ("拒發件數", "Refused"),
    "col_evisa": ("電子簽證核發件數", "eVisas issued"),
    "col_share": ("當月占比（%）", "Share in the month (%)"),
    "col_share_ytd": ("累計占比（%）", "Share year to date (%)"),
    "col_days": ("平均處理天數", "Average processing days"),
    "col_issued_reported": ("有填報天數之核發件數", "Issued, rows reporting days"),
}
MISSIONS_SHOWN = 30  # the benchmark store has thousands of missions; a chart shows the slowest
TABLE_ROWS_SHOWN = 1000  # on screen; the downloads hold every row


@st.cache_data(show_spinner=False, max_entries=16)
def mission_tables(store_version: int, year: int, last_month: int) -> dict:
    """Missions and regions year to date, and the slowest missions that report days.

    The benchmark store has tens of thousands of missions: everything a run shows of them
    is derived here once per store version, not on every run.
    """
    by_mission = views.visa_mission_totals(engine().store, year, last_month)
    reported = by_mission.dropna(subset=["avg_days"]).sort_values(
        ["avg_days", "mission"], ascending=[False, True]
    )
    return {
        "missions": by_mission,
        "regions": views.visa_by_region(by_mission),
        "slowest": reported.head(MISSIONS_SHOWN),
        "reported": len(reported),
    }


@st.cache_data(show_spinner=False, max_entries=64)
def table_rows(
    store_version: int, year: int, last_month: int, query: str
) -> tuple[pd.DataFrame, int]:
    """The first TABLE_ROWS_SHOWN mission × type rows of the missions whose name contains the
    query (any case), and how many such rows there are.

    Only the missions that fill the screen are read; the downloads read them all.
    """
    missions = mission_tables(store_version, year, last_month)["missions"]
    if query:
        missions = missions[missions["mission"].str.contains(query, case=False, regex=False)]
    before = missions["types"].cumsum() - missions["types"]
    first = missions.loc[before < TABLE_ROWS_SHOWN, "mission"]
    rows = views.visa_by_mission_type(engine().store, year, last_month, missions=list(first))
    return rows.head(TABLE_ROWS_SHOWN), int(missions["types"].sum())


@st.cache_data(show_spinner=False, max_entries=16)
def mission_list(store_version: int, year: int, last_month: int, lang: str) -> pd.DataFrame:
    """Every mission's processing days, as downloaded (the labels are in ``lang``)."""
    by_mission = mission_tables(store_version, year, last_month)["missions"]
    return pd.DataFrame(
        {
            t("col_mission"): by_mission["mission"],
            t("col_region"): by_mission["region"].map(region_label),
            t("col_issued"): by_mission["issued"],
            t("col_issued_reported"): by_mission["issued_reported"],
            t("col_days"): by_mission["avg_days"],
        }
    )


def all_table_rows(year: int, last_month: int, query: str) -> pd.DataFrame:
    """Every mission × type row of the missions whose name contains the query (for downloads)."""
    rows = views.visa_by_mission_type(engine().store, year, last_month)
    if query:
        rows = rows[rows["mission"].str.contains(query, case=False, regex=False)]
    return rows


t = translator(PAGE_STRINGS)
f = current_filters()
last_month = f.quarter * 3


def type_label(visa_type: str) -> str:
    return fmt_category(visa_type, f.lang)


def region_label(region: str) -> str:
    return fmt_region(region, f.lang)


def target(kpi_id: str) -> float | None:
    """An indicator's year-to-date target at the chosen quarter (administrators' revisions included)."""
    current, _ = targets.get(kpi_id, ((None,) * 4, None))
    return current[f.quarter - 1]


def target_delta(kpi_id: str, fmt) -> str | None:
    value = target(kpi_id)
    return None if value is None else t("target", value=fmt(value))


def days_figure(rows: pd.DataFrame, title: str) -> go.Figure:
    """Average processing days as horizontal bars (``label``), with the K6.3 target line."""
    fig = charts.bars(
        rows, "label", "avg_days", title, t("axis_days"), horizontal=True, text_format=".2f"
    )
    days = target("K6.3")
    if days is not None:
        target_line(fig, days)
    return fig


def target_line(fig, days: float) -> None:
    """The K6.3 target as a dashed line with a legend entry (a label on it would hide bar values)."""
    fig.add_vline(
        x=days,
        line_dash="dash",
        line_color=charts.TARGET_COLOUR,
        showlegend=True,
        name=t("days_target", days=f"{days:,g}"),
    )
    fig.update_layout(showlegend=True)
    fig.update_traces(showlegend=False)


st.title(t("title"))
if f.programs:
    st.caption(t("not_by_program"))

by_month = view("visa_by_month", f.year)
by_month = by_month[by_month["month"] <= last_month]
if by_month.empty:
    st.info(t("no_data", period=t.quarter(f.year, f.quarter)))
    st.page_link("pages/upload.py", label=t("go_upload"), icon=":material/upload_file:")
    st.stop()

months = sorted(int(m) for m in by_month["month"].unique())
st.caption(
    t(
        "period",
        year=t.year(f.year),
        first=fmt_month_short(months[0], f.lang),
        last=fmt_month_short(months[-1], f.lang),
        quarter=t.quarter(f.year, f.quarter),
    )
)

share = views.evisa_share(by_month)
missions = mission_tables(version(), f.year, last_month)
by_mission, by_region = missions["missions"], missions["regions"]
targets = figures.targets(engine().store, engine().catalog, f.year)
issued = float(by_month["issued"].sum())
ytd_share = share["share_ytd"].iloc[-1]
weighted_days = (
    by_mission["day_weight"].sum() / by_mission["issued_reported"].sum()
    if by_mission["issued_reported"].sum()
    else None
)

# -- headline figures -----------------------------------------------------------------------------

cols = st.columns(4)
cols[0].metric(
    t("issued"),
    fmt_number(issued),
    target_delta("K6.1", fmt_number),
    delta_color="off",
    delta_arrow="off",
    help=t("issued_help"),
)
cols[1].metric(
    t("evisa_share"),
    fmt_percent(ytd_share),
    target_delta("K6.2", fmt_percent),
    delta_color="off",
    delta_arrow="off",
    help=t("share_help"),
)
cols[2].metric(
    t("avg_days"),
    fmt_number(weighted_days, 2),
    target_delta("K6.3", lambda v: f"{v:,g}"),
    delta_color="off",
    delta_arrow="off",
    help=t("days_help"),
)
cols[3].metric(t("applications"), fmt_number(by_month["applications"].sum()))

# -- visas by month and type ---------------------------------------------------------------------

monthly = by_month.sort_values(
    ["month", "visa_type"],
    key=lambda s: views.schema_order(s, list(VISA_TYPES)) if s.name == "visa_type" else s,
)
monthly = monthly.assign(
    label=monthly["month"].map(lambda m: fmt_month_short(int(m), f.lang)),
    type=monthly["visa_type"].map(type_label),
)


def visa_by_month_figure() -> go.Figure:
    fig = charts.stacked_bars(
        monthly.assign(type=charts.plain_text(monthly["type"])),
        "label",
        "issued",
        "type",
        t("chart_by_month"),
        t("axis_issued"),
    )
    fig.update_xaxes(
        title=t("axis_month"),
        type="category",
        categoryorder="array",
        categoryarray=[fmt_month_short(m, f.lang) for m in months],
    )
    fig.update_yaxes(tickformat=",")
    return fig


chart("visa_by_month", visa_by_month_figure)
downloads(
    pd.DataFrame(
        {
            t("col_month"): monthly["month"].astype(int),
            t("col_type"): monthly["type"],
            t("col_applications"): monthly["applications"],
            t("col_issued"): monthly["issued"],
        }
    ),
    "visa_by_month",
    "dl_by_month",
)

# -- eVisa share ----------------------------------------------------------------------------------

long = pd.concat(
    [
        share.assign(series=t("share_month"), value=share["share"]),
        share.assign(series=t("share_ytd"), value=share["share_ytd"]),
    ],
    ignore_index=True,
)
long["label"] = long["month"].map(lambda m: fmt_month_short(int(m), f.lang))
share_target = target("K6.2")


def visa_share_figure() -> go.Figure:
    fig = charts.lines(
        long,
        "label",
        "value",
        "series",
        t("chart_share"),
        t("axis_share"),
        percent=True,
        hline=share_target,
        hline_label=""
        if share_target is None
        else f"{t('share_target')} {fmt_percent(share_target)}",
    )
    fig.update_xaxes(title=t("axis_month"), type="category")
    return fig


chart("visa_share", visa_share_figure)
downloads(
    pd.DataFrame(
        {
            t("col_month"): share["month"].astype(int),
            t("col_evisa"): share["evisa"],
            t("col_issued"): share["issued"],
            t("col_share"): share["share"] * 100,
            t("col_share_ytd"): share["share_ytd"] * 100,
        }
    ),
    "evisa_share",
    "dl_share",
)

# -- processing days by region and mission -----------------------------------------------------------

st.subheader(t("days_head"))
st.caption(t("days_help"))
tab_region, tab_mission = st.tabs([t("tab_region"), t("tab_mission")])
with tab_region:
    regions = by_region.dropna(subset=["avg_days"]).sort_values("avg_days", ascending=False)
    regions = regions.assign(label=charts.plain_text(regions["region"].map(region_label)))
    chart("days_by_region", lambda: days_figure(regions, t("chart_region")))
    downloads(
        pd.DataFrame(
            {
                t("col_region"): by_region["region"].map(region_label),
                t("col_issued"): by_region["issued"],
                t("col_issued_reported"): by_region["issued_reported"],
                t("col_days"): by_region["avg_days"],
            }
        ),
        "processing_days_by_region",
        "dl_region",
    )
with tab_mission:
    if missions["reported"] > MISSIONS_SHOWN:
        st.caption(t("slowest", n=MISSIONS_SHOWN, total=missions["reported"]))
    unreported = len(by_mission) - missions["reported"]
    if unreported:
        st.caption(t("unreported", n=unreported))
    slowest = missions["slowest"].assign(label=lambda d: charts.plain_text(d["mission"]))
    chart("days_by_mission", lambda: days_figure(slowest, t("chart_mission")))
    downloads(
        mission_list(version(), f.year, last_month, f.lang),
        "processing_days_by_mission",
        "dl_mission",
        token=(version(), f),  # a long list: no need to hash it on every run
    )

# -- the table ----------------------------------------------------------------------------------------

st.subheader(t("table_head"))


def table(rows: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            t("col_mission"): rows["mission"],
            t("col_region"): rows["region"].map(region_label),
            t("col_type"): rows["visa_type"].map(type_label),
            t("col_applications"): rows["applications"],
            t("col_issued"): rows["issued"],
            t("col_refused"): rows["refused"],
            t("col_days"): rows["avg_days"],
        }
    )


query = st.text_input(
    t("table_filter"), key="visa_table_filter", help=t("table_filter_help")
).strip()
shown, total = table_rows(version(), f.year, last_month, query)
if query and not total:
    st.caption(t("table_none", query=query))
if total > TABLE_ROWS_SHOWN:
    st.caption(t("table_capped", n=TABLE_ROWS_SHOWN, total=total))
count = st.column_config.NumberColumn(format="%,d")
st.dataframe(
    table(shown),
    hide_index=True,
    placeholder="—",
    column_config={
        t("col_applications"): count,
        t("col_issued"): count,
        t("col_refused"): count,
        t("col_days"): st.column_config.NumberColumn(format="%.2f"),
    },
    key="visa_table",
)
downloads(
    lambda: table(all_table_rows(f.year, last_month, query)),
    f"visa_{f.year}_Q{f.quarter}",
    "dl_table",
    token=(version(), f, query),
)

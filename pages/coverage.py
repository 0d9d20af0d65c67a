"""資料完整度 — which dataset has arrived for which month or quarter, and which indicators
have no value for the chosen quarter (the white lights), so a manager sees what is
missing before the meeting. A page of its own (not a section of 上傳紀錄) so that every
white light can link straight to it and viewers, who have no use for batches and undo,
find it in the menu."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from kpi.catalog import QUARTER_END
from kpi.coverage import MISSING, PRESENT, Coverage, coverage, missing
from kpi.i18n import fmt_quarter_short
from kpi.ingest.datasets import DATASETS
from pages.common import current_filters, downloads, engine, status, translator, version

PAGE_STRINGS: dict[str, tuple[str, str]] = {
    "title": ("資料完整度", "Data completeness"),
    "intro": (
        "各資料類別已上傳到哪個月份或季別，以及本季哪些指標沒有數值（白燈）。會議前先補齊缺漏。",
        "Which dataset has arrived for which month or quarter, and which indicators have no "
        "value this quarter (white lights). Fill the gaps before the meeting.",
    ),
    "missing_header": ("{period}沒有數值的指標", "Indicators with no value for {period}"),
    "none_missing": (
        "{period}每項指標都有數值，沒有白燈。",
        "Every indicator has a value for {period}; there are no white lights.",
    ),
    "n_missing": ("{n} 項指標是白燈（無資料）。", "{n} indicator(s) are white (no data)."),
    "col_code": ("代碼", "ID"),
    "col_source": ("資料來源", "Source dataset"),
    "col_state": ("狀況", "What is missing"),
    "state_absent": (
        "本季尚未上傳「{dataset}」資料",
        "No {dataset} data uploaded for this quarter",
    ),
    "state_absent_value": ("本季尚未填報此指標的實際值", "No value reported for this quarter"),
    "state_budget": (
        "預算執行為累計報表，本季需有季末月份（{month}月）的資料",
        "Budget execution is cumulative: the quarter needs its last month ({month})",
    ),
    "state_no_figure": (
        "資料已上傳，但算不出數值（例如分母為 0）",
        "Data has arrived but gives no value (a zero denominator, say)",
    ),
    "months_header": ("每月資料（{year}）", "Monthly data ({year})"),
    "quarters_header": ("每季資料（{year}）", "Quarterly data ({year})"),
    "legend": (
        "✅ 已有資料　❌ 缺（應已上傳）　空白：尚未到期（選定季別之後）",
        "✅ data   ❌ missing (due by the chosen quarter)   blank: not due yet",
    ),
    "col_dataset": ("資料類別", "Dataset"),
    "col_month": ("{m}月", "M{m}"),
    "cell_present": ("✅", "✅"),
    "cell_missing": ("❌ 缺", "❌ missing"),
    "cell_not_due": ("", ""),
    "go_upload": ("前往資料上傳", "Go to Upload"),
}

t = translator(PAGE_STRINGS)
f = current_filters()
eng = engine()
period = t.quarter(f.year, f.quarter)
CELLS = {PRESENT: "cell_present", MISSING: "cell_missing"}


@st.cache_data(show_spinner=False, max_entries=16)
def cached_coverage(store_version: int, year: int) -> Coverage:
    e = engine()
    return coverage(e.store, e.catalog, year)


def dataset_label(name: str) -> str:
    ds = DATASETS[name]
    return t.pick(ds.label_zh, ds.label_en)


def cell(state: str) -> str:
    return t(CELLS.get(state, "cell_not_due"))


def row_label(name: str) -> str:
    if name in DATASETS:
        return dataset_label(name)
    ind = eng.catalog.indicator(name)
    return f"{ind.id} {t.pick(ind.name_zh, ind.name_en)}"


def grid_frame(grid: dict[str, dict[int, str]], label) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {t("col_dataset"): row_label(name), **{label(p): cell(s) for p, s in cells.items()}}
            for name, cells in grid.items()
        ]
    )


def missing_frame(cov: Coverage) -> pd.DataFrame:
    now = status(version(), f.year, f.quarter, f.programs)
    rows = []
    for m in missing(eng.catalog, cov, now.kpis, f.quarter):
        ind = eng.catalog.indicator(m.id)
        if m.arrived:
            state = t("state_no_figure")
        elif m.dataset == "kpi_values":
            state = t("state_absent_value")
        elif ind.formula.at == QUARTER_END:
            state = t("state_budget", month=f.quarter * 3)
        else:
            state = t("state_absent", dataset=dataset_label(m.dataset))
        rows.append(
            {
                t("col_code"): m.id,
                t("indicator"): t.pick(m.name_zh, m.name_en),
                t("col_source"): dataset_label(m.dataset),
                t("col_state"): state,
            }
        )
    return pd.DataFrame(
        rows, columns=[t("col_code"), t("indicator"), t("col_source"), t("col_state")]
    )


st.title(t("title"))
st.caption(f"{period}　·　{t('intro')}")
cov = cached_coverage(version(), f.year)

st.subheader(t("missing_header", period=period))
gaps = missing_frame(cov)
if gaps.empty:
    st.success(t("none_missing", period=period), icon=":material/check_circle:")
else:
    st.warning(t("n_missing", n=len(gaps)), icon=":material/warning:")
    st.dataframe(gaps, hide_index=True)
    downloads(gaps, f"missing_{f.year}Q{f.quarter}", "coverage_missing")
st.page_link("pages/upload.py", label=t("go_upload"), icon=":material/upload_file:")

st.subheader(t("months_header", year=t.year(f.year)))
st.caption(t("legend"))
months = grid_frame(cov.month_grid(f.quarter), lambda m: t("col_month", m=m))
st.dataframe(months, hide_index=True)
downloads(months, f"coverage_months_{f.year}", "coverage_months")

st.subheader(t("quarters_header", year=t.year(f.year)))
quarters = grid_frame(cov.quarter_grid(f.quarter), lambda q: fmt_quarter_short(q, t.lang))
st.dataframe(quarters, hide_index=True)
downloads(quarters, f"coverage_quarters_{f.year}", "coverage_quarters")

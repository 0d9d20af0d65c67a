"""What every page shares: the engine (one per process) and the sidebar filters."""

from __future__ import annotations

import streamlit as st

from kpi.engine import Engine


@st.cache_resource
def engine() -> Engine:
    """One engine per server process; the sample year loads on a store's first start."""
    eng = Engine()
    eng.first_run()
    return eng


def sidebar(eng: Engine) -> None:
    """Year filter (ROC) and the local-mode notice."""
    years = eng.years()
    st.sidebar.selectbox("年度", years, index=len(years) - 1, key="year", format_func=lambda y: f"{y}年")
    st.sidebar.caption("本機單人模式：不需登入。")
    if eng.has_sample():
        st.sidebar.info("目前顯示範例資料（範例資料 / sample data）。")

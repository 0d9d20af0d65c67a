"""施政績效儀表板 — entry: page list and sidebar filters, nothing else."""

from __future__ import annotations

import streamlit as st

from pages.common import engine, sidebar

st.set_page_config(page_title="施政績效儀表板", page_icon="📊", layout="wide")

eng = engine()
sidebar(eng)
page = st.navigation([st.Page("pages/plan.py", title="計畫與指標", icon="🗂️", default=True)])
page.run()

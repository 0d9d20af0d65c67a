"""施政績效儀表板 — entry: page list, sidebar filters, language; nothing else."""

from __future__ import annotations

import logging

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from kpi.i18n import ZH
from pages.common import (
    ENTRY_FLAG,
    current_user,
    engine,
    login_form,
    page_title,
    sidebar,
    translator,
)

st.set_page_config(page_title="施政績效儀表板", page_icon="📊", layout="wide")

# (file, key, icon): the one list of pages; titles come from kpi.i18n in the chosen language.
PAGES = [
    ("pages/overview.py", "overview", ":material/dashboard:"),
    ("pages/goals.py", "goals", ":material/flag:"),
    ("pages/programs.py", "programs", ":material/account_tree:"),
    ("pages/budget.py", "budget", ":material/payments:"),
    ("pages/consular.py", "consular", ":material/badge:"),
    ("pages/visits.py", "visits", ":material/flight:"),
    ("pages/coverage.py", "coverage", ":material/fact_check:"),
    ("pages/upload.py", "upload", ":material/upload_file:"),
    ("pages/history.py", "history", ":material/history:"),
    ("pages/plan.py", "plan", ":material/library_books:"),
]

# True only on a fresh server's first run (see pages.common.require_entrypoint).
legacy_mode = bool(PagesManager.uses_pages_directory)
eng = engine()
st.session_state[ENTRY_FLAG] = True
# With a users file configured (KPI_USERS_FILE), nothing but the login form shows until
# someone logs in: no sidebar, no menu, no page.
user = current_user()
lang = sidebar(eng).lang if user is not None else st.session_state.get("lang", ZH)
nav = st.navigation(
    [
        st.Page(path, title=page_title(key, lang), icon=icon, url_path=key, default=(i == 0))
        for i, (path, key, icon) in enumerate(PAGES)
    ],
    position="sidebar" if user is not None else "hidden",
)
if legacy_mode:
    st.rerun()  # st.navigation has now switched Streamlit to it; draw the page afresh
if user is None:
    login_form(lang)
    st.stop()
try:
    nav.run()
except Exception:  # a page's bug must never show a user a traceback
    logging.getLogger("kpi.pages").exception("page %s failed", nav.url_path)
    st.error(translator()("error_page"))

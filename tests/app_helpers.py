"""Running the dashboard in AppTest: a store per test module, the app from dashboard.py.

Loading the sample year takes seconds, so each test process builds one sample store and
copies its SQLite file for every module that wants one.
"""

from __future__ import annotations

import ast
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import streamlit as st
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

from kpi.engine import Engine
from kpi.i18n import ZH
from kpi.paths import ROOT
from kpi.store import Store

_templates: dict[bool, Path] = {}


def page_list() -> list[tuple[str, str, str]]:
    """(file, url key, icon) of every page, read from dashboard.py without running it."""
    tree = ast.parse((ROOT / "dashboard.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "PAGES" for t in node.targets
        ):
            return ast.literal_eval(node.value)
    raise AssertionError("dashboard.py has no PAGES list")


def store_url(tmp_path_factory: pytest.TempPathFactory, sample: bool = True) -> str:
    """A fresh SQLite store: with the sample year, or empty (first start already done)."""
    if sample not in _templates:
        path = tmp_path_factory.mktemp("template") / "kpi.sqlite3"
        store = Store(f"sqlite:///{path}")
        if sample:
            Engine(store).first_run()
        else:
            store.claim_meta("initialised", "sample")
        store.dispose()
        _templates[sample] = path
    target = tmp_path_factory.mktemp("store") / "kpi.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        src = Path(f"{_templates[sample]}{suffix}")
        if src.exists():
            shutil.copy(src, f"{target}{suffix}")
    return f"sqlite:///{target}"


@contextmanager
def app_store(url: str) -> Iterator[Engine]:
    """Point the app (KPI_DATABASE_URL) at a store; the engine the tests check it with.

    The app's own engine is st.cache_resource, which is process-wide: cleared on the
    way in and out so no module sees another's store.
    """
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KPI_DATABASE_URL", url)
        # With a pages/ folder next to the main script, each AppTest run starts in
        # Streamlit's old multipage mode, which runs a page file whose name equals its
        # url_path directly, without dashboard.py (no sidebar). A real server leaves that
        # mode at the first st.navigation call; keep the tests in the navigation mode.
        original = PagesManager.__init__

        def init(self, *args, **kwargs) -> None:
            original(self, *args, **kwargs)
            PagesManager.uses_pages_directory = False

        mp.setattr(PagesManager, "__init__", init)
        st.cache_resource.clear()
        st.cache_data.clear()
        store = Store(url)
        try:
            yield Engine(store)
        finally:
            store.dispose()
            st.cache_resource.clear()
            st.cache_data.clear()


def open_page(page: str | None = None, lang: str = ZH, **state: object) -> AppTest:
    """The app from dashboard.py (sidebar, navigation), in a language, on a page (pages/x.py).

    The page is chosen before the first run: AppTest then names it by its file name, which
    is its url_path here, so the default page is not computed first for nothing.
    """
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=90)
    at.session_state["lang"] = lang
    for key, value in state.items():
        at.session_state[key] = value
    if page is not None:
        at.switch_page(page)
    return at.run()


def errors(at: AppTest) -> list[str]:
    """Every exception and st.error the run produced (a clean page has none)."""
    return [e.value for e in at.exception] + [e.value for e in at.error]


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]

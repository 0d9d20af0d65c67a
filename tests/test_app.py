"""The dashboard runs (AppTest): the plan page on an empty store and on the sample year."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from kpi.paths import ROOT
from kpi.plan import load_bundled_plan


@pytest.fixture
def app_db(tmp_path, monkeypatch):
    monkeypatch.setenv("KPI_DATABASE_URL", f"sqlite:///{tmp_path / 'app.sqlite3'}")
    # Each test gets its own engine (st.cache_resource is process-wide).
    import streamlit as st

    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


def test_plan_page_shows_the_plan_tree_and_the_sample_notice(app_db):
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60).run()
    assert not at.exception
    plan = load_bundled_plan()
    assert at.title[0].value.startswith(f"{plan.year}年度施政計畫")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {"施政目標": "7", "策略": "22", "工作計畫": "5", "重要計畫項目": "11", "實施內容": "42"}
    labels = [e.label for e in at.expander]
    assert f"G1　{plan.goals[0].title}" in labels
    assert "領事事務管理" in labels
    assert any("範例資料" in i.value for i in at.sidebar.info)
    assert any("本機單人模式" in c.value for c in at.sidebar.caption)


def test_plan_page_without_sample_data(app_db):
    from kpi.engine import Engine

    eng = Engine()
    eng.first_run()
    eng.remove_sample()
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60).run()
    assert not at.exception
    assert not at.sidebar.info
    assert at.metric[0].value == "7"

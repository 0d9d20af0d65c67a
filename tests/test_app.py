"""The dashboard runs (AppTest from dashboard.py): every page, on an empty store, on the
sample year, with a program filter and in English, without an exception or an error box."""

from __future__ import annotations

import pytest

from kpi.i18n import EN
from kpi.plan import load_bundled_plan
from tests.app_helpers import app_store, errors, open_page, page_list, store_url

PAGES = page_list()
PAGE_FILES = [path for path, _, _ in PAGES]


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    with app_store(store_url(tmp_path_factory, sample=True)) as eng:
        yield eng


@pytest.fixture(scope="module")
def empty(tmp_path_factory):
    with app_store(store_url(tmp_path_factory, sample=False)) as eng:
        yield eng


def test_the_navigation_lists_every_page_under_its_url_key():
    keys = [key for _, key, _ in PAGES]
    assert keys == [
        "overview",
        "goals",
        "programs",
        "budget",
        "consular",
        "visits",
        "coverage",
        "upload",
        "history",
        "plan",
    ]


def test_every_page_runs_on_the_sample_year(sample):
    at = open_page()
    assert errors(at) == []
    assert any("範例資料" in i.value for i in at.sidebar.info)
    assert any("本機單人模式" in c.value for c in at.sidebar.caption)
    for page in PAGE_FILES:
        at.switch_page(page).run()
        assert errors(at) == [], page
        assert at.title, page


def test_every_page_runs_with_a_program_filter_in_english(sample):
    program = load_bundled_plan().programs[-1].name
    at = open_page(lang=EN)
    at.sidebar.multiselect(key="programs").set_value([program]).run()
    for page in PAGE_FILES:
        at.switch_page(page).run()
        assert errors(at) == [], page
        assert at.session_state["programs"] == [program]
        assert at.session_state["lang"] == EN


def test_every_page_runs_on_an_empty_store(empty):
    at = open_page()
    assert errors(at) == []
    assert not at.sidebar.info  # no sample notice
    for page in PAGE_FILES:
        at.switch_page(page).run()
        assert errors(at) == [], page

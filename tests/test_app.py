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


def test_a_chart_is_built_once_per_store_version_and_filters(tmp_path_factory, monkeypatch):
    import plotly.io as pio

    from kpi import charts, sample

    built: list[str] = []
    original = charts.bars

    def counting(*args, **kwargs):
        built.append(args[3])  # the title
        return original(*args, **kwargs)

    monkeypatch.setattr(charts, "bars", counting)
    with app_store(store_url(tmp_path_factory, sample=True)) as eng:
        at = open_page("pages/consular.py")
        first = at.get_by_key("days_by_region").proto.spec
        assert len(built) == 2  # by region and by mission
        # The same view again: drawn from the cache, exactly as built.
        at.run()
        assert len(built) == 2 and at.get_by_key("days_by_region").proto.spec == first
        # A valid figure (from_json validates it), the bars still horizontal.
        assert pio.from_json(first).data[0].orientation == "h"
        # Another language, then new data: built again.
        at.session_state["lang"] = EN
        at.run()
        assert len(built) == 4 and "Average processing days by region" in built[-2]
        eng.store.import_frames(
            {"visa": sample.visa_frame(rows_target=200)}, file_name="v.xlsx", content=b"v"
        )
        at.run()
        assert len(built) == 6
        assert errors(at) == []

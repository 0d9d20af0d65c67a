"""計畫與指標 page (AppTest from dashboard.py): the plan tree, the catalogue and its targets,
a target revision through the page, loading another year's plan; Engine.set_target."""

from __future__ import annotations

import pytest

from kpi.engine import bundled_source
from kpi.i18n import EN
from kpi.plan import load_bundled_plan
from kpi.store import StoreError
from pages.common import md_escape
from tests.app_helpers import app_store, errors, open_page, store_url

PAGE = "pages/plan.py"
PLAN = load_bundled_plan()


@pytest.fixture(scope="module")
def eng(tmp_path_factory):
    with app_store(store_url(tmp_path_factory, sample=True)) as engine:
        yield engine


def _kpi(eng, kpi: str, quarter: int, year: int = 108):
    return next(k for k in eng.status(year, quarter).kpis if k.id == kpi)


def _table(at, column: str):
    return next(df.value for df in at.dataframe if column in df.value.columns)


def test_the_page_shows_the_plan_counts_and_every_goal(eng):
    at = open_page(PAGE, year=PLAN.year)
    assert errors(at) == []
    assert at.title[0].value == "108年度施政計畫\u3000外交部"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {
        "施政目標": "7",
        "策略": "22",
        "工作計畫": "5",
        "重要計畫項目": "11",
        "實施內容": "42",
    }
    labels = [e.label for e in at.expander]
    for goal in PLAN.goals:
        assert md_escape(f"{goal.id}\u3000{goal.title}") in labels
    for program in PLAN.programs:
        assert md_escape(program.name) in labels
    # Strategies and actions are shown as text, exactly as the plan writes them.
    texts = {t.value for t in at.text}
    assert f"{PLAN.goals[0].strategies[0].id}\u3000{PLAN.goals[0].strategies[0].title}" in texts
    first = PLAN.programs[0].items[0].actions[0]
    assert f"{first.number}. {first.text}" in texts


def test_the_catalogue_lists_every_indicator_with_its_quarterly_targets(eng):
    at = open_page(PAGE, year=PLAN.year)
    table = _table(at, "第1季目標")
    assert list(table["代碼"]) == list(eng.catalog.ids)
    k11 = table[table["代碼"] == "K1.1"].iloc[0]
    assert [k11[f"第{q}季目標"] for q in (1, 2, 3, 4)] == ["10", "20", "30", "40"]
    k72 = table[table["代碼"] == "K7.2"].iloc[0]
    assert k72["第4季目標"] == "90.0%"
    assert k72["工作計畫"] == "全部工作計畫"


def test_the_page_in_english_shows_ad_years_and_english_labels(eng):
    at = open_page(PAGE, lang=EN, year=PLAN.year)
    assert errors(at) == []
    assert at.title[0].value == "2019 administrative plan — 外交部"
    assert {m.label for m in at.metric} == {
        "Goals",
        "Strategies",
        "Work programs",
        "Key plan items",
        "Actions",
    }
    assert [t.label for t in at.tabs] == [
        "Plan",
        "Indicators and targets",
        "Revise targets",
        "Load a plan",
    ]
    assert "Q1 target" in _table(at, "Q1 target").columns


def test_a_target_revision_through_the_page_changes_the_figures_and_is_listed(eng):
    assert _kpi(eng, "K1.1", 2).target == 20
    at = open_page(PAGE, year=PLAN.year)
    at.selectbox(key="target_kpi").set_value("K1.1")
    at.selectbox(key="target_quarter").set_value(2).run()
    at.number_input(key="target_value_K1.1_2").set_value(25.0)
    at.text_area(key="target_reason").input("院會核定調高第2季目標")
    at.button(key="target_save").click().run()
    assert errors(at) == []
    assert "由 20 改為 25" in at.success[0].value
    assert _kpi(eng, "K1.1", 2).target == 25
    revisions = _table(at, "修訂原因")
    row = revisions[revisions["代碼"] == "K1.1"].iloc[-1]
    assert (row["季別"], row["原目標值"], row["新目標值"], row["修訂原因"]) == (
        "108年第2季",
        "20",
        "25",
        "院會核定調高第2季目標",
    )
    catalogue = _table(at, "第2季目標")
    assert catalogue[catalogue["代碼"] == "K1.1"].iloc[0]["第2季目標"] == "25（原訂 20）"
    assert "target_set" in set(eng.store.audit_log()["action"])


def test_a_target_revision_without_a_reason_is_refused_and_stores_nothing(eng):
    before = len(eng.store.target_revisions(108))
    at = open_page(PAGE, year=PLAN.year)
    at.selectbox(key="target_kpi").set_value("K3.1").run()
    at.number_input(key="target_value_K3.1_1").set_value(15.0)
    at.button(key="target_save").click().run()
    assert [e.value for e in at.error] == ["目標值未儲存：請填寫修訂原因。"]
    assert len(eng.store.target_revisions(108)) == before


def test_a_percent_target_is_entered_in_percent(eng):
    at = open_page(PAGE, year=PLAN.year)
    at.selectbox(key="target_kpi").set_value("K6.2")
    at.selectbox(key="target_quarter").set_value(4).run()
    assert at.number_input(key="target_value_K6.2_4").value == pytest.approx(30.0)
    at.number_input(key="target_value_K6.2_4").set_value(35.0)
    at.text_area(key="target_reason").input("電子簽證推廣")
    at.button(key="target_save").click().run()
    assert errors(at) == []
    assert _kpi(eng, "K6.2", 4).target == pytest.approx(0.35)


# -- Engine.set_target ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kpi", "quarter", "value", "reason", "message"),
    [
        ("K9.9", 1, 10, "x", "There is no indicator 'K9.9' in the catalogue."),
        ("K1.1", 5, 10, "x", "The quarter must be 1 to 4, not '5'."),
        ("K1.1", 1, 10, "  ", "Give the reason for the revision."),
        ("K1.1", 1, -3, "x", "The target must be a number greater than 0."),
        ("K1.1", 1, float("nan"), "x", "The target must be a number greater than 0."),
        ("K6.2", 1, 30, "x", "A ratio target cannot exceed 100% (1 as a fraction)."),
        ("K3.1", 1, 12, "x", "The new target equals the current one; nothing changed."),
        ("K3.1", 2, 11, "x", "Cumulative targets cannot fall from one quarter to the next"),
    ],
)
def test_set_target_refuses_bad_revisions_with_a_sentence(
    eng, kpi, quarter, value, reason, message
):
    before = len(eng.store.target_revisions())
    with pytest.raises(StoreError) as exc:
        eng.set_target(kpi, 108, quarter, value, reason)
    assert exc.value.message_en.startswith(message)
    assert exc.value.message_zh
    assert len(eng.store.target_revisions()) == before


def test_set_target_records_old_and_new_and_returns_the_old_target(eng):
    assert eng.set_target("K5.1", 108, 4, 5200, "年度目標上修") == 5000
    revs = eng.store.target_revisions(108, "K5.1")
    assert (revs.iloc[-1]["old"], revs.iloc[-1]["new"], revs.iloc[-1]["who"]) == (
        5000,
        5200,
        "local",
    )
    assert eng.set_target("K5.1", 108, 4, 5100, "再調整") == 5200


# -- loading a plan ------------------------------------------------------------------------


@pytest.fixture
def loader(tmp_path_factory):
    """A store of its own: a loaded plan adds a year to every page's year list."""
    with app_store(store_url(tmp_path_factory, sample=True)) as engine:
        yield engine


def _upload(at, name: str, content: bytes):
    at.file_uploader(key="plan_file").set_value((name, content, "text/plain")).run()


def test_loading_another_years_plan_shows_it_first_then_stores_it(loader):
    text = bundled_source().replace("108", "109")
    at = open_page(PAGE, year=PLAN.year)
    _upload(at, "109_外交部.txt", text.encode("utf-8"))
    assert errors(at) == []
    assert any(s.value == "解析結果：109年度施政計畫\u3000外交部" for s in at.success)
    assert loader.store.plan_source(109) is None  # nothing stored before the confirmation
    at.button(key="plan_store").click().run()
    assert errors(at) == []
    assert loader.store.plan_source(109) is not None
    assert loader.plan(109).counts() == PLAN.counts()
    assert any("已儲存109年度施政計畫" in s.value for s in at.success)
    assert "109年" in at.sidebar.selectbox(key="year").options


def test_loading_a_big5_plan_works(loader):
    text = bundled_source().replace("108", "110")
    at = open_page(PAGE, year=PLAN.year)
    _upload(at, "plan.txt", text.encode("cp950", errors="replace"))
    assert any("110年度施政計畫" in s.value for s in at.success)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"PK\x03\x04\x00\x00binary", "Big5 編碼的文字檔"),
        (b"", "檔案是空的"),
        ("只有一段文字，不是施政計畫。".encode(), "找不到「壹、年度施政目標及策略」段落"),
    ],
)
def test_a_file_that_is_not_a_plan_gets_a_clear_message_and_stores_nothing(
    loader, content, message
):
    years = loader.store.plan_years()
    at = open_page(PAGE, year=PLAN.year)
    _upload(at, "x.txt", content)
    assert not at.exception
    assert len(at.error) == 1 and message in at.error[0].value
    assert not [b for b in at.button if b.key == "plan_store"]
    assert loader.store.plan_years() == years

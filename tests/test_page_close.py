"""Pages of a closed quarter (AppTest from dashboard.py): the caption that says so, the
figures as reported at the close beside current ones that moved, original targets beside
revised ones, the closes in the audit log, and a target of a closed quarter refused."""

from __future__ import annotations

import pytest

from kpi.i18n import EN
from tests.app_helpers import app_store, errors, open_page, store_url
from tests.workbooks import xlsx_bytes

YEAR = 108
K41_FIX = xlsx_bytes(
    {
        "指標填報": [
            ["指標代碼", "年度", "季別", "實際值", "說明"],
            ["K4.1", YEAR, "第1季", 60, "更正：漏報 12 場"],
        ]
    }
)


@pytest.fixture(scope="module")
def eng(tmp_path_factory):
    """The sample year; 108 Q1 closed, reopened and corrected (K4.1 48 → 60); Q3 closed as
    it is; the K4.1 Q2 target revised 100 → 110."""
    with app_store(store_url(tmp_path_factory, sample=True)) as engine:
        engine.close_quarter(YEAR, 1)
        engine.reopen_quarter(YEAR, 1, "NGO 場次漏報")
        assert engine.import_bytes(K41_FIX, "fix.xlsx").status == "imported"
        engine.set_target("K4.1", YEAR, 2, 110, "院會核定")
        engine.close_quarter(YEAR, 3)
        yield engine


def _table(at, column: str):
    return next(df.value for df in at.dataframe if column in df.value.columns)


def _captions(at) -> list[str]:
    return [c.value for c in at.caption]


def test_the_overview_shows_what_was_reported_beside_what_is_current(eng):
    at = open_page("pages/overview.py", year=YEAR, quarter=1)
    assert errors(at) == []
    assert any("本季曾於" in c and "解除鎖定" in c and "NGO 場次漏報" in c for c in _captions(at))
    revised = _table(at, "結算時實際值")
    assert list(revised["代碼"]) == ["K4.1"]
    row = revised.iloc[0]
    assert (row["結算時實際值"], row["累計實際值"]) == ("48", "60")
    assert (row["結算時燈號"], row["燈號"]) == ("🟡 黃燈", "🟢 綠燈")
    # The indicator's card and its goal carry the as-reported figures too.
    assert "結算時 48／50\u3000🟡 黃燈" in _captions(at)
    assert "結算時 96.0%\u3000🟡 黃燈" in _captions(at)


def test_a_closed_quarter_without_revisions_only_says_it_is_closed(eng):
    at = open_page("pages/overview.py", year=YEAR, quarter=3)
    assert errors(at) == []
    assert any(c.startswith(":material/lock: 本季已於") for c in _captions(at))
    assert not any("結算時實際值" in df.value.columns for df in at.dataframe)
    assert not any(c.startswith("結算時") for c in _captions(at))


def test_an_open_quarter_never_closed_has_no_caption(eng):
    at = open_page("pages/overview.py", year=YEAR, quarter=4)
    assert errors(at) == []
    assert not any("結算" in c for c in _captions(at))


def test_the_overview_shows_the_original_target_beside_the_revised_one(eng):
    at = open_page("pages/overview.py", year=YEAR, quarter=2)
    assert errors(at) == []
    assert "原目標 100 場次（已修正）" in _captions(at)


def test_the_goals_page_shows_as_reported_and_original_targets_by_quarter(eng):
    at = open_page("pages/goals.py", year=YEAR, quarter=1, goal="G4")
    assert errors(at) == []
    assert any("本季曾於" in c for c in _captions(at))
    assert "結算時：達成度 96.0%\u3000🟡 黃燈" in _captions(at)
    (table,) = [t.value for t in at.table if "結算時實際值" in t.value.columns]
    assert list(table["結算時實際值"]) == ["48", "", "", ""]
    assert list(table["累計實際值"])[0] == "60"
    assert list(table["原目標值"]) == ["", "100", "", ""]
    assert list(table["累計目標值"])[1] == "110"


def test_english_pages_say_so_in_english(eng):
    at = open_page("pages/overview.py", lang=EN, year=YEAR, quarter=3)
    assert errors(at) == []
    assert any("This quarter was closed on" in c for c in _captions(at))


def test_the_history_page_labels_closes_and_reopens(eng):
    at = open_page("pages/history.py")
    assert errors(at) == []
    actions = list(_table(at, "動作")["動作"])
    assert actions.count("季別結算（期末鎖定）") == 2
    assert actions.count("解除季別鎖定") == 1


def test_a_target_of_a_closed_quarter_is_refused_on_the_plan_page(eng):
    before = len(eng.store.target_revisions(YEAR))
    at = open_page("pages/plan.py", year=YEAR)
    at.selectbox(key="target_kpi").set_value("K3.1")
    at.selectbox(key="target_quarter").set_value(3).run()
    at.number_input(key="target_value_K3.1_3").set_value(40.0)
    at.text_area(key="target_reason").input("調整")
    at.button(key="target_save").click().run()
    assert len(at.error) == 1 and "108年第3季已結算" in at.error[0].value
    assert len(eng.store.target_revisions(YEAR)) == before


def test_removing_the_sample_year_with_a_closed_quarter_says_why_and_removes_nothing(eng):
    batches = eng.store.batches()
    at = open_page("pages/overview.py", year=YEAR, quarter=1)
    at.button(key="remove_sample").click().run()
    assert len(at.error) == 1 and "108年第3季已結算" in at.error[0].value
    assert not at.exception
    assert eng.store.batches() == batches


def test_the_programs_page_says_the_quarter_is_closed_and_shows_original_targets(eng):
    at = open_page("pages/programs.py", year=YEAR, quarter=2, program="國際會議及交流")
    assert errors(at) == []
    (table,) = [t.value for t in at.table if "原目標值" in t.value.columns]
    row = table[table["代碼"] == "K4.1"].iloc[0]
    assert (row["累計目標值"], row["原目標值"]) == ("110", "100")
    at = open_page("pages/programs.py", year=YEAR, quarter=3, program="國際會議及交流")
    assert any("本季已於" in c and "全機關" in c for c in _captions(at))

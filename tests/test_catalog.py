"""The indicator catalogue: the bundled kpis.yaml, validation errors, achievement and lights."""

from __future__ import annotations

import copy
import math

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from kpi.catalog import (
    DEFAULT_CATALOG_PATH,
    LIGHT_COLOURS,
    LIGHT_EN,
    LIGHT_SYMBOLS,
    LIGHT_ZH,
    LIGHTS,
    CatalogError,
    Thresholds,
    achievement,
    catalog_from_dict,
    find_indicator,
    light,
    load_catalog,
    rollup,
)
from kpi.plan import load_bundled_plan

RAW = yaml.safe_load(DEFAULT_CATALOG_PATH.read_text(encoding="utf-8"))
RANK = {"red": 0, "yellow": 1, "green": 2}


def test_bundled_catalogue():
    catalog = load_catalog()
    assert catalog.ids == (
        "K1.1",
        "K2.1",
        "K3.1",
        "K4.1",
        "K5.1",
        "K6.1",
        "K6.2",
        "K6.3",
        "K7.1",
        "K7.2",
    )
    assert catalog.thresholds == Thresholds(1.0, 0.9)
    assert catalog.cap == 1.2
    assert load_catalog() is catalog  # cached


def test_bundled_targets_match_the_spec():
    catalog = load_catalog()
    expected = {
        "K1.1": (10, 20, 30, 40),
        "K2.1": (30, 60, 90, 120),
        "K3.1": (12, 24, 36, 48),
        "K4.1": (50, 100, 150, 200),
        "K5.1": (1250, 2500, 3750, 5000),
        "K6.1": (125000, 250000, 375000, 500000),
        "K6.2": (0.3,) * 4,
        "K6.3": (5,) * 4,
        "K7.1": (0.9,) * 4,
        "K7.2": (0.9,) * 4,
    }
    assert {i.id: i.targets_for(108) for i in catalog.indicators} == expected


def test_bundled_formulas():
    catalog = load_catalog()
    k11 = catalog.indicator("K1.1").formula.numerator
    assert (k11.measure, k11.ally, k11.filters) == (
        "count",
        True,
        {"type": ("來訪", "出訪"), "level": ("元首", "副元首", "閣揆", "部長")},
    )
    k21 = catalog.indicator("K2.1").formula.numerator
    assert k21.ally is False and "國會議員" in k21.filters["level"]
    k63 = catalog.indicator("K6.3")
    assert k63.direction == "lower" and k63.kind == "ratio"
    assert k63.formula.numerator.fields == ("avg_days", "issued")
    assert k63.formula.numerator.reported == "avg_days" == k63.formula.denominator.reported
    k71 = catalog.indicator("K7.1")
    assert k71.all_programs and k71.formula.at == "quarter_end"
    assert k71.formula.numerator.field == "executed" and k71.formula.denominator.field == "allotted"
    assert k71.formula.numerator.filters == {"kind": ("資本門",)}
    assert catalog.indicator("K7.2").formula.numerator.where == {}
    assert [i.id for i in catalog.indicators if i.kind == "ratio"] == [
        "K6.2",
        "K6.3",
        "K7.1",
        "K7.2",
    ]
    assert {i.formula.dataset for i in catalog.indicators if i.id in ("K4.1", "K5.1")} == {
        "kpi_values"
    }
    assert all(i.weight == 1 for i in catalog.indicators)


def test_catalogue_links_exist_in_the_bundled_plan():
    assert load_catalog().problems_with(load_bundled_plan()) == ()


def test_for_programs():
    catalog = load_catalog()
    ids = lambda inds: [i.id for i in inds]  # noqa: E731
    assert ids(catalog.for_programs(["領事事務管理"])) == ["K6.1", "K6.2", "K6.3", "K7.1", "K7.2"]
    assert ids(catalog.for_programs(["一般行政"])) == ["K7.1", "K7.2"]
    assert ids(catalog.for_programs(["外交管理業務", "營建工程"])) == ["K5.1", "K7.1", "K7.2"]
    assert catalog.for_programs([]) == catalog.indicators
    assert ids(catalog.for_goal("G6")) == ["K6.1", "K6.2", "K6.3"]


def test_targets_for_other_years():
    raw = copy.deepcopy(RAW)
    raw["indicators"][0]["targets"] = {108: [10, 20, 30, 40], 110: [12, 24, 36, 48]}
    k11 = catalog_from_dict(raw).indicator("K1.1")
    assert k11.targets_for(109) == (10, 20, 30, 40)  # nearest earlier year
    assert k11.targets_for(111) == (12, 24, 36, 48)
    assert k11.targets_for(107) == (10, 20, 30, 40)  # none earlier: the earliest
    assert k11.targets_for(2021) == (12, 24, 36, 48)  # AD years are read as ROC
    assert k11.target(110, 2) == 24


def test_with_targets():
    catalog = load_catalog()
    changed = catalog.with_targets("K1.1", 109, [11, 22, 33, 44])
    assert changed.indicator("K1.1").targets_for(109) == (11, 22, 33, 44)
    assert changed.indicator("K1.1").targets_for(108) == (10, 20, 30, 40)
    assert catalog.indicator("K1.1").targets_for(109) == (
        10,
        20,
        30,
        40,
    )  # the original is untouched
    with pytest.raises(CatalogError, match="K1.1.*減少"):
        catalog.with_targets("K1.1", 109, [10, 5, 30, 40])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("K4.1", "K4.1"),
        ("k4.1", "K4.1"),
        (" Ｋ４．１ ", "K4.1"),
        ("協助NGO參與國際活動場次", "K4.1"),
        ("協助ＮＧＯ參與國際活動場次", "K4.1"),
        ("國際傳播觸及人次（萬）", "K5.1"),
        ("國際傳播觸及人次", "K5.1"),
        ("Visas issued", "K6.1"),
        ("visas  ISSUED", "K6.1"),
        ("K9.9", None),
        ("", None),
    ],
)
def test_find_indicator(text, expected):
    assert find_indicator(text) == expected


# --- validation -------------------------------------------------------------------------


def _indicator(raw, ind_id):
    return next(i for i in raw["indicators"] if i["id"] == ind_id)


def _set(ind_id, key, value):
    def mangle(raw):
        _indicator(raw, ind_id)[key] = value

    return mangle


def _formula(ind_id, path, value):
    def mangle(raw):
        node = _indicator(raw, ind_id)["formula"]
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = value

    return mangle


def _delete(ind_id, key):
    def mangle(raw):
        del _indicator(raw, ind_id)[key]

    return mangle


def _duplicate(raw):
    raw["indicators"].append(copy.deepcopy(raw["indicators"][0]))


def _thresholds(raw):
    raw["thresholds"] = {"green": 0.9, "yellow": 1.0}


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        pytest.param(
            _formula("K1.1", ["dataset"], "trips"),
            "指標 K1.1：不認得的資料集「trips」",
            id="unknown-dataset",
        ),
        pytest.param(
            _formula("K6.1", ["numerator", "field"], "issues"),
            "指標 K6.1 numerator：資料集 visa 沒有欄位「issues」",
            id="unknown-field",
        ),
        pytest.param(
            _formula("K6.1", ["numerator", "field"], "mission"),
            "K6.1.*「mission」不是數值",
            id="sum-of-text",
        ),
        pytest.param(
            _formula("K7.1", ["numerator", "where"], {"kinds": ["資本門"]}),
            "K7.1.*沒有欄位「kinds」",
            id="unknown-filter-field",
        ),
        pytest.param(
            _formula("K1.1", ["numerator", "where", "level"], ["總理"]),
            "K1.1.*「總理」不是可用的選項",
            id="unknown-choice",
        ),
        pytest.param(
            _formula("K6.1", ["numerator", "where"], {"ally": True}),
            "K6.1.*ally 條件只適用於 visits",
            id="ally-outside-visits",
        ),
        pytest.param(
            _formula("K1.1", ["numerator", "where", "ally"], "yes"),
            "K1.1.*ally 應為 true 或 false",
            id="ally-not-bool",
        ),
        pytest.param(
            _formula("K6.3", ["numerator", "fields"], ["avg_days"]),
            "K6.3.*weighted 需要 fields",
            id="weighted-one-field",
        ),
        pytest.param(
            _formula("K1.1", ["numerator", "measure"], "average"),
            "K1.1.*measure 應為",
            id="bad-measure",
        ),
        pytest.param(
            _formula("K6.2", ["denominator"], None),
            "K6.2.*需要 denominator",
            id="ratio-without-denominator",
        ),
        pytest.param(
            _formula("K6.1", ["denominator"], {"measure": "sum", "field": "issued"}),
            "K6.1.*不應有 denominator",
            id="additive-with-denominator",
        ),
        pytest.param(
            _formula("K6.1", ["at"], "quarter_end"),
            "K6.1.*只適用於累計報表 budget",
            id="at-outside-budget",
        ),
        pytest.param(
            _formula("K7.1", ["at"], "month_end"), "K7.1.*at 只能是 quarter_end", id="bad-at"
        ),
        pytest.param(_delete("K1.1", "targets"), "指標 K1.1：缺少 targets", id="missing-targets"),
        pytest.param(
            _set("K1.1", "targets", {108: [10, 20, 30]}),
            "指標 K1.1：108年度的目標值需要 4 個",
            id="three-targets",
        ),
        pytest.param(
            _set("K1.1", "targets", {108: [10, 20, "三十", 40]}),
            "K1.1.*必須都是數字",
            id="non-numeric-target",
        ),
        pytest.param(
            _set("K1.1", "targets", {108: [10, 20, 15, 40]}),
            "指標 K1.1：108年度的累計目標不可逐季減少",
            id="decreasing-targets",
        ),
        pytest.param(_set("K1.1", "goal", "1"), "指標 K1.1：goal「1」格式不對", id="goal-format"),
        pytest.param(
            _set("K1.1", "strategy", "G1-S1"),
            "K1.1.*strategy「G1-S1」格式不對",
            id="strategy-format",
        ),
        pytest.param(
            _set("K1.1", "strategy", "G2.S1"),
            "K1.1.*strategy G2.S1 不屬於 goal G1",
            id="strategy-other-goal",
        ),
        pytest.param(_duplicate, "指標 K1.1：id 重複", id="duplicate-id"),
        pytest.param(_set("K1.1", "id", "1.1"), "id「1.1」無效", id="bad-id"),
        pytest.param(
            _set("K1.1", "direction", "up"),
            "指標 K1.1：direction 應為 higher 或 lower",
            id="bad-direction",
        ),
        pytest.param(_thresholds, "燈號門檻順序不對", id="thresholds-out-of-order"),
        pytest.param(_set("K1.1", "weight", 0), "指標 K1.1：weight 必須是大於 0", id="zero-weight"),
        pytest.param(_set("K1.1", "weight", -1), "K1.1.*weight 必須是大於 0", id="negative-weight"),
        pytest.param(_set("K1.1", "weight", True), "K1.1.*weight", id="bool-weight"),
        pytest.param(
            _set("K1.1", "kind", "sum"), "K1.1.*kind 應為 additive 或 ratio", id="bad-kind"
        ),
        pytest.param(
            _delete("K6.1", "kind"),
            "指標 K6.1：缺少 kind：.*kind: additive.*kind: ratio",
            id="no-kind",
        ),
        pytest.param(
            _set("K6.2", "kind", "additive"),
            "K6.2.*累加指標（kind: additive）不應有 denominator",
            id="ratio-declared-additive",
        ),
        pytest.param(
            _formula("K6.2", ["denominator"], None),
            "K6.2.*比率指標（kind: ratio）需要 denominator",
            id="ratio-without-denominator",
        ),
        pytest.param(_set("K1.1", "format", "money"), "K1.1.*format 應為", id="bad-format"),
        pytest.param(
            _set("K1.1", "programs", []), "K1.1.*programs 應列出工作計畫名稱", id="no-programs"
        ),
        pytest.param(
            _set("K1.1", "name", {"zh": "友邦高層互訪團次"}),
            "K1.1.*名稱 name的英文 en",
            id="name-without-en",
        ),
        pytest.param(_set("K1.1", "taregts", {}), "K1.1.*不認得的設定「taregts」", id="typo-key"),
        pytest.param(
            _formula("K1.1", ["numerator", "feild"], "x"),
            "K1.1 numerator.*不認得的設定「feild」",
            id="typo-measure-key",
        ),
    ],
)
def test_validation_errors_name_indicator_and_problem(mangle, message):
    raw = copy.deepcopy(RAW)
    mangle(raw)
    with pytest.raises(CatalogError, match=message):
        catalog_from_dict(raw)


def test_decreasing_targets_allowed_for_ratios():
    raw = copy.deepcopy(RAW)
    _indicator(raw, "K6.2")["targets"] = {108: [0.4, 0.35, 0.3, 0.3]}
    assert catalog_from_dict(raw).indicator("K6.2").targets_for(108) == (0.4, 0.35, 0.3, 0.3)


def test_every_bundled_indicator_declares_its_kind_as_issue_7_lists_it():
    kinds = {i.id: i.kind for i in load_catalog().indicators}
    additive = ["K1.1", "K2.1", "K3.1", "K4.1", "K5.1", "K6.1"]
    assert kinds == {
        **dict.fromkeys(additive, "additive"),
        **dict.fromkeys(["K6.2", "K6.3", "K7.1", "K7.2"], "ratio"),
    }


def test_a_reported_value_may_be_a_ratio_without_a_denominator():
    # An office may report a rate it computed itself (a satisfaction rate, say).
    raw = copy.deepcopy(RAW)
    k51 = _indicator(raw, "K5.1")
    k51["kind"] = "ratio"
    k51["targets"] = {108: [0.8, 0.8, 0.8, 0.8]}
    assert catalog_from_dict(raw).indicator("K5.1").kind == "ratio"


def test_weight_defaults_to_one_and_may_be_set():
    raw = copy.deepcopy(RAW)
    _indicator(raw, "K1.1")["weight"] = 2.5
    assert catalog_from_dict(raw).indicator("K1.1").weight == 2.5


def test_load_catalog_from_a_file(tmp_path):
    good = tmp_path / "kpis.yaml"
    good.write_text(DEFAULT_CATALOG_PATH.read_text(encoding="utf-8"), encoding="utf-8")
    assert load_catalog(good).ids == load_catalog().ids
    bad = tmp_path / "broken.yaml"
    bad.write_text("indicators: [unclosed", encoding="utf-8")
    with pytest.raises(CatalogError, match="broken.yaml 不是有效的 YAML"):
        load_catalog(bad)
    raw = copy.deepcopy(RAW)
    _indicator(raw, "K3.1")["direction"] = "sideways"
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(CatalogError, match="wrong.yaml：指標 K3.1：direction"):
        load_catalog(wrong)


def test_catalog_error_is_a_value_error():
    assert issubclass(CatalogError, ValueError)


# --- achievement and lights -------------------------------------------------------------


def test_light_names_have_one_source():
    assert LIGHTS == ("green", "yellow", "red", "white")
    assert LIGHT_ZH == {"green": "綠燈", "yellow": "黃燈", "red": "紅燈", "white": "白燈"}
    for table in (LIGHT_ZH, LIGHT_EN, LIGHT_COLOURS, LIGHT_SYMBOLS):
        assert tuple(table) == LIGHTS
    assert all(c.startswith("#") and len(c) == 7 for c in LIGHT_COLOURS.values())


@pytest.mark.parametrize(
    ("actual", "target", "direction", "expected"),
    [
        (40, 40, "higher", 1.0),
        (27, 30, "higher", 0.9),
        (0.81, 0.9, "higher", 0.9),
        (0.27, 0.3, "higher", 0.9),
        (60, 40, "higher", 1.5),
        (4, 5, "lower", 1.25),
        (5.5, 5, "lower", 5 / 5.5),
        (None, 40, "higher", None),
        (40, None, "higher", None),
        (float("nan"), 40, "higher", None),
        (10, 0, "higher", None),
        (0, 5, "lower", None),
        (0, 40, "higher", 0.0),
    ],
)
def test_achievement(actual, target, direction, expected):
    result = achievement(actual, target, direction)
    assert result == (None if expected is None else pytest.approx(expected))


def test_achievement_rejects_unknown_direction():
    with pytest.raises(ValueError):
        achievement(1, 1, "up")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1.2, "green"),
        (1.0, "green"),
        (math.nextafter(1.0, 0), "yellow"),
        (0.9, "yellow"),
        (math.nextafter(0.9, 0), "red"),
        (0.0, "red"),
        (None, "white"),
        (float("nan"), "white"),
    ],
)
def test_light_boundaries(value, expected):
    assert light(value) == expected


def test_light_uses_given_thresholds():
    assert light(0.85, Thresholds(green=0.95, yellow=0.8)) == "yellow"
    assert light(0.96, Thresholds(green=0.95, yellow=0.8)) == "green"
    assert light(0.79, Thresholds(green=0.95, yellow=0.8)) == "red"


def test_rollup():
    assert rollup([(1.5, 1), (0.8, 1)], cap=1.2) == pytest.approx(1.0)
    assert rollup([(1.0, 3), (0.6, 1), (None, 5)], cap=1.2) == pytest.approx(0.9)
    assert rollup([(None, 1)], cap=1.2) is None
    assert rollup([], cap=1.2) is None


POSITIVE = st.floats(min_value=1e-3, max_value=1e7, allow_nan=False, allow_infinity=False)
NON_NEGATIVE = st.floats(min_value=0, max_value=1e7, allow_nan=False, allow_infinity=False)


@given(NON_NEGATIVE, NON_NEGATIVE, POSITIVE)
def test_higher_is_better_is_monotonic(a, b, target):
    low, high = sorted((a, b))
    assert (
        RANK[light(achievement(low, target, "higher"))]
        <= RANK[light(achievement(high, target, "higher"))]
    )


@given(POSITIVE, POSITIVE, POSITIVE)
def test_lower_is_better_mirrors(a, b, target):
    low, high = sorted((a, b))
    assert (
        RANK[light(achievement(low, target, "lower"))]
        >= RANK[light(achievement(high, target, "lower"))]
    )


@given(POSITIVE)
def test_exactly_on_target_is_green_and_ninety_percent_is_yellow(target):
    assert light(achievement(target, target, "higher")) == "green"
    assert light(achievement(target, target, "lower")) == "green"
    assert light(achievement(target * 0.9, target, "higher")) == "yellow"
    assert light(achievement(target / 0.9, target, "lower")) == "yellow"
    assert light(achievement(target * 0.899, target, "higher")) == "red"


@given(st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=False)))
def test_light_is_always_a_known_light(value):
    assert light(value) in LIGHTS

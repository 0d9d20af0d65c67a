"""Early warning (預警): the year-end projection rules of kpi/projection.py, by example and by property."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from kpi.catalog import Thresholds
from kpi.projection import (
    CURRENT_RATE,
    PLAN_PACE,
    SEASONAL,
    needed_per_quarter,
    plan_pace,
    project,
    seasonal,
)

LINEAR = (10.0, 20.0, 30.0, 40.0)
BEFORE_Q4 = st.integers(1, 3)
AMOUNT = st.floats(0, 1e9, allow_nan=False, allow_infinity=False)
POSITIVE = st.floats(1e-3, 1e9, allow_nan=False, allow_infinity=False)


@st.composite
def cumulative_targets(draw) -> tuple[float, float, float, float]:
    """Four positive, non-decreasing cumulative targets (an additive indicator's plan)."""
    steps = [draw(POSITIVE) for _ in range(4)]
    out, total = [], 0.0
    for s in steps:
        total += s
        out.append(total)
    return tuple(out)


# -- examples ---------------------------------------------------------------------------------


def test_plan_pace_against_the_plans_own_profile():
    # Back-loaded plan: 10 of 100 due by Q1; 15 done is 150% of the pace.
    p = project("additive", "higher", 1, 15, (10, 40, 70, 100))
    assert (p.value, p.method) == (150, PLAN_PACE)
    assert (p.annual_target, p.achievement, p.light) == (100, 1.5, "green")
    assert p.needed_per_quarter == pytest.approx(85 / 3)
    assert not p.at_risk


def test_behind_the_pace_is_at_risk_below_the_yellow_threshold():
    # 17 of 20 by Q2 → 34 of 40 = 85% < 90%: at risk, 11.5 still needed in each of Q3 and Q4.
    p = project("additive", "higher", 2, 17, LINEAR)
    assert (p.value, p.achievement, p.light, p.at_risk) == (34, 0.85, "red", True)
    assert p.needed_per_quarter == 11.5
    # 18 of 20 → 36 of 40 = exactly 90%: yellow, not at risk.
    p = project("additive", "higher", 2, 18, LINEAR)
    assert (p.achievement, p.light, p.at_risk) == (0.9, "yellow", False)


def test_seasonal_method_uses_last_years_share_at_the_same_quarter():
    # Last year reached 30 of its 120 by Q2 (a quarter); 25 now → 100 at year end.
    last = (10.0, 30.0, 80.0, 120.0)
    p = project("additive", "higher", 2, 25, LINEAR, last)
    assert (p.value, p.method) == (100, SEASONAL)
    assert p.achievement == 2.5  # the projection against this year's annual target 40
    assert p.needed_per_quarter == 7.5  # the formula is the same whatever the method


def test_seasonal_falls_back_to_plan_pace_when_last_year_cannot_tell():
    for last in (
        None,
        (None, None, None, None),
        (10.0, None, 80.0, 120.0),  # no Q2 last year
        (10.0, 30.0, 80.0, None),  # no year end last year
        (0.0, 0.0, 80.0, 120.0),  # nothing by Q2 last year: the share is zero
        (10.0, 30.0, 80.0, 0.0),  # a zero year end
        (10.0, 150.0, 80.0, 120.0),  # above its own year end: bad data, not a season
    ):
        p = project("additive", "higher", 2, 25, LINEAR, last)
        assert (p.value, p.method) == (50, PLAN_PACE), last


def test_q4_projection_is_the_actual():
    p = project("additive", "higher", 4, 37, LINEAR)
    assert (p.value, p.method, p.achievement, p.needed_per_quarter) == (37, PLAN_PACE, 0.925, None)
    p = project("additive", "higher", 4, 37, LINEAR, (1.0, 2.0, 3.0, 4.0))
    assert (p.value, p.method) == (37, SEASONAL)


def test_a_ratio_projects_its_current_value():
    p = project("ratio", "higher", 2, 0.81, (0.9,) * 4)
    assert (p.value, p.method, p.achievement, p.light) == (0.81, CURRENT_RATE, 0.9, "yellow")
    assert p.needed_per_quarter is None
    # Lower is better (processing days): 6 days against a target of 5 → 5/6 ≈ 83% → at risk.
    p = project("ratio", "lower", 3, 6.0, (5,) * 4, (4.0, 4.0, 4.0, 4.0))
    assert (p.value, p.method, p.light, p.at_risk) == (6.0, CURRENT_RATE, "red", True)


def test_missing_data_and_missing_or_zero_targets_give_no_projection():
    none = project("additive", "higher", 2, None, LINEAR)
    assert (none.value, none.method, none.achievement, none.light) == (None, None, None, "white")
    assert none.needed_per_quarter is None and not none.at_risk
    no_target = project("additive", "higher", 2, 5, (None, None, None, None))
    assert (no_target.value, no_target.annual_target, no_target.light) == (None, None, "white")
    assert no_target.needed_per_quarter is None
    # Nothing planned by Q1 (a zero cumulative target): no pace to project from.
    zero_q1 = project("additive", "higher", 1, 5, (0, 10, 20, 30))
    assert (zero_q1.value, zero_q1.light) == (None, "white")
    assert zero_q1.needed_per_quarter == pytest.approx(25 / 3)
    zero = project("additive", "higher", 2, 5, (0, 0, 0, 0))
    assert (zero.value, zero.achievement, zero.light) == (None, None, "white")
    assert zero.needed_per_quarter == 0
    rate = project("ratio", "higher", 2, None, (0.9,) * 4)
    assert (rate.value, rate.method, rate.light) == (None, None, "white")


def test_nothing_needed_for_a_lower_is_better_additive_indicator():
    # Its annual target is a ceiling, not an amount to reach.
    assert project("additive", "lower", 2, 10, LINEAR).needed_per_quarter is None


def test_thresholds_are_the_catalogues():
    strict = Thresholds(green=1.0, yellow=0.95)
    p = project("additive", "higher", 2, 18.5, LINEAR, thresholds=strict)
    assert (p.achievement, p.light, p.at_risk) == (0.925, "red", True)


def test_needed_per_quarter_formula():
    assert needed_per_quarter(10, 40, 1) == 10
    assert needed_per_quarter(10, 40, 3) == 30
    assert needed_per_quarter(50, 40, 2) == 0
    assert needed_per_quarter(10, 40, 4) is None
    assert needed_per_quarter(None, 40, 2) is None
    assert needed_per_quarter(10, None, 2) is None


# -- properties --------------------------------------------------------------------------------


@given(cumulative_targets(), BEFORE_Q4)
def test_an_actual_on_the_cumulative_target_projects_exactly_the_annual_target(targets, quarter):
    p = project("additive", "higher", quarter, targets[quarter - 1], targets)
    assert p.method == PLAN_PACE
    assert p.value == pytest.approx(targets[3], rel=1e-12)
    assert p.light == "green" and not p.at_risk


@given(cumulative_targets(), BEFORE_Q4, AMOUNT, AMOUNT)
def test_a_larger_actual_never_projects_less(targets, quarter, a, b):
    low, high = sorted((a, b))
    assert plan_pace(high, targets[quarter - 1], targets[3]) >= plan_pace(
        low, targets[quarter - 1], targets[3]
    )
    p_low = project("additive", "higher", quarter, low, targets)
    p_high = project("additive", "higher", quarter, high, targets)
    assert p_high.value >= p_low.value
    assert p_high.achievement >= p_low.achievement


@given(cumulative_targets(), BEFORE_Q4, AMOUNT, AMOUNT, cumulative_targets())
def test_a_larger_actual_never_projects_less_seasonally(targets, quarter, a, b, last):
    low, high = sorted((a, b))
    p_low = project("additive", "higher", quarter, low, targets, last)
    p_high = project("additive", "higher", quarter, high, targets, last)
    assert p_low.method == p_high.method == SEASONAL
    assert p_high.value >= p_low.value


@given(cumulative_targets(), AMOUNT, st.none() | cumulative_targets())
def test_the_q4_projection_is_the_actual(targets, actual, last):
    p = project("additive", "higher", 4, actual, targets, last)
    assert p.value == actual and p.needed_per_quarter is None


@given(AMOUNT, st.one_of(st.none(), AMOUNT), BEFORE_Q4)
def test_needed_per_quarter_is_what_is_left_spread_over_the_quarters_left(annual, actual, quarter):
    got = project("additive", "higher", quarter, actual, (0, 0, 0, annual)).needed_per_quarter
    if actual is None:
        assert got is None
        return
    left = 4 - quarter
    expected = max(0.0, (annual - actual) / left)
    assert got == pytest.approx(expected, rel=1e-12, abs=1e-9)
    # Reaching it every quarter that is left meets the annual target.
    assert actual + got * left >= annual - 1e-6 * max(1.0, annual)


@given(
    st.floats(0, 10, allow_nan=False),
    st.floats(0.01, 10, allow_nan=False),
    st.sampled_from(["higher", "lower"]),
    st.integers(1, 4),
)
def test_a_ratio_projects_its_current_value_at_every_quarter(actual, target, direction, quarter):
    p = project("ratio", direction, quarter, actual, (target,) * 4, (1.0, 2.0, 3.0, 4.0))
    assert (p.value, p.method, p.needed_per_quarter) == (actual, CURRENT_RATE, None)
    ratio = actual / target if direction == "higher" else (target / actual if actual else None)
    if ratio is None:
        assert p.achievement is None and p.light == "white"
    else:
        assert p.achievement == pytest.approx(ratio, rel=1e-8, abs=1e-9)


@given(BEFORE_Q4, AMOUNT, cumulative_targets(), cumulative_targets())
def test_the_seasonal_projection_computed_independently(quarter, actual, targets, last):
    p = project("additive", "higher", quarter, actual, targets, last)
    share = last[quarter - 1] / last[3]
    assume(share > 0)
    assert p.method == SEASONAL
    assert p.value == pytest.approx(actual * last[3] / last[quarter - 1], rel=1e-9)
    assert seasonal(actual, last[quarter - 1], last[3]) == pytest.approx(actual / share, rel=1e-9)
    if p.achievement is not None:
        assert math.isclose(p.achievement, p.value / targets[3], rel_tol=1e-8, abs_tol=1e-9)

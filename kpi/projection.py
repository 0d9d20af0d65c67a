"""Early warning (預警): each indicator's year-end projection and what reaching the target takes.

Pure functions, no store and no Streamlit, so the figures engine, the pages and the report
generator apply the same rules:

- **additive** indicators (counts and sums, kind: additive) project the year-to-date actual
  to year end. ``plan-pace``: actual ÷ the quarter's cumulative target × the annual target,
  the pace against the plan's own quarterly profile. ``seasonal``: actual ÷ the share of
  last year's year-end value that last year had reached by the same quarter. Where last
  year's values allow it, the seasonal method wins: it is the observed profile of the work
  (visas peak in summer, meetings cluster around assemblies), where the plan's profile is
  usually a straight split of the annual target. At Q4 the projection is the actual.
- **ratio** indicators (kind: ratio) project their current value (``current-rate``): a
  rate does not add up over the year.

Projected achievement and light use the lights' own rules (kpi.catalog.achievement, light);
an indicator is **at risk** when its projected achievement is below the yellow threshold.
Missing data, a missing annual target or a zero divisor give no projection (None, white).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from kpi.catalog import (
    ADDITIVE,
    DEFAULT_THRESHOLDS,
    HIGHER,
    Thresholds,
    achievement,
    light,
)

PLAN_PACE, SEASONAL, CURRENT_RATE = "plan-pace", "seasonal", "current-rate"
METHODS = (PLAN_PACE, SEASONAL, CURRENT_RATE)
LAST_QUARTER = 4


@dataclass(frozen=True)
class Projection:
    """One indicator's year-end projection at one quarter (None where it does not apply)."""

    annual_target: float | None
    value: float | None
    method: str | None
    achievement: float | None
    light: str
    needed_per_quarter: float | None

    @property
    def at_risk(self) -> bool:
        """Whether the projected achievement is below the yellow threshold (a projected red)."""
        return self.light == "red"


def _number(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(float(x)) else float(x)


def plan_pace(
    actual: float | None, cumulative_target: float | None, annual_target: float | None
) -> float | None:
    """actual ÷ the quarter's cumulative target × the annual target; None without a divisor."""
    actual, cumulative, annual = (_number(v) for v in (actual, cumulative_target, annual_target))
    if actual is None or annual is None or not cumulative:
        return None
    return actual / cumulative * annual


def seasonal_share(last_quarter: float | None, last_year_end: float | None) -> float | None:
    """The share of last year's year-end value reached by the same quarter, if it is usable.

    Usable means 0 < share ≤ 1: a share of zero projects nothing, and a cumulative value
    above its own year end is a data problem, not a season.
    """
    part, whole = _number(last_quarter), _number(last_year_end)
    if part is None or whole is None or whole <= 0 or part <= 0 or part > whole:
        return None
    return part / whole


def seasonal(
    actual: float | None, last_quarter: float | None, last_year_end: float | None
) -> float | None:
    """actual ÷ the share of last year's year-end value reached by the same quarter."""
    share = seasonal_share(last_quarter, last_year_end)
    actual = _number(actual)
    if actual is None or share is None:
        return None
    return actual / share


def needed_per_quarter(
    actual: float | None, annual_target: float | None, quarter: int
) -> float | None:
    """max(0, (annual − actual) ÷ (4 − quarter)) before Q4; None at Q4 or without data."""
    actual, annual = _number(actual), _number(annual_target)
    if actual is None or annual is None or not 1 <= quarter < LAST_QUARTER:
        return None
    return max(0.0, (annual - actual) / (LAST_QUARTER - quarter))


def project(
    kind: str,
    direction: str,
    quarter: int,
    actual: float | None,
    targets: Sequence[float | None],
    last_year: Sequence[float | None] | None = None,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> Projection:
    """The projection of an indicator at a quarter.

    ``targets`` are this year's cumulative targets Q1–Q4 (the annual target is Q4's);
    ``last_year`` the previous year's year-to-date actuals Q1–Q4 of the same indicator,
    if the store holds them. The amount needed per remaining quarter applies to additive
    indicators where higher is better (for lower-is-better the annual target is a ceiling,
    not an amount to reach).
    """
    annual = _number(targets[LAST_QUARTER - 1]) if len(targets) >= LAST_QUARTER else None
    actual = _number(actual)
    value: float | None = None
    method: str | None = None
    needed: float | None = None
    if kind == ADDITIVE:
        last = list(last_year or ())
        share = None
        if len(last) >= LAST_QUARTER:
            share = seasonal_share(last[quarter - 1], last[LAST_QUARTER - 1])
        if quarter == LAST_QUARTER:
            value, method = actual, (SEASONAL if share is not None else PLAN_PACE)
        elif share is not None:
            value, method = seasonal(actual, last[quarter - 1], last[LAST_QUARTER - 1]), SEASONAL
        else:
            value, method = plan_pace(actual, targets[quarter - 1], annual), PLAN_PACE
        if direction == HIGHER:
            needed = needed_per_quarter(actual, annual, quarter)
    else:
        value, method = actual, CURRENT_RATE
    if value is None:
        method = None
    ach = achievement(value, annual, direction)
    return Projection(annual, value, method, ach, light(ach, thresholds), needed)

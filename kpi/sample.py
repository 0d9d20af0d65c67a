"""The bundled sample year (ROC 108 / 2019): deterministic generator of data/sample/.

Run ``python -m kpi.sample`` to (re)write the files under ``data/sample/``.

The module has two halves:

* frame builders (``budget_frame``, ``visa_frame``, ``visits_frame``, ``kpi_values_frame``)
  return tidy pandas DataFrames of canonical values (amounts in NT dollars, canonical
  visa types, visit types, levels and country names). Their sizes are parameters, so the
  benchmark can reuse them at larger scale;
* writers lay those frames out the way real offices do: title rows above the header,
  merged cells, subtotal and total rows, footnotes, varying header synonyms, units in
  thousands or in dollars, dates and months written in several forms, ``.xlsx`` and
  ``.ods`` (the latter written with odfpy directly).

Every random choice comes from a generator seeded with a fixed number, and the written
zip containers carry fixed timestamps, so two runs produce byte-identical files.

All figures are invented except the annual appropriations (預算數), which are the
ministry's real 108 appropriations (SPEC §4, "Real figures for the sample year").
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

SEED = 108
SAMPLE_DIR = Path(__file__).resolve().parent.parent / "data" / "sample"

QUARTER_MONTHS = {1: (1, 2, 3), 2: (4, 5, 6), 3: (7, 8, 9), 4: (10, 11, 12)}

# Default targets of the indicators (SPEC §3), cumulative year to date, Q1..Q4.
TARGETS: dict[str, tuple[float, float, float, float]] = {
    "K1.1": (10, 20, 30, 40),
    "K2.1": (30, 60, 90, 120),
    "K3.1": (12, 24, 36, 48),
    "K4.1": (50, 100, 150, 200),
    "K5.1": (1250, 2500, 3750, 5000),
    "K6.1": (125000, 250000, 375000, 500000),
    "K6.2": (0.30, 0.30, 0.30, 0.30),
    "K6.3": (5, 5, 5, 5),
    "K7.1": (0.90, 0.90, 0.90, 0.90),
    "K7.2": (0.90, 0.90, 0.90, 0.90),
}
LOWER_IS_BETTER = {"K6.3"}
KPI_NAMES = {
    "K1.1": "友邦高層互訪團次",
    "K2.1": "無邦交國家政要互訪團次",
    "K3.1": "參與國際組織會議場次",
    "K4.1": "協助NGO參與國際活動場次",
    "K5.1": "國際傳播觸及人次（萬）",
    "K6.1": "簽證核發件數",
    "K6.2": "電子簽證核發占比",
    "K6.3": "平均簽證處理天數",
    "K7.1": "資本門分配預算執行率",
    "K7.2": "分配預算執行率",
}

# Allies at the start of 2019 → the date relations ended (None: still an ally).
ALLIES: dict[str, dt.date | None] = {
    "巴拉圭": None,
    "瓜地馬拉": None,
    "史瓦帝尼": None,
    "海地": None,
    "貝里斯": None,
    "聖克里斯多福及尼維斯": None,
    "聖文森及格瑞那丁": None,
    "聖露西亞": None,
    "尼加拉瓜": None,
    "宏都拉斯": None,
    "馬紹爾群島": None,
    "帛琉": None,
    "吐瓦魯": None,
    "諾魯": None,
    "索羅門群島": dt.date(2019, 9, 16),
    "吉里巴斯": dt.date(2019, 9, 20),
    "教廷": None,
}
NON_ALLIES = (
    "美國",
    "日本",
    "德國",
    "英國",
    "法國",
    "捷克",
    "波蘭",
    "印度",
    "印尼",
    "越南",
    "泰國",
    "菲律賓",
    "澳大利亞",
    "紐西蘭",
    "加拿大",
    "立陶宛",
    "斯洛伐克",
    "荷蘭",
    "瑞典",
    "以色列",
)


def is_ally(country: str, day: dt.date) -> bool:
    """Whether ``country`` was an ally on ``day`` (relations end on their end date)."""
    if country not in ALLIES:
        return False
    end = ALLIES[country]
    return end is None or day < end


def _ad(year: int) -> int:
    return year + 1911


# ---------------------------------------------------------------------------------------
# Budget (預算執行)
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Appropriation:
    """One program's annual appropriation and how it splits into 經常門 / 資本門."""

    agency: str
    program: str
    budget: int  # NT dollars
    # Share of 資本門. None: the program has no 資本門 row; 0.0: a 資本門 row of zeros;
    # 1.0: no 經常門 row.
    capital_share: float | None
    # 第一預備金: allotted only as it is drawn on → {month: cumulative allotted NT$}.
    drawdowns: tuple[tuple[int, int], ...] = ()


APPROPRIATIONS: tuple[Appropriation, ...] = (
    Appropriation("外交部", "一般行政", 8_004_178_000, 0.012),
    Appropriation("外交部", "外交管理業務", 240_961_000, 0.04),
    Appropriation("外交部", "駐外機構業務", 3_029_306_000, 0.12),
    Appropriation("外交部", "國際會議及交流", 1_760_144_000, 0.0),
    Appropriation("外交部", "國際合作及關懷", 9_605_721_000, 0.03),
    Appropriation("外交部", "一般建築及設備", 355_582_000, 0.985),
    Appropriation(
        "外交部",
        "第一預備金",
        70_000_000,
        None,
        ((5, 12_000_000), (8, 30_500_000), (11, 52_000_000)),
    ),
    Appropriation("外交部", "機密預算", 1_558_100_000, None),
    Appropriation("領事事務局", "一般行政", 277_956_000, 0.015),
    Appropriation("領事事務局", "領事事務管理", 1_025_099_000, 0.09),
    Appropriation("領事事務局", "一般建築及設備", 1_725_000, 1.0),
    Appropriation("領事事務局", "第一預備金", 1_500_000, None, ((10, 800_000),)),
)

# Target ratio of executed (spent + payable) to allotted, per month, by 經資門. Capital
# spending is back-loaded: red in Q1/Q2, yellow in Q3, green by Q4 (K7.1); the overall
# ratio (K7.2) dips below 0.90 at the ends of Q1 and Q3.
EXEC_RATIO = {
    "經常門": (0.90, 0.89, 0.855, 0.92, 0.93, 0.935, 0.90, 0.89, 0.865, 0.94, 0.95, 0.975),
    "資本門": (0.30, 0.42, 0.52, 0.58, 0.64, 0.68, 0.74, 0.80, 0.86, 0.88, 0.91, 0.945),
}


def _round_to(x: np.ndarray, step: int) -> np.ndarray:
    return (np.round(np.asarray(x, dtype=float) / step) * step).astype(np.int64)


def _allotment_path(
    rng: np.random.Generator, ap: Appropriation, kind: str, budget: int
) -> np.ndarray:
    """Cumulative allotment at the end of each month (NT$, multiples of 1,000)."""
    if budget == 0:
        return np.zeros(12, dtype=np.int64)
    if ap.drawdowns:
        out = np.zeros(12, dtype=np.int64)
        for month, cum in ap.drawdowns:
            out[month - 1 :] = cum
        return out
    months = np.arange(1, 13)
    if kind == "經常門":
        # Roughly even, a little heavier in the first month of each quarter.
        weights = np.where(months % 3 == 1, 1.25, 0.9) * rng.lognormal(0.0, 0.06, 12)
    else:
        weights = months**0.9 * rng.lognormal(0.0, 0.2, 12)
    share = np.cumsum(weights) / weights.sum()
    out = _round_to(budget * share, 1000)
    out[-1] = budget
    return np.maximum.accumulate(out)


def budget_frame(year: int = 108) -> pd.DataFrame:
    """Cumulative budget execution, one row per month × agency × program × 經資門.

    Columns: year, month, agency, program, kind, budget, allotted, spent, payable — the
    amounts in NT dollars (multiples of 100, so they print exactly in 千元 with one
    decimal). ``budget`` is the annual appropriation, the others are year to date.
    """
    rng = np.random.default_rng([SEED, 1, year])
    series: list[dict[str, Any]] = []
    for ap in APPROPRIATIONS:
        capital = 0 if ap.capital_share is None else int(round(ap.budget * ap.capital_share, -3))
        parts = []
        if ap.capital_share is None or ap.capital_share < 1:
            parts.append(("經常門", ap.budget - capital))
        if ap.capital_share is not None:
            parts.append(("資本門", capital))
        for kind, amount in parts:
            series.append(
                {
                    "agency": ap.agency,
                    "program": ap.program,
                    "kind": kind,
                    "budget": amount,
                    "allotted": _allotment_path(rng, ap, kind, amount),
                }
            )
    n = len(series)
    allotted = np.stack([s["allotted"] for s in series]).astype(float)  # n × 12
    is_capital = np.array([s["kind"] == "資本門" for s in series])
    target = np.where(
        is_capital[:, None], np.array(EXEC_RATIO["資本門"]), np.array(EXEC_RATIO["經常門"])
    )
    noise = rng.normal(1.0, 0.03, (n, 1)) * rng.normal(1.0, 0.01, (n, 12))
    executed = allotted * target * noise
    # Calibrate each month × 經資門 so that the ratio of sums hits the target exactly.
    for mask in (is_capital, ~is_capital):
        for m in range(12):
            alloc = allotted[mask, m].sum()
            done = executed[mask, m].sum()
            if alloc > 0 and done > 0:
                executed[mask, m] *= target[mask, m][0] * alloc / done
    executed = np.minimum(executed, allotted * 0.998)
    # Split into spent and payable; payables are larger on capital (awaiting acceptance).
    pay_share = np.where(
        is_capital[:, None], rng.uniform(0.05, 0.22, (n, 12)), rng.uniform(0.004, 0.05, (n, 12))
    )
    pay_share[rng.random((n, 12)) < 0.15] = 0.0
    executed_r = _round_to(executed, 100)
    spent = np.maximum.accumulate(_round_to(executed * (1 - pay_share), 100), axis=1)
    payable = np.maximum(executed_r - spent, 0)

    rows = []
    for i, s in enumerate(series):
        for m in range(12):
            rows.append(
                {
                    "year": year,
                    "month": m + 1,
                    "agency": s["agency"],
                    "program": s["program"],
                    "kind": s["kind"],
                    "budget": s["budget"],
                    "allotted": int(s["allotted"][m]),
                    "spent": int(spent[i, m]),
                    "payable": int(payable[i, m]),
                }
            )
    df = pd.DataFrame(rows)
    # One row over-executed (spent + payable > allotted): real reports have them, and the
    # importer must warn, not refuse.
    over = (
        (df["agency"] == "外交部")
        & (df["program"] == "國際會議及交流")
        & (df["kind"] == "經常門")
        & (df["month"] == 2)
    )
    df.loc[over, "payable"] = (
        _round_to(df.loc[over, "allotted"] * 1.012, 100) - df.loc[over, "spent"]
    ).astype("int64")
    df = df.sort_values(["month"], kind="stable").reset_index(drop=True)
    for col in ("year", "month", "budget", "allotted", "spent", "payable"):
        df[col] = df[col].astype("int64")
    return df


# ---------------------------------------------------------------------------------------
# Visas (簽證)
# ---------------------------------------------------------------------------------------

VISA_TYPE_ORDER = ("停留簽證", "居留簽證", "電子簽證", "落地簽證")


@dataclass(frozen=True)
class Mission:
    """An office that issues visas: its region, relative volume and visa types."""

    name: str
    region: str
    weight: float
    types: tuple[str, ...] = ("停留簽證", "居留簽證")
    resident_share: float = 0.2  # share of 居留簽證 among its paper visas
    last_month: int | None = None  # closed after this month of the sample year


_STAY = ("停留簽證", "居留簽證")
_EVISA = ("停留簽證", "居留簽證", "電子簽證")
MISSIONS: tuple[Mission, ...] = (
    Mission("駐日本代表處", "亞太", 2.6),
    Mission("駐大阪辦事處", "亞太", 1.0),
    Mission("駐韓國代表部", "亞太", 1.4),
    Mission("駐泰國代表處", "亞太", 2.6, ("停留簽證", "居留簽證", "落地簽證"), 0.55),
    Mission("駐越南代表處", "亞太", 3.4, _EVISA, 0.6),
    Mission("駐胡志明市辦事處", "亞太", 2.5, _STAY, 0.6),
    Mission("駐印尼代表處", "亞太", 3.2, _EVISA, 0.65),
    Mission("駐菲律賓代表處", "亞太", 2.8, _EVISA, 0.55),
    Mission("駐馬來西亞代表處", "亞太", 1.1),
    Mission("駐新加坡代表處", "亞太", 0.8),
    Mission("駐緬甸代表處", "亞太", 0.9, _STAY, 0.3),
    Mission("駐澳大利亞代表處", "亞太", 0.8),
    Mission("駐紐西蘭代表處", "亞太", 0.4),
    Mission("駐帛琉大使館", "亞太", 0.15),
    Mission("駐馬紹爾群島大使館", "亞太", 0.1),
    Mission("駐諾魯大使館", "亞太", 0.08),
    Mission("駐吐瓦魯大使館", "亞太", 0.05),
    Mission("駐索羅門群島大使館", "亞太", 0.12, last_month=9),
    Mission("駐吉里巴斯大使館", "亞太", 0.06, last_month=9),
    Mission("駐印度代表處", "亞西", 2.0, _EVISA, 0.15),
    Mission("駐以色列代表處", "亞西", 0.4),
    Mission("駐土耳其代表處", "亞西", 0.5),
    Mission("駐沙烏地阿拉伯代表處", "亞西", 0.3),
    Mission("駐杜拜辦事處", "亞西", 0.3),
    Mission("駐史瓦帝尼大使館", "非洲", 0.1),
    Mission("駐南非代表處", "非洲", 0.4),
    Mission("駐奈及利亞代表處", "非洲", 0.5),
    Mission("駐英國代表處", "歐洲", 0.7),
    Mission("駐法國代表處", "歐洲", 0.6),
    Mission("駐德國代表處", "歐洲", 0.7),
    Mission("駐荷蘭代表處", "歐洲", 0.3),
    Mission("駐捷克代表處", "歐洲", 0.2),
    Mission("駐波蘭代表處", "歐洲", 0.25),
    Mission("駐俄羅斯代表處", "歐洲", 0.9),
    Mission("駐教廷大使館", "歐洲", 0.05),
    Mission("駐美國代表處", "北美", 1.0),
    Mission("駐紐約辦事處", "北美", 0.8),
    Mission("駐洛杉磯辦事處", "北美", 0.8),
    Mission("駐加拿大代表處", "北美", 0.5),
    Mission("駐巴拉圭大使館", "拉丁美洲及加勒比海", 0.2),
    Mission("駐瓜地馬拉大使館", "拉丁美洲及加勒比海", 0.2),
    Mission("駐宏都拉斯大使館", "拉丁美洲及加勒比海", 0.15),
    Mission("駐尼加拉瓜大使館", "拉丁美洲及加勒比海", 0.1),
    Mission("駐海地大使館", "拉丁美洲及加勒比海", 0.1),
    Mission("駐墨西哥代表處", "拉丁美洲及加勒比海", 0.4),
    # Processed at home: eVisas (online) and landing visas (at the airports).
    Mission("領事事務局", "國內", 2.0, VISA_TYPE_ORDER, 0.3),
)

# Quarterly totals of visas issued (K6.1 target 125,000 a quarter): Q2 dips (yellow).
VISA_QUARTER_TOTALS = (128_400, 116_800, 133_800, 127_400)
VISA_SEASON = (1.05, 0.93, 1.02, 0.98, 1.0, 1.02, 1.05, 1.0, 0.95, 1.02, 0.98, 1.0)
# eVisa share of issued by month (K6.2 ≥ 0.30): low until the April expansion.
EVISA_SHARE = (0.23, 0.24, 0.25, 0.37, 0.38, 0.39, 0.35, 0.35, 0.36, 0.35, 0.36, 0.36)
# Issued-weighted average processing days by month (K6.3 ≤ 5): the Q2 rush is slow.
AVG_DAYS = (4.7, 4.5, 4.6, 5.6, 5.9, 5.9, 4.3, 4.4, 4.5, 4.6, 4.5, 4.6)
_BASE_DAYS = {"停留簽證": 5.2, "居留簽證": 7.0, "電子簽證": 2.2, "落地簽證": np.nan}
_REFUSAL = {"停留簽證": 0.03, "居留簽證": 0.02, "電子簽證": 0.05, "落地簽證": 0.01}


def _monthly_totals() -> np.ndarray:
    out = np.zeros(12)
    for q, months in QUARTER_MONTHS.items():
        idx = [m - 1 for m in months]
        w = np.array([VISA_SEASON[i] for i in idx])
        vals = np.round(VISA_QUARTER_TOTALS[q - 1] * w / w.sum())
        vals[-1] = VISA_QUARTER_TOTALS[q - 1] - vals[:-1].sum()
        out[idx] = vals
    return out


def _allocate(weights: pd.Series, groups: pd.Series, totals: pd.Series) -> np.ndarray:
    """Integers proportional to ``weights`` within each group, summing to its total."""
    wsum = weights.groupby(groups).transform("sum")
    exact = weights / wsum * groups.map(totals)
    base = np.floor(exact)
    rest = (groups.map(totals) - base.groupby(groups).transform("sum")).astype(int)
    rank = (exact - base).groupby(groups).rank(method="first", ascending=False)
    return (base + (rank <= rest)).astype(np.int64).to_numpy()


def _scaled_missions(missions: Sequence[Mission], rows_target: int) -> list[Mission]:
    """Add copies of the missions (new names) until the frame has ``rows_target`` rows."""
    out = list(missions)
    rows = sum(len(m.types) * (m.last_month or 12) for m in out)
    k = 2
    while rows < rows_target:
        for m in missions:
            clone = Mission(f"{m.name}{k:05d}", m.region, m.weight, m.types, m.resident_share, None)
            out.append(clone)
            rows += len(m.types) * 12
            if rows >= rows_target:
                break
        k += 1
    return out


def visa_frame(
    year: int = 108,
    missions: Sequence[Mission] | None = None,
    rows_target: int | None = None,
) -> pd.DataFrame:
    """Visas by month × mission × visa type for the whole year.

    Columns: year, month, region, mission, visa_type, applications, issued, refused,
    avg_days (NaN = not reported). With ``rows_target`` the missions are cloned under new
    names until the frame has exactly that many rows (for benchmarks); monthly totals
    then scale with the total mission weight.
    """
    base = list(MISSIONS if missions is None else missions)
    mlist = _scaled_missions(base, rows_target) if rows_target else base
    rng = np.random.default_rng([SEED, 2, year])

    # Skeleton: mission × type, then × month (respecting closures).
    names, regions, types, weights, last = [], [], [], [], []
    type_weight = []
    for m in mlist:
        for t in m.types:
            names.append(m.name)
            regions.append(m.region)
            types.append(t)
            weights.append(m.weight)
            last.append(m.last_month or 12)
            if t == "停留簽證":
                type_weight.append(1 - m.resident_share)
            elif t == "居留簽證":
                type_weight.append(m.resident_share)
            elif t == "電子簽證":
                type_weight.append(12.0 if m.region == "國內" else 1.0)
            else:
                type_weight.append(0.6)
    combos = pd.DataFrame(
        {
            "combo": np.arange(len(names)),
            "region": regions,
            "mission": names,
            "visa_type": types,
            "w": np.array(weights) * np.array(type_weight),
            "last": last,
            "mission_factor": rng.lognormal(0.0, 0.15, len(names)),
        }
    )
    n_combo = len(combos)
    df = combos.loc[np.repeat(np.arange(n_combo), 12)].reset_index(drop=True)
    df["month"] = np.tile(np.arange(1, 13), n_combo)
    df = df[df["month"] <= df["last"]]
    if rows_target:
        df = df.iloc[:rows_target]
    n = len(df)
    df = df.sort_values(["month", "combo"], kind="stable").reset_index(drop=True)

    # Issued: proportional to weight × season × noise, calibrated to monthly totals.
    scale = sum(m.weight for m in mlist) / sum(m.weight for m in MISSIONS)
    totals = np.round(_monthly_totals() * scale)
    month_idx = df["month"].to_numpy() - 1
    raw = df["w"].to_numpy() * np.array(VISA_SEASON)[month_idx] * rng.lognormal(0.0, 0.15, n)
    is_e = (df["visa_type"] == "電子簽證").to_numpy()
    group = pd.Series(df["month"].to_numpy() * 2 + is_e, index=df.index)
    share = np.array(EVISA_SHARE)
    group_totals = {}
    for m in range(1, 13):
        e_total = np.round(totals[m - 1] * share[m - 1])
        group_totals[m * 2 + 1] = e_total
        group_totals[m * 2] = totals[m - 1] - e_total
    issued = _allocate(pd.Series(raw, index=df.index), group, pd.Series(group_totals))
    refusal = df["visa_type"].map(_REFUSAL).to_numpy()
    refused = np.round(issued * refusal * rng.uniform(0.5, 1.5, n)).astype(np.int64)
    pending = np.round(issued * rng.uniform(0.0, 0.03, n)).astype(np.int64)

    # Average processing days, calibrated to the monthly issued-weighted average.
    days = (
        df["visa_type"].map(_BASE_DAYS).to_numpy()
        * df["mission_factor"].to_numpy()
        * rng.lognormal(0.0, 0.08, n)
    )
    days[(rng.random(n) < 0.06) | (issued == 0)] = np.nan
    reported = ~np.isnan(days)
    target_days = np.array(AVG_DAYS)
    for m in range(12):
        sel = reported & (month_idx == m)
        w = issued[sel]
        if w.sum() > 0:
            days[sel] *= target_days[m] * w.sum() / (days[sel] * w).sum()
    days = np.round(days, 1)

    out = pd.DataFrame(
        {
            "year": year,
            "month": df["month"].astype("int64"),
            "region": df["region"],
            "mission": df["mission"],
            "visa_type": df["visa_type"],
            "applications": issued + refused + pending,
            "issued": issued,
            "refused": refused,
            "avg_days": days,
        }
    )
    return out.reset_index(drop=True)


# ---------------------------------------------------------------------------------------
# Visits (訪問交流)
# ---------------------------------------------------------------------------------------

LEVEL_HIGH = ("元首", "副元首", "閣揆", "部長")
LEVEL_NON_ALLY = ("元首", "副元首", "閣揆", "部長", "國會議員")

# Visits per quarter (not cumulative). K1.1: green, green, green, yellow; K2.1: green,
# yellow, green, green; K3.1: green, green, red, green.
K11_PER_Q = (11, 10, 9, 8)
K21_PER_Q = (31, 25, 36, 30)
K31_PER_Q = (13, 12, 6, 18)
FILLER_ALLY_PER_Q = (6, 5, 6, 5)  # allies at levels that do not count for K1.1
FILLER_NON_PER_Q = (12, 10, 12, 11)  # non-allies at levels that do not count for K2.1

MEETINGS = (
    ("智利", "APEC資深官員會議"),
    ("智利", "APEC數位經濟指導小組會議"),
    ("智利", "APEC貿易部長會議"),
    ("智利", "APEC部長級會議"),
    ("瑞士", "WTO總理事會"),
    ("瑞士", "WTO政府採購委員會"),
    ("瑞士", "世界衛生大會場外專業會議"),
    ("法國", "OECD競爭委員會"),
    ("法國", "OECD鋼鐵委員會"),
    ("美國", "促進宗教自由部長會議"),
    ("美國", "全球合作暨訓練架構(GCTF)研習營"),
    ("日本", "亞洲開發銀行區域研討會"),
    ("斐濟", "亞洲開發銀行年會"),
    ("吐瓦魯", "太平洋島國論壇(PIF)會後對話會"),
    ("瓜地馬拉", "中美洲統合體(SICA)高峰會"),
    ("宏都拉斯", "中美洲議會(PARLACEN)大會"),
    ("德國", "慕尼黑安全會議"),
    ("加拿大", "哈利法克斯國際安全論壇"),
    ("澳大利亞", "亞太防制洗錢組織(APG)年會"),
    ("捷克", "布拉格歐洲峰會"),
    ("比利時", "歐洲議會友臺小組年會"),
    ("泰國", "亞太經濟合作經濟委員會"),
    ("印度", "國際民航組織區域研討會"),
    ("英國", "國際海事組織技術會議"),
    ("波蘭", "國際刑警組織區域會議場外會議"),
    ("立陶宛", "歐洲安全暨合作論壇"),
)

# Titles of allies' heads of state and government (元首 / 副元首 / 閣揆); a level a
# country does not have is not drawn for it.
_ALLY_TITLES: dict[str, dict[str, str]] = {
    **{
        c: {"元首": "總統", "副元首": "副總統"}
        for c in ("巴拉圭", "瓜地馬拉", "尼加拉瓜", "宏都拉斯", "帛琉", "吉里巴斯")
    },
    **{c: {"元首": "總統"} for c in ("馬紹爾群島", "諾魯")},
    "海地": {"元首": "總統", "閣揆": "總理"},
    "史瓦帝尼": {"元首": "國王", "閣揆": "總理"},
    **{
        c: {"元首": "總督", "閣揆": "總理"}
        for c in (
            "貝里斯",
            "聖克里斯多福及尼維斯",
            "聖文森及格瑞那丁",
            "聖露西亞",
            "吐瓦魯",
            "索羅門群島",
        )
    },
    "教廷": {},
}

_VISIT_TITLES = {
    "元首": ("總統",),
    "副元首": ("副總統",),
    "閣揆": ("總理",),
    "部長": ("外交部長", "經濟部長", "衛生部長", "教育部長", "農業部長", "內政部長"),
    "副部長": ("外交部副部長", "經濟部副部長", "農業部副部長"),
    "國會議員": ("國會議員", "國會議長", "參議員", "眾議員"),
    "官員": ("政府官員", "警政官員", "海關官員"),
    "其他": ("青年領袖", "媒體記者", "智庫學者", "工商界人士"),
}
_OUR_HEADS = {
    "元首": "總統",
    "副元首": "副總統",
    "閣揆": "行政院長",
    "部長": "外交部長",
    "副部長": "外交部次長",
    "國會議員": "立法委員",
    "官員": "外交部司長",
}


@dataclass(frozen=True)
class _Visit:
    date: dt.date
    type: str
    country: str
    level: str
    delegation: str = ""


def _specials(year: int) -> list[_Visit]:
    """Fixed visits: the president's 2019 trips and the two September switches."""
    y = _ad(year)
    d = dt.date
    ocean = "總統「海洋民主之旅」訪問團"
    carib = "總統「自由民主永續之旅」訪問團"
    return [
        _Visit(d(y, 2, 19), "來訪", "索羅門群島", "部長", "索羅門群島外交部長訪問團"),
        _Visit(d(y, 3, 21), "出訪", "帛琉", "元首", ocean),
        _Visit(d(y, 3, 24), "出訪", "諾魯", "元首", ocean),
        _Visit(d(y, 3, 25), "出訪", "馬紹爾群島", "元首", ocean),
        _Visit(d(y, 5, 14), "來訪", "吉里巴斯", "部長", "吉里巴斯教育部長訪問團"),
        _Visit(d(y, 7, 13), "出訪", "海地", "元首", carib),
        _Visit(d(y, 7, 15), "出訪", "聖克里斯多福及尼維斯", "元首", carib),
        _Visit(d(y, 7, 16), "出訪", "聖文森及格瑞那丁", "元首", carib),
        _Visit(d(y, 7, 18), "出訪", "聖露西亞", "元首", carib),
        _Visit(d(y, 9, 5), "來訪", "索羅門群島", "部長", "索羅門群島農業部長訪問團"),
        # Between the two switches: Kiribati is still an ally, the Solomons are not.
        _Visit(d(y, 9, 18), "來訪", "吉里巴斯", "部長", "吉里巴斯衛生部長訪問團"),
        _Visit(d(y, 9, 25), "來訪", "索羅門群島", "國會議員", "索羅門群島國會議員訪問團"),
        _Visit(d(y, 10, 22), "來訪", "吉里巴斯", "國會議員", "吉里巴斯國會議員訪問團"),
        _Visit(d(y, 11, 12), "來訪", "索羅門群島", "官員", "索羅門群島政府官員訪問團"),
        _Visit(d(y, 12, 3), "來訪", "吉里巴斯", "其他", "吉里巴斯青年領袖訪問團"),
    ]


def _category(v: _Visit) -> str:
    if v.type == "國際會議":
        return "k31"
    if is_ally(v.country, v.date):
        return "k11" if v.level in LEVEL_HIGH else "filler_ally"
    return "k21" if v.level in LEVEL_NON_ALLY else "filler_non"


def _random_day(rng: np.random.Generator, year: int, quarter: int) -> dt.date:
    start = dt.date(_ad(year), QUARTER_MONTHS[quarter][0], 1)
    end_m = QUARTER_MONTHS[quarter][-1]
    end = (
        dt.date(_ad(year) + 1, 1, 1) if end_m == 12 else dt.date(_ad(year), end_m + 1, 1)
    ) - dt.timedelta(days=1)
    while True:
        day = start + dt.timedelta(days=int(rng.integers(0, (end - start).days + 1)))
        if day.weekday() < 5:
            return day


def _pick(
    rng: np.random.Generator, options: Sequence[Any], p: Sequence[float] | None = None
) -> Any:
    return options[int(rng.choice(len(options), p=p))]


def _random_visit(
    rng: np.random.Generator,
    year: int,
    quarter: int,
    category: str,
    meeting: tuple[str, str] | None = None,
) -> _Visit:
    day = _random_day(rng, year, quarter)
    # The two September switches appear only through the fixed visits.
    allies = [c for c in ALLIES if ALLIES[c] is None]
    if category == "k31":
        host, name = meeting or _pick(rng, MEETINGS)
        level = _pick(rng, ("部長", "副部長", "官員"), (0.2, 0.3, 0.5))
        return _Visit(day, "國際會議", host, level, f"{_ad(year)}年{name}")
    vtype = _pick(rng, ("來訪", "出訪"), (0.7, 0.3))
    title = ""
    if category == "k11" and vtype == "來訪":
        country = _pick(rng, allies)
        level = _pick(rng, LEVEL_HIGH, (0.12, 0.06, 0.12, 0.70))
        title = _ALLY_TITLES[country].get(level, "")
        if not title:
            level = "部長"
    elif category == "k11":  # the president's own trips are fixed visits
        country = _pick(rng, allies)
        level = _pick(rng, ("副元首", "閣揆", "部長"), (0.1, 0.1, 0.8))
    elif category == "k21":  # non-allies: ministers and parliamentarians
        country = _pick(rng, NON_ALLIES)
        level = _pick(rng, ("部長", "國會議員"), (0.25, 0.75))
    elif category == "filler_ally":
        country = _pick(rng, allies)
        level = _pick(rng, ("副部長", "國會議員", "官員", "其他"), (0.3, 0.3, 0.25, 0.15))
    else:
        country = _pick(rng, NON_ALLIES)
        level = _pick(rng, ("副部長", "官員", "其他"), (0.35, 0.4, 0.25))
    if vtype == "出訪" and level == "其他":
        delegation = f"民間團體赴{country}交流團"
    elif vtype == "出訪":
        delegation = f"{_OUR_HEADS[level]}率團訪問{country}"
    else:
        delegation = f"{country}{title or _pick(rng, _VISIT_TITLES[level])}訪問團"
    return _Visit(day, vtype, country, level, delegation)


def _free_day(v: _Visit, seen: set[tuple[dt.date, str, str]]) -> dt.date:
    if (v.date, v.type, v.country) not in seen:
        return v.date
    quarter = (v.date.month - 1) // 3
    for k in range(1, 92):
        for day in (v.date + dt.timedelta(days=k), v.date - dt.timedelta(days=k)):
            same_q = day.year == v.date.year and (day.month - 1) // 3 == quarter
            if same_q and (day, v.type, v.country) not in seen:
                return day
    return v.date


def visits_frame(year: int = 108, n: int | None = None) -> pd.DataFrame:
    """Visits and international meetings, one row each, sorted by date.

    Columns: date (datetime.date), type (來訪/出訪/國際會議), country (canonical name;
    the host for a meeting), level (canonical), delegation (unique per date × type ×
    country), participants (Int64, some missing), program (some blank). With ``n``, the
    sample is padded with further random visits (or cut) to exactly ``n`` rows.
    """
    rng = np.random.default_rng([SEED, 3, year])
    visits = _specials(year)
    wanted = {
        "k11": K11_PER_Q,
        "k21": K21_PER_Q,
        "k31": K31_PER_Q,
        "filler_ally": FILLER_ALLY_PER_Q,
        "filler_non": FILLER_NON_PER_Q,
    }
    for q in range(1, 5):
        meetings = [MEETINGS[i] for i in rng.permutation(len(MEETINGS))]
        have: dict[str, int] = {}
        for v in visits:
            if (v.date.month - 1) // 3 + 1 == q:
                have[_category(v)] = have.get(_category(v), 0) + 1
        for cat, per_q in wanted.items():
            for i in range(per_q[q - 1] - have.get(cat, 0)):
                meeting = meetings[i % len(meetings)] if cat == "k31" else None
                visits.append(_random_visit(rng, year, q, cat, meeting))
    if n is not None and n > len(visits):
        cats = tuple(wanted)
        for i in range(n - len(visits)):
            v = _random_visit(rng, year, int(rng.integers(1, 5)), _pick(rng, cats))
            visits.append(_Visit(v.date, v.type, v.country, v.level, f"{v.delegation}（{i + 1}）"))
    # Unique (date, type, country): move a clash to the nearest free day of its quarter
    # (padded benchmark rows may still share one; their delegation names differ).
    seen: set[tuple[dt.date, str, str]] = set()
    unique = []
    for v in visits:
        day = _free_day(v, seen)
        seen.add((day, v.type, v.country))
        unique.append(_Visit(day, v.type, v.country, v.level, v.delegation))
    if n is not None and n < len(unique):
        keep = np.sort(rng.choice(len(unique), size=n, replace=False))
        unique = [unique[i] for i in keep]
    m = len(unique)
    participants = rng.integers(2, 41, m).astype(float)
    participants[rng.random(m) < 0.1] = np.nan
    program = np.array(
        [_pick(rng, ("國際會議及交流", "", "國際合作及關懷"), (0.6, 0.3, 0.1)) for _ in range(m)]
    )
    df = pd.DataFrame(
        {
            "date": [v.date for v in unique],
            "type": [v.type for v in unique],
            "country": [v.country for v in unique],
            "level": [v.level for v in unique],
            "delegation": [v.delegation for v in unique],
            "participants": pd.array(participants, dtype="Int64"),
            "program": program,
        }
    )
    return df.sort_values(["date", "type", "country"], kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------------------------------
# Indicator values (指標填報) and the expected indicator values
# ---------------------------------------------------------------------------------------

REPORTED_VALUES = {
    "K4.1": (48, 104, 157, 212),
    "K5.1": (1310, 2380, 3290, 5120),
}

COMMENTARY: dict[tuple[str, int], str] = {
    ("K1.1", 4): "第4季友邦多逢國內選舉及颶風季，部分高層訪團延至109年成行，累計團次略低於目標。",
    (
        "K2.1",
        2,
    ): "第2季部分國會議員訪團因各國國會會期及選舉延期，累計團次略低於目標；已請駐外館處於下半年積極邀訪。",
    (
        "K3.1",
        3,
    ): "第3季國際組織會議場次減少，主因部分國際組織受外力干擾拒絕我方與會，另有會議延至第4季舉行。",
    ("K4.1", 1): "第1季NGO國際活動多集中於下半年，協助場次略低於目標，將加強與NGO聯繫。",
    ("K5.1", 2): "第2季國際媒體合作案招標作業延宕，觸及人次略低於目標。",
    (
        "K5.1",
        3,
    ): "第3季國際傳播觸及人次偏低，主因社群平臺演算法調整致自然觸及下降，已規劃下季加強影音內容投放。",
    ("K6.1", 2): "第2季適逢齋戒月及各國旅遊淡季，簽證申請量下降，累計核發件數略低於目標。",
    ("K6.2", 1): "電子簽證適用對象擴大方案於4月起實施，第1季電子簽證占比尚低，預期第2季起回升。",
    ("K6.3", 2): "第2季暑假前申請量集中，部分館處人力不足，平均處理天數略增；已調派人力支援。",
    (
        "K7.1",
        1,
    ): "資本門執行率偏低，主因駐外館舍購置案尚在議價，及資訊設備採購案刻辦理招標中，預計下半年陸續核銷。",
    (
        "K7.1",
        2,
    ): "資本門執行率偏低，主因駐外館舍購置案尚在議價，一般建築及設備工程依契約於下半年估驗付款。",
    ("K7.1", 3): "駐外館舍購置案已完成議價簽約，惟尚待驗收付款，資本門執行率逐步回升。",
    ("K7.2", 1): "第1季部分國際合作計畫撥款時程配合受援國執行進度，致實支數低於分配數。",
    ("K7.2", 3): "部分援外計畫款項因受援國請款文件未齊備而延後撥付，將督促於第4季核銷。",
}


def _light(achievement: float | None) -> str:
    if achievement is None or np.isnan(achievement):
        return "white"
    if achievement >= 1.0:
        return "green"
    if achievement >= 0.9:
        return "yellow"
    return "red"


def expected_kpis(
    budget: pd.DataFrame,
    visa: pd.DataFrame,
    visits: pd.DataFrame,
    reported: dict[str, Sequence[float]] | None = None,
) -> pd.DataFrame:
    """The indicator values the sample year should give, per quarter (year to date).

    Columns: kpi, quarter, actual, target, achievement, light.
    """
    reported = REPORTED_VALUES if reported is None else reported
    rows = []
    vdates = pd.to_datetime(visits["date"])
    ally = np.array([is_ally(c, d) for c, d in zip(visits["country"], visits["date"], strict=True)])
    inout = visits["type"].isin(["來訪", "出訪"]).to_numpy()
    for q in range(1, 5):
        last = QUARTER_MONTHS[q][-1]
        ytd_v = (vdates.dt.month <= last).to_numpy()
        vi = visa[visa["month"] <= last]
        rep = vi[vi["avg_days"].notna()]
        bu = budget[budget["month"] == last]
        cap = bu[bu["kind"] == "資本門"]
        actual = {
            "K1.1": float(
                (ytd_v & inout & ally & visits["level"].isin(LEVEL_HIGH).to_numpy()).sum()
            ),
            "K2.1": float(
                (ytd_v & inout & ~ally & visits["level"].isin(LEVEL_NON_ALLY).to_numpy()).sum()
            ),
            "K3.1": float((ytd_v & (visits["type"] == "國際會議").to_numpy()).sum()),
            "K4.1": float(reported["K4.1"][q - 1]),
            "K5.1": float(reported["K5.1"][q - 1]),
            "K6.1": float(vi["issued"].sum()),
            "K6.2": vi.loc[vi["visa_type"] == "電子簽證", "issued"].sum() / vi["issued"].sum(),
            "K6.3": (rep["avg_days"] * rep["issued"]).sum() / rep["issued"].sum(),
            "K7.1": (cap["spent"] + cap["payable"]).sum() / cap["allotted"].sum(),
            "K7.2": (bu["spent"] + bu["payable"]).sum() / bu["allotted"].sum(),
        }
        for kpi, value in actual.items():
            target = TARGETS[kpi][q - 1]
            ach = target / value if kpi in LOWER_IS_BETTER else value / target
            rows.append(
                {
                    "kpi": kpi,
                    "quarter": q,
                    "actual": float(value),
                    "target": float(target),
                    "achievement": float(ach),
                    "light": _light(ach),
                }
            )
    return pd.DataFrame(rows)


def kpi_values_frame(year: int = 108) -> pd.DataFrame:
    """Reported values (K4.1, K5.1) and commentary for every red or yellow indicator.

    Columns: kpi, name, year, quarter, value (NaN for commentary-only rows), note.
    """
    kpis = expected_kpis(budget_frame(year), visa_frame(year), visits_frame(year))
    rows = []
    for q in range(1, 5):
        for kpi in TARGETS:
            light = kpis.loc[(kpis["kpi"] == kpi) & (kpis["quarter"] == q), "light"].item()
            value = REPORTED_VALUES[kpi][q - 1] if kpi in REPORTED_VALUES else np.nan
            note = ""
            if light in ("red", "yellow"):
                note = COMMENTARY.get((kpi, q), f"{KPI_NAMES[kpi]}未達目標，已請主辦單位檢討改善。")
            if kpi in REPORTED_VALUES or note:
                rows.append(
                    {
                        "kpi": kpi,
                        "name": KPI_NAMES[kpi],
                        "year": year,
                        "quarter": q,
                        "value": float(value),
                        "note": note,
                    }
                )
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------
# Sheet model and the two renderers (.xlsx with openpyxl, .ods with odfpy)
# ---------------------------------------------------------------------------------------


@dataclass
class Sheet:
    """A sheet as a grid of Python values, with merges and per-column number formats.

    Cells are None (empty), str, int, float, datetime.date or datetime.datetime. Merges
    are 0-based inclusive (first_row, first_col, last_row, last_col); cells a merge
    covers must be None.
    """

    name: str
    rows: list[list[Any]] = field(default_factory=list)
    merges: list[tuple[int, int, int, int]] = field(default_factory=list)
    formats: dict[int, str] = field(default_factory=dict)  # column → Excel number format
    widths: dict[int, float] = field(default_factory=dict)
    bold_rows: set[int] = field(default_factory=set)

    def add(self, *cells: Any) -> int:
        self.rows.append(list(cells))
        return len(self.rows) - 1

    def merge(self, r0: int, c0: int, r1: int, c1: int) -> None:
        if (r0, c0) != (r1, c1):
            self.merges.append((r0, c0, r1, c1))


_FIXED_ZIP_TIME = (2020, 1, 1, 0, 0, 0)
_FIXED_STAMP = b"2020-01-01T00:00:00Z"


def _normalize_zip(path: Path) -> None:
    """Rewrite a zip container with fixed timestamps so reruns are byte-identical."""
    with zipfile.ZipFile(path) as zin:
        items = [(info, zin.read(info.filename)) for info in zin.infolist()]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zout:
        for info, data in items:
            if info.filename == "docProps/core.xml":
                data = re.sub(
                    rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)",
                    rb"\g<1>" + _FIXED_STAMP + rb"\g<2>",
                    data,
                )
            if info.filename == "meta.xml":
                data = re.sub(
                    rb"(<(meta:creation-date|dc:date)>)[^<]*(</\2>)",
                    rb"\g<1>2020-01-01T00:00:00\g<3>",
                    data,
                )
            zi = zipfile.ZipInfo(info.filename, date_time=_FIXED_ZIP_TIME)
            zi.compress_type = info.compress_type
            zi.external_attr = info.external_attr
            zout.writestr(zi, data)
    path.write_bytes(buf.getvalue())


def save_xlsx(sheets: Sequence[Sheet], path: Path) -> Path:
    """Write the sheets to an .xlsx workbook (merges, number formats, widths)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    wb = Workbook()
    wb.remove(wb.active)
    wb.properties.creator = "kpi.sample"
    wb.properties.created = dt.datetime(2020, 1, 1)
    bold = Font(bold=True)
    for sheet in sheets:
        ws = wb.create_sheet(sheet.name)
        for r, row in enumerate(sheet.rows):
            for c, value in enumerate(row):
                if value is None:
                    continue
                cell = ws.cell(row=r + 1, column=c + 1, value=value)
                if isinstance(value, dt.date):
                    cell.number_format = "yyyy/m/d"
                elif isinstance(value, int | float) and c in sheet.formats:
                    cell.number_format = sheet.formats[c]
                if r in sheet.bold_rows:
                    cell.font = bold
        for r0, c0, r1, c1 in sheet.merges:
            ws.merge_cells(start_row=r0 + 1, start_column=c0 + 1, end_row=r1 + 1, end_column=c1 + 1)
            if r1 > r0:
                ws.cell(row=r0 + 1, column=c0 + 1).alignment = Alignment(vertical="center")
        for c, width in sheet.widths.items():
            ws.column_dimensions[_col_letter(c)].width = width
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    _normalize_zip(path)
    return path


def _col_letter(c: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(c + 1)


_PY_FORMATS = {"#,##0": ",.0f", "#,##0.0": ",.1f", "0.00": ".2f", "0.0": ".1f", "0": ".0f"}


def _display(value: Any, fmt: str | None) -> str:
    if isinstance(value, dt.datetime | dt.date):
        return f"{value.year}/{value.month}/{value.day}"
    if isinstance(value, float | int) and not isinstance(value, bool):
        return format(value, _PY_FORMATS.get(fmt or "", "g" if isinstance(value, float) else "d"))
    return str(value)


def save_ods(sheets: Sequence[Sheet], path: Path) -> Path:
    """Write the sheets to an .ods document with odfpy: typed float/date cells, and
    merges as number-rows/columns-spanned plus covered-table-cell."""
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.table import CoveredTableCell, Table, TableCell, TableColumn, TableRow
    from odf.text import P

    doc = OpenDocumentSpreadsheet()
    for sheet in sheets:
        table = Table(name=sheet.name)
        ncol = max((len(r) for r in sheet.rows), default=1)
        table.addElement(TableColumn(numbercolumnsrepeated=ncol))
        spans = {(r0, c0): (r1 - r0 + 1, c1 - c0 + 1) for r0, c0, r1, c1 in sheet.merges}
        covered = {
            (r, c)
            for r0, c0, r1, c1 in sheet.merges
            for r in range(r0, r1 + 1)
            for c in range(c0, c1 + 1)
            if (r, c) != (r0, c0)
        }
        for r, row in enumerate(sheet.rows):
            tr = TableRow()
            for c in range(ncol):
                if (r, c) in covered:
                    tr.addElement(CoveredTableCell())
                    continue
                value = row[c] if c < len(row) else None
                attrs: dict[str, Any] = {}
                if (r, c) in spans:
                    attrs["numberrowsspanned"] = spans[(r, c)][0]
                    attrs["numbercolumnsspanned"] = spans[(r, c)][1]
                if value is None:
                    tr.addElement(TableCell(**attrs))
                    continue
                if isinstance(value, dt.datetime | dt.date):
                    cell = TableCell(
                        valuetype="date", datevalue=value.strftime("%Y-%m-%d"), **attrs
                    )
                elif isinstance(value, int | float) and not isinstance(value, bool):
                    cell = TableCell(valuetype="float", value=repr(float(value)), **attrs)
                else:
                    cell = TableCell(valuetype="string", **attrs)
                cell.addElement(P(text=_display(value, sheet.formats.get(c))))
                tr.addElement(cell)
            table.addElement(tr)
        doc.spreadsheet.addElement(table)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc.save(str(path))
    _normalize_zip(path)
    return path


def _save(sheets: Sequence[Sheet], path: Path) -> Path:
    return save_ods(sheets, path) if path.suffix == ".ods" else save_xlsx(sheets, path)


# ---------------------------------------------------------------------------------------
# Budget layout
# ---------------------------------------------------------------------------------------

_BUDGET_STYLES: dict[int, dict[str, Any]] = {
    1: {
        "ext": "xlsx",
        "unit": 1000,
        "title": "外交部及所屬機關 {year}年度預算執行狀況月報表",
        "period": "中華民國{year}年1月至{month}月",
        "unit_text": "單位：新臺幣千元",
        "unit_place": "own_row_right",
        "headers": (
            "機關",
            "工作計畫名稱",
            "經資門別",
            "年度預算數",
            "累計分配數",
            "累計實支數",
            "應付未付數",
            "執行率(%)",
        ),
        "kinds": {"經常門": "經常門", "資本門": "資本門"},
        "zero": 0,
        "rate_text": False,
        "total": "合計",
        "blank_between": False,
        "blank_before_header": False,
    },
    2: {
        "ext": "ods",
        "unit": 1000,
        "title": "外交部及所屬機關{year}年度預算執行狀況表",
        "period": "截至{month}月底",
        "unit_text": "單位：新臺幣千元",
        "unit_place": "period_row",
        "headers": (
            "機關",
            "計畫名稱",
            "經資門",
            "法定預算數",
            "截至本期分配數",
            "實際支出數",
            "應付數",
            "執行率（%）",
        ),
        "kinds": {"經常門": "經常門", "資本門": "資本門"},
        "zero": "-",
        "rate_text": False,
        "total": "合計",
        "blank_between": False,
        "blank_before_header": False,
    },
    3: {
        "ext": "xlsx",
        "unit": 1,
        "title": "外交部及所屬機關 {year}年度預算執行狀況月報表",
        "period": "中華民國{year}年1月至{month}月",
        "unit_text": "單位：新臺幣元",
        "unit_place": "own_row_left",
        "headers": (
            "機關名稱",
            "工作計畫",
            "經費類別",
            "預算數",
            "分配數",
            "實支數",
            "應付未付數",
            "執行率",
        ),
        "kinds": {"經常門": "經常門", "資本門": "資本門"},
        "zero": "—",
        "rate_text": True,
        "total": "總計",
        "blank_between": True,
        "blank_before_header": False,
    },
    4: {
        "ext": "xlsx",
        "unit": 1000,
        "title": "{year}年度 外交部預算執行月報",
        "period": "截至{month}月底",
        "unit_text": "單位：新臺幣千元",
        "unit_place": "own_row_left",
        "headers": (
            "機關",
            "工作計畫名稱",
            "經資門別",
            "年度預算數",
            "累計分配數",
            "累計實支數",
            "應付數",
            "執行率(%)",
        ),
        "kinds": {"經常門": "經常", "資本門": "資本"},
        "zero": None,
        "rate_text": False,
        "total": "總計",
        "blank_between": False,
        "blank_before_header": True,
    },
}


def budget_month_sheet(month_df: pd.DataFrame, year: int, month: int, quarter: int) -> Sheet:
    """One month's cumulative report, laid out the way the quarter's office does it."""
    st = _BUDGET_STYLES[quarter]
    unit = st["unit"]
    ncol = 8
    sheet = Sheet(name=f"{year}年{month}月")
    money_fmt = "#,##0.0" if unit == 1000 else "#,##0"
    sheet.formats = {3: money_fmt, 4: money_fmt, 5: money_fmt, 6: money_fmt, 7: "0.00"}
    sheet.widths = {0: 12, 1: 16, 2: 10, 3: 16, 4: 16, 5: 16, 6: 14, 7: 11}

    def money(v: int) -> Any:
        if v == 0:
            return st["zero"]
        return v / 1000 if unit == 1000 else int(v)

    def rate(executed: int, allotted: int) -> Any:
        if allotted == 0:
            return None if st["zero"] is None else "-"
        pct = round(executed / allotted * 100, 2)
        return f"{pct:.2f}%" if st["rate_text"] else pct

    def amounts(g: pd.DataFrame | pd.Series) -> list[Any]:
        b, a, s, p = (
            int(np.asarray(g[c]).sum()) for c in ("budget", "allotted", "spent", "payable")
        )
        return [money(b), money(a), money(s), money(p), rate(s + p, a)]

    r = sheet.add(st["title"].format(year=year))
    sheet.merge(r, 0, r, ncol - 1)
    sheet.bold_rows.add(r)
    period = st["period"].format(year=year, month=month).replace("1月至1月", "1月")
    if st["unit_place"] == "period_row":
        r = sheet.add(period, *[None] * 6, st["unit_text"])
        sheet.merge(r, 0, r, 5)
    else:
        r = sheet.add(period)
        sheet.merge(r, 0, r, ncol - 1)
        if st["unit_place"] == "own_row_right":
            sheet.add(*[None] * 7, st["unit_text"])
        else:
            sheet.add(st["unit_text"])
    if st["blank_before_header"]:
        sheet.add()
    sheet.bold_rows.add(sheet.add(*st["headers"]))
    for agency, ag in month_df.groupby("agency", sort=False):
        start = len(sheet.rows)
        for program, pg in ag.groupby("program", sort=False):
            pstart = len(sheet.rows)
            for i, (_, row) in enumerate(pg.iterrows()):
                sheet.add(
                    agency if len(sheet.rows) == start else None,
                    program if i == 0 else None,
                    st["kinds"][row["kind"]],
                    *amounts(row),
                )
            sheet.merge(pstart, 1, len(sheet.rows) - 1, 1)
        sub = sheet.add(None, "小計", None, *amounts(ag))
        sheet.merge(sub, 1, sub, 2)
        sheet.merge(start, 0, sub, 0)
        sheet.bold_rows.add(sub)
        if st["blank_between"]:
            sheet.add()
    tot = sheet.add(st["total"], None, None, *amounts(month_df))
    sheet.merge(tot, 0, tot, 2)
    sheet.bold_rows.add(tot)
    sheet.add()
    sheet.add("註：1.執行率＝（累計實支數＋應付未付數）÷累計分配數×100。")
    sheet.add("　　2.第一預備金依動支核定數分配；機密預算僅列總數。")
    if unit == 1:
        sheet.add("　　3.本表金額以新臺幣元為單位。")
    sheet.add("資料來源：會計處")
    return sheet


def write_budget(df: pd.DataFrame, out_dir: Path, year: int = 108) -> list[Path]:
    """One workbook per quarter, one sheet per month (Q2 as .ods, the others .xlsx)."""
    paths = []
    for q, months in QUARTER_MONTHS.items():
        sheets = [
            budget_month_sheet(df[df["month"] == m], year, m, q)
            for m in months
            if (df["month"] == m).any()
        ]
        if sheets:
            path = out_dir / f"{year}Q{q}_budget_預算執行.{_BUDGET_STYLES[q]['ext']}"
            paths.append(_save(sheets, path))
    return paths


# ---------------------------------------------------------------------------------------
# Visa layout
# ---------------------------------------------------------------------------------------

_FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def _days_cell(value: float, missing: Any) -> Any:
    return missing if np.isnan(value) else float(value)


def visa_quarter_sheet(qdf: pd.DataFrame, year: int, quarter: int) -> Sheet:
    """The quarter's visa statistics in that quarter's office layout."""
    count_fmt = "#,##0"
    region_rank = {r: i for i, r in enumerate(dict.fromkeys(m.region for m in MISSIONS))}
    qdf = qdf.assign(_r=qdf["region"].map(region_rank).fillna(99)).sort_values(
        ["month", "_r"], kind="stable"
    )
    recs = qdf.to_dict("records")
    if quarter == 1:
        sheet = Sheet(name="簽證統計")
        sheet.bold_rows.add(sheet.add(f"{year}年第1季簽證核發統計"))
        sheet.bold_rows.add(
            sheet.add(
                "年月",
                "地區",
                "駐外館處",
                "簽證類別",
                "申請件數",
                "核發件數",
                "拒發件數",
                "平均處理天數",
            )
        )
        for x in recs:
            missing = "-" if x["visa_type"] == "落地簽證" else None
            sheet.add(
                f"{year}/{x['month']:02d}",
                x["region"],
                x["mission"],
                x["visa_type"],
                int(x["applications"]),
                int(x["issued"]),
                int(x["refused"]),
                _days_cell(x["avg_days"], missing),
            )
        sheet.bold_rows.add(
            sheet.add(
                "合計",
                None,
                None,
                None,
                int(qdf["applications"].sum()),
                int(qdf["issued"].sum()),
                int(qdf["refused"].sum()),
                None,
            )
        )
        sheet.add()
        sheet.add("資料來源：領事事務局；平均處理天數空白或「-」表示未填報。")
        sheet.formats = {4: count_fmt, 5: count_fmt, 6: count_fmt, 7: "0.0"}
        sheet.widths = {0: 10, 1: 18, 2: 20, 3: 12, 7: 14}
    elif quarter == 2:
        sheet = Sheet(name=f"{year}Q2")
        sheet.add("領事事務局 簽證業務統計表")
        sheet.add(f"統計期間：{year}年4月至6月　　單位：件")
        sheet.bold_rows.add(
            sheet.add(
                "年度",
                "月份",
                "地區",
                "館處",
                "種類",
                "受理件數",
                "核准件數",
                "拒發件數",
                "平均作業天數",
            )
        )
        prev = None
        for x in recs:
            key = (x["month"], x["region"])
            sheet.add(
                year,
                int(x["month"]),
                x["region"] if key != prev else None,  # ditto blanks
                x["mission"],
                x["visa_type"],
                int(x["applications"]),
                int(x["issued"]),
                int(x["refused"]),
                _days_cell(x["avg_days"], "-"),
            )
            prev = key
        sheet.formats = {5: count_fmt, 6: count_fmt, 7: count_fmt, 8: "0.0"}
        sheet.widths = {2: 18, 3: 20, 8: 14}
    elif quarter == 3:
        sheet = Sheet(name=f"{year}Q3")
        sheet.bold_rows.add(sheet.add(f"{year}年第3季各館處簽證核發統計"))
        sheet.bold_rows.add(
            sheet.add(
                "年月",
                "地區",
                "駐外館處",
                "簽證類別",
                "申請件數",
                "核發件數",
                "拒發件數",
                "平均處理天數",
            )
        )
        i = 0
        while i < len(recs):
            j = i
            while (
                j + 1 < len(recs)
                and recs[j + 1]["mission"] == recs[i]["mission"]
                and recs[j + 1]["month"] == recs[i]["month"]
            ):
                j += 1
            start = len(sheet.rows)
            for k in range(i, j + 1):
                x = recs[k]
                sheet.add(
                    f"{year}/{x['month']:02d}",
                    x["region"],
                    x["mission"] if k == i else None,  # merged over its visa types
                    x["visa_type"],
                    int(x["applications"]),
                    int(x["issued"]),
                    int(x["refused"]),
                    _days_cell(x["avg_days"], "-"),
                )
            sheet.merge(start, 2, len(sheet.rows) - 1, 2)
            i = j + 1
        sheet.formats = {4: count_fmt, 5: count_fmt, 6: count_fmt, 7: "0.0"}
    else:
        sheet = Sheet(name=f"{_ad(year)}Q4")
        sheet.bold_rows.add(
            sheet.add(
                "年月",
                "地區",
                "駐外館處",
                "簽證類別",
                "申請件數",
                "核發件數",
                "拒發件數",
                "平均處理天數",
            )
        )
        for x in recs:
            apps = int(x["applications"])
            refused: Any = int(x["refused"])
            if x["mission"] == "駐日本代表處":
                refused = str(refused).translate(_FULL_WIDTH)  # full-width digits
            sheet.add(
                f"{year}年{x['month']}月",
                x["region"],
                x["mission"],
                x["visa_type"],
                f"{apps:,}" if apps >= 1000 else apps,  # pasted from a web report
                int(x["issued"]),
                refused,
                _days_cell(x["avg_days"], None),
            )
        sheet.formats = {4: count_fmt, 5: count_fmt, 6: count_fmt, 7: "0.0"}
        sheet.widths = {0: 12, 1: 18, 2: 20, 3: 12}
    return sheet


def write_visa(df: pd.DataFrame, out_dir: Path, year: int = 108) -> list[Path]:
    """One workbook per quarter (Q3 as .ods, the others .xlsx)."""
    paths = []
    for q, months in QUARTER_MONTHS.items():
        qdf = df[df["month"].isin(months)]
        if len(qdf):
            ext = "ods" if q == 3 else "xlsx"
            path = out_dir / f"{year}Q{q}_visa_簽證.{ext}"
            paths.append(_save([visa_quarter_sheet(qdf, year, q)], path))
    return paths


# ---------------------------------------------------------------------------------------
# Visits layout
# ---------------------------------------------------------------------------------------

_TYPE_SYNONYMS = {
    "來訪": ("來訪", "訪賓"),
    "出訪": ("出訪", "出國訪問"),
    "國際會議": ("國際會議", "會議"),
}
_LEVEL_SYNONYMS = {
    "元首": ("元首", "總統"),
    "副元首": ("副元首", "副總統"),
    "閣揆": ("閣揆", "總理"),
    "部長": ("部長", "外長"),
    "副部長": ("副部長", "次長"),
    "國會議員": ("國會議員", "議員"),
    "官員": ("官員",),
    "其他": ("其他",),
}
_ENGLISH = {"巴拉圭": "Paraguay", "日本": "Japan"}


def _date_forms(day: dt.date) -> tuple[Any, ...]:
    roc = day.year - 1911
    return (
        dt.datetime(day.year, day.month, day.day),
        f"{roc}/{day.month:02d}/{day.day:02d}",
        f"{roc}.{day.month}.{day.day}",
        f"{roc}年{day.month}月{day.day}日",
    )


def visits_sheets(df: pd.DataFrame, year: int = 108) -> list[Sheet]:
    """One sheet per quarter (108Q1…108Q4) with mixed date forms and synonyms."""
    rng = np.random.default_rng([SEED, 4, year])
    quarter = (pd.to_datetime(df["date"]).dt.month - 1) // 3 + 1
    renamed = {"巴拉圭": 0, "日本": 0, "史瓦帝尼": 0}
    sheets = []
    for q in range(1, 5):
        qdf = df[quarter.to_numpy() == q]
        sheet = Sheet(name=f"{year}Q{q}")
        if q == 2:
            sheet.add(f"{year}年第2季外賓來訪、出訪及參與國際會議一覽表")
        if q == 4:
            sheet.add(f"{year}年第4季訪問交流紀錄")
            sheet.add()
        sheet.bold_rows.add(sheet.add("日期", "類型", "國家", "層級", "團名", "人數", "工作計畫"))
        for x in qdf.to_dict("records"):
            country = x["country"]
            if country in _ENGLISH and renamed[country] < 2:
                renamed[country] += 1
                country = _ENGLISH[country]
            elif country == "史瓦帝尼" and renamed["史瓦帝尼"] < 1:
                renamed["史瓦帝尼"] += 1
                country = "史瓦濟蘭"  # the former name
            level = _pick(rng, _LEVEL_SYNONYMS[x["level"]])
            if level == "總統" and x["type"] == "來訪":
                level = "國王" if "國王" in x["delegation"] else level
                level = "總督" if "總督" in x["delegation"] else level
            if level == "外長" and "外交部長" not in x["delegation"]:
                level = "部長"
            participants = x["participants"]
            sheet.add(
                _pick(rng, _date_forms(x["date"]), (0.4, 0.2, 0.2, 0.2)),
                _pick(rng, _TYPE_SYNONYMS[x["type"]], (0.7, 0.3)),
                country,
                level,
                x["delegation"],
                None if pd.isna(participants) else int(participants),
                x["program"] or None,
            )
        if q == 4:
            sheet.add("合計", None, None, None, f"共{len(qdf)}筆", int(qdf["participants"].sum()))
        sheet.widths = {0: 14, 2: 16, 4: 36, 6: 16}
        sheets.append(sheet)
    return sheets


def write_visits(df: pd.DataFrame, out_dir: Path, year: int = 108) -> Path:
    return save_xlsx(visits_sheets(df, year), out_dir / f"{year}_visits_訪問交流.xlsx")


# ---------------------------------------------------------------------------------------
# Indicator values layout
# ---------------------------------------------------------------------------------------

_INSTRUCTIONS = (
    "填報說明",
    "",
    "1. 本表供各主辦單位填報無法由其他資料集計算之績效指標實際值，及各指標之說明。",
    "2. 實際值請填「年初至該季季底」之累計數；僅填說明者，實際值欄請留空。",
    "3. 季別請填「第1季」至「第4季」；年度請填民國年（例：108）。",
    "4. 燈號為紅燈或黃燈之指標，請於說明欄敘明原因及改善措施。",
    "5. 本工作表為填報說明，匯入時不予讀取。",
    "",
    "聯絡人：研究設計會 分機1234",
)


def kpi_values_sheets(df: pd.DataFrame, year: int = 108) -> list[Sheet]:
    info = Sheet(name="填報說明")
    for line in _INSTRUCTIONS:
        info.add(line or None)
    info.widths = {0: 80}
    sheet = Sheet(name="指標填報")
    sheet.bold_rows.add(sheet.add(f"外交部{year}年度施政績效指標填報表"))
    sheet.bold_rows.add(sheet.add("指標代碼", "指標名稱", "年度", "季別", "實際值", "說明"))
    for x in df.to_dict("records"):
        value = x["value"]
        sheet.add(
            x["kpi"],
            x["name"],
            int(x["year"]),
            f"第{int(x['quarter'])}季",
            None if np.isnan(value) else (int(value) if float(value).is_integer() else value),
            x["note"] or None,
        )
    sheet.widths = {0: 10, 1: 26, 5: 90}
    return [info, sheet]


def write_kpi_values(df: pd.DataFrame, out_dir: Path, year: int = 108) -> Path:
    return save_xlsx(kpi_values_sheets(df, year), out_dir / f"{year}_kpi_values_指標填報.xlsx")


# ---------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------


def generate(out_dir: Path = SAMPLE_DIR, year: int = 108) -> list[Path]:
    """(Re)write every sample workbook under ``out_dir``; returns the paths written.

    Sample workbooks of an earlier run (``{year}Q*_budget_*``, ``{year}Q*_visa_*``,
    ``{year}_visits_*``, ``{year}_kpi_values_*``) are removed first; nothing else is.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for pattern in ("Q?_budget_*", "Q?_visa_*", "_visits_*", "_kpi_values_*"):
        for old in out_dir.glob(f"{year}{pattern}"):
            if old.suffix in (".xlsx", ".ods"):
                old.unlink()
    paths = write_budget(budget_frame(year), out_dir, year)
    paths += write_visa(visa_frame(year), out_dir, year)
    paths.append(write_visits(visits_frame(year), out_dir, year))
    paths.append(write_kpi_values(kpi_values_frame(year), out_dir, year))
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kpi.sample", description="Write the bundled sample year's workbooks."
    )
    parser.add_argument("--out", type=Path, default=SAMPLE_DIR, help="output folder")
    parser.add_argument("--year", type=int, default=108, help="ROC year (default 108)")
    args = parser.parse_args(argv)
    for path in generate(args.out, args.year):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

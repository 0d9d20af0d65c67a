"""Indicator actuals, achievement, lights, goal roll-ups and budget totals, checked against SPEC §3.

Random small datasets are stored as canonical frames; every figure is then recomputed here
in plain pandas straight from the SPEC's table (ratios of sums, year to date, budget at
the quarter's last month, ally status on the visit's date, white without data) and
compared with what the engine reports.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import unicodedata

import numpy as np
import pandas as pd
import pytest
import yaml

from kpi import sample
from kpi.catalog import DEFAULT_CATALOG_PATH, catalog_from_dict
from kpi.engine import Engine
from kpi.relations import load_relations
from kpi.store import Store

YEAR = 108
ALL = "all"
# SPEC §3: id → (goal, programs, better, cumulative targets Q1–Q4).
SPEC = {
    "K1.1": ("G1", {"國際會議及交流"}, "higher", (10, 20, 30, 40)),
    "K2.1": ("G2", {"國際會議及交流"}, "higher", (30, 60, 90, 120)),
    "K3.1": ("G3", {"國際會議及交流"}, "higher", (12, 24, 36, 48)),
    "K4.1": ("G4", {"國際會議及交流"}, "higher", (50, 100, 150, 200)),
    "K5.1": ("G5", {"外交管理業務"}, "higher", (1250, 2500, 3750, 5000)),
    "K6.1": ("G6", {"領事事務管理"}, "higher", (125000, 250000, 375000, 500000)),
    "K6.2": ("G6", {"領事事務管理"}, "higher", (0.30,) * 4),
    "K6.3": ("G6", {"領事事務管理"}, "lower", (5,) * 4),
    "K7.1": ("G7", ALL, "higher", (0.90,) * 4),
    "K7.2": ("G7", ALL, "higher", (0.90,) * 4),
}
GOALS = ("G1", "G2", "G3", "G4", "G5", "G6", "G7")
GREEN, YELLOW, CAP = 1.0, 0.9, 1.2
HIGH = {"元首", "副元首", "閣揆", "部長"}
HIGH_NON_ALLY = HIGH | {"國會議員"}
LEVELS = ("元首", "副元首", "閣揆", "部長", "副部長", "國會議員", "官員", "其他")
PLAN_PROGRAMS = ("外交管理業務", "國際會議及交流", "國際合作及關懷", "領事事務管理", "營建工程")
BUDGET_PROGRAMS = {
    "外交部": (
        "一般行政",
        "外交管理業務",
        "國際會議及交流",
        "國際合作及關懷",
        "營建工程",
        "第一預備金",
    ),
    "領事事務局": ("一般行政", "領事事務管理", "營建工程"),
}
MISSIONS = {"駐日本代表處": "亞太", "駐美國代表處": "北美", "駐巴拉圭大使館": "拉美"}
VISA_TYPES = ("停留簽證", "居留簽證", "電子簽證", "落地簽證")
# Allies, the two whose relations ended in September 2019, an English spelling, non-allies.
COUNTRIES = (
    "巴拉圭",
    "Paraguay",
    "教廷",
    "史瓦帝尼",
    "索羅門群島",
    "吉里巴斯",
    "日本",
    "美國",
    "法國",
    "印度",
)


# -- data ---------------------------------------------------------------------------------------


def budget_rows(rows: list[tuple]) -> pd.DataFrame:
    cols = ["year", "month", "agency", "program", "kind", "budget", "allotted", "spent", "payable"]
    return pd.DataFrame(rows, columns=cols)


def visa_rows(rows: list[tuple]) -> pd.DataFrame:
    cols = [
        "year",
        "month",
        "mission",
        "region",
        "visa_type",
        "applications",
        "issued",
        "refused",
        "avg_days",
    ]
    frame = pd.DataFrame(rows, columns=cols)
    frame["avg_days"] = frame["avg_days"].astype(float)
    return frame


def visit_rows(rows: list[tuple]) -> pd.DataFrame:
    cols = ["date", "type", "country", "level", "delegation", "participants", "program"]
    frame = pd.DataFrame(rows, columns=cols)
    frame["date"] = pd.to_datetime(frame["date"])
    frame["participants"] = pd.array(frame["participants"], dtype="Int64")
    frame["year"] = frame["date"].dt.year - 1911
    frame["month"] = frame["date"].dt.month
    return frame


def kpi_rows(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["kpi", "year", "quarter", "value", "note"])
    frame["value"] = frame["value"].astype(float)
    return frame


EMPTY = {
    "budget": budget_rows([]),
    "visa": visa_rows([]),
    "visits": visit_rows([]),
    "kpi_values": kpi_rows([]),
}


def random_data(seed: int) -> dict[str, pd.DataFrame]:
    """A small random year: some months and quarters have no rows at all."""
    rng = np.random.default_rng(seed)
    budget = []
    for month in (m for m in range(1, 13) if rng.random() < 0.6):
        for agency, programs in BUDGET_PROGRAMS.items():
            for program in programs:
                for kind in ("經常門", "資本門"):
                    if rng.random() < 0.4:
                        continue
                    allotted = int(rng.integers(0, 40)) * 25_000
                    spent = int(allotted * rng.uniform(0.3, 1.05)) // 100 * 100
                    payable = int(rng.integers(0, 30)) * 1_000 if rng.random() < 0.6 else 0
                    budget.append(
                        (
                            YEAR,
                            month,
                            agency,
                            program,
                            kind,
                            int(rng.integers(1, 99)) * 1_000_000,
                            allotted,
                            spent,
                            payable,
                        )
                    )
    visa = []
    for month in (m for m in range(1, 13) if rng.random() < 0.6):
        for mission, region in MISSIONS.items():
            for kind in VISA_TYPES:
                if rng.random() < 0.4:
                    continue
                issued = int(rng.integers(0, 400))
                days = None if rng.random() < 0.3 else round(float(rng.uniform(0.5, 9.5)), 1)
                visa.append(
                    (
                        YEAR,
                        month,
                        mission,
                        region,
                        kind,
                        issued + int(rng.integers(0, 30)),
                        issued,
                        int(rng.integers(0, 9)),
                        days,
                    )
                )
    quarters = [q for q in (1, 2, 3, 4) if rng.random() < 0.75]
    visits = []
    for i in range(int(rng.integers(0, 70)) if quarters else 0):
        q = int(rng.choice(quarters))
        if q == 3 and rng.random() < 0.4:  # around the end of relations with 索羅門群島 / 吉里巴斯
            day = dt.date(2019, 9, int(rng.integers(10, 25)))
        else:
            day = dt.date(2019, 3 * q - 2, 1) + dt.timedelta(days=int(rng.integers(0, 90)))
        visits.append(
            (
                day.isoformat(),
                str(rng.choice(["來訪", "出訪", "國際會議"])),
                str(rng.choice(COUNTRIES)),
                str(rng.choice(LEVELS)),
                f"訪團{i}",
                None if rng.random() < 0.2 else int(rng.integers(1, 30)),
                str(rng.choice(["國際會議及交流", "國際合作及關懷"])),
            )
        )
    reported = []
    for kpi, scale in (("K4.1", 300), ("K5.1", 6000)):
        for q in (1, 2, 3, 4):
            r = rng.random()
            if r < 0.6:
                reported.append((kpi, YEAR, q, float(rng.integers(0, scale)), None))
            elif r < 0.8:
                reported.append((kpi, YEAR, q, None, "本季未填數值，僅說明。"))
    # A value reported for an indicator that is computed from a dataset counts for nothing.
    reported.append(("K1.1", YEAR, 1, 999.0, "說明"))
    return {
        "budget": budget_rows(budget),
        "visa": visa_rows(visa),
        "visits": visit_rows(visits),
        "kpi_values": kpi_rows(reported),
    }


def store_all(store: Store, data: dict[str, pd.DataFrame]) -> None:
    for name, frame in data.items():
        if len(frame):
            store.import_frames({name: frame}, file_name=f"{name}.xlsx", content=name.encode())


# -- the SPEC, in plain pandas -----------------------------------------------------------------


def ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def expected(data: dict[str, pd.DataFrame], quarter: int, programs: tuple[str, ...] = ()) -> dict:
    """Every selected indicator, goal and budget total of one quarter, from SPEC §3."""
    data = {**EMPTY, **data}
    last = quarter * 3
    in_quarter = {last - 2, last - 1, last}
    relations = load_relations()

    visits = data["visits"]
    ally = np.array(
        [relations.is_ally(c, d) for c, d in zip(visits["country"], visits["date"], strict=True)],
        dtype=bool,
    )
    vis = visits.assign(ally=ally)
    vis_ytd = vis[vis["month"] <= last]
    visits_white = not vis["month"].isin(in_quarter).any()
    inout = vis_ytd["type"].isin(["來訪", "出訪"])

    visa = data["visa"]
    visa_ytd = visa[visa["month"] <= last]
    visa_white = not visa["month"].isin(in_quarter).any()
    days = visa_ytd[visa_ytd["avg_days"].notna()]

    budget = data["budget"]
    if programs:
        budget = budget[budget["program"].isin(programs)]
    at_end = budget[budget["month"] == last]
    capital = at_end[at_end["kind"] == "資本門"]

    reported = data["kpi_values"]

    def reported_value(kpi: str) -> float | None:
        rows = reported[
            (reported["kpi"] == kpi) & (reported["year"] == YEAR) & (reported["quarter"] == quarter)
        ]
        values = rows["value"].dropna()
        return float(values.iloc[-1]) if len(values) else None

    actual = {
        "K1.1": None
        if visits_white
        else float((inout & vis_ytd["ally"] & vis_ytd["level"].isin(HIGH)).sum()),
        "K2.1": None
        if visits_white
        else float((inout & ~vis_ytd["ally"] & vis_ytd["level"].isin(HIGH_NON_ALLY)).sum()),
        "K3.1": None if visits_white else float((vis_ytd["type"] == "國際會議").sum()),
        "K4.1": reported_value("K4.1"),
        "K5.1": reported_value("K5.1"),
        "K6.1": None if visa_white else float(visa_ytd["issued"].sum()),
        "K6.2": None
        if visa_white
        else ratio(
            visa_ytd.loc[visa_ytd["visa_type"] == "電子簽證", "issued"].sum(),
            visa_ytd["issued"].sum(),
        ),
        "K6.3": None
        if visa_white
        else ratio((days["avg_days"] * days["issued"]).sum(), days["issued"].sum()),
        "K7.1": ratio((capital["spent"] + capital["payable"]).sum(), capital["allotted"].sum()),
        "K7.2": ratio((at_end["spent"] + at_end["payable"]).sum(), at_end["allotted"].sum()),
    }
    weights = indicator_weights()
    kpis = {}
    for kpi, (goal, linked, better, targets) in SPEC.items():
        if programs and linked != ALL and not linked & set(programs):
            continue
        a, t = actual[kpi], float(targets[quarter - 1])
        ach = None if a is None else (a / t if better == "higher" else ratio(t, a))
        kpis[kpi] = {
            "goal": goal,
            "actual": a,
            "target": t,
            "achievement": ach,
            "light": light_of(ach),
        }
    goals = {}
    for goal in GOALS:
        have = [
            (min(k["achievement"], CAP), weights[i])
            for i, k in kpis.items()
            if k["goal"] == goal and k["achievement"] is not None
        ]
        ach = sum(a * w for a, w in have) / sum(w for _, w in have) if have else None
        goals[goal] = {"achievement": ach, "light": light_of(ach)}
    totals = {
        "budget": float(at_end["budget"].sum()) if len(at_end) else None,
        "allotted": float(at_end["allotted"].sum()) if len(at_end) else None,
        "executed": float((at_end["spent"] + at_end["payable"]).sum()) if len(at_end) else None,
    }
    return {"kpis": kpis, "goals": goals, "budget_totals": totals}


def light_of(achievement: float | None) -> str:
    if achievement is None:
        return "white"
    a = round(achievement, 9)  # sums added in another order must not flip a light
    return "green" if a >= GREEN else "yellow" if a >= YELLOW else "red"


@functools.cache
def indicator_weights() -> dict[str, float]:
    """Weights are data (kpis.yaml; SPEC: default 1)."""
    raw = yaml.safe_load(DEFAULT_CATALOG_PATH.read_text(encoding="utf-8"))
    return {ind["id"]: float(ind.get("weight", 1)) for ind in raw["indicators"]}


def close(got: float | None, want: float | None, tol: float = 2e-6) -> bool:
    if got is None or want is None:
        return got is None and want is None
    return math.isclose(got, want, rel_tol=1e-9, abs_tol=tol)


def assert_matches(
    engine: Engine, data: dict[str, pd.DataFrame], quarter: int, programs: tuple[str, ...] = ()
) -> None:
    """The engine's Status and its JSON both agree with the SPEC's figures."""
    want = expected(data, quarter, programs)
    status = engine.status(YEAR, quarter, programs)
    doc = status.as_json()
    where = f"Q{quarter} {programs or ''}"
    assert doc["year"] == YEAR and doc["quarter"] == quarter and doc["programs"] == list(programs)
    assert [k["id"] for k in doc["kpis"]] == list(want["kpis"]), where
    for fig, row in zip(status.kpis, doc["kpis"], strict=True):
        w = want["kpis"][fig.id]
        for name in ("actual", "target", "achievement"):
            assert close(getattr(fig, name), w[name], tol=1e-9), (
                where,
                fig.id,
                name,
                getattr(fig, name),
                w[name],
            )
            assert close(row[name], w[name]), (where, fig.id, name, row[name], w[name])
        assert fig.light == row["light"] == w["light"], (where, fig.id, fig.achievement)
        assert row["goal"] == w["goal"]
    assert [g["id"] for g in doc["goals"]] == list(GOALS)
    titles = {g.id: g.title for g in engine.plan(YEAR).goals}
    for g in doc["goals"]:
        w = want["goals"][g["id"]]
        assert close(g["achievement"], w["achievement"]), (
            where,
            g["id"],
            g["achievement"],
            w["achievement"],
        )
        assert g["light"] == w["light"], (where, g["id"])
        assert g["title"] == titles[g["id"]] and g["title"]
    for name, value in want["budget_totals"].items():
        assert close(doc["budget_totals"][name], value), (where, name)


# -- random years ----------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(4))
def test_every_indicator_follows_the_spec_on_random_data(store, seed):
    data = random_data(seed)
    store_all(store, data)
    engine = Engine(store)
    for quarter in (1, 2, 3, 4):
        assert_matches(engine, data, quarter)
    # Each seed filters by two of the programs (together the seeds cover all of them) and a pair.
    rng = np.random.default_rng(1000 + seed)
    programs = (*PLAN_PROGRAMS, "一般行政")
    for program in (programs[seed], programs[(seed + 4) % len(programs)]):
        assert_matches(engine, data, int(rng.integers(1, 5)), (program,))
    assert_matches(engine, data, int(rng.integers(1, 5)), ("國際會議及交流", "領事事務管理"))


def test_an_empty_year_is_white_everywhere(store):
    doc = Engine(store).status(YEAR, 2).as_json()
    assert len(doc["kpis"]) == 10
    assert all(
        k["light"] == "white" and k["actual"] is None and k["achievement"] is None
        for k in doc["kpis"]
    )
    assert all(k["target"] is not None for k in doc["kpis"])
    assert all(g["light"] == "white" and g["achievement"] is None for g in doc["goals"])
    assert doc["budget_totals"] == {"budget": None, "allotted": None, "executed": None}


def test_ally_status_follows_the_visit_date(store):
    data = {
        "visits": visit_rows(
            [
                (
                    "2019-09-15",
                    "來訪",
                    "索羅門群島",
                    "部長",
                    "索國外長訪團",
                    5,
                    "國際會議及交流",
                ),  # last day as an ally
                (
                    "2019-09-16",
                    "出訪",
                    "索羅門群島",
                    "部長",
                    "赴索國訪團",
                    5,
                    "國際會議及交流",
                ),  # relations ended
                ("2019-09-19", "來訪", "Kiribati", "元首", "吉國總統訪團", 9, "國際會議及交流"),
                ("2019-09-20", "來訪", "吉里巴斯", "國會議員", "吉國議員團", 3, "國際會議及交流"),
                ("2019-08-01", "國際會議", "美國", "官員", "APEC 會議", 2, "國際會議及交流"),
                (
                    "2019-08-02",
                    "來訪",
                    "美國",
                    "副部長",
                    "美國副部長訪團",
                    2,
                    "國際會議及交流",
                ),  # not a counted level
            ]
        )
    }
    store_all(store, data)
    doc = Engine(store).status(YEAR, 3).as_json()
    got = {k["id"]: k["actual"] for k in doc["kpis"]}
    assert (got["K1.1"], got["K2.1"], got["K3.1"]) == (2, 2, 1)
    assert_matches(Engine(store), data, 3)
    # The third quarter's visits are not second-quarter data: Q2 has none and is white.
    q2 = {k["id"]: k for k in Engine(store).status(YEAR, 2).as_json()["kpis"]}
    assert q2["K1.1"]["light"] == "white" and q2["K1.1"]["actual"] is None


def test_year_to_date_sums_and_the_budget_at_the_quarters_last_month(store):
    data = {
        "visa": visa_rows(
            [
                (YEAR, 1, "駐日本代表處", "亞太", "電子簽證", 100, 100, 0, 2.0),
                (YEAR, 2, "駐日本代表處", "亞太", "停留簽證", 300, 300, 0, None),
                (YEAR, 4, "駐美國代表處", "北美", "停留簽證", 600, 600, 0, 8.0),
            ]
        ),
        "budget": budget_rows(
            [
                (YEAR, 3, "外交部", "外交管理業務", "經常門", 1000, 100, 90, 0),
                (
                    YEAR,
                    5,
                    "外交部",
                    "外交管理業務",
                    "經常門",
                    1000,
                    200,
                    10,
                    0,
                ),  # not a quarter's end
                (YEAR, 6, "外交部", "外交管理業務", "經常門", 1000, 300, 240, 30),
                (YEAR, 6, "外交部", "營建工程", "資本門", 500, 100, 50, 20),
            ]
        ),
    }
    store_all(store, data)
    engine = Engine(store)
    q1 = {k["id"]: k for k in engine.status(YEAR, 1).as_json()["kpis"]}
    q2 = {k["id"]: k for k in engine.status(YEAR, 2).as_json()["kpis"]}
    assert (q1["K6.1"]["actual"], q1["K6.2"]["actual"], q1["K6.3"]["actual"]) == (400, 0.25, 2)
    assert (q2["K6.1"]["actual"], q2["K6.2"]["actual"]) == (1000, 0.1)
    assert q2["K6.3"]["actual"] == pytest.approx((2 * 100 + 8 * 600) / 700)  # a ratio of sums
    assert q2["K6.3"]["achievement"] == pytest.approx(5 / ((2 * 100 + 8 * 600) / 700), abs=1e-6)
    assert q1["K7.1"]["light"] == "white"  # no 資本門 rows in March
    assert (q1["K7.2"]["actual"], q1["K7.2"]["light"]) == (0.9, "green")
    assert q2["K7.1"]["actual"] == pytest.approx(0.7)
    assert q2["K7.2"]["actual"] == pytest.approx((240 + 30 + 50 + 20) / 400)
    assert engine.status(YEAR, 2).as_json()["budget_totals"] == {
        "budget": 1500,
        "allotted": 400,
        "executed": 340,
    }
    for quarter in (1, 2, 3, 4):
        assert_matches(engine, data, quarter)


# -- goals and program filters -----------------------------------------------------------------


def test_goal_roll_up_is_a_weighted_mean_of_capped_achievements(store):
    data = {
        "visa": visa_rows(
            [
                (
                    YEAR,
                    1,
                    "駐日本代表處",
                    "亞太",
                    "停留簽證",
                    200_000,
                    150_000,
                    0,
                    None,
                ),  # K6.1 at 1.5 counts as 1.2; K6.3 white
                (
                    YEAR,
                    2,
                    "駐日本代表處",
                    "亞太",
                    "電子簽證",
                    45_000,
                    37_500,
                    0,
                    None,
                ),  # K6.2 0.2 / 0.3
            ]
        ),
        "kpi_values": kpi_rows([("K4.1", YEAR, 1, 500, None), ("K5.1", YEAR, 1, 1125, None)]),
    }
    store_all(store, data)
    doc = Engine(store).status(YEAR, 1).as_json()
    kpis = {k["id"]: k for k in doc["kpis"]}
    goals = {g["id"]: g for g in doc["goals"]}
    assert kpis["K4.1"]["achievement"] == 10 and goals["G4"]["achievement"] == pytest.approx(1.2)
    assert (goals["G5"]["achievement"], goals["G5"]["light"]) == (0.9, "yellow")
    assert kpis["K6.1"]["achievement"] == pytest.approx(1.5) and kpis["K6.3"]["light"] == "white"
    assert goals["G6"]["achievement"] == pytest.approx((1.2 + 0.2 / 0.3) / 2, abs=1e-6)
    assert goals["G6"]["light"] == "yellow"
    for goal in ("G1", "G2", "G3", "G7"):
        assert (goals[goal]["achievement"], goals[goal]["light"]) == (None, "white")
    assert_matches(Engine(store), data, 1)
    # Weights come from the catalogue: K6.1 three times as heavy.
    raw = yaml.safe_load(DEFAULT_CATALOG_PATH.read_text(encoding="utf-8"))
    for ind in raw["indicators"]:
        if ind["id"] == "K6.1":
            ind["weight"] = 3
    heavy = Engine(store, catalog=catalog_from_dict(raw)).status(YEAR, 1).as_json()
    g6 = next(g for g in heavy["goals"] if g["id"] == "G6")
    assert g6["achievement"] == pytest.approx((3 * 1.2 + 0.2 / 0.3) / 4, abs=1e-6)
    assert g6["light"] == "green"


def test_a_program_filter_keeps_its_indicators_and_its_budget_rows(store):
    data = {
        "budget": budget_rows(
            [
                (YEAR, 3, "外交部", "國際會議及交流", "經常門", 1000, 100, 95, 0),
                (YEAR, 3, "外交部", "國際會議及交流", "資本門", 400, 40, 10, 0),
                (YEAR, 3, "外交部", "營建工程", "資本門", 300, 100, 50, 0),
                (YEAR, 3, "領事事務局", "營建工程", "資本門", 100, 100, 100, 0),
                (YEAR, 3, "外交部", "一般行政", "經常門", 5000, 1000, 1000, 0),
            ]
        ),
        "visits": visit_rows(
            [("2019-01-10", "國際會議", "法國", "官員", "OECD", 2, "國際合作及關懷")]
        ),
    }
    store_all(store, data)
    engine = Engine(store)
    doc = engine.status(YEAR, 1, ("營建工程",)).as_json()
    assert [k["id"] for k in doc["kpis"]] == ["K7.1", "K7.2"]
    assert [k["actual"] for k in doc["kpis"]] == [0.75, 0.75]
    assert doc["budget_totals"] == {"budget": 400, "allotted": 200, "executed": 150}
    assert {g["id"]: g["light"] for g in doc["goals"]} == {
        **dict.fromkeys(GOALS[:6], "white"),
        "G7": "red",
    }
    meetings = engine.status(YEAR, 1, ("國際會議及交流",)).as_json()
    assert [k["id"] for k in meetings["kpis"]] == ["K1.1", "K2.1", "K3.1", "K4.1", "K7.1", "K7.2"]
    got = {k["id"]: k["actual"] for k in meetings["kpis"]}
    # Visits are not filtered by program (only budget rows are): the OECD meeting counts.
    assert (got["K3.1"], got["K7.1"], got["K7.2"]) == (1, 0.25, pytest.approx(105 / 140))
    everything = engine.status(YEAR, 1).as_json()["budget_totals"]
    assert everything == {"budget": 6800, "allotted": 1340, "executed": 1255}
    for programs in (
        ("營建工程",),
        ("國際會議及交流",),
        ("一般行政",),
        ("營建工程", "國際會議及交流"),
    ):
        assert_matches(engine, data, 1, programs)


# -- targets ---------------------------------------------------------------------------------------


def test_a_revised_target_is_the_one_used(store):
    data = {
        "visits": visit_rows(
            [
                ("2019-05-02", "來訪", "巴拉圭", "部長", f"訪團{i}", 3, "國際會議及交流")
                for i in range(18)
            ]
        )
    }
    store_all(store, data)
    engine = Engine(store)

    def k11(quarter: int) -> dict:
        return next(k for k in engine.status(YEAR, quarter).as_json()["kpis"] if k["id"] == "K1.1")

    assert (k11(2)["target"], k11(2)["light"]) == (20, "yellow")
    store.set_target("K1.1", YEAR, 2, 25, old=20, reason="院核定修正", who="admin")
    assert (k11(2)["target"], k11(2)["achievement"], k11(2)["light"]) == (25, 0.72, "red")
    store.set_target("K1.1", YEAR, 2, 18, old=25, reason="再修正", who="admin")
    assert (k11(2)["target"], k11(2)["achievement"], k11(2)["light"]) == (18, 1, "green")
    fig = next(k for k in engine.status(YEAR, 2).kpis if k.id == "K1.1")
    assert fig.original_target == 20
    # Other quarters, indicators and years keep their own targets.
    store.set_target("K1.1", YEAR + 1, 3, 1, old=30, reason="明年", who="admin")
    assert k11(3)["target"] == 30 and k11(1)["target"] == 10
    assert (
        next(k for k in engine.status(YEAR, 2).as_json()["kpis"] if k["id"] == "K2.1")["target"]
        == 60
    )
    revisions = store.target_revisions(year=YEAR, kpi="K1.1")
    assert revisions["new"].tolist() == [25, 18] and revisions["who"].tolist() == ["admin", "admin"]


# -- the bundled sample year -------------------------------------------------------------------------


def test_the_sample_year_gives_the_values_it_was_built_for(sqlite_store):
    engine = Engine(sqlite_store)
    results = engine.load_sample()
    assert results and all(r.status == "imported" for r in results)
    budget, visa, visits = (
        sample.budget_frame(YEAR),
        sample.visa_frame(YEAR),
        sample.visits_frame(YEAR),
    )
    want = sample.expected_kpis(budget, visa, visits)
    notes = sample.kpi_values_frame(YEAR)
    for quarter in (1, 2, 3, 4):
        status = engine.status(YEAR, quarter)
        doc = status.as_json()
        rows = want[want["quarter"] == quarter].set_index("kpi")
        assert [k["id"] for k in doc["kpis"]] == list(rows.index)
        for k in doc["kpis"]:
            w = rows.loc[k["id"]]
            for name in ("actual", "target", "achievement"):
                assert close(k[name], float(w[name])), (quarter, k["id"], name, k[name], w[name])
            assert k["light"] == w["light"], (quarter, k["id"])
        end = budget[budget["month"] == quarter * 3]
        assert doc["budget_totals"] == {
            "budget": end["budget"].sum(),
            "allotted": end["allotted"].sum(),
            "executed": (end["spent"] + end["payable"]).sum(),
        }
        # Commentary rides along with the indicator it explains (compared after NFKC folding).
        for fig in status.kpis:
            note = notes[(notes["kpi"] == fig.id) & (notes["quarter"] == quarter)]["note"]
            written = note.iloc[0] if len(note) and note.iloc[0] else None
            assert (fig.note and unicodedata.normalize("NFKC", fig.note)) == (
                written and unicodedata.normalize("NFKC", written)
            ), (quarter, fig.id)


# -- early warning (預警) -----------------------------------------------------------------------------


def monthly_visas(year: int, issued: dict[int, tuple[int, int]]) -> pd.DataFrame:
    """Visa rows: month → (停留簽證 issued, 電子簽證 issued), no processing days reported."""
    rows = []
    for month, counts in issued.items():
        for kind, n in zip(("停留簽證", "電子簽證"), counts, strict=True):
            rows.append((year, month, "駐日本代表處", "亞太", kind, n, n, 0, None))
    return visa_rows(rows)


def test_status_projects_each_indicator_to_year_end(store):
    # This year: 40,000 visas a month by Q2, a quarter of them eVisas; K4.1 reported 90 by Q2.
    store_all(
        store,
        {
            "visa": monthly_visas(YEAR, {m: (30_000, 10_000) for m in range(1, 7)}),
            "kpi_values": kpi_rows([("K4.1", YEAR, 2, 90.0, "活動延期")]),
        },
    )
    engine = Engine(store)

    def at_q2() -> dict[str, dict]:
        return {k["id"]: k for k in engine.status(YEAR, 2).as_json()["kpis"]}

    now = at_q2()
    # Additive against the plan's pace: 240,000 of 250,000 by Q2 → 480,000 of 500,000.
    k61 = now["K6.1"]
    assert (k61["actual"], k61["projection"], k61["projection_method"]) == (
        240_000,
        480_000,
        "plan-pace",
    )
    assert (k61["projected_achievement"], k61["projected_light"], k61["at_risk"]) == (
        0.96,
        "yellow",
        False,
    )
    assert k61["needed_per_quarter"] == (500_000 - 240_000) / 2
    assert (now["K4.1"]["projection"], now["K4.1"]["projected_light"]) == (180, "yellow")
    # A ratio projects its current value: a quarter of visas are eVisas against 30% → at risk.
    k62 = now["K6.2"]
    assert (k62["projection"], k62["projection_method"], k62["needed_per_quarter"]) == (
        0.25,
        "current-rate",
        None,
    )
    assert k62["projected_achievement"] == round(0.25 / 0.3, 6) and k62["at_risk"] is True
    # No processing days reported, no visits: nothing to project.
    for ind in ("K6.3", "K1.1"):
        assert (now[ind]["projection"], now[ind]["projection_method"]) == (None, None)
        assert now[ind]["projected_light"] == "white" and now[ind]["at_risk"] is False

    # Last year's visas: 30 + 90 of 300 (thousand) by Q2, a 40% share → the seasonal method.
    last = {
        m: (n * 1_000, 0)
        for m, n in zip(range(1, 13), [10] * 3 + [30] * 3 + [50] * 3 + [10] * 3, strict=True)
    }
    store_all(store, {"visa": monthly_visas(YEAR - 1, last)})
    now = at_q2()
    k61 = now["K6.1"]
    assert (k61["projection"], k61["projection_method"]) == (240_000 / 0.4, "seasonal")
    assert (k61["projected_achievement"], k61["projected_light"]) == (1.2, "green")
    assert k61["needed_per_quarter"] == (500_000 - 240_000) / 2
    # Ratios and indicators without last year's values are unchanged.
    assert now["K6.2"]["projection_method"] == "current-rate"
    assert now["K4.1"]["projection_method"] == "plan-pace"

    # The newest target revision is the annual target the projection is measured against.
    store.set_target("K6.1", YEAR, 4, 750_000, old=500_000, reason="院核定修正", who="admin")
    k61 = at_q2()["K6.1"]
    assert (k61["annual_target"], k61["projected_achievement"], k61["projected_light"]) == (
        750_000,
        0.8,
        "red",
    )
    assert k61["at_risk"] is True and k61["needed_per_quarter"] == (750_000 - 240_000) / 2
    # At Q4 the projection is the actual (no data in Q3–Q4 here: no projection at all).
    q4 = next(k for k in engine.status(YEAR, 4).kpis if k.id == "K6.1")
    assert (q4.actual, q4.projection, q4.needed_per_quarter) == (None, None, None)

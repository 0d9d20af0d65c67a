"""kpi.views against independent pandas computations from the rows each workbook holds.

One small store per module (SQLite): a budget report for March and June (amounts in
NT$ thousands, including programs not in the plan), visa statistics for January–April and
visits across the year, with 索羅門群島 both before and after relations ended (2019-09-16).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

from kpi import views
from kpi.engine import Engine
from kpi.store import Store
from tests.conftest import pg_schema
from tests.workbooks import xlsx_bytes

BUDGET_COLS = ["program", "kind", "budget", "allotted", "spent", "payable"]
# (month, program, kind, budget, allotted, spent, payable) in NT$ thousands; None = blank.
BUDGET_ROWS = [
    (3, "外交管理業務", "經常門", 1200, 300, 240, 30),
    (3, "外交管理業務", "資本門", 400, 100, 20, None),
    (3, "領事事務管理", "經常門", 2400, 600, 560, 10),
    (3, "領事事務管理", "資本門", 800, 200, 50, 10),
    (3, "一般行政", "經常門", 6000, 1500, 1450, 0),
    (3, "第一預備金", "經常門", 100, 60, 55, None),
    (6, "外交管理業務", "經常門", 1200, 600, 530, 40),
    (6, "外交管理業務", "資本門", 400, 200, 90, 15),
    (6, "領事事務管理", "經常門", 2400, 1200, 1100, 20),
    (6, "領事事務管理", "資本門", 800, 400, 220, 30),
    (6, "一般行政", "經常門", 6000, 3000, 2900, 50),
    (6, "第一預備金", "經常門", 100, 90, 80, None),
]
# (month, mission, region, visa type, applications, issued, refused, avg days or None)
VISA_ROWS = [
    (1, "駐日本代表處", "亞太", "停留簽證", 120, 110, 10, 4.0),
    (1, "駐日本代表處", "亞太", "電子簽證", 60, 58, 2, 1.5),
    (1, "駐美國代表處", "北美", "停留簽證", 90, 85, 5, None),
    (1, "領事事務局", "國內", "居留簽證", 40, 35, 5, 9.0),
    (2, "駐日本代表處", "亞太", "停留簽證", 100, 95, 5, 5.0),
    (2, "駐日本代表處", "亞太", "電子簽證", 70, 70, 0, 2.0),
    (2, "駐美國代表處", "北美", "停留簽證", 80, 76, 4, 6.5),
    (3, "駐美國代表處", "北美", "電子簽證", 50, 49, 1, None),
    (3, "領事事務局", "國內", "居留簽證", 45, 41, 4, 8.0),
    (4, "駐日本代表處", "亞太", "停留簽證", 130, 120, 10, 4.5),
    (4, "駐日本代表處", "亞太", "電子簽證", 90, 88, 2, 1.0),
]
# (date, type, country, level, delegation)
VISIT_ROWS = [
    (dt.date(2019, 1, 15), "來訪", "巴拉圭", "元首", "巴拉圭總統訪問團"),
    (dt.date(2019, 2, 20), "出訪", "日本", "國會議員", "立法委員訪日團"),
    (dt.date(2019, 3, 5), "國際會議", "瑞士", "官員", "@WTO 會議"),
    (dt.date(2019, 5, 8), "來訪", "索羅門群島", "部長", "索國外長訪問團"),
    (dt.date(2019, 9, 10), "出訪", "索羅門群島", "部長", "部長赴索羅門群島"),
    (dt.date(2019, 9, 25), "來訪", "索羅門群島", "國會議員", "索國國會議員團"),
    (dt.date(2019, 10, 2), "來訪", "日本", "部長", "日本外相訪問團"),
    (dt.date(2019, 11, 12), "國際會議", "美國", "副部長", "APEC 會議"),
]


def budget_frame() -> pd.DataFrame:
    """The canonical budget rows in NT dollars (blank payable is 0)."""
    df = pd.DataFrame(BUDGET_ROWS, columns=["month", *BUDGET_COLS])
    df["payable"] = df["payable"].fillna(0)
    for c in ("budget", "allotted", "spent", "payable"):
        df[c] = df[c].astype(float) * 1000
    df["executed"] = df["spent"] + df["payable"]
    return df


def visa_frame() -> pd.DataFrame:
    cols = [
        "month",
        "mission",
        "region",
        "visa_type",
        "applications",
        "issued",
        "refused",
        "avg_days",
    ]
    return pd.DataFrame(VISA_ROWS, columns=cols).astype({"avg_days": float})


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def eng(request, tmp_path_factory) -> Iterator[Engine]:
    """The views on both databases."""
    if request.param == "sqlite":
        yield from _loaded(f"sqlite:///{tmp_path_factory.mktemp('views') / 'v.sqlite3'}")
        return
    with pg_schema() as url:
        yield from _loaded(url)


def _loaded(url: str) -> Iterator[Engine]:
    e = Engine(Store(url))
    budget = [
        ["外交部108年度預算執行表"],
        ["", "", "", "", "", "", "", "單位：新臺幣千元"],
        ["年度", "月份", "工作計畫", "經資門", "預算數", "累計分配數", "累計實支數", "應付未付數"],
        *[[108, *row] for row in BUDGET_ROWS],
    ]
    visa = [
        ["108年簽證核發統計"],
        [
            "年月",
            "駐外館處",
            "地區",
            "簽證類別",
            "申請件數",
            "核發件數",
            "拒發件數",
            "平均處理天數",
        ],
        *[[f"108/{m:02d}", *rest] for m, *rest in VISA_ROWS],
    ]
    visits = [["日期", "類型", "國家", "層級", "團名"], *[list(row) for row in VISIT_ROWS]]
    for name, sheets in (
        ("budget.xlsx", {"預算": budget}),
        ("visa.xlsx", {"簽證": visa}),
        ("visits.xlsx", {"訪問": visits}),
    ):
        result = e.import_bytes(xlsx_bytes(sheets), name, year=108)
        assert result.status == "imported", [p.message_en for p in result.report.errors]
    yield e
    e.store.dispose()


@pytest.fixture(scope="module")
def empty(tmp_path_factory) -> Store:
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('empty') / 'e.sqlite3'}")
    yield store
    store.dispose()


def kpi(eng: Engine, kpi_id: str, quarter: int, programs: tuple[str, ...] = ()):
    return next(k for k in eng.status(108, quarter, programs).kpis if k.id == kpi_id)


# -- budget ----------------------------------------------------------------------------------


def test_budget_months_and_the_report_month_of_each_quarter(eng):
    assert views.budget_months(eng.store, 108) == [3, 6]
    assert [views.report_month(eng.store, 108, q) for q in (1, 2, 3, 4)] == [3, 6, 6, 6]
    assert views.report_month(eng.store, 107, 4) is None


@pytest.mark.parametrize("programs", [(), ("領事事務管理",), ("外交管理業務", "第一預備金")])
def test_budget_by_program_is_the_sum_of_the_rows_at_the_month(eng, programs):
    rows = budget_frame()
    rows = rows[rows["month"] == 6]
    if programs:
        rows = rows[rows["program"].isin(programs)]
    want = rows.groupby(["program", "kind"], as_index=False)[
        ["budget", "allotted", "executed"]
    ].sum()
    got = views.budget_by_program(eng.store, 108, 6, programs)
    merged = want.merge(got, on=["program", "kind"], suffixes=("", "_got"), validate="one_to_one")
    assert len(merged) == len(want) == len(got)
    for c in ("budget", "allotted", "executed"):
        np.testing.assert_allclose(merged[f"{c}_got"], merged[c])
    np.testing.assert_allclose(merged["rate"], merged["executed"] / merged["allotted"])


def test_budget_table_subtotals_and_total_are_ratios_of_sums(eng):
    rows = budget_frame()
    rows = rows[rows["month"] == 6]
    table = views.budget_table(views.budget_by_program(eng.store, 108, 6))
    total = table[table["row"] == "total"].iloc[0]
    assert total["executed"] == pytest.approx(rows["executed"].sum())
    assert total["rate"] == pytest.approx(rows["executed"].sum() / rows["allotted"].sum())
    assert total["rate"] == pytest.approx(kpi(eng, "K7.2", 2).actual)
    sub = table[(table["row"] == "subtotal") & (table["program"] == "領事事務管理")].iloc[0]
    part = rows[rows["program"] == "領事事務管理"]
    assert sub["kind"] == views.TOTAL
    assert sub["rate"] == pytest.approx(part["executed"].sum() / part["allotted"].sum())
    # A program with one kind has no subtotal; every program not in the plan is there.
    assert set(table.loc[table["row"] == "subtotal", "program"]) == {"外交管理業務", "領事事務管理"}
    assert {"一般行政", "第一預備金"} <= set(table["program"])
    assert views.budget_table(views.budget_by_program(eng.store, 108, 12)).empty


def test_budget_by_month_and_the_cumulative_curve(eng):
    rows = budget_frame()
    got = views.budget_by_month(eng.store, 108, ("領事事務管理",))
    part = rows[rows["program"] == "領事事務管理"]
    want = part.groupby(["month", "kind"], as_index=False)[["allotted", "executed"]].sum()
    np.testing.assert_allclose(got["rate"], want["executed"] / want["allotted"])
    curve = views.budget_curve(views.budget_by_month(eng.store, 108))
    assert list(curve["kind"]) == ["經常門", "資本門", views.TOTAL] * 2
    for month in (3, 6):
        now = rows[rows["month"] == month]
        at = curve[(curve["month"] == month) & (curve["kind"] == views.TOTAL)].iloc[0]
        assert at["rate"] == pytest.approx(now["executed"].sum() / now["allotted"].sum())
        capital = now[now["kind"] == "資本門"]
        k71 = curve[(curve["month"] == month) & (curve["kind"] == "資本門")].iloc[0]
        assert k71["rate"] == pytest.approx(capital["executed"].sum() / capital["allotted"].sum())
    assert curve[curve["month"] == 6]["rate"].iloc[1] == pytest.approx(kpi(eng, "K7.1", 2).actual)


def test_year_end_projection_from_the_pace_so_far(eng):
    rows = budget_frame()
    by_month = views.budget_by_month(eng.store, 108)
    at_march = by_month[by_month["month"] <= 3]
    now = rows[rows["month"] == 3]
    want_total = min(now["executed"].sum() / 3 * 12, now["budget"].sum()) / now["budget"].sum()
    assert views.year_end_projection(at_march)["total"] == pytest.approx(want_total)
    table = views.projection_table(at_march).set_index("kind")
    assert table.loc[views.TOTAL, "months"] == 3
    assert table.loc[views.TOTAL, "projected"] == pytest.approx(now["executed"].sum() * 4)
    for kind, part in now.groupby("kind"):
        want = min(part["executed"].sum() * 4, part["budget"].sum()) / part["budget"].sum()
        assert table.loc[kind, "rate"] == pytest.approx(want)
        assert views.year_end_projection(at_march)[kind] == pytest.approx(want)
    # The reserve fund spent 80 of 100 by June: at that pace it would overrun; capped at 100%.
    reserve = views.budget_by_month(eng.store, 108, ("第一預備金",))
    assert views.projection_table(reserve).set_index("kind").loc[views.TOTAL, "rate"] == 1.0


# -- visas ----------------------------------------------------------------------------------------


def test_visa_by_month_and_the_evisa_share(eng):
    rows = visa_frame()
    got = views.visa_by_month(eng.store, 108)
    want = rows.groupby(["month", "visa_type"], as_index=False)[["applications", "issued"]].sum()
    pd.testing.assert_frame_equal(got, want.astype({"applications": float, "issued": float}))
    share = views.evisa_share(got)
    evisa = (
        rows[rows["visa_type"] == "電子簽證"]
        .groupby("month")["issued"]
        .sum()
        .reindex(share["month"], fill_value=0)
    )
    issued = rows.groupby("month")["issued"].sum()
    np.testing.assert_allclose(share["share"], evisa.to_numpy() / issued.to_numpy())
    np.testing.assert_allclose(
        share["share_ytd"], evisa.cumsum().to_numpy() / issued.cumsum().to_numpy()
    )
    # Year to date at the end of Q1 is K6.2.
    assert share.loc[share["month"] == 3, "share_ytd"].iloc[0] == pytest.approx(
        kpi(eng, "K6.2", 1).actual
    )


def test_processing_days_are_weighted_by_issued_over_rows_that_report_them(eng):
    rows = visa_frame()
    q1 = rows[rows["month"] <= 3]
    reported = q1.dropna(subset=["avg_days"])
    by_mission = views.visa_by_mission(eng.store, 108, 3).set_index("mission")
    for mission, part in reported.groupby("mission"):
        want = (part["avg_days"] * part["issued"]).sum() / part["issued"].sum()
        assert by_mission.loc[mission, "avg_days"] == pytest.approx(want)
        assert by_mission.loc[mission, "issued"] == q1.loc[q1["mission"] == mission, "issued"].sum()
    assert by_mission.loc["駐美國代表處", "region"] == "北美"
    by_region = views.visa_by_region(by_mission.reset_index()).set_index("region")
    na = reported[reported["region"] == "北美"]
    assert by_region.loc["北美", "avg_days"] == pytest.approx(
        (na["avg_days"] * na["issued"]).sum() / na["issued"].sum()
    )
    overall = (reported["avg_days"] * reported["issued"]).sum() / reported["issued"].sum()
    assert by_mission["day_weight"].sum() / by_mission["issued_reported"].sum() == pytest.approx(
        overall
    )
    assert overall == pytest.approx(kpi(eng, "K6.3", 1).actual)


def test_visa_by_mission_type(eng):
    rows = visa_frame()
    got = views.visa_by_mission_type(eng.store, 108, 12).set_index(["mission", "visa_type"])
    want = rows.groupby(["mission", "visa_type"])[["applications", "issued", "refused"]].sum()
    assert len(got) == len(want)
    for c in want:
        np.testing.assert_allclose(got.loc[want.index, c], want[c])
    us = got.loc[("駐美國代表處", "電子簽證")]
    assert us["issued"] == 49 and np.isnan(us["avg_days"])  # issued, but no days reported
    japan = rows[(rows["mission"] == "駐日本代表處") & (rows["visa_type"] == "停留簽證")]
    want_days = (japan["avg_days"] * japan["issued"]).sum() / japan["issued"].sum()
    assert got.loc[("駐日本代表處", "停留簽證"), "avg_days"] == pytest.approx(want_days)


def test_missions_rolled_up_from_mission_type_rows_equal_visa_by_mission(eng, empty):
    for month in (3, 12):
        direct = views.visa_by_mission(eng.store, 108, month)
        rolled = views.visa_missions(views.visa_by_mission_type(eng.store, 108, month))
        pd.testing.assert_frame_equal(rolled[direct.columns], direct, check_dtype=False)
    assert views.visa_missions(views.visa_by_mission_type(empty, 108, 12)).empty


def test_mission_totals_in_sql_equal_the_mission_type_rows_rolled_up(eng, empty):
    # At a quarter's end (the summary) and mid-quarter (the rows).
    for month in (3, 5, 12):
        detail = views.visa_by_mission_type(eng.store, 108, month)
        totals = views.visa_mission_totals(eng.store, 108, month)
        rolled = views.visa_missions(detail)
        pd.testing.assert_frame_equal(totals[rolled.columns], rolled, check_dtype=False)
        assert totals.set_index("mission")["types"].to_dict() == (
            detail.groupby("mission").size().to_dict()
        )
        assert totals["types"].sum() == len(detail)
    assert views.visa_mission_totals(empty, 108, 12).empty


def test_mission_type_rows_of_chosen_missions(eng):
    detail = views.visa_by_mission_type(eng.store, 108, 6)
    chosen = sorted(set(detail["mission"]))[:2] + ["沒有這個館處"]
    some = views.visa_by_mission_type(eng.store, 108, 6, missions=chosen)
    want = detail[detail["mission"].isin(chosen)].reset_index(drop=True)
    pd.testing.assert_frame_equal(some, want)
    assert views.visa_by_mission_type(eng.store, 108, 6, missions=[]).empty


# -- visits ---------------------------------------------------------------------------------------


def test_visits_have_quarter_and_ally_status_on_the_visit_date(eng):
    got = views.visits(eng.store, 108)
    assert len(got) == len(VISIT_ROWS)
    assert list(got["quarter"]) == [1, 1, 1, 2, 3, 3, 4, 4]
    ally = dict(zip(got["delegation"], got["ally"], strict=True))
    assert ally["巴拉圭總統訪問團"] and ally["部長赴索羅門群島"]
    assert not ally["索國國會議員團"]  # 2019-09-25: after relations ended on 2019-09-16
    assert not ally["立法委員訪日團"]
    assert got.loc[got["country"] == "日本", "region"].unique().tolist() == ["亞太"]
    assert "@WTO 會議" in set(got["delegation"])  # stored as written; downloads neutralise it


def test_visit_counts(eng):
    got = views.visits(eng.store, 108)
    counts = views.visit_counts(got, ["quarter", "type"])
    want = pd.DataFrame(VISIT_ROWS, columns=["date", "type", "country", "level", "delegation"])
    want["quarter"] = [(d.month - 1) // 3 + 1 for d in want["date"]]
    want = want.groupby(["quarter", "type"]).size()
    assert (
        dict(
            zip(zip(counts["quarter"], counts["type"], strict=True), counts["visits"], strict=True)
        )
        == want.to_dict()
    )
    by_ally = views.visit_counts(got[got["type"] != "國際會議"], ["ally"]).set_index("ally")[
        "visits"
    ]
    assert by_ally.to_dict() == {False: 3, True: 3}
    assert kpi(eng, "K1.1", 4).actual == 3  # 元首/部長 with an ally on the day


# -- an empty store -------------------------------------------------------------------------------


def test_every_view_of_an_empty_store_is_empty_not_an_error(empty):
    assert views.budget_months(empty, 108) == [] and views.report_month(empty, 108, 4) is None
    by_program = views.budget_by_program(empty, 108, 12)
    by_month = views.budget_by_month(empty, 108)
    assert by_program.empty and views.budget_table(by_program).empty
    assert views.budget_curve(by_month).empty and views.projection_table(by_month).empty
    assert views.year_end_projection(by_month) == {}
    visa = views.visa_by_month(empty, 108)
    assert visa.empty and views.evisa_share(visa).empty
    by_mission = views.visa_by_mission(empty, 108, 12)
    assert by_mission.empty and views.visa_by_region(by_mission).empty
    assert views.visa_by_mission_type(empty, 108, 12).empty
    visits = views.visits(empty, 108)
    assert visits.empty and {"quarter", "ally", "region"} <= set(visits.columns)
    assert list(views.visit_counts(visits, ["quarter", "type"]).columns) == [
        "quarter",
        "type",
        "visits",
    ]

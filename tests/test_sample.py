"""The bundled sample year: its frames, the lights they give, and the written files.

The expected indicator values are recomputed here in plain pandas from the frames
(independently of kpi.sample.expected_kpis), and every written workbook is read back
with python-calamine and checked against the frames it came from.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from pathlib import Path

import pandas as pd
import pytest
from python_calamine import CalamineWorkbook

from kpi import sample

# Allies at the start of 2019 and the date relations ended (SPEC §4).
ALLY_END = {
    **{
        c: None
        for c in (
            "巴拉圭",
            "瓜地馬拉",
            "史瓦帝尼",
            "海地",
            "貝里斯",
            "聖克里斯多福及尼維斯",
            "聖文森及格瑞那丁",
            "聖露西亞",
            "尼加拉瓜",
            "宏都拉斯",
            "馬紹爾群島",
            "帛琉",
            "吐瓦魯",
            "諾魯",
            "教廷",
        )
    },
    "索羅門群島": dt.date(2019, 9, 16),
    "吉里巴斯": dt.date(2019, 9, 20),
}
TARGETS = {
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
APPROPRIATIONS = {
    ("外交部", "一般行政"): 8_004_178_000,
    ("外交部", "外交管理業務"): 240_961_000,
    ("外交部", "駐外機構業務"): 3_029_306_000,
    ("外交部", "國際會議及交流"): 1_760_144_000,
    ("外交部", "國際合作及關懷"): 9_605_721_000,
    ("外交部", "一般建築及設備"): 355_582_000,
    ("外交部", "第一預備金"): 70_000_000,
    ("外交部", "機密預算"): 1_558_100_000,
    ("領事事務局", "一般行政"): 277_956_000,
    ("領事事務局", "領事事務管理"): 1_025_099_000,
    ("領事事務局", "一般建築及設備"): 1_725_000,
    ("領事事務局", "第一預備金"): 1_500_000,
}
# The lights the sample year was designed to give.
DESIGNED = {
    ("K1.1", 1): "green",
    ("K1.1", 4): "yellow",
    ("K2.1", 2): "yellow",
    ("K3.1", 3): "red",
    ("K6.2", 1): "red",
    ("K6.2", 2): "green",
    ("K6.2", 4): "green",
    ("K6.3", 2): "yellow",
    ("K7.1", 1): "red",
    ("K7.1", 2): "red",
    ("K7.1", 4): "green",
    ("K7.2", 4): "green",
}
VISA_TYPES = {"停留簽證", "居留簽證", "電子簽證", "落地簽證"}
KINDS = {"經常門", "資本門", "經常", "資本"}
FULL_WIDTH = str.maketrans("０１２３４５６７８９", "0123456789")


# ------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    return {
        "budget": sample.budget_frame(),
        "visa": sample.visa_frame(),
        "visits": sample.visits_frame(),
        "kpi_values": sample.kpi_values_frame(),
    }


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path], float]:
    out = tmp_path_factory.mktemp("sample")
    start = time.perf_counter()
    paths = sample.generate(out)
    return out, paths, time.perf_counter() - start


def _light(achievement: float) -> str:
    return "green" if achievement >= 1 else "yellow" if achievement >= 0.9 else "red"


def _kpis(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Recompute every indicator per quarter, year to date, in plain pandas."""
    budget, visa, visits, values = (
        frames["budget"],
        frames["visa"],
        frames["visits"],
        frames["kpi_values"],
    )
    v = visits.copy()
    v["ally"] = [
        c in ALLY_END and (ALLY_END[c] is None or d < ALLY_END[c])
        for c, d in zip(v["country"], v["date"], strict=True)
    ]
    v["month"] = pd.to_datetime(v["date"]).dt.month
    rows = []
    for q in range(1, 5):
        last = 3 * q
        vq = v[v["month"] <= last]
        inout = vq[vq["type"].isin(["來訪", "出訪"])]
        k11 = inout[inout["ally"] & inout["level"].isin(["元首", "副元首", "閣揆", "部長"])]
        k21 = inout[
            ~inout["ally"] & inout["level"].isin(["元首", "副元首", "閣揆", "部長", "國會議員"])
        ]
        vi = visa[visa["month"] <= last]
        rep = vi.dropna(subset=["avg_days"])
        bu = budget[budget["month"] == last]
        cap = bu[bu["kind"] == "資本門"]
        reported = values[(values["quarter"] == q) & values["value"].notna()]
        actual = {
            "K1.1": len(k11),
            "K2.1": len(k21),
            "K3.1": int((vq["type"] == "國際會議").sum()),
            "K4.1": reported.loc[reported["kpi"] == "K4.1", "value"].item(),
            "K5.1": reported.loc[reported["kpi"] == "K5.1", "value"].item(),
            "K6.1": vi["issued"].sum(),
            "K6.2": vi.loc[vi["visa_type"] == "電子簽證", "issued"].sum() / vi["issued"].sum(),
            "K6.3": (rep["avg_days"] * rep["issued"]).sum() / rep["issued"].sum(),
            "K7.1": (cap["spent"] + cap["payable"]).sum() / cap["allotted"].sum(),
            "K7.2": (bu["spent"] + bu["payable"]).sum() / bu["allotted"].sum(),
        }
        for kpi, value in actual.items():
            target = TARGETS[kpi][q - 1]
            ach = target / value if kpi == "K6.3" else value / target
            rows.append({"kpi": kpi, "quarter": q, "actual": float(value), "light": _light(ach)})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------- frames


def test_frames_are_deterministic(frames: dict[str, pd.DataFrame]) -> None:
    pd.testing.assert_frame_equal(frames["budget"], sample.budget_frame())
    pd.testing.assert_frame_equal(frames["visa"], sample.visa_frame())
    pd.testing.assert_frame_equal(frames["visits"], sample.visits_frame())
    pd.testing.assert_frame_equal(frames["kpi_values"], sample.kpi_values_frame())


def test_budget_uses_real_appropriations(frames: dict[str, pd.DataFrame]) -> None:
    b = frames["budget"]
    assert sorted(b["month"].unique()) == list(range(1, 13))
    dec = b[b["month"] == 12]
    assert dec.groupby(["agency", "program"])["budget"].sum().to_dict() == APPROPRIATIONS
    # The annual figure is on every month's row; allotments are cumulative and complete
    # by December (the reserves are allotted only as they are drawn on).
    assert (b.groupby(["agency", "program", "kind"])["budget"].nunique() == 1).all()
    regular = dec[dec["program"] != "第一預備金"]
    assert (regular["allotted"] == regular["budget"]).all()
    for _, g in b.groupby(["agency", "program", "kind"]):
        assert g["allotted"].is_monotonic_increasing
        assert g["spent"].is_monotonic_increasing
    amounts = b[["budget", "allotted", "spent", "payable"]]
    assert (amounts >= 0).all().all()
    assert (amounts % 100 == 0).all().all()  # exact in 千元 with one decimal
    over = b[b["spent"] + b["payable"] > b["allotted"]]
    assert 1 <= len(over) <= 3  # "mostly" within the allotment: the importer warns
    # Back-loaded capital spending: the capital rate climbs through the year.
    cap = b[b["kind"] == "資本門"].groupby("month")[["spent", "payable", "allotted"]].sum()
    rate = (cap["spent"] + cap["payable"]) / cap["allotted"]
    assert rate[3] < rate[6] < rate[9] < rate[12]
    # 一般建築及設備 is almost all capital; 國際會議及交流 has a 資本門 row of zeros.
    bldg = dec[(dec["agency"] == "外交部") & (dec["program"] == "一般建築及設備")]
    assert bldg.set_index("kind")["budget"]["資本門"] > 0.95 * bldg["budget"].sum()
    conf = dec[(dec["agency"] == "外交部") & (dec["program"] == "國際會議及交流")]
    assert conf.set_index("kind")["budget"]["資本門"] == 0


def test_visa_frame_is_plausible(frames: dict[str, pd.DataFrame]) -> None:
    v = frames["visa"]
    assert 38 <= v["mission"].nunique() <= 50
    assert set(v["visa_type"]) == VISA_TYPES
    assert (v["issued"] <= v["applications"]).all()
    assert (v["issued"] + v["refused"] <= v["applications"]).all()
    per_q = v.groupby((v["month"] - 1) // 3 + 1)["issued"].sum()
    assert per_q.between(115_000, 136_000).all()
    assert v.loc[v["visa_type"] == "電子簽證", "mission"].nunique() <= 6
    assert v.loc[v["visa_type"] == "落地簽證", "mission"].nunique() <= 3
    assert "領事事務局" in set(v.loc[v["visa_type"] == "電子簽證", "mission"])
    assert 0 < v["avg_days"].isna().mean() < 0.2
    assert not v.duplicated(["year", "month", "mission", "visa_type"]).any()
    # The embassies in the two former allies close after September.
    closed = v[v["mission"].isin(["駐索羅門群島大使館", "駐吉里巴斯大使館"])]
    assert closed["month"].max() == 9


def test_visits_frame_is_plausible(frames: dict[str, pd.DataFrame]) -> None:
    v = frames["visits"]
    assert set(v["type"]) == {"來訪", "出訪", "國際會議"}
    assert set(v["level"]) <= {
        "元首",
        "副元首",
        "閣揆",
        "部長",
        "副部長",
        "國會議員",
        "官員",
        "其他",
    }
    assert not v.duplicated(["date", "type", "country"]).any()
    assert v["date"].map(lambda d: d.year).eq(2019).all()
    for country, end in (("索羅門群島", dt.date(2019, 9, 16)), ("吉里巴斯", dt.date(2019, 9, 20))):
        dates = v.loc[v["country"] == country, "date"]
        assert (dates < end).any() and (dates > end).any(), country
    allies = v[v["country"].isin(ALLY_END)]
    assert allies["country"].nunique() >= 12
    assert v["participants"].isna().any() and (v["program"] == "").any()


def test_sizes_are_parameters() -> None:
    big = sample.visa_frame(rows_target=5000)
    assert len(big) == 5000
    assert not big.duplicated(["year", "month", "mission", "visa_type"]).any()
    assert big["issued"].sum() > 2 * sample.visa_frame()["issued"].sum()
    few = sample.visits_frame(n=50)
    many = sample.visits_frame(n=600)
    assert len(few) == 50 and len(many) == 600
    assert not many.duplicated(["date", "type", "country", "delegation"]).any()


# ---------------------------------------------------------------------------- indicators


def test_lights_are_a_mix(frames: dict[str, pd.DataFrame]) -> None:
    k = _kpis(frames)
    assert len(k) == 40
    assert {"green", "yellow", "red"} <= set(k["light"])
    lights = {(r.kpi, r.quarter): r.light for r in k.itertuples()}
    for key, light in DESIGNED.items():
        assert lights[key] == light, key


def test_generator_agrees_with_independent_computation(frames: dict[str, pd.DataFrame]) -> None:
    ours = _kpis(frames).set_index(["kpi", "quarter"])
    theirs = sample.expected_kpis(frames["budget"], frames["visa"], frames["visits"]).set_index(
        ["kpi", "quarter"]
    )
    pd.testing.assert_series_equal(ours["actual"], theirs["actual"], check_exact=False)
    assert (ours["light"] == theirs["light"]).all()


def test_commentary_for_every_red_and_yellow(frames: dict[str, pd.DataFrame]) -> None:
    k = _kpis(frames)
    values = frames["kpi_values"]
    notes = {(r.kpi, r.quarter): r.note for r in values.itertuples()}
    for r in k[k["light"].isin(["red", "yellow"])].itertuples():
        assert notes.get((r.kpi, r.quarter)), (r.kpi, r.quarter)
    assert not values.duplicated(["kpi", "year", "quarter"]).any()
    reported = values[values["value"].notna()]
    assert set(reported["kpi"]) == {"K4.1", "K5.1"}
    assert len(reported) == 8


# ------------------------------------------------------------------------- written files


def _rows(path: Path) -> dict[str, list[list]]:
    wb = CalamineWorkbook.from_path(str(path))
    return {
        name: wb.get_sheet_by_name(name).to_python(skip_empty_area=False) for name in wb.sheet_names
    }


def _number(cell) -> float:
    if cell in ("", "-", "—", None):
        return 0.0
    if isinstance(cell, int | float):
        return float(cell)
    return float(str(cell).translate(FULL_WIDTH).replace(",", "").rstrip("%"))


def _header_index(rows: list[list], *names: str) -> tuple[int, dict[str, int]]:
    for i, row in enumerate(rows[:20]):
        cells = [str(c).strip() for c in row]
        if all(n in cells for n in names):
            return i, {c: j for j, c in enumerate(cells) if c}
    raise AssertionError(f"no header with {names}")


def test_generation_is_fast_and_complete(written: tuple[Path, list[Path], float]) -> None:
    out, paths, elapsed = written
    assert elapsed < 10
    names = sorted(p.name for p in paths)
    assert names == sorted(
        [
            "108Q1_budget_預算執行.xlsx",
            "108Q2_budget_預算執行.ods",
            "108Q3_budget_預算執行.xlsx",
            "108Q4_budget_預算執行.xlsx",
            "108Q1_visa_簽證.xlsx",
            "108Q2_visa_簽證.xlsx",
            "108Q3_visa_簽證.ods",
            "108Q4_visa_簽證.xlsx",
            "108_visits_訪問交流.xlsx",
            "108_kpi_values_指標填報.xlsx",
        ]
    )


def test_bundled_files_are_up_to_date(written: tuple[Path, list[Path], float]) -> None:
    """data/sample/ holds exactly what the generator writes (byte for byte)."""
    _, paths, _ = written
    for path in paths:
        bundled = sample.SAMPLE_DIR / path.name
        assert bundled.exists(), path.name
        if path.suffix == ".ods":
            # odfpy's attribute order follows string hashing, which changes between
            # processes: compare what the workbook says, not its bytes.
            assert _rows(bundled) == _rows(path), f"rerun python -m kpi.sample: {path.name}"
        else:
            assert bundled.read_bytes() == path.read_bytes(), (
                f"rerun python -m kpi.sample: {path.name}"
            )
    assert (sample.SAMPLE_DIR / "README.md").exists()


def test_budget_files_read_back(
    frames: dict[str, pd.DataFrame], written: tuple[Path, list[Path], float]
) -> None:
    out, _, _ = written
    budget = frames["budget"]
    for q in range(1, 5):
        (path,) = out.glob(f"108Q{q}_budget_*")
        sheets = _rows(path)
        assert list(sheets) == [f"108年{m}月" for m in sample.QUARTER_MONTHS[q]]
        for name, rows in sheets.items():
            month = int(re.search(r"年(\d+)月", name).group(1))
            titles = " ".join(str(c) for row in rows[:4] for c in row)
            unit = 1 if "新臺幣元" in titles else 1000
            assert "108年度" in titles
            assert unit == (1 if q == 3 else 1000)
            h = next(i for i, r in enumerate(rows[:20]) if r[0] in ("機關", "機關名稱"))
            cols = {str(c): j for j, c in enumerate(rows[h]) if c != ""}
            kind_col = next(j for c, j in cols.items() if c in ("經資門別", "經資門", "經費類別"))
            col = {
                key: next(j for c, j in cols.items() if any(c.startswith(s) for s in starts))
                for key, starts in {
                    "budget": ("年度預算", "法定預算", "預算數"),
                    "allotted": ("累計分配", "截至本期分配", "分配數"),
                    "spent": ("累計實支", "實際支出", "實支數"),
                    "payable": ("應付",),
                    "rate": ("執行率",),
                }.items()
            }
            data = [r for r in rows[h + 1 :] if str(r[kind_col]).strip() in KINDS]
            frame = budget[budget["month"] == month]
            assert len(data) == len(frame)
            for key in ("budget", "allotted", "spent", "payable"):
                got = sum(round(_number(r[col[key]]) * unit) for r in data)
                assert got == frame[key].sum(), (path.name, name, key)
            total = next(r for r in rows if str(r[0]).strip() in ("合計", "總計"))
            assert round(_number(total[col["spent"]]) * unit) == frame["spent"].sum()
            subtotals = [r for r in rows if "小計" in (str(r[0]), str(r[1]))]
            assert len(subtotals) == 2
            for r in data:
                allotted = _number(r[col["allotted"]])
                if allotted:
                    executed = _number(r[col["spent"]]) + _number(r[col["payable"]])
                    assert abs(_number(r[col["rate"]]) - executed / allotted * 100) < 0.006
            # Merged program cells: the 資本門 row under a 經常門 row has a blank program.
            assert any(r[1] == "" and str(r[kind_col]) in ("資本門", "資本") for r in data)


def test_visa_files_read_back(
    frames: dict[str, pd.DataFrame], written: tuple[Path, list[Path], float]
) -> None:
    out, _, _ = written
    visa = frames["visa"]
    for q in range(1, 5):
        (path,) = out.glob(f"108Q{q}_visa_*")
        assert path.suffix == (".ods" if q == 3 else ".xlsx")
        (rows,) = _rows(path).values()
        issued_name = "核准件數" if q == 2 else "核發件數"
        h, cols = _header_index(rows, issued_name)
        assert h == {1: 1, 2: 2, 3: 1, 4: 0}[q]
        type_col = cols["種類" if q == 2 else "簽證類別"]
        apps_col = cols["受理件數" if q == 2 else "申請件數"]
        refused_col = cols["拒發件數"]
        data = [r for r in rows[h + 1 :] if str(r[type_col]) in VISA_TYPES]
        frame = visa[visa["month"].isin(sample.QUARTER_MONTHS[q])]
        assert len(data) == len(frame)
        assert sum(_number(r[cols[issued_name]]) for r in data) == frame["issued"].sum()
        assert sum(_number(r[apps_col]) for r in data) == frame["applications"].sum()
        assert sum(_number(r[refused_col]) for r in data) == frame["refused"].sum()
        days_col = next(j for c, j in cols.items() if c.startswith("平均"))
        blanks = sum(1 for r in data if r[days_col] in ("", "-"))
        assert blanks == frame["avg_days"].isna().sum()
    q4 = next(iter(_rows(out / "108Q4_visa_簽證.xlsx").values()))
    assert q4[1][0] == "108年10月"
    assert any(isinstance(r[4], str) and "," in r[4] for r in q4[1:])


def _parse_date(cell) -> dt.date:
    if isinstance(cell, dt.datetime):
        return cell.date()
    if isinstance(cell, dt.date):
        return cell
    y, m, d = (int(x) for x in re.findall(r"\d+", str(cell)))
    return dt.date(y + 1911, m, d)


def test_visits_file_reads_back(
    frames: dict[str, pd.DataFrame], written: tuple[Path, list[Path], float]
) -> None:
    out, _, _ = written
    visits = frames["visits"]
    sheets = _rows(out / "108_visits_訪問交流.xlsx")
    assert list(sheets) == ["108Q1", "108Q2", "108Q3", "108Q4"]
    forms: set[str] = set()
    countries: set[str] = set()
    for q, rows in enumerate(sheets.values(), start=1):
        h, cols = _header_index(rows, "日期", "類型", "國家", "層級", "團名")
        data = [r for r in rows[h + 1 :] if r[cols["類型"]] != ""]
        frame = visits[pd.to_datetime(visits["date"]).dt.quarter == q]
        assert len(data) == len(frame)
        got = sorted(_parse_date(r[cols["日期"]]) for r in data)
        assert got == sorted(frame["date"])
        assert sorted(r[cols["團名"]] for r in data) == sorted(frame["delegation"])
        for r in data:
            cell = r[cols["日期"]]
            forms.add(
                "cell"
                if isinstance(cell, dt.date)
                else "年"
                if "年" in cell
                else "."
                if "." in cell
                else "/"
            )
            countries.add(r[cols["國家"]])
        types = {r[cols["類型"]] for r in data}
        assert types <= {"來訪", "訪賓", "出訪", "出國訪問", "國際會議", "會議"}
    assert forms == {"cell", "年", ".", "/"}
    assert {"Paraguay", "Japan"} <= countries
    assert sheets["108Q4"][-1][0] == "合計"


def test_kpi_values_file_reads_back(
    frames: dict[str, pd.DataFrame], written: tuple[Path, list[Path], float]
) -> None:
    out, _, _ = written
    sheets = _rows(out / "108_kpi_values_指標填報.xlsx")
    names = list(sheets)
    assert names[0] == "填報說明"
    assert "指標代碼" not in str(sheets["填報說明"])
    rows = sheets[names[1]]
    h, cols = _header_index(rows, "指標代碼", "指標名稱", "年度", "季別", "實際值", "說明")
    data = rows[h + 1 :]
    values = frames["kpi_values"]
    assert len(data) == len(values)
    for r, (_, x) in zip(data, values.iterrows(), strict=True):
        assert r[cols["指標代碼"]] == x["kpi"]
        assert r[cols["季別"]] == f"第{x['quarter']}季"
        if pd.isna(x["value"]):
            assert r[cols["實際值"]] == ""
        else:
            assert r[cols["實際值"]] == x["value"]
        assert r[cols["說明"]] == x["note"]

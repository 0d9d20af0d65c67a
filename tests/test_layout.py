"""Sheet layouts as real offices make them: where the header is, what the titles say, merges, totals.

Every test builds its workbook in code, so the layout under test is visible in the test,
and runs it through ``kpi.ingest.analyze`` (the whole dry run of one file).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kpi.ingest import Context, FileReport, analyze
from kpi.ingest import values as V
from kpi.ingest.layout import column_letter, find_header, read_table
from tests.workbooks import ods_bytes, xls_bytes, xlsx_bytes

BUDGET_HEAD = ["工作計畫", "經資門", "預算數", "累計分配數", "累計實支數", "應付未付數"]
VISA_HEAD = ["年月", "駐外館處", "簽證類別", "申請件數", "核發件數"]
VISITS_HEAD = ["日期", "類型", "國家", "層級", "團名"]
KPI_HEAD = ["指標代碼", "年度", "季別", "實際值", "說明"]

# One header and one data row per dataset; budget and indicator values leave the period
# to the title rows or the uploader.
SAMPLES = {
    "budget": (BUDGET_HEAD, ["外交管理業務", "經常門", 240961, 60000, 50000, 0]),
    "visa": (VISA_HEAD, ["108/01", "駐日本代表處", "停留簽證", 1200, 1150]),
    "visits": (VISITS_HEAD, ["108/02/15", "來訪", "巴拉圭", "元首", "巴拉圭總統訪團"]),
    "kpi_values": (KPI_HEAD, ["K4.1", 108, "第1季", 55, "達成"]),
}
BUILDERS = {"xlsx": xlsx_bytes, "ods": ods_bytes, "xls": xls_bytes}


def run(
    sheets: dict[str, list[list[object]]],
    *,
    fmt: str = "xlsx",
    merged: dict[str, list[str]] | None = None,
    year: int | None = None,
    quarter: int | None = None,
) -> FileReport:
    content = BUILDERS[fmt](sheets, merged=merged)
    return analyze(content, f"report.{fmt}", Context(year=year, quarter=quarter))


def frame(report: FileReport, dataset: str) -> pd.DataFrame:
    assert report.ok, [p.message_en for p in report.errors]
    return report.frames[dataset]


def codes(report: FileReport) -> list[str]:
    return [p.code for p in report.problems]


# ---------------------------------------------------------------- where the header is


@pytest.mark.parametrize("dataset", list(SAMPLES))
@pytest.mark.parametrize("header_row", [2, 6, 20])
def test_header_row_is_found_below_title_rows(dataset: str, header_row: int) -> None:
    head, data = SAMPLES[dataset]
    titles = [["外交部 年度執行統計表"]] + [[] for _ in range(header_row - 2)]
    report = run({"資料": [*titles, head, data]}, year=108, quarter=1)

    sheet = report.sheets[0]
    assert sheet.dataset == dataset
    assert sheet.header_row == header_row
    rows = frame(report, dataset)
    assert rows["_row"].iloc[0] == header_row + 1


@pytest.mark.parametrize("dataset", list(SAMPLES))
def test_header_below_row_20_is_not_looked_for(dataset: str) -> None:
    head, data = SAMPLES[dataset]
    report = run({"資料": [["標題"], *[[] for _ in range(19)], head, data]}, year=108, quarter=1)

    assert report.sheets[0].dataset is None
    assert "sheet_skipped" in codes(report)
    assert [p.code for p in report.errors] == ["no_data_sheet"]


def test_a_sentence_naming_fields_is_not_a_header() -> None:
    rows = [
        ["本表依工作計畫、經資門列示預算數、累計分配數及累計實支數", "填表單位：會計處"],
        BUDGET_HEAD,
        ["外交管理業務", "經常門", 1, 1, 1, 0],
    ]
    report = run({"預算": rows}, year=108, quarter=1)

    assert report.sheets[0].header_row == 2


# ---------------------------------------------------------------- header spellings


@pytest.mark.parametrize(
    ("dataset", "head", "data"),
    [
        (
            "budget",
            [
                "工作計畫名稱",
                "經資門別",
                "法定預算數",
                "截至本期分配數",
                "實際支出數",
                "應付數",
                "執行率(%)",
            ],
            ["外交管理業務", "資本門", 100, 50, 40, 5, 90],
        ),
        (
            "budget",
            [
                "計畫名稱",
                "經費類別",
                "年度預算數（千元）",
                "分配數（千元）",
                "實支數（千元）",
                "應付未付數（千元）",
                "執行率（％）",
            ],
            ["外交管理業務", "資本門", 100, 50, 40, 5, 90],
        ),
        (
            "budget",
            [
                " 工作計畫 ",
                "經　資　門",
                "預 算 數",
                "累計分配數\n(千元)",
                "累計實支數 ",
                "應付未付數",
                "執行率",
            ],
            ["外交管理業務", "資本門", 100, 50, 40, 5, "90%"],
        ),
        (
            "visa",
            ["期間", "館處", "地區", "種類", "受理件數", "核准件數", "拒發件數", "平均作業天數"],
            ["108/01", "駐日本代表處", "亞太", "停留簽證", 1200, 1150, 50, 4.5],
        ),
        (
            "visa",
            [
                "年月",
                "受理館處",
                "簽證類別",
                "申請件數（件）",
                "核發件數 ",
                "拒發件數",
                "平均處理天數(天)",
            ],
            ["108/01", "駐日本代表處", "停留簽證", 1200, 1150, 50, 4.5],
        ),
        (
            "visits",
            ["起始日期", "性質", "國別", "層級", "訪團", "人數（人）"],
            ["108/02/15", "來訪", "巴拉圭", "元首", "巴拉圭總統訪團", 12],
        ),
        (
            "visits",
            ["抵達日期", "類型", "國家", "層級", "人員", "人數"],
            ["108/02/15", "來訪", "巴拉圭", "元首", "巴拉圭總統訪團", 12],
        ),
        (
            "kpi_values",
            ["指標名稱", "年度", "季", "實際值", "說明"],
            ["協助NGO參與國際活動場次", 108, "第1季", 55, "達成"],
        ),
        (
            "kpi_values",
            ["指標代碼", "年度", "季別", "實際值（場次）", "說明"],
            ["K4.1", "108年", "Q1", 55, "達成"],
        ),
    ],
)
def test_header_synonyms_full_width_and_bracketed_units(
    dataset: str, head: list[str], data: list[object]
) -> None:
    report = run({"資料": [["108年度 第1季"], head, data]})

    assert report.sheets[0].dataset == dataset
    rows = frame(report, dataset)
    assert len(rows) == 1
    if dataset == "budget":
        assert rows.loc[0, ["budget", "allotted", "spent", "payable"]].tolist() == [
            100_000,
            50_000,
            40_000,
            5_000,
        ]
        assert "rate_mismatch" not in codes(report)
    if dataset == "visa":
        assert rows.loc[0, ["applications", "issued", "avg_days"]].tolist() == [1200, 1150, 4.5]


def test_header_key_folding_finds_every_column() -> None:
    head = [
        "工作計畫",
        "經資門",
        "預算數（千元）",
        "累計分配數",
        "累計實支數",
        "應付未付數",
        "執行率(%)",
    ]
    header = find_header([["108年度"], head])

    assert header is not None and header.row == 1
    assert header.columns == {
        "program": 0,
        "kind": 1,
        "budget": 2,
        "allotted": 3,
        "spent": 4,
        "payable": 5,
        "rate": 6,
    }
    assert header.texts["budget"] == "預算數(千元)"


def test_column_letters() -> None:
    assert [column_letter(c) for c in (0, 1, 25, 26, 27, 701, 702)] == [
        "A",
        "B",
        "Z",
        "AA",
        "AB",
        "ZZ",
        "AAA",
    ]


# ---------------------------------------------------------------- facts from title rows


@pytest.mark.parametrize(
    ("titles", "year", "month"),
    [
        (["外交部108年度預算執行表", "中華民國108年1月至3月"], 108, 3),
        (["外交部2019年度預算執行表", "中華民國108年1月至3月"], 108, 3),
        (["外交部預算執行表", "中華民國108年1月至6月"], 108, 6),
        (["108年度預算執行表", "截至12月底"], 108, 12),
        (["外交部 108 年度 第 3 季 預算執行表"], 108, 9),
        (["2019年度", "1月-9月"], 108, 9),
    ],
)
def test_year_and_period_from_title_rows(titles: list[str], year: int, month: int) -> None:
    rows = [[t] for t in titles] + [BUDGET_HEAD, ["外交管理業務", "經常門", 100, 50, 40, 0]]
    report = run({"預算": rows})

    rows_ = frame(report, "budget")
    assert rows_.loc[0, "year"] == year
    assert rows_.loc[0, "month"] == month
    sources = report.sheets[0].sources
    assert sources["year"]["zh"].startswith("標題列第")
    assert sources["month"]["zh"].startswith("標題列第")


@pytest.mark.parametrize(
    ("unit_row", "factor"),
    [
        ("單位：新臺幣千元", 1000),
        ("單位：新台幣元", 1),
        ("單位：元", 1),
        ("單位：萬元", 10_000),
        ("單位：新臺幣百萬元", 1_000_000),
        ("", 1000),  # no unit marker: NT$ thousands, the custom of budget reports
    ],
)
def test_money_unit_from_title_row(unit_row: str, factor: int) -> None:
    rows = [
        ["外交部108年度預算執行表"],
        ["中華民國108年1月至3月", "", "", "", unit_row],
        BUDGET_HEAD,
    ]
    rows.append(["外交管理業務", "經常門", 240961, 60000, 50000, 12])
    report = run({"預算": rows})

    rows_ = frame(report, "budget")
    assert rows_.loc[0, ["budget", "allotted", "spent", "payable"]].tolist() == [
        240961 * factor,
        60000 * factor,
        50000 * factor,
        12 * factor,
    ]
    assert report.sheets[0].unit == factor


def test_unit_in_header_wins_over_the_title() -> None:
    rows = [
        ["108年度 1月至3月 單位：新臺幣千元"],
        ["工作計畫", "經資門", "預算數（元）", "累計分配數（元）", "累計實支數（元）"],
    ]
    rows.append(["外交管理業務", "經常門", 240961, 60000, 50000])
    report = run({"預算": rows})

    assert frame(report, "budget").loc[0, ["budget", "allotted", "spent"]].tolist() == [
        240961,
        60000,
        50000,
    ]


@pytest.mark.parametrize(
    ("sheet_name", "year", "month"),
    [("2019Q4", 108, 12), ("108Q2", 108, 6), ("108年第3季", 108, 9)],
)
def test_year_and_quarter_from_the_sheet_name(sheet_name: str, year: int, month: int) -> None:
    report = run(
        {sheet_name: [["外交部預算執行表"], BUDGET_HEAD, ["外交管理業務", "經常門", 1, 1, 1, 0]]}
    )

    rows = frame(report, "budget")
    assert (rows.loc[0, "year"], rows.loc[0, "month"]) == (year, month)
    assert sheet_name in report.sheets[0].sources["year"]["zh"]


def test_kpi_values_take_year_and_quarter_from_the_sheet_name() -> None:
    report = run({"108Q2": [["指標代碼", "實際值", "說明"], ["K4.1", 90, "進度正常"]]})

    rows = frame(report, "kpi_values")
    assert rows.loc[0, ["kpi", "year", "quarter", "value"]].tolist() == ["K4.1", 108, 2, 90]


def test_visa_year_from_the_title_and_month_from_a_column() -> None:
    rows = [
        ["2019年度簽證核發統計"],
        ["月份", "館處", "簽證類別", "申請件數", "核發件數"],
        ["3月", "駐日本代表處", "電子簽證", 10, 9],
    ]
    report = run({"簽證": rows})

    assert frame(report, "visa").loc[0, ["year", "month"]].tolist() == [108, 3]


def test_uploader_gives_what_the_sheet_does_not_say() -> None:
    report = run(
        {"預算": [BUDGET_HEAD, ["外交管理業務", "經常門", 1, 1, 1, 0]]}, year=108, quarter=2
    )

    rows = frame(report, "budget")
    assert rows.loc[0, ["year", "month"]].tolist() == [108, 6]
    sources = report.sheets[0].sources
    assert sources["year"]["en"] == "given at upload"
    assert sources["month"]["en"].startswith("given at upload")


def test_the_sheet_wins_over_the_uploader() -> None:
    rows = [["中華民國108年1月至9月"], BUDGET_HEAD, ["外交管理業務", "經常門", 1, 1, 1, 0]]
    report = run({"預算": rows}, year=107, quarter=1)

    assert frame(report, "budget").loc[0, ["year", "month"]].tolist() == [108, 9]


@pytest.mark.parametrize(
    ("dataset", "rows", "year", "quarter", "missing"),
    [
        ("budget", [BUDGET_HEAD, ["外交管理業務", "經常門", 1, 1, 1, 0]], None, 1, ["年度"]),
        ("budget", [BUDGET_HEAD, ["外交管理業務", "經常門", 1, 1, 1, 0]], 108, None, ["月份"]),
        (
            "budget",
            [BUDGET_HEAD, ["外交管理業務", "經常門", 1, 1, 1, 0]],
            None,
            None,
            ["年度", "月份"],
        ),
        (
            "visa",
            [
                ["月份", "館處", "簽證類別", "申請件數", "核發件數"],
                [3, "駐日本代表處", "電子簽證", 1, 1],
            ],
            None,
            None,
            ["年度"],
        ),
        ("kpi_values", [["指標代碼", "實際值"], ["K4.1", 1]], 108, None, ["季別"]),
        ("kpi_values", [["指標代碼", "實際值"], ["K4.1", 1]], None, None, ["年度", "季別"]),
    ],
)
def test_refused_when_nobody_says_the_period(
    dataset: str,
    rows: list[list[object]],
    year: int | None,
    quarter: int | None,
    missing: list[str],
) -> None:
    report = run({"工作表1": rows}, year=year, quarter=quarter)

    assert not report.ok
    errors = [p for p in report.errors if p.code == "missing_period"]
    assert len(errors) == len(missing)
    for problem, what in zip(errors, missing, strict=True):
        assert what in problem.message_zh
        assert problem.sheet == "工作表1"
        assert problem.row == 1
    assert dataset not in report.frames


# ---------------------------------------------------------------- merged cells, totals, footnotes


BUDGET_TITLES = [
    ["外交部108年度預算執行表"],
    ["中華民國108年1月至3月", "", "", "", "單位：新臺幣千元"],
]


@pytest.mark.parametrize("fmt", ["xlsx", "ods", "xls"])
def test_merged_program_fills_its_current_and_capital_rows(fmt: str) -> None:
    rows = [
        *BUDGET_TITLES,
        BUDGET_HEAD,
        ["外交管理業務", "經常門", 200, 100, 90, 0],
        ["", "資本門", 40, 20, 10, 0],
        ["國際會議及交流", "經常門", 300, 150, 140, 0],
        ["", "資本門", 60, 30, 20, 5],
    ]
    report = run({"預算": rows}, fmt=fmt, merged={"預算": ["A4:A5", "A6:A7"]})

    rows_ = frame(report, "budget")
    assert rows_[["program", "kind"]].values.tolist() == [
        ["外交管理業務", "經常門"],
        ["外交管理業務", "資本門"],
        ["國際會議及交流", "經常門"],
        ["國際會議及交流", "資本門"],
    ]
    assert rows_["_row"].tolist() == [4, 5, 6, 7]


def test_merged_cells_across_columns_and_the_header_row() -> None:
    rows = [
        ["外交部108年度預算執行表"],
        ["中華民國108年1月至3月"],
        ["工作計畫", "經資門", "預算數", "累計分配數", "累計實支數", "應付未付數"],
        ["外交管理業務", "經常門", 200, 100, 90, 0],
        ["", "資本門", 40, 20, 10, 0],
    ]
    report = run({"預算": rows}, merged={"預算": ["A1:F1", "A2:F2", "A4:A5"]})

    assert frame(report, "budget")["program"].tolist() == ["外交管理業務", "外交管理業務"]


@pytest.mark.parametrize(
    "label", ["合計", "總計", "小計", "Total", "總　計", "Grand total", "小計：外交管理業務"]
)
def test_total_rows_are_not_data(label: str) -> None:
    rows = [
        *BUDGET_TITLES,
        BUDGET_HEAD,
        ["外交管理業務", "經常門", 200, 100, 90, 0],
        ["外交管理業務", "資本門", 40, 20, 10, 0],
        [label, "", 240, 120, 100, 0],
        ["國際會議及交流", "經常門", 300, 150, 140, 0],
        [label, "", 300, 150, 140, 0],
    ]
    report = run({"預算": rows})

    rows_ = frame(report, "budget")
    assert rows_["_row"].tolist() == [4, 5, 7]
    assert report.sheets[0].rows == 3


def test_total_in_the_kind_column_is_not_data() -> None:
    rows = [
        *BUDGET_TITLES,
        BUDGET_HEAD,
        ["外交管理業務", "經常門", 200, 100, 90, 0],
        ["外交管理業務", "資本門", 40, 20, 10, 0],
        ["外交管理業務", "合計", 240, 120, 100, 0],
    ]
    report = run({"預算": rows})

    assert frame(report, "budget")["_row"].tolist() == [4, 5]


def test_footnotes_and_blank_rows_are_not_data() -> None:
    rows = [
        *BUDGET_TITLES,
        BUDGET_HEAD,
        ["外交管理業務", "經常門", 200, 100, 90, 0],
        [],
        ["", "", "", "", "", ""],
        ["外交管理業務", "資本門", 40, 20, 10, 0],
        ["合計", "", 240, 120, 100, 0],
        [],
        ["註：1. 本表金額以新臺幣千元為單位。"],
        ["　　2. 執行率＝（實支數＋應付未付數）÷累計分配數。"],
        ["說明：資本門執行落後係因工程發包延宕。"],
        ["資料來源：本部會計處"],
        ["填表人：王小明", "", "", "審核：李大華"],
    ]
    report = run({"預算": rows})

    assert frame(report, "budget")["_row"].tolist() == [4, 7]
    assert report.ok


@pytest.mark.parametrize("fmt", ["xlsx", "ods"])
def test_visits_footnote_spanning_merged_cells(fmt: str) -> None:
    rows = [
        ["108年第1季 高層互訪統計"],
        VISITS_HEAD,
        ["108/02/15", "來訪", "巴拉圭", "元首", "巴拉圭總統訪團"],
        ["108/03/02", "出訪", "日本", "部長", "部長訪日"],
        ["註：本表不含過境行程。"],
    ]
    report = run({"訪問": rows}, fmt=fmt, merged={"訪問": ["A1:E1", "A5:E5"]})

    assert frame(report, "visits")["_row"].tolist() == [3, 4]


def test_kpi_values_note_rows_are_data_not_footnotes() -> None:
    rows = [
        ["108年第1季 指標填報"],
        KPI_HEAD,
        ["K4.1", 108, "第1季", 55, "說明會場次增加"],
        ["K5.1", 108, "第1季", "", "說明：本季因系統更新，數值下季補報。"],
    ]
    report = run({"填報": rows})

    rows_ = frame(report, "kpi_values")
    assert rows_["kpi"].tolist() == ["K4.1", "K5.1"]
    assert rows_["note"].tolist()[1].startswith("說明")


def test_commentary_starting_with_a_total_word_is_data() -> None:
    """合計 or Total at the start of a note or a delegation's name is not a total row."""
    report = run(
        {
            "填報": [
                ["108年第1季"],
                ["指標代碼", "實際值", "說明"],
                ["K4.1", 55, "合計：本季辦理55場"],
                ["K5.1", 1300, "Total reach 1,300"],
            ],
            "訪問": [
                ["108年"],
                VISITS_HEAD,
                ["108/02/15", "來訪", "美國", "國會議員", "Total Defense 訪團"],
            ],
        }
    )

    assert frame(report, "kpi_values")["note"].tolist() == [
        "合計：本季辦理55場",
        "Total reach 1,300",
    ]
    assert frame(report, "visits")["delegation"].tolist() == ["Total Defense 訪團"]


def test_commentary_is_kept_as_written() -> None:
    note = "資本門執行率偏低，主因駐外館舍購置案尚在議價（預計９月簽約）。\n下半年將陸續核銷。"
    report = run({"108Q2": [["指標代碼", "實際值", "說明"], ["K7.1", "", f"  {note} "]]})

    assert frame(report, "kpi_values")["note"].tolist() == [note]


def test_a_blank_period_above_the_first_written_one_is_an_error() -> None:
    rows = [
        ["年月", "館處", "簽證類別", "申請件數", "核發件數"],
        ["", "駐日本代表處", "停留簽證", 10, 9],
        ["108/02", "駐日本代表處", "停留簽證", 5, 5],
    ]
    report = run({"簽證": rows})

    assert not report.ok
    [error] = report.errors
    assert (error.code, error.sheet, error.row, error.column) == ("blank_year", "簽證", 2, "A")


def test_a_period_written_once_carries_down() -> None:
    rows = [
        ["年月", "館處", "簽證類別", "申請件數", "核發件數"],
        ["108/01", "駐日本代表處", "停留簽證", 10, 9],
        ["", "", "電子簽證", 5, 5],
        ["108/02", "駐美國代表處", "停留簽證", 1, 1],
        ["", "", "電子簽證", 2, 2],
    ]
    rows_ = frame(run({"簽證": rows}), "visa")

    assert rows_[["month", "mission", "visa_type"]].values.tolist() == [
        [1, "駐日本代表處", "停留簽證"],
        [1, "駐日本代表處", "電子簽證"],
        [2, "駐美國代表處", "停留簽證"],
        [2, "駐美國代表處", "電子簽證"],
    ]


def test_formulas_in_total_rows_and_unused_columns_are_not_read() -> None:
    rows = [
        *BUDGET_TITLES,
        [*BUDGET_HEAD, "差額"],
        ["外交管理業務", "經常門", 200, 100, 90, 0, None],
        ["外交管理業務", "資本門", 40, 20, 10, 0, None],
        ["合計"],
    ]
    formulas = {"預算": {"G4": "=D4-E4", "G5": "=D5-E5", "C6": "=SUM(C4:C5)", "D6": "=SUM(D4:D5)"}}
    content = xlsx_bytes({"預算": rows}, formulas=formulas)
    report = analyze(content, "b.xlsx", Context())

    assert frame(report, "budget")["_row"].tolist() == [4, 5]


def test_a_row_of_formulas_without_values_is_reported_not_dropped() -> None:
    rows = [*BUDGET_TITLES, BUDGET_HEAD, ["外交管理業務", "經常門", 200, 100, 90, 0]]
    formulas = {
        "預算": {
            "A5": "=A4",
            "B5": '="資本門"',
            "C5": "=C4/5",
            "D5": "=D4/5",
            "E5": "=E4/5",
            "F5": "=F4",
        }
    }
    report = analyze(xlsx_bytes({"預算": rows}, formulas=formulas), "b.xlsx", Context())

    assert not report.ok
    flagged = [(p.row, p.column) for p in report.errors if p.code == "formula_without_value"]
    assert flagged == [(5, c) for c in "ABCDEF"]


def test_a_hidden_data_sheet_is_imported_with_a_warning() -> None:
    sheets = {
        "說明": [["填表說明"]],
        "預算": [*BUDGET_TITLES, BUDGET_HEAD, ["外交管理業務", "經常門", 200, 100, 90, 0]],
    }
    report = analyze(xlsx_bytes(sheets, hidden=("預算",)), "b.xlsx", Context())

    assert len(frame(report, "budget")) == 1
    assert [(p.code, p.sheet) for p in report.warnings] == [
        ("sheet_skipped", "說明"),
        ("hidden_sheet", "預算"),
    ]


# ---------------------------------------------------------------- the table without copies


def _same_kinds(a: V.Kinds, b: V.Kinds) -> None:
    """The same type, text and float value cell by cell (the distinct lists may differ:
    the kinds of kept rows keep the texts of rows left out)."""

    def cells(k: V.Kinds) -> list[tuple]:
        floats = k.floats if k.floats is not None else np.full(len(k.type_codes), np.nan)
        return [
            (k.types[t], k.texts[c] if c >= 0 else None, None if np.isnan(f) else f)
            for t, c, f in zip(k.type_codes, k.text_codes, floats, strict=True)
        ]

    assert cells(a) == cells(b)


visa_cells = st.one_of(
    st.sampled_from(["108/01", "108年2月", "駐日本代表處", "停留簽證", "", " ", "合計", "註"]),
    st.integers(0, 10**6),
    st.floats(allow_nan=True, allow_infinity=False),
    st.none(),
)


@given(st.lists(st.lists(visa_cells, min_size=5, max_size=5), min_size=1, max_size=12))
@settings(max_examples=60, deadline=None)
def test_a_table_of_only_data_reads_as_one_with_a_total_row(body: list[list[object]]) -> None:
    # A sheet whose every row and column is data takes the grid as it is (no copy of the
    # cells): it must read exactly as the same sheet with a totals row under it, which
    # takes the rows to keep one by one.
    rows = [VISA_HEAD, *body]
    header = find_header(rows)
    with_total = rows + [["合計", "", "", 1, 1]]
    plain = read_table(rows, header, ())
    sliced = read_table(with_total, header, ())
    pd.testing.assert_frame_equal(plain.frame, sliced.frame)
    assert plain.kinds.keys() == sliced.kinds.keys()
    for name in plain.kinds:
        _same_kinds(plain.kinds[name], sliced.kinds[name])


def test_a_clean_table_is_read_without_copying_the_cells() -> None:
    rows = [VISA_HEAD, *(["108/01", f"館{i}", "停留簽證", i, i] for i in range(50))]
    table = read_table(rows, find_header(rows), ())
    assert table.frame["_row"].tolist() == list(range(2, 52))
    assert table.frame["mission"].tolist() == [f"館{i}" for i in range(50)]
    _same_kinds(table.kinds["applications"], V.kinds_of(np.array(list(range(50)), dtype=object)))

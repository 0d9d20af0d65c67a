"""Importing workbooks end to end: ``Engine.import_bytes`` from bytes to stored rows.

Each test builds its workbook in code, so the layout it checks is visible here. Where the
store does not matter, ``analyze`` gives the same report without writing anything.
"""

from __future__ import annotations

import datetime as dt
import gc
import io
import shutil
import threading
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kpi import gcpause
from kpi.engine import Engine, ImportResult
from kpi.ingest import FileReport, analyze
from kpi.ingest.datasets import DATASETS
from kpi.store import Store
from tests.workbooks import (
    MB,
    encrypted_xlsx_like,
    entity_bomb_xlsx,
    lying_zip_bomb,
    ods_bytes,
    raw_ods,
    sparse_grid_xlsx,
    text_named_xlsx,
    word_document_like,
    xls_bytes,
    xlsm_bytes,
    xlsx_bytes,
    zip_bomb_xlsx,
)

Rows = list[list[object]]

BUDGET_TITLES: Rows = [
    ["外交部108年度預算執行表"],
    ["中華民國108年1月至3月", "", "", "", "", "單位：新臺幣千元"],
]
BUDGET_HEAD = [
    "工作計畫",
    "經資門",
    "預算數",
    "累計分配數",
    "累計實支數",
    "應付未付數",
    "執行率(%)",
]
VISA_HEAD = [
    "年月",
    "駐外館處",
    "地區",
    "簽證類別",
    "申請件數",
    "核發件數",
    "拒發件數",
    "平均處理天數",
]
VISITS_HEAD = ["日期", "類型", "國家", "層級", "團名", "人數"]
KPI_HEAD = ["指標代碼", "年度", "季別", "實際值", "說明"]


@pytest.fixture(scope="session")
def empty_database(tmp_path_factory) -> Path:
    """A migrated, empty SQLite file: copying it is much cheaper than migrating anew."""
    path = tmp_path_factory.mktemp("template") / "k.sqlite3"
    Store(f"sqlite:///{path}").dispose()
    return path


@pytest.fixture
def engine(tmp_path, empty_database: Path) -> Engine:
    path = tmp_path / "k.sqlite3"
    shutil.copyfile(empty_database, path)
    e = Engine(Store(f"sqlite:///{path}"))
    yield e
    e.store.dispose()


def budget_sheet(*rows: list[object]) -> Rows:
    return [*BUDGET_TITLES, BUDGET_HEAD, *rows]


def visa_sheet(*rows: list[object]) -> Rows:
    return [["108年第1季簽證核發統計"], VISA_HEAD, *rows]


def visits_sheet(*rows: list[object]) -> Rows:
    return [["108年第1季高層互訪統計"], VISITS_HEAD, *rows]


def kpi_sheet(*rows: list[object]) -> Rows:
    return [["108年度施政績效指標填報"], KPI_HEAD, *rows]


def snapshot(engine: Engine) -> tuple:
    """Everything an import could change: the version, the batches and the row counts."""
    store = engine.store
    return (
        store.version(),
        [(b.id, b.status) for b in store.batches()],
        {name: store.count_rows(name) for name in DATASETS},
    )


def stored(engine: Engine, dataset: str) -> pd.DataFrame:
    return engine.store.current_rows(dataset)


def imported(result: ImportResult) -> ImportResult:
    assert result.status == "imported", [p.message_en for p in result.report.errors]
    return result


def dry(
    engine: Engine, sheets: dict[str, Rows], year: int | None = None, quarter: int | None = None
) -> FileReport:
    """The report of an .xlsx built from ``sheets``, as an upload would get it."""
    return analyze(xlsx_bytes(sheets), "upload.xlsx", engine.context(year, quarter))


def only(report: FileReport, code: str):
    found = [p for p in report.problems if p.code == code]
    assert len(found) == 1, [(p.code, p.message_en) for p in report.problems]
    return found[0]


def codes(report: FileReport) -> set[str]:
    return {p.code for p in report.problems}


# ---------------------------------------------------------------- budget


def test_budget_report_is_stored_in_nt_dollars(engine: Engine) -> None:
    sheet = budget_sheet(
        ["外交管理業務", "經常門", "235,961", "58,000", "50,000", "1,200", "88.28"],
        ["", "資本門", "5,000", "1,000", "400", "-", "40.00"],
        ["小計", "", "240,961", "59,000", "50,400", "1,200", ""],
        ["一般建築及設備", "資本門", "355,582", "10,000", "2,000", "—", "20%"],
        ["一般行政", "經常門", "8,004,178", "2,000,000", "1,900,000", "", "95"],
        ["合計", "", "", "", "", "", ""],
        ["註：執行率＝（實支數＋應付未付數）÷累計分配數。"],
    )
    result = imported(
        engine.import_bytes(
            xlsx_bytes({"1-3月": sheet}, merged={"1-3月": ["A4:A5"]}), "budget.xlsx"
        )
    )

    rows = stored(engine, "budget").sort_values(["program", "kind"]).reset_index(drop=True)
    assert rows[["year", "month", "program", "kind"]].values.tolist() == [
        [108, 3, "一般行政", "經常門"],
        [108, 3, "外交管理業務", "經常門"],
        [108, 3, "外交管理業務", "資本門"],
        [108, 3, "營建工程", "資本門"],  # the appropriation's name, aliased in data/programs.yaml
    ]
    assert rows[["budget", "allotted", "spent", "payable"]].values.tolist() == [
        [8_004_178_000, 2_000_000_000, 1_900_000_000, 0],
        [235_961_000, 58_000_000, 50_000_000, 1_200_000],
        [5_000_000, 1_000_000, 400_000, 0],
        [355_582_000, 10_000_000, 2_000_000, 0],
    ]
    out = result.as_json()
    assert (out["status"], out["dataset"], out["year"], out["months"], out["rows"]) == (
        "imported",
        "budget",
        108,
        [3],
        4,
    )
    assert out["errors"] == []
    # 一般行政 is not a plan program: one warning, and the row is kept.
    assert [w["code"] for w in out["warnings"]] == ["program_not_in_plan"]
    assert out["warnings"][0]["value"] == "一般行政"
    assert out["sheets"][0]["sources"] == {
        "year": "標題列第 1 列",
        "month": "標題列第 2 列",
        "unit": "標題列第 2 列",
    }


@pytest.mark.parametrize(
    ("unit_text", "factor"),
    [
        ("單位：新臺幣元", 1),
        ("單位：新臺幣千元", 1000),
        ("單位：萬元", 10_000),
        ("單位：百萬元", 1_000_000),
    ],
)
def test_budget_units_are_converted_to_dollars(engine: Engine, unit_text: str, factor: int) -> None:
    sheet = [["外交部108年度預算執行表"], ["中華民國108年1月至3月", unit_text], BUDGET_HEAD]
    sheet.append(["外交管理業務", "經常門", 240961, 60000, 50000, 12, None])
    imported(engine.import_bytes(xlsx_bytes({"預算": sheet}), "b.xlsx"))

    row = stored(engine, "budget").iloc[0]
    assert [row["budget"], row["allotted"], row["spent"], row["payable"]] == [
        240961 * factor,
        60000 * factor,
        50000 * factor,
        12 * factor,
    ]


@pytest.mark.parametrize(
    "year", [108, "108", "108年", "108年度", "民國108年", 2019, "2019", "2019年", "２０１９"]
)
def test_budget_year_column_roc_or_ad(year: object, engine: Engine) -> None:
    sheet = [["年度", "月份", *BUDGET_HEAD], [year, 3, "外交管理業務", "經常門", 1, 1, 1, 0, 100]]
    report = dry(engine, {"預算": sheet})

    assert report.ok, [p.message_en for p in report.errors]
    assert report.frames["budget"].loc[0, "year"] == 108


@pytest.mark.parametrize(
    "month",
    [3, 3.0, "3", "03", "3月", "３月", "三月", "3月份", "截至3月", "3月底", dt.date(2019, 3, 31)],
)
def test_budget_month_column_forms(month: object, engine: Engine) -> None:
    sheet = [
        ["年度", "月份", *BUDGET_HEAD],
        [108, month, "外交管理業務", "經常門", 1, 1, 1, 0, 100],
    ]
    report = dry(engine, {"預算": sheet})

    assert report.ok, [p.message_en for p in report.errors]
    assert report.frames["budget"].loc[0, "month"] == 3


@pytest.mark.parametrize(
    "quarter", ["第2季", "第二季", "Q2", "q2", 2, "2", "108Q2", "2019Q2", "108年第2季"]
)
def test_budget_quarter_column_gives_the_quarters_last_month(
    quarter: object, engine: Engine
) -> None:
    sheet = [
        ["年度", "季別", *BUDGET_HEAD],
        [108, quarter, "外交管理業務", "經常門", 1, 1, 1, 0, 100],
    ]
    report = dry(engine, {"預算": sheet})

    assert report.ok, [p.message_en for p in report.errors]
    assert report.frames["budget"].loc[0, "month"] == 6


@pytest.mark.parametrize(
    ("cell", "dollars"),
    [
        (240961, 240_961_000),
        (240961.0, 240_961_000),
        ("240961", 240_961_000),
        ("240,961", 240_961_000),
        (" 240,961 ", 240_961_000),
        ("２４０，９６１", 240_961_000),
        ("240,961.5", 240_961_500),
        ("-", 0),
        ("—", 0),
        ("－", 0),
        ("", 0),
        (None, 0),
    ],
)
def test_budget_amount_forms(cell: object, dollars: int, engine: Engine) -> None:
    report = dry(engine, {"預算": budget_sheet(["外交管理業務", "經常門", cell, 1, 1, 0, None])})

    assert report.ok, [p.message_en for p in report.errors]
    assert report.frames["budget"].loc[0, "budget"] == dollars


@pytest.mark.parametrize(
    "rate", ["83.33%", "83.33", 83.33, "８３．３３％", 83.3333333, None, "", "-"]
)
def test_budget_rate_forms_agree_with_the_amounts(rate: object, engine: Engine) -> None:
    report = dry(engine, {"預算": budget_sheet(["外交管理業務", "經常門", 100, 60, 50, 0, rate])})

    assert report.ok
    assert "rate_mismatch" not in codes(report)


@pytest.mark.parametrize("rate", ["83.33%", 83.33, "83.33", 0.8333])
def test_budget_rate_without_a_percent_header(rate: object, engine: Engine) -> None:
    """Offices head the column 執行率 and write 83.33 (points) or 0.8333 (a ratio)."""
    head = ["工作計畫", "經資門", "預算數", "累計分配數", "累計實支數", "執行率"]
    sheet = [["108年度 1月至3月"], head, ["外交管理業務", "經常門", 100, 60, 50, rate]]
    report = dry(engine, {"預算": sheet})

    assert report.ok
    assert "rate_mismatch" not in codes(report)


def test_budget_rate_mismatch_over_half_a_point_is_a_warning(engine: Engine) -> None:
    sheet = budget_sheet(
        ["外交管理業務", "經常門", 1000, 600, 500, 0, "83.70%"],  # 83.33% computed: 0.37 points off
        ["外交管理業務", "資本門", 1000, 600, 500, 0, "84.00%"],  # 0.67 points off
    )
    result = imported(engine.import_bytes(xlsx_bytes({"預算": sheet}), "b.xlsx"))

    warning = only(result.report, "rate_mismatch")
    assert (warning.sheet, warning.row, warning.column, warning.header) == (
        "預算",
        5,
        "G",
        "執行率(%)",
    )
    assert "84.00%" in warning.value and "83.33%" in warning.value
    assert len(stored(engine, "budget")) == 2


def test_budget_executed_over_allotted_is_a_warning(engine: Engine) -> None:
    sheet = budget_sheet(["外交管理業務", "經常門", 1000, 600, 550, 100, None])
    result = imported(engine.import_bytes(xlsx_bytes({"預算": sheet}), "b.xlsx"))

    warning = only(result.report, "executed_over_allotted")
    assert (warning.sheet, warning.row, warning.column) == ("預算", 4, "E")
    assert warning.value == "650,000"
    assert stored(engine, "budget").loc[0, "spent"] == 550_000


@pytest.mark.parametrize(
    ("written", "kind"),
    [
        ("經常", "經常門"),
        ("資本", "資本門"),
        ("current", "經常門"),
        ("Capital", "資本門"),
        ("資本支出", "資本門"),
    ],
)
def test_budget_kind_spellings(written: str, kind: str, engine: Engine) -> None:
    report = dry(engine, {"預算": budget_sheet(["外交管理業務", written, 1, 1, 1, 0, None])})

    assert report.frames["budget"].loc[0, "kind"] == kind


# ---------------------------------------------------------------- visa


@pytest.mark.parametrize(
    ("period", "year", "month"),
    [
        ("108/01", 108, 1),
        ("108/1", 108, 1),
        ("108年4月", 108, 4),
        ("民國108年4月", 108, 4),
        ("2019-01", 108, 1),
        ("2019/12", 108, 12),
        ("108.02", 108, 2),
        ("201903", 108, 3),
        (dt.date(2019, 5, 1), 108, 5),
        (dt.datetime(2019, 6, 30, 0, 0), 108, 6),
        ("１０８／０７", 108, 7),
    ],
)
def test_visa_period_forms(period: object, year: int, month: int, engine: Engine) -> None:
    report = dry(
        engine, {"簽證": visa_sheet([period, "駐日本代表處", "亞太", "停留簽證", 10, 9, 1, 4.5])}
    )

    assert report.ok, [p.message_en for p in report.errors]
    assert report.frames["visa"].loc[0, ["year", "month"]].tolist() == [year, month]


def test_visa_year_and_month_columns(engine: Engine) -> None:
    head = ["年度", "月份", "館處", "種類", "受理件數", "核准件數"]
    sheet = [
        head,
        [2019, "3月", "駐日本代表處", "電子簽證", 10, 9],
        ["", "4月", "駐日本代表處", "電子簽證", 5, 5],
    ]
    report = dry(engine, {"簽證": sheet})

    assert report.frames["visa"][["year", "month"]].values.tolist() == [[108, 3], [108, 4]]


def test_visa_import(engine: Engine) -> None:
    sheet = visa_sheet(
        ["108/01", "駐日本代表處", "亞太", "停留簽證", "1,200", "1,150", 50, 4.5],
        ["", "", "", "電子", 300, 298, "-", "-"],
        ["108/02", "駐美國代表處", "北美", "居留簽證", 80, 75, 5, ""],
        ["合計", "", "", "", 1580, 1523, 55, ""],
    )
    imported(engine.import_bytes(xlsx_bytes({"簽證": sheet}), "visa.xlsx"))

    rows = stored(engine, "visa").sort_values(["month", "visa_type"]).reset_index(drop=True)
    assert rows[
        ["year", "month", "mission", "visa_type", "applications", "issued"]
    ].values.tolist() == [
        [108, 1, "駐日本代表處", "停留簽證", 1200, 1150],
        [108, 1, "駐日本代表處", "電子簽證", 300, 298],
        [108, 2, "駐美國代表處", "居留簽證", 80, 75],
    ]
    # A dash or a blank for the average means "not reported", not zero days.
    assert rows["avg_days"].tolist()[0] == 4.5
    assert rows["avg_days"].isna().tolist()[1:] == [True, True]


def test_visa_issued_over_applications_is_a_warning(engine: Engine) -> None:
    sheet = visa_sheet(["108/01", "駐日本代表處", "亞太", "停留簽證", 10, 12, 0, 3])
    result = imported(engine.import_bytes(xlsx_bytes({"簽證": sheet}), "visa.xlsx"))

    warning = only(result.report, "issued_over_applications")
    assert (warning.sheet, warning.row, warning.column, warning.value) == ("簽證", 3, "F", "12")


def test_visa_unusual_type_is_kept_with_a_warning(engine: Engine) -> None:
    sheet = visa_sheet(["108/01", "駐日本代表處", "亞太", "外交簽證", 10, 10, 0, 3])
    result = imported(engine.import_bytes(xlsx_bytes({"簽證": sheet}), "visa.xlsx"))

    warning = only(result.report, "unknown_visa_type")
    assert (warning.row, warning.column, warning.value) == (3, "D", "外交簽證")
    assert stored(engine, "visa").loc[0, "visa_type"] == "外交簽證"


# ---------------------------------------------------------------- visits


@pytest.mark.parametrize(
    "date",
    [
        "108/02/15",
        "108/2/15",
        "108.2.15",
        "108.02.15",
        "108年2月15日",
        "民國108年2月15日",
        "2019-02-15",
        "2019/2/15",
        "2019年2月15日",
        "１０８／０２／１５",
        "1080215",
        "20190215",
        dt.date(2019, 2, 15),
        dt.datetime(2019, 2, 15, 9, 30),
    ],
)
def test_visit_date_forms(date: object, engine: Engine) -> None:
    report = dry(
        engine, {"訪問": visits_sheet([date, "來訪", "巴拉圭", "元首", "巴拉圭總統訪團", 12])}
    )

    assert report.ok, [p.message_en for p in report.errors]
    row = report.frames["visits"].iloc[0]
    assert (pd.Timestamp(row["date"]), row["year"], row["month"]) == (
        pd.Timestamp(2019, 2, 15),
        108,
        2,
    )


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("來訪", "來訪"),
        ("訪賓", "來訪"),
        ("外賓來訪", "來訪"),
        ("inbound", "來訪"),
        ("出訪", "出訪"),
        ("出國訪問", "出訪"),
        ("Outbound", "出訪"),
        ("國際會議", "國際會議"),
        ("會議", "國際會議"),
        ("conference", "國際會議"),
    ],
)
def test_visit_type_synonyms(written: str, canonical: str, engine: Engine) -> None:
    report = dry(engine, {"訪問": visits_sheet(["108/02/15", written, "巴拉圭", "部長", "團", 3])})

    assert report.frames["visits"].loc[0, "type"] == canonical


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("總統", "元首"),
        ("國王", "元首"),
        ("副總統", "副元首"),
        ("總理", "閣揆"),
        ("首相", "閣揆"),
        ("外長", "部長"),
        ("外交部長", "部長"),
        ("次長", "副部長"),
        ("參議員", "國會議員"),
        ("官員", "官員"),
    ],
)
def test_visit_level_synonyms(written: str, canonical: str, engine: Engine) -> None:
    report = dry(engine, {"訪問": visits_sheet(["108/02/15", "來訪", "巴拉圭", written, "團", 3])})

    assert report.ok
    assert report.frames["visits"].loc[0, "level"] == canonical


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("Paraguay", "巴拉圭"),
        ("巴拉圭共和國", "巴拉圭"),
        ("史瓦濟蘭", "史瓦帝尼"),
        ("Swaziland", "史瓦帝尼"),
        ("Eswatini", "史瓦帝尼"),
        ("  巴拉圭 ", "巴拉圭"),
    ],
)
def test_visit_country_names_are_normalised(written: str, canonical: str, engine: Engine) -> None:
    report = dry(engine, {"訪問": visits_sheet(["108/02/15", "來訪", written, "元首", "團", 3])})

    assert report.ok
    assert report.frames["visits"].loc[0, "country"] == canonical
    assert "unknown_country" not in codes(report)


def test_visits_import(engine: Engine) -> None:
    sheet = visits_sheet(
        ["108/02/15", "訪賓", "Paraguay", "總統", "巴拉圭總統訪團", 12],
        ["108/03/02", "出國訪問", "史瓦濟蘭", "外長", "部長訪問史瓦帝尼", 5],
        ["108/03/20", "會議", "法國", "官員", "OECD 會議", ""],
        ["108/03/25", "來訪", "日本", "處長", "日本台灣交流協會訪團", 3],
        ["小計", "", "", "", "", 20],
    )
    result = imported(engine.import_bytes(xlsx_bytes({"訪問": sheet}), "visits.xlsx"))

    rows = stored(engine, "visits").sort_values("date").reset_index(drop=True)
    assert rows[["type", "country", "level", "program"]].values.tolist() == [
        ["來訪", "巴拉圭", "元首", "國際會議及交流"],
        ["出訪", "史瓦帝尼", "部長", "國際會議及交流"],
        ["國際會議", "法國", "官員", "國際會議及交流"],
        ["來訪", "日本", "其他", "國際會議及交流"],
    ]
    warning = only(result.report, "unknown_level")
    assert (warning.sheet, warning.row, warning.column, warning.value) == ("訪問", 6, "D", "處長")


def test_visits_unknown_country_is_a_warning(engine: Engine) -> None:
    sheet = visits_sheet(
        ["108/02/15", "來訪", "巴拉規", "元首", "團", 3],
        ["108/02/16", "來訪", "巴拉規", "元首", "團2", 3],
    )
    result = imported(engine.import_bytes(xlsx_bytes({"訪問": sheet}), "visits.xlsx"))

    warning = only(result.report, "unknown_country")
    assert (warning.row, warning.column, warning.value) == (3, "C", "巴拉規")


# ---------------------------------------------------------------- indicator values


@pytest.mark.parametrize(
    ("written", "kpi"),
    [
        ("K4.1", "K4.1"),
        ("k4.1", "K4.1"),
        ("Ｋ４．１", "K4.1"),
        ("協助NGO參與國際活動場次", "K4.1"),
        ("國際傳播觸及人次（萬）", "K5.1"),
        ("國際傳播觸及人次", "K5.1"),
    ],
)
def test_kpi_values_by_code_or_name(written: str, kpi: str, engine: Engine) -> None:
    report = dry(engine, {"填報": kpi_sheet([written, 108, "第1季", 55, ""])})

    assert report.ok, [p.message_en for p in report.errors]
    assert report.frames["kpi_values"].loc[0, "kpi"] == kpi


@pytest.mark.parametrize(
    "quarter", ["第2季", "第二季", "Q2", "2", 2, 2.0, "108Q2", "2019Q2", "108年第2季"]
)
def test_kpi_values_quarter_forms(quarter: object, engine: Engine) -> None:
    report = dry(engine, {"填報": kpi_sheet(["K4.1", 108, quarter, 100, ""])})

    assert report.ok, [p.message_en for p in report.errors]
    assert report.frames["kpi_values"].loc[0, ["year", "quarter"]].tolist() == [108, 2]


@pytest.mark.parametrize("quarter", ["108Q3", "2019Q3", "108年第3季"])
def test_kpi_values_year_from_the_quarter_cell(quarter: str, engine: Engine) -> None:
    report = dry(engine, {"填報": [["指標代碼", "季別", "實際值"], ["K4.1", quarter, 150]]})

    assert report.ok, [p.message_en for p in report.errors]
    assert report.frames["kpi_values"].loc[0, ["year", "quarter"]].tolist() == [108, 3]


def test_kpi_values_import(engine: Engine) -> None:
    sheet = kpi_sheet(
        ["K4.1", 108, "第1季", 55, "辦理NGO國際參與活動55場。"],
        ["國際傳播觸及人次（萬）", "", "", "1,300", ""],
        ["K4.1", "", "", "", ""],  # a template row left empty
        ["K5.1", "", "", "-", ""],
    )
    imported(engine.import_bytes(xlsx_bytes({"填報": sheet}), "kpi.xlsx"))

    rows = stored(engine, "kpi_values").sort_values("kpi").reset_index(drop=True)
    assert rows[["kpi", "year", "quarter", "value"]].values.tolist() == [
        ["K4.1", 108, 1, 55.0],
        ["K5.1", 108, 1, 1300.0],
    ]
    assert rows.loc[0, "note"] == "辦理NGO國際參與活動55場。"
    assert pd.isna(rows.loc[1, "note"])


def test_kpi_values_rows_without_value_or_note_are_ignored(engine: Engine) -> None:
    """A filled-in template lists every indicator; the ones nobody filled say nothing."""
    sheet = kpi_sheet(
        ["K4.1", 108, "第1季", 55, ""],
        ["K5.1", 108, "第1季", "", ""],
        ["不在目錄的指標", 108, "第1季", "", ""],
        ["", 108, "第1季", "", ""],
    )
    report = dry(engine, {"填報": sheet})

    assert report.ok, [p.message_en for p in report.errors]
    assert report.frames["kpi_values"]["kpi"].tolist() == ["K4.1"]
    assert report.sheets[0].rows == 1


def test_kpi_values_unknown_indicator_is_an_error(engine: Engine) -> None:
    before = snapshot(engine)
    result = engine.import_bytes(
        xlsx_bytes({"填報": kpi_sheet(["K9.9", 108, "第1季", 1, ""])}), "kpi.xlsx"
    )

    assert result.status == "refused"
    error = only(result.report, "unknown_kpi")
    assert (error.sheet, error.row, error.column, error.value) == ("填報", 3, "A", "K9.9")
    assert snapshot(engine) == before


# ---------------------------------------------------------------- several sheets, formats


def test_two_datasets_and_an_instruction_sheet_in_one_workbook(engine: Engine) -> None:
    content = xlsx_bytes(
        {
            "填表說明": [["填表說明"], ["1. 請依工作計畫填列。"], ["2. 金額單位為新臺幣千元。"]],
            "預算": budget_sheet(["外交管理業務", "經常門", 100, 50, 40, 0, 80]),
            "簽證": visa_sheet(["108/01", "駐日本代表處", "亞太", "停留簽證", 10, 9, 1, 4.5]),
            "空白": [],
        }
    )
    result = imported(engine.import_bytes(content, "quarter.xlsx"))

    assert result.report.datasets == ["budget", "visa"]
    assert [(s.name, s.dataset) for s in result.report.sheets] == [
        ("填表說明", None),
        ("預算", "budget"),
        ("簽證", "visa"),
    ]
    skipped = only(result.report, "sheet_skipped")
    assert skipped.sheet == "填表說明" and skipped.severity == "warning"
    assert result.as_json()["sheets"][0]["skipped"]
    assert len(stored(engine, "budget")) == 1 and len(stored(engine, "visa")) == 1
    assert len(engine.store.batches()) == 1


def test_a_workbook_with_no_data_sheet_is_refused(engine: Engine) -> None:
    before = snapshot(engine)
    result = engine.import_bytes(xlsx_bytes({"說明": [["本檔案說明"], ["請見附件"]]}), "notes.xlsx")

    assert result.status == "refused"
    assert "no_data_sheet" in codes(result.report)
    assert snapshot(engine) == before


FORMAT_SHEETS: dict[str, Rows] = {
    "預算": budget_sheet(
        ["外交管理業務", "經常門", 235961, 58000, 50000, 1200, "88.28%"],
        ["", "資本門", 5000, 1000, 400, "-", 40],
        ["合計", "", 240961, 59000, 50400, 1200, None],
        ["註：單位為千元。"],
    ),
    "簽證": visa_sheet(
        [dt.date(2019, 1, 1), "駐日本代表處", "亞太", "停留簽證", 1200, 1150, 50, 4.5],
        ["108/02", "駐日本代表處", "亞太", "電子簽證", 300, 298, "", "-"],
    ),
    "訪問": visits_sheet(
        [dt.date(2019, 2, 15), "來訪", "巴拉圭", "元首", "巴拉圭總統訪團", 12],
        ["108/03/02", "出訪", "Eswatini", "外長", "部長訪問", 5],
    ),
    "填報": kpi_sheet(["K4.1", 108, "第1季", 55, "進度正常"], ["K5.1", 2019, "Q1", 1300.5, ""]),
}


def _frames(report: FileReport) -> dict[str, pd.DataFrame]:
    assert report.ok, [p.message_en for p in report.errors]
    return {name: f.reset_index(drop=True) for name, f in report.frames.items()}


def test_xlsx_xlsm_xls_and_ods_give_identical_rows(engine: Engine) -> None:
    ctx = engine.context(None, None)
    files = {
        "xlsx": xlsx_bytes(FORMAT_SHEETS),
        "xlsm": xlsm_bytes(FORMAT_SHEETS),
        "xls": xls_bytes(FORMAT_SHEETS),
        "ods": ods_bytes(FORMAT_SHEETS),
    }
    reports = {fmt: analyze(content, f"q1.{fmt}", ctx) for fmt, content in files.items()}

    assert {fmt: r.format for fmt, r in reports.items()} == {f: f for f in files}
    expected = _frames(reports["xlsx"])
    assert set(expected) == set(DATASETS)
    assert len(expected["budget"]) == 2 and len(expected["visits"]) == 2
    for fmt in ("xlsm", "xls", "ods"):
        got = _frames(reports[fmt])
        assert set(got) == set(expected)
        for name in expected:
            pd.testing.assert_frame_equal(
                got[name], expected[name], check_dtype=False, obj=f"{fmt} {name}"
            )


def test_xlsm_is_imported_through_the_same_path(engine: Engine) -> None:
    content = xlsm_bytes({"預算": budget_sheet(["外交管理業務", "經常門", 100, 50, 40, 0, 80])})
    with zipfile.ZipFile(io.BytesIO(content)) as z:
        assert b"macroEnabled" in z.read("[Content_Types].xml")
    result = imported(engine.import_bytes(content, "budget.xlsm"))

    assert result.report.format == "xlsm"
    assert stored(engine, "budget").loc[0, "allotted"] == 50_000


@pytest.mark.parametrize("fmt", ["xlsx", "ods", "xls"])
def test_merged_visit_date_fills_both_rows(fmt: str, engine: Engine) -> None:
    """A date merged over two visits of the same day: the date column does not fill down by itself."""
    sheet = visits_sheet(
        [dt.date(2019, 2, 15), "來訪", "巴拉圭", "元首", "巴拉圭總統訪團", 12],
        ["", "來訪", "瓜地馬拉", "部長", "瓜地馬拉外長訪團", 4],
    )
    build = {"xlsx": xlsx_bytes, "ods": ods_bytes, "xls": xls_bytes}[fmt]
    report = analyze(
        build({"訪問": sheet}, merged={"訪問": ["A3:A4"]}), f"v.{fmt}", engine.context(None, None)
    )

    rows = _frames(report)["visits"]
    assert rows["date"].tolist() == [pd.Timestamp(2019, 2, 15)] * 2


# ---------------------------------------------------------------- every error refuses the file


def _formula_budget() -> bytes:
    sheet = budget_sheet(
        ["外交管理業務", "經常門", 100, 50, 40, 0, None],
        ["外交管理業務", "資本門", 100, 50, None, 0, None],
    )
    return xlsx_bytes({"預算": sheet}, formulas={"預算": {"E5": "=D5*0.8"}})


def _formula_visits_ods() -> bytes:
    sheet = visits_sheet(["108/02/15", "來訪", "巴拉圭", "元首", "團", None])
    return ods_bytes({"訪問": sheet}, formulas={"訪問": {"F3": "[.A1]+1"}})


ERRORS = {
    # name: (file, code, sheet, row, column, value)
    "unreadable number": (
        xlsx_bytes(
            {
                "預算": budget_sheet(
                    ["外交管理業務", "經常門", 100, 50, 40, 0, None],
                    ["外交管理業務", "資本門", 100, 50, "4O", 0, None],
                )
            }
        ),
        "bad_spent",
        "預算",
        5,
        "E",
        "4O",
    ),
    "number with two points": (
        xlsx_bytes({"預算": budget_sheet(["外交管理業務", "經常門", "1.000.5", 50, 40, 0, None])}),
        "bad_budget",
        "預算",
        4,
        "C",
        "1.000.5",
    ),
    "negative amount": (
        xlsx_bytes({"預算": budget_sheet(["外交管理業務", "經常門", 100, -50, 0, 0, None])}),
        "negative_allotted",
        "預算",
        4,
        "D",
        "-50",
    ),
    "negative amount in brackets": (
        xlsx_bytes({"預算": budget_sheet(["外交管理業務", "經常門", 100, 50, 40, "(5)", None])}),
        "negative_payable",
        "預算",
        4,
        "F",
        "(5)",
    ),
    "unknown kind": (
        xlsx_bytes({"預算": budget_sheet(["外交管理業務", "人事費", 100, 50, 40, 0, None])}),
        "bad_kind",
        "預算",
        4,
        "B",
        "人事費",
    ),
    "month 13": (
        xlsx_bytes(
            {
                "預算": [
                    ["年度", "月份", *BUDGET_HEAD],
                    [108, 13, "外交管理業務", "經常門", 1, 1, 1, 0, None],
                ]
            }
        ),
        "bad_month",
        "預算",
        2,
        "B",
        "13",
    ),
    "budget quarter 5": (
        xlsx_bytes(
            {
                "預算": [
                    ["年度", "季別", *BUDGET_HEAD],
                    [108, "第5季", "外交管理業務", "經常門", 1, 1, 1, 0, None],
                ]
            }
        ),
        "bad_quarter",
        "預算",
        2,
        "B",
        "第5季",
    ),
    "quarter outside 1-4": (
        xlsx_bytes({"填報": kpi_sheet(["K4.1", 108, "第1季", 55, ""], ["K5.1", 108, 5, 1300, ""])}),
        "bad_quarter",
        "填報",
        4,
        "C",
        "5",
    ),
    "quarter 0": (
        xlsx_bytes({"填報": kpi_sheet(["K4.1", 108, "Q0", 55, ""])}),
        "bad_quarter",
        "填報",
        3,
        "C",
        "Q0",
    ),
    "impossible date": (
        xlsx_bytes(
            {
                "訪問": visits_sheet(
                    ["108/02/15", "來訪", "巴拉圭", "元首", "團", 1],
                    ["108/02/30", "來訪", "巴拉圭", "元首", "團2", 1],
                )
            }
        ),
        "bad_date",
        "訪問",
        4,
        "A",
        "108/02/30",
    ),
    "unreadable date": (
        xlsx_bytes({"訪問": visits_sheet(["二月中旬", "來訪", "巴拉圭", "元首", "團", 1])}),
        "bad_date",
        "訪問",
        3,
        "A",
        "二月中旬",
    ),
    "unknown visit type": (
        xlsx_bytes({"訪問": visits_sheet(["108/02/15", "觀光", "巴拉圭", "元首", "團", 1])}),
        "bad_type",
        "訪問",
        3,
        "B",
        "觀光",
    ),
    "blank visit type": (
        xlsx_bytes({"訪問": visits_sheet(["108/02/15", "", "巴拉圭", "元首", "團", 1])}),
        "blank_type",
        "訪問",
        3,
        "B",
        "",
    ),
    "impossible visa period": (
        xlsx_bytes(
            {"簽證": visa_sheet(["108/13", "駐日本代表處", "亞太", "停留簽證", 10, 9, 1, 4.5])}
        ),
        "bad_period",
        "簽證",
        3,
        "A",
        "108/13",
    ),
    "fractional count": (
        xlsx_bytes(
            {"簽證": visa_sheet(["108/01", "駐日本代表處", "亞太", "停留簽證", 10.5, 9, 1, 4.5])}
        ),
        "bad_applications",
        "簽證",
        3,
        "E",
        "10.5",
    ),
    "unreadable year": (
        xlsx_bytes({"填報": kpi_sheet(["K4.1", "去年", "第1季", 55, ""])}),
        "bad_year",
        "填報",
        3,
        "B",
        "去年",
    ),
    "formula without a cached value (xlsx)": (
        _formula_budget(),
        "formula_without_value",
        "預算",
        5,
        "E",
        None,
    ),
    "formula without a cached value (ods)": (
        _formula_visits_ods(),
        "formula_without_value",
        "訪問",
        3,
        "F",
        None,
    ),
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_every_error_refuses_the_file_and_writes_nothing(case: str, engine: Engine) -> None:
    content, code, sheet, row, column, value = ERRORS[case]
    imported(
        engine.import_bytes(
            xlsx_bytes({"預算": budget_sheet(["國際會議及交流", "經常門", 1, 1, 1, 0, None])}),
            "first.xlsx",
        )
    )
    before = snapshot(engine)

    ext = "ods" if "(ods)" in case else "xlsx"
    result = engine.import_bytes(content, f"bad.{ext}")

    assert result.status == "refused"
    assert result.batch is None
    assert snapshot(engine) == before
    error = only(result.report, code)
    assert error.severity == "error"
    assert (error.sheet, error.row, error.column, error.value) == (sheet, row, column, value)
    assert error.message_zh and error.message_en
    out = result.as_json()
    assert out["status"] == "refused"
    assert {"sheet": sheet, "row": row, "column": column, "value": value}.items() <= out["errors"][
        0
    ].items()


@pytest.mark.parametrize(
    ("dataset", "sheet", "missing"),
    [
        (
            "budget",
            [
                ["108年度 1月至3月"],
                ["工作計畫", "經資門", "預算數", "累計實支數"],
                ["外交管理業務", "經常門", 1, 1],
            ],
            "累計分配數",
        ),
        (
            "visa",
            [["年月", "駐外館處", "申請件數", "核發件數"], ["108/01", "駐日本代表處", 1, 1]],
            "簽證類別",
        ),
        (
            "visits",
            [["108年"], ["日期", "國家", "層級", "團名"], ["108/02/15", "巴拉圭", "元首", "團"]],
            "類型",
        ),
        (
            "kpi_values",
            [["年度", "季別", "實際值", "說明"], [108, 1, 1, "x"], [108, 2, 2, "y"]],
            "指標代碼",
        ),
    ],
)
def test_missing_required_column_refuses_the_file(
    dataset: str, sheet: Rows, missing: str, engine: Engine
) -> None:
    before = snapshot(engine)
    result = engine.import_bytes(xlsx_bytes({"資料": sheet}), "bad.xlsx")

    assert result.status == "refused"
    assert snapshot(engine) == before
    assert result.report.sheets[0].dataset == dataset
    error = only(result.report, "missing_column")
    assert error.sheet == "資料"
    assert error.row == next(
        i for i, row in enumerate(sheet, start=1) if len(row) > 2
    )  # the header row
    assert missing in error.message_zh


def test_one_bad_sheet_refuses_the_whole_workbook(engine: Engine) -> None:
    content = xlsx_bytes(
        {
            "預算": budget_sheet(["外交管理業務", "經常門", 100, 50, 40, 0, None]),
            "訪問": visits_sheet(["108/02/30", "來訪", "巴拉圭", "元首", "團", 1]),
        }
    )
    before = snapshot(engine)
    result = engine.import_bytes(content, "q1.xlsx")

    assert result.status == "refused"
    assert snapshot(engine) == before
    assert [p.sheet for p in result.report.errors] == ["訪問"]


def test_many_bad_cells_are_summarised(engine: Engine) -> None:
    rows = [["108/02/30", "來訪", "巴拉圭", "元首", f"團{i}", 1] for i in range(120)]
    result = engine.import_bytes(xlsx_bytes({"訪問": visits_sheet(*rows)}), "bad.xlsx")

    bad = [p for p in result.report.errors if p.code == "bad_date"]
    assert 50 <= len(bad) <= 52
    assert bad[-1].row is None and "70" in bad[-1].message_zh


# ---------------------------------------------------------------- every warning lets the file through


WARNINGS = {
    "program_not_in_plan": {"預算": budget_sheet(["第一預備金", "經常門", 100, 50, 40, 0, None])},
    "issued_over_applications": {
        "簽證": visa_sheet(["108/01", "駐日本代表處", "亞太", "停留簽證", 10, 11, 0, 4])
    },
    "executed_over_allotted": {
        "預算": budget_sheet(["外交管理業務", "經常門", 100, 50, 45, 10, None])
    },
    "rate_mismatch": {"預算": budget_sheet(["外交管理業務", "經常門", 100, 50, 40, 0, "90%"])},
    "unknown_level": {"訪問": visits_sheet(["108/02/15", "來訪", "巴拉圭", "大使", "團", 1])},
    "blank_level": {"訪問": visits_sheet(["108/02/15", "來訪", "巴拉圭", "", "團", 1])},
    "unknown_country": {"訪問": visits_sheet(["108/02/15", "來訪", "烏托邦", "部長", "團", 1])},
    "unknown_visa_type": {
        "簽證": visa_sheet(["108/01", "駐日本代表處", "亞太", "過境簽證", 10, 9, 1, 4])
    },
    "sheet_skipped": {
        "說明": [["填表說明"], ["請依格式填列"]],
        "填報": kpi_sheet(["K4.1", 108, 1, 55, ""]),
    },
    "duplicate_key": {"填報": kpi_sheet(["K4.1", 108, 1, 55, ""], ["K4.1", 108, 1, 56, "更正"])},
}


@pytest.mark.parametrize("code", list(WARNINGS))
def test_every_warning_lets_the_file_through(code: str, engine: Engine) -> None:
    result = imported(engine.import_bytes(xlsx_bytes(WARNINGS[code]), "warn.xlsx"))

    assert code in {w["code"] for w in result.as_json()["warnings"]}
    assert result.report.errors == []
    assert result.batch is not None
    assert len(engine.store.batches()) == 1


# ---------------------------------------------------------------- duplicate keys


def test_duplicate_budget_rows_add_up_with_a_warning(engine: Engine) -> None:
    sheet = budget_sheet(
        ["外交管理業務", "經常門", 100, 50, 40, 0, None],
        ["外交管理業務", "資本門", 10, 5, 4, 0, None],
        ["外交管理業務", "經常門", 20, 10, 8, 1, None],
    )
    report = dry(engine, {"預算": sheet})

    warning = only(report, "duplicate_key")
    assert (warning.sheet, warning.row) == ("預算", 6)
    assert "4" in warning.message_en  # names the first row of the key
    rows = report.frames["budget"].sort_values("kind").reset_index(drop=True)
    assert rows[["kind", "budget", "allotted", "spent", "payable"]].values.tolist() == [
        ["經常門", 120_000, 60_000, 48_000, 1_000],
        ["資本門", 10_000, 5_000, 4_000, 0],
    ]


def test_duplicate_visa_rows_add_up_and_average_days_by_issued(engine: Engine) -> None:
    sheet = visa_sheet(
        ["108/01", "駐日本代表處", "亞太", "停留簽證", 100, 90, 10, 4],
        ["108/01", "駐日本代表處", "亞太", "電子簽證", 50, 50, 0, 1],
        ["108/01", "駐日本代表處", "亞太", "停留", 20, 10, "", 8],
    )
    report = dry(engine, {"簽證": sheet})

    warning = only(report, "duplicate_key")
    assert (warning.sheet, warning.row) == ("簽證", 5)
    rows = report.frames["visa"].set_index("visa_type")
    assert rows.loc["停留簽證", ["applications", "issued", "refused"]].tolist() == [120, 100, 10]
    assert rows.loc["停留簽證", "avg_days"] == pytest.approx((4 * 90 + 8 * 10) / 100)
    assert rows.loc["電子簽證", "avg_days"] == 1


def test_duplicate_keys_across_sheets_name_the_other_sheet(engine: Engine) -> None:
    content = {
        "一月": [
            ["年月", "館處", "簽證類別", "申請件數", "核發件數"],
            ["108/01", "駐日本代表處", "停留簽證", 10, 9],
        ],
        "二月": [
            ["年月", "館處", "簽證類別", "申請件數", "核發件數"],
            ["108/02", "駐日本代表處", "停留簽證", 5, 5],
            ["108/01", "駐日本代表處", "停留簽證", 1, 1],
        ],
    }
    report = dry(engine, content)

    warning = only(report, "duplicate_key")
    assert (warning.sheet, warning.row) == ("二月", 3)
    assert "一月" in warning.message_zh and "一月" in warning.message_en


def test_duplicate_visits_and_indicator_rows_keep_the_later_one(engine: Engine) -> None:
    report = dry(
        engine,
        {
            "訪問": visits_sheet(
                ["108/02/15", "來訪", "巴拉圭", "元首", "巴拉圭總統訪團", 12],
                ["108/02/15", "來訪", "巴拉圭", "元首", "巴拉圭總統訪團", 14],
            ),
            "填報": kpi_sheet(["K4.1", 108, 1, 55, ""], ["K4.1", 108, "第1季", 56, "更正"]),
        },
    )

    assert [(p.sheet, p.row) for p in report.warnings if p.code == "duplicate_key"] == [
        ("訪問", 4),
        ("填報", 4),
    ]
    assert report.frames["visits"]["participants"].tolist() == [14]
    assert report.frames["kpi_values"][["value", "note"]].values.tolist() == [[56.0, "更正"]]


def test_reimporting_the_same_file_changes_nothing(engine: Engine) -> None:
    content = xlsx_bytes(FORMAT_SHEETS)
    imported(engine.import_bytes(content, "q1.xlsx"))
    counts = {name: engine.store.count_rows(name) for name in DATASETS}

    again = engine.import_bytes(content, "q1.xlsx")

    assert again.as_json()["changes"]["new"] == 0
    assert again.as_json()["changes"]["changed"] == 0
    assert {name: engine.store.count_rows(name) for name in DATASETS} == counts


# ---------------------------------------------------------------- the uploader's year and quarter


def test_uploader_year_and_quarter_when_the_sheet_says_nothing(engine: Engine) -> None:
    sheet = [BUDGET_HEAD, ["外交管理業務", "經常門", 100, 50, 40, 0, None]]
    refused = engine.import_bytes(xlsx_bytes({"工作表1": sheet}), "b.xlsx")

    assert refused.status == "refused"
    messages = [p.message_zh for p in refused.report.errors]
    assert len(messages) == 2
    assert "年度" in messages[0] and "--year" in messages[0]
    assert "月份" in messages[1] and "--quarter" in messages[1]

    result = imported(
        engine.import_bytes(xlsx_bytes({"工作表1": sheet}), "b.xlsx", year=108, quarter=2)
    )
    assert stored(engine, "budget").loc[0, ["year", "month"]].tolist() == [108, 6]
    assert result.as_json()["sheets"][0]["sources"]["year"] == "上傳時指定"


# ---------------------------------------------------------------- hostile files


HOSTILE = {
    "empty": (lambda: b"", "empty.xlsx", "empty"),
    "text named .xlsx": (text_named_xlsx, "budget.xlsx", "not_spreadsheet"),
    "word document named .xls": (word_document_like, "budget.xls", "not_spreadsheet"),
    "zip bomb": (lambda: zip_bomb_xlsx(64 * MB), "bomb.xlsx", "zip_bomb"),
    "lying zip bomb": (lambda: lying_zip_bomb(64 * MB), "bomb.xlsx", "zip_bomb"),
    "entity bomb": (entity_bomb_xlsx, "laughs.xlsx", "xml_entities"),
    "encrypted xlsx": (encrypted_xlsx_like, "secret.xlsx", "encrypted"),
    "encrypted ods": (
        lambda: raw_ods("<table:table-row/>", encrypted=True),
        "secret.ods",
        "encrypted",
    ),
    "sparse grid": (sparse_grid_xlsx, "grid.xlsx", None),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_files_are_refused_cleanly(case: str, engine: Engine) -> None:
    build, name, code = HOSTILE[case]
    imported(
        engine.import_bytes(
            xlsx_bytes({"預算": budget_sheet(["國際會議及交流", "經常門", 1, 1, 1, 0, None])}),
            "first.xlsx",
        )
    )
    before = snapshot(engine)

    result = engine.import_bytes(build(), name)

    assert result.status == "refused"
    assert snapshot(engine) == before
    [error] = result.report.errors
    if code is not None:
        assert error.code == code
    for message in (error.message_zh, error.message_en):
        assert message and "Traceback" not in message and "Error" not in message
    assert result.as_json()["errors"][0]["message"] == error.message_zh


# ---------------------------------------------------------------- property: analyze never raises


_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12)
_CELL = st.one_of(
    st.none(),
    _TEXT,
    st.sampled_from(
        ["-", "—", "", "第5季", "108/02/30", "1,2,3", "(5)", "92.35%", "Q2", "合計", "註：", "＝"]
    ),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e15, max_value=1e15),
    st.booleans(),
    st.dates(dt.date(1900, 3, 1), dt.date(2100, 1, 1)),
)


def _spelling(headers: tuple[str, ...]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(headers),
        st.sampled_from(headers).map(lambda h: f" {h}（千元）"),
        st.sampled_from(headers).map(lambda h: h.translate(str.maketrans("()%", "（）％")) + "(%)"),
        _TEXT,
    )


@st.composite
def _sheet(draw) -> Rows:
    ds = DATASETS[draw(st.sampled_from(["budget", "visa"]))]
    head = [draw(_spelling(f.headers)) for f in ds.fields if f.required or draw(st.booleans())]
    titles = draw(st.lists(st.lists(_CELL, max_size=3), max_size=3))
    body = draw(
        st.lists(st.lists(_CELL, min_size=len(head), max_size=len(head)), min_size=1, max_size=6)
    )
    return [*titles, head, *body]


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sheet=_sheet(), year=st.sampled_from([None, 108]), quarter=st.sampled_from([None, 2]))
def test_random_sheets_never_raise_and_refused_files_write_nothing(
    sheet: Rows, year, quarter, engine: Engine
) -> None:
    """import_bytes runs analyze: whatever the cells, a report comes back and refusal writes nothing."""
    before = snapshot(engine)
    result = engine.import_bytes(
        xlsx_bytes({"工作表": sheet}), "random.xlsx", year=year, quarter=quarter
    )

    assert isinstance(result.report, FileReport)
    assert (result.status == "refused") == (not result.report.ok)
    if result.status == "refused":
        assert snapshot(engine) == before
        return
    for frame in result.report.frames.values():
        assert not frame.empty
        for column in ("budget", "allotted", "spent", "payable", "applications", "issued"):
            if column in frame:
                assert (frame[column].fillna(0) >= 0).all()
                assert np.isfinite(frame[column].astype(float).fillna(0)).all()


def test_many_duplicate_keys_are_summarised(engine: Engine) -> None:
    rows = [["108/01", "駐日本代表處", "亞太", "停留簽證", 1, 1, 0, 1] for _ in range(80)]
    report = dry(engine, {"簽證": visa_sheet(*rows)})

    warnings = [p for p in report.warnings if p.code == "duplicate_key"]
    assert len(warnings) == 51
    assert "29" in warnings[-1].message_en
    assert report.frames["visa"][["applications", "issued"]].values.tolist() == [[80, 80]]


def test_a_dry_run_writes_nothing(engine: Engine) -> None:
    before = snapshot(engine)
    result = engine.import_bytes(xlsx_bytes(FORMAT_SHEETS), "q1.xlsx", dry_run=True)

    assert result.status == "valid"
    assert result.as_json()["changes"]["new"] == 8
    assert snapshot(engine) == before


# -- the cycle collector waits while an import builds its rows ---------------------------------


def _visa_workbook() -> bytes:
    return xlsx_bytes(
        {"簽證": visa_sheet(["108/01", "駐日本代表處", "亞太", "停留簽證", 10, 9, 1, 4.5])}
    )


def test_an_import_runs_without_cycle_collection_and_restores_it(engine: Engine, monkeypatch):
    seen = []
    real = engine.store.import_frames

    def spy(*args, **kwargs):
        seen.append(gc.isenabled())
        return real(*args, **kwargs)

    monkeypatch.setattr(engine.store, "import_frames", spy)
    assert gc.isenabled()
    result = engine.import_bytes(_visa_workbook(), "visa.xlsx")
    assert result.status == "imported" and seen == [False]
    assert gc.isenabled()

    def broken(*args, **kwargs):
        raise RuntimeError("store failed")

    monkeypatch.setattr(engine.store, "import_frames", broken)
    with pytest.raises(RuntimeError):
        engine.import_bytes(_visa_workbook(), "visa.xlsx")
    assert gc.isenabled()


def test_the_collector_resumes_when_the_last_of_several_imports_ends():
    inside, leave = threading.Barrier(3), threading.Event()
    states = []

    def one_import():
        with gcpause.paused():
            inside.wait()
            leave.wait()
            states.append(gc.isenabled())

    threads = [threading.Thread(target=one_import) for _ in range(2)]
    for t in threads:
        t.start()
    inside.wait()
    assert not gc.isenabled()
    leave.set()
    for t in threads:
        t.join()
    assert states == [False, False] and gc.isenabled()


def test_a_collector_switched_off_before_stays_off():
    gc.disable()
    try:
        with gcpause.paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()

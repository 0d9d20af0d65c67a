"""The command line of SPEC §6: every command, its JSON contract and its exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest

from kpi.paths import ROOT
from kpi.store import Store

PLAN_FILE = ROOT / "data" / "plans" / "108_外交部.txt"
LIGHTS = {"green", "yellow", "red", "white"}
FILE_KEYS = {"file", "status", "dataset", "year", "months", "rows", "batch", "errors", "warnings"}
PROBLEM_KEYS = {"sheet", "row", "column", "value", "message"}

BUDGET = [
    ["年度", "月份", "機關", "工作計畫", "經資門", "預算數", "分配數", "實支數", "應付未付數"],
    [108, 3, "外交部", "外交管理業務", "經常門", 240961, 60000, 52000, 1200],
    [108, 3, "外交部", "營建工程", "資本門", 355582, 80000, 20000, 0],
]
VISA = [
    ["年月", "駐外館處", "地區", "簽證類別", "申請件數", "核發件數", "拒發件數", "平均處理天數"],
    ["108/01", "駐日本代表處", "亞太", "停留簽證", 1200, 1150, 50, 4.2],
    ["108/02", "駐日本代表處", "亞太", "電子簽證", 900, 880, 20, None],
]
VISITS = [
    ["日期", "類型", "國家", "層級", "團名", "人數"],
    ["108/02/15", "來訪", "巴拉圭", "部長", "巴拉圭外交部長訪團", 8],
    ["2019-03-01", "國際會議", "瑞士", "官員", "WHA", 3],
]
BAD_VISITS = [
    ["日期", "類型", "國家", "層級", "團名"],
    ["108/02/15", "來訪", "巴拉圭", "部長", "巴拉圭外交部長訪團"],
    ["108/02/16", "觀光", "日本", "部長", "日本訪團"],
]
# No year or month anywhere: the uploader has to give them.
UNDATED_BUDGET = [
    ["工作計畫", "經資門", "預算數", "分配數", "實支數", "應付未付數"],
    ["外交管理業務", "經常門", 1000, 500, 400, 10],
]


def write_xlsx(path: Path, sheets: dict[str, list[list]]) -> Path:
    """A workbook with one sheet per entry, rows written from the top left."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    wb.save(path)
    return path


def check_file_doc(doc: dict) -> None:
    assert set(doc) >= FILE_KEYS
    assert doc["status"] in {"imported", "valid", "refused"}
    for problem in doc["errors"] + doc["warnings"]:
        assert set(problem) >= PROBLEM_KEYS and problem["message"]


# -- import ---------------------------------------------------------------------------------------


def test_import_refuses_the_bad_file_and_still_imports_the_others(tmp_path, cli_json):
    files = [
        write_xlsx(tmp_path / "budget.xlsx", {"預算執行": BUDGET}),
        write_xlsx(tmp_path / "visits.xlsx", {"訪問": BAD_VISITS}),
        write_xlsx(tmp_path / "visa.xlsx", {"簽證": VISA}),
    ]
    code, doc = cli_json("import", *files)
    assert code == 1
    budget, visits, visa = doc["files"]
    for d in doc["files"]:
        check_file_doc(d)
    assert [d["status"] for d in doc["files"]] == ["imported", "refused", "imported"]
    assert (
        budget["file"],
        budget["dataset"],
        budget["year"],
        budget["months"],
        budget["rows"],
    ) == (
        "budget.xlsx",
        "budget",
        108,
        [3],
        2,
    )
    assert (visa["dataset"], visa["months"], visa["rows"]) == ("visa", [1, 2], 2)
    assert (
        isinstance(budget["batch"], int)
        and isinstance(visa["batch"], int)
        and budget["batch"] != visa["batch"]
    )
    assert visits["batch"] is None and visits["dataset"] == "visits"
    [error] = visits["errors"]
    assert (error["sheet"], error["row"], error["column"], error["value"]) == (
        "訪問",
        3,
        "B",
        "觀光",
    )
    assert "觀光" in error["message"]
    code, batches = cli_json("batches")
    assert code == 0
    assert sorted(b["batch"] for b in batches["batches"]) == sorted(
        [budget["batch"], visa["batch"]]
    )
    # The imported files are live: amounts in 千元 are stored in NT dollars.
    _, status = cli_json("status", "--year", "108", "--quarter", "1")
    kpis = {k["id"]: k for k in status["kpis"]}
    assert kpis["K6.1"]["actual"] == 2030
    assert status["budget_totals"] == {
        "budget": 596_543_000,
        "allotted": 140_000_000,
        "executed": 73_200_000,
    }


def test_a_dry_run_validates_and_writes_nothing(tmp_path, cli_json, db):
    files = [
        write_xlsx(tmp_path / "budget.xlsx", {"預算執行": BUDGET}),
        write_xlsx(tmp_path / "visa.xlsx", {"簽證": VISA}),
    ]
    code, doc = cli_json("import", *files, "--dry-run")
    assert code == 0
    assert [(d["status"], d["batch"], d["rows"]) for d in doc["files"]] == [
        ("valid", None, 2),
        ("valid", None, 2),
    ]
    assert cli_json("batches")[1] == {"batches": []}
    assert Store(db).version() == 0
    _, status = cli_json("status", "--year", "108", "--quarter", "1")
    assert {k["light"] for k in status["kpis"]} == {"white"}
    # A refused file in a dry run still exits 1.
    bad = write_xlsx(tmp_path / "bad.xlsx", {"訪問": BAD_VISITS})
    code, doc = cli_json("import", bad, "--dry-run")
    assert code == 1 and doc["files"][0]["status"] == "refused"


def test_a_dry_run_of_a_corrected_file_counts_exactly_the_rows_it_changes(tmp_path, cli, cli_json):
    cli_json("import", write_xlsx(tmp_path / "visa.xlsx", {"簽證": VISA}))
    corrected = [row[:] for row in VISA]
    corrected[2][5] = 870  # one row changes; one is new; one stays as it was
    corrected.append(["108/03", "駐日本代表處", "亞太", "停留簽證", 1300, 1250, 50, 4.0])
    path = write_xlsx(tmp_path / "visa_v2.xlsx", {"簽證": corrected})
    code, doc = cli_json("import", path, "--dry-run")
    assert code == 0
    [f] = doc["files"]
    check_file_doc(f)
    assert (f["status"], f["batch"]) == ("valid", None)
    assert f["changes"] == {"new": 1, "changed": 1, "unchanged": 1, "removed": 0}
    code, out, _ = cli("import", path, "--dry-run")
    assert code == 0 and "新增 1 列、變更 1 列、未變更 1 列" in out
    # A refused file says nothing would change.
    bad = write_xlsx(tmp_path / "bad.xlsx", {"訪問": BAD_VISITS})
    code, doc = cli_json("import", bad, "--dry-run")
    assert code == 1
    assert doc["files"][0]["changes"] == {"new": 0, "changed": 0, "unchanged": 0, "removed": 0}


def test_importing_the_same_file_twice_adds_no_batch(tmp_path, cli, cli_json):
    path = write_xlsx(tmp_path / "visa.xlsx", {"簽證": VISA})
    first = cli_json("import", path)[1]["files"][0]
    code, out, _ = cli("import", path)
    assert code == 0
    assert "visa.xlsx" in out and "未新增批次" in out
    again = cli_json("import", path)[1]["files"][0]
    assert first["batch"] and again["status"] == "imported" and again["batch"] is None
    assert len(cli_json("batches")[1]["batches"]) == 1


def test_year_and_quarter_come_from_the_command_line_when_the_file_has_none(tmp_path, cli_json):
    path = write_xlsx(tmp_path / "undated.xlsx", {"預算": UNDATED_BUDGET})
    code, doc = cli_json("import", path)
    assert code == 1
    assert doc["files"][0]["status"] == "refused" and doc["files"][0]["errors"]
    code, doc = cli_json("import", path, "--year", "2019", "--quarter", "Q2")
    assert code == 0
    f = doc["files"][0]
    assert (f["status"], f["year"], f["months"]) == ("imported", 108, [6])


def test_replace_removes_visits_the_file_no_longer_lists_and_undo_restores_them(
    tmp_path, cli_json, db
):
    cli_json("import", write_xlsx(tmp_path / "visits.xlsx", {"訪問": VISITS}))
    fewer = write_xlsx(tmp_path / "fewer.xlsx", {"訪問": VISITS[:2]})
    code, doc = cli_json("import", fewer, "--replace")
    assert code == 0
    assert doc["files"][0]["changes"]["removed"] == 1
    assert Store(db).count_rows("visits") == 1
    assert cli_json("undo", str(doc["files"][0]["batch"]))[0] == 0
    assert Store(db).count_rows("visits") == 2


def test_text_output_names_where_each_problem_is(tmp_path, cli):
    bad = write_xlsx(tmp_path / "bad.xlsx", {"訪問": BAD_VISITS})
    code, out, _ = cli("import", bad)
    assert code == 1
    assert "拒絕匯入" in out and "[訪問]" in out and "第3列" in out and "觀光" in out


def test_a_missing_file_is_refused(tmp_path, cli_json):
    good = write_xlsx(tmp_path / "visa.xlsx", {"簽證": VISA})
    code, doc = cli_json("import", tmp_path / "nope.xlsx", good)
    assert code == 1
    assert [d["status"] for d in doc["files"]] == ["refused", "imported"]
    assert doc["files"][0]["errors"][0]["message"]


# -- status ----------------------------------------------------------------------------------------


def test_status_json_contract(tmp_path, cli, cli_json):
    cli_json("import", write_xlsx(tmp_path / "budget.xlsx", {"預算執行": BUDGET}))
    code, doc = cli_json("status", "--year", "2019", "--quarter", "第1季")
    assert code == 0
    assert {"year", "quarter", "programs", "kpis", "goals", "budget_totals"} <= set(doc)
    assert (doc["year"], doc["quarter"], doc["programs"]) == (108, 1, [])
    assert [k["id"] for k in doc["kpis"]] == [
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
    ]
    for k in doc["kpis"]:
        assert {"id", "name", "goal", "actual", "target", "achievement", "light"} <= set(k)
        assert k["light"] in LIGHTS and k["name"]
        if k["light"] == "white":
            assert k["actual"] is None and k["achievement"] is None
    kpis = {k["id"]: k for k in doc["kpis"]}
    assert kpis["K7.1"]["actual"] == 0.25 and kpis["K7.1"]["light"] == "red"
    assert kpis["K1.1"]["actual"] is None and kpis["K1.1"]["target"] == 10
    assert [g["id"] for g in doc["goals"]] == ["G1", "G2", "G3", "G4", "G5", "G6", "G7"]
    for g in doc["goals"]:
        assert (
            {"id", "title", "achievement", "light"} <= set(g)
            and g["light"] in LIGHTS
            and g["title"]
        )
    assert set(doc["budget_totals"]) == {"budget", "allotted", "executed"}
    # A budget program's name from the appropriation resolves to the plan's program.
    code, filtered = cli_json(
        "status", "--year", "108", "--quarter", "1", "--program", "一般建築及設備"
    )
    assert code == 0
    assert filtered["programs"] == ["營建工程"]
    assert [k["id"] for k in filtered["kpis"]] == ["K7.1", "K7.2"]
    assert filtered["budget_totals"] == {
        "budget": 355_582_000,
        "allotted": 80_000_000,
        "executed": 20_000_000,
    }
    code, out, _ = cli("status", "--year", "108", "--quarter", "1")
    assert code == 0 and out.startswith("108年第1季") and "K7.1" in out


# -- coverage --------------------------------------------------------------------------------------


def test_coverage_json_contract(tmp_path, cli, cli_json):
    values = [["指標代碼", "年度", "季別", "實際值", "說明"], ["K4.1", 108, "第2季", 90, ""]]
    for name, sheets in {
        "budget": {"預算執行": BUDGET},
        "visa": {"簽證": VISA},
        "visits": {"訪問": VISITS},
        "values": {"指標填報": values},
    }.items():
        assert cli_json("import", write_xlsx(tmp_path / f"{name}.xlsx", sheets))[0] == 0
    code, doc = cli_json("coverage", "--year", "2019")
    assert code == 0
    assert doc == {
        "year": 108,
        "datasets": {
            "budget": {"months": [3]},
            "visa": {"months": [1, 2]},
            "visits": {"quarters": [1]},
            "kpi_values": {"K4.1": [2], "K5.1": []},
        },
    }
    # Another year holds nothing; every uploaded indicator is still listed.
    code, empty = cli_json("coverage", "--year", "109")
    assert code == 0
    assert empty["datasets"] == {
        "budget": {"months": []},
        "visa": {"months": []},
        "visits": {"quarters": []},
        "kpi_values": {"K4.1": [], "K5.1": []},
    }
    code, out, _ = cli("coverage", "--year", "108")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("108年")
    budget = next(line for line in lines if line.startswith("預算執行"))
    assert budget.split()[1:] == ["·", "·", "✓"] + ["·"] * 9
    assert next(line for line in lines if line.startswith("K4.1")).split()[1:5] == [
        "·",
        "✓",
        "·",
        "·",
    ]


@pytest.mark.parametrize("args", [["coverage"], ["coverage", "--year", "abc"]])
def test_coverage_usage_errors_exit_2(cli, cli_json, args):
    code, doc = cli_json(*args)
    assert code == 2 and doc["error"]
    code, out, err = cli(*args)
    assert code == 2 and out == "" and err.strip()


PROJECTION_KEYS = {
    "annual_target",
    "projection",
    "projected_achievement",
    "projected_light",
    "needed_per_quarter",
    "projection_method",
}
METHODS = {"plan-pace", "seasonal", "current-rate"}
# Last year's visas: 500 issued by the end of Q1, 2,000 by year end (a quarter by Q1).
VISA_LAST_YEAR = [
    ["年月", "駐外館處", "地區", "簽證類別", "申請件數", "核發件數", "拒發件數", "平均處理天數"],
    ["107/02", "駐日本代表處", "亞太", "停留簽證", 500, 500, 0, 4.0],
    ["107/11", "駐日本代表處", "亞太", "停留簽證", 1500, 1500, 0, 4.0],
]


def test_status_json_early_warning_contract(tmp_path, cli_json):
    cli_json("import", write_xlsx(tmp_path / "budget.xlsx", {"預算執行": BUDGET}))
    cli_json("import", write_xlsx(tmp_path / "visa.xlsx", {"簽證": VISA}))
    code, doc = cli_json("status", "--year", "108", "--quarter", "1")
    assert code == 0
    for k in doc["kpis"]:
        assert set(k) >= PROJECTION_KEYS, k["id"]
        assert k["projected_light"] in LIGHTS
        assert k["projection_method"] in METHODS | {None}
        if k["projection"] is None:
            assert k["projection_method"] is None and k["projected_light"] == "white"
    kpis = {k["id"]: k for k in doc["kpis"]}
    # No visits: nothing to project, but the annual target is known.
    assert {x: kpis["K1.1"][x] for x in PROJECTION_KEYS} == {
        "annual_target": 40,
        "projection": None,
        "projected_achievement": None,
        "projected_light": "white",
        "needed_per_quarter": None,
        "projection_method": None,
    }
    # Additive, no last year: the plan's pace. 2,030 of 125,000 by Q1 → 8,120 of 500,000.
    k61 = kpis["K6.1"]
    assert (k61["annual_target"], k61["projection"], k61["projection_method"]) == (
        500_000,
        8_120,
        "plan-pace",
    )
    assert k61["projected_achievement"] == round(8_120 / 500_000, 6)
    assert k61["projected_light"] == "red" and k61["at_risk"] is True
    assert k61["needed_per_quarter"] == round((500_000 - 2_030) / 3, 6)
    # A ratio projects its current value; nothing is "needed per quarter" of a rate.
    k71 = kpis["K7.1"]
    assert (k71["projection"], k71["projection_method"], k71["needed_per_quarter"]) == (
        0.25,
        "current-rate",
        None,
    )
    assert k71["projected_achievement"] == round(0.25 / 0.9, 6) and k71["at_risk"] is True

    # With last year's visas in the store, K6.1 follows last year's season instead.
    cli_json("import", write_xlsx(tmp_path / "visa107.xlsx", {"簽證": VISA_LAST_YEAR}))
    _, doc = cli_json("status", "--year", "108", "--quarter", "1")
    k61 = next(k for k in doc["kpis"] if k["id"] == "K6.1")
    assert (k61["projection"], k61["projection_method"]) == (2_030 * 2_000 / 500, "seasonal")
    assert k61["needed_per_quarter"] == round((500_000 - 2_030) / 3, 6)


# -- plan ------------------------------------------------------------------------------------------


def check_plan_doc(doc: dict) -> None:
    assert {"year", "goals", "programs"} <= set(doc)
    for g in doc["goals"]:
        assert {"id", "title", "strategies"} <= set(g)
    for p in doc["programs"]:
        assert {"name", "items"} <= set(p)
        for item in p["items"]:
            assert {"name", "category", "actions"} <= set(item)


def test_plan_parse_import_and_show(tmp_path, cli, cli_json, db):
    code, parsed = cli_json("plan", "parse", PLAN_FILE)
    assert code == 0
    check_plan_doc(parsed)
    assert parsed["year"] == 108
    assert [g["id"] for g in parsed["goals"]] == [f"G{i}" for i in range(1, 8)]
    assert sum(len(g["strategies"]) for g in parsed["goals"]) == 22
    assert [p["name"] for p in parsed["programs"]] == [
        "外交管理業務",
        "國際會議及交流",
        "國際合作及關懷",
        "領事事務管理",
        "營建工程",
    ]
    assert sum(len(p["items"]) for p in parsed["programs"]) == 11
    assert sum(len(i["actions"]) for p in parsed["programs"] for i in p["items"]) == 42
    assert Store(db).plan_years() == []  # parse stores nothing
    assert cli_json("plan", "import", PLAN_FILE) == (0, parsed)
    assert Store(db).plan_years() == [108]
    assert cli_json("plan", "show", "--year", "108") == (0, parsed)
    assert cli_json("plan", "show") == (0, parsed)
    code, out, _ = cli("plan", "show")
    assert code == 0 and "108年度施政計畫" in out and "G7" in out


def test_plan_files_that_cannot_be_read_or_parsed_exit_1(tmp_path, cli, cli_json):
    junk = tmp_path / "junk.txt"
    junk.write_text("這不是施政計畫。\n只是一段文字。\n", encoding="utf-8")
    code, out, err = cli("plan", "parse", junk)
    assert code == 1 and out == "" and err.strip()
    code, doc = cli_json("plan", "import", junk)
    assert code == 1 and doc["error"]
    code, doc = cli_json("plan", "parse", tmp_path / "missing.txt")
    assert code == 1 and doc["error"]


# -- batches and undo ------------------------------------------------------------------------------


def test_batches_and_undo(tmp_path, cli, cli_json, db):
    a = cli_json("import", write_xlsx(tmp_path / "budget.xlsx", {"預算執行": BUDGET}))[1]["files"][
        0
    ]["batch"]
    b = cli_json("import", write_xlsx(tmp_path / "visa.xlsx", {"簽證": VISA}))[1]["files"][0][
        "batch"
    ]
    code, doc = cli_json("batches")
    assert code == 0
    listed = doc["batches"]
    assert [x["batch"] for x in listed] == [b, a]  # newest first
    assert {"batch", "file", "status", "datasets", "rows", "sha256", "when", "who"} <= set(
        listed[0]
    )
    assert (listed[0]["file"], listed[0]["datasets"], listed[0]["rows"], listed[0]["status"]) == (
        "visa.xlsx",
        ["visa"],
        2,
        "active",
    )
    code, doc = cli_json("undo", str(a))
    assert code == 0 and doc["batch"] == a and doc["status"] == "undone"
    assert Store(db).count_rows("budget") == 0 and Store(db).count_rows("visa") == 2
    assert {x["batch"]: x["status"] for x in cli_json("batches")[1]["batches"]} == {
        a: "undone",
        b: "active",
    }
    code, doc = cli_json("undo", str(a))
    assert code == 1 and doc["error"]
    code, out, err = cli("undo", "999")
    assert code == 1 and out == "" and "999" in err
    code, out, _ = cli("batches")
    assert code == 0 and "visa.xlsx" in out and "budget.xlsx" in out


# -- template --------------------------------------------------------------------------------------

# A field of the template's example row, as it should arrive in the store.
EXAMPLE = {
    "budget": {"program": "外交管理業務", "kind": "經常門", "allotted": 60_000_000},
    "visa": {"mission": "駐日本代表處", "region": "亞太", "visa_type": "停留簽證", "issued": 1150},
    "visits": {"country": "巴拉圭", "type": "來訪", "level": "部長"},
    "kpi_values": {"kpi": "K4.1", "quarter": 1, "value": 52},
}


@pytest.mark.parametrize("dataset", sorted(EXAMPLE))
def test_a_template_comes_back_as_its_own_dataset(tmp_path, cli_json, db, dataset):
    path = tmp_path / f"{dataset}.xlsx"
    code, doc = cli_json("template", dataset, "-o", path)
    assert code == 0 and path.exists() and doc["dataset"] == dataset
    code, doc = cli_json("import", path, "--dry-run")
    assert code == 0
    [f] = doc["files"]
    assert (f["status"], f["dataset"], f["rows"], f["errors"]) == ("valid", dataset, 1, [])
    code, doc = cli_json("import", path)
    assert code == 0 and doc["files"][0]["status"] == "imported"
    [row] = Store(db).current_rows(dataset).to_dict("records")
    assert {k: row[k] for k in EXAMPLE[dataset]} == EXAMPLE[dataset]


# -- demo ------------------------------------------------------------------------------------------


def test_demo_loads_the_sample_year_and_removes_only_it(tmp_path, cli_json, db):
    own = cli_json(
        "import",
        write_xlsx(
            tmp_path / "visa.xlsx",
            {"簽證": [*VISA[:2], ["109/01", "駐日本代表處", "亞太", "停留簽證", 10, 9, 1, 3]]},
        ),
    )
    own_batch = own[1]["files"][0]["batch"]
    code, doc = cli_json("demo")
    assert code == 0
    assert len(doc["files"]) == 10 and {f["status"] for f in doc["files"]} == {"imported"}
    assert {f["dataset"] for f in doc["files"]} == {"budget", "visa", "visits", "kpi_values"}
    assert cli_json("demo") == (0, {"files": []})  # already loaded
    _, status = cli_json("status", "--year", "108", "--quarter", "4")
    assert "white" not in {k["light"] for k in status["kpis"]}
    code, doc = cli_json("demo", "--remove")
    assert code == 0 and doc["removed_batches"] == 10
    assert [b["batch"] for b in cli_json("batches")[1]["batches"]] == [own_batch]
    _, status = cli_json("status", "--year", "108", "--quarter", "4")
    assert {k["light"] for k in status["kpis"]} == {"white"}
    # The sample had replaced the uploader's January row; removing the sample brings it back.
    rows = Store(db).current_rows("visa").sort_values("year")
    assert rows[["year", "month", "issued"]].values.tolist() == [[108, 1, 1150], [109, 1, 9]]


def test_first_run_leaves_a_store_that_already_holds_imports_alone(tmp_path, cli_json):
    own = cli_json("import", write_xlsx(tmp_path / "visa.xlsx", {"簽證": VISA[:2]}))
    assert cli_json("demo", "--first-run") == (0, {"files": []})
    batches = cli_json("batches")[1]["batches"]
    assert [b["batch"] for b in batches] == [own[1]["files"][0]["batch"]]
    assert cli_json("demo", "--first-run") == (0, {"files": []})


def test_first_run_loads_the_sample_into_an_empty_store_once(cli_json):
    code, doc = cli_json("demo", "--first-run")
    assert code == 0 and len(doc["files"]) == 10
    assert cli_json("demo", "--remove")[0] == 0
    assert cli_json("demo", "--first-run") == (0, {"files": []})


# -- usage errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["frobnicate"],
        ["status", "--quarter", "1"],
        ["status", "--year", "108"],
        ["status", "--year", "108", "--quarter", "5"],
        ["status", "--year", "abc", "--quarter", "1"],
        ["status", "--year", "108", "--quarter", "1", "--program", "不存在的計畫"],
        ["import"],
        ["undo", "abc"],
        ["template", "nonsense", "-o", "x.xlsx"],
        ["template", "visa"],
        ["plan"],
    ],
)
def test_usage_errors_exit_2(cli, args):
    code, out, err = cli(*args)
    assert code == 2
    assert out == "" and err.strip()


@pytest.mark.parametrize(
    "args",
    [
        ["status", "--year", "108", "--quarter", "5"],
        ["status", "--year", "108", "--quarter", "1", "--program", "不存在的計畫"],
        ["frobnicate"],
    ],
)
def test_usage_errors_with_json_still_print_one_json_document(cli_json, args):
    code, doc = cli_json(*args)
    assert code == 2 and doc["error"]


# -- as a separate process -------------------------------------------------------------------------


def run_kpi(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "KPI_DATABASE_URL": f"sqlite:///{tmp_path / 'proc.sqlite3'}"}
    return subprocess.run(
        [sys.executable, "-m", "kpi", *map(str, args)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_json_on_stdout_is_one_document_in_a_real_process(tmp_path):
    bad = write_xlsx(tmp_path / "bad.xlsx", {"訪問": BAD_VISITS})
    good = write_xlsx(tmp_path / "visa.xlsx", {"簽證": VISA})
    done = run_kpi(tmp_path, "import", good, bad, "--json")
    assert done.returncode == 1, done.stderr
    doc = json.loads(done.stdout)
    assert [f["status"] for f in doc["files"]] == ["imported", "refused"]
    assert "Traceback" not in done.stderr
    done = run_kpi(tmp_path, "status", "--year", "108", "--quarter", "1", "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert next(k for k in doc["kpis"] if k["id"] == "K6.1")["actual"] == 2030


def test_a_usage_error_in_a_real_process(tmp_path):
    done = run_kpi(tmp_path, "status", "--year", "108", "--quarter", "5", "--json")
    assert done.returncode == 2
    assert json.loads(done.stdout)["error"]
    assert "usage" in done.stderr and "Traceback" not in done.stderr


def test_output_into_a_closed_pipe_ends_quietly(tmp_path):
    """`python -m kpi plan show --json | head -1`: the reader leaves early, no traceback."""
    env = {
        **os.environ,
        "KPI_DATABASE_URL": f"sqlite:///{tmp_path / 'pipe.sqlite3'}",
        "PYTHONPATH": str(ROOT),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "kpi", "plan", "show", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        env=env,
    )
    proc.stdout.close()  # before the child has written anything: its write fails with EPIPE
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0
    assert "Traceback" not in err
    assert "BrokenPipe" not in err

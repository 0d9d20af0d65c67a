"""The command line of quarter close and the target ledger: JSON shapes and exit codes."""

from __future__ import annotations

import pytest

from kpi.store import Store
from tests.test_cli import write_xlsx

KPI_Q1 = [["指標代碼", "年度", "季別", "實際值", "說明"], ["K4.1", 108, "第1季", 48, "上半年較少"]]
KPI_Q1_FIX = [["指標代碼", "年度", "季別", "實際值", "說明"], ["K4.1", 108, "第1季", 52, "更正"]]
KPI_Q2 = [["指標代碼", "年度", "季別", "實際值", "說明"], ["K4.1", 108, "第2季", 97, None]]
STATUS_KEYS = {"year", "quarter", "programs", "kpis", "goals", "budget_totals"}
CLOSE_KEYS = {
    "close",
    "year",
    "quarter",
    "closed_at",
    "closed_by",
    "reopened_at",
    "reopened_by",
    "reopen_reason",
}


def k41(doc: dict) -> dict:
    return next(k for k in doc["kpis"] if k["id"] == "K4.1")


def test_close_as_reported_reopen_and_close_again(tmp_path, cli, cli_json, db):
    q1 = write_xlsx(tmp_path / "q1.xlsx", {"指標填報": KPI_Q1})
    fix = write_xlsx(tmp_path / "fix.xlsx", {"指標填報": KPI_Q1_FIX})
    q2 = write_xlsx(tmp_path / "q2.xlsx", {"指標填報": KPI_Q2})
    assert cli_json("import", q1)[0] == 0

    code, doc = cli_json("status", "--year", "108", "--quarter", "1", "--as-reported")
    assert code == 1 and "尚未結算過" in doc["error"]

    code, closed = cli_json("close", "--year", "2019", "--quarter", "Q1")
    assert code == 0 and set(closed) == CLOSE_KEYS | {"status"}
    assert (closed["year"], closed["quarter"], closed["status"]) == (108, 1, "closed")
    assert closed["closed_by"] == "local" and closed["reopened_at"] is None
    assert cli_json("close", "--year", "108", "--quarter", "1")[0] == 1

    # A correcting file is refused (also on a dry run) and names the closed quarter.
    version = Store(db).version()
    for extra in (["--dry-run"], []):
        code, doc = cli_json("import", fix, *extra)
        (f,) = doc["files"]
        assert code == 1 and f["status"] == "refused" and f["batch"] is None
        assert any("108年第1季" in e["message"] for e in f["errors"])
    code, out, _ = cli("import", fix, "--lang", "en")
    assert code == 1 and "2019 Q1 is closed" in out
    assert Store(db).version() == version

    # A change elsewhere leaves the snapshot as it was.
    assert cli_json("import", q2)[0] == 0
    code, reported = cli_json("status", "--year", "108", "--quarter", "1", "--as-reported")
    assert code == 0 and set(reported) >= STATUS_KEYS | {"as_reported"}
    assert set(reported["as_reported"]) == CLOSE_KEYS
    assert k41(reported)["actual"] == 48 and k41(reported)["name"] == "協助NGO參與國際活動場次"
    _, en = cli_json("status", "--year", "108", "--quarter", "1", "--as-reported", "--lang", "en")
    assert k41(en)["name"].startswith("NGO")
    _, now = cli_json("status", "--year", "108", "--quarter", "1")
    assert {k: now[k] for k in STATUS_KEYS} == {
        **{k: reported[k] for k in STATUS_KEYS - {"kpis"}},
        "kpis": now["kpis"],
    }
    code, out, _ = cli("status", "--year", "108", "--quarter", "1", "--as-reported")
    assert code == 0 and "結算時數值" in out and "K4.1" in out

    # Undo of the closed quarter's batch is refused too.
    code, doc = cli_json("undo", "1")
    assert code == 1 and "108年第1季" in doc["error"]

    # Reopen needs a reason (usage error), then the fix goes in and the figures change.
    code, out, err = cli("reopen", "--year", "108", "--quarter", "1")
    assert code == 2 and out == "" and "--reason" in err
    code, out, err = cli("reopen", "--year", "108", "--quarter", "1", "--reason", "  ")
    assert code == 2 and out == "" and err.strip()
    code, reopened = cli_json("reopen", "--year", "108", "--quarter", "1", "--reason", "漏報")
    assert code == 0 and reopened["status"] == "reopened" and reopened["reopen_reason"] == "漏報"
    assert cli_json("reopen", "--year", "108", "--quarter", "1", "--reason", "x")[0] == 1
    code, doc = cli_json("import", fix)
    assert code == 0 and doc["files"][0]["status"] == "imported"
    assert k41(cli_json("status", "--year", "108", "--quarter", "1")[1])["actual"] == 52
    # What was reported at the close is still answered after the reopen and the fix.
    code, was = cli_json("status", "--year", "108", "--quarter", "1", "--as-reported")
    assert code == 0 and k41(was)["actual"] == 48
    assert was["as_reported"]["close"] == closed["close"]
    assert was["as_reported"]["reopen_reason"] == "漏報" and was["as_reported"]["reopened_at"]
    code, out, _ = cli("status", "--year", "108", "--quarter", "1", "--as-reported")
    assert code == 0 and "解除鎖定：漏報" in out

    # Closing again takes a new snapshot.
    code, again = cli_json("close", "--year", "108", "--quarter", "1")
    assert code == 0 and again["close"] == closed["close"] + 1
    _, reported = cli_json("status", "--year", "108", "--quarter", "1", "--as-reported")
    assert k41(reported)["actual"] == 52 and reported["as_reported"]["close"] == again["close"]


def test_target_set_and_history(cli, cli_json):
    code, doc = cli_json(
        "target", "set", "K6.1", "--year", "2019", "--quarter", "2", "--value", "260000",
        "--reason", "需求增加",
    )  # fmt: skip
    assert code == 0 and doc == {
        "kpi": "K6.1",
        "year": 108,
        "quarter": 2,
        "old": 250000,
        "new": 260000,
    }
    cli_json(
        "target",
        "set",
        "K4.1",
        "--year",
        "108",
        "--quarter",
        "1",
        "--value",
        "45",
        "--reason",
        "延期",
    )
    cli_json(
        "target",
        "set",
        "K6.1",
        "--year",
        "108",
        "--quarter",
        "2",
        "--value",
        "270000",
        "--reason",
        "再修",
    )
    code, doc = cli_json("target", "history", "--year", "108")
    assert code == 0 and set(doc) == {"revisions"}
    revs = doc["revisions"]
    assert all(
        set(r) == {"kpi", "year", "quarter", "old", "new", "reason", "who", "when"} for r in revs
    )
    assert [(r["kpi"], r["old"], r["new"]) for r in revs] == [
        ("K6.1", 250000, 260000),
        ("K4.1", 50, 45),
        ("K6.1", 260000, 270000),
    ]
    assert revs[0]["year"] == 108 and revs[0]["reason"] == "需求增加" and "T" in revs[0]["when"]
    _, only = cli_json("target", "history", "K6.1", "--year", "2019")
    assert [r["new"] for r in only["revisions"]] == [260000, 270000]
    assert cli_json("target", "history", "--year", "109")[1] == {"revisions": []}
    code, out, _ = cli("target", "history", "--year", "108")
    assert code == 0 and "需求增加" in out

    # Refusals exit 1: an unknown indicator, the same value, a closed quarter.
    assert cli_json("target", "history", "K9.9", "--year", "108")[0] == 1
    args = ["--year", "108", "--quarter", "2", "--reason", "x"]
    assert cli_json("target", "set", "K9.9", "--value", "1", *args)[0] == 1
    assert cli_json("target", "set", "K6.1", "--value", "270000", *args)[0] == 1
    assert cli_json("close", "--year", "108", "--quarter", "2")[0] == 0
    code, doc = cli_json("target", "set", "K6.1", "--value", "280000", *args)
    assert code == 1 and "108年第2季" in doc["error"]
    assert len(cli_json("target", "history", "--year", "108")[1]["revisions"]) == 3


@pytest.mark.parametrize(
    "args",
    [
        ["close", "--year", "108"],
        ["close", "--year", "108", "--quarter", "5"],
        ["reopen", "--year", "108", "--quarter", "1"],
        ["reopen", "--year", "108", "--quarter", "1", "--reason", ""],
        ["status", "--year", "108", "--quarter", "1", "--as-reported", "--program", "營建工程"],
        ["target"],
        ["target", "set", "K6.1", "--year", "108", "--quarter", "1", "--value", "5"],
        [
            "target",
            "set",
            "K6.1",
            "--year",
            "108",
            "--quarter",
            "1",
            "--value",
            "x",
            "--reason",
            "r",
        ],
        ["target", "history"],
    ],
)
def test_usage_errors_exit_2(cli, args):
    code, out, err = cli(*args)
    assert code == 2
    assert out == "" and err.strip()

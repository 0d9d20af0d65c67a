"""Downloads: text that a spreadsheet would run as a formula is exported as inert text."""

from __future__ import annotations

import csv
import io

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from kpi.exports import neutralise, to_csv_bytes, to_xlsx_bytes

HOSTILE = [
    '=HYPERLINK("http://x","點我")',
    "+1+1",
    "-2+3",
    "@SUM(A1)",
    "\t=1",
    "<script>alert(1)</script>",
]


def _xlsx_cells(data: bytes) -> list[list]:
    ws = load_workbook(io.BytesIO(data)).active
    return [[(c.value, c.data_type) for c in row] for row in ws.iter_rows()]


def test_hostile_text_exports_as_text_in_xlsx_and_csv():
    frame = pd.DataFrame({"團名": HOSTILE, "人數": [1, -2, 3, 4, 5, 6]})
    cells = _xlsx_cells(to_xlsx_bytes(frame))
    assert cells[0] == [("團名", "s"), ("人數", "s")]
    for (text, kind), original in zip((row[0] for row in cells[1:]), HOSTILE, strict=True):
        assert kind == "s"  # never 'f' (formula)
        assert text.lstrip("'") == original
        assert not text.startswith(("=", "+", "-", "@", "\t"))
    assert [row[1] for row in cells[1:]] == [
        (1, "n"),
        (-2, "n"),
        (3, "n"),
        (4, "n"),
        (5, "n"),
        (6, "n"),
    ]
    rows = list(csv.reader(io.StringIO(to_csv_bytes(frame).decode("utf-8-sig"))))
    assert rows[0] == ["團名", "人數"]
    assert all(not r[0].startswith(("=", "+", "-", "@", "\t")) for r in rows[1:])
    assert rows[2][1] == "-2"  # a negative number stays a number


def _lines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=8))
def test_no_text_ever_becomes_a_formula(texts):
    frame = pd.DataFrame({"說明": texts})
    for (value, kind), original in zip(
        (row[0] for row in _xlsx_cells(to_xlsx_bytes(frame))[1:]), texts, strict=True
    ):
        expected = neutralise(ILLEGAL_CHARACTERS_RE.sub("", original))
        assert kind != "f"  # whatever the text, never a formula
        # XML stores a line break as \n, whatever it was written as.
        assert _lines(value or "") == _lines(expected)

"""Blank, documented workbooks for each dataset, derived from the dataset schemas."""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from kpi.ingest.datasets import DATASETS

# The example row of each template, by field name, so it cannot drift out of its columns.
_EXAMPLES = {
    "budget": {
        "year": 108,
        "month": 3,
        "agency": "外交部",
        "program": "外交管理業務",
        "kind": "經常門",
        "budget": 240961,
        "allotted": 60000,
        "spent": 52000.5,
        "payable": 1200,
    },
    "visa": {
        "period": "108/01",
        "mission": "駐日本代表處",
        "region": "亞太",
        "visa_type": "停留簽證",
        "applications": 1200,
        "issued": 1150,
        "refused": 50,
        "avg_days": 4.2,
    },
    "visits": {
        "date": "108/02/15",
        "type": "來訪",
        "country": "巴拉圭",
        "level": "部長",
        "delegation": "巴拉圭外交部長訪團",
        "participants": 8,
        "program": "國際會議及交流",
    },
    "kpi_values": {
        "kpi": "K4.1",
        "year": 108,
        "quarter": "第1季",
        "value": 52,
        "note": "本季協助NGO出席國際會議 52 場次。",
    },
}

# Fields a template leaves out because another column covers them (年月 covers 年度/月份).
_SKIP = {"budget": {"quarter", "rate"}, "visa": {"year", "month"}}


def template_bytes(dataset: str, lang: str = "zh-TW") -> bytes:
    """The template workbook as bytes (for downloads)."""
    import io

    buf = io.BytesIO()
    _workbook(dataset, lang).save(buf)
    return buf.getvalue()


def write_template(dataset: str, path: Path, lang: str = "zh-TW") -> None:
    _workbook(dataset, lang).save(path)


def _workbook(dataset: str, lang: str) -> Workbook:
    ds = DATASETS[dataset]
    fields = [f for f in ds.fields if f.name not in _SKIP.get(dataset, set())]
    wb = Workbook()
    data = wb.active
    data.title = ds.label_zh if lang != "en" else ds.label_en
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDEBF7")
    for col, f in enumerate(fields, start=1):
        cell = data.cell(row=1, column=col, value=f.label_zh)
        cell.font = bold
        cell.fill = fill
        data.column_dimensions[get_column_letter(col)].width = max(12, len(f.label_zh) * 2 + 4)
    for col, f in enumerate(fields, start=1):
        data.cell(row=2, column=col, value=_EXAMPLES[dataset].get(f.name))
    data.freeze_panes = "A2"
    notes = wb.create_sheet("填寫說明" if lang != "en" else "How to fill in")
    # One sentence per row and never two field names in a row, so this sheet is not
    # mistaken for a data sheet when the template comes back filled in.
    notes.append([f"{ds.label_zh}（{ds.label_en}）填寫說明"])
    notes.append(["第 2 列是範例，請刪除後填入資料；可保留標題列以上的標題、單位等說明文字。"])
    notes.append(["年度可寫 108 或 2019；日期可寫 108/02/15、108年2月15日 或 2019-02-15。"])
    if dataset == "budget":
        notes.append(
            ["金額未標示單位時以新臺幣千元計；若以元填列，請在標題列註明「單位：新臺幣元」。"]
        )
    notes.append([""])
    for f in fields:
        need = "必填" if f.required else "選填"
        alias = "、".join(f.headers[1:4])
        line = f"● {f.label_zh}（{need}）：{f.help_zh or f.label_en}"
        if alias:
            line += f"；也接受欄名：{alias}"
        if f.choices:
            line += f"；可填：{'、'.join(f.choices)}"
        notes.append([line])
    notes.column_dimensions["A"].width = 110
    for row in notes.iter_rows():
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    return wb

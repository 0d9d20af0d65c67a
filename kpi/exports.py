"""Tables to .xlsx and .csv downloads, with formula injection neutralised.

A cell that starts with =, +, -, @ (or a tab/CR that a spreadsheet strips first) would run
as a formula when the file is opened; text cells like that get a leading apostrophe-free
single quote character (') so Excel and LibreOffice show them as the text they are.
Numbers stay numbers: a negative amount is a number, not text starting with '-'.
"""

from __future__ import annotations

import io

import pandas as pd

_DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> object:
    """Text that a spreadsheet would run as a formula, made inert; other values unchanged."""
    if isinstance(value, str) and value.startswith(_DANGEROUS):
        return "'" + value
    return value


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy whose text cells (and headers) cannot run as formulas."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(neutralise)
    out.columns = [neutralise(str(c)) for c in out.columns]
    return out


def to_csv_bytes(frame: pd.DataFrame) -> bytes:
    """UTF-8 with BOM so Excel opens Chinese text correctly."""
    return safe_frame(frame).to_csv(index=False).encode("utf-8-sig")


def to_xlsx_bytes(frame: pd.DataFrame, sheet: str = "data") -> bytes:
    """One sheet, header frozen; text cells written as text (never as formulas)."""
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, TYPE_STRING

    # Control characters cannot be stored in a worksheet; drop them before neutralising,
    # so "\x08=1" cannot turn into a formula once the \x08 is gone.
    cleaned = frame.copy()
    for col in cleaned.columns:
        if cleaned[col].dtype == object or pd.api.types.is_string_dtype(cleaned[col]):
            cleaned[col] = cleaned[col].map(
                lambda v: ILLEGAL_CHARACTERS_RE.sub("", v) if isinstance(v, str) else v
            )
    safe = safe_frame(cleaned)
    wb = Workbook()
    ws = wb.active
    ws.title = sheet[:31] or "data"
    ws.append([str(c) for c in safe.columns])
    cells = safe.astype(object).where(safe.notna(), None)
    for row in cells.itertuples(index=False):
        ws.append([v.to_pydatetime() if isinstance(v, pd.Timestamp) else v for v in row])
    # openpyxl would still store '=…' text as a formula; force every str cell to string type.
    for row in ws.iter_rows():
        for cell in row:
            if isinstance(cell.value, str):
                cell.data_type = TYPE_STRING
    ws.freeze_panes = "A2"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()

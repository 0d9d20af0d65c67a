"""What the importer says about a file: problems, per-sheet findings, the overall verdict."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

ERROR = "error"
WARNING = "warning"

# An import report lists at most this many problems of one kind before summarising, so a
# file with 200,000 bad dates still gives a readable report.
MAX_PROBLEMS_PER_CODE = 50


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a file, precise enough to find and fix it."""

    severity: str
    code: str
    sheet: str | None
    row: int | None  # Excel row number, 1-based
    column: str | None  # Excel column letters
    header: str | None  # the header text of that column, as written
    value: str | None
    message_zh: str
    message_en: str

    def message(self, lang: str = "zh-TW") -> str:
        return self.message_en if lang == "en" else self.message_zh

    def as_json(self, lang: str = "zh-TW") -> dict:
        return {
            "sheet": self.sheet,
            "row": self.row,
            "column": self.column,
            "header": self.header,
            "value": self.value,
            "code": self.code,
            "message": self.message(lang),
        }


@dataclass
class SheetReport:
    """What was found on one sheet."""

    name: str
    dataset: str | None
    header_row: int | None = None  # Excel row number
    rows: int = 0
    year: int | None = None
    months: list[int] = field(default_factory=list)
    sources: dict[str, dict[str, str]] = field(default_factory=dict)  # fact → {zh, en}
    unit: int | None = None
    skipped_zh: str = ""
    skipped_en: str = ""

    def as_json(self, lang: str = "zh-TW") -> dict:
        return {
            "sheet": self.name,
            "dataset": self.dataset,
            "header_row": self.header_row,
            "rows": self.rows,
            "year": self.year,
            "months": self.months,
            "unit": self.unit,
            "sources": {k: v["en" if lang == "en" else "zh"] for k, v in self.sources.items()},
            "skipped": (self.skipped_en if lang == "en" else self.skipped_zh) or None,
        }


@dataclass
class FileReport:
    """The dry-run result of one file: canonical frames and every problem found."""

    file: str
    format: str | None = None
    sheets: list[SheetReport] = field(default_factory=list)
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == WARNING]

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def datasets(self) -> list[str]:
        return list(self.frames)

    @property
    def rows(self) -> int:
        return sum(len(f) for f in self.frames.values())

    @property
    def years(self) -> list[int]:
        ys: set[int] = set()
        for f in self.frames.values():
            if "year" in f:
                ys.update(int(y) for y in f["year"].dropna().unique())
        return sorted(ys)

    @property
    def months(self) -> list[int]:
        ms: set[int] = set()
        for f in self.frames.values():
            if "month" in f:
                ms.update(int(m) for m in f["month"].dropna().unique())
        return sorted(ms)

    @property
    def quarters(self) -> list[int]:
        qs: set[int] = {(m - 1) // 3 + 1 for m in self.months}
        for f in self.frames.values():
            if "quarter" in f:
                qs.update(int(q) for q in f["quarter"].dropna().unique())
        return sorted(qs)


def capped(problems: list[Problem]) -> list[Problem]:
    """Keep the first problems of each code and one summary line for the rest."""
    seen: dict[tuple[str, str], int] = {}
    out: list[Problem] = []
    hidden: dict[tuple[str, str], tuple[Problem, int]] = {}
    for p in problems:
        key = (p.severity, p.code)
        seen[key] = seen.get(key, 0) + 1
        if seen[key] <= MAX_PROBLEMS_PER_CODE:
            out.append(p)
        else:
            first, n = hidden.get(key, (p, 0))
            hidden[key] = (first, n + 1)
    for (severity, code), (first, n) in hidden.items():
        out.append(
            Problem(
                severity,
                code,
                first.sheet,
                None,
                first.column,
                first.header,
                None,
                f"另有 {n} 筆相同問題（{first.message_zh}）未逐一列出。",
                f"{n} more problems of the same kind ({first.message_en}) are not listed one by one.",
            )
        )
    return out

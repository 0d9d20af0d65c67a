"""1. Ingest: `kpi import` of a large visa workbook against bare readers of the same file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
from python_calamine import CalamineWorkbook

from bench.measure import repeat
from bench.report import Row, Section, Target
from kpi.engine import Engine
from kpi.ingest import analyze
from kpi.store import Store

# The targets: the whole import within twice a bare calamine read, and at least
# five times faster than reading the file with pandas and openpyxl alone.
IMPORT_OVER_CALAMINE = Target(2.0, "×")
OPENPYXL_OVER_IMPORT = Target(5.0, "×", at_least=True)
OPENPYXL_RUNS = 2  # it takes a minute or more per run


def _calamine(path: Path) -> list:
    return CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()


def _openpyxl(path: Path) -> pd.DataFrame:
    return pd.read_excel(path, engine="openpyxl")


class _FreshImports:
    """Imports into a fresh, empty SQLite store each time (the store is made untimed)."""

    def __init__(self, path: Path, work_dir: Path) -> None:
        self.path = path
        self.work_dir = work_dir
        self.engine: Engine | None = None
        self.count = 0

    def setup(self) -> None:
        self.close()
        self.count += 1
        folder = self.work_dir / f"run-{self.count}"
        folder.mkdir(parents=True)
        self.engine = Engine(Store(f"sqlite:///{folder / 'kpi.sqlite3'}"))

    def run(self) -> None:
        result = self.engine.import_path(self.path)
        if result.status != "imported":
            problems = [p.as_json("en") for p in result.report.problems[:5]]
            raise RuntimeError(f"the benchmark workbook was {result.status}: {problems}")

    def close(self) -> None:
        if self.engine is not None:
            self.engine.store.dispose()
            self.engine = None


def run(path: Path, runs: int, work_dir: Path) -> Section:
    """Bare calamine, the full import, analyze alone and pandas+openpyxl, in one process."""
    rows = len(_calamine(path)) - 1  # also warms the page cache for every reader
    shutil.rmtree(work_dir, ignore_errors=True)
    imports = _FreshImports(path, work_dir)
    try:
        imports.setup()
        imports.run()  # first import: lazy imports and the plan, i.e. start-up
        calamine = repeat(lambda: _calamine(path), runs)
        full = repeat(imports.run, runs, setup=imports.setup)
        context = imports.engine.context(None, None)
        content = path.read_bytes()
        analysis = repeat(lambda: analyze(content, path.name, context), runs)
    finally:
        imports.close()
        shutil.rmtree(work_dir, ignore_errors=True)
    openpyxl = repeat(lambda: _openpyxl(path), min(runs, OPENPYXL_RUNS))
    size_mb = path.stat().st_size / 1048576
    section = Section(f"1. Ingest — {path.name}: {rows:,} visa rows, {size_mb:.1f} MB")
    section.rows = [
        Row("(a) bare calamine read (to_python)", calamine),
        Row("(c) import end to end (read, validate, store)", full),
        Row("(d)   of which kpi.ingest.analyze", analysis),
        Row("(b) pandas.read_excel, openpyxl", openpyxl),
        Row(
            "import / calamine  (c)/(a)",
            value=full.median / calamine.median,
            unit="×",
            target=IMPORT_OVER_CALAMINE,
        ),
        Row(
            "openpyxl / import  (b)/(c)",
            value=openpyxl.median / full.median,
            unit="×",
            target=OPENPYXL_OVER_IMPORT,
        ),
    ]
    section.notes = [
        "each import goes into a fresh empty SQLite store, created outside the timed region",
        "ratios are of medians; a first untimed import pays the one-off start-up",
    ]
    return section

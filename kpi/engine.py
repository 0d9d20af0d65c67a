"""The one entry the pages, the CLI and the benchmark use: plan, catalogue, store, imports, figures.

It ties the pieces together so a caller never has to know which module resolves a
plan's year, which one checks a file's size, or how a dry run differs from an import.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

from kpi import figures
from kpi.catalog import Catalog, find_indicator, load_catalog
from kpi.ingest import Context, FileReport, analyze
from kpi.ingest.read import DEFAULT_LIMITS, Limits
from kpi.ingest.report import ERROR, Problem
from kpi.paths import SAMPLE_DIR
from kpi.plan import Plan, load_bundled_plan, parse_plan
from kpi.relations import is_known_country, load_program_aliases, normalize_country
from kpi.store import Changes, Store, StoreError

SAMPLE_USER = "sample"


@dataclass
class ImportResult:
    """The outcome of one file: its report, and what was (or would be) written."""

    report: FileReport
    status: str  # imported | valid | refused
    batch: int | None = None
    changes: dict[str, Changes] = field(default_factory=dict)

    def as_json(self, lang: str = "zh-TW") -> dict:
        r = self.report
        datasets = r.datasets or [s.dataset for s in r.sheets if s.dataset]
        years = r.years
        total = Changes()
        for c in self.changes.values():
            total = total + c
        return {
            "file": r.file,
            "status": self.status,
            "dataset": ",".join(dict.fromkeys(datasets)) or None,
            "year": years[0] if len(years) == 1 else (years or None),
            "months": r.months,
            "quarters": r.quarters,
            "rows": r.rows,
            "batch": self.batch,
            "changes": total.as_dict(),
            "errors": [p.as_json(lang) for p in r.errors],
            "warnings": [p.as_json(lang) for p in r.warnings],
            "sheets": [s.as_json(lang) for s in r.sheets],
        }


class Engine:
    """The dashboard's domain operations over one store."""

    def __init__(self, store: Store | None = None, catalog: Catalog | None = None) -> None:
        self.store = store or Store()
        self.catalog = catalog or load_catalog()

    # -- plan --------------------------------------------------------------------------

    def plan(self, year: int | None = None) -> Plan:
        """The plan of a year: stored, else the newest stored, else the bundled one."""
        found = self.store.plan_source(year) or (self.store.plan_source() if year is not None else None)
        if found is None:
            return load_bundled_plan()
        return _parse_cached(found[2], found[1])

    def load_plan(self, text: str, who: str = "local", agency: str = "") -> Plan:
        plan = parse_plan(text, agency=agency)
        self.store.save_plan(plan.year, plan.agency, text, who=who)
        return plan

    def years(self) -> list[int]:
        """Years with a plan or with data, newest last."""
        ys = set(self.store.plan_years()) | set(self.store.data_years())
        return sorted(ys) or [load_bundled_plan().year]

    # -- imports -------------------------------------------------------------------------

    def context(self, year: int | None, quarter: int | None, given_zh: str = "上傳時指定", given_en: str = "given at upload") -> Context:
        plan = self.plan(year)
        return Context(
            year=year,
            quarter=quarter,
            given_zh=given_zh,
            given_en=given_en,
            plan_programs=frozenset(p.name for p in plan.programs),
            program_aliases=load_program_aliases(),
            resolve_kpi=lambda text: find_indicator(text, self.catalog),
            normalize_country=normalize_country,
            is_known_country=is_known_country,
        )

    def import_bytes(
        self,
        content: bytes,
        filename: str,
        *,
        year: int | None = None,
        quarter: int | None = None,
        replace: bool = False,
        dry_run: bool = False,
        who: str = "local",
        limits: Limits = DEFAULT_LIMITS,
        context: Context | None = None,
    ) -> ImportResult:
        """Validate a file and, unless refused or a dry run, store it as one batch."""
        report = analyze(content, filename, context or self.context(year, quarter), limits)
        if not report.ok:
            return ImportResult(report, "refused")
        summary = {"year": report.years, "months": report.months, "quarters": report.quarters, "warnings": len(report.warnings)}
        frames = {name: f.drop(columns=[c for c in ("_sheet", "_row") if c in f]) for name, f in report.frames.items()}
        try:
            outcome = self.store.import_frames(
                frames, file_name=filename, content=content, who=who, replace_quarters=replace, dry_run=dry_run, summary=summary
            )
        except StoreError as exc:
            report.problems.append(Problem(ERROR, "store_refused", None, None, None, None, None, exc.message_zh, exc.message_en))
            return ImportResult(report, "refused")
        if dry_run:
            return ImportResult(report, "valid", None, outcome.changes)
        return ImportResult(report, "imported", outcome.batch_id, outcome.changes)

    def import_path(self, path: Path, *, limits: Limits = DEFAULT_LIMITS, **kwargs) -> ImportResult:
        """Like import_bytes, but checks the size on disk before reading anything."""
        path = Path(path)
        try:
            size = path.stat().st_size
        except OSError as exc:
            return _refused(path.name, "unreadable", f"無法讀取檔案：{exc.strerror}。", f"The file cannot be read: {exc.strerror}.")
        if size > limits.max_bytes:
            mb = limits.max_bytes // (1024 * 1024)
            return _refused(
                path.name,
                "too_large",
                f"檔案太大（{size / 1048576:.1f} MB），上限為 {mb} MB。請分檔上傳。",
                f"The file is too large ({size / 1048576:.1f} MB); the limit is {mb} MB. Split it into several files.",
            )
        return self.import_bytes(path.read_bytes(), path.name, limits=limits, **kwargs)

    def undo(self, batch_id: int, who: str = "local") -> dict[str, int]:
        return self.store.undo(batch_id, who=who)

    # -- figures -------------------------------------------------------------------------

    def status(self, year: int, quarter: int, programs: tuple[str, ...] = ()) -> figures.Status:
        return figures.status(self.store, self.catalog, self.plan(year), year, quarter, tuple(programs))

    # -- sample year -----------------------------------------------------------------------

    def sample_files(self) -> list[Path]:
        return sorted(p for p in SAMPLE_DIR.iterdir() if p.suffix.lower() in (".xlsx", ".xlsm", ".xls", ".ods"))

    def has_sample(self) -> bool:
        return any(b.who == SAMPLE_USER and b.status == "active" for b in self.store.batches())

    def load_sample(self) -> list[ImportResult]:
        """Load the bundled plan and the sample workbooks (once)."""
        if self.has_sample():
            return []
        bundled = load_bundled_plan()
        if self.store.plan_source(bundled.year) is None:
            self.store.save_plan(bundled.year, bundled.agency, bundled_source(), who=SAMPLE_USER)
        return [self.import_path(p, who=SAMPLE_USER) for p in self.sample_files()]

    def first_run(self) -> list[ImportResult]:
        """Load the sample year on a store's very first start, never again after a removal."""
        if self.store.claim_meta("initialised", "sample"):
            return self.load_sample()
        return []

    def remove_sample(self) -> int:
        """Undo and delete every sample batch; the user's own batches stay."""
        ids = [b.id for b in self.store.batches() if b.who == SAMPLE_USER]
        for b in self.store.batches():
            if b.who == SAMPLE_USER and b.status == "active":
                self.store.undo(b.id, who=SAMPLE_USER)
        self.store.purge_batches(ids, who=SAMPLE_USER)
        return len(ids)


def bundled_source() -> str:
    from kpi.paths import PLANS_DIR

    newest = sorted(PLANS_DIR.glob("*.txt"))[-1]
    return newest.read_text(encoding="utf-8-sig")


@functools.lru_cache(maxsize=8)
def _parse_cached(text: str, agency: str) -> Plan:
    return parse_plan(text, agency=agency)


def _refused(name: str, code: str, zh: str, en: str) -> ImportResult:
    report = FileReport(file=name)
    report.problems.append(Problem(ERROR, code, None, None, None, None, None, zh, en))
    return ImportResult(report, "refused")

"""The one entry the pages, the CLI and the benchmark use: plan, catalogue, store, imports, figures.

It ties the pieces together so a caller never has to know which module resolves a
plan's year, which one checks a file's size, or how a dry run differs from an import.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import threading
from dataclasses import dataclass, field
from pathlib import Path

from kpi import figures, gcpause
from kpi.auth import LOCAL, PermissionDenied, Role, User, require
from kpi.catalog import Catalog, find_indicator, load_catalog
from kpi.diff import ImportPreview, preview
from kpi.ingest import Context, FileReport, analyze
from kpi.ingest.read import DEFAULT_LIMITS, Limits
from kpi.ingest.report import ERROR, Problem
from kpi.paths import SAMPLE_DIR
from kpi.plan import Plan, load_bundled_plan, parse_plan
from kpi.relations import (
    is_known_country,
    load_program_aliases,
    load_relations,
    normalize_country,
)
from kpi.store import Changes, QuarterClose, Store, StoreError, closed_message

SAMPLE_USER = "sample"
_STATUS_CACHE_SIZE = 256  # year × quarter × program filter combinations per version


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

    def __init__(
        self, store: Store | None = None, catalog: Catalog | None = None, user: User = LOCAL
    ) -> None:
        self.store = store or Store()
        self.catalog = catalog or load_catalog()
        self.user = user  # who acts: every write checks this user's role (kpi.auth)
        load_relations()  # reference data: read once at start-up, not by the first figure
        self._lock = threading.Lock()
        self._status_version: int | None = None
        self._status_cache: dict[tuple, figures.Status] = {}

    def as_user(self, user: User) -> Engine:
        """The same engine (store, catalogue, caches) acting as another user."""
        other = copy.copy(self)
        other.user = user
        return other

    # -- plan --------------------------------------------------------------------------

    def plan(self, year: int | None = None) -> Plan:
        """The plan of a year: stored, else the newest stored, else the bundled one."""
        found = self.store.plan_source(year)
        if found is None:
            bundled = load_bundled_plan()
            if year is not None and year == bundled.year:
                return bundled
            found = self.store.plan_source()
        if found is None:
            return load_bundled_plan()
        return _parse_cached(found[2], found[1])

    def load_plan(self, text: str, agency: str = "", who: str | None = None) -> Plan:
        require(self.user, Role.ADMIN, "載入施政計畫", "load a plan")
        plan = parse_plan(text, agency=agency)
        self.store.save_plan(plan.year, plan.agency, text, who=who or self.user.name)
        return plan

    def years(self) -> list[int]:
        """Years with a plan or with data, newest last."""
        ys = set(self.store.plan_years()) | set(self.store.data_years())
        return sorted(ys) or [load_bundled_plan().year]

    # -- imports -------------------------------------------------------------------------

    def context(
        self,
        year: int | None,
        quarter: int | None,
        given_zh: str = "上傳時指定",
        given_en: str = "given at upload",
    ) -> Context:
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
        who: str | None = None,
        limits: Limits = DEFAULT_LIMITS,
        context: Context | None = None,
    ) -> ImportResult:
        """Validate a file and, unless refused or a dry run, store it as one batch."""
        if not dry_run:
            require(self.user, Role.UPLOADER, "匯入資料", "import files")
        context = context or self.context(year, quarter)
        with gcpause.paused():
            return self._import(content, filename, context, replace, dry_run, who, limits)

    def _import(
        self,
        content: bytes,
        filename: str,
        context: Context,
        replace: bool,
        dry_run: bool,
        who: str | None,
        limits: Limits,
    ) -> ImportResult:
        report = analyze(content, filename, context, limits)
        if not report.ok:
            return ImportResult(report, "refused")
        summary = {
            "year": report.years,
            "months": report.months,
            "quarters": report.quarters,
            "warnings": len(report.warnings),
        }
        frames = {
            name: f.drop(columns=[c for c in ("_sheet", "_row") if c in f])
            for name, f in report.frames.items()
        }
        try:
            outcome = self.store.import_frames(
                frames,
                file_name=filename,
                content=content,
                who=who or self.user.name,
                replace_quarters=replace,
                dry_run=dry_run,
                summary=summary,
            )
        except StoreError as exc:
            report.problems.append(
                Problem(
                    ERROR,
                    "store_refused",
                    None,
                    None,
                    None,
                    None,
                    None,
                    exc.message_zh,
                    exc.message_en,
                )
            )
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
            return _refused(
                path.name,
                "unreadable",
                f"無法讀取檔案：{exc.strerror}。",
                f"The file cannot be read: {exc.strerror}.",
            )
        if size > limits.max_bytes:
            mb = limits.max_bytes // (1024 * 1024)
            return _refused(
                path.name,
                "too_large",
                f"檔案太大（{size / 1048576:.1f} MB），上限為 {mb} MB。請分檔上傳。",
                f"The file is too large ({size / 1048576:.1f} MB); the limit is {mb} MB. Split it into several files.",
            )
        return self.import_bytes(path.read_bytes(), path.name, limits=limits, **kwargs)

    def undo(self, batch_id: int) -> dict[str, int]:
        """Undo a batch: uploaders their own, administrators any."""
        require(self.user, Role.UPLOADER, "復原批次", "undo batches")
        if not self.user.may(Role.ADMIN):
            batch = self.store.batch(batch_id)
            if batch is not None and batch.who != self.user.name:
                raise PermissionDenied(
                    f"批次 {batch_id} 是「{batch.who}」上傳的；只有管理者能復原別人的批次。",
                    f"Batch {batch_id} was uploaded by '{batch.who}'; only an administrator can undo another user's batch.",
                )
        return self.store.undo(batch_id, who=self.user.name)

    def original_file(self, batch_id: int) -> tuple[str, bytes] | None:
        """A batch's original file, as uploaded (uploaders and administrators)."""
        require(self.user, Role.UPLOADER, "下載原始檔", "download original files")
        return self.store.batch_file(batch_id)

    # -- figures -------------------------------------------------------------------------

    def status(self, year: int, quarter: int, programs: tuple[str, ...] = ()) -> figures.Status:
        """The quarter's figures; computed once per store version (a write anywhere, by any
        process, changes the version and so the key)."""
        version = self.store.version()
        key = (year, quarter, tuple(programs))
        with self._lock:
            if self._status_version != version:
                self._status_cache.clear()
                self._status_version = version
            hit = self._status_cache.get(key)
        if hit is not None:
            return hit
        result = figures.status(
            self.store, self.catalog, self.plan(year), year, quarter, tuple(programs)
        )
        with self._lock:
            if self._status_version == version and len(self._status_cache) < _STATUS_CACHE_SIZE:
                self._status_cache[key] = result
        return result

    # -- sample year -----------------------------------------------------------------------

    def sample_files(self) -> list[Path]:
        return sorted(
            p
            for p in SAMPLE_DIR.iterdir()
            if p.suffix.lower() in (".xlsx", ".xlsm", ".xls", ".ods")
        )

    def has_sample(self) -> bool:
        return any(b.who == SAMPLE_USER and b.status == "active" for b in self.store.batches())

    def load_sample(self) -> list[ImportResult]:
        """Load the bundled plan and the sample workbooks (once; administrators)."""
        require(self.user, Role.ADMIN, "載入示範資料", "load the sample year")
        if self.has_sample():
            return []
        bundled = load_bundled_plan()
        if self.store.plan_source(bundled.year) is None:
            self.store.save_plan(bundled.year, bundled.agency, bundled_source(), who=SAMPLE_USER)
        return [self.import_path(p, who=SAMPLE_USER) for p in self.sample_files()]

    def first_run(self) -> list[ImportResult]:
        """Load the sample year on a store's very first start, never again after a removal.

        A store that already holds imports when the dashboard first starts on it (filled
        through the CLI, or copied from another server) is someone's data: no sample.
        """
        if self.store.claim_meta("initialised", "sample") and not self.store.batches():
            return self.load_sample()
        return []

    def remove_sample(self) -> int:
        """Undo and delete every sample batch; the user's own batches stay (administrators)."""
        require(self.user, Role.ADMIN, "移除示範資料", "remove the sample year")
        # Checked before the first undo, so a closed quarter never leaves half a sample year.
        year = load_bundled_plan().year
        closed = [c for c in self.store.quarter_closes(year) if not c.is_open]
        if closed and self.has_sample():
            raise closed_message(closed[0].year, closed[0].quarter)
        ids = [b.id for b in self.store.batches() if b.who == SAMPLE_USER]
        for b in self.store.batches():
            if b.who == SAMPLE_USER and b.status == "active":
                self.store.undo(b.id, who=SAMPLE_USER)
        self.store.purge_batches(ids, who=SAMPLE_USER)
        return len(ids)

    # -- targets and plan files (the plan page) ------------------------------------------------

    def set_target(
        self, kpi: str, year: int, quarter: int, value: float, reason: str
    ) -> float | None:
        """Revise one cumulative target (administrators; audited); returns the target it replaces.

        Refusals raise StoreError with a zh-TW and an English sentence: an unknown indicator,
        a quarter outside 1–4, no reason, a value that is not a positive number (a ratio
        above 1), the same value again, cumulative targets that would fall from one
        quarter to the next, or a closed quarter (期末鎖定: its reported figures would change;
        the store checks it in the write transaction).
        """
        require(self.user, Role.ADMIN, "修正目標值", "revise targets")
        import math

        from kpi.catalog import ADDITIVE

        try:
            ind = self.catalog.indicator(kpi)
        except KeyError:
            raise StoreError(
                f"指標目錄中沒有指標「{kpi}」。", f"There is no indicator '{kpi}' in the catalogue."
            ) from None
        if quarter not in figures.QUARTERS:
            raise StoreError(
                f"季別必須是 1 到 4，不是「{quarter}」。",
                f"The quarter must be 1 to 4, not '{quarter}'.",
            )
        if not str(reason or "").strip():
            raise StoreError("請填寫修訂原因。", "Give the reason for the revision.")
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise StoreError(
                f"目標值「{value}」不是數字。", f"The target '{value}' is not a number."
            ) from None
        if not math.isfinite(value) or value <= 0:
            raise StoreError(
                "目標值必須是大於 0 的數字。", "The target must be a number greater than 0."
            )
        if ind.format == "percent" and value > 1:
            raise StoreError(
                "比率目標不可超過 100%（以小數表示時不可大於 1）。",
                "A ratio target cannot exceed 100% (1 as a fraction).",
            )
        current = list(figures.targets(self.store, self.catalog, year)[ind.id][0])
        old = current[quarter - 1]
        if old is not None and math.isclose(old, value, rel_tol=1e-12, abs_tol=1e-12):
            raise StoreError(
                "新目標值與目前的目標值相同，沒有變更。",
                "The new target equals the current one; nothing changed.",
            )
        current[quarter - 1] = value
        if ind.kind == ADDITIVE:
            for q in figures.QUARTERS[1:]:
                before, after = current[q - 2], current[q - 1]
                if before is not None and after is not None and after < before:
                    raise StoreError(
                        f"累計目標不可逐季減少：第{q}季（{after:g}）會小於第{q - 1}季（{before:g}）。請先調整其他季別。",
                        f"Cumulative targets cannot fall from one quarter to the next: Q{q} ({after:g}) would be "
                        f"below Q{q - 1} ({before:g}). Adjust the other quarters first.",
                    )
        self.store.set_target(
            ind.id, year, quarter, value, old=old, reason=str(reason).strip(), who=self.user.name
        )
        return old

    def target_history(self, year: int, kpi: str | None = None) -> list[TargetRevision]:
        """Every target revision of a year, oldest first, each with the target it replaced:
        the catalogue's for a quarter's first revision, else the previous revision's."""
        if kpi is not None:
            try:
                kpi = self.catalog.indicator(kpi).id
            except KeyError:
                raise StoreError(
                    f"指標目錄中沒有指標「{kpi}」。",
                    f"There is no indicator '{kpi}' in the catalogue.",
                ) from None
        base = {k: v[1] for k, v in figures.targets(self.store, self.catalog, year).items()}
        in_force: dict[tuple[str, int], float | None] = {}
        out = []
        for r in self.store.target_revisions(year=year, kpi=kpi).itertuples():
            q = int(r.quarter)
            catalogue = base.get(r.kpi, (None,) * 4)[q - 1]
            old = in_force.get((r.kpi, q), catalogue)
            out.append(
                TargetRevision(r.kpi, int(r.year), q, old, float(r.new), r.reason, r.who, r.at)
            )
            in_force[(r.kpi, q)] = float(r.new)
        return out

    # -- quarter close (期末鎖定) -----------------------------------------------------------------

    def close_quarter(self, year: int, quarter: int) -> QuarterClose:
        """Close a quarter (administrators; audited): keep its figures as reported, lock its rows."""
        require(self.user, Role.ADMIN, "結算（鎖定）季別", "close quarters")
        _check_quarter(quarter)
        from kpi.closing import snapshot_of

        return self.store.close_quarter(
            year, quarter, lambda: snapshot_of(self.status(year, quarter)), who=self.user.name
        )

    def reopen_quarter(self, year: int, quarter: int, reason: str) -> QuarterClose:
        """Lift a quarter's lock (administrators; a reason is required; audited)."""
        require(self.user, Role.ADMIN, "解除季別鎖定", "reopen quarters")
        _check_quarter(quarter)
        if not str(reason or "").strip():
            raise StoreError("請填寫解除鎖定的原因。", "Give the reason for reopening the quarter.")
        return self.store.reopen_quarter(year, quarter, str(reason).strip(), who=self.user.name)

    def quarter_close(
        self, year: int, quarter: int, *, reopened: bool = False
    ) -> QuarterClose | None:
        """The close in force for a quarter (its as-reported figures), or None when open;
        with ``reopened``, the newest close even if reopened since."""
        return self.store.quarter_close(year, quarter, reopened=reopened)

    def plan_text(self, content: bytes, max_bytes: int = 2 * 1024 * 1024) -> str:
        """An uploaded plan file's text (UTF-8, with or without BOM, or Big5/CP950).

        Raises StoreError (zh-TW / en) for a file too large or not text; parse_plan then
        says whether the text follows the 施政計畫 layout.
        """
        if len(content) > max_bytes:
            raise StoreError(
                f"檔案太大（{len(content) / 1048576:.1f} MB）；施政計畫文字檔上限為 {max_bytes // 1048576} MB。",
                f"The file is too large ({len(content) / 1048576:.1f} MB); a plan text file may be {max_bytes // 1048576} MB at most.",
            )
        if not content.strip():
            raise StoreError("檔案是空的。", "The file is empty.")
        if b"\x00" not in content:
            for encoding in ("utf-8-sig", "cp950"):
                try:
                    return content.decode(encoding)
                except UnicodeDecodeError:
                    continue
        raise StoreError(
            "這不是 UTF-8 或 Big5 編碼的文字檔。請上傳施政計畫的純文字檔（.txt）。",
            "This is not a UTF-8 or Big5 text file. Upload the plan as plain text (.txt).",
        )

    def compare(self, report: FileReport, replace: bool = False) -> ImportResult:
        """A dry run again for a file already analysed: its rows compared with the store as it
        is now (after other imports or undos), without reading the workbook again."""
        import dataclasses

        if not report.ok:
            return ImportResult(report, "refused")
        frames = {
            name: f.drop(columns=[c for c in ("_sheet", "_row") if c in f])
            for name, f in report.frames.items()
        }
        try:
            outcome = self.store.import_frames(
                frames, file_name=report.file, content=b"", replace_quarters=replace, dry_run=True
            )
        except StoreError as exc:
            problem = Problem(
                ERROR, "store_refused", None, None, None, None, None, exc.message_zh, exc.message_en
            )
            refused = dataclasses.replace(report, problems=[*report.problems, problem])
            return ImportResult(refused, "refused")
        return ImportResult(report, "valid", None, outcome.changes)

    def preview_import(self, report: FileReport, replace: bool = False) -> ImportPreview:
        """上傳差異: the rows a checked file changes (old → new) and the figures of its
        quarters now and after the import, computed without writing anything."""
        frames = {
            name: f.drop(columns=[c for c in ("_sheet", "_row") if c in f])
            for name, f in report.frames.items()
        }
        return preview(self.store, self.catalog, self.plan, frames, replace)


@dataclass(frozen=True)
class TargetRevision:
    """One entry of the target ledger (目標值修正紀錄)."""

    kpi: str
    year: int
    quarter: int
    old: float | None  # the target in force before: the catalogue's or the previous revision's
    new: float
    reason: str
    who: str
    when: dt.datetime

    def as_json(self) -> dict:
        return {
            "kpi": self.kpi,
            "year": self.year,
            "quarter": self.quarter,
            "old": self.old,
            "new": self.new,
            "reason": self.reason,
            "who": self.who,
            "when": self.when.isoformat(timespec="seconds"),
        }


def _check_quarter(quarter: int) -> None:
    if quarter not in figures.QUARTERS:
        raise StoreError(
            f"季別必須是 1 到 4，不是「{quarter}」。",
            f"The quarter must be 1 to 4, not '{quarter}'.",
        )


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

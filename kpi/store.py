"""SQLAlchemy tables, batches and undo: the only module that writes.

Every uploaded row is kept as a *version* tagged with its batch. A key's current value is
the version from the newest batch that is not undone; the ``current`` flag materialises
that rule so queries stay a plain ``WHERE current``. Undo clears the flag on the batch's
versions and sets it again on the newest surviving version of each key it touched, so
undoing the newest batch gives back exactly the rows that were there before it.
Removing rows (a visits upload that replaces its quarters) writes *tombstones*: versions
with ``deleted`` set, undone like any other version.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd
import sqlalchemy as sa
from pandas.api.types import is_numeric_dtype
from sqlalchemy.engine import Connection, Engine

from kpi import rollups
from kpi.checkpoint import Checkpointer
from kpi.i18n import fmt_quarter
from kpi.ingest.datasets import DATASETS, Dataset
from kpi.paths import DEFAULT_DB_PATH, ROOT
from kpi.schema import (
    ROW_TABLES,
    audit,
    batch_files,
    batch_rows,
    batches,
    bulk_insert,
    meta,
    metadata,
    next_id,
    of_batch,
    period_in,
    plans,
    quarter_closes,
    result_frame,
    target_revisions,
)

__all__ = ["ROW_TABLES", "QuarterClose", "Store", "StoreError", "metadata"]

T = TypeVar("T")
U = TypeVar("U")


class StoreError(Exception):
    """A write the store refuses; the message is for the user (zh-TW / en)."""

    def __init__(self, message_zh: str, message_en: str) -> None:
        super().__init__(message_zh)
        self.message_zh = message_zh
        self.message_en = message_en


@dataclass(frozen=True)
class Changes:
    """How a file's rows compare with what the store holds."""

    new: int = 0
    changed: int = 0
    unchanged: int = 0
    removed: int = 0

    def __add__(self, other: Changes) -> Changes:
        return Changes(
            self.new + other.new,
            self.changed + other.changed,
            self.unchanged + other.unchanged,
            self.removed + other.removed,
        )

    @property
    def writes_anything(self) -> bool:
        return bool(self.new or self.changed or self.removed)

    def as_dict(self) -> dict[str, int]:
        return {
            "new": self.new,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "removed": self.removed,
        }


@dataclass(frozen=True)
class ImportOutcome:
    """What an import wrote (or, on a dry run, would write)."""

    batch_id: int | None
    changes: dict[str, Changes]
    written: bool

    @property
    def total(self) -> Changes:
        out = Changes()
        for c in self.changes.values():
            out = out + c
        return out


@dataclass(frozen=True)
class BatchInfo:
    """One import as listed on the history page and by ``kpi batches``."""

    id: int
    datasets: tuple[str, ...]
    file_name: str
    sha256: str
    size: int
    who: str
    created_at: dt.datetime
    rows: int
    new: int
    changed: int
    unchanged: int
    removed: int
    status: str
    undone_at: dt.datetime | None
    undone_by: str | None
    summary: dict = field(default_factory=dict)

    def as_json(self) -> dict:
        return {
            "batch": self.id,
            "datasets": list(self.datasets),
            "file": self.file_name,
            "sha256": self.sha256,
            "size": self.size,
            "who": self.who,
            "when": self.created_at.isoformat(timespec="seconds"),
            "rows": self.rows,
            "new": self.new,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "status": self.status,
            "undone_at": self.undone_at.isoformat(timespec="seconds") if self.undone_at else None,
            "undone_by": self.undone_by,
            **{k: v for k, v in self.summary.items() if k in ("year", "months", "quarters")},
        }


@dataclass(frozen=True)
class QuarterClose:
    """One close of a quarter (期末鎖定): who closed it, when, and the figures as reported then.

    ``snapshot`` is the quarter's whole-agency figures in the JSON shape of ``kpi status``
    (each indicator also carries its English name and original target). A reopened close
    keeps its snapshot: it is the quarter's history, and the lock is lifted.
    """

    id: int
    year: int
    quarter: int
    snapshot: dict
    closed_at: dt.datetime
    closed_by: str
    reopened_at: dt.datetime | None = None
    reopened_by: str | None = None
    reopen_reason: str | None = None

    @property
    def is_open(self) -> bool:
        """True once reopened: the lock is lifted."""
        return self.reopened_at is not None

    def as_json(self) -> dict:
        def when(x: dt.datetime | None) -> str | None:
            return x.isoformat(timespec="seconds") if x else None

        return {
            "close": self.id,
            "year": self.year,
            "quarter": self.quarter,
            "closed_at": when(self.closed_at),
            "closed_by": self.closed_by,
            "reopened_at": when(self.reopened_at),
            "reopened_by": self.reopened_by,
            "reopen_reason": self.reopen_reason,
        }


def closed_message(year: int, quarter: int) -> StoreError:
    """The refusal of any change to a closed quarter's figures (zh-TW / en)."""
    return StoreError(
        f"{fmt_quarter(year, quarter)}已結算（期末鎖定），不能變更該季的資料或目標值，"
        "未寫入任何資料。如需更正，請管理者先解除鎖定（python -m kpi reopen）。",
        f"{fmt_quarter(year, quarter, 'en')} is closed: its data and targets cannot change, "
        "and nothing was written. To correct it, an administrator must reopen the quarter "
        "first (python -m kpi reopen).",
    )


def resolve_url(url: str | None = None) -> str:
    """The database URL: the argument, else KPI_DATABASE_URL, else the bundled SQLite file."""
    url = url or os.environ.get("KPI_DATABASE_URL") or f"sqlite:///{DEFAULT_DB_PATH}"
    # psycopg 3 is the driver we ship; plain postgres URLs should just work.
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            url = "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str) -> Engine:
    """An engine with SQLite set up for several readers and one writer at a time."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30})

        @sa.event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record) -> None:
            # Let SQLAlchemy's "begin" event choose BEGIN or BEGIN IMMEDIATE (below).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA busy_timeout=30000")
            _journal_mode_wal(cur)
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            # Commits only append to the log; a Store copies it in a thread (kpi.checkpoint).
            cur.execute("PRAGMA wal_autocheckpoint=0")
            cur.close()

        @sa.event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            # Writers take the write lock up front so two imports serialise instead of
            # failing halfway with "database is locked".
            mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
            conn.exec_driver_sql(f"BEGIN {mode}")

        return engine
    return sa.create_engine(url, pool_pre_ping=True)


def _journal_mode_wal(cur: sqlite3.Cursor, wait: float = 30.0) -> None:
    """WAL mode (kept in the file, so set by whichever connection comes first).

    SQLite answers "database is locked" to this pragma at once, without the busy
    timeout, while another connection holds the lock it needs: two processes opening a
    new file at the same moment, or one opening it while another closes the last
    connection and removes the log. Such a moment passes; the pragma is tried again.
    """
    deadline = time.monotonic() + wait
    while True:
        try:
            cur.execute("PRAGMA journal_mode=WAL").fetchall()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


_UPGRADING = threading.Lock()


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration (Alembic)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    # Alembic keeps the running migration in module globals: one upgrade at a time per
    # process. On SQLite the write lock is taken before the schema version is read, so
    # two processes starting on a new file wait for each other ("database is locked" else).
    with _UPGRADING, engine.execution_options(sqlite_begin="IMMEDIATE").begin() as conn:
        if conn.dialect.name == "postgresql":
            # Two app servers starting at once must not both create the tables.
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(7302019)"))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def _now() -> dt.datetime:
    return dt.datetime.now().replace(microsecond=0)


def _values_equal(a: pd.Series, b: pd.Series) -> np.ndarray:
    """Element-wise equality where NA equals NA and floats compare with a small tolerance."""
    both_na = a.isna().to_numpy() & b.isna().to_numpy()
    if pd.api.types.is_numeric_dtype(a) and pd.api.types.is_numeric_dtype(b):
        x = a.to_numpy(dtype=float, na_value=np.nan)
        y = b.to_numpy(dtype=float, na_value=np.nan)
        close = np.isclose(x, y, rtol=1e-9, atol=1e-6)
        return both_na | np.nan_to_num(close, nan=False).astype(bool)
    x = a.astype(object).where(a.notna(), None).to_numpy()
    y = b.astype(object).where(b.notna(), None).to_numpy()
    return both_na | np.array([u == v for u, v in zip(x, y, strict=True)], dtype=bool)


class Store:
    """The dashboard's database: plans, uploaded rows in versions, batches, targets, audit."""

    _checkpointer: Checkpointer | None = None

    def __init__(self, url: str | None = None, *, migrate: bool = True) -> None:
        self.url = resolve_url(url)
        self.engine = make_engine(self.url)
        if self.engine.dialect.name == "sqlite" and self.engine.url.database not in (
            None,
            "",
            ":memory:",
        ):
            self._checkpointer = Checkpointer(self.engine)
        if migrate:
            upgrade(self.engine)
            self._written()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def dispose(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.close()
        self.engine.dispose()

    def _written(self) -> None:
        """After a commit: SQLite's log is copied into the database file in a thread."""
        if self._checkpointer is not None:
            self._checkpointer.request()

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """One write transaction, serialised against other writers, bumping the version."""
        engine = self.engine.execution_options(sqlite_begin="IMMEDIATE")
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(7302020)"))
            yield conn
            self._bump_version(conn)
        self._written()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only connection (one consistent snapshot)."""
        with self.engine.connect() as conn:
            yield conn

    # -- version -------------------------------------------------------------------

    def version(self) -> int:
        """A number that changes with every write: the cache key of every figure."""
        with self.engine.connect() as conn:
            value = conn.execute(sa.select(meta.c.value).where(meta.c.key == "version")).scalar()
        return int(value or 0)

    def get_meta(self, key: str) -> str | None:
        with self.read() as conn:
            return conn.execute(sa.select(meta.c.value).where(meta.c.key == key)).scalar()

    def claim_meta(self, key: str, value: str) -> bool:
        """Set a flag once; True for the one caller that set it (first start, for example).

        A flag already set is seen without a write, so the store's version (every cache's
        key) stays as it was: each app start claims its first-run flag."""
        if self.get_meta(key) is not None:
            return False
        with self._write() as conn:
            if conn.execute(sa.select(meta.c.value).where(meta.c.key == key)).first() is not None:
                return False
            conn.execute(sa.insert(meta).values(key=key, value=value))
            return True

    @staticmethod
    def _bump_version(conn: Connection) -> None:
        updated = conn.execute(
            sa.update(meta)
            .where(meta.c.key == "version")
            .values(value=sa.cast(sa.cast(meta.c.value, sa.Integer) + 1, sa.Text))
        ).rowcount
        if not updated:
            conn.execute(sa.insert(meta).values(key="version", value="1"))

    # -- audit ---------------------------------------------------------------------

    @staticmethod
    def _audit(conn: Connection, who: str, action: str, detail: dict) -> None:
        conn.execute(
            sa.insert(audit).values(
                at=_now(),
                who=who,
                action=action,
                detail=json.dumps(detail, ensure_ascii=False, default=str),
            )
        )

    def record(self, who: str, action: str, detail: dict) -> None:
        """An audit entry for a change made outside the database (a user added, say)."""
        with self._write() as conn:
            self._audit(conn, who, action, detail)

    def audit_log(self, limit: int = 500) -> pd.DataFrame:
        """The newest audit entries, newest first."""
        with self.read() as conn:
            rows = (
                conn.execute(sa.select(audit).order_by(audit.c.id.desc()).limit(limit))
                .mappings()
                .all()
            )
        return pd.DataFrame(rows, columns=["id", "at", "who", "action", "detail"])

    # -- plans ---------------------------------------------------------------------

    def save_plan(self, year: int, agency: str, source: str, who: str = "local") -> None:
        """Store (or replace) the plan text of a year."""
        with self._write() as conn:
            conn.execute(sa.delete(plans).where(plans.c.year == year))
            conn.execute(
                sa.insert(plans).values(
                    year=year, agency=agency, source=source, loaded_at=_now(), loaded_by=who
                )
            )
            self._audit(conn, who, "plan_load", {"year": year, "agency": agency})

    def plan_source(self, year: int | None = None) -> tuple[int, str, str] | None:
        """(year, agency, text) of the given year's plan, or of the newest one stored."""
        q = sa.select(plans.c.year, plans.c.agency, plans.c.source)
        q = (
            q.where(plans.c.year == year)
            if year is not None
            else q.order_by(plans.c.year.desc()).limit(1)
        )
        with self.read() as conn:
            row = conn.execute(q).first()
        return tuple(row) if row else None

    def plan_years(self) -> list[int]:
        with self.read() as conn:
            return [r[0] for r in conn.execute(sa.select(plans.c.year).order_by(plans.c.year))]

    def remove_plan(self, year: int, who: str = "local") -> None:
        with self._write() as conn:
            conn.execute(sa.delete(plans).where(plans.c.year == year))
            self._audit(conn, who, "plan_remove", {"year": year})

    # -- targets -------------------------------------------------------------------

    def set_target(
        self,
        kpi: str,
        year: int,
        quarter: int,
        value: float,
        *,
        old: float | None,
        reason: str,
        who: str,
    ) -> None:
        """Record a target revision; figures use the newest one. A closed quarter's target
        is refused: it would change the figures reported at the close."""
        with self._write() as conn:
            self._refuse_closed(conn, {(year, quarter)})
            conn.execute(
                sa.insert(target_revisions).values(
                    kpi=kpi,
                    year=year,
                    quarter=quarter,
                    old=old,
                    new=value,
                    reason=reason,
                    who=who,
                    at=_now(),
                )
            )
            self._audit(
                conn,
                who,
                "target_set",
                {"kpi": kpi, "year": year, "quarter": quarter, "old": old, "new": value},
            )

    def target_revisions(self, year: int | None = None, kpi: str | None = None) -> pd.DataFrame:
        q = sa.select(target_revisions).order_by(target_revisions.c.id)
        if year is not None:
            q = q.where(target_revisions.c.year == year)
        if kpi is not None:
            q = q.where(target_revisions.c.kpi == kpi)
        with self.read() as conn:
            rows = conn.execute(q).mappings().all()
        return pd.DataFrame(rows, columns=[c.name for c in target_revisions.columns])

    def target_overrides(self, year: int) -> dict[tuple[str, int], float]:
        """(kpi, quarter) → the newest revised target of the year."""
        revs = self.target_revisions(year=year)
        return {(r.kpi, int(r.quarter)): float(r.new) for r in revs.itertuples()}

    # -- quarter close (期末鎖定) ----------------------------------------------------------

    @staticmethod
    def _closed(conn: Connection) -> set[tuple[int, int]]:
        """The (year, quarter)s closed now (read inside the caller's transaction)."""
        q = sa.select(quarter_closes.c.year, quarter_closes.c.quarter).where(
            quarter_closes.c.reopened_at.is_(None)
        )
        return {(int(y), int(qq)) for y, qq in conn.execute(q)}

    def _refuse_closed(self, conn: Connection, touched: set[tuple[int, int]]) -> None:
        hit = sorted(touched & self._closed(conn))
        if hit:
            raise closed_message(*hit[0])

    def _refuse_closed_rows(
        self, conn: Connection, frames: dict[str, pd.DataFrame], replace: bool
    ) -> None:
        """Refuse a file that would change (add, replace or remove) a row of a closed quarter.

        A file whose rows of a closed quarter are exactly what is stored passes: it changes
        nothing there. Checked in the write transaction, so a close that commits first wins.
        """
        closed = self._closed(conn)
        if not closed:
            return
        for name, frame in frames.items():
            if frame.empty:
                continue
            ds = DATASETS[name]
            if name == "kpi_values":
                quarter = frame["quarter"].astype(int)
            else:
                quarter = (frame["month"].astype(int) - 1) // 3 + 1
            periods = list(zip(frame["year"].astype(int), quarter, strict=True))
            for yq in sorted(set(periods) & closed):
                mine = np.array([p == yq for p in periods], dtype=bool)
                part = frame[mine]
                if self._diff(conn, ds, part, replace and name == "visits").changes.writes_anything:
                    raise closed_message(*yq)

    def _refuse_closed_batch(self, conn: Connection, batch_id: int, datasets: list[str]) -> None:
        """Refuse an undo that would change a closed quarter: the batch holds a current version
        (a row or a tombstone) there. Superseded versions of the batch change nothing."""
        closed = self._closed(conn)
        if not closed:
            return
        touched: set[tuple[int, int]] = set()
        for name in datasets:
            t = ROW_TABLES[name]
            quarterly = name == "kpi_values"
            q = sa.select(t.c.year, t.c.quarter if quarterly else t.c.month).where(
                t.c.batch_id == batch_id, t.c.current
            )
            for y, p in conn.execute(q.distinct()):
                touched.add((int(y), int(p) if quarterly else (int(p) - 1) // 3 + 1))
        self._refuse_closed(conn, touched)

    def close_quarter(
        self, year: int, quarter: int, snapshot: Callable[[], dict], who: str
    ) -> QuarterClose:
        """Close a quarter: store ``snapshot()`` (its figures as reported) and lock its rows.

        The snapshot is taken inside the write transaction, so no import can land between
        the figures and the lock.
        """
        with self._write() as conn:
            if (year, quarter) in self._closed(conn):
                raise StoreError(
                    f"{fmt_quarter(year, quarter)}已經結算過了。",
                    f"{fmt_quarter(year, quarter, 'en')} is already closed.",
                )
            doc = snapshot()
            at = _now()
            close_id = conn.execute(
                sa.insert(quarter_closes)
                .values(
                    year=year,
                    quarter=quarter,
                    snapshot=json.dumps(doc, ensure_ascii=False),
                    closed_at=at,
                    closed_by=who,
                )
                .returning(quarter_closes.c.id)
            ).scalar_one()
            self._audit(
                conn, who, "quarter_close", {"year": year, "quarter": quarter, "close": close_id}
            )
        return QuarterClose(close_id, year, quarter, doc, at, who)

    def reopen_quarter(self, year: int, quarter: int, reason: str, who: str) -> QuarterClose:
        """Lift a quarter's lock; its snapshot stays in the history of closes."""
        with self._write() as conn:
            row = conn.execute(
                sa.select(quarter_closes.c.id).where(
                    quarter_closes.c.year == year,
                    quarter_closes.c.quarter == quarter,
                    quarter_closes.c.reopened_at.is_(None),
                )
            ).first()
            if row is None:
                raise StoreError(
                    f"{fmt_quarter(year, quarter)}尚未結算，無須解除鎖定。",
                    f"{fmt_quarter(year, quarter, 'en')} is not closed; there is nothing to reopen.",
                )
            conn.execute(
                sa.update(quarter_closes)
                .where(quarter_closes.c.id == row.id)
                .values(reopened_at=_now(), reopened_by=who, reopen_reason=reason)
            )
            self._audit(
                conn,
                who,
                "quarter_reopen",
                {"year": year, "quarter": quarter, "close": row.id, "reason": reason},
            )
        return next(c for c in self.quarter_closes(year) if c.id == row.id)

    def quarter_closes(self, year: int | None = None) -> list[QuarterClose]:
        """Every close (reopened ones too), oldest first."""
        q = sa.select(quarter_closes).order_by(quarter_closes.c.id)
        if year is not None:
            q = q.where(quarter_closes.c.year == year)
        with self.read() as conn:
            rows = conn.execute(q).mappings().all()
        return [
            QuarterClose(
                id=r["id"],
                year=r["year"],
                quarter=r["quarter"],
                snapshot=json.loads(r["snapshot"]),
                closed_at=r["closed_at"],
                closed_by=r["closed_by"],
                reopened_at=r["reopened_at"],
                reopened_by=r["reopened_by"],
                reopen_reason=r["reopen_reason"],
            )
            for r in rows
        ]

    def quarter_close(
        self, year: int, quarter: int, *, reopened: bool = False
    ) -> QuarterClose | None:
        """The close in force for a quarter, or None when it is open; with ``reopened``, the
        newest close even if it was reopened since (what was last reported)."""
        return next(
            (
                c
                for c in reversed(self.quarter_closes(year))
                if c.quarter == quarter and (reopened or not c.is_open)
            ),
            None,
        )

    # -- rows ------------------------------------------------------------------------

    def current_rows(
        self, dataset: str, year: int | None = None, where: Sequence[sa.ColumnElement] = ()
    ) -> pd.DataFrame:
        """The current (not deleted) rows of a dataset, optionally for one ROC year."""
        t = ROW_TABLES[dataset]
        cols = [c for c in t.columns if c.name not in ("id", "batch_id", "current", "deleted")]
        q = sa.select(*cols).where(t.c.current, sa.not_(t.c.deleted), *where)
        if year is not None:
            q = q.where(t.c.year == year)
        with self.read() as conn:
            result = conn.execute(q)
            return result_frame(result)

    def data_years(self) -> list[int]:
        """ROC years that hold current rows in any dataset."""
        p = rollups.periods
        with self.read() as conn:
            q = sa.select(p.c.year).where(p.c.rows > 0).distinct().order_by(p.c.year)
            return [int(y) for (y,) in conn.execute(q)]

    def budget_programs(self, year: int) -> list[str]:
        """Program names that budget rows of the year use (plan programs and others)."""
        t = ROW_TABLES["budget"]
        q = (
            sa.select(t.c.program)
            .where(t.c.current, sa.not_(t.c.deleted), t.c.year == year)
            .distinct()
        )
        with self.read() as conn:
            return sorted(p for (p,) in conn.execute(q))

    def purge_batches(self, ids: Sequence[int], who: str = "local") -> None:
        """Delete undone batches outright (rows, original files, records): the sample year's removal."""
        if not ids:
            return
        with self._write() as conn:
            live = conn.execute(
                sa.select(batches.c.id).where(
                    batches.c.id.in_(list(ids)), batches.c.status == "active"
                )
            ).first()
            if live is not None:
                raise StoreError("只能刪除已復原的批次。", "Only undone batches can be deleted.")
            for name, t in ROW_TABLES.items():
                for batch_id in ids:
                    conn.execute(sa.delete(t).where(of_batch(conn, name, batch_id, t)))
            conn.execute(sa.delete(batch_rows).where(batch_rows.c.batch_id.in_(list(ids))))
            conn.execute(sa.delete(batch_files).where(batch_files.c.batch_id.in_(list(ids))))
            conn.execute(sa.delete(batches).where(batches.c.id.in_(list(ids))))
            self._audit(conn, who, "purge", {"batches": list(ids)})

    def count_rows(self, dataset: str) -> int:
        t = ROW_TABLES[dataset]
        with self.read() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count()).where(t.c.current, sa.not_(t.c.deleted))
                ).scalar()
            )

    # -- import ----------------------------------------------------------------------

    def import_frames(
        self,
        frames: dict[str, pd.DataFrame],
        *,
        file_name: str,
        content: bytes,
        who: str = "local",
        replace_quarters: bool = False,
        dry_run: bool = False,
        summary: dict | None = None,
        guard=None,
    ) -> ImportOutcome:
        """Compare canonical frames with the store and, unless a dry run, write them as one batch.

        ``frames`` maps a dataset name to its canonical rows (the stored fields, one row per
        key). A dry run is the same code path with the write switched off. ``guard`` is
        called inside the transaction with (conn, frames) before writing and may raise
        StoreError (closed quarters use it).
        """
        frames = {name: _with_period(name, frame) for name, frame in frames.items()}
        engine = self.engine if dry_run else self.engine.execution_options(sqlite_begin="IMMEDIATE")
        with engine.begin() as conn:
            if not dry_run and conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(7302020)"))
            plans_ = {
                name: self._diff(conn, DATASETS[name], frame, replace_quarters and name == "visits")
                for name, frame in frames.items()
            }
            self._refuse_closed_rows(conn, frames, replace_quarters)
            changes = {name: p.changes for name, p in plans_.items()}
            total = Changes()
            for c in changes.values():
                total = total + c
            if dry_run or not total.writes_anything:
                conn.rollback()
                return ImportOutcome(None, changes, written=False)
            if guard is not None:
                guard(conn, frames)
            batch_id = conn.execute(
                sa.insert(batches)
                .values(
                    datasets=",".join(frames),
                    file_name=file_name,
                    sha256=hashlib.sha256(content).hexdigest(),
                    size=len(content),
                    who=who,
                    created_at=_now(),
                    rows=sum(len(f) for f in frames.values()),
                    new=total.new,
                    changed=total.changed,
                    unchanged=total.unchanged,
                    removed=total.removed,
                    summary=json.dumps(summary or {}, ensure_ascii=False, default=str),
                    status="active",
                )
                .returning(batches.c.id)
            ).scalar_one()
            conn.execute(sa.insert(batch_files).values(batch_id=batch_id, content=content))
            for name, p in plans_.items():
                self._apply(conn, DATASETS[name], frames[name], p, batch_id)
            self._audit(
                conn,
                who,
                "import",
                {"batch": batch_id, "file": file_name, "datasets": list(frames), **total.as_dict()},
            )
            self._bump_version(conn)
        self._written()
        return ImportOutcome(batch_id, changes, written=True)

    @staticmethod
    def _scope_months(ds: Dataset, frame: pd.DataFrame, replace: bool) -> set[tuple[int, int]]:
        """The (year, month)s a file can touch (indicator values: their quarter's last month).

        A file that replaces its quarters touches every month of them, also the months it
        has no rows for (their stored rows are the ones it removes).
        """
        if ds.name == "kpi_values":
            pairs = frame[["year", "quarter"]].drop_duplicates().to_numpy()
            return {(int(y), int(q) * 3) for y, q in pairs}
        pairs = {(int(y), int(m)) for y, m in frame[["year", "month"]].drop_duplicates().to_numpy()}
        if replace:
            pairs = {(y, (m - 1) // 3 * 3 + i) for y, m in pairs for i in (1, 2, 3)}
        return pairs

    @staticmethod
    def _scope(ds: Dataset, t: sa.Table, months: set[tuple[int, int]]) -> sa.ColumnElement:
        """The stored rows of those months: a cheap superset of the rows a file can touch."""
        if ds.name == "kpi_values":
            return period_in(t.c.year, t.c.quarter, {(y, m // 3) for y, m in months})
        return period_in(t.c.year, t.c.month, months)

    def _diff(self, conn: Connection, ds: Dataset, frame: pd.DataFrame, replace: bool) -> _Plan:
        t = ROW_TABLES[ds.name]
        value_cols = [f.name for f in ds.stored_fields if f.name not in ds.key]
        key = list(ds.key)
        if frame.empty:
            return _Plan(Changes(), np.array([], dtype=int), pd.DataFrame(), pd.DataFrame(), set())
        # Current tombstones are read too: a removed key that comes back is new, and its
        # tombstone is superseded so that every key keeps exactly one current version.
        cols = [t.c.id, t.c.deleted, *(t.c[k] for k in key), *(t.c[v] for v in value_cols)]
        if ds.name == "visits":
            cols += [t.c.year, t.c.month]
        scope = self._scope_months(ds, frame, replace)
        result = conn.execute(sa.select(*cols).where(t.c.current, self._scope(ds, t, scope)))
        old = result_frame(result)
        if ds.name == "visits":
            old["date"] = pd.to_datetime(old["date"])
        old = old.loc[:, ~old.columns.duplicated()]
        if old.empty:
            # The store holds nothing of the file's months (a first import): no key to
            # compare, every row is new.
            kept = old.drop(columns=["id", "deleted"])
            nothing = np.array([], dtype=np.int64)
            return _Plan(Changes(len(frame)), nothing, pd.DataFrame(), kept, scope)
        new = frame[key + value_cols].copy()
        if ds.name == "visits":
            new["date"] = pd.to_datetime(new["date"])
        for k in key:
            if k in old.columns and k in new.columns and new[k].dtype != old[k].dtype:
                if pd.api.types.is_numeric_dtype(new[k]):
                    old[k] = pd.to_numeric(old[k])
                else:
                    old[k] = old[k].astype(new[k].dtype)
        merged = new.merge(old, on=key, how="left", suffixes=("", "__old"), indicator=True)
        found = merged["_merge"].eq("both").to_numpy()
        matched = found & ~merged["deleted"].eq(True).to_numpy()
        # Only keys the store holds have old values to compare (none on a first import).
        same = np.ones(len(merged), dtype=bool)
        both = np.flatnonzero(matched)
        if len(both):
            pairs = merged.iloc[both]
            for v in value_cols:
                same[both] &= _values_equal(pairs[v], pairs[f"{v}__old"])
        n_new = int((~matched).sum())
        n_unchanged = int((matched & same).sum())
        n_changed = int((matched & ~same).sum())
        superseded = merged.loc[found, "id"].astype("int64").to_numpy()
        removed = pd.DataFrame()
        if replace:
            # Replace the file's quarters wholesale: stored visits of those quarters that the
            # file no longer lists are removed (tombstoned, so undo brings them back).
            quarters = {
                (int(y), (int(m) - 1) // 3)
                for y, m in frame[["year", "month"]].drop_duplicates().to_numpy()
            }
            in_q = pd.Series(
                [
                    (int(y), (int(m) - 1) // 3) in quarters
                    for y, m in zip(old["year"], old["month"], strict=True)
                ],
                index=old.index,
                dtype=bool,
            )
            cand = old[in_q & ~old["deleted"].eq(True)]
            gone = cand.merge(new[key], on=key, how="left", indicator=True)
            removed = gone[gone["_merge"].eq("left_only")].drop(columns="_merge")
            # Everything else in those quarters (the old versions) is superseded as well.
        gone_ids = set(superseded.tolist()) | set(removed["id"].tolist() if len(removed) else [])
        kept = old[~old["id"].isin(gone_ids) & ~old["deleted"].eq(True)]
        changes = Changes(n_new, n_changed, n_unchanged, len(removed))
        return _Plan(changes, superseded, removed, kept.drop(columns=["id", "deleted"]), scope)

    def _apply(
        self, conn: Connection, ds: Dataset, frame: pd.DataFrame, p: _Plan, batch_id: int
    ) -> None:
        """Write the batch's versions, then bring the summaries of their months up to date."""
        t = ROW_TABLES[ds.name]
        ids = [int(i) for i in p.superseded]
        if len(p.removed):
            ids += [int(i) for i in p.removed["id"]]
        _set_current(conn, t, ids, False)
        rows = frame[[f.name for f in ds.stored_fields]].copy()
        if ds.name == "visits":
            dates = pd.to_datetime(rows["date"])
            rows["date"] = dates.dt.date
            rows["year"] = dates.dt.year - 1911
            rows["month"] = dates.dt.month
        rows["batch_id"] = batch_id
        rows["current"] = True
        rows["deleted"] = False
        if len(p.removed):
            tomb = p.removed.drop(columns=["id"]).copy()
            if ds.name == "visits":
                tomb["date"] = pd.to_datetime(tomb["date"]).dt.date
            tomb["batch_id"] = batch_id
            tomb["current"] = True
            tomb["deleted"] = True
            rows = pd.concat([rows, tomb[rows.columns]], ignore_index=True)
        # The current rows of the file's months are now what the store kept of them plus
        # the file's own: the summaries of those months are computed from them in memory,
        # in a second thread while this one inserts the rows (the drivers release the GIL
        # while the database works). Only this thread uses the connection.
        after = _current_rows(p.kept, rows[~rows["deleted"]])
        periods = rows
        if ds.name == "kpi_values":
            periods, after = (f.assign(month=f["quarter"] * 3) for f in (rows, after))
        pairs = periods[["year", "month"]].drop_duplicates().to_numpy()
        months = {(int(y), int(m)) for y, m in pairs}
        with ThreadPoolExecutor(1, thread_name_prefix="kpi-summaries") as pool:
            computed = pool.submit(rollups.in_memory, ds.name, months, after, p.scope)
            self._insert_rows(conn, ds.name, t, rows, batch_id)
            summaries = computed.result()
        rollups.refresh(conn, ds.name, months, summaries, bulk_insert)

    @staticmethod
    def _insert_rows(
        conn: Connection, dataset: str, t: sa.Table, rows: pd.DataFrame, batch_id: int
    ) -> None:
        """Insert a batch's versions of one dataset and record the ids they got."""
        if rows.empty:
            return
        first = next_id(conn, t)
        bulk_insert(conn, t, rows)
        last = conn.execute(sa.select(sa.func.max(t.c.id))).scalar_one()
        conn.execute(
            sa.insert(batch_rows).values(
                batch_id=batch_id, dataset=dataset, first_id=first, last_id=last
            )
        )

    # -- batches and undo --------------------------------------------------------------

    def batches(self) -> list[BatchInfo]:
        """Every import, newest first."""
        with self.read() as conn:
            rows = conn.execute(sa.select(batches).order_by(batches.c.id.desc())).mappings().all()
        return [
            BatchInfo(
                id=r["id"],
                datasets=tuple(r["datasets"].split(",")),
                file_name=r["file_name"],
                sha256=r["sha256"],
                size=r["size"],
                who=r["who"],
                created_at=r["created_at"],
                rows=r["rows"],
                new=r["new"],
                changed=r["changed"],
                unchanged=r["unchanged"],
                removed=r["removed"],
                status=r["status"],
                undone_at=r["undone_at"],
                undone_by=r["undone_by"],
                summary=json.loads(r["summary"] or "{}"),
            )
            for r in rows
        ]

    def batch(self, batch_id: int) -> BatchInfo | None:
        return next((b for b in self.batches() if b.id == batch_id), None)

    def batch_file(self, batch_id: int) -> tuple[str, bytes] | None:
        """The original file of a batch, as uploaded."""
        with self.read() as conn:
            row = conn.execute(
                sa.select(batches.c.file_name, batch_files.c.content)
                .join(batch_files, batch_files.c.batch_id == batches.c.id)
                .where(batches.c.id == batch_id)
            ).first()
        return (row[0], bytes(row[1])) if row else None

    def undo(self, batch_id: int, who: str = "local", guard=None) -> dict[str, int]:
        """Undo a batch: each key it touched goes back to its newest surviving version."""
        with self._write() as conn:
            row = conn.execute(
                sa.select(batches.c.status, batches.c.datasets).where(batches.c.id == batch_id)
            ).first()
            if row is None:
                raise StoreError(f"找不到批次 {batch_id}。", f"There is no batch {batch_id}.")
            if row.status != "active":
                raise StoreError(
                    f"批次 {batch_id} 已經復原過了。", f"Batch {batch_id} has already been undone."
                )
            if guard is not None:
                guard(conn, batch_id)
            self._refuse_closed_batch(conn, batch_id, row.datasets.split(","))
            restored: dict[str, int] = {}
            for name in row.datasets.split(","):
                restored[name] = self._undo_rows(conn, DATASETS[name], batch_id)
                rollups.refresh(conn, name, rollups.months_of_batch(conn, name, batch_id))
            conn.execute(
                sa.update(batches)
                .where(batches.c.id == batch_id)
                .values(status="undone", undone_at=_now(), undone_by=who)
            )
            self._audit(conn, who, "undo", {"batch": batch_id, "keys": restored})
        return restored

    def _undo_rows(self, conn: Connection, ds: Dataset, batch_id: int) -> int:
        t = ROW_TABLES[ds.name]
        mine = t.alias("mine")
        on = sa.and_(*(t.c[k] == mine.c[k] for k in ds.key))
        result = conn.execute(
            sa.select(t.c.id, t.c.batch_id, *(t.c[k] for k in ds.key))
            .select_from(t.join(mine, on).join(batches, batches.c.id == t.c.batch_id))
            .where(of_batch(conn, ds.name, batch_id, mine), batches.c.status == "active")
            .distinct()
        )
        versions = result_frame(result)
        if versions.empty:
            return 0
        survivors = versions[versions["batch_id"] != batch_id]
        keep = survivors.sort_values("batch_id").drop_duplicates(list(ds.key), keep="last")["id"]
        _set_current(conn, t, [int(i) for i in versions["id"]], False)
        _set_current(conn, t, [int(i) for i in keep], True)
        return int(
            versions[versions["batch_id"] == batch_id].drop_duplicates(list(ds.key)).shape[0]
        )

    # -- what-if (upload diff) ---------------------------------------------------------

    def preview_frames(
        self,
        frames: dict[str, pd.DataFrame],
        *,
        before: Callable[[Store], T],
        after: Callable[[Store], U],
        replace_quarters: bool = False,
    ) -> tuple[ImportOutcome, T, U]:
        """What importing the frames would do, seen by ``before`` and ``after``; nothing is kept.

        The import is written inside one transaction that is rolled back, so ``after`` sees
        exactly what a real import would leave (summaries included) while no other
        connection ever does. Both callbacks get the store as that transaction sees it. The
        version is not bumped (nothing changes for caches) and the batch id is chosen by
        hand, so not even PostgreSQL's id sequence moves.
        """
        frames = {name: _with_period(name, frame) for name, frame in frames.items()}
        engine = self.engine.execution_options(sqlite_begin="IMMEDIATE")
        with engine.connect() as conn, conn.begin() as tx:
            if conn.dialect.name == "postgresql":
                # Serialised with imports: the summaries it rewrites are theirs too.
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(7302020)"))
            view = _Snapshot(self, conn)
            seen_before = before(view)
            plans_ = {
                name: self._diff(conn, DATASETS[name], frame, replace_quarters and name == "visits")
                for name, frame in frames.items()
            }
            changes = {name: p.changes for name, p in plans_.items()}
            if any(c.writes_anything for c in changes.values()):
                batch_id = conn.execute(
                    sa.select(sa.func.coalesce(sa.func.max(batches.c.id), 0) + 1)
                ).scalar_one()
                conn.execute(
                    sa.insert(batches).values(
                        id=batch_id,
                        datasets=",".join(frames),
                        file_name="(preview)",
                        sha256="",
                        size=0,
                        who="preview",
                        created_at=_now(),
                        rows=0,
                        new=0,
                        changed=0,
                        unchanged=0,
                        removed=0,
                        summary="{}",
                        status="active",
                    )
                )
                for name, p in plans_.items():
                    self._apply(conn, DATASETS[name], frames[name], p, batch_id)
            seen_after = after(view)
            tx.rollback()
        return ImportOutcome(None, changes, written=False), seen_before, seen_after


class _Snapshot(Store):
    """The store as one open transaction sees it: every read goes through that connection."""

    def __init__(self, base: Store, conn: Connection) -> None:
        self.url = base.url
        self.engine = base.engine
        self._conn = conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        yield self._conn

    def _write(self) -> Iterator[Connection]:
        raise RuntimeError("the store seen by a preview is read-only")

    def version(self) -> int:
        value = self._conn.execute(sa.select(meta.c.value).where(meta.c.key == "version")).scalar()
        return int(value or 0)


@dataclass(frozen=True)
class _Plan:
    changes: Changes
    superseded: np.ndarray  # ids of the versions the file replaces
    removed: pd.DataFrame  # stored rows the file removes (visits replacing their quarters)
    kept: pd.DataFrame  # stored current rows of the file's months that stay current
    scope: set[tuple[int, int]]  # the file's (year, month)s: `kept` holds all of their rows


def _current_rows(kept: pd.DataFrame, written: pd.DataFrame) -> pd.DataFrame:
    """The stored rows that stay current and the batch's own, with the batch's dtypes.

    The stored rows come back from the database as Python objects; cast to the file's
    dtypes, the summaries add numbers instead of objects.
    """
    if kept.empty:
        return written.reset_index(drop=True)
    numbers = [c for c in kept.columns if c in written and is_numeric_dtype(written[c])]
    kept = kept.astype({c: written[c].dtype for c in numbers})
    return pd.concat([kept, written], ignore_index=True)


def _with_period(dataset: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Visits are keyed by date; their ROC year and month are derived from it, always."""
    if dataset != "visits" or frame.empty:
        return frame
    dates = pd.to_datetime(frame["date"])
    return frame.assign(year=dates.dt.year - 1911, month=dates.dt.month)


def _set_current(conn: Connection, t: sa.Table, ids: Sequence[int], current: bool) -> None:
    """Mark rows current or not, by id, in a few statements however many there are.

    A batch's rows have consecutive ids, so the ids of a large import or undo mostly form
    long runs: each run is one BETWEEN, and the ids left over go in IN lists.
    """
    runs, singles = _id_runs(ids)
    for chunk in _chunks(runs, 200):
        conn.execute(
            sa.update(t)
            .where(sa.or_(*(t.c.id.between(lo, hi) for lo, hi in chunk)))
            .values(current=current)
        )
    for chunk in _chunks(singles, 900):
        conn.execute(sa.update(t).where(t.c.id.in_(chunk)).values(current=current))


def _id_runs(ids: Sequence[int]) -> tuple[list[tuple[int, int]], list[int]]:
    """Sorted distinct ids as runs of consecutive ids (lo, hi), and the ids in no run."""
    values = np.unique(np.asarray(ids, dtype=np.int64))
    if not len(values):
        return [], []
    breaks = np.flatnonzero(np.diff(values) != 1) + 1
    starts = np.concatenate([[0], breaks])
    ends = np.concatenate([breaks, [len(values)]]) - 1
    long = ends > starts
    runs = list(zip(values[starts[long]].tolist(), values[ends[long]].tolist(), strict=True))
    singles = values[starts[~long]].tolist()
    return runs, singles


def _chunks(seq: Sequence, size: int) -> Iterator[Sequence]:
    for i in range(0, len(seq), size):
        yield seq[i : i + size]

"""Copying a whole store to another database (SQLite ⇄ PostgreSQL), nothing lost.

Every table is copied as it is: all versions of every row (current, superseded,
tombstones, the rows of undone batches), the original files, the plans, the target
revisions, the audit trail, the store's flags, and the summary tables. Ids are kept, so a
batch has the same number on both sides and undo works on the copy as on the original.

The summaries are copied rather than rebuilt on the target. Copying costs about what
recomputing them would (a GROUP BY over every current row), but a sum of floats computed
by another database can differ in its last bit: copied, the target is an exact replica
the checksums can prove, and its figures come from the very sums the source shows.

The copy is one transaction on the target, read from one snapshot of the source, and is
verified inside that transaction before it commits: each table's row count and a
checksum of its rows in key order, every batch, and the figures of every year and
quarter. Any difference rolls everything back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kpi import rollups
from kpi.engine import Engine
from kpi.schema import ROW_TABLES, bulk_insert, meta, metadata, target_revisions
from kpi.store import Store, StoreError

CHUNK_ROWS = 50_000  # rows read, checked and written at a time: memory stays flat
FILE_CHUNK_ROWS = 4  # original workbooks can be tens of MB each
QUARTERS = (1, 2, 3, 4)

# Tables whose size grows with the data go through bulk_insert (COPY on PostgreSQL); the
# records (batches, files, plans, audit …) through SQLAlchemy, which knows how each
# database stores a timestamp.
_BULK = frozenset({*ROW_TABLES.values(), *(s.table for s in rollups.SUMMARIES)})


class CopyError(StoreError):
    """A copy refused or not verified; nothing was written to the target."""


@dataclass(frozen=True)
class CopyResult:
    """What was copied: both URLs without passwords and each table's row count."""

    source: str
    target: str
    tables: dict[str, int]
    verified: bool = True

    def as_json(self) -> dict:
        return {
            "from": self.source,
            "to": self.target,
            "tables": dict(self.tables),
            "verified": self.verified,
        }


def safe_url(url: str) -> str:
    """A database URL fit to print or record: the password, if any, masked."""
    return sa.make_url(url).render_as_string(hide_password=True)


def copy_store(source_url: str, target_url: str, who: str = "local") -> CopyResult:
    """Copy every table of the source store into an empty target store, then verify it.

    Both stores are first brought to the newest migration. Raises CopyError (zh-TW / en)
    when the target already holds data or when the copy does not verify; the target is
    then left exactly as it was.
    """
    source, target = Store(source_url), Store(target_url)
    shown_source, shown_target = safe_url(source.url), safe_url(target.url)
    try:
        if sa.make_url(source.url) == sa.make_url(target.url):
            raise CopyError(
                "來源與目的是同一個資料庫。", "The source and the target are the same database."
            )
        with _snapshot(source) as src, target._write() as dst:
            _refuse_unless_empty(dst)
            versions = (_version(src), _version(dst))
            dst.execute(sa.delete(meta))  # the target takes the source's flags
            sums = {t.name: _copy_table(src, dst, t) for t in metadata.sorted_tables}
            if dst.dialect.name == "postgresql":
                _reset_sequences(dst)
            _verify(src, dst, sums)
            # A dashboard open on the target keyed its caches on the target's version; the
            # write's bump lifts it above both numbers, so no cache can match the copy.
            dst.execute(sa.delete(meta).where(meta.c.key == "version"))
            dst.execute(sa.insert(meta).values(key="version", value=str(max(versions))))
            counts = {name: s.rows for name, s in sums.items()}
            Store._audit(dst, who, "copy", {"from": shown_source, "tables": counts})
    finally:
        source.dispose()
        target.dispose()
    return CopyResult(shown_source, shown_target, counts)


@contextmanager
def _snapshot(store: Store) -> Iterator[Connection]:
    """One read transaction on the source: every table and figure as of the same moment."""
    with store.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        # SQLite in WAL mode: a deferred transaction reads one snapshot from its first read.
        with conn.begin():
            yield conn


def _refuse_unless_empty(conn: Connection) -> None:
    held = [
        t.name
        for t in metadata.sorted_tables
        if t is not meta and conn.execute(sa.select(sa.literal(1)).select_from(t).limit(1)).first()
    ]
    if held:
        names = ", ".join(held)
        raise CopyError(
            f"目的資料庫已有資料（{names}），不會覆寫。請複製到一個空的資料庫。",
            f"The target database already holds data ({names}); nothing was overwritten. "
            "Copy into an empty database.",
        )


def _version(conn: Connection) -> int:
    value = conn.execute(sa.select(meta.c.value).where(meta.c.key == "version")).scalar()
    return int(value or 0)


def _in_key_order(conn: Connection, t: sa.Table) -> sa.Select:
    """All of a table's rows in primary-key order, text compared byte by byte on both
    databases (PostgreSQL's default collation would sort differently from SQLite)."""
    pg = conn.dialect.name == "postgresql"
    key = [
        c.collate("C") if pg and isinstance(c.type, sa.String) else c for c in t.primary_key.columns
    ]
    chunk = FILE_CHUNK_ROWS if any(isinstance(c.type, sa.LargeBinary) for c in t.c) else CHUNK_ROWS
    return sa.select(t).order_by(*key).execution_options(yield_per=chunk)


def _canonical(kind: sa.types.TypeEngine) -> Callable[[object], object] | None:
    """How a column's values are put in one form both databases give back for the same data.

    None where the driver's values already agree (int, str, bool through SQLAlchemy's
    types); a float is compared exactly, but -0.0 is 0.0, as SQLite stores it.
    """
    if isinstance(kind, sa.Float):
        return lambda v: None if v is None else float(v) + 0.0
    if isinstance(kind, sa.Date | sa.DateTime):
        return lambda v: None if v is None else v.isoformat()
    if isinstance(kind, sa.LargeBinary):
        return lambda v: None if v is None else hashlib.sha256(bytes(v)).hexdigest()
    return None


class _Checksum:
    """A running SHA-256 of each column of a table read in key order, and the row count.

    Column by column, one value a line: the sums do not depend on how the rows were
    chunked, and the values are written out by C code rather than a Python loop per row.
    """

    def __init__(self, t: sa.Table) -> None:
        self._forms = [_canonical(c.type) for c in t.columns]
        self._hashes = [hashlib.sha256() for _ in t.columns]
        self.rows = 0

    def add(self, rows: list[tuple]) -> None:
        if not rows:
            return
        columns = zip(*rows, strict=True)
        for form, h, values in zip(self._forms, self._hashes, columns, strict=True):
            shown = map(repr, values if form is None else map(form, values))
            h.update(("\n".join(shown) + "\n").encode())
        self.rows += len(rows)

    def hexdigest(self) -> str:
        return hashlib.sha256("".join(h.hexdigest() for h in self._hashes).encode()).hexdigest()


def _copy_table(src: Connection, dst: Connection, t: sa.Table) -> _Checksum:
    """Stream one table from the source to the target, summing what was read."""
    checksum = _Checksum(t)
    result = src.execute(_in_key_order(src, t))
    names = list(result.keys())
    for part in result.partitions():
        rows = [tuple(r) for r in part]
        checksum.add(rows)
        if t in _BULK:
            bulk_insert(dst, t, pd.DataFrame(rows, columns=names, dtype=object))
        else:
            dst.execute(sa.insert(t), [dict(zip(names, r, strict=True)) for r in rows])
    return checksum


def _reset_sequences(conn: Connection) -> None:
    """Rows came with their ids: the next id each sequence hands out follows the largest."""
    for t in metadata.sorted_tables:
        key = list(t.primary_key.columns)
        if len(key) != 1 or not isinstance(key[0].type, sa.Integer):
            continue
        # pg_get_serial_sequence is NULL for a key without a sequence; setval(NULL) is a no-op.
        conn.execute(
            sa.select(
                sa.func.setval(
                    sa.func.pg_get_serial_sequence(t.name, key[0].name),
                    sa.func.coalesce(sa.func.max(key[0]), 0) + 1,
                    False,
                )
            ).select_from(t)
        )


class _Pinned(Store):
    """A store read through one open connection: what that transaction sees."""

    def __init__(self, conn: Connection) -> None:
        self.url = conn.engine.url.render_as_string(hide_password=True)
        self.engine = conn.engine
        self._conn = conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        yield self._conn

    def version(self) -> int:
        return _version(self._conn)


def _verify(src: Connection, dst: Connection, sums: dict[str, _Checksum]) -> None:
    """Compare the target with the source snapshot: rows, batches and figures."""
    problems = []
    for t in metadata.sorted_tables:
        got = _Checksum(t)
        for part in dst.execute(_in_key_order(dst, t)).partitions():
            got.add([tuple(r) for r in part])
        want = sums[t.name]
        if got.rows != want.rows:
            problems.append(f"{t.name}: {want.rows} → {got.rows} rows")
        elif got.hexdigest() != want.hexdigest():
            problems.append(f"{t.name}: rows differ")
    before, after = _Pinned(src), _Pinned(dst)
    if before.batches() != after.batches():
        problems.append("batches")
    old = Engine(before)
    new = Engine(after, catalog=old.catalog)
    years = set(old.years()) | set(
        src.execute(sa.select(target_revisions.c.year).distinct()).scalars()
    )
    if new.years() != old.years():
        problems.append("years")
    for year in sorted(years):
        for quarter in QUARTERS:
            if old.status(year, quarter).as_json() != new.status(year, quarter).as_json():
                problems.append(f"status {year} Q{quarter}")
    if problems:
        details = "; ".join(problems)
        raise CopyError(
            f"複製結果與來源不符（{details}），目的資料庫維持原狀，未寫入任何資料。",
            f"The copy did not match the source ({details}); it was rolled back and "
            "nothing was written to the target.",
        )

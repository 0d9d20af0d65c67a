"""SQLite: the store's thread copies the log into the database file (commits do not), and
WAL mode is set even when another process holds the lock at that moment."""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from kpi.checkpoint import Checkpointer
from kpi.paths import ROOT
from kpi.store import Store, _journal_mode_wal, make_engine

ROWS = pd.DataFrame(
    {
        "year": [108] * 3,
        "month": [1, 2, 3],
        "mission": ["駐日本代表處"] * 3,
        "region": ["亞太"] * 3,
        "visa_type": ["停留簽證"] * 3,
        "applications": pd.array([10, 20, 30], dtype="Int64"),
        "issued": pd.array([9, 18, 27], dtype="Int64"),
        "refused": pd.array([1, 2, 3], dtype="Int64"),
        "avg_days": [4.5, 5.0, None],
    }
)


def _file_alone(db: Path, tmp_path: Path) -> sqlite3.Connection:
    """The database file as it is on disk, without its log (what a checkpoint copied)."""
    copy = tmp_path / "alone.sqlite3"
    shutil.copyfile(db, copy)
    return sqlite3.connect(copy)


def _audit_actions(conn: sqlite3.Connection) -> list[str]:
    try:
        return [a for (a,) in conn.execute("SELECT action FROM audit ORDER BY id")]
    except sqlite3.OperationalError:  # not even the table has reached the file
        return []


def test_a_commit_leaves_the_log_uncopied(tmp_path: Path) -> None:
    # The control: without the store's thread, committed rows stay in the log only.
    db = tmp_path / "kpi.sqlite3"
    Store(f"sqlite:///{db}").dispose()
    engine = make_engine(f"sqlite:///{db}")
    with engine.connect() as reader:  # an open connection: closing does not checkpoint
        reader.exec_driver_sql("SELECT 1").all()
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO audit (at, who, action, detail) VALUES ('2019-01-01', 'x', 'raw', '{}')"
            )
        assert engine.connect().exec_driver_sql("SELECT count(*) FROM audit").scalar() == 1
        assert "raw" not in _audit_actions(_file_alone(db, tmp_path))
    engine.dispose()


def test_the_store_copies_the_log_after_its_writes(tmp_path: Path) -> None:
    db = tmp_path / "kpi.sqlite3"
    store = Store(f"sqlite:///{db}")
    with store.engine.connect() as reader:
        reader.exec_driver_sql("SELECT 1").all()
        store.record("tester", "first", {})
        store.import_frames({"visa": ROWS}, file_name="v.xlsx", content=b"v")
        store._checkpointer.close()  # waits for the copy that was asked for
        alone = _file_alone(db, tmp_path)
        assert "first" in _audit_actions(alone)
        assert alone.execute("SELECT count(*) FROM visa_rows WHERE current").fetchone() == (3,)
        # After close, the next write starts a thread again.
        store.record("tester", "second", {})
        store._checkpointer.close()
        assert "second" in _audit_actions(_file_alone(db, tmp_path))
    store.dispose()


def test_dispose_finishes_the_copy(tmp_path: Path) -> None:
    db = tmp_path / "kpi.sqlite3"
    store = Store(f"sqlite:///{db}")
    other = make_engine(f"sqlite:///{db}")
    with other.connect() as reader:  # another process's connection stays open
        reader.exec_driver_sql("SELECT 1").all()
        store.record("tester", "before dispose", {})
        store.dispose()
        assert "before dispose" in _audit_actions(_file_alone(db, tmp_path))
    other.dispose()


def test_memory_and_postgresql_stores_have_no_thread(pg_store: Store) -> None:
    memory = Store("sqlite:///:memory:")
    assert memory._checkpointer is None
    memory.record("tester", "in memory", {})  # no thread, nothing to copy: no error
    assert pg_store._checkpointer is None


def test_a_failed_copy_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        def raw_connection(self):
            raise sa.exc.OperationalError("PRAGMA", {}, Exception("disk I/O error"))

    with caplog.at_level(logging.WARNING, logger="kpi.checkpoint"):
        Checkpointer(Broken()).checkpoint()
    assert "copying the SQLite log" in caplog.text


def test_requests_while_copying_coalesce_and_none_is_lost(tmp_path: Path) -> None:
    calls: list[int] = []
    started, release = threading.Event(), threading.Event()

    class Slow(Checkpointer):
        def checkpoint(self) -> None:
            calls.append(1)
            started.set()
            release.wait(5)

    c = Slow(make_engine(f"sqlite:///{tmp_path / 'x.sqlite3'}"))
    c.request()
    assert started.wait(5)
    for _ in range(5):  # asked again while the first copy runs: one more copy, not five
        c.request()
    release.set()
    c.close()
    assert len(calls) == 2


def test_a_process_that_ends_without_dispose_finishes_the_copy(tmp_path: Path) -> None:
    # The CLI never disposes its store; another process keeps the database open, so the
    # last connection's own checkpoint on close does not happen either.
    db = tmp_path / "kpi.sqlite3"
    Store(f"sqlite:///{db}").dispose()
    other = make_engine(f"sqlite:///{db}")
    with other.connect() as reader:
        reader.exec_driver_sql("SELECT 1").all()
        script = (
            "import sys; from kpi.store import Store; "
            "Store(sys.argv[1]).record('cli', 'from a process', {})"
        )
        subprocess.run(
            [sys.executable, "-c", script, f"sqlite:///{db}"],
            check=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            timeout=60,
        )
        assert "from a process" in _audit_actions(_file_alone(db, tmp_path))
    other.dispose()


class _LockedCursor:
    """A cursor whose journal_mode pragma meets a held lock a few times, then goes through."""

    def __init__(self, locked: int, error: str = "database is locked") -> None:
        self.locked, self.error, self.calls = locked, error, 0

    def execute(self, sql: str):
        self.calls += 1
        if self.calls <= self.locked:
            raise sqlite3.OperationalError(self.error)
        return self

    def fetchall(self) -> list:
        return [("wal",)]


def test_switching_to_wal_waits_out_a_lock_sqlite_does_not_wait_for() -> None:
    # Two processes opening a new file at once: one of them met "database is locked" at
    # once (the busy timeout does not cover this pragma) and failed to start.
    cur = _LockedCursor(locked=3)
    _journal_mode_wal(cur)
    assert cur.calls == 4


def test_switching_to_wal_gives_up_after_its_wait_and_on_other_errors() -> None:
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        _journal_mode_wal(_LockedCursor(locked=10**6), wait=0.1)
    other = _LockedCursor(locked=1, error="disk I/O error")
    with pytest.raises(sqlite3.OperationalError, match="disk"):
        _journal_mode_wal(other)
    assert other.calls == 1

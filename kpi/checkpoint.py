"""Copying SQLite's write-ahead log into the database file after a write, in a thread.

SQLite's automatic checkpoint runs inside the commit that takes the log past 1,000 pages:
the commit of a 200,000-row import waited 0.10–0.15 s while about 30 MB were copied into
the database file and synced. ``make_engine`` switches it off (``wal_autocheckpoint=0``),
so a commit only appends to the log, and the store asks this thread to copy the log
after each write it commits.

The copy is PASSIVE: it never waits for readers or writers. One cut short, or never made
because the process ended first, loses nothing: the log holds the committed data, every
connection reads it, and the next copy (or the last connection to close) finishes it.
"""

from __future__ import annotations

import atexit
import logging
import threading
import weakref

from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

# Threads that may still have a copy to make: a process that ends without disposing its
# store (the CLI) finishes them before it exits, instead of leaving the copy to the next.
_running: weakref.WeakSet[Checkpointer] = weakref.WeakSet()


@atexit.register
def _finish_at_exit() -> None:
    for checkpointer in list(_running):
        checkpointer.close()


class Checkpointer:
    """One background thread per store; requests made while it copies coalesce."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._cond = threading.Condition()
        self._pending = False
        self._stop = False
        self._thread: threading.Thread | None = None

    def request(self) -> None:
        """Copy the log soon; returns at once."""
        with self._cond:
            self._pending = True
            if self._thread is None:
                self._stop = False
                self._thread = threading.Thread(
                    target=self._run, name="kpi-checkpoint", daemon=True
                )
                self._thread.start()
                _running.add(self)
            self._cond.notify()

    def close(self) -> None:
        """Make the copy still asked for and stop the thread; a later request starts one."""
        with self._cond:
            thread = self._thread
            self._stop = True
            self._cond.notify()
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._stop:
                    self._cond.wait()
                if not self._pending:
                    self._thread = None
                    return
                self._pending = False
            self.checkpoint()

    def checkpoint(self) -> None:
        """One PASSIVE checkpoint on a pooled connection (outside any transaction)."""
        try:
            raw = self._engine.raw_connection()
            try:
                cursor = raw.cursor()
                cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
                cursor.fetchall()
                cursor.close()
            finally:
                raw.close()
        except Exception:  # the log keeps everything; the next write asks again
            log.warning("copying the SQLite log into the database failed", exc_info=True)

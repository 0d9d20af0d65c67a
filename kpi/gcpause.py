"""Pausing Python's cycle collector while an import builds millions of plain objects.

Reading a 200,000-row sheet makes a list per row, and storing it a tuple per row: each
700 new containers start a collection, and a collection looks at every container alive,
rows already read included. A 200k-row import started 290 of them, 0.23 s in all, and
they found 4,324 objects in cycles (library bookkeeping; cells, rows and frames hold
none). Reference counting still frees everything else as usual; those few wait for the
first collection after the import.

The collector is one per process and imports may run in several threads at once: the
first to enter pauses it, the last to leave resumes it, and only if it was running.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_inside = 0
_was_enabled = False


@contextmanager
def paused() -> Iterator[None]:
    """No automatic cycle collection inside; the collector's state is restored after."""
    global _inside, _was_enabled
    with _lock:
        if _inside == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _inside += 1
    try:
        yield
    finally:
        with _lock:
            _inside -= 1
            if _inside == 0 and _was_enabled:
                gc.enable()

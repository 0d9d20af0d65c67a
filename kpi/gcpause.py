"""Pausing Python's cycle collector while an import builds millions of plain objects.

Reading a 200,000-row sheet makes a list per row, and storing it a tuple per row: each
700 new containers start a collection, and a collection looks at every container alive,
rows already read included — hundreds of passes that find no cycles (cells, rows and
frames hold none) and cost about a tenth of an import. Reference counting still frees
everything as usual; only the search for cycles waits until the import is done.

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

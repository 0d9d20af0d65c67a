"""2. Figures: `kpi status` for one quarter, cold in a fresh process and warm after it.

Each cold run is a fresh process (``python -m bench.figures URL``), so nothing is cached
in-process: it builds the store and the engine and loads the plan (start-up, reported
apart), then times the first status call (cold) and a few more (warm).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

from bench.measure import Timing, elapsed_ms, emit, run_child, timed
from bench.report import Row, Target
from kpi.engine import Engine
from kpi.store import Store

YEAR, QUARTER = 108, 2
COLD = Target(200, "ms")
WARM = Target(20, "ms")
WARM_CALLS = 5


@dataclass(frozen=True)
class StatusTimes:
    startup: Timing
    cold: Timing
    warm: Timing  # every warm call of every process


def measure(url: str, runs: int) -> StatusTimes:
    """``runs`` fresh processes, each timing one cold and WARM_CALLS warm status calls."""
    children = [run_child("bench.figures", url) for _ in range(runs)]
    return StatusTimes(
        Timing(tuple(c["startup_ms"] for c in children)),
        Timing(tuple(c["cold_ms"] for c in children)),
        Timing(tuple(ms for c in children for ms in c["warm_ms"])),
    )


def rows(label: str, times: StatusTimes) -> list[Row]:
    return [
        Row(f"{label}: start-up (Store, Engine, plan)", times.startup),
        Row(f"{label}: status cold (first call)", times.cold, target=COLD),
        Row(f"{label}: status warm (calls 2–{WARM_CALLS + 1})", times.warm, target=WARM),
    ]


def main(argv: list[str]) -> int:
    """The child: one store URL in, one JSON line out."""
    start = time.perf_counter()
    engine = Engine(Store(argv[0]))
    engine.plan(YEAR)
    startup = (time.perf_counter() - start) * 1000
    status, cold = timed(lambda: engine.status(YEAR, QUARTER))
    if not any(k.actual is not None for k in status.kpis):
        raise SystemExit("the store has no figures for the quarter: is it empty?")
    warm = [elapsed_ms(lambda: engine.status(YEAR, QUARTER)) for _ in range(WARM_CALLS)]
    engine.store.dispose()
    emit({"startup_ms": startup, "cold_ms": cold, "warm_ms": warm})
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

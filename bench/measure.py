"""Timing, memory and machine facts, and running a measurement in a fresh process."""

from __future__ import annotations

import json
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from kpi.paths import ROOT

T = TypeVar("T")


@dataclass(frozen=True)
class Timing:
    """Several runs of one measurement, in milliseconds."""

    runs_ms: tuple[float, ...]

    @property
    def min(self) -> float:
        return min(self.runs_ms)

    @property
    def median(self) -> float:
        return statistics.median(self.runs_ms)

    @property
    def max(self) -> float:
        return max(self.runs_ms)

    def as_json(self) -> dict:
        return {
            "runs_ms": [round(r, 1) for r in self.runs_ms],
            "min_ms": round(self.min, 1),
            "median_ms": round(self.median, 1),
            "max_ms": round(self.max, 1),
        }


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    """One call's result and its wall time in milliseconds."""
    start = time.perf_counter()
    result = fn()
    return result, (time.perf_counter() - start) * 1000


def elapsed_ms(fn: Callable[[], object]) -> float:
    """Wall time of one call, in milliseconds."""
    return timed(fn)[1]


def repeat(
    fn: Callable[[], object], runs: int, setup: Callable[[], object] | None = None
) -> Timing:
    """``runs`` timed calls of ``fn``, each after an untimed ``setup``."""
    out = []
    for _ in range(runs):
        if setup is not None:
            setup()
        out.append(elapsed_ms(fn))
    return Timing(tuple(out))


# -- memory -----------------------------------------------------------------------------------


def _status_kb(field: str, pid: int | str) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(field + ":"):
                return float(line.split()[1])
    raise KeyError(field)


def peak_rss_mb(pid: int | str = "self") -> float:
    """The process's peak resident set (VmHWM) so far, in MB."""
    return _status_kb("VmHWM", pid) / 1024


def rss_mb(pid: int | str = "self") -> float:
    """The process's resident set (VmRSS) now, in MB."""
    return _status_kb("VmRSS", pid) / 1024


# -- child processes ------------------------------------------------------------------------------


def run_child(module: str, *args: str, timeout: float = 1800) -> dict:
    """Run ``python -m module args`` and return the JSON document it prints last."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"python -m {module} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def emit(document: dict) -> None:
    """A child's result: one JSON line on stdout (run_child reads the last line)."""
    sys.stdout.write(json.dumps(document) + "\n")


# -- the machine --------------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram_gb() -> float:
    with open("/proc/meminfo", encoding="ascii") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    return 0.0


def machine(pg_version: str | None) -> dict:
    """What the figures were measured on."""
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gb": _ram_gb(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "postgresql": pg_version,
    }

"""3. Pages: the server-side run time of every page in AppTest, cold and warm.

Runs in a fresh process (``python -m bench.pages URL RUNS``) so its memory figures are its
own. A first untimed pass over every page is start-up (the engine resource, the imports
each page pulls in); then, per run and page, "cold" is a run after st.cache_data is
cleared and "warm" the same session's next run with the caches filled. Pages show the
app's default view: the newest year and its latest quarter with data.
"""

from __future__ import annotations

import ast
import os
import sys
from dataclasses import dataclass

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

from bench.measure import Timing, emit, peak_rss_mb, run_child, timed
from bench.report import Row, Target
from kpi.i18n import ZH
from kpi.paths import ROOT

COLD = Target(1000, "ms")
WARM = Target(150, "ms")
APP_TIMEOUT = 600  # seconds; a page on a large store may be slow, never endless


def page_list() -> list[tuple[str, str, str]]:
    """(file, url key, icon) of every page, read from dashboard.py without running it."""
    tree = ast.parse((ROOT / "dashboard.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "PAGES" for t in node.targets
        ):
            return ast.literal_eval(node.value)
    raise RuntimeError("dashboard.py has no PAGES list")


@dataclass(frozen=True)
class PageTimes:
    cold: Timing
    warm: Timing
    errors: tuple[str, ...]


@dataclass(frozen=True)
class PagesResult:
    pages: dict[str, PageTimes]
    peak_rss_start_mb: float  # the bench child's VmHWM after its imports
    peak_rss_end_mb: float  # … and after every page ran


def measure(url: str, runs: int) -> PagesResult:
    child = run_child("bench.pages", url, str(runs))
    pages = {
        key: PageTimes(Timing(tuple(p["cold_ms"])), Timing(tuple(p["warm_ms"])), tuple(p["errors"]))
        for key, p in child["pages"].items()
    }
    return PagesResult(pages, child["peak_rss_start_mb"], child["peak_rss_end_mb"])


def rows(result: PagesResult, label: str = "") -> list[Row]:
    out = []
    for key, p in result.pages.items():
        name = f"{label}{key}" + (" (shows an error)" if p.errors else "")
        out.append(Row(f"{name}: cold", p.cold, target=COLD))
        out.append(Row(f"{name}: warm", p.warm, target=WARM))
    return out


def error_notes(result: PagesResult, label: str = "") -> list[str]:
    return [
        f"{label}{key} showed: {'; '.join(p.errors)[:300]}"
        for key, p in result.pages.items()
        if p.errors
    ]


# -- the child ------------------------------------------------------------------------------


def _stay_in_navigation_mode() -> None:
    # With a pages/ folder beside the main script every AppTest run starts in Streamlit's
    # old multipage mode, which runs a page file alone (no dashboard.py, no sidebar); a
    # real server leaves it at its first st.navigation call. Start in navigation mode.
    original = PagesManager.__init__

    def init(self, *args, **kwargs) -> None:
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    PagesManager.__init__ = init


def _app(page: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=APP_TIMEOUT)
    at.session_state["lang"] = ZH
    at.switch_page(page)
    return at


def _problems(at: AppTest) -> list[str]:
    return [str(e.value) for e in at.exception] + [str(e.value) for e in at.error]


def main(argv: list[str]) -> int:
    """The child: store URL and number of runs in, one JSON line out."""
    url, runs = argv[0], int(argv[1])
    os.environ["KPI_DATABASE_URL"] = url
    _stay_in_navigation_mode()
    pages = page_list()
    start_mb = peak_rss_mb()
    for path, _, _ in pages:
        _app(path).run()
    out = {key: {"cold_ms": [], "warm_ms": [], "errors": []} for _, key, _ in pages}
    for _ in range(runs):
        for path, key, _ in pages:
            st.cache_data.clear()
            at = _app(path)
            at, cold = timed(at.run)
            errors = _problems(at)
            _, warm = timed(at.run)
            out[key]["cold_ms"].append(cold)
            out[key]["warm_ms"].append(warm)
            out[key]["errors"] = sorted(set(out[key]["errors"]) | set(errors))
    emit({"pages": out, "peak_rss_start_mb": start_mb, "peak_rss_end_mb": peak_rss_mb()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""4. Browser and 5. memory: a real `streamlit run` on a store, driven by headless Chromium.

The overview is timed from the start of navigation until every Plotly chart on it has
drawn (each .js-plotly-plot holds its .main-svg) and the app is idle. Each timed visit
is a new browser context (a new session, nothing in the browser's cache) on a server
whose caches an earlier visit has filled; the very first visit after the server started
is reported apart. Then every page is visited once, so that the server's peak memory
(VmHWM) covers them all. Last, with that server stopped, bench/reference_app.py (two small
charts and nothing else) is timed the same way: what Streamlit and Plotly cost on this
machine, the yardstick for the overview's time when machines differ.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from bench.measure import Timing, peak_rss_mb, rss_mb
from bench.pages import page_list
from bench.report import Row, Target
from kpi.paths import ROOT

OVERVIEW = Target(2500, "ms")
REFERENCE_APP = Path(__file__).with_name("reference_app.py")
REFERENCE_CHARTS = 2
SERVER_PEAK = Target(500, "MB")
CHROMIUM = os.environ.get("KPI_CHROMIUM", "/usr/bin/chromium")
# As in the end-to-end tests: no sandbox (root in containers), no calls to Google's services.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 300_000

# Streamlit has finished the script run: no "Running…" status, no stale or placeholder
# elements, and past a fresh server's first run in the legacy pages/ mode (whose sidebar
# lists the file common.py).
_IDLE = r"""() => {
    const s = document.querySelector('[data-testid="stStatusWidget"]');
    const side = document.querySelector('[data-testid="stSidebar"]');
    const legacy = side && /(^|\n)common(\n|$)/.test(side.innerText);
    const pending = document.querySelector('[data-testid="stSkeleton"], [data-stale="true"]');
    return !!document.querySelector('[data-testid="stApp"]')
        && (!s || !s.innerText.match(/Running|Connecting/i)) && !legacy && !pending;
}"""
_DRAWN = f"""(charts) => {{
    const plots = [...document.querySelectorAll('.js-plotly-plot')];
    return plots.length >= charts && plots.every(p => p.querySelector('.main-svg'))
        && ({_IDLE})();
}}"""


@dataclass(frozen=True)
class BrowserResult:
    first_visit_ms: float
    new_browser: Timing  # a new browser context per visit: nothing cached
    returning: Timing  # a new tab per visit in a context that has the app's assets cached
    reference: Timing  # bench/reference_app.py, new browser: what Streamlit + Plotly cost
    charts: int
    pages: tuple[str, ...]
    errors: tuple[str, ...]
    server_peak_mb: float
    server_rss_mb: float

    def rows(self) -> list[Row]:
        charts = f"{self.charts} charts drawn"
        return [
            Row("overview, first visit after server start", value=self.first_visit_ms),
            Row(f"overview, new browser, {charts}", self.new_browser, target=OVERVIEW),
            Row(f"overview, returning browser, {charts}", self.returning, target=OVERVIEW),
            Row("reference: a page of two small charts, new browser", self.reference),
            Row(
                "overview ÷ reference, new browser",
                value=self.new_browser.median / self.reference.median,
                unit="×",
            ),
        ]

    def memory_rows(self) -> list[Row]:
        return [
            Row(
                "streamlit server: peak RSS (VmHWM)",
                value=self.server_peak_mb,
                unit="MB",
                target=SERVER_PEAK,
            ),
            Row("streamlit server: RSS at the end", value=self.server_rss_mb, unit="MB"),
        ]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError("streamlit did not become healthy")


@contextmanager
def _server(
    store_url: str, log_path: Path, script: Path = ROOT / "dashboard.py"
) -> Iterator[tuple[str, int]]:
    """`streamlit run <script>` on a free port (the app's config): its address and pid."""
    port = _free_port()
    env = {**os.environ, "KPI_DATABASE_URL": store_url, "PYTHONPATH": str(ROOT)}
    command = [
        sys.executable, "-m", "streamlit", "run", str(script),
        "--server.port", str(port), "--server.address", "127.0.0.1",
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w") as log:
        proc = subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_healthy(url, proc)
            yield url, proc.pid
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _context(browser: Browser, errors: list[str]) -> BrowserContext:
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-TW")
    context.on("weberror", lambda error: errors.append(str(error.error)))
    return context


def _visit_overview(context: BrowserContext, url: str, charts: int) -> float:
    """Milliseconds from navigation until ``charts`` charts have drawn and the app is idle."""
    page = context.new_page()
    try:
        start = time.perf_counter()
        page.goto(f"{url}/", wait_until="commit", timeout=TIMEOUT_MS)
        page.wait_for_function(_DRAWN, arg=charts, timeout=TIMEOUT_MS)
        return (time.perf_counter() - start) * 1000
    finally:
        page.close()


def _settle(page: Page) -> None:
    for _ in range(2):  # twice: a rerun can start right after the first idle moment
        page.wait_for_function(_IDLE, timeout=TIMEOUT_MS)
        page.wait_for_timeout(700)


def _count_charts(context: BrowserContext, url: str) -> int:
    page = context.new_page()
    try:
        page.goto(f"{url}/", timeout=TIMEOUT_MS)
        _settle(page)
        return page.locator(".js-plotly-plot").count()
    finally:
        page.close()


def _visit_every_page(context: BrowserContext, url: str, errors: list[str]) -> list[str]:
    page = context.new_page()
    shown = []
    try:
        for _, key, _ in page_list():
            page.goto(f"{url}/{key}", timeout=TIMEOUT_MS)
            _settle(page)
            if page.locator('[data-testid="stException"]').count():
                errors.append(f"{key}: the page shows an exception")
            shown.append(key)
    finally:
        page.close()
    return shown


def _new_browser_visit(browser: Browser, url: str, charts: int, errors: list[str]) -> float:
    context = _context(browser, errors)
    try:
        return _visit_overview(context, url, charts)
    finally:
        context.close()


def run(store_url: str, runs: int, log_path: Path) -> BrowserResult:
    """Serve the store, time the overview ``runs`` times, visit every page, read the memory."""
    errors: list[str] = []
    with _server(store_url, log_path) as (url, pid), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            # The first visit pays start-up (the engine, the page modules) and cold caches.
            first = _new_browser_visit(browser, url, 1, errors)
            returning = _context(browser, errors)
            charts = _count_charts(returning, url)  # also fills this context's cache
            fresh = [_new_browser_visit(browser, url, charts, errors) for _ in range(runs)]
            again = [_visit_overview(returning, url, charts) for _ in range(runs)]
            pages = _visit_every_page(returning, url, errors)
            returning.close()
        finally:
            browser.close()
        peak, rss = peak_rss_mb(pid), rss_mb(pid)
    reference = _reference(store_url, runs, log_path.with_name("streamlit-reference.log"), errors)
    return BrowserResult(
        first_visit_ms=first,
        new_browser=Timing(tuple(fresh)),
        returning=Timing(tuple(again)),
        reference=reference,
        charts=charts,
        pages=tuple(pages),
        errors=tuple(errors),
        server_peak_mb=peak,
        server_rss_mb=rss,
    )


def _reference(store_url: str, runs: int, log_path: Path, errors: list[str]) -> Timing:
    """The reference page, timed as the overview in a new browser, once its server is warm."""
    with _server(store_url, log_path, REFERENCE_APP) as (url, _), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            _new_browser_visit(browser, url, REFERENCE_CHARTS, errors)  # start-up, untimed
            visits = [
                _new_browser_visit(browser, url, REFERENCE_CHARTS, errors) for _ in range(runs)
            ]
        finally:
            browser.close()
    return Timing(tuple(visits))

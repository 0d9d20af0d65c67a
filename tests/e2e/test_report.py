"""The briefing report's HTML in a real headless Chromium with the network cut off: every
chart draws, nothing fails to load, and it prints on A4 with each goal on a page of its own."""

from __future__ import annotations

import re

import pytest

from kpi import report
from kpi.engine import Engine
from kpi.store import Store

pytestmark = pytest.mark.e2e

YEAR = 108


@pytest.fixture(scope="module")
def report_file(tmp_path_factory):
    """The sample year's report for the third quarter, written with the engine the CLI uses."""
    tmp = tmp_path_factory.mktemp("report")
    store = Store(f"sqlite:///{tmp / 'kpi.sqlite3'}")
    try:
        engine = Engine(store)
        engine.first_run()
        rep = report.build_report(engine, YEAR, 3)
        path = tmp / "report.html"
        path.write_bytes(report.to_html(rep))
    finally:
        store.dispose()
    return path, rep


def pdf_pages(pdf: bytes) -> int:
    """Page objects in a PDF (Chromium writes them uncompressed: /Type /Page)."""
    return len(re.findall(rb"/Type\s*/Page(?!s)", pdf))


def test_the_report_draws_offline_and_prints_on_a4(browser, report_file):
    path, rep = report_file
    url = path.as_uri()
    context = browser.new_context()
    blocked: list[str] = []

    def only_the_file(route) -> None:
        if route.request.url == url:
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    context.route("**/*", only_the_file)
    page = context.new_page()
    failed: list[str] = []
    page_errors: list[str] = []
    console_errors: list[str] = []
    page.on("requestfailed", lambda r: failed.append(r.url))
    page.on("pageerror", lambda e: page_errors.append(str(e)))
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    try:
        page.goto(url, wait_until="load")
        charts = page.locator(".plotly-graph-div")
        expected = len(rep.goals) + (1 if rep.budget.month else 0)
        assert charts.count() == expected > len(rep.goals) > 0
        page.wait_for_function(
            "n => document.querySelectorAll('.plotly-graph-div .main-svg').length >= 2 * n",
            arg=expected,
            timeout=30_000,
        )
        # Every chart drew (Plotly writes two .main-svg layers per chart), each its own.
        for i in range(expected):
            assert charts.nth(i).locator(".main-svg").count() >= 1
            assert charts.nth(i).locator(".scatterlayer .trace, .barlayer .trace").count() >= 1
        assert page.locator("section.goal").count() == len(rep.goals)
        assert (blocked, failed, page_errors, console_errors) == ([], [], [], [])

        page.emulate_media(media="print")
        pdf = page.pdf(format="A4", print_background=True)
    finally:
        context.close()
    assert pdf.startswith(b"%PDF")
    # A page break before each goal and before the budget: the summary, then one page or more each.
    assert pdf_pages(pdf) >= len(rep.goals) + 2

"""Scale-out: two `streamlit run` servers on one PostgreSQL store, driven in Chromium.

A workbook imported through server A's upload page, and its undo, show on server B's
overview at B's next page run, although B had the old figures in its caches: every cache
is keyed on the store's version, which a write from any process changes.
"""

from __future__ import annotations

import contextlib
import os
import time
import urllib.request
import uuid

import pytest
import sqlalchemy as sa
from playwright.sync_api import Error as PlaywrightError

from kpi.paths import ROOT
from tests.conftest import PG_URL, _pg_schema_url
from tests.e2e.conftest import load_sample, streamlit_server, wait_for_app
from tests.e2e.test_browser import _assert_clean, _k41_value, _kpi_workbook

pytestmark = pytest.mark.e2e

QUERY = "?lang=zh-TW&year=108&quarter=1"
SAMPLE_K41 = "48"  # K4.1 in the sample year's first quarter
IMPORTED_K41 = 777


@pytest.fixture(scope="module")
def replicas(tmp_path_factory):
    """Servers A and B on two ports, one PostgreSQL schema (the sample year loaded once)."""
    tmp = tmp_path_factory.mktemp("scaleout")
    schema = f"kpi_e2e_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    env = {**os.environ, "KPI_DATABASE_URL": _pg_schema_url(schema), "PYTHONPATH": str(ROOT)}
    env.pop("KPI_USERS_FILE", None)
    try:
        load_sample(env)
        with contextlib.ExitStack() as stack:
            yield [
                stack.enter_context(streamlit_server(env, tmp / f"streamlit_{i}.log"))
                for i in range(2)
            ]
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def two_pages(browser):
    """A browser tab for each server, each in a context (cookies, session) of its own."""
    contexts = [
        browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-TW")
        for _ in range(2)
    ]
    pages = [c.new_page() for c in contexts]
    for pg in pages:
        pg.errors = []
        pg.on("pageerror", lambda exc, errors=pg.errors: errors.append(str(exc)))
    yield pages
    for c in contexts:
        c.close()


def _wait_k41(pg, expected: str, timeout: float = 30) -> None:
    """The overview's K4.1 card shows the value within the timeout."""
    deadline = time.monotonic() + timeout
    shown = None
    while time.monotonic() < deadline:
        try:
            shown = _k41_value(pg)
        except PlaywrightError:  # the card is being redrawn
            shown = None
        if shown == expected:
            return
        pg.wait_for_timeout(250)
    pytest.fail(f"K4.1 shows {shown!r}, expected {expected!r}")


def _rerun(pg) -> None:
    """Streamlit's "Rerun" (the R key): the same session runs its page script again."""
    pg.evaluate("document.activeElement?.blur()")  # the key must not land in a widget
    pg.keyboard.press("r")


def test_health_endpoint_on_every_replica(replicas):
    for url in replicas:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=5) as r:
            assert (r.status, r.read()) == (200, b"ok")


def test_an_import_and_its_undo_through_one_server_show_on_the_other(replicas, two_pages):
    url_a, url_b = replicas
    pa, pb = two_pages

    # B shows the sample figure, so B's caches hold it.
    pb.goto(f"{url_b}/{QUERY}")
    wait_for_app(pb)
    _assert_clean(pb)
    assert _k41_value(pb) == SAMPLE_K41

    # Import a changed K4.1 through A's upload page.
    pa.goto(f"{url_a}/upload{QUERY}")
    wait_for_app(pa)
    pa.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        files=[
            {
                "name": "K41_另一台伺服器.xlsx",
                "mimeType": "application/octet-stream",
                "buffer": _kpi_workbook(IMPORTED_K41),
            }
        ]
    )
    pa.get_by_role("button", name="匯入此檔").first.wait_for(timeout=60_000)
    wait_for_app(pa)
    pa.get_by_role("button", name="匯入此檔").first.click()
    pa.get_by_text("批次").first.wait_for(timeout=60_000)
    wait_for_app(pa)
    _assert_clean(pa)

    # B's open session, at its next run, and a fresh load of B both show the new value.
    _rerun(pb)
    _wait_k41(pb, str(IMPORTED_K41))
    pb.goto(f"{url_b}/{QUERY}")
    wait_for_app(pb)
    _wait_k41(pb, str(IMPORTED_K41))
    _assert_clean(pb)

    # Undo the batch through A's history page: B is back at the sample figure.
    pa.goto(f"{url_a}/history{QUERY}")
    wait_for_app(pa)
    pa.get_by_role("button", name="復原此批次…").click()
    wait_for_app(pa)
    pa.get_by_role("button", name="確認復原").click()
    wait_for_app(pa)
    _assert_clean(pa)

    _rerun(pb)
    _wait_k41(pb, SAMPLE_K41)
    pb.goto(f"{url_b}/{QUERY}")
    wait_for_app(pb)
    _wait_k41(pb, SAMPLE_K41)
    _assert_clean(pb)

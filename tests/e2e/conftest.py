"""A real `streamlit run` on localhost and a real headless Chromium (Debian's) driving it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from kpi.paths import ROOT

CHROMIUM = os.environ.get("KPI_CHROMIUM", "/usr/bin/chromium")
# Closed networks: Chromium must not try to reach Google's services (SPEC: works offline).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = ROOT / "docs" / "screenshots"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError("streamlit did not become healthy")


def load_sample(env: dict[str, str]) -> None:
    """The sample year into the store KPI_DATABASE_URL names, as `make run` does."""
    subprocess.run(
        [sys.executable, "-m", "kpi", "demo", "--first-run"],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
    )


@contextmanager
def streamlit_server(env: dict[str, str], log_path: Path) -> Iterator[str]:
    """`streamlit run dashboard.py` on a free port with this environment: its address."""
    port = _free_port()
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                str(ROOT / "dashboard.py"),
                "--server.port",
                str(port),
                "--server.address",
                "127.0.0.1",
                "--server.headless",
                "true",
                "--browser.gatherUsageStats",
                "false",
            ],  # fmt: skip
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_healthy(url, proc)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`streamlit run dashboard.py` on a free port with its own SQLite store (sample loaded)."""
    tmp = tmp_path_factory.mktemp("e2e")
    db = tmp / "kpi.sqlite3"
    env = {**os.environ, "KPI_DATABASE_URL": f"sqlite:///{db}", "PYTHONPATH": str(ROOT)}
    load_sample(env)
    with streamlit_server(env, tmp / "streamlit.log") as url:
        yield {"url": url, "db": db, "env": env, "log": tmp / "streamlit.log"}


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-TW")
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.errors = errors
    yield pg
    context.close()


def wait_for_app(pg, timeout: float = 60_000) -> None:
    """Until Streamlit has finished running the script (no 'Running…' indicator)."""
    pg.wait_for_selector('[data-testid="stApp"]', timeout=timeout)
    # Idle, and past a fresh server's first run in Streamlit's legacy pages/ mode (whose
    # sidebar lists file names such as "common"; see pages.common.require_entrypoint).
    idle = r"""() => {
        const s = document.querySelector('[data-testid="stStatusWidget"]');
        const side = document.querySelector('[data-testid="stSidebar"]');
        const legacy = side && /(^|\n)common(\n|$)/.test(side.innerText);
        const pending = document.querySelector('[data-testid="stSkeleton"], [data-stale="true"]');
        return (!s || !s.innerText.match(/Running|Connecting/i)) && !legacy && !pending;
    }"""
    for _ in range(2):  # twice: a rerun can start right after the first idle moment
        pg.wait_for_function(idle, timeout=timeout)
        pg.wait_for_timeout(700)


def screenshot(pg, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    pg.screenshot(path=str(path), full_page=True)
    return path

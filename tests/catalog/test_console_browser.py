"""A real browser: an officer logs in to `pseudolink serve console` and approves a request.

The screenshots go to a temporary folder; with PSEUDOLINK_SCREENSHOTS=docs/images they
refresh the ones docs/privacy-officer.md shows (a test run must not rewrite tracked files).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import catalog
from tests.catalog.conftest import make_request
from tests.conftest import skip_unless_ci

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "officer password 1"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only, overriding the SQLite/PostgreSQL parametrisation of tests/catalog.

    The browser drives the console, not the database: the AppTest tests already run
    every console action on both backends, and one Chromium run costs ten seconds.
    """
    return f"sqlite:///{tmp_path / 'workspace' / 'catalog.db'}"


@pytest.fixture
def served(cat: catalog.Catalog, people: dict, database_url: str, tmp_path: Path):
    if not Path(CHROMIUM).exists():
        skip_unless_ci(f"chromium missing at {CHROMIUM} (apt-get install -y chromium)")
    pytest.importorskip("playwright")
    cat.set_password("po1", PASSWORD, actor="root")
    make_request(cat, "housing-2026-secure-01", state="under_review")
    import pandas as pd

    import anonymize

    sido = ["서울"] * 12 + ["부산"] * 5 + ["대구"] * 5 + ["광주"] * 2 + ["울산"] * 2 + ["세종"]
    benefit = (["livelihood", "housing"] * 14)[:len(sido)]
    report = anonymize.risk_report(pd.DataFrame({"ssis__sido": sido, "ssis__benefit_type":
                                                 benefit}), ["ssis__sido"], "ssis__benefit_type")
    cat.attach_risk_report("housing-2026-secure-01", report.to_dict(), actor="po1")
    port = _free_port()
    workdir = tmp_path / "ws"
    env = {**os.environ, "PSEUDOLINK_DATABASE_URL": database_url}
    server = subprocess.Popen(
        [sys.executable, "-m", "pseudolink", "serve", "console", "--port", str(port),
         "--workdir", str(workdir)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.3)
        else:
            raise AssertionError("console did not start")
        yield f"http://127.0.0.1:{port}/"
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=20)


def test_officer_logs_in_and_approves_in_a_real_browser(served: str, cat: catalog.Catalog,
                                                        tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    images = Path(os.environ.get("PSEUDOLINK_SCREENSHOTS") or tmp_path)
    images.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(served)
        page.get_by_role("textbox", name="User").fill("po1", timeout=60_000)
        page.get_by_role("textbox", name="Password").fill(PASSWORD)
        page.screenshot(path=images / "console-login.png")
        page.get_by_role("button", name="Log in").click()
        page.get_by_text("Request housing-2026-secure-01 — under_review").wait_for(
            timeout=60_000)
        page.get_by_text("Equivalence-class sizes").wait_for()
        # The run finished and no chart is a loading skeleton: the screenshot shows them drawn.
        page.wait_for_function(
            "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
            " && !document.querySelector('[data-testid=\"stSkeleton\"]')"
            " && document.querySelectorAll('canvas').length >= 2", timeout=60_000)
        time.sleep(1)
        page.screenshot(path=images / "console-review.png", full_page=True)
        page.get_by_role("textbox", name="Reason for the decision").fill(
            "k = 5 over sido; outputs are aggregates checked in the room")
        page.get_by_role("button", name="Approve").click()
        page.get_by_text("Request housing-2026-secure-01 approved.").wait_for(timeout=60_000)
        page.screenshot(path=images / "console-approved.png", full_page=True)
        page.get_by_text("Decisions and releases").click()
        page.get_by_role("heading", name="Decisions, releases and expiry").wait_for()
        page.get_by_role("button", name="Activate access").wait_for()
        time.sleep(1)
        page.screenshot(path=images / "console-decisions.png", full_page=True)
        browser.close()
    assert cat.get_request("housing-2026-secure-01").state == "approved"
    assert (images / "console-approved.png").stat().st_size > 10_000

"""A real browser: a researcher logs in to `pseudolink serve portal`, searches the data
dictionary, drafts and submits a request, and sees it under review.

The screenshots go to a temporary folder; with PSEUDOLINK_SCREENSHOTS=docs/images they
refresh the ones docs/researcher.md shows (a test run must not rewrite tracked files).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

import catalog
from catalog.coltypes import utcnow
from catalog.portal.text import word
from tests.accounts import PASSWORD, person
from tests.browser import block_outside
from tests.catalog.conftest import make_request
from tests.conftest import skip_unless_ci

CHROMIUM = "/usr/bin/chromium"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: the browser drives pages whose catalog calls run on both backends."""
    return f"sqlite:///{tmp_path / 'workspace' / 'catalog.db'}"


@pytest.fixture
def served(cat: catalog.Catalog, people: dict, database_url: str, tmp_path: Path):
    if not Path(CHROMIUM).exists():
        skip_unless_ci(f"chromium missing at {CHROMIUM} (apt-get install -y chromium)")
    pytest.importorskip("playwright")
    person(cat, "alice", "researcher", password=PASSWORD)
    make_request(cat, "housing-2026-room-01", state="active", days=120)
    make_request(cat, "housing-2026-takeout-01", state="rejected")
    port = _free_port()
    env = {**os.environ, "PSEUDOLINK_DATABASE_URL": database_url}
    server = subprocess.Popen(
        [sys.executable, "-m", "pseudolink", "serve", "portal", "--port", str(port),
         "--workdir", str(tmp_path / "ws")],
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
            raise AssertionError("portal did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=20)


def test_researcher_drafts_and_submits_a_request_in_a_real_browser(
        served: str, cat: catalog.Catalog, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    images = Path(os.environ.get("PSEUDOLINK_SCREENSHOTS") or tmp_path)
    images.mkdir(parents=True, exist_ok=True)
    ko = lambda key: word(key, "ko")  # noqa: E731  (the page's own labels, in Korean)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="ko-KR")
        offline = block_outside(page)  # a separated network: loopback only
        page.goto(f"{served}/login")
        page.get_by_label(ko("user")).fill("alice")
        page.get_by_label(ko("password")).fill(PASSWORD)
        page.screenshot(path=images / "portal-researcher-login.png", full_page=True)
        page.get_by_role("button", name=ko("login")).click()
        page.get_by_role("heading", name=ko("nav_datasets")).wait_for()
        page.get_by_label(ko("search_hint")).fill("benefit")
        page.get_by_role("button", name=ko("search")).click()
        page.get_by_text("Combined housing data").wait_for()
        page.screenshot(path=images / "portal-researcher-dictionary.png", full_page=True)
        page.get_by_role("link", name=ko("request_this")).click()
        page.get_by_role("heading", name=ko("new_title")).wait_for()
        page.get_by_label("ssis__sido").check()
        page.get_by_label("ssis__benefit_type").check()
        page.get_by_label(ko("purpose")).select_option("scientific_research")
        page.get_by_label(ko("lawful_basis")).fill("개인정보 보호법 제28조의2")
        page.get_by_label(ko("justification")).fill("저소득층 주거 노후도 연구")
        page.get_by_label(ko("setting")).fill("결합전문기관 안전한 분석실")
        page.get_by_label(ko("outputs")).fill("최소 셀 10 이상의 집계표, 에어록 심사 후 반출")
        page.get_by_label(ko("ends")).fill((utcnow() + timedelta(days=180)).date().isoformat())
        page.screenshot(path=images / "portal-researcher-new.png", full_page=True)
        page.get_by_role("button", name=ko("save_draft")).click()
        page.get_by_role("button", name=ko("submit")).click()
        page.get_by_text(ko("state_submitted")).first.wait_for()
        request_id = page.url.split("/requests/")[1].split("?")[0]
        cat.start_review(request_id, actor="po1")
        page.reload()
        page.get_by_text(ko("state_under_review")).first.wait_for()
        page.get_by_role("button", name=ko("withdraw")).wait_for()
        page.screenshot(path=images / "portal-researcher-request.png", full_page=True)
        page.get_by_role("link", name=ko("nav_requests")).click()
        page.get_by_role("link", name=request_id).wait_for()
        page.screenshot(path=images / "portal-researcher-requests.png", full_page=True)
        page.goto(f"{served}/requests/housing-2026-takeout-01")
        page.get_by_text("too risky").first.wait_for()
        page.screenshot(path=images / "portal-researcher-rejected.png", full_page=True)
        page.get_by_role("link", name=ko("nav_access")).click()
        page.get_by_role("link", name=ko("open_hub")).wait_for()
        page.screenshot(path=images / "portal-researcher-access.png", full_page=True)
        # The same screens in English: the header's switch, remembered for the next pages.
        en = lambda key: word(key, "en")  # noqa: E731
        page.get_by_role("link", name=ko("language")).click()
        page.get_by_role("link", name=en("open_hub")).wait_for()
        page.screenshot(path=images / "portal-researcher-access-en.png", full_page=True)
        page.get_by_role("link", name=en("nav_datasets")).click()
        page.get_by_role("heading", name=en("nav_datasets")).wait_for()
        page.get_by_text("Combined housing data").wait_for()
        page.screenshot(path=images / "portal-researcher-dictionary-en.png", full_page=True)
        page.goto(f"{served}/requests/{request_id}")
        page.get_by_text(en("state_under_review")).first.wait_for()
        page.screenshot(path=images / "portal-researcher-request-en.png", full_page=True)
        page.goto(f"{served}/requests/housing-2026-takeout-01")
        page.get_by_text("too risky").first.wait_for()
        page.screenshot(path=images / "portal-researcher-rejected-en.png", full_page=True)
        fresh = browser.new_page(viewport={"width": 1280, "height": 900})
        offline_login = block_outside(fresh)
        fresh.goto(f"{served}/login?lang=en")
        fresh.get_by_role("button", name=en("login")).wait_for()
        fresh.screenshot(path=images / "portal-researcher-login-en.png", full_page=True)
        browser.close()
    offline.assert_none("the portal")
    offline_login.assert_none("the portal's login, in English")
    assert cat.get_request(request_id).state == "under_review"
    assert cat.get_request(request_id).requester_id == "alice"
    assert (images / "portal-researcher-request.png").stat().st_size > 10_000

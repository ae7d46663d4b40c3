"""A real browser, in Korean and in English: an officer logs in to `pseudolink serve console`,
sees the request's risk fail its thresholds, and rejects it.

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
from tests.browser import block_outside
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


#: What the browser reads and types, per language (the console's own words, text.py).
SCREENS = {
    "ko": {"user": "사용자 ID", "password": "비밀번호", "log_in": "로그인",
           "heading": "요청 housing-2026-secure-01 — 심사 중", "sizes": "동질집합 크기별",
           "flag": "k-익명성 1 < 5 (기준: k ≥ 5)", "reason_box": "결정 사유",
           "reason": "k = 1: 세종은 한 가구뿐이라 재식별됩니다. 시도를 권역으로 일반화해 "
                     "다시 신청하세요.",
           "reject": "반려", "done": "요청 housing-2026-secure-01을(를) 반려했습니다.",
           "decided": "결정·제공·만료", "decided_heading": "결정, 제공, 만료", "suffix": ""},
    "en": {"user": "User", "password": "Password", "log_in": "Log in",
           "heading": "Request housing-2026-secure-01 — under_review",
           "sizes": "Equivalence-class sizes", "flag": "k-anonymity 1 < 5 (rule: k ≥ 5)",
           "reason_box": "Reason for the decision",
           "reason": "k = 1: Sejong has a single household; generalise sido to region and "
                     "apply again",
           "reject": "Reject", "done": "Request housing-2026-secure-01 rejected.",
           "decided": "Decisions and releases",
           "decided_heading": "Decisions, releases and expiry", "suffix": "-en"},
}


def _settle(page) -> None:
    """Wait until the run finished and no chart is a loading skeleton."""
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
        " && !document.querySelector('[data-testid=\"stSkeleton\"]')", timeout=60_000)
    time.sleep(1)


def _full_page(page, path: Path) -> None:
    """The whole page, not the first 1000 px: Streamlit scrolls an inner container, which
    a plain full-page screenshot cannot see, so the viewport grows to the content."""
    measure = "() => Math.max(...Array.from(document.querySelectorAll('*'), e => e.scrollHeight))"
    height = 0
    for _ in range(5):  # charts and tables draw lazily: grow until the content stops growing
        grown = int(page.evaluate(measure))
        if grown <= height + 40:  # only the 40 px margin we added: it is all drawn
            break
        height = grown
        page.set_viewport_size({"width": 1400, "height": max(1000, height + 40)})
        _settle(page)
    page.screenshot(path=path, full_page=True)
    page.set_viewport_size({"width": 1400, "height": 1000})


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_officer_sees_the_failing_risk_and_rejects_in_a_real_browser(
        served: str, cat: catalog.Catalog, tmp_path: Path, lang: str) -> None:
    from playwright.sync_api import sync_playwright

    words = SCREENS[lang]
    images = Path(os.environ.get("PSEUDOLINK_SCREENSHOTS") or tmp_path)
    images.mkdir(parents=True, exist_ok=True)
    shot = {name: images / f"console-{name}{words['suffix']}.png"
            for name in ("login", "review", "rejected", "decisions")}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="ko-KR")
        offline = block_outside(page)  # a separated network: loopback only
        page.goto(served)
        page.get_by_role("textbox", name="사용자 ID").wait_for(timeout=60_000)
        if lang == "en":  # Korean is the default; the sidebar switches
            page.get_by_text("English").click()
        page.get_by_role("textbox", name=words["user"]).fill("po1", timeout=60_000)
        page.get_by_role("textbox", name=words["password"]).fill(PASSWORD)
        _settle(page)
        page.screenshot(path=shot["login"])
        page.get_by_role("button", name=words["log_in"]).click()
        page.get_by_text(words["heading"]).wait_for(timeout=60_000)
        page.get_by_text(words["sizes"]).wait_for()
        page.get_by_text(words["flag"]).first.wait_for()
        page.wait_for_function("() => document.querySelectorAll('canvas').length >= 2",
                               timeout=60_000)
        _full_page(page, shot["review"])
        page.get_by_role("textbox", name=words["reason_box"]).fill(words["reason"])
        page.get_by_role("button", name=words["reject"], exact=True).click()
        page.get_by_text(words["done"]).wait_for(timeout=60_000)
        _full_page(page, shot["rejected"])
        page.get_by_text(words["decided"]).click()
        page.get_by_role("heading", name=words["decided_heading"]).wait_for()
        _full_page(page, shot["decisions"])
        browser.close()
    offline.assert_none("the console")
    request = cat.get_request("housing-2026-secure-01")
    assert (request.state, request.state_reason) == ("rejected", words["reason"])
    assert shot["review"].stat().st_size > 10_000

"""Every page of the API loads on a separated network: no script, style or font from outside.

A real Chromium with every request that leaves loopback aborted (and recorded) loads each
page; a page that reaches for a CDN shows up as a failed request, and /docs and /redoc
must also have drawn their content.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from open_api import create_app
from tests.conftest import skip_unless_ci
from tests.open_api.conftest import DISTRICTS, LiveServer, write_release

CHROMIUM = "/usr/bin/chromium"

#: Page -> a selector that exists only once the page has drawn its content.
PAGES = {
    "/docs": ".swagger-ui .opblock",
    "/redoc": "redoc .api-content, [class*='api-content']",
    "/": ".card",
    "/?lang=en": ".card",
    "/datasets/by-district": "td.num",
    "/datasets/by-district?lang=en": "td.num",
}


@pytest.fixture
def live(source, tmp_path):
    if not Path(CHROMIUM).exists():
        skip_unless_ci(f"chromium missing at {CHROMIUM} (apt-get install -y chromium)")
    pytest.importorskip("playwright")
    source.add(write_release(tmp_path / "by-district.parquet", DISTRICTS,
                             title="구별 노후 주택 가구 수", parameters={"epsilon": 0.5},
                             description="차분 프라이버시(ε 0.5)로 보호된 시군구별 집계"))
    with LiveServer(create_app(source)) as server:
        yield server.url


@pytest.mark.parametrize("path", list(PAGES))
def test_page_loads_with_the_outside_network_blocked(live, path):
    from playwright.sync_api import sync_playwright

    outside: list[str] = []
    failed: list[str] = []

    def only_loopback(route) -> None:
        host = urlsplit(route.request.url).hostname
        if route.request.url.startswith(("data:", "blob:")) or host in {"127.0.0.1",
                                                                       "localhost"}:
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.route("**/*", only_loopback)
            page.on("requestfailed", lambda request: failed.append(request.url))
            page.goto(live + path, wait_until="networkidle")
            page.wait_for_selector(PAGES[path], timeout=30_000)
            shots = os.environ.get("PSEUDOLINK_SCREENSHOTS")
            if shots and not path.startswith(("/docs", "/redoc")):
                slug = path.split("?")[0].strip("/").replace("/", "-") or "home"
                name = f"portal-{slug}{'-en' if 'lang=en' in path else ''}.png"
                page.screenshot(path=Path(shots) / name, full_page=True)
        finally:
            browser.close()
    assert outside == [], f"{path} reached outside loopback: {outside}"
    assert failed == [], f"{path} had failed requests: {failed}"

"""What every browser test shares: a Chromium that may reach loopback only.

pseudolink runs on separated networks (망분리): a page that reaches for a CDN, a web
font or a telemetry endpoint is broken there. ``block_outside`` aborts and records every
request that leaves loopback, and every request that failed, so a test can assert that
its pages are whole offline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run"]
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


@dataclass
class OutsideRequests:
    """Requests a page tried to send off loopback (aborted), and requests that failed."""

    outside: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def assert_none(self, where: str) -> None:
        assert self.outside == [], f"{where} reached outside loopback: {self.outside}"
        assert self.failed == [], f"{where} had failed requests: {self.failed}"


def block_outside(context_or_page) -> OutsideRequests:
    """Abort every request of ``context_or_page`` that leaves loopback; record them."""
    seen = OutsideRequests()

    def only_loopback(route) -> None:
        url = route.request.url
        if url.startswith(("data:", "blob:")) or urlsplit(url).hostname in LOOPBACK:
            route.continue_()
        else:
            seen.outside.append(url)
            route.abort()

    def failed(request) -> None:
        # Streamlit's websocket reconnects and aborted prefetches are not page content;
        # a request that was aborted because it left loopback is already in ``outside``.
        if request.url not in seen.outside and request.resource_type != "websocket":
            seen.failed.append(f"{request.url} ({request.failure})")

    context_or_page.route("**/*", only_loopback)
    context_or_page.on("requestfailed", failed)
    return seen

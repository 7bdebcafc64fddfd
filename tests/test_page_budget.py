"""Every worker page fits a phone on a slow network: on a cold load (empty cache) at most
100 KB transferred, compressed (photos of receipts aside), at most 6 requests, the HTML
itself at most 14 KB compressed (one round trip of TCP's first window), and each page
works without JavaScript.

Measured in Debian's Chromium with a phone's viewport: the bytes are what the browser
received (headers and compressed bodies), as Playwright reports each finished request.
"""

from __future__ import annotations

import re

import pytest

from tests import pages
from voucher.services.demo import DEMO_PASSWORD

MAX_BYTES = 100 * 1024
MAX_REQUESTS = 6
MAX_HTML_BYTES = 14 * 1024
PIXEL_5 = {"width": 393, "height": 851}
# Photos of receipts are the worker's own content, not the page's weight.
RECEIPT_IMAGES = re.compile(r"/(receipts|family)/\d+/(thumbnail|file|certificate)")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]


def _worker_pages(site) -> list[tuple[str, str, str]]:
    return [
        (who, endpoint, path)
        for who, items in site.paths.items()
        if who in (pages.WORKER, pages.WORKER_UNCONFIRMED, pages.ANONYMOUS)
        for endpoint, path in items
    ]


def _signed_in_state(browser, base: str, who: str) -> dict:
    context = browser.new_context(viewport=PIXEL_5, is_mobile=True)
    page = context.new_page()
    if who:
        page.goto(f"{base}/auth/login")
        page.fill("#email", who)
        page.fill("#password", DEMO_PASSWORD)
        with page.expect_navigation():
            page.click("button[type=submit]")
    state = context.storage_state()
    context.close()
    return state


def _cold_load(browser, base: str, state: dict, path: str) -> tuple[int, int, int, list[str]]:
    """(bytes, requests, HTML bytes, what was requested) of one page in an empty cache."""
    context = browser.new_context(
        viewport=PIXEL_5,
        device_scale_factor=2.75,
        is_mobile=True,
        has_touch=True,
        locale="it-IT",
        storage_state=state,
    )
    page = context.new_page()
    finished: list = []
    page.on("requestfinished", lambda request: finished.append(request))
    response = page.goto(f"{base}{path}", wait_until="networkidle")
    assert response is not None and response.status == 200, path
    total = requests = html = 0
    seen = []
    for request in finished:
        if RECEIPT_IMAGES.search(request.url):
            continue
        sizes = request.sizes()
        size = sizes["responseBodySize"] + sizes["responseHeadersSize"]
        total += size
        requests += 1
        seen.append(f"{request.url.removeprefix(base)} {size}")
        if request.resource_type == "document":
            html = sizes["responseBodySize"]
    context.close()
    return total, requests, html, seen


def test_worker_pages_fit_the_phone_budget(live_server, browser, demo_site):
    problems = []
    states: dict[str, dict] = {}
    for who, endpoint, path in _worker_pages(demo_site):
        state = states.get(who) or states.setdefault(
            who, _signed_in_state(browser, live_server, who)
        )
        total, requests, html, seen = _cold_load(browser, live_server, state, path)
        if total > MAX_BYTES or requests > MAX_REQUESTS or html > MAX_HTML_BYTES:
            problems.append(
                f"{endpoint} {path}: {total} bytes, {requests} requests, HTML {html} bytes: "
                + "; ".join(seen)
            )
    assert problems == [], "\n".join(problems)


def test_worker_pages_work_without_javascript(live_server, browser, demo_site):
    """No page loads a script, and each shows its content with JavaScript off."""
    problems = []
    for who in (pages.WORKER, pages.WORKER_UNCONFIRMED, pages.ANONYMOUS):
        state = _signed_in_state(browser, live_server, who)
        context = browser.new_context(
            viewport=PIXEL_5, is_mobile=True, java_script_enabled=False, storage_state=state
        )
        page = context.new_page()
        for _endpoint, path in demo_site.paths[who]:
            response = page.goto(f"{live_server}{path}")
            assert response is not None and response.status == 200, path
            if page.locator("script").count():
                problems.append(f"{path}: loads a script")
            if not page.locator("main h1").inner_text().strip():
                problems.append(f"{path}: no heading without JavaScript")
        context.close()
    assert problems == [], "\n".join(problems)

"""Accessibility (WCAG 2.1 AA, a legal duty of Italian public services): axe-core finds
nothing on any page of any role, in Italian and in English.

axe-core comes from the project's node_modules (``make test`` runs ``npm ci``) and is
injected into Debian's Chromium by Playwright. The pages are those of tests/pages.py, on
the demo data, so each shows its real content: lists with rows, forms with their fields.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyotp
import pytest

from voucher.services.demo import DEMO_PASSWORD

AXE = Path(__file__).resolve().parent.parent / "node_modules" / "axe-core" / "axe.min.js"
# The rules of WCAG 2.0 and 2.1, levels A and AA.
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
PIXEL_5 = {"width": 393, "height": 851}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]


def _with_lang(path: str, lang: str) -> str:
    return f"{path}{'&' if '?' in path else '?'}lang={lang}"


def _axe(page) -> list[dict]:
    """axe-core's violations on the page as it is now."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})",
        WCAG_AA,
    )
    return result["violations"]


def _describe(url: str, violations: list[dict]) -> list[str]:
    return [
        f"{url}: {v['id']} ({v['impact']}) {v['help']} -> "
        + json.dumps([n["target"] for n in v["nodes"]][:5])
        for v in violations
    ]


@pytest.mark.parametrize("viewport", ["phone", "desktop"])
def test_no_page_of_any_role_has_accessibility_violations(
    live_server, browser, demo_site, viewport
):
    if not AXE.exists():
        pytest.fail("axe-core is missing: run `make node` (npm ci), as `make test` does")
    problems: list[str] = []
    for who, items in demo_site.paths.items():
        context = browser.new_context(
            # axe is injected as a script: the pages' strict CSP would refuse it.
            bypass_csp=True,
            **(
                {"viewport": PIXEL_5, "is_mobile": True, "has_touch": True}
                if viewport == "phone"
                else {"viewport": {"width": 1280, "height": 900}}
            ),
        )
        page = context.new_page()
        if who:
            page.goto(f"{live_server}/auth/login")
            page.fill("#email", who)
            page.fill("#password", DEMO_PASSWORD)
            with page.expect_navigation():
                page.click("button[type=submit]")
        for lang in ("it", "en"):
            for _endpoint, path in items:
                url = f"{live_server}{_with_lang(path, lang)}"
                response = page.goto(url)
                assert response is not None and response.status == 200, (who, url)
                assert page.locator("html").get_attribute("lang") == lang, url
                problems += _describe(f"[{who or 'anonymous'}] {path} ({lang})", _axe(page))
        context.close()
    assert problems == [], "\n".join(problems)


def test_the_error_pages_are_accessible(live_server, browser):
    if not AXE.exists():
        pytest.fail("axe-core is missing: run `make node` (npm ci), as `make test` does")
    context = browser.new_context(bypass_csp=True, viewport=PIXEL_5, is_mobile=True)
    page = context.new_page()
    problems: list[str] = []
    for lang in ("it", "en"):
        response = page.goto(f"{live_server}/no/such/page?lang={lang}")
        assert response is not None and response.status == 404
        problems += _describe(f"404 ({lang})", _axe(page))
    context.close()
    assert problems == [], "\n".join(problems)


def test_the_two_factor_pages_are_accessible(app, live_server, browser, demo_site):
    """The set-up and code pages, reached as a staff member with two-factor on."""
    if not AXE.exists():
        pytest.fail("axe-core is missing: run `make node` (npm ci), as `make test` does")
    app.config["TWO_FACTOR_ROLES"] = frozenset({"operator"})
    context = browser.new_context(bypass_csp=True, viewport=PIXEL_5, is_mobile=True)
    page = context.new_page()
    problems: list[str] = []

    def sign_in() -> None:
        page.goto(f"{live_server}/auth/login")
        page.fill("#email", "operatore@demo.example")
        page.fill("#password", DEMO_PASSWORD)
        with page.expect_navigation():
            page.click("button[type=submit]")

    sign_in()
    assert page.url.endswith("/auth/two-factor/setup")
    for lang in ("it", "en"):
        page.goto(f"{live_server}/auth/two-factor/setup?lang={lang}")
        problems += _describe(f"two-factor setup ({lang})", _axe(page))
    key = page.locator("code.user-select-all").inner_text().replace(" ", "")
    page.fill("#code", pyotp.TOTP(key).now())
    with page.expect_navigation():
        page.click("button[type=submit]")
    page.goto(f"{live_server}/auth/logout")
    sign_in()
    assert page.url.endswith("/auth/two-factor")
    for lang in ("it", "en"):
        page.goto(f"{live_server}/auth/two-factor?lang={lang}")
        problems += _describe(f"two-factor code ({lang})", _axe(page))
    context.close()
    assert problems == [], "\n".join(problems)

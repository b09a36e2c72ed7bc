"""Browser tests: Playwright driving Debian's Chromium against a live daphne process,
with the real Celery worker and beat, Redis and database."""

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from conftest import PASSWORD, start_daphne

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]

expect.set_options(timeout=10_000)


@pytest.fixture(scope="session")
def web_server(django_db_setup, django_db_blocker, tmp_path_factory):
    """One daphne process serving the panel, the snippet and the demo shop: "127.0.0.1:port"."""
    with django_db_blocker.unblock():
        child, base = start_daphne("daphne-e2e", tmp_path_factory.mktemp("daphne-e2e"))
    yield base
    child.stop()


@pytest.fixture
def site(web_server, make_site):
    """Here the operators' site is the demo shop's, allowing the live server's origin."""
    return make_site("demo", origins=f"http://{web_server}")


@pytest.fixture(autouse=True)
def _orm_beside_playwright(monkeypatch):
    # Playwright's sync API keeps an event loop running in this thread, which makes
    # Django refuse ORM calls from the test; the test itself is plain sync code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "1")


@pytest.fixture
def browser():
    # Per test: the driver's event loop must not outlive the browser tests.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def open_page(browser):
    """A page in a fresh browser context (its own cookies and storage: another person).
    A script error on any of its pages fails the test."""

    def open_page(url: str, **context_options) -> Page:
        # context_options: Playwright's, e.g. user_agent or locale, or a phone's viewport and touch.
        context = browser.new_context(**{"viewport": {"width": 1280, "height": 800}, **context_options})
        contexts.append(context)
        page = context.new_page()
        page.dialogs = []  # any alert() a payload manages to run lands here
        page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
        page.errors = []  # uncaught exceptions and unhandled rejections of the page's scripts
        page.on("pageerror", lambda error: page.errors.append(f"{page.url}: {error}"))
        pages.append(page)
        page.goto(url)
        return page

    contexts, pages = [], []
    yield open_page
    errors = [error for page in pages for error in page.errors]
    for context in contexts:
        context.close()
    assert errors == [], "a script of the page failed"


@pytest.fixture
def panel_for(web_server, open_page):
    """Log an operator in through the login form and open their panel."""

    def panel_for(operator) -> Page:
        page = open_page(f"http://{web_server}/operators/login/")
        page.fill("input[name=username]", operator.user.username)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/panel/")
        return page

    return panel_for

"""Issue 24: the login page and the operators' panel have no WCAG 2.2 A/AA violations that axe-core
finds, on a desktop and on a phone, empty, busy and with a chat open (docs/accessibility.md)."""

import pytest
from playwright.sync_api import expect

from conftest import PASSWORD
from tests.e2e.axe import assert_no_violations

pytestmark = pytest.mark.django_db(transaction=True)

SCREENS = {
    "desktop": {},
    "phone": {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True},
}


@pytest.mark.parametrize("screen", SCREENS)
def test_login_page_and_panel_have_no_wcag_violations(screen, web_server, peter, open_page):
    options = SCREENS[screen]
    panel = open_page(f"http://{web_server}/operators/login/", **options)
    assert_no_violations(panel, where=f"on the login page ({screen})")
    # A failed login shows its error: still named, still readable.
    panel.fill("input[name=username]", peter.user.username)
    panel.fill("input[name=password]", "not the password")
    panel.click("button[type=submit]")
    expect(panel.locator(".errorlist")).to_be_visible()
    assert_no_violations(panel, where=f"on the login page with an error ({screen})")

    panel.fill("input[name=username]", peter.user.username)
    panel.fill("input[name=password]", PASSWORD)
    panel.click("button[type=submit]")
    panel.wait_for_url("**/panel/")
    expect(panel.locator("[data-testid=connection-status]")).to_have_text("Online")
    assert_no_violations(panel, where=f"in the empty panel ({screen})")

    # A visitor browsing, another asking in the pool.
    open_page(f"http://{web_server}/demo/product/trail-shoes/")
    mary = open_page(f"http://{web_server}/demo/cart/")
    mary.locator("[data-testid=wp-launcher]").click()
    mary.locator("[data-testid=wp-input]").fill("How long does delivery to Vienna take?")
    mary.locator("[data-testid=wp-send]").click()
    expect(panel.locator("[data-testid=visitor-row]")).to_have_count(2)
    expect(panel.locator("[data-testid=pool-item]")).to_have_count(1)
    assert_no_violations(panel, where=f"in the panel with visitors and a request ({screen})")

    # The request accepted: a room with messages both ways.
    panel.locator("[data-testid=pool-item] [data-testid=accept]").click()
    room = panel.locator("[data-testid=room-panel]")
    expect(room).to_be_visible()
    room.locator("[data-testid=message-input]").fill("Two days. Anything else?")
    room.locator("[data-testid=send]").click()
    expect(mary.locator("[data-testid=wp-transcript]")).to_contain_text("Two days.")
    mary.locator("[data-testid=wp-input]").fill("No, thanks!")
    mary.locator("[data-testid=wp-send]").click()
    expect(room.locator("[data-testid=transcript]")).to_contain_text("No, thanks!")
    assert_no_violations(panel, where=f"in the panel with a chat open ({screen})")

    # The dialogs of the bar, opened.
    if screen == "phone":
        panel.locator("[data-testid=bar-menu]").click()
        assert_no_violations(panel, where="with the bar's menu open (phone)")
    panel.locator("[data-testid=history-open]").click()
    expect(panel.locator("[data-testid=history-dialog]")).to_be_visible()
    assert_no_violations(panel, where=f"with the history dialog open ({screen})")


def test_new_messages_in_an_open_chat_are_announced_politely(web_server, peter, panel_for, open_page):
    panel = panel_for(peter)
    mary = open_page(f"http://{web_server}/demo/cart/")
    mary.locator("[data-testid=wp-launcher]").click()
    mary.locator("[data-testid=wp-input]").fill("Hello?")
    mary.locator("[data-testid=wp-send]").click()
    panel.locator("[data-testid=pool-item] [data-testid=accept]").click()
    transcript = panel.locator("[data-testid=room-panel] [data-testid=transcript]")
    expect(transcript).to_have_attribute("aria-live", "polite")
    expect(transcript).to_have_attribute("aria-relevant", "additions")
    # The composer is not a live region: what the operator types is not read back to them.
    composer = panel.locator("[data-testid=room-panel] [data-testid=message-input]")
    assert composer.evaluate("n => n.closest('[aria-live]')") is None
    # Every control in the bar is reachable by keyboard and has a name.
    names = panel.evaluate(
        """() => [...document.querySelectorAll('.bar button, .bar select, .bar a')]
            .filter((n) => n.offsetParent !== null)
            .map((n) => [n.tabIndex, (n.getAttribute('aria-label') || n.textContent).trim()])"""
    )
    assert names
    assert all(tab >= 0 and name for tab, name in names), names

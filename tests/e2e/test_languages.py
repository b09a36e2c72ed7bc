"""The panel in the operator's language, in Chromium (issue 24): a German browser gets the login
page and the panel in German, the panel's scripts' words too; an operator who picks Arabic gets
it right to left, kept for their next visit."""

import pytest
from playwright.sync_api import expect

from conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_german_browser_gets_german_and_arabic_reads_right_to_left(web_server, peter, open_page):
    page = open_page(f"http://{web_server}/operators/login/", locale="de-DE", timezone_id="Europe/Berlin")
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(page.locator(".lead")).to_have_text("Anmeldung für Bedienpersonen")
    expect(page.get_by_role("button", name="Anmelden")).to_be_visible()
    page.fill("input[name=username]", peter.user.username)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Anmelden").click()
    page.wait_for_url("**/panel/")

    expect(page.get_by_test_id("connection-status")).to_have_attribute("data-state", "online")
    expect(page.locator("#pool-heading")).to_have_text("Allgemeiner Pool")
    # Words the panel's scripts write: from the catalog in the page.
    expect(page.get_by_test_id("sound-toggle")).to_have_text("Ton an")
    page.get_by_test_id("sound-toggle").click()
    expect(page.get_by_test_id("sound-toggle")).to_have_text("Ton aus")
    page.get_by_test_id("visitor-filter").fill("#nobody-here")
    expect(page.locator("#visitors-empty")).to_have_text("Gerade ist kein Besucher online.")

    page.get_by_test_id("language").select_option("ar")
    page.wait_for_load_state()
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.locator("html")).to_have_attribute("lang", "ar")
    expect(page.locator("#pool-heading")).to_have_text("قائمة الانتظار العامة")
    expect(page.get_by_test_id("connection-status")).to_have_attribute("data-state", "online")
    expect(page.get_by_test_id("sound-toggle")).to_have_text("الصوت متوقف")
    # Mirrored, nothing pushed off the side of the screen.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    bar = page.locator(".bar").bounding_box()
    brand = page.locator(".brand").bounding_box()
    assert brand["x"] > bar["x"] + bar["width"] / 2, "the brand starts the bar on the right"
    peter.refresh_from_db()
    assert peter.language == "ar"

"""The snippet for every visitor (issue 24): in the visitor's language (German, Arabic mirrored
right to left), a site's own words and language, a phone's full-screen sheet, the keyboard alone,
and nothing axe-core finds against WCAG 2.2 A/AA, closed, open, chatting or with a toast."""

import pytest
from playwright.sync_api import expect

from chat import shifts
from tests.e2e.axe import assert_no_violations
from visitors.models import Site

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True}


@pytest.fixture
def someone_online(peter):
    shifts.operator_connect(operator=peter)


@pytest.mark.usefixtures("someone_online")
def test_a_german_browser_gets_the_window_in_german(web_server, peter, panel_for, open_page):
    panel = panel_for(peter)
    shop = open_page(f"http://{web_server}/demo/", locale="de-DE")
    launcher = shop.locator("[data-testid=wp-launcher]")
    expect(launcher).to_have_attribute("aria-label", "Chatten Sie mit uns")
    launcher.click()
    expect(shop.locator("[data-testid=wp-greeting]")).to_have_text("Fragen? Schreiben Sie uns.")
    expect(shop.locator("[data-testid=wp-input]")).to_have_attribute("placeholder", "Nachricht schreiben…")
    expect(shop.locator("[data-testid=wp-send]")).to_have_text("Senden")
    shop.locator("[data-testid=wp-input]").fill("Haben Sie die Schuhe in 42?")
    shop.locator("[data-testid=wp-input]").press("Enter")
    expect(shop.locator("[data-testid=wp-status]")).to_have_text("Warten auf eine Antwort…")

    panel.locator("[data-testid=accept]").first.click()
    # The system line is worded from its code in the visitor's language.
    expect(shop.locator("[data-testid=wp-message][data-sender=system]")).to_have_text("Peter ist dem Chat beigetreten")
    expect(shop.locator("[data-testid=wp-status]")).to_have_text("Peter ist für Sie da")
    expect(launcher).to_have_attribute("aria-label", "Chat schließen")
    expect(shop.locator("[data-whitepanel]")).to_have_attribute("dir", "ltr")


@pytest.mark.usefixtures("someone_online")
def test_an_arabic_visitor_gets_the_window_mirrored_right_to_left(web_server, open_page):
    shop = open_page(f"http://{web_server}/demo/", locale="ar-EG")
    launcher = shop.locator("[data-testid=wp-launcher]")
    launcher.click()
    host = shop.locator("[data-whitepanel]")
    expect(host).to_have_attribute("dir", "rtl")
    expect(shop.locator("[data-testid=wp-send]")).to_have_text("إرسال")
    # Mirrored: the button sits at the bottom left, the window opens from it.
    box = launcher.bounding_box()
    assert box["x"] < 100
    window = shop.locator("[data-testid=wp-window]").bounding_box()
    assert window["x"] < 100
    shop.locator("[data-testid=wp-input]").fill("مرحبا")
    shop.locator("[data-testid=wp-input]").press("Enter")
    mine = shop.locator("[data-testid=wp-message][data-sender=visitor]")
    expect(mine).to_contain_text("مرحبا")
    # The visitor's own messages keep to the end side: in Arabic, the left. Measured once it is
    # drawn for good: the snippet draws it again when the server acknowledges it, and a box read
    # in between is None.
    box = mine.bounding_box()
    for _ in range(50):
        if box is not None:
            break
        shop.wait_for_timeout(100)
        box = mine.bounding_box()
    assert box is not None
    assert box["x"] < window["x"] + 100


@pytest.mark.usefixtures("someone_online")
def test_a_site_fixes_its_language_and_puts_its_own_words_and_lifts_the_button(web_server, site, open_page):
    Site.objects.filter(pk=site.pk).update(
        language="fr", texts={"fr": {"open": "Une question ?", "message": "Votre question…"}}, launcher_offset=60
    )
    shop = open_page(f"http://{web_server}/demo/", locale="de-DE")
    launcher = shop.locator("[data-testid=wp-launcher]")
    expect(launcher).to_have_attribute("aria-label", "Une question ?")
    # 20 px from the bottom of the 800 px high page, and 60 more above the site's own bar.
    box = launcher.bounding_box()
    assert 800 - (box["y"] + box["height"]) == pytest.approx(80, abs=1)
    launcher.click()
    expect(shop.locator("[data-testid=wp-input]")).to_have_attribute("placeholder", "Votre question…")
    expect(shop.locator("[data-testid=wp-send]")).to_have_text("Envoyer")


@pytest.mark.usefixtures("someone_online")
def test_on_a_phone_the_window_is_a_full_screen_sheet_with_large_inputs(web_server, open_page):
    shop = open_page(f"http://{web_server}/demo/", **PHONE)
    launcher = shop.locator("[data-testid=wp-launcher]")
    launcher.tap()
    window = shop.locator("[data-testid=wp-window]")
    expect(window).to_be_visible()
    box = window.bounding_box()
    assert (box["x"], box["y"], box["width"], box["height"]) == (0, 0, 390, 844)
    # 16 px or more: a phone's browser does not zoom into the input when it gets the focus.
    assert shop.locator("[data-testid=wp-input]").evaluate("node => getComputedStyle(node).fontSize") == "16px"
    # The sheet covers the button; its own close button takes the visitor back to the page.
    expect(launcher).to_be_hidden()
    shop.locator("[data-testid=wp-close]").tap()
    expect(window).to_be_hidden()
    expect(launcher).to_be_visible()
    assert shop.evaluate("document.documentElement.scrollWidth <= innerWidth")


@pytest.mark.usefixtures("someone_online")
def test_the_keyboard_alone_opens_writes_and_closes(web_server, open_page):
    shop = open_page(f"http://{web_server}/demo/")
    launcher = shop.locator("[data-testid=wp-launcher]")
    for _ in range(40):  # Tab through the shop's links to the chat button
        shop.keyboard.press("Tab")
        if launcher.evaluate(
            "node => node.getRootNode().activeElement === node && document.activeElement === node.getRootNode().host"
        ):
            break
    expect(launcher).to_be_focused()
    shop.keyboard.press("Enter")
    expect(shop.locator("[data-testid=wp-input]")).to_be_focused()
    shop.keyboard.type("Hello")
    shop.keyboard.press("Enter")
    expect(shop.locator("[data-testid=wp-message][data-sender=visitor]")).to_have_count(1)
    shop.keyboard.press("Escape")
    expect(shop.locator("[data-testid=wp-window]")).to_be_hidden()
    expect(launcher).to_be_focused()
    # A visible focus ring on the button.
    assert launcher.evaluate("node => getComputedStyle(node).outlineStyle") == "solid"


@pytest.mark.parametrize("size", [{}, PHONE], ids=["desktop", "phone"])
def test_axe_finds_nothing_in_the_snippet_closed_open_chatting_or_with_a_toast(
    web_server, peter, panel_for, open_page, size
):
    panel = panel_for(peter)
    shop = open_page(f"http://{web_server}/demo/", **size)
    expect(panel.locator("[data-testid=visitor-row]")).to_have_count(1)
    assert_no_violations(shop, where="with the snippet closed")

    shop.locator("[data-testid=wp-launcher]").click()
    expect(shop.locator("[data-testid=wp-input]")).to_be_focused()
    assert_no_violations(shop, where="with the window open")

    shop.locator("[data-testid=wp-input]").fill("Do you ship to Norway?")
    shop.locator("[data-testid=wp-input]").press("Enter")
    panel.locator("[data-testid=pool-item]").locator("[data-testid=accept]").click()
    panel.locator("[data-testid=message-input]").fill("We do, in 3 days: https://example.com/shipping")
    panel.locator("[data-testid=send]").click()
    expect(shop.locator("[data-testid=wp-message][data-sender=operator]")).to_have_count(1)
    assert_no_violations(shop, where="in a conversation")

    shop.locator("[data-testid=wp-close]").click()
    panel.locator("[data-testid=message-input]").fill("Anything else?")
    panel.locator("[data-testid=send]").click()
    expect(shop.locator("[data-testid=wp-toast]")).to_be_visible()
    assert_no_violations(shop, where="showing a toast")

"""Internal notes in the panel (issue 23): an operator writes one, it shows as a note to
operators, and the visitor's window never shows it."""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_internal_note_shows_to_operators_and_never_to_the_visitor(web_server, peter, panel_for, open_page):
    panel = panel_for(peter)
    shop = open_page(f"http://{web_server}/demo/")
    panel.locator("[data-testid=start-chat]").click()
    composer = panel.locator("[data-testid=message-input]")
    composer.fill("Hello! Can I help?")
    composer.press("Enter")
    shop.locator("[data-testid=wp-toast]").click()

    panel.locator("[data-testid=note-toggle]").click()
    expect(composer).to_have_attribute("placeholder", "Internal note — only operators see it")
    composer.fill("Returning customer <b>VIP</b>")
    composer.press("Enter")
    shown = panel.locator("[data-testid=message][data-sender=note]")
    expect(shown).to_contain_text("Note · Peter")
    expect(shown).to_contain_text("Returning customer <b>VIP</b>")

    shop.reload()
    shop.locator("[data-testid=wp-launcher]").click()
    expect(shop.locator("[data-testid=wp-transcript]")).to_contain_text("Can I help?")
    expect(shop.locator("[data-testid=wp-transcript]")).not_to_contain_text("VIP")

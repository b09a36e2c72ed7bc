"""Typing and seen in the browser (issue 23): each side sees the other typing, and what of theirs
the other has seen."""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.django_db(transaction=True)


def test_each_side_sees_the_other_typing_and_what_they_have_seen(web_server, peter, panel_for, open_page):
    panel = panel_for(peter)
    shop = open_page(f"http://{web_server}/demo/")
    panel.locator("[data-testid=start-chat]").click()
    composer = panel.locator("[data-testid=message-input]")

    composer.press_sequentially("Hello! Let me")
    expect(shop.locator("[data-testid=wp-typing]")).to_have_text("Peter is typing…")
    composer.fill("Hello! Can I help?")
    composer.press("Enter")
    expect(shop.locator("[data-testid=wp-typing]")).to_be_hidden()
    # The toast shows on Linda's visible page: Peter's message is seen.
    expect(shop.locator("[data-testid=wp-toast]")).to_contain_text("Can I help?")
    expect(panel.locator("[data-testid=message][data-sender=operator] [data-testid=message-seen]")).to_have_count(1)

    shop.locator("[data-testid=wp-toast]").click()
    shop.locator("[data-testid=wp-input]").press_sequentially("Do you have")
    expect(panel.locator("[data-testid=room-typing]")).to_be_visible()
    shop.locator("[data-testid=wp-input]").fill("Do you have it in XL?")
    shop.locator("[data-testid=wp-send]").click()
    expect(panel.locator("[data-testid=room-typing]")).to_be_hidden()
    # Peter has the room in view on a visible panel: Linda reads "Seen" under her question.
    expect(shop.locator("[data-testid=wp-seen]")).to_be_visible()
    last = shop.locator("[data-testid=wp-message][data-sender=visitor]").last
    expect(last).to_contain_text("in XL?")

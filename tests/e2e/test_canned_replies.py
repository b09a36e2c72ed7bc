"""Canned replies in the panel (issue 23): "/" and a few letters offer them, the one picked goes
in with its placeholders filled, its use is counted; an operator adds their own in the panel."""

import pytest
from playwright.sync_api import expect

from operators.models import CannedReply

pytestmark = pytest.mark.django_db(transaction=True)


def test_slash_offers_canned_replies_filled_in_for_this_visitor_and_page(web_server, site, peter, panel_for, open_page):
    CannedReply.objects.create(site=site, shortcut="shipping", body="We ship {page.title} within two days.")
    CannedReply.objects.create(site=site, shortcut="hello", body="Hi {visitor.name}, {operator.name} here!")
    panel = panel_for(peter)
    shop = open_page(f"http://{web_server}/demo/product/trail-shoes/")
    panel.locator("[data-testid=start-chat]").click()
    composer = panel.locator("[data-testid=message-input]")

    composer.press_sequentially("/sh")
    suggestions = panel.locator("[data-testid=reply-suggestion]")
    expect(suggestions).to_have_count(1)
    expect(suggestions.first).to_contain_text("/shipping")
    composer.press("Enter")  # puts the reply in; does not send it
    expect(composer).to_have_value("We ship Trail running shoes · Summit Outfitters within two days.")
    expect(panel.locator("[data-testid=message][data-sender=operator]")).to_have_count(0)
    composer.press("Enter")
    expect(shop.locator("[data-testid=wp-toast]")).to_contain_text(
        "We ship Trail running shoes · Summit Outfitters within two days."
    )
    # The use is counted by a request of its own, not awaited by the composer.
    for _ in range(50):
        if CannedReply.objects.get(shortcut="shipping").uses == 1:
            break
        panel.wait_for_timeout(100)
    assert CannedReply.objects.get(shortcut="shipping").uses == 1

    # Placeholders with nothing known read as words; Esc closes the list and leaves the text.
    composer.fill("")
    composer.press_sequentially("/he")
    composer.press("Tab")
    expect(composer).to_have_value("Hi there, Peter here!")
    composer.fill("")
    composer.press_sequentially("/zzz")
    expect(suggestions).to_have_count(0)
    composer.press("Escape")
    expect(composer).to_have_value("/zzz")


def test_an_operator_adds_and_removes_their_own_reply_in_the_panel(web_server, site, peter, jane, panel_for, open_page):
    panel = panel_for(peter)
    panel.locator("[data-testid=replies-open]").click()
    dialog = panel.locator("[data-testid=replies-dialog]")
    dialog.locator("[name=shortcut]").fill("thanks")
    dialog.locator("[name=body]").fill("Thank you, {visitor.name}!")
    dialog.locator("[data-testid=reply-add]").click()
    expect(dialog.locator("[data-testid=reply-item]")).to_contain_text("/thanks")
    # The same shortcut twice: a clear error, nothing lost.
    dialog.locator("[name=shortcut]").fill("thanks")
    dialog.locator("[name=body]").fill("again")
    dialog.locator("[data-testid=reply-add]").click()
    expect(dialog.locator("[data-testid=reply-error]")).to_contain_text("already a reply /thanks")
    assert list(CannedReply.objects.values_list("body", flat=True)) == ["Thank you, {visitor.name}!"]
    assert CannedReply.objects.get().operator == peter

    dialog.locator("[data-testid=reply-remove]").click()
    expect(dialog.locator("[data-testid=reply-item]")).to_have_count(0)
    assert not CannedReply.objects.exists()

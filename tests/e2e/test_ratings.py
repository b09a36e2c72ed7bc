"""Ratings in the browser (issue 23): when a chat has ended the widget asks for 1-5 and a
comment, once; the operator's room shows it."""

import pytest
from playwright.sync_api import expect

from chat.models import Room

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_visitor_rates_an_ended_chat_and_the_operator_sees_it(web_server, peter, panel_for, open_page, sweeper):
    panel = panel_for(peter)
    shop = open_page(f"http://{web_server}/demo/")
    panel.locator("[data-testid=start-chat]").click()
    panel.locator("[data-testid=message-input]").fill("Hello! Can I help?")
    panel.locator("[data-testid=send]").click()
    shop.locator("[data-testid=wp-toast]").click()
    rate = shop.locator("[data-testid=wp-rate]")
    expect(rate).to_be_hidden()  # not while the chat goes on

    panel.locator("[data-testid=close-room]").click()  # expires after WP_ROOM_EXPIRY (shrunk)
    expect(rate).to_contain_text("How was this chat?", timeout=15_000)
    shop.locator("[data-testid=wp-star]").nth(3).click()
    rate.locator("input").fill("Quick <b>and</b> kind")
    shop.locator("[data-testid=wp-rate-send]").click()
    expect(rate.locator("span").first).to_have_text("Thanks for your rating!")
    expect(shop.locator("[data-testid=wp-star]").first).to_be_hidden()

    shown = panel.locator("[data-testid=room-rating]")
    expect(shown).to_contain_text("★★★★☆")
    expect(shown).to_contain_text("“Quick <b>and</b> kind”")
    room = Room.objects.get()
    assert (room.rating, room.rating_comment) == (4, "Quick <b>and</b> kind")

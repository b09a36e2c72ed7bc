"""Ratings and the transcript by email in the browser (issue 23): when a chat has ended the widget
asks for 1-5 and a comment, once, and offers the conversation by email; the operator's room
shows the rating."""

import re
import time

import pytest
from playwright.sync_api import expect

from chat.models import Room
from tests.mails import body, mails_to

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
    shop.locator("[data-testid=wp-rate-comment]").fill("Quick <b>and</b> kind")
    shop.locator("[data-testid=wp-rate-send]").click()
    expect(rate.locator("span").first).to_have_text("Thanks for your rating!")
    expect(shop.locator("[data-testid=wp-star]").first).to_be_hidden()

    shown = panel.locator("[data-testid=room-rating]")
    expect(shown).to_contain_text("★★★★☆")
    expect(shown).to_contain_text("“Quick <b>and</b> kind”")
    room = Room.objects.get()
    assert (room.rating, room.rating_comment) == (4, "Quick <b>and</b> kind")


def test_the_visitor_asks_for_the_ended_chat_by_email_once(web_server, peter, panel_for, open_page, sweeper):
    panel = panel_for(peter)
    shop = open_page(f"http://{web_server}/demo/")
    panel.locator("[data-testid=start-chat]").click()
    panel.locator("[data-testid=message-input]").fill("Your order <b>ships</b> today")
    panel.locator("[data-testid=send]").click()
    shop.locator("[data-testid=wp-toast]").click()
    expect(shop.locator("[data-testid=wp-mail]")).to_be_hidden()  # not while the chat goes on
    panel.locator("[data-testid=close-room]").click()

    mail = shop.locator("[data-testid=wp-mail]")
    expect(mail).to_be_visible(timeout=15_000)
    shop.locator("[data-testid=wp-mail-to]").fill("not an address")
    shop.locator("[data-testid=wp-mail-send]").click()
    expect(shop.locator("[data-testid=wp-mail-text]")).to_have_text("Please check your email address.")
    shop.locator("[data-testid=wp-mail-to]").fill("mary@example.com")
    shop.locator("[data-testid=wp-mail-send]").click()
    told = shop.locator("[data-testid=wp-mail-text]")
    expect(told).to_have_text(re.compile(r"(We'll send it|Sent) to mary@example.com"))
    expect(shop.locator("[data-testid=wp-mail-send]")).to_be_hidden()
    for _ in range(75):  # the worker mails it within seconds
        if mails_to("mary@example.com"):
            break
        time.sleep(0.2)
    (sent,) = mails_to("mary@example.com")
    assert "Your order <b>ships</b> today" in body(sent)

    # Asked for once: the answer says where it goes, and the window offers it no more.
    expect(shop.locator("[data-testid=wp-mail-text]")).to_have_text(re.compile("to mary@example.com"))
    assert len(mails_to("mary@example.com")) == 1

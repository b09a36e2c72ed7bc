"""Typing and seen in the browser (issue 23): each side sees the other typing, and what of theirs
the other has seen."""

import json

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


def test_the_operator_typing_before_the_chat_window_has_loaded_shows_once_it_has(
    web_server, peter, panel_for, open_page
):
    """The chat window's code loads when a chat starts, so on a slow line "Peter is typing…" can
    come before it. It shows once the window is there, not only at Peter's next keystrokes."""
    panel = panel_for(peter)
    shop = open_page("about:blank")
    held, typing = [], []
    shop.route("**/widget-chat.js*", lambda route: held.append(route))

    def watch(ws):
        def received(payload):
            if isinstance(payload, str) and json.loads(payload).get("type") == "typing":
                typing.append(payload)

        ws.on("framereceived", received)

    shop.on("websocket", watch)
    shop.goto(f"http://{web_server}/demo/")
    panel.locator("[data-testid=start-chat]").click()
    panel.locator("[data-testid=message-input]").press_sequentially("Hello! Let me")
    for _ in range(100):  # the page's events come in on its loop: let it run
        if held and typing:
            break
        shop.wait_for_timeout(100)
    assert held, "the chat window's code should have been asked for"
    assert typing, "Peter's typing frame should have come"

    held[0].continue_()
    expect(shop.locator("[data-testid=wp-typing]")).to_have_text("Peter is typing…")
    expect(shop.locator("[data-testid=wp-typing]")).to_be_hidden(timeout=10_000)

"""The snippet's small things a visitor notices (issue 23, part 9): times on messages, the
launcher that closes an open window, Esc, and a counter near the length limit."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.django_db(transaction=True)


def test_times_the_launcher_esc_and_the_counter(web_server, peter, panel_for, open_page):
    panel_for(peter)
    shop = open_page(f"http://{web_server}/demo/")
    launcher = shop.locator("[data-testid=wp-launcher]")
    expect(launcher).to_have_attribute("aria-label", "Chat with us")
    launcher.click()
    window = shop.locator("[data-testid=wp-window]")
    expect(window).to_be_visible()
    expect(launcher).to_have_attribute("aria-label", "Close chat")
    expect(launcher).to_have_attribute("aria-expanded", "true")

    shop.locator("[data-testid=wp-input]").fill("Hello there")
    shop.locator("[data-testid=wp-send]").click()
    expect(shop.locator("[data-testid=wp-message][data-sender=visitor] [data-testid=wp-time]").first).to_have_text(
        re.compile(r"· \d{1,2}:\d{2}")
    )

    counter = shop.locator("[data-testid=wp-counter]")
    expect(counter).to_be_hidden()
    shop.locator("[data-testid=wp-input]").fill("x" * 3950)
    shop.locator("[data-testid=wp-input]").press("End")
    shop.locator("[data-testid=wp-input]").press_sequentially("y")
    expect(counter).to_have_text("3951/4000")

    # Esc closes the window and gives the focus back to the launcher.
    shop.locator("[data-testid=wp-input]").press("Escape")
    expect(window).to_be_hidden()
    expect(launcher).to_be_focused()
    expect(launcher).to_have_attribute("aria-label", "Chat with us")
    launcher.click()
    expect(window).to_be_visible()
    launcher.click()  # the launcher closes it too
    expect(window).to_be_hidden()


def test_the_chat_windows_code_is_loaded_only_when_a_page_wants_it(web_server, peter, panel_for, open_page):
    panel = panel_for(peter)
    shop = open_page(f"http://{web_server}/demo/")
    expect(panel.locator("[data-testid=visitor-row]")).to_have_count(1)  # welcomed: the next page is theirs too
    fetched = []
    shop.on("request", lambda request: fetched.append(request.url.split("/")[-1]))
    shop.goto(f"http://{web_server}/demo/cart/")
    # The visitor is online (their socket said hello from this page) with only the snippet loaded.
    expect(panel.locator("[data-testid=visitor-row]")).to_have_count(1)
    expect(panel.locator("[data-testid=visitor-row]")).to_contain_text("/demo/cart/")
    assert "widget-chat.js" not in fetched
    expect(shop.locator("[data-testid=wp-window]")).to_have_count(0)

    shop.locator("[data-testid=wp-launcher]").click()
    expect(shop.locator("[data-testid=wp-window]")).to_be_visible()
    expect(shop.locator("[data-testid=wp-input]")).to_be_focused()
    assert fetched.count("widget-chat.js") == 1

    # A page of a visitor with a conversation going has it at hand, the window open as it was left.
    shop.locator("[data-testid=wp-input]").fill("Hello")
    shop.locator("[data-testid=wp-input]").press("Enter")
    expect(shop.locator("[data-testid=wp-message][data-sender=visitor]")).to_have_count(1)
    shop.goto(f"http://{web_server}/demo/")
    expect(shop.locator("[data-testid=wp-window]")).to_be_visible()
    expect(shop.locator("[data-testid=wp-message][data-sender=visitor]")).to_have_text(re.compile("Hello"))

"""The site snippet on a host page: one visitor across pages and tabs, single-page apps,
styles that stay apart, and the chat that follows the visitor around."""

import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.django_db(transaction=True)


def test_visitor_is_one_line_across_pages_and_tabs(web_server, peter, panel_for, open_page):
    panel = panel_for(peter)
    linda = open_page(f"http://{web_server}/demo/")
    expect(panel.locator("[data-testid=visitor-row]")).to_have_count(1)
    second_tab = linda.context.new_page()
    second_tab.goto(f"http://{web_server}/demo/product/wool-socks/")
    expect(panel.locator("[data-testid=visitor-page]")).to_contain_text("Merino wool socks")
    linda.goto(f"http://{web_server}/demo/cart/")
    expect(panel.locator("[data-testid=visitor-page]")).to_contain_text("Cart")
    expect(panel.locator("[data-testid=visitor-row]")).to_have_count(1)
    expect(panel.locator("[data-testid=visitor-pages]")).to_have_text("3")


def test_single_page_app_navigation_is_reported(web_server, peter, panel_for, open_page):
    panel = panel_for(peter)
    linda = open_page(f"http://{web_server}/demo/product/day-pack/")
    page_cell = panel.locator("[data-testid=visitor-page]")
    expect(page_cell).to_contain_text("day-pack")
    linda.evaluate("history.pushState({}, '', '/demo/product/day-pack/reviews')")
    expect(page_cell).to_contain_text("/demo/product/day-pack/reviews")
    linda.get_by_role("link", name="Sizes").click()
    expect(page_cell).to_contain_text("#sizes")


def test_host_page_css_does_not_reach_the_chat_window(web_server, peter, panel_for, open_page):
    # The demo shop styles every button hot pink with !important.
    shop = open_page(f"http://{web_server}/demo/")
    launcher = shop.locator("[data-testid=wp-launcher]")
    expect(launcher).to_have_css("background-color", "rgb(36, 87, 214)")
    launcher.click()
    expect(shop.locator("[data-testid=wp-send]")).to_have_css("background-color", "rgb(36, 87, 214)")


def test_operator_message_waits_in_a_toast_and_opens_the_chat_at_it(web_server, peter, panel_for, open_page):
    panel = panel_for(peter)
    linda = open_page(f"http://{web_server}/demo/")
    panel.locator("[data-testid=start-chat]").click()
    panel.locator("[data-testid=message-input]").fill("Our summer sale starts today!")
    panel.locator("[data-testid=send]").click()
    toast = linda.locator("[data-testid=wp-toast]")
    expect(toast).to_contain_text("Our summer sale starts today!")
    expect(linda.locator("[data-testid=wp-badge]")).to_have_text("1")
    expect(linda.locator("[data-testid=wp-window]")).to_be_hidden()
    toast.click()
    expect(linda.locator("[data-testid=wp-window]")).to_be_visible()
    expect(linda.locator("[data-testid=wp-message][data-sender=operator]")).to_contain_text("summer sale")
    expect(linda.locator("[data-testid=wp-badge]")).to_be_hidden()
    expect(toast).to_be_hidden()


def test_message_sent_while_the_visitor_changes_page_is_not_lost(web_server, peter, panel_for, open_page):
    panel = panel_for(peter)
    linda = open_page(f"http://{web_server}/demo/")
    panel.locator("[data-testid=start-chat]").click()
    expect(linda.locator("[data-testid=wp-status]")).to_have_text("Peter is here")
    # Linda leaves for a page that is slow to arrive; Peter writes meanwhile.
    linda.route("**/demo/cart/", lambda route: (panel.wait_for_timeout(1500), route.continue_()))
    linda.evaluate("location.href = '/demo/cart/'")
    panel.locator("[data-testid=message-input]").fill("Your order has shipped.")
    panel.locator("[data-testid=send]").click()
    linda.wait_for_url("**/cart/")
    # The new page fetches what it missed (history) and shows it.
    expect(linda.locator("[data-testid=wp-toast]")).to_contain_text("Your order has shipped.")


def test_a_page_load_is_one_frame_that_brings_the_page_and_the_conversation(web_server, peter, panel_for, open_page):
    """The snippet's hello carries the page and asks for what was said (extensions): a new page
    shows the conversation and the panel the page, from the one frame the snippet sent."""
    panel = panel_for(peter)
    linda = open_page(f"http://{web_server}/demo/")
    panel.locator("[data-testid=start-chat]").click()
    panel.locator("[data-testid=message-input]").fill("Looking for boots?")
    panel.locator("[data-testid=send]").click()
    expect(linda.locator("[data-testid=wp-toast]")).to_contain_text("Looking for boots?")

    next_page = linda.context.new_page()
    sent: list[dict] = []
    next_page.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent.append(json.loads(payload))))
    next_page.goto(f"http://{web_server}/demo/cart/")
    expect(panel.locator("[data-testid=visitor-page]")).to_contain_text("Cart")
    next_page.locator("[data-testid=wp-launcher]").click()
    expect(next_page.locator("[data-testid=wp-message][data-sender=operator]")).to_contain_text("Looking for boots?")
    assert sent[0]["type"] == "hello"
    assert sent[0]["page"]["url"] == f"http://{web_server}/demo/cart/"
    assert sent[0]["history"] == 0
    assert not [frame for frame in sent if frame["type"] in ("page", "history")]


def test_every_page_of_a_visitor_asks_the_proxy_for_the_same_server(web_server, site, browser, open_page):
    """The socket's URL carries the visitor's routing key (deploy/nginx.conf hashes on it): the same
    on every page and tab of one visitor, another for another visitor, and never their token."""

    def socket_url(context, path: str) -> str:
        page = context.new_page()
        urls, received = [], []
        page.on(
            "websocket", lambda ws: (urls.append(ws.url), ws.on("framereceived", lambda frame: received.append(frame)))
        )
        page.goto(f"http://{web_server}{path}")
        for _ in range(200):  # until the welcome (whose token the snippet keeps) has come
            if any(json.loads(frame)["type"] == "welcome" for frame in received):
                return urls[0]
            page.wait_for_timeout(50)
        raise AssertionError(f"no welcome on {path}: {received}")

    # Each page waits for its welcome before the next opens: one visitor, whose token they share.
    linda = open_page("about:blank").context
    pages = [socket_url(linda, path) for path in ("/demo/", "/demo/cart/", "/demo/product/wool-socks/")]
    marta = browser.new_context()
    try:
        other = socket_url(marta, "/demo/")
    finally:
        marta.close()

    keys = {parse_qs(urlsplit(url).query)["r"][0] for url in pages}
    assert len(keys) == 1
    (key,) = keys
    assert re.fullmatch(r"[A-Za-z0-9_-]{16}", key)
    assert parse_qs(urlsplit(other).query)["r"][0] != key
    token = linda.pages[-1].evaluate(
        "localStorage.getItem(Object.keys(localStorage).find((k) => k.endsWith(':token')))"
    )
    assert token
    assert all(token not in url for url in pages)

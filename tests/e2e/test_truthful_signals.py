"""What the visitor and the operator see at the edges of a conversation (issue 22, clause 5):
a lost connection on either side, a chat window in another tab, the toast, and a chat the
visitor has not opened yet. The live server runs with WP_RECONNECT_GRACE shrunk (conftest)."""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.django_db(transaction=True)


def start_chat_and_say(panel, text: str) -> None:
    panel.locator("[data-testid=start-chat]").click()
    panel.locator("[data-testid=message-input]").fill(text)
    panel.locator("[data-testid=send]").click()


def test_the_widget_says_reconnecting_and_not_sent_yet_until_the_server_answers(
    web_server, peter, panel_for, open_page
):
    panel = panel_for(peter)
    # Every socket of the visitor's page goes through this route: while `broken`, it reaches nothing.
    broken = {"now": False, "sockets": []}

    def route(ws):
        broken["sockets"].append(ws)
        if not broken["now"]:
            ws.connect_to_server()

    shop = open_page("about:blank")
    shop.route_web_socket("**/ws/visitor/**", route)
    shop.goto(f"http://{web_server}/demo/")
    panel.locator("[data-testid=start-chat]").click()
    status = shop.locator("[data-testid=wp-status]")
    expect(status).to_have_text("Peter is here")

    broken["now"] = True
    broken["sockets"][-1].close()
    expect(status).to_have_text("Reconnecting…")
    shop.locator("[data-testid=wp-launcher]").click()
    shop.locator("[data-testid=wp-input]").fill("Is the order on its way?")
    shop.locator("[data-testid=wp-send]").click()
    expect(shop.locator("[data-testid=wp-unsent]")).to_have_text("Not sent yet")
    # Not in Peter's panel: it was never sent.
    expect(panel.locator("[data-testid=message]").filter(has_text="on its way")).to_have_count(0)

    broken["now"] = False
    broken["sockets"][-1].close()  # the dead socket closes; the next one reaches the server
    expect(status).to_have_text("Peter is here", timeout=15_000)
    expect(shop.locator("[data-testid=wp-unsent]")).to_have_count(0)
    expect(panel.locator("[data-testid=message]").filter(has_text="on its way")).to_have_count(1)


def test_the_toast_shows_three_lines_and_can_be_dismissed_without_opening_the_chat(
    web_server, peter, panel_for, open_page
):
    panel = panel_for(peter)
    shop = open_page(f"http://{web_server}/demo/")
    start_chat_and_say(panel, "Our summer sale starts today. " * 12)
    toast = shop.locator("[data-testid=wp-toast]")
    expect(toast).to_be_visible()
    text = toast.locator(".text")
    line_height = text.evaluate("node => parseFloat(getComputedStyle(node).lineHeight)")
    height = text.evaluate("node => node.getBoundingClientRect().height")
    assert 2.5 * line_height < height < 3.5 * line_height, (height, line_height)

    shop.locator("[data-testid=wp-toast-close]").click()
    expect(toast).to_be_hidden()
    expect(shop.locator("[data-testid=wp-window]")).to_be_hidden()
    expect(shop.locator("[data-testid=wp-badge]")).to_have_text("1")


def test_reading_in_one_tab_clears_the_badge_in_the_others_and_opening_shows_the_newest(
    web_server, peter, panel_for, open_page
):
    panel = panel_for(peter)
    first = open_page(f"http://{web_server}/demo/")
    # Welcomed (her token kept) before a second tab opens: one visitor, not two.
    expect(panel.locator("[data-testid=visitor-row]")).to_have_count(1)
    second = first.context.new_page()
    second.goto(f"http://{web_server}/demo/cart/")
    start_chat_and_say(panel, "Hello! Can I help?")
    for line in range(15):
        panel.locator("[data-testid=message-input]").fill(f"Line {line} of the size guide")
        panel.locator("[data-testid=send]").click()
    for tab in (first, second):
        expect(tab.locator("[data-testid=wp-badge]")).to_have_text("16")

    second.locator("[data-testid=wp-launcher]").click()
    expect(first.locator("[data-testid=wp-badge]")).to_be_hidden()
    expect(first.locator("[data-testid=wp-toast]")).to_be_hidden()
    # The newest message is in view, not the first.
    transcript = second.locator("[data-testid=wp-transcript]")
    expect(second.locator("[data-testid=wp-message]").last).to_contain_text("Line 14")
    at_bottom = transcript.evaluate("node => node.scrollHeight - node.scrollTop - node.clientHeight < 4")
    assert at_bottom


def test_the_operator_sees_a_visitor_whose_last_tab_closed_as_connection_lost_until_they_return(
    web_server, peter, panel_for, open_page
):
    panel = panel_for(peter)
    shop = open_page(f"http://{web_server}/demo/")
    row = panel.locator("[data-testid=visitor-row]")
    expect(row).to_have_count(1)
    context = shop.context
    keep = context.new_page()  # the browser stays; only the shop's tab closes
    shop.close()
    expect(row.locator("[data-testid=visitor-lost]")).to_have_text("connection lost — may have left")
    expect(row).to_have_class("lost")

    keep.goto(f"http://{web_server}/demo/cart/")
    expect(row.locator("[data-testid=visitor-lost]")).to_be_hidden()
    expect(row).not_to_have_class("lost")


def test_a_chat_the_operator_started_says_the_visitor_has_not_opened_it_then_left_the_window(
    web_server, peter, panel_for, open_page
):
    panel = panel_for(peter)
    shop = open_page(f"http://{web_server}/demo/")
    # Welcomed (her token kept) before a second tab opens: one visitor, not two.
    expect(panel.locator("[data-testid=visitor-row]")).to_have_count(1)
    second_tab = shop.context.new_page()
    second_tab.goto(f"http://{web_server}/demo/cart/")
    start_chat_and_say(panel, "Hi! Need a hand?")
    signal = panel.locator("[data-testid=room-signal]")
    expect(signal).to_have_text("The visitor has not opened the chat window yet")

    shop.locator("[data-testid=wp-toast]").click()  # opens the window at the message
    expect(signal).to_be_hidden()
    # Closing the tab that held the window is leaving it; the other tab still browses.
    shop.close()
    expect(signal).to_have_text("Visitor left the chat window")


def test_a_message_the_page_missed_while_it_heard_a_later_one_comes_with_the_reconnect(
    web_server, peter, panel_for, open_page
):
    """R8: Peter's answer is stored, but its event never reaches the page (the process that
    published it died, say), while the visitor's later message does. The reconnect's history
    starts after the last id a history answer brought, not after the newest heard live."""
    panel = panel_for(peter)
    route_of = {"lost": None, "sockets": []}

    def route(ws):
        route_of["sockets"].append(ws)
        server = ws.connect_to_server()

        def to_page(message):
            if route_of["lost"] and isinstance(message, str) and route_of["lost"] in message:
                return  # lost on its way to this page
            ws.send(message)

        server.on_message(to_page)

    shop = open_page("about:blank")
    shop.route_web_socket("**/ws/visitor/**", route)
    shop.goto(f"http://{web_server}/demo/")
    start_chat_and_say(panel, "Hello! Can I help?")
    shop.locator("[data-testid=wp-launcher]").click()
    messages = shop.locator("[data-testid=wp-transcript]")
    expect(messages).to_contain_text("Hello! Can I help?")

    route_of["lost"] = "One moment, I am checking."
    panel.locator("[data-testid=message-input]").fill("One moment, I am checking.")
    panel.locator("[data-testid=send]").click()
    expect(panel.locator("[data-testid=message]").filter(has_text="I am checking")).to_have_count(1)
    shop.locator("[data-testid=wp-input]").fill("Is it in stock?")
    shop.locator("[data-testid=wp-send]").click()
    expect(messages).to_contain_text("Is it in stock?")
    expect(messages).not_to_contain_text("I am checking")

    route_of["lost"] = None
    route_of["sockets"][-1].close()  # the socket drops; the page reconnects
    expect(messages).to_contain_text("One moment, I am checking.", timeout=15_000)

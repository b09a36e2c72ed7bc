"""R15 in the browser (issue 22): the transcript says who was there when. The operator sees a
muted line for each change (joined, the visitor's window, closed); the visitor sees those about
the operator side, never the ones about themselves; none of them is unread or a bubble."""

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.django_db(transaction=True)


def system_line(page: Page, selector: str, text: str):
    """A system line of this transcript (the panel's or the widget's) with this text."""
    return page.locator(f"{selector}[data-sender=system]", has_text=text)


def test_the_operator_sees_who_was_there_when_and_the_visitor_sees_the_operator_side(
    web_server, peter, panel_for, open_page
):
    panel = panel_for(peter)
    linda = open_page(f"http://{web_server}/demo/product/trail-shoes/")
    linda.locator("[data-testid=wp-launcher]").click()
    linda.locator("[data-testid=wp-input]").fill("Do these come in 42?")
    linda.locator("[data-testid=wp-send]").click()
    panel.locator("[data-testid=pool-item] [data-testid=accept]").click()
    room = panel.locator("[data-testid=room-panel]")
    expect(room).to_be_visible()
    in_panel = "[data-testid=room-panel] [data-testid=message]"
    in_widget = "[data-testid=wp-message]"

    # Peter joined: a muted line, not a bubble, on both sides, after Linda's question.
    joined = system_line(panel, in_panel, "Peter joined the chat")
    expect(joined).to_have_count(1)
    expect(joined).to_have_attribute("data-event", "joined")
    expect(joined).to_have_class("msg msg-system")
    expect(system_line(linda, in_widget, "Peter joined the chat")).to_have_count(1)
    expect(room.locator("[data-testid=message-body]")).to_have_text(["Do these come in 42?", "Peter joined the chat"])

    # Linda closes her window and opens it again: Peter is told; Linda's window says nothing of it.
    linda.locator("[data-testid=wp-close]").click()
    expect(system_line(panel, in_panel, "The visitor closed the chat window")).to_have_count(1)
    expect(linda.locator("[data-testid=wp-badge]")).to_be_hidden()  # a system line is never unread
    linda.locator("[data-testid=wp-launcher]").click()
    expect(system_line(panel, in_panel, "The visitor opened the chat window")).to_have_count(1)
    expect(panel.locator("[data-testid=room-unread]")).to_be_hidden()

    # A new page of Linda's shows the same: her history has the operator side only.
    linda.goto(f"http://{web_server}/demo/cart/")
    expect(linda.locator("[data-testid=wp-window]")).to_be_visible()  # still open, in this tab
    expect(linda.locator(f"{in_widget}[data-sender=system]")).to_have_text(["Peter joined the chat"])

    # Peter closes the chat: both read it, Linda still nothing of her window.
    room.locator("[data-testid=close-room]").click()
    expect(system_line(panel, in_panel, "Peter closed the chat")).to_have_count(1)
    expect(system_line(linda, in_widget, "Peter closed the chat")).to_have_count(1)
    expect(linda.locator("[data-testid=wp-transcript]")).not_to_contain_text("chat window")

"""The operator panel's own paths in the browser (static/panel/): tabs, unread counts,
closing and reopening, a reload that rebuilds the transcript from history, and the
server's limits in the page (the snapshot's, not the panel's own)."""

import pytest
from django.conf import settings
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.django_db(transaction=True)


def start_chat(panel: Page, visitor_id: str):
    panel.locator(f"[data-testid=visitor-row][data-visitor-id='{visitor_id}'] [data-testid=start-chat]").click()
    room = panel.locator(f"[data-testid=room-panel][data-visitor-id='{visitor_id}']")
    expect(room).to_be_visible()
    return room


def visitor_on(panel: Page, path: str) -> str:
    row = panel.locator("[data-testid=visitor-row]", has=panel.locator("[data-testid=visitor-page]", has_text=path))
    expect(row).to_have_count(1)
    return row.get_attribute("data-visitor-id")


def tab_of(panel: Page, room):
    return panel.locator(f"[data-testid=room-tab][data-room-id='{room.get_attribute('data-room-id')}']")


def test_a_message_in_another_tab_is_unread_until_that_tab_is_opened(web_server, peter, panel_for, open_page):
    panel = panel_for(peter)
    linda = open_page(f"http://{web_server}/demo/product/trail-shoes/")
    mary = open_page(f"http://{web_server}/demo/cart/")
    linda_room = start_chat(panel, visitor_on(panel, "/demo/product/trail-shoes/"))
    mary_room = start_chat(panel, visitor_on(panel, "/demo/cart/"))
    expect(linda_room).to_be_hidden()  # the chat just started is the one in view

    linda.locator("[data-testid=wp-launcher]").click()
    linda.locator("[data-testid=wp-input]").fill("Are these waterproof?")
    linda.locator("[data-testid=wp-send]").click()
    unread = tab_of(panel, linda_room).locator("[data-testid=room-unread]")
    expect(unread).to_have_text("1")
    expect(panel).to_have_title("(1 unread) Panel · White Panel")

    tab_of(panel, linda_room).click()
    expect(linda_room).to_be_visible()
    expect(linda_room.locator("[data-testid=transcript]")).to_contain_text("Are these waterproof?")
    expect(unread).to_be_hidden()
    expect(panel).to_have_title("Panel · White Panel")
    expect(mary_room).to_be_hidden()
    assert mary.dialogs == []


def test_close_reopen_expire_and_dismiss_a_chat(web_server, peter, panel_for, open_page, sweeper):
    panel = panel_for(peter)
    mary = open_page(f"http://{web_server}/demo/cart/")
    room = start_chat(panel, visitor_on(panel, "/demo/cart/"))
    status = room.locator("[data-testid=room-status]")
    expect(status).to_have_text("Active")

    room.locator("[data-testid=close-room]").click()
    expect(status).to_have_text("Closing")
    expect(room.locator("[data-testid=countdown]")).to_be_visible()
    room.locator("[data-testid=reopen-room]").click()
    expect(status).to_have_text("Active")
    expect(room.locator("[data-testid=countdown]")).to_be_hidden()

    room.locator("[data-testid=close-room]").click()  # and let it expire (WP_ROOM_EXPIRY, shrunk for tests)
    expect(status).to_have_text("Expired: closed by you")
    expect(room.locator("[data-testid=message-input]")).to_be_disabled()
    # The visitor is told he closed the chat, not that he went off duty (issue 22).
    expect(mary.locator("[data-testid=wp-status]")).to_have_text("Peter closed the chat. Write again any time.")
    room.locator("[data-testid=dismiss-room]").click()
    expect(panel.locator("[data-testid=room-panel]")).to_have_count(0)
    expect(panel.locator("#rooms-empty")).to_be_visible()


def test_a_reload_shows_the_same_chat_from_history(web_server, peter, panel_for, open_page):
    panel = panel_for(peter)
    mary = open_page(f"http://{web_server}/demo/cart/")
    room = start_chat(panel, visitor_on(panel, "/demo/cart/"))
    # The longest message is the server's (the snapshot's limits), not a number of the panel's.
    composer = room.locator("[data-testid=message-input]")
    expect(composer).to_have_attribute("maxlength", str(settings.WP_MAX_MESSAGE_LENGTH))
    composer.fill("Hello Mary")
    room.locator("[data-testid=send]").click()
    mine = room.locator("[data-testid=message][data-sender=operator]")
    expect(mine).to_have_count(1)
    expect(mine).not_to_have_attribute("data-state", "sending")  # acknowledged
    expect(mary.locator("[data-testid=wp-toast]")).to_contain_text("Hello Mary")

    panel.reload()
    expect(panel.locator("[data-testid=connection-status]")).to_have_attribute("data-state", "online")
    room = panel.locator("[data-testid=room-panel]")
    expect(room).to_be_visible()
    expect(room.locator("[data-testid=message][data-sender=operator]")).to_have_count(1)
    expect(room.locator("[data-testid=transcript]")).to_contain_text("Hello Mary")


def test_an_operator_hands_a_chat_to_a_colleague_and_the_visitor_sees_who(
    web_server, peter, jane, panel_for, open_page
):
    """Issue 22, transfer: Peter picks Jane in the room's Transfer list; the chat leaves his tabs,
    opens in Jane's with what was said, and Linda's window names Jane."""
    peter_panel = panel_for(peter)
    jane_panel = panel_for(jane)
    linda = open_page(f"http://{web_server}/demo/product/trail-shoes/")
    room = start_chat(peter_panel, visitor_on(peter_panel, "/demo/product/trail-shoes/"))
    room.locator("[data-testid=message-input]").fill("Hello, Peter here.")
    room.locator("[data-testid=send]").click()
    linda.locator("[data-testid=wp-launcher]").click()
    expect(linda.locator("[data-testid=wp-status]")).to_have_text("Peter is here")

    room.locator("[data-testid=transfer-to]").focus()
    room.locator("[data-testid=transfer-to]").select_option(label="To Jane")
    expect(peter_panel.locator("[data-testid=room-panel]")).to_have_count(0)
    jane_room = jane_panel.locator("[data-testid=room-panel]")
    expect(jane_room).to_be_visible()
    expect(jane_room.locator("[data-testid=transcript]")).to_contain_text("Hello, Peter here.")
    expect(linda.locator("[data-testid=wp-status]")).to_have_text("Jane is here")

"""The "Shop with Your Visitors" story (../shared/seed/), every step on screen:
Peter and Jane in their panels, Linda and Mary browsing the demo shop."""

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.django_db(transaction=True)


def visitor_row(panel: Page, visitor_id: str):
    return panel.locator(f"[data-testid=visitor-row][data-visitor-id='{visitor_id}']")


def row_showing(panel: Page, path: str):
    return panel.locator("[data-testid=visitor-row]", has=panel.locator("[data-testid=visitor-page]", has_text=path))


def room_of(panel: Page, visitor_id: str):
    return panel.locator(f"[data-testid=room-panel][data-visitor-id='{visitor_id}']")


def send_from_panel(room, text: str) -> None:
    room.locator("[data-testid=message-input]").fill(text)
    room.locator("[data-testid=send]").click()


def send_from_shop(shop: Page, text: str) -> None:
    shop.locator("[data-testid=wp-input]").fill(text)
    shop.locator("[data-testid=wp-send]").click()


def test_shop_with_your_visitors(web_server, peter, jane, panel_for, open_page, sweeper):
    shop = f"http://{web_server}/demo"
    peter_panel = panel_for(peter)
    jane_panel = panel_for(jane)
    linda = open_page(f"{shop}/product/trail-shoes/")
    mary = open_page(f"{shop}/cart/")

    # Both operators see both visitors live, each on her page.
    for panel in (peter_panel, jane_panel):
        expect(panel.locator("[data-testid=visitor-row]")).to_have_count(2)
    linda_row = row_showing(peter_panel, "/demo/product/trail-shoes/")
    expect(linda_row).to_have_count(1)
    linda_id = linda_row.get_attribute("data-visitor-id")
    mary_id = row_showing(peter_panel, "/demo/cart/").get_attribute("data-visitor-id")
    expect(peter_panel.locator("[data-testid=operators-online]")).to_contain_text("Jane")

    # "Peter start a conversation with Linda"
    visitor_row(peter_panel, linda_id).locator("[data-testid=start-chat]").click()
    linda_room = room_of(peter_panel, linda_id)
    expect(linda_room).to_be_visible()
    send_from_panel(linda_room, "Hi Linda, can I help you with the trail shoes?")
    # Her chat window is closed: the message pops up on the page she is on.
    expect(linda.locator("[data-testid=wp-toast]")).to_contain_text("can I help you with the trail shoes")
    expect(linda.locator("[data-testid=wp-badge]")).to_have_text("1")
    linda.locator("[data-testid=wp-toast]").click()
    expect(linda.locator("[data-testid=wp-status]")).to_have_text("Peter is here")
    # "Linda talk to peter for a while"
    send_from_shop(linda, "Do you have them in size 42?")
    expect(linda_room.locator("[data-testid=transcript]")).to_contain_text("Do you have them in size 42?")
    send_from_panel(linda_room, "We do, in blue and in black.")
    expect(linda.locator("[data-testid=wp-transcript]")).to_contain_text("in blue and in black")
    expect(visitor_row(jane_panel, linda_id).locator("[data-testid=visitor-chat-state]")).to_contain_text("Peter")

    # "she close the Chat Window. Peter see a signal saids Linda is no longer in the Chat Room."
    linda.locator("[data-testid=wp-close]").click()
    expect(linda_room.locator("[data-testid=room-signal]")).to_have_text("Visitor left the chat window")

    # "Peter keeps the Chat Room Open and use the different chat room to talk to other people."
    visitor_row(peter_panel, mary_id).locator("[data-testid=start-chat]").click()
    mary_room = room_of(peter_panel, mary_id)
    send_from_panel(mary_room, "Hello Mary, anything I can help with?")
    expect(mary.locator("[data-testid=wp-toast]")).to_contain_text("Hello Mary")
    # R14 (issue 22): a question during Closing is not lost. Peter closes Mary's room; within the
    # minute she asks again: the room is active again and the question is his to answer.
    mary_room.locator("[data-testid=close-room]").click()
    expect(mary_room.locator("[data-testid=room-status]")).to_have_text("Closing")
    mary.locator("[data-testid=wp-toast]").click()
    send_from_shop(mary, "Wait — does it come in XL?")
    expect(mary_room.locator("[data-testid=room-status]")).to_have_text("Active")
    expect(mary_room.locator("[data-testid=transcript]")).to_contain_text("does it come in XL?")
    expect(mary.locator("[data-testid=wp-status]")).to_have_text("Peter is here")
    send_from_panel(mary_room, "It does: XL is in stock.")
    expect(mary.locator("[data-testid=wp-transcript]")).to_contain_text("XL is in stock")
    mary.locator("[data-testid=wp-close]").click()

    # "Peter can still see Linda in the control panel and she is watching something in the website."
    linda.get_by_role("link", name="Rain jacket").first.click()
    linda.wait_for_url("**/rain-jacket/")
    expect(visitor_row(peter_panel, linda_id).locator("[data-testid=visitor-page]")).to_contain_text("Rain jacket")

    # "If Peter now type in conversation with Linda ... Linda will see the message through the Website
    # (Message will only delivered to Linda, not other visitors)."
    peter_panel.locator(f"[data-testid=room-tab][data-room-id='{linda_room.get_attribute('data-room-id')}']").click()
    send_from_panel(linda_room, "The rain jacket is 20% off today, by the way.")
    expect(linda.locator("[data-testid=wp-toast]")).to_contain_text("20% off today")
    expect(mary.locator("[data-testid=wp-toast]")).not_to_contain_text("20% off")
    expect(mary.locator("[data-testid=wp-transcript]")).not_to_contain_text("20% off")

    # "if Linda wants to ask a new questions, she click on the Chat Request again, it will
    # automatically get back to the original Chat Room with Peter."
    linda.locator("[data-testid=wp-launcher]").click()
    expect(linda.locator("[data-testid=wp-status]")).to_have_text("Peter is here")
    expect(linda.locator("[data-testid=wp-transcript]")).to_contain_text("Do you have them in size 42?")
    expect(linda_room.locator("[data-testid=room-signal]")).to_be_hidden()
    send_from_shop(linda, "Does the jacket come in green?")
    expect(linda_room.locator("[data-testid=transcript]")).to_contain_text("come in green")
    expect(jane_panel.locator("[data-testid=pool-item]")).to_have_count(0)
    # "she close the chat room again, Peter can still see Linda is still on the website"
    linda.locator("[data-testid=wp-close]").click()
    expect(linda_room.locator("[data-testid=room-signal]")).to_have_text("Visitor left the chat window")

    # "Peter is now off duties ... logout from White Panel. The system now indicate Peter is gone,
    # and Linda is now open back to public."
    peter_panel.locator("[data-testid=logout]").click()
    # With chats open, the panel asks first and says where they go (issue 23).
    expect(peter_panel.locator("[data-testid=logout-text]")).to_contain_text("You have 2 open chats")
    peter_panel.locator("[data-testid=logout-confirm]").click()
    peter_panel.wait_for_url("**/operators/login/**")
    expect(jane_panel.locator("[data-testid=operators-online]")).not_to_contain_text("Peter")
    # R14 (issue 22): Peter left her question about the green jacket unanswered, so it is back
    # in the pool at once, marked why, and Linda is told it is not lost.
    linda_state = visitor_row(jane_panel, linda_id).locator("[data-testid=visitor-chat-state]")
    expect(linda_state).to_have_attribute("data-state", "pending")
    returned = jane_panel.locator("[data-testid=pool-item]")
    expect(returned.locator("[data-testid=pool-returned]")).to_have_text("Unanswered: Peter logged out")
    expect(returned.locator("[data-testid=pool-message]")).to_contain_text("come in green")
    expect(linda.locator("[data-testid=wp-status]")).to_have_text(
        "Your question is with the team again; someone will answer here soon."
    )

    # "Jane can be able to talk to Linda now and start a new conversation with Linda." She reads
    # what Linda said to Peter before (R15).
    visitor_row(jane_panel, linda_id).locator("[data-testid=start-chat]").click()
    jane_room = room_of(jane_panel, linda_id)
    expect(jane_room.locator("[data-testid=transcript]")).to_contain_text("come in green")
    expect(jane_room.locator("[data-testid=transcript]")).to_contain_text("Do you have them in size 42?")
    send_from_panel(jane_room, "Hi Linda, Jane here. Peter has gone home; can I help?")
    expect(linda.locator("[data-testid=wp-toast]")).to_contain_text("Jane here")
    linda.locator("[data-testid=wp-launcher]").click()
    expect(linda.locator("[data-testid=wp-status]")).to_have_text("Jane is here")
    send_from_shop(linda, "Thanks Jane, that is all.")
    expect(jane_room.locator("[data-testid=transcript]")).to_contain_text("that is all")
    # "Linda finished what she asks and close the chat window. ... Jane can still see Linda is
    # surfing arround in the website."
    linda.locator("[data-testid=wp-close]").click()
    expect(jane_room.locator("[data-testid=room-signal]")).to_have_text("Visitor left the chat window")
    linda.get_by_role("link", name="Cart").first.click()
    linda.wait_for_url("**/cart/")
    expect(visitor_row(jane_panel, linda_id).locator("[data-testid=visitor-page]")).to_contain_text("Cart")

    # "Finally, Linda surf away from your website. After 1 minute, Jane see Linda is no longer in
    # the Website ... The Chat Room used to talk to Linda is also expired (no matter Jane never
    # close the Chat Room)." (The minute is WP_VISITOR_TIMEOUT, shrunk for tests.)
    linda.context.close()
    expect(visitor_row(jane_panel, linda_id)).to_have_count(0)
    expect(jane_room.locator("[data-testid=room-signal]")).to_have_text("Visitor left the site")
    expect(jane_room.locator("[data-testid=room-status]")).to_contain_text("visitor left")
    expect(visitor_row(jane_panel, mary_id)).to_have_count(1)

    # R14 after an operator timeout: Mary asks again and Jane takes it, then Jane's panel goes
    # away without logging out, the question unanswered. After OPERATOR_TIMEOUT (shrunk) it is
    # back in the pool by itself; Peter, back on duty, takes it and reads the whole conversation.
    mary.locator("[data-testid=wp-launcher]").click()
    send_from_shop(mary, "One more thing: do you ship to Norway?")
    jane_panel.locator("[data-testid=pool-item]").locator("[data-testid=accept]").click()
    expect(mary.locator("[data-testid=wp-status]")).to_have_text("Jane is here")
    jane_panel.close()
    # Nobody is on duty now: Mary is told so (R16) and may leave her email; her question waits.
    expect(mary.locator("[data-testid=wp-status]")).to_have_text("We're offline", timeout=15_000)
    expect(mary.locator("[data-testid=wp-offline]")).to_be_visible()
    peter_panel = panel_for(peter)
    returned = peter_panel.locator("[data-testid=pool-item]")
    expect(returned.locator("[data-testid=pool-returned]")).to_have_text("Unanswered: Jane lost the connection")
    returned.locator("[data-testid=accept]").click()
    mary_room = room_of(peter_panel, mary_id)
    for earlier in ("Hello Mary", "does it come in XL?", "XL is in stock", "ship to Norway?"):
        expect(mary_room.locator("[data-testid=transcript]")).to_contain_text(earlier)
    expect(mary.locator("[data-testid=wp-status]")).to_have_text("Peter is here")

    for page in (peter_panel, mary):
        assert page.dialogs == []

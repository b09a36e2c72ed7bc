"""Past conversations in the panel (issue 23, part 8): an operator finds an old chat by what was
said in it and reads it, notes included; another site's chats are never found."""

import pytest
from playwright.sync_api import expect

from chat.models import Message, Room
from tests.api import make_message, make_room, make_visitor

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_operator_finds_a_past_conversation_and_reads_it(web_server, site, other_site, peter, olga, panel_for):
    old = make_room(make_visitor(site, online=False), operator=peter, status=Room.Status.EXPIRED)
    make_message(old, "Do the trail shoes come in 46?")
    make_message(old, "They do, in <b>black</b>.", sender=Message.Sender.OPERATOR)
    make_message(old, "Wants them by Friday", sender=Message.Sender.NOTE)
    make_message(make_room(make_visitor(other_site), operator=olga), "Trail shoes in 46, other shop")

    panel = panel_for(peter)
    panel.locator("[data-testid=history-open]").click()
    panel.locator("[data-testid=history-q]").fill("trail shoes")
    panel.locator("[data-testid=history-search]").click()
    found = panel.locator("[data-testid=history-item]")
    expect(found).to_have_count(1)
    expect(found).to_contain_text("Peter")
    found.locator("button").click()
    lines = panel.locator("[data-testid=history-line]")
    expect(lines).to_have_count(3)
    expect(lines.nth(1)).to_contain_text("They do, in <b>black</b>.")
    expect(panel.locator("[data-testid=history-line][data-sender=note]")).to_contain_text("Note · ")

    panel.locator("[data-testid=history-q]").fill("nothing like this")
    panel.locator("[data-testid=history-search]").click()
    expect(panel.locator("[data-testid=history-status]")).to_have_text("Nothing found for “nothing like this”.")

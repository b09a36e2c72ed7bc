"""Signals that tell the operator the truth about the visitor (issue 22, clause 5), over the
real sockets and Redis: the chat window across tabs, a visitor whose connection was lost,
and a chat the visitor has not opened yet. WP_RECONNECT_GRACE is shrunk (conftest)."""

import pytest
from django.conf import settings

from chat.tests.test_rooms import as_operator, chat_with, close_window, from_now_on, open_chat, room_frame
from tests.sockets import of_type

pytestmark = pytest.mark.django_db(transaction=True)


def after_grace() -> float:
    # The watcher looks every grace / 2: allow for two rounds and the trip.
    return settings.WP_RECONNECT_GRACE * 2 + 1.0


async def test_closing_the_tab_with_the_chat_window_open_tells_the_operator_the_visitor_left_the_window(sockets, peter):
    panel = await sockets.operator(peter)
    linda = await sockets.visitor()
    browsing_tab = await sockets.visitor(token=linda.welcome["token"])
    room = await chat_with(linda, panel, peter)

    await linda.close()  # the tab that had the window open; another tab still browses

    left = await panel.expect(room_frame(room["id"], room__visitor_in_room=False), timeout=after_grace())
    assert left["room"]["status"] == "active"
    assert left["room"]["operator"] == as_operator(peter)
    # Still on the site: not "connection lost".
    await panel.expect_none("visitor_lost", within=0.5)
    assert browsing_tab.closed_code is None


async def test_window_stays_open_while_another_tab_has_it_open(sockets, peter):
    panel = await sockets.operator(peter)
    tab1 = await sockets.visitor()
    tab2 = await sockets.visitor(token=tab1.welcome["token"])
    room = await chat_with(tab1, panel, peter)
    await open_chat(tab2)
    # Its `open` done (a socket's frames are answered in order): the room event it matched may
    # have been the accept's, reaching this tab late.
    await tab2.ask("pong", type="ping")

    # Closing it in one tab, and closing that tab, leaves the visitor in the window of the other.
    answer = await tab1.ask(from_now_on(tab1, of_type("room")), type="close")
    assert answer["room"]["visitor_in_room"] is True
    await tab1.close()
    await panel.expect_none(room_frame(room["id"], room__visitor_in_room=False), within=after_grace())

    # The last tab closes it: now they have left the window.
    assert (await close_window(tab2))["visitor_in_room"] is False
    await panel.expect(room_frame(room["id"], room__visitor_in_room=False))


async def test_moving_to_the_next_page_with_the_window_open_is_not_leaving_it(sockets, peter):
    panel = await sockets.operator(peter)
    page1 = await sockets.visitor()
    room = await chat_with(page1, panel, peter)

    # The snippet on the next page: the old socket closes, a new one opens the window again.
    await page1.close()
    page2 = await sockets.visitor(token=page1.welcome["token"])
    assert (await open_chat(page2))["id"] == room["id"]

    await panel.expect_none(room_frame(room["id"], room__visitor_in_room=False), within=after_grace())
    await panel.expect_none("visitor_lost", within=0.1)


async def test_a_visitor_whose_last_tab_closed_shows_as_connection_lost_at_once_and_in_a_fresh_snapshot(sockets, peter):
    panel = await sockets.operator(peter)
    linda = await sockets.visitor()
    visitor_id = linda.welcome["visitor"]
    await panel.expect(of_type("visitor", visitor__id=visitor_id))

    await linda.close()

    # Well before VISITOR_TIMEOUT makes them leave (R3).
    lost = await panel.expect(of_type("visitor_lost", visitor=visitor_id), timeout=after_grace())
    assert lost["since"]
    await panel.expect_none(of_type("visitor_gone", visitor=visitor_id), within=0.1)
    # A panel opened now reads the same.
    snapshot = (await sockets.operator(peter)).snapshot
    row = next(v for v in snapshot["visitors"] if v["id"] == visitor_id)
    assert row["lost"] == lost["since"]

    # Back on the site: the next page clears it (the snippet's hello carries its page).
    back = await sockets.visitor(hello=False)
    page = {"url": "http://shop.test/boots", "title": "Boots", "referrer": ""}
    back.welcome = await back.ask("welcome", type="hello", token=linda.welcome["token"], page=page)
    here = await panel.expect(of_type("visitor", visitor__id=visitor_id, visitor__lost=None))
    assert here["visitor"]["online"] is True
    assert back.welcome["visitor"] == visitor_id
    snapshot = (await sockets.operator(peter)).snapshot
    assert next(v for v in snapshot["visitors"] if v["id"] == visitor_id)["lost"] is None


async def test_a_visitor_changing_pages_never_shows_as_connection_lost(sockets, peter):
    panel = await sockets.operator(peter)
    page = await sockets.visitor()
    for _ in range(3):
        await page.close()
        page = await sockets.visitor(token=page.welcome["token"])
    await panel.expect_none("visitor_lost", within=after_grace())


async def test_a_chat_the_operator_started_says_the_visitor_has_not_opened_the_window_yet(sockets, peter):
    panel = await sockets.operator(peter)
    linda = await sockets.visitor()
    visitor_id = linda.welcome["visitor"]

    started = await panel.ask(of_type("room", room__visitor=visitor_id), type="start", visitor=visitor_id)
    assert started["room"]["window_opened"] is False
    assert started["room"]["visitor_in_room"] is False

    opened = await open_chat(linda)
    assert opened["id"] == started["room"]["id"]
    assert opened["window_opened"] is True
    await panel.expect(room_frame(opened["id"], room__window_opened=True, room__visitor_in_room=True))

    # Closed again: now "left the chat window", the window having been opened.
    await linda.ask(room_frame(opened["id"], room__visitor_in_room=False, room__window_opened=True), type="close")
    await panel.expect(room_frame(opened["id"], room__visitor_in_room=False, room__window_opened=True))

"""Internal notes (issue 23, part 5; SPEC §3 `note`): operators annotate a room, colleagues who
open the conversation later read them, and they never reach the visitor by any path: events,
history, a hello's history, the mail of an offline request's replies."""

import pytest
from channels.db import database_sync_to_async

from chat.models import Message
from chat.tests.test_rooms import chat_with, operator_says, stored_room, visitor_says
from tests.api import client_for
from tests.sockets import of_type

pytestmark = pytest.mark.django_db(transaction=True)


async def note(panel, room_id: int, body: str, client_id: str) -> int:
    ack = await panel.ask(
        of_type("ack", client_id=client_id), type="note", room=room_id, body=body, client_id=client_id
    )
    return ack["id"]


async def test_a_note_reaches_operators_and_never_the_visitor(sockets, peter, jane):
    peter_panel = await sockets.operator(peter)
    jane_panel = await sockets.operator(jane)
    linda = await sockets.visitor()
    room = await chat_with(linda, peter_panel, peter)
    await visitor_says(linda, "Do you ship to Norway?", "v-1")

    note_id = await note(peter_panel, room["id"], "VIP customer, offer free shipping", "n-1")
    shown = await peter_panel.expect(of_type("message", message__id=note_id))
    assert (shown["message"]["sender"], shown["message"]["name"]) == ("note", "Peter")
    await linda.expect_none(of_type("message", message__id=note_id), within=0.5)

    # A colleague opening the conversation reads it, and may add one: the room's operator sees it.
    history = await jane_panel.ask(of_type("history", room=room["id"]), type="history", room=room["id"], after=0)
    assert "VIP customer, offer free shipping" in [m["body"] for m in history["messages"]]
    jane_note = await note(jane_panel, room["id"], "He ordered twice last month", "n-2")
    await peter_panel.expect(of_type("message", message__id=jane_note))
    await jane_panel.expect(of_type("message", message__id=jane_note))

    # The visitor's every way to their conversation leaves notes out.
    own = await linda.ask(of_type("history"), type="history", after=0)
    assert [m["sender"] for m in own["messages"]].count("note") == 0
    tab = await sockets.visitor(hello=False)
    welcome = await tab.ask(
        "welcome", type="hello", token=linda.welcome["token"], page={"url": "http://shop.test/"}, history=0
    )
    assert all(m["sender"] != "note" for m in welcome.get("messages", []))
    await linda.expect_none(of_type("message", message__sender="note"), within=0.2)

    # A note is not an answer: the question is still the visitor's last word (R14).
    stored = await database_sync_to_async(lambda: list(Message.objects.values_list("sender", flat=True)))()
    assert stored.count("note") == 2
    assert (await stored_room(room["id"])).status == "active"


async def test_a_note_is_stored_once_and_bad_ones_are_refused(sockets, peter, olga):
    panel = await sockets.operator(peter)
    other = await sockets.operator(olga)
    linda = await sockets.visitor()
    room = await chat_with(linda, panel, peter)
    first = await note(panel, room["id"], "Call back Monday", "n-1")
    again = await note(panel, room["id"], "Call back Monday", "n-1")
    assert again == first
    empty = await panel.ask(
        of_type("error", **{"for": "note"}), type="note", room=room["id"], body="  ", client_id="n-2"
    )
    assert empty["code"] == "invalid"
    foreign = await other.ask(
        of_type("error", **{"for": "note"}), type="note", room=room["id"], body="x", client_id="n-3"
    )
    assert foreign["code"] == "not_found"
    count = await database_sync_to_async(Message.objects.filter(sender="note").count)()
    assert count == 1


async def test_the_api_shows_notes_to_operators(sockets, peter):
    panel = await sockets.operator(peter)
    linda = await sockets.visitor()
    room = await chat_with(linda, panel, peter)
    await operator_says(panel, room["id"], "Hello!", "o-1")
    await note(panel, room["id"], "Seems in a hurry", "n-1")
    answer = await database_sync_to_async(
        lambda: client_for(peter.user).get(f"/api/rooms/{room['id']}/messages/").json()
    )()
    assert ("note", "Seems in a hurry") in [(m["sender"], m["body"]) for m in answer["results"]]

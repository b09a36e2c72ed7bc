"""Typing and seen (issue 23), over the real sockets and Redis: each goes only to the room's
other side; typing is never stored; a seen mark only moves forward and reaches the snapshot."""

import pytest
from channels.db import database_sync_to_async

from chat.models import Message
from chat.tests.test_rooms import chat_with, operator_says, stored_room, visitor_says
from tests.sockets import ask_to_chat, of_type

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def message_count() -> int:
    return Message.objects.count()


async def test_typing_reaches_only_the_rooms_other_side_and_is_never_stored(sockets, peter, jane):
    peter_panel = await sockets.operator(peter)
    jane_panel = await sockets.operator(jane)
    linda = await sockets.visitor()
    mary = await sockets.visitor()
    room = await chat_with(linda, peter_panel, peter)
    await chat_with(mary, jane_panel, jane)
    stored = await message_count()

    await linda.send(type="typing")
    typing = await peter_panel.expect("typing")
    assert typing == {"type": "typing", "room": room["id"], "sender": "visitor"}
    await jane_panel.expect_none("typing", within=0.5)

    await peter_panel.send(type="typing", room=room["id"])
    typing = await linda.expect("typing")
    assert typing == {"type": "typing", "room": room["id"], "sender": "operator", "name": "Peter"}
    await mary.expect_none("typing", within=0.5)
    await linda.expect_none("error", within=0.1)
    assert await message_count() == stored


async def test_typing_is_relayed_once_a_second_at_most_and_not_into_someone_elses_room(sockets, peter, jane):
    peter_panel = await sockets.operator(peter)
    jane_panel = await sockets.operator(jane)
    linda = await sockets.visitor()
    room = await chat_with(linda, peter_panel, peter)
    for _ in range(5):
        await linda.send(type="typing")
    await peter_panel.expect("typing")
    await peter_panel.expect_none("typing", within=0.5)

    refused = await jane_panel.ask(of_type("error", **{"for": "typing"}), type="typing", room=room["id"])
    assert refused["code"] == "not_found"
    await linda.expect_none(of_type("typing", name="Jane"), within=0.5)
    # A visitor with no operator yet: their typing goes nowhere, without an error.
    mary = await sockets.visitor()
    await ask_to_chat(mary)
    await mary.send(type="typing")
    await mary.expect_none("error", within=0.5)


async def test_each_side_sees_what_the_other_has_seen_and_the_mark_only_moves_forward(sockets, peter, jane):
    panel = await sockets.operator(peter)
    linda = await sockets.visitor()
    room = await chat_with(linda, panel, peter)
    first = await operator_says(panel, room["id"], "Hello Linda", "o-1")
    second = await operator_says(panel, room["id"], "Can I help?", "o-2")

    await linda.send(type="seen", id=second)
    seen = await panel.expect("seen")
    assert seen == {"type": "seen", "room": room["id"], "sender": "visitor", "id": second}
    await linda.send(type="seen", id=first)  # an older one: nothing moves
    await panel.expect_none("seen", within=0.5)
    assert (await stored_room(room["id"])).visitor_seen_id == second

    question = await visitor_says(linda, "Do you have it in XL?", "v-1")
    await panel.send(type="seen", room=room["id"], id=question)
    seen = await linda.expect("seen")
    assert seen == {"type": "seen", "room": room["id"], "sender": "operator", "id": question}

    # A fresh panel and a new tab read the marks in the room.
    fresh = await sockets.operator(peter)
    shown = next(r for r in fresh.snapshot["rooms"] if r["id"] == room["id"])
    assert (shown["visitor_seen"], shown["operator_seen"]) == (second, question)
    tab = await sockets.visitor(token=linda.welcome["token"])
    assert tab.welcome["room"]["operator_seen"] == question


async def test_seen_marks_of_messages_not_ones_own_are_refused(sockets, peter, jane):
    peter_panel = await sockets.operator(peter)
    jane_panel = await sockets.operator(jane)
    linda = await sockets.visitor()
    mary = await sockets.visitor()
    room = await chat_with(linda, peter_panel, peter)
    mary_room = await chat_with(mary, jane_panel, jane)
    to_mary = await operator_says(jane_panel, mary_room["id"], "Hi Mary", "o-1")

    refused = await linda.ask(of_type("error", **{"for": "seen"}), type="seen", id=to_mary)
    assert refused["code"] == "not_found"
    refused = await peter_panel.ask(of_type("error", **{"for": "seen"}), type="seen", room=room["id"], id=to_mary)
    assert refused["code"] == "not_found"
    refused = await jane_panel.ask(of_type("error", **{"for": "seen"}), type="seen", room=room["id"], id=to_mary)
    assert refused["code"] == "not_allowed"
    invalid = await linda.ask(of_type("error", **{"for": "seen"}), type="seen", id="x")
    assert invalid["code"] == "invalid"
    assert (await stored_room(mary_room["id"])).visitor_seen_id == 0
    assert (await stored_room(room["id"])).operator_seen_id == 0

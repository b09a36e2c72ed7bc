"""Issue 8, faults 1 and 2: sockets that drop, and acknowledgements that never arrive.

Clients behave as the snippet and the panel do (tests/faults/clients.py): they keep
messages by id, ask `history` after the last id on every reconnect, and resend
unacknowledged messages with the same `client_id`. Against two real daphne
processes, whatever the network does, each side ends with the whole conversation,
in order, each message once."""

import asyncio
import random

import pytest
from django.conf import settings
from django.db import connection

from chat.services import message_send_by_operator, message_send_by_visitor
from conftest import SITE_ORIGIN
from tests.faults.clients import VisitorTab
from tests.faults.conversation import assert_complete, chat_between, panel_for, rooms_of, transcript, write_until
from tests.sockets import ask_to_chat, of_type

pytestmark = pytest.mark.django_db(transaction=True)


async def test_conversation_survives_sockets_dropped_again_and_again_while_both_sides_write(faults, peter):
    first, second = faults.bases
    linda = await VisitorTab([first, second], origin=SITE_ORIGIN, name="linda").started()
    panel = await panel_for(peter, [second, first], "peter")
    room_id = await chat_between(panel, linda)
    drops = 12

    async def drop_again_and_again(done: asyncio.Event) -> None:
        for n in range(drops):
            await asyncio.sleep(random.uniform(0.2, 0.5))
            # A phone changing network (no close at all), or a page that goes away cleanly.
            await random.choice([linda, panel]).drop(abort=n % 3 != 2)
        done.set()

    done = asyncio.Event()
    _, written_by_linda, written_by_peter = await asyncio.gather(
        drop_again_and_again(done), write_until(done, linda), write_until(done, panel, room=room_id)
    )

    await assert_complete(room_id, linda, panel, written={linda: written_by_linda, panel: written_by_peter})
    assert linda.connects + panel.connects >= drops + 2, "the sockets were not dropped"


async def lose_the_connection(client) -> None:
    client.ws.transport.abort()


async def test_visitor_message_whose_ack_was_lost_is_stored_once_when_resent(faults, live_sockets, peter):
    first, second = faults.bases
    panel = await live_sockets.operator(first, peter)
    linda = await live_sockets.visitor(first)
    await ask_to_chat(linda, of_type("room", room__status="pending"))

    # The message reaches the server; the connection dies before its ack can come back.
    await linda.send(type="message", body="Do you ship to Norway?", client_id="linda-1")
    await lose_the_connection(linda)
    stored = await panel.expect(of_type("message", message__body="Do you ship to Norway?"))

    # The snippet reconnects (here to the other process) and resends it with the same client_id.
    again = await live_sockets.visitor(second, token=linda.welcome["token"])
    ack = await again.ask(of_type("ack", client_id="linda-1"), type="message", body="Do you ship to Norway?",
                          client_id="linda-1")  # fmt: skip

    assert ack["id"] == stored["message"]["id"]
    assert [body for _, _, body in await transcript(stored["message"]["room"])] == ["Hello?", "Do you ship to Norway?"]
    # Relayed again with the resend, in case the first try never was: the same message, shown once.
    again = await panel.expect(of_type("message", message__body="Do you ship to Norway?"))
    assert again["message"]["id"] == stored["message"]["id"]


async def test_operator_message_whose_ack_was_lost_is_stored_once_when_resent(faults, live_sockets, peter):
    first, second = faults.bases
    panel = await live_sockets.operator(first, peter)
    linda = await live_sockets.visitor(second)
    room = await panel.ask(of_type("room", room__status="active"), type="start", visitor=linda.welcome["visitor"])
    room_id = room["room"]["id"]

    await panel.send(type="message", room=room_id, body="Hello, can I help?", client_id="peter-1")
    await lose_the_connection(panel)
    stored = await linda.expect(of_type("message", message__body="Hello, can I help?"))

    again = await live_sockets.operator(second, peter)
    ack = await again.ask(of_type("ack", client_id="peter-1"), type="message", room=room_id,
                          body="Hello, can I help?", client_id="peter-1")  # fmt: skip

    assert ack["id"] == stored["message"]["id"]
    assert [body for _, _, body in await transcript(room_id)] == ["Peter joined the chat", "Hello, can I help?"]
    again = await linda.expect(of_type("message", message__body="Hello, can I help?"))
    assert again["message"]["id"] == stored["message"]["id"]


async def test_message_resent_after_its_room_expired_is_acknowledged_not_stored_again(faults, live_sockets, peter):
    first, second = faults.bases
    panel = await live_sockets.operator(first, peter)
    linda = await live_sockets.visitor(second)
    linda_id = linda.welcome["visitor"]
    room = await panel.ask(of_type("room", room__status="active"), type="start", visitor=linda_id)
    room_id = room["room"]["id"]
    visitor_ack = await linda.ask(of_type("ack", client_id="linda-1"), type="message", body="Thanks!",
                                  client_id="linda-1")  # fmt: skip
    operator_ack = await panel.ask(of_type("ack", client_id="peter-1"), type="message", room=room_id, body="Bye!",
                                   client_id="peter-1")  # fmt: skip

    # Both acks are lost (the clients never saw them); meanwhile the room is closed and expires.
    await panel.ask(of_type("room", room__id=room_id, room__status="closing"), type="close", room=room_id)
    await linda.expect(of_type("room", room__id=room_id, room__status="expired"),
                       timeout=settings.WP_ROOM_EXPIRY + settings.WP_SWEEP_INTERVAL + 4)  # fmt: skip

    # The resends are recognised: acknowledged with the first ids, no new pool request, no "expired".
    again = await linda.ask(of_type("ack", client_id="linda-1"), type="message", body="Thanks!", client_id="linda-1")
    assert again["id"] == visitor_ack["id"]
    again = await panel.ask(of_type("ack", client_id="peter-1"), type="message", room=room_id, body="Bye!",
                            client_id="peter-1")  # fmt: skip
    assert again["id"] == operator_ack["id"]
    assert await rooms_of(linda_id) == [(room_id, "expired", "operator_closed")]
    assert [body for _, _, body in await transcript(room_id)] == [
        "Peter joined the chat",
        "Thanks!",
        "Bye!",
        "Peter closed the chat",
        "The chat has ended",
    ]


async def test_message_stored_but_never_relayed_is_relayed_when_resent(faults, live_sockets, peter):
    first, second = faults.bases
    panel = await live_sockets.operator(first, peter)
    linda = await live_sockets.visitor(second)
    linda_id = linda.welcome["visitor"]
    room = await panel.ask(of_type("room", room__status="active"), type="start", visitor=linda_id)
    room_id = room["room"]["id"]

    # Both messages are stored by a process that dies before it can publish them or
    # acknowledge them (here: one whose events go to another Redis).
    await asyncio.to_thread(stored_only, lambda: message_send_by_visitor(
        visitor_id=linda_id, body="Are you still there?", client_id="linda-1"))  # fmt: skip
    await asyncio.to_thread(stored_only, lambda: message_send_by_operator(
        room_id=room_id, operator=peter, body="Yes, one moment.", client_id="peter-1"))  # fmt: skip
    await panel.expect_none(of_type("message", message__body="Are you still there?"), within=0.5)

    # Each client resends what it has no ack for: now the other side hears of it, once stored.
    await linda.ask(of_type("ack", client_id="linda-1"), type="message", body="Are you still there?",
                    client_id="linda-1")  # fmt: skip
    await panel.expect(of_type("message", message__body="Are you still there?"))
    await panel.ask(of_type("ack", client_id="peter-1"), type="message", room=room_id, body="Yes, one moment.",
                    client_id="peter-1")  # fmt: skip
    await linda.expect(of_type("message", message__body="Yes, one moment."))
    assert [body for _, _, body in await transcript(room_id)] == [
        "Peter joined the chat",
        "Are you still there?",
        "Yes, one moment.",
    ]


def stored_only(action) -> None:
    action()
    connection.close()

"""Chat rooms over the sockets, on the real Redis channel layer (SPEC R4-R9, R12).

Each test drives visitor and operator sockets the way the snippet and the panel
do, and asserts what the people on either side would notice: what arrives, what
never arrives, and what the database keeps."""

import time
from datetime import datetime

import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone

from chat.models import Message, Room
from conftest import OTHER_ORIGIN
from tests.sockets import ask_to_chat, of_type

pytestmark = pytest.mark.django_db(transaction=True)


# Helpers ---------------------------------------------------------------------


def room_frame(room_id: int, **fields):
    """A `room` frame (answer or event) about this room whose fields match."""
    return of_type("room", room__id=room_id, **fields)


def is_room_frame(frame: dict) -> bool:
    return frame.get("type") == "room"


def is_pool_request(frame: dict) -> bool:
    return frame.get("type") == "room" and (frame.get("room") or {}).get("status") == "pending"


def message_frame(body: str):
    return of_type("message", message__body=body)


def as_operator(operator) -> dict:
    return {"id": operator.pk, "name": operator.user.first_name}


async def answer(client, match, **frame) -> dict:
    """Send a frame and return the first matching frame received after it: frames about an
    earlier change (group events arrive on their own time) may still be unread."""
    return await client.ask(from_now_on(client, match), **frame)


def from_now_on(client, match):
    """Matches only frames the client receives from now on."""
    seen = {id(f) for f in client.frames}
    return lambda frame: id(frame) not in seen and match(frame)


async def open_chat(visitor) -> dict:
    """The visitor opens the chat window of their live room; the answer is it, with them in it."""
    frame = await answer(visitor, of_type("room", room__visitor_in_room=True), type="open")
    return frame["room"]


async def close_window(visitor) -> dict:
    frame = await answer(visitor, of_type("room", room__visitor_in_room=False), type="close")
    return frame["room"]


async def accept(panel, room_id: int, operator) -> dict:
    frame = await panel.ask(room_frame(room_id, room__operator__id=operator.pk), type="accept", room=room_id)
    return frame["room"]


# What the visitor writes in `chat_with`: their request (R4).
FIRST = "I have a question"


async def chat_with(visitor, panel, operator) -> dict:
    """The visitor asks to chat (opens the window and writes) and this operator takes the
    request: an active room, whose transcript says who joined (R15), on both sides."""
    pending = (await ask_to_chat(visitor, body=FIRST))["room"]
    room = await accept(panel, pending["id"], operator)
    assert room["status"] == "active"
    await visitor.expect(room_frame(room["id"], room__status="active"))
    for side in (visitor, panel):
        await side.expect(joined_line(room["id"], operator))
    return room


def joined_line(room_id: int, operator):
    return of_type("message", message__room=room_id, message__event="joined", message__name=operator.user.first_name)


async def visitor_says(visitor, body: str, client_id: str) -> int:
    ack = await visitor.ask(of_type("ack", client_id=client_id), type="message", body=body, client_id=client_id)
    return ack["id"]


async def operator_says(panel, room_id: int, body: str, client_id: str) -> int:
    ack = await panel.ask(
        of_type("ack", client_id=client_id), type="message", room=room_id, body=body, client_id=client_id
    )
    return ack["id"]


@database_sync_to_async
def stored_messages(room_id: int) -> list[tuple[str, str]]:
    return list(Message.objects.filter(room_id=room_id).order_by("id").values_list("sender", "body"))


@database_sync_to_async
def stored_room(room_id: int) -> Room:
    return Room.objects.get(pk=room_id)


# R4: the general pool ----------------------------------------------------------


async def test_chat_request_appears_in_pool_of_every_operator_of_the_site(sockets, peter, jane, olga):
    peter_panel = await sockets.operator(peter)
    jane_panel = await sockets.operator(jane)
    olga_panel = await sockets.operator(olga)
    linda = await sockets.visitor()

    room = (await ask_to_chat(linda))["room"]

    assert room["status"] == "pending"
    assert room["operator"] is None
    assert room["visitor"] == linda.welcome["visitor"]
    for panel in (peter_panel, jane_panel):
        event = await panel.expect(room_frame(room["id"], room__status="pending"))
        assert event["room"]["visitor"] == linda.welcome["visitor"]
    await olga_panel.expect_none(lambda f: f["type"] in ("room", "message", "visitor"))


def is_request_of(visitor):
    """A frame saying this visitor has a request or a room (a `room` frame about them, or their
    line in the visitor list with one)."""
    visitor_id = visitor.welcome["visitor"]

    def match(frame: dict) -> bool:
        if frame.get("type") == "room":
            return (frame.get("room") or {}).get("visitor") == visitor_id
        return frame.get("type") == "visitor" and frame["visitor"]["id"] == visitor_id and frame["visitor"]["room"]

    return match


@database_sync_to_async
def rooms_of(visitor) -> list[Room]:
    return list(Room.objects.filter(visitor_id=visitor.welcome["visitor"]))


async def test_opening_the_chat_window_without_writing_puts_nothing_in_the_pool(sockets, peter, jane):
    peter_panel = await sockets.operator(peter)
    jane_panel = await sockets.operator(jane)
    linda = await sockets.visitor()

    opened = await linda.ask("room", type="open")

    assert opened["room"] is None
    for panel in (peter_panel, jane_panel):
        await panel.expect_none(is_request_of(linda), within=0.5)
    assert await rooms_of(linda) == []
    # A panel connecting now finds no request either; she is browsing.
    snapshot = (await sockets.operator(peter)).snapshot
    assert [r for r in snapshot["rooms"] if r["visitor"] == linda.welcome["visitor"]] == []
    assert next(v for v in snapshot["visitors"] if v["id"] == linda.welcome["visitor"])["room"] is None


async def test_opening_closing_and_opening_the_window_again_is_still_no_request(sockets, peter):
    panel = await sockets.operator(peter)
    linda = await sockets.visitor()

    for frame in ("open", "close", "open"):
        answered = await answer(linda, is_room_frame, type=frame)
        assert answered["room"] is None, frame
    await panel.expect_none(is_request_of(linda), within=0.5)
    assert await rooms_of(linda) == []


async def test_opening_the_window_in_two_tabs_is_no_request(sockets, peter):
    panel = await sockets.operator(peter)
    tab1 = await sockets.visitor()
    tab2 = await sockets.visitor(token=tab1.welcome["token"])

    for tab in (tab1, tab2):
        assert (await tab.ask("room", type="open"))["room"] is None
    await panel.expect_none(is_request_of(tab1), within=0.5)
    assert await rooms_of(tab1) == []


async def test_the_first_message_after_opening_the_window_is_the_request_with_that_message(sockets, peter, jane):
    peter_panel = await sockets.operator(peter)
    jane_panel = await sockets.operator(jane)
    linda = await sockets.visitor()
    assert (await linda.ask("room", type="open"))["room"] is None

    await visitor_says(linda, "Are these shoes waterproof?", "c-1")

    mine = await linda.expect(of_type("room", room__visitor=linda.welcome["visitor"], room__status="pending"))
    assert mine["room"]["visitor_in_room"] is True
    for panel in (peter_panel, jane_panel):
        pooled = await panel.expect(room_frame(mine["room"]["id"], room__status="pending"))
        assert pooled["room"]["operator"] is None
        message = await panel.expect(message_frame("Are these shoes waterproof?"))
        assert message["message"]["room"] == mine["room"]["id"]
    assert await stored_messages(mine["room"]["id"]) == [("visitor", "Are these shoes waterproof?")]


async def test_opening_the_window_with_a_request_waiting_goes_back_to_it(sockets, peter):
    panel = await sockets.operator(peter)
    linda = await sockets.visitor()
    pending = (await ask_to_chat(linda))["room"]
    await close_window(linda)

    again = await open_chat(linda)

    assert again["id"] == pending["id"]
    assert again["status"] == "pending"
    await panel.expect(room_frame(pending["id"], room__visitor_in_room=True))
    assert [room.pk for room in await rooms_of(linda)] == [pending["id"]]


async def test_first_message_without_room_goes_to_pool_with_the_message(sockets, peter, jane, olga):
    peter_panel = await sockets.operator(peter)
    jane_panel = await sockets.operator(jane)
    olga_panel = await sockets.operator(olga)
    linda = await sockets.visitor()

    await visitor_says(linda, "Do you ship to Norway?", "c-1")

    for panel in (peter_panel, jane_panel):
        pooled = await panel.expect(of_type("room", room__visitor=linda.welcome["visitor"], room__status="pending"))
        message = await panel.expect(message_frame("Do you ship to Norway?"))
        assert message["message"]["room"] == pooled["room"]["id"]
        assert message["message"]["sender"] == "visitor"
    await olga_panel.expect_none(lambda f: f["type"] in ("room", "message", "visitor"))


async def test_one_operator_accepts_and_the_other_sees_the_request_taken(sockets, peter, jane):
    peter_panel = await sockets.operator(peter)
    jane_panel = await sockets.operator(jane)
    linda = await sockets.visitor()
    pending = (await ask_to_chat(linda))["room"]
    await jane_panel.expect(room_frame(pending["id"], room__status="pending"))

    room = await accept(peter_panel, pending["id"], peter)

    assert room["status"] == "active"
    assert room["operator"] == as_operator(peter)
    taken = await jane_panel.expect(room_frame(pending["id"], room__status="active"))
    assert taken["room"]["operator"] == as_operator(peter)
    error = await jane_panel.ask("error", type="accept", room=pending["id"])
    assert error["code"] == "taken"
    seen_by_linda = await linda.expect(room_frame(pending["id"], room__status="active"))
    assert seen_by_linda["room"]["operator"] == as_operator(peter)
    assert (await stored_room(pending["id"])).operator_id == peter.pk


async def test_other_operators_see_visitor_chat_state_after_accept(sockets, peter, jane):
    peter_panel = await sockets.operator(peter)
    jane_panel = await sockets.operator(jane)
    linda = await sockets.visitor()
    linda_id = linda.welcome["visitor"]

    room = await chat_with(linda, peter_panel, peter)

    event = await jane_panel.expect(
        of_type("visitor", visitor__id=linda_id, visitor__room__status="active", visitor__room__id=room["id"])
    )
    assert event["visitor"]["room"]["operator"] == as_operator(peter)
    assert event["visitor"]["online"] is True


# R5: closing the chat window -----------------------------------------------------


async def test_visitor_closing_window_keeps_room_and_operator_still_sees_browsing(sockets, peter):
    panel = await sockets.operator(peter)
    linda = await sockets.visitor()
    room = await chat_with(linda, panel, peter)

    closed = await close_window(linda)

    assert closed["id"] == room["id"]
    assert closed["status"] == "active"
    assert closed["visitor_in_room"] is False
    signal = await panel.expect(room_frame(room["id"], room__visitor_in_room=False))
    assert signal["room"]["status"] == "active"
    assert signal["room"]["operator"] == as_operator(peter)

    await linda.send(type="page", url="http://shop.test/boots", title="Boots", referrer="http://shop.test/")
    browsing = await panel.expect(of_type("visitor", visitor__url="http://shop.test/boots"))
    assert browsing["visitor"]["id"] == linda.welcome["visitor"]
    assert browsing["visitor"]["title"] == "Boots"
    assert browsing["visitor"]["room"]["id"] == room["id"]
    assert browsing["visitor"]["room"]["status"] == "active"
    assert (await stored_room(room["id"])).status == Room.Status.ACTIVE


# R6: operator messages reach every tab of the visitor, and nobody else ------------


async def test_operator_message_reaches_all_tabs_of_visitor_with_window_closed(sockets, peter):
    panel = await sockets.operator(peter)
    linda_tab1 = await sockets.visitor()
    linda_tab2 = await sockets.visitor(token=linda_tab1.welcome["token"])
    assert linda_tab2.welcome["visitor"] == linda_tab1.welcome["visitor"]
    mary = await sockets.visitor()
    room = await chat_with(linda_tab1, panel, peter)
    # Mary chats with the same operator: his messages to Linda's room are still not hers.
    mary_room = await chat_with(mary, panel, peter)
    await close_window(linda_tab1)
    await close_window(mary)

    await operator_says(panel, room["id"], "Those boots come in blue too", "o-1")

    for tab in (linda_tab1, linda_tab2):
        event = await tab.expect(message_frame("Those boots come in blue too"))
        assert event["message"]["room"] == room["id"]
        assert event["message"]["sender"] == "operator"
        assert event["message"]["name"] == "Peter"
    await mary.expect_none(lambda f: f["type"] == "message" and f["message"]["room"] != mary_room["id"])
    await operator_says(panel, mary_room["id"], "Hello Mary", "o-2")
    await mary.expect(message_frame("Hello Mary"))
    await linda_tab2.expect_none(message_frame("Hello Mary"), within=0.5)


# R7: asking to chat again returns to the same room and operator --------------------


async def test_returning_visitor_gets_same_operator_after_closing_window(sockets, peter, jane):
    peter_panel = await sockets.operator(peter)
    jane_panel = await sockets.operator(jane)
    linda = await sockets.visitor()
    room = await chat_with(linda, peter_panel, peter)
    await jane_panel.expect(room_frame(room["id"], room__status="pending"))  # the first request, seen
    await close_window(linda)
    back_in_room = from_now_on(peter_panel, room_frame(room["id"], room__visitor_in_room=True))

    again = await open_chat(linda)

    assert again["id"] == room["id"]
    assert again["status"] == "active"
    assert again["operator"] == as_operator(peter)
    assert again["visitor_in_room"] is True
    await peter_panel.expect(back_in_room)
    await jane_panel.expect_none(is_pool_request)


async def test_returning_visitor_in_new_tab_gets_same_operator(sockets, peter, jane):
    peter_panel = await sockets.operator(peter)
    jane_panel = await sockets.operator(jane)
    linda = await sockets.visitor()
    room = await chat_with(linda, peter_panel, peter)
    await jane_panel.expect(room_frame(room["id"], room__status="pending"))  # the first request, seen
    await close_window(linda)
    await linda.close()

    new_tab = await sockets.visitor(token=linda.welcome["token"])
    assert new_tab.welcome["room"]["id"] == room["id"]
    again = await open_chat(new_tab)

    assert again["id"] == room["id"]
    assert again["status"] == "active"
    assert again["operator"] == as_operator(peter)
    # And a second open from yet another tab, window already open: still the same room.
    third_tab = await sockets.visitor(token=linda.welcome["token"])
    assert (await open_chat(third_tab))["id"] == room["id"]
    await jane_panel.expect_none(is_pool_request)
    await operator_says(peter_panel, room["id"], "Welcome back", "o-1")
    await new_tab.expect(message_frame("Welcome back"))


# R8: no visitor message is lost ---------------------------------------------------


async def test_visitor_messages_reach_operator_and_are_stored_across_reconnects(sockets, peter):
    panel = await sockets.operator(peter)
    linda = await sockets.visitor()
    token = linda.welcome["token"]
    room = await chat_with(linda, panel, peter)

    await visitor_says(linda, "one", "v-1")
    await linda.send(type="page", url="http://shop.test/cart", title="Cart", referrer="")
    await visitor_says(linda, "two", "v-2")
    await linda.close()
    linda = await sockets.visitor(token=token)  # the next page
    await linda.send(type="page", url="http://shop.test/checkout", title="Checkout", referrer="")
    await visitor_says(linda, "three", "v-3")
    await linda.close()
    linda = await sockets.visitor(token=token)
    await visitor_says(linda, "four", "v-4")

    for body in ("one", "two", "three", "four"):
        event = await panel.expect(message_frame(body))
        assert event["message"]["room"] == room["id"]
    assert await stored_messages(room["id"]) == [
        ("visitor", FIRST),
        ("system", "Peter joined the chat"),
        ("visitor", "one"),
        ("visitor", "two"),
        ("visitor", "three"),
        ("visitor", "four"),
    ]


async def test_history_after_reconnect_returns_messages_sent_while_disconnected(sockets, peter):
    panel = await sockets.operator(peter)
    linda = await sockets.visitor()
    token = linda.welcome["token"]
    room = await chat_with(linda, panel, peter)
    last_seen = await visitor_says(linda, "Is this in stock?", "v-1")
    await linda.close()  # between two pages: no socket at all

    await operator_says(panel, room["id"], "Let me check", "o-1")
    await operator_says(panel, room["id"], "Yes, two left", "o-2")
    linda = await sockets.visitor(token=token)
    history = await linda.ask("history", type="history", after=last_seen)

    assert [(m["sender"], m["body"]) for m in history["messages"]] == [
        ("operator", "Let me check"),
        ("operator", "Yes, two left"),
    ]
    assert all(m["room"] == room["id"] for m in history["messages"])
    everything = await linda.ask("history", type="history", after=0)
    assert [m["body"] for m in everything["messages"]] == [
        FIRST,
        "Peter joined the chat",
        "Is this in stock?",
        "Let me check",
        "Yes, two left",
    ]


async def test_visitor_message_resent_with_same_client_id_is_stored_once(sockets, peter):
    panel = await sockets.operator(peter)
    linda = await sockets.visitor()
    room = await chat_with(linda, panel, peter)

    first = await visitor_says(linda, "Hello?", "v-same")
    # The ack was lost: the snippet resends from the next page.
    await linda.close()
    linda = await sockets.visitor(token=linda.welcome["token"])
    second = await visitor_says(linda, "Hello?", "v-same")

    assert first == second
    assert await stored_messages(room["id"]) == [
        ("visitor", FIRST),
        ("system", "Peter joined the chat"),
        ("visitor", "Hello?"),
    ]


async def test_operator_message_resent_with_same_client_id_is_stored_once(sockets, peter):
    panel = await sockets.operator(peter)
    linda = await sockets.visitor()
    room = await chat_with(linda, panel, peter)

    first = await operator_says(panel, room["id"], "Hi Linda", "o-same")
    second = await operator_says(panel, room["id"], "Hi Linda", "o-same")

    assert first == second
    assert await stored_messages(room["id"]) == [
        ("visitor", FIRST),
        ("system", "Peter joined the chat"),
        ("operator", "Hi Linda"),
    ]


# R9: the operator closes a room ---------------------------------------------------


async def test_closed_room_keeps_relaying_visitor_messages_until_it_expires(sockets, peter):
    panel = await sockets.operator(peter)
    linda = await sockets.visitor()
    room = await chat_with(linda, panel, peter)

    before = timezone.now()
    closing = (await panel.ask(room_frame(room["id"], room__status="closing"), type="close", room=room["id"]))["room"]

    expires_at = datetime.fromisoformat(closing["expires_at"])
    expected = before.timestamp() + settings.WP_ROOM_EXPIRY
    assert abs(expires_at.timestamp() - expected) < 1.0
    await linda.expect(room_frame(room["id"], room__status="closing"))
    await visitor_says(linda, "Wait, one more thing", "v-1")
    event = await panel.expect(message_frame("Wait, one more thing"))
    assert event["message"]["room"] == room["id"]


async def test_reopened_room_does_not_expire(sockets, peter, sweeper):
    panel = await sockets.operator(peter)
    linda = await sockets.visitor()
    room = await chat_with(linda, panel, peter)
    closing = (await panel.ask(room_frame(room["id"], room__status="closing"), type="close", room=room["id"]))["room"]
    old_deadline = datetime.fromisoformat(closing["expires_at"])

    # A pool event of this room from before may still arrive late: wait for the active one.
    reopened = (await answer(panel, room_frame(room["id"], room__status="active"), type="reopen", room=room["id"]))[
        "room"
    ]
    assert reopened["expires_at"] is None
    await linda.expect(room_frame(room["id"], room__status="active", room__expires_at=None))
    past_deadline = (old_deadline - timezone.now()).total_seconds() + settings.WP_SWEEP_INTERVAL + 1
    await linda.expect_none(room_frame(room["id"], room__status="expired"), within=past_deadline)
    await panel.expect_none(room_frame(room["id"], room__status="expired"), within=0.1)
    assert (await stored_room(room["id"])).status == Room.Status.ACTIVE
    await operator_says(panel, room["id"], "Still here", "o-1")
    await linda.expect(message_frame("Still here"))


async def test_closed_room_expires_and_next_message_goes_to_pool_as_new_request(sockets, peter, jane, sweeper):
    peter_panel = await sockets.operator(peter)
    jane_panel = await sockets.operator(jane)
    linda = await sockets.visitor()
    room = await chat_with(linda, peter_panel, peter)
    closing = await peter_panel.ask(room_frame(room["id"], room__status="closing"), type="close", room=room["id"])
    left = (datetime.fromisoformat(closing["room"]["expires_at"]) - timezone.now()).total_seconds()
    deadline = time.monotonic() + left

    is_expired = room_frame(room["id"], room__status="expired")
    await linda.expect_none(is_expired, within=max(left - 0.3, 0))
    expired = await linda.expect(is_expired, timeout=left + settings.WP_SWEEP_INTERVAL + 2.5)
    arrived = time.monotonic()

    assert arrived >= deadline - 0.05, f"expired {deadline - arrived:.2f}s early"
    assert arrived <= deadline + settings.WP_SWEEP_INTERVAL + 2, f"expired {arrived - deadline:.2f}s late"
    assert expired["room"]["reason"] == "operator_closed"
    await peter_panel.expect(room_frame(room["id"], room__status="expired", room__reason="operator_closed"))
    error = await peter_panel.ask("error", type="message", room=room["id"], body="Are you there?", client_id="o-1")
    assert error["code"] == "expired"

    await visitor_says(linda, "Hello again", "v-1")
    new_request = of_type("room", room__visitor=linda.welcome["visitor"], room__status="pending")

    for panel in (jane_panel, peter_panel):
        pooled = await panel.expect(lambda f: new_request(f) and f["room"]["id"] != room["id"])
        assert pooled["room"]["operator"] is None
        message = await panel.expect(message_frame("Hello again"))
        assert message["message"]["room"] == pooled["room"]["id"]
    assert (await stored_room(room["id"])).status == Room.Status.EXPIRED


# R12: an operator starts a conversation ---------------------------------------------


async def test_operator_starts_conversation_with_online_visitor(sockets, peter):
    panel = await sockets.operator(peter)
    linda = await sockets.visitor()
    await linda.send(type="page", url="http://shop.test/", title="Home", referrer="")
    linda_id = linda.welcome["visitor"]
    await panel.expect(of_type("visitor", visitor__id=linda_id, visitor__url="http://shop.test/"))

    room = (await panel.ask(of_type("room", room__visitor=linda_id), type="start", visitor=linda_id))["room"]

    assert room["status"] == "active"
    assert room["operator"] == as_operator(peter)
    seen = await linda.expect(room_frame(room["id"], room__status="active"))
    assert seen["room"]["operator"] == as_operator(peter)
    await operator_says(panel, room["id"], "Can I help you find something?", "o-1")
    event = await linda.expect(message_frame("Can I help you find something?"))
    assert event["message"]["room"] == room["id"]


async def test_operator_cannot_start_with_visitor_chatting_with_another_operator(sockets, peter, jane):
    peter_panel = await sockets.operator(peter)
    jane_panel = await sockets.operator(jane)
    linda = await sockets.visitor()
    room = await chat_with(linda, jane_panel, jane)

    error = await peter_panel.ask("error", type="start", visitor=linda.welcome["visitor"])

    assert error["code"] == "taken"
    stored = await stored_room(room["id"])
    assert stored.operator_id == jane.pk
    assert stored.status == Room.Status.ACTIVE


async def test_operator_cannot_start_with_visitor_of_another_site(sockets, peter, olga):
    panel = await sockets.operator(peter)
    stranger = await sockets.visitor(site_key="other", origin=OTHER_ORIGIN)

    error = await panel.ask("error", type="start", visitor=stranger.welcome["visitor"])

    assert error["code"] == "not_found"
    await stranger.expect_none(is_room_frame)


async def test_operator_starting_with_pending_visitor_takes_their_request(sockets, peter, jane):
    peter_panel = await sockets.operator(peter)
    jane_panel = await sockets.operator(jane)
    linda = await sockets.visitor()
    pending = (await ask_to_chat(linda))["room"]
    for panel in (peter_panel, jane_panel):
        await panel.expect(room_frame(pending["id"], room__status="pending"))  # in the pool

    started = await answer(peter_panel, room_frame(pending["id"]), type="start", visitor=linda.welcome["visitor"])
    room = started["room"]

    assert room["status"] == "active"
    assert room["operator"] == as_operator(peter)
    taken = await jane_panel.expect(room_frame(pending["id"], room__status="active"))
    assert taken["room"]["operator"] == as_operator(peter)
    await linda.expect(room_frame(pending["id"], room__status="active"))

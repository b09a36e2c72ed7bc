"""R14 and R15 (issue 22): no question is stranded, and whoever takes a visitor next reads the
conversation before. Over the sockets, on the real Redis, with the sweep of the tests' timings."""

from datetime import datetime

import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone

from chat import services, shifts
from chat.models import Message, Room
from operators.tests.test_logout import chat_with, from_now_on, post_logout
from tests.owners import make_visitor
from tests.sockets import of_type

pytestmark = pytest.mark.django_db(transaction=True)


async def says(client, body: str, client_id: str, **room) -> dict:
    return await client.ask(of_type("ack", client_id=client_id), type="message", body=body, client_id=client_id, **room)


def pending_of(visitor_id: int, *, not_room: int | None = None):
    """A pool request of this visitor (other than `not_room`: its pool event may still be unread)."""
    pending = of_type("room", room__visitor=visitor_id, room__status="pending")
    return lambda frame: pending(frame) and frame["room"]["id"] != not_room


async def test_a_question_in_a_closing_room_reopens_it_and_reaches_its_operator(sockets, peter, sweeper):
    """Peter closed the room; within the minute Linda wrote "Wait, does it come in XL?": the
    room is active again, the expiry cancelled, and the question is Peter's to answer."""
    panel = await sockets.operator(peter)
    linda = await sockets.visitor()
    room = await chat_with(linda, panel, peter)
    closing = await panel.ask(
        of_type("room", room__id=room["id"], room__status="closing"), type="close", room=room["id"]
    )
    deadline = datetime.fromisoformat(closing["room"]["expires_at"])
    await linda.expect(of_type("room", room__id=room["id"], room__status="closing"))

    reopened = from_now_on(panel, of_type("room", room__id=room["id"], room__status="active", room__expires_at=None))
    await says(linda, "Wait, does it come in XL?", "v-1")
    await panel.expect(reopened)
    await panel.expect(of_type("message", message__body="Wait, does it come in XL?", message__room=room["id"]))
    await linda.expect(of_type("room", room__id=room["id"], room__status="active", room__expires_at=None))
    # The old deadline and a sweep after it pass: nothing expires.
    past = (deadline - timezone.now()).total_seconds() + settings.WP_SWEEP_INTERVAL + 1
    await linda.expect_none(of_type("room", room__id=room["id"], room__status="expired"), within=past)
    assert (await database_sync_to_async(Room.objects.get)(pk=room["id"])).status == Room.Status.ACTIVE


async def test_a_logout_puts_an_unanswered_question_back_in_the_pool_with_the_conversation(sockets, peter, jane):
    """Peter logged out mid-conversation with Linda's question unanswered: it is in the pool at
    once, marked "Peter logged out"; Jane takes it and reads everything said before."""
    peter_panel = await sockets.operator(peter)
    jane_panel = await sockets.operator(jane)
    linda = await sockets.visitor()
    linda_id = linda.welcome["visitor"]
    room = await chat_with(linda, peter_panel, peter, asking="Do these come in blue?", answer="They do.")
    await says(linda, "And in size 42?", "v-2")
    back = from_now_on(jane_panel, pending_of(linda_id, not_room=room["id"]))

    assert await database_sync_to_async(post_logout)(peter.user) == 302

    returned = (await jane_panel.expect(back))["room"]
    assert returned["id"] != room["id"]
    assert returned["returned"] == {"reason": "operator_logout", "operator": "Peter"}
    await linda.expect(of_type("room", room__id=returned["id"], room__status="pending"))
    accepted = await jane_panel.ask(
        of_type("room", room__id=returned["id"], room__operator__id=jane.pk), type="accept", room=returned["id"]
    )
    assert accepted["room"]["status"] == "active"
    history = await jane_panel.ask(
        of_type("history", room=returned["id"]), type="history", room=returned["id"], after=0
    )
    said = [(m["room"], m["sender"], m["body"]) for m in history["messages"]]
    # With who was there when (R15): Peter until he logged out, then the pool, then Jane.
    assert said == [
        (room["id"], "visitor", "Do these come in blue?"),
        (room["id"], "system", "Peter joined the chat"),
        (room["id"], "operator", "They do."),
        (room["id"], "visitor", "And in size 42?"),
        (room["id"], "system", "Peter logged out"),
        (returned["id"], "system", "The visitor's question is back in the pool, unanswered"),
        (returned["id"], "system", "Jane joined the chat"),
    ]
    # Linda was told why Peter went, and who took over; the pool's workings are not hers.
    await linda.expect(of_type("message", message__event="logged_out", message__name="Peter"))
    await linda.expect(of_type("message", message__event="joined", message__name="Jane"))
    await linda.expect_none(of_type("message", message__event="returned"), within=0.2)
    # Jane's answer reaches Linda in the room she was given.
    await says(jane_panel, "Yes, 42 too.", "o-2", room=returned["id"])
    await linda.expect(of_type("message", message__body="Yes, 42 too.", message__room=returned["id"]))
    # One conversation for Linda too (R15): her next page shows it all, not only Jane's room.
    next_page = await sockets.visitor(token=linda.welcome["token"])
    shown = await next_page.ask(of_type("history"), type="history", after=0)
    assert [(m["sender"], m["body"]) for m in shown["messages"]] == [
        ("visitor", "Do these come in blue?"),
        ("system", "Peter joined the chat"),
        ("operator", "They do."),
        ("visitor", "And in size 42?"),
        ("system", "Peter logged out"),
        ("system", "Jane joined the chat"),
        ("operator", "Yes, 42 too."),
    ]


async def test_an_answered_visitor_is_not_put_back_in_the_pool(sockets, peter, jane):
    """R10 as before when nothing is left unanswered: Linda is open to the public, no request
    is made for her."""
    peter_panel = await sockets.operator(peter)
    jane_panel = await sockets.operator(jane)
    linda = await sockets.visitor()
    room = await chat_with(linda, peter_panel, peter, asking="Do these come in blue?", answer="They do.")
    freed = from_now_on(jane_panel, of_type("visitor", visitor__id=linda.welcome["visitor"], visitor__room=None))

    assert await database_sync_to_async(post_logout)(peter.user) == 302

    await jane_panel.expect(freed)
    await jane_panel.expect_none(pending_of(linda.welcome["visitor"], not_room=room["id"]), within=0.5)
    assert not await database_sync_to_async(Room.objects.filter(status__in=Room.LIVE).exists)()


def _room_with_question(site, operator, *, online: bool) -> Room:
    visitor = make_visitor(site, online=online)
    now = timezone.now()
    room = Room.objects.create(
        site=site, visitor=visitor, operator=operator, status=Room.Status.ACTIVE, created_at=now, accepted_at=now
    )
    Message.objects.create(room=room, sender=Message.Sender.VISITOR, name="", body="Anyone?", at=now)
    return room


def test_every_way_a_room_ends_under_a_waiting_visitor_puts_the_question_back(site, peter):
    """R14's list: logout, operator timeout, expiry after a close, ended in admin. A visitor who
    left the site (R3), or who is offline, has nobody to answer: no request is made."""
    now = timezone.now()
    cases = {}
    cases["operator_logout"] = _room_with_question(site, peter, online=True)
    shifts.operator_logout(operator=peter)
    closed = _room_with_question(site, peter, online=True)
    Room.objects.filter(pk=closed.pk).update(status=Room.Status.CLOSING, expires_at=now)
    services.rooms_expire_due(now=now)
    cases["operator_closed"] = closed
    cases["ended_by_admin"] = _room_with_question(site, peter, online=True)
    services.rooms_end(room_ids=[cases["ended_by_admin"].pk], now=now)
    for reason, room in cases.items():
        again = Room.objects.get(visitor=room.visitor, status=Room.Status.PENDING)
        assert (again.return_reason, again.pk > room.pk) == (reason, True), reason

    gone = _room_with_question(site, peter, online=True)
    services.rooms_expire(Room.objects.filter(pk=gone.pk), reason=Room.Reason.VISITOR_LEFT, now=now)
    offline = _room_with_question(site, peter, online=False)
    services.rooms_expire(Room.objects.filter(pk=offline.pk), reason=Room.Reason.OPERATOR_TIMEOUT, now=now)
    assert not Room.objects.filter(visitor__in=[gone.visitor, offline.visitor], status=Room.Status.PENDING).exists()

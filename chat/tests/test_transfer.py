"""Transfer (issue 22): an operator hands an active room to an online colleague of the site, or
back to the pool; the visitor sees the new name and stays with the new operator (R7)."""

import pytest
from channels.db import database_sync_to_async
from django.conf import settings

from chat.models import Room
from operators.tests.test_logout import chat_with, from_now_on, post_logout
from tests.sockets import of_type

pytestmark = pytest.mark.django_db(transaction=True)


def room_of(room_id: int, **fields):
    return of_type("room", room__id=room_id, **fields)


async def test_a_room_handed_to_a_colleague_is_theirs_and_the_visitor_sees_the_new_name(sockets, peter, jane):
    peter_panel = await sockets.operator(peter)
    jane_panel = await sockets.operator(jane)
    linda = await sockets.visitor()
    room = await chat_with(linda, peter_panel, peter, asking="Do you ship to Norway?", answer="Let me ask Jane.")

    handed = await peter_panel.ask(
        room_of(room["id"], room__operator__id=jane.pk), type="transfer", room=room["id"], operator=jane.pk
    )
    assert handed["room"]["status"] == "active"
    assert handed["room"]["operator"] == {"id": jane.pk, "name": "Jane"}
    await jane_panel.expect(room_of(room["id"], room__operator__id=jane.pk))
    await linda.expect(room_of(room["id"], room__operator__name="Jane"))
    # Jane reads what was said and answers; Peter's messages to it are refused from now on.
    history = await jane_panel.ask(of_type("history", room=room["id"]), type="history", room=room["id"], after=0)
    # The transcript says who was there when (R15): Peter, then Jane, by his hand.
    assert [(m["event"], m["body"]) for m in history["messages"]] == [
        (None, "Do you ship to Norway?"),
        ("joined", "Peter joined the chat"),
        (None, "Let me ask Jane."),
        ("transferred", "Peter transferred the chat to Jane"),
        ("joined", "Jane joined the chat"),
    ]
    await linda.expect(of_type("message", message__event="joined", message__name="Jane"))
    await jane_panel.ask(
        of_type("ack", client_id="j-1"), type="message", room=room["id"], body="We do.", client_id="j-1"
    )
    await linda.expect(of_type("message", message__body="We do."))
    refused = await peter_panel.ask("error", type="message", room=room["id"], body="Me too", client_id="p-1")
    assert refused["code"] == "not_allowed"
    # R7 follows the new operator: Linda's next message is Jane's.
    news = from_now_on(jane_panel, of_type("message", message__body="Thanks!"))
    await linda.ask(of_type("ack", client_id="v-2"), type="message", body="Thanks!", client_id="v-2")
    await jane_panel.expect(news)
    await peter_panel.expect_none(of_type("message", message__body="Thanks!"), within=0.3)


async def test_a_room_handed_back_to_the_pool_waits_for_anyone(sockets, peter, jane):
    peter_panel = await sockets.operator(peter)
    jane_panel = await sockets.operator(jane)
    linda = await sockets.visitor()
    room = await chat_with(linda, peter_panel, peter)

    # Both panels and Linda saw the room pending once already (her request): only what comes
    # from now on counts.
    back_in_pool = room_of(room["id"], room__status="pending")
    jane_sees, linda_sees = from_now_on(jane_panel, back_in_pool), from_now_on(linda, back_in_pool)
    pooled = await peter_panel.ask(
        from_now_on(peter_panel, back_in_pool), type="transfer", room=room["id"], operator=None
    )
    assert pooled["room"]["operator"] is None
    await jane_panel.expect(jane_sees)
    await linda.expect(linda_sees)
    accepted = await jane_panel.ask(room_of(room["id"], room__operator__id=jane.pk), type="accept", room=room["id"])
    assert accepted["room"]["status"] == "active"


async def test_a_transfer_one_may_not_make_is_refused_and_changes_nothing(
    sockets, peter, jane, olga, make_operator, site
):
    peter_panel = await sockets.operator(peter)
    jane_panel = await sockets.operator(jane)
    linda = await sockets.visitor()
    room = await chat_with(linda, peter_panel, peter)
    offline = await database_sync_to_async(make_operator)("otto", site, first_name="Otto")

    cases = [
        (peter_panel, {"operator": offline.pk}, "not_allowed"),  # not online
        (peter_panel, {"operator": olga.pk}, "not_found"),  # not an operator of the site
        (peter_panel, {"operator": peter.pk}, "not_allowed"),  # to oneself
        (peter_panel, {}, "invalid"),  # to nobody said
        (peter_panel, {"operator": "jane"}, "invalid"),
        (jane_panel, {"operator": jane.pk}, "not_allowed"),  # not her room to give
    ]
    for panel, fields, code in cases:
        error = await panel.ask("error", type="transfer", room=room["id"], **fields)
        assert (error["code"], error["for"]) == (code, "transfer"), fields
    stored = await database_sync_to_async(Room.objects.get)(pk=room["id"])
    assert (stored.status, stored.operator_id) == ("active", peter.pk)
    # A visitor cannot hand anything over.
    assert (await linda.ask("error", type="transfer", room=room["id"], operator=jane.pk))["code"] == "not_allowed"


# A transfer nobody takes (R14) ---------------------------------------------------------


async def _handed_to_jane_after_an_answer(sockets, peter, jane):
    """Linda asked, Peter answered (nothing is left unanswered), then handed her to Jane."""
    peter_panel = await sockets.operator(peter)
    jane_panel = await sockets.operator(jane)
    linda = await sockets.visitor()
    room = await chat_with(
        linda, peter_panel, peter, asking="Do you ship to Norway?", answer="We do; Jane knows the rates."
    )
    await peter_panel.ask(
        room_of(room["id"], room__operator__id=jane.pk), type="transfer", room=room["id"], operator=jane.pk
    )
    await jane_panel.expect(room_of(room["id"], room__operator__id=jane.pk))
    return peter_panel, jane_panel, linda, room


def back_in_pool(visitor_id: int, old_room: int):
    pending = of_type("room", room__visitor=visitor_id, room__status="pending")
    return lambda frame: pending(frame) and frame["room"]["id"] != old_room


async def _taken_back_with_the_conversation(peter_panel, peter, linda, returned: dict, old_room: int) -> None:
    # Linda is told, in her room (the snippet: "Your question is with the team again"), and
    # where she stands in line.
    await linda.expect(
        of_type("room", room__id=returned["id"], room__status="pending", room__returned=returned["returned"])
    )
    await linda.expect(of_type("queue", room=returned["id"], position=1))
    accepted = await peter_panel.ask(
        room_of(returned["id"], room__operator__id=peter.pk), type="accept", room=returned["id"]
    )
    assert accepted["room"]["status"] == "active"
    history = await peter_panel.ask(
        of_type("history", room=returned["id"]), type="history", room=returned["id"], after=0
    )
    assert [(m["room"], m["body"]) for m in history["messages"] if m["sender"] != "system"] == [
        (old_room, "Do you ship to Norway?"),
        (old_room, "We do; Jane knows the rates."),
    ]


async def test_a_transfer_to_a_colleague_who_logs_out_before_writing_goes_back_to_the_pool(sockets, peter, jane):
    peter_panel, _, linda, room = await _handed_to_jane_after_an_answer(sockets, peter, jane)
    linda_id = linda.welcome["visitor"]
    back = from_now_on(peter_panel, back_in_pool(linda_id, room["id"]))

    assert await database_sync_to_async(post_logout)(jane.user) == 302

    returned = (await peter_panel.expect(back))["room"]
    assert returned["returned"] == {"reason": "operator_logout", "operator": "Jane"}
    await _taken_back_with_the_conversation(peter_panel, peter, linda, returned, room["id"])


async def test_a_transfer_to_a_colleague_whose_panel_times_out_before_writing_goes_back_to_the_pool(
    sockets, peter, jane, sweeper
):
    peter_panel, jane_panel, linda, room = await _handed_to_jane_after_an_answer(sockets, peter, jane)
    back = from_now_on(peter_panel, back_in_pool(linda.welcome["visitor"], room["id"]))

    await jane_panel.close()  # her laptop lid closes

    within = settings.WP_OPERATOR_TIMEOUT + settings.WP_SWEEP_INTERVAL + 2.5
    returned = (await peter_panel.expect(back, timeout=within))["room"]
    assert returned["returned"] == {"reason": "operator_timeout", "operator": "Jane"}
    await _taken_back_with_the_conversation(peter_panel, peter, linda, returned, room["id"])


async def test_a_transfer_the_colleague_took_ends_as_any_answered_chat(sockets, peter, jane):
    """Jane wrote in it: it was hers. Her logging out frees Linda as R10 always did."""
    peter_panel, jane_panel, linda, room = await _handed_to_jane_after_an_answer(sockets, peter, jane)
    await jane_panel.ask(
        of_type("ack", client_id="j-1"), type="message", room=room["id"], body="Hello, Jane here.", client_id="j-1"
    )
    freed = from_now_on(peter_panel, of_type("visitor", visitor__id=linda.welcome["visitor"], visitor__room=None))

    assert await database_sync_to_async(post_logout)(jane.user) == 302

    await peter_panel.expect(freed)
    await peter_panel.expect_none(back_in_pool(linda.welcome["visitor"], room["id"]), within=0.5)
    assert not await database_sync_to_async(Room.objects.filter(status__in=Room.LIVE).exists)()
